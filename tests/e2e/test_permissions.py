"""Who may do what: every role against every command, reaction and button, with the wearer
linked or not.

POLICY is the whole rule set at a glance, read from the policy table in bot/core/policy.py (the
code decides from the same table) and the state each case sets up; EXTRA adds the keyholders of
record who are not the lock's Chaster keyholder. Each cell is one
test on a fresh world that runs the real bot against the fakes:

* allowed: the effect happened (the Chaster call was made, the state moved);
* asks: a request now waits for someone else's ✅ (the wearer's consent to a link, the
  keyholder's confirmation of a completion), and nothing was written to Chaster;
* refused: no Chaster write and no change here. A command gets an ephemeral reply that gives
  the reason; a reaction is removed, with a notice giving the reason to the people the task or
  request concerns and quietly for everyone else; a button press gets a reply only the presser
  sees, giving the reason.

"Linked" means the wearer's lock is linked in this server; "unlinked" means it was linked, got
a task (for the task actions), and was then unlinked, so old feed messages and the task in
Chaster are still there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Literal

import pytest

from bot.core import policy
from bot.core.model import Caller
from bot.core.policy import Action, May, Role, rule
from bot.store import GuildSettings, TaskState
from tests.e2e.conftest import (
    ADMIN,
    CHANNEL,
    EPHEMERAL,
    FEED,
    GUILD,
    KEYHOLDER,
    STRANGER,
    WEARER,
    World,
)
from tests.fakes.chaster import FakeSession
from tests.fakes.discord import (
    MANAGE_GUILD,
    OPTION_BOOLEAN,
    OPTION_INTEGER,
    OPTION_STRING,
    FakeUser,
    attachment_option,
    channel_option,
    option,
    reaction_add,
    user_option,
)

Outcome = Literal["allowed", "asks", "refused"]
# A PNG's signature and a little more: what /task proof sends.
PHOTO = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
OK: Outcome = "allowed"
ASK: Outcome = "asks"
NO: Outcome = "refused"

# Another server the bot is in (its commands are then global), where the keyholder of record
# also is and has Manage Server.
OTHER_GUILD = 1500
OTHER_CHANNEL = 2500

ROLES = ("keyholder", "wearer", "member", "manager", "elsewhere")

# keyholder: the keyholder of record, here also the lock's keyholder in Chaster (KEYHOLDER).
# wearer:    the wearer (WEARER).
# member:    another member of this server (STRANGER).
# manager:   a member with Manage Server, neither keyholder nor wearer (ADMIN).
# elsewhere: the keyholder of record acting from another server: a command run there, or a
#            reaction event that carries the other server's id. Everything they could do here
#            is refused there; what they can do there changes nothing here.
# Each test role, as the policy table names it; "elsewhere" holds no role here.
POLICY_ROLE: dict[str, Role] = {
    "keyholder": Role.KEYHOLDER,
    "wearer": Role.WEARER,
    "member": Role.ANYONE,
    "manager": Role.MANAGER,
}
# Each command or reaction of these tests, as the policy table names it.
POLICY_ACTION: dict[str, Action] = {
    "link": Action.LINK,
    "unlink": Action.UNLINK,
    "assign": Action.ASSIGN,
    "random": Action.ASSIGN,
    "vote": Action.ASSIGN,
    "library-import": Action.IMPORT,
    "start": Action.START,
    "complete": Action.COMPLETE,
    "fail": Action.FAIL,
    "status": Action.STATUS,
    "history": Action.STATUS,
    "export": Action.STATUS,
    "settings-feed": Action.SETTINGS,
    "settings-wearer-complete": Action.SETTINGS,
    "react-start": Action.START,
    "react-complete": Action.COMPLETE,
    "react-fail": Action.FAIL,
    "react-accept-link": Action.ACCEPT_LINK,
    "press-start": Action.START,
    "press-complete": Action.COMPLETE,
    "press-fail": Action.FAIL,
    "press-confirm": Action.CONFIRM,
    "press-reject": Action.REJECT,
    "press-accept-link": Action.ACCEPT_LINK,
    "press-decline-link": Action.DECLINE_LINK,
    "schedule-add": Action.SCHEDULE,
    "penalty-set": Action.PENALTY,
    "pause": Action.PAUSE,
    "resume": Action.RESUME,
    "notify": Action.NOTIFY,
    "proof": Action.PROOF,
    "proof-settings": Action.PROOF_SETTINGS,
}
OUTCOME: dict[May, Outcome] = {May.YES: OK, May.ASKS: ASK, May.NO: NO}


def expected_outcome(action: str, linked: bool, role: Role | None) -> Outcome:
    """What the policy table says, in the state the test sets up.

    The table says who may do what to a linked wearer; the state adds its own refusals: a
    wearer already linked here cannot be linked again, an accepted link request's wearer
    linked meanwhile is no longer asked, and nothing can be done to a wearer not linked here.
    In another server ("elsewhere", no role) only what concerns that server is allowed: to
    link there, and that server's settings.
    """
    policy_action = POLICY_ACTION[action]
    # Settings and direct messages are the server's and the person's own, linked or not.
    own = (Action.SETTINGS, Action.NOTIFY)
    if role is None:
        return OK if policy_action in (Action.LINK, *own) else NO
    allowed = OUTCOME[rule(policy_action, role).may]
    if policy_action in own:
        return allowed
    if policy_action in (Action.LINK, Action.ACCEPT_LINK):
        return NO if linked else allowed
    if policy_action is Action.DECLINE_LINK:
        # Saying no to a request still pending is the wearer's whoever linked them meanwhile.
        return allowed
    return allowed if linked else NO


POLICY: dict[tuple[str, bool], tuple[Outcome, ...]] = {
    (action, linked): tuple(
        expected_outcome(action, linked, POLICY_ROLE.get(name)) for name in ROLES
    )
    for action in POLICY_ACTION
    for linked in (False, True)
}

# self-locked:      the wearer of a self-lock, their own keyholder of record (no confirmation).
# consented:        the manager, keyholder of record after the wearer's ✅ on their request.
# lock-keyholder:   the lock's Chaster keyholder while the consented manager is keyholder of record.
# trusting-wearer:  the wearer where /settings wearer-complete is on, so their asking is doing.
EXTRA_ROLES: dict[str, Role] = {
    "self-locked": Role.KEYHOLDER,
    "consented": Role.KEYHOLDER,
    "lock-keyholder": Role.ANYONE,
    "trusting-wearer": Role.WEARER,
}
EXTRA_CASES: list[tuple[str, str, bool]] = [
    # role               action              linked
    ("self-locked",      "link",             False),
    ("self-locked",      "assign",           True),
    ("self-locked",      "complete",         True),
    ("self-locked",      "react-complete",   True),
    ("self-locked",      "unlink",           True),
    ("consented",        "assign",           True),
    ("consented",        "complete",         True),
    ("consented",        "react-complete",   True),
    ("consented",        "status",           True),
    ("consented",        "unlink",           True),
    ("lock-keyholder",   "assign",           True),
    ("lock-keyholder",   "complete",         True),
    ("lock-keyholder",   "react-complete",   True),
    ("lock-keyholder",   "status",           True),
    ("lock-keyholder",   "unlink",           True),
    ("trusting-wearer",  "complete",         True),
    ("trusting-wearer",  "react-complete",   True),
    ("consented",        "press-complete",   True),
    ("consented",        "press-confirm",    True),
    ("lock-keyholder",   "press-confirm",    True),
    ("lock-keyholder",   "press-reject",     True),
    ("trusting-wearer",  "press-complete",   True),
    ("self-locked",      "penalty-set",      True),
    ("consented",        "penalty-set",      True),
    ("consented",        "schedule-add",     True),
    ("self-locked",      "resume",           True),
    ("self-locked",      "proof",            True),
    ("consented",        "proof-settings",   True),
]  # fmt: skip


def expected_extra(role_name: str, action: str, linked: bool) -> Outcome:
    outcome = expected_outcome(action, linked, EXTRA_ROLES[role_name])
    if role_name == "consented" and action == "penalty-set":
        # Keyholder of record by consent, not the lock's keyholder in Chaster: the table's
        # condition (Condition.HOLDS_THE_LOCK) refuses them.
        return NO
    if role_name == "self-locked" and action == "proof":
        # Their own keyholder of record, but the wearer: the photo is theirs to send.
        return OK
    return OK if role_name == "trusting-wearer" and outcome == ASK else outcome


EXTRA: list[tuple[str, str, bool, Outcome]] = [
    (role, action, linked, expected_extra(role, action, linked))
    for role, action, linked in EXTRA_CASES
]


def test_the_cases_cover_every_row_of_the_policy_table() -> None:
    assert set(POLICY_ACTION.values()) == set(Action)
    assert set(POLICY_ROLE.values()) == set(policy.ROLES)


LinkKind = Literal["chaster-keyholder", "self-lock", "consent"]


@dataclass(frozen=True)
class Actor:
    """Who acts, from which server, and how the wearer's link came about."""

    user: FakeUser
    link_kind: LinkKind = "chaster-keyholder"
    elsewhere: bool = False
    wearer_complete: bool = False

    @property
    def guild_id(self) -> int:
        return OTHER_GUILD if self.elsewhere else GUILD

    @property
    def channel_id(self) -> int:
        return OTHER_CHANNEL if self.elsewhere else CHANNEL


ACTORS = {
    "keyholder": Actor(KEYHOLDER),
    "wearer": Actor(WEARER),
    "member": Actor(STRANGER),
    "manager": Actor(ADMIN),
    "elsewhere": Actor(KEYHOLDER, elsewhere=True),
    "self-locked": Actor(WEARER, link_kind="self-lock"),
    "consented": Actor(ADMIN, link_kind="consent"),
    "lock-keyholder": Actor(KEYHOLDER, link_kind="consent"),
    "trusting-wearer": Actor(WEARER, wearer_complete=True),
}
KEYHOLDER_OF_RECORD: dict[LinkKind, FakeUser] = {
    "chaster-keyholder": KEYHOLDER,
    "self-lock": WEARER,
    "consent": ADMIN,
}

TASK_ACTIONS = (
    "start",
    "complete",
    "fail",
    "react-start",
    "react-complete",
    "react-fail",
    "press-start",
    "press-complete",
    "press-fail",
    "press-confirm",
    "press-reject",
)
# The tasks these judge wait for the keyholder's confirmation first.
JUDGING = ("press-confirm", "press-reject")
LINK_REQUEST_ACTIONS = ("react-accept-link", "press-accept-link", "press-decline-link")
REACTIONS = {
    "react-start": "▶️",
    "react-complete": "✅",
    "react-fail": "❌",
    "react-accept-link": "✅",
}
DESCRIPTION = "Hold a plank"


def case(role: str, action: str, linked: bool, outcome: Outcome) -> Any:
    state = "linked" if linked else "unlinked"
    return pytest.param(role, action, linked, outcome, id=f"{role}-{action}-{state}")


CASES = [
    case(role, action, linked, outcome)
    for (action, linked), row in POLICY.items()
    for role, outcome in zip(ROLES, row, strict=True)
    # A press always carries the server of the message pressed: it cannot come from elsewhere.
    if not (role == "elsewhere" and action.startswith("press-"))
] + [case(*row) for row in EXTRA]


@dataclass
class Scene:
    """What the action acts on."""

    session: FakeSession
    message_id: int | None = None  # the task's feed message, or the link request
    photo: dict[str, Any] | None = None  # the attachment /task proof sends


@dataclass(frozen=True)
class Snapshot:
    """Everything a refused action must leave as it was."""

    chaster_writes: int
    session_reads: int
    link: tuple[int, int] | None
    settings: GuildSettings
    task_state: TaskState | None
    chaster_task: dict[str, Any] | None
    timer_started: bool
    bot_message_ids: tuple[str, ...]  # not counting replies (notices and pings)
    # The link's pause, schedules and consequences.
    automation: tuple[object, ...]


@pytest.mark.parametrize(("role_name", "action", "linked", "outcome"), CASES)
async def test_permission(
    world: World, role_name: str, action: str, linked: bool, outcome: Outcome
) -> None:
    role = ACTORS[role_name]
    scene = await prepare(world, role, action, linked)
    before = await snapshot(world, scene)
    if action in REACTIONS:
        await react(world, role, action, scene, outcome)
    elif action.startswith("press-"):
        await press(world, role, action, scene, linked, outcome)
    else:
        await run_command(world, role, action, scene, linked, outcome)
    after = await snapshot(world, scene)
    if outcome == NO:
        # Nothing reached anyone's library either.
        assert await world.core.library.entries(Caller(role.user.id, role.guild_id)) == []
        if role.user is WEARER and (action, linked) == ("link", False):
            # Only Chaster knows that the lock has a keyholder, so this refusal needs a read;
            # every other one is decided before Chaster is asked anything.
            after = replace(after, session_reads=before.session_reads)
        if role.link_kind == "consent" and action == "penalty-set":
            # Likewise: only Chaster knows who holds the lock now.
            after = replace(after, session_reads=before.session_reads)
        assert after == before
        return
    if outcome == ASK:
        assert after.chaster_writes == before.chaster_writes
        assert after.link == before.link
        assert after.chaster_task == before.chaster_task
    await check_effect(world, role, action, scene, outcome, before, after)


# -- setting the scene ----------------------------------------------------------------------


async def prepare(world: World, role: Actor, action: str, linked: bool) -> Scene:
    if role.elsewhere:
        # A deployment in several servers registers its commands globally.
        await world.bot.tree.sync()
        await world.discord.join_other_server(
            OTHER_GUILD, OTHER_CHANNEL, members=everyone_but_the_bot(world)
        )
    if role.wearer_complete:
        await world.reply("settings", ADMIN, "wearer-complete", allowed=True)
    if action in LINK_REQUEST_ACTIONS:
        session = world.session()
        text = await world.reply("link", ADMIN, wearer=WEARER, session_id=session.session_id)
        assert text.startswith("Asked"), text
        [request] = world.discord.bot_messages(CHANNEL)
        await world.wait_reactions(request["id"], ["✅"])
        if linked:
            text = await world.reply(
                "link", KEYHOLDER, wearer=WEARER, session_id=session.session_id
            )
            assert text.startswith("Linked"), text
        return Scene(session, int(request["id"]))
    if action == "link":
        session = world.session(has_keyholder=role.link_kind != "self-lock")
        if linked:
            await establish(world, role.link_kind, session)
        return Scene(session)
    session = world.session(has_keyholder=role.link_kind != "self-lock")
    await establish(world, role.link_kind, session)
    scene = Scene(session)
    if action in TASK_ACTIONS:
        by = KEYHOLDER_OF_RECORD[role.link_kind]
        if action.endswith("start"):
            feed = await world.assign(by=by, duration="5m")
        else:
            feed = await world.assign(by=by)
        scene.message_id = int(feed["id"])
        if action in JUDGING:
            asked = await world.reply("task", WEARER, "complete")
            assert asked.startswith("Marked as done"), asked
    if action == "proof":
        feed = await world.assign(by=KEYHOLDER_OF_RECORD[role.link_kind], proof="community")
        scene.message_id = int(feed["id"])
        scene.photo = world.discord.user_attachment(PHOTO, "photo.png")
    if action == "resume":
        # Paused by the keyholder of record, whose own pause is theirs to end too.
        paused = await world.reply("pause", KEYHOLDER_OF_RECORD[role.link_kind], wearer=WEARER)
        assert paused.startswith("Paused"), paused
    if not linked:
        unlinked = await world.reply("unlink", KEYHOLDER_OF_RECORD[role.link_kind], wearer=WEARER)
        assert unlinked.startswith("Unlinked"), unlinked
    return scene


async def establish(world: World, kind: LinkKind, session: FakeSession) -> None:
    """Link the wearer's lock the way `kind` says."""
    by = KEYHOLDER_OF_RECORD[kind]
    text = await world.reply("link", by, wearer=WEARER, session_id=session.session_id)
    if kind != "consent":
        assert text.startswith("Linked"), text
        return
    assert text.startswith("Asked"), text
    request = world.discord.bot_messages(CHANNEL)[-1]
    await world.wait_reactions(request["id"], ["✅"])
    await world.react(WEARER, int(request["id"]), "✅", CHANNEL)
    edited = await world.wait_edits(request["id"])
    assert "accepted" in edited["content"], edited


async def snapshot(world: World, scene: Scene) -> Snapshot:
    store = world.store
    link = await store.get_open_link(GUILD, WEARER.id)
    task = None
    if scene.message_id is not None:
        task = await store.get_task_by_feed_message(scene.message_id)
    automation: tuple[object, ...] = ()
    if link is not None:
        automation = (
            link.paused_at,
            len(await store.schedules_of_link(link.id)),
            len(await store.penalties_of(link.id)),
            (link.proof_delay_seconds, link.proof_max_votes),
            len(world.chaster.reviews(scene.session.session_id)),
        )
    return Snapshot(
        chaster_writes=world.chaster.count_calls("POST", "/tasks/"),
        session_reads=world.chaster.count_calls("GET", scene.session.session_id),
        link=(link.id, link.keyholder_id) if link is not None else None,
        settings=await store.get_guild_settings(GUILD),
        task_state=task.state if task is not None else None,
        chaster_task=dict(scene.session.current_task) if scene.session.current_task else None,
        timer_started=scene.session.timer_started_at is not None,
        bot_message_ids=tuple(
            m["id"] for m in world.discord.bot_messages(CHANNEL) if "message_reference" not in m
        ),
        automation=automation,
    )


# -- acting ---------------------------------------------------------------------------------


def command_of(action: str, role: Actor, scene: Scene) -> tuple[str, str | None, list[Any]]:
    """The slash command (name, subcommand, options) that performs `action`."""
    wearer = user_option("wearer", WEARER)
    if action == "link":
        session_id = option("session_id", scene.session.session_id, OPTION_STRING)
        return "link", None, [wearer, session_id]
    if action == "unlink":
        return "unlink", None, [wearer]
    if action == "assign":
        description = option("description", DESCRIPTION, OPTION_STRING)
        return "task", "assign", [wearer, description, option("points", 3, OPTION_INTEGER)]
    if action == "settings-feed":
        feed = OTHER_CHANNEL if role.elsewhere else FEED
        return "settings", "feed", [channel_option("channel", feed)]
    if action == "settings-wearer-complete":
        return "settings", "wearer-complete", [option("allowed", True, OPTION_BOOLEAN)]
    if action == "random":
        return "task", "random", [wearer]
    if action == "vote":
        return "task", "vote", [wearer, option("options", 2, OPTION_INTEGER)]
    if action == "library-import":
        return "library", "import", [wearer]
    if action == "schedule-add":
        every = option("every", "day", OPTION_STRING)
        at = option("at", "08:00", OPTION_STRING)
        return "schedule", "add", [wearer, every, at, option("random", "both", OPTION_STRING)]
    if action == "penalty-set":
        on = option("on", "fail", OPTION_STRING)
        return "penalty", "set", [wearer, on, option("action", "freeze", OPTION_STRING)]
    if action in ("pause", "resume"):
        return action, None, [wearer]
    if action == "notify":
        return "notify", None, [option("dm", "on", OPTION_STRING)]
    if action == "proof":
        return "task", "proof", [attachment_option("photo", attachment=scene.photo)]
    if action == "proof-settings":
        return "proof", "settings", [wearer, option("max-votes", 5, OPTION_INTEGER)]
    return "task", action, [wearer]


async def run_command(
    world: World, role: Actor, action: str, scene: Scene, linked: bool, outcome: Outcome
) -> None:
    name, subcommand, options = command_of(action, role, scene)
    # Discord hides /settings from members without Manage Server, but a server's admins can
    # open it to anyone (Server Settings > Integrations): the bot must refuse by itself.
    world.discord.enforce_command_permissions = False
    handle = await world.discord.send_slash(
        name,
        user=role.user,
        subcommand=subcommand,
        options=options,
        channel_id=role.channel_id,
        guild_id=role.guild_id,
        permissions=MANAGE_GUILD if role.elsewhere else None,
    )
    reply = await handle.final_message()
    assert int(reply.get("flags") or 0) & EPHEMERAL, reply
    text = str(reply["content"])
    if outcome == OK:
        expected = ALLOWED_REPLY[action]
    elif outcome == ASK:
        expected = ASKS_REPLY[action]
    else:
        expected = refusal_reason(role, action, linked)
    assert re.search(expected, text), f"expected /{expected}/, got {text!r}"


ALLOWED_REPLY = {
    "link": r"^Linked <@5002> \(",
    "unlink": r"^Unlinked <@5002>\. Nothing was changed in Chaster\.$",
    "assign": rf"^Assigned to <@5002>: “{DESCRIPTION}”",
    "random": r"^Assigned to <@5002>: “(Write 100 lines|Cold shower)”",
    "vote": r"^The vote for <@5002>'s next task is open in <#\d+>; it ends <t:\d+:R>\.$",
    "library-import": r"^Imported 2 tasks from <@5002>'s lock into your library \(0 already",
    "start": r"^Timer started; it ends <t:\d+:R>\.$",
    "complete": r"^Task completed\.$",
    "fail": r"^Task marked as failed\.$",
    "status": r"^\*\*<@5002>\*\* · keyholder <@\d+>\n",
    "history": r"^<@5002> has no tasks here yet\.$",
    "export": r"^The tasks of <@5002>, as CSV \(times in UTC\)\.$",
    "settings-feed": r"^Task updates will be posted in <#\d+>\.$",
    "settings-wearer-complete": r"^Wearers can now complete their own tasks\.$",
    "schedule-add": r"^Scheduled for <@5002>: #\d+ · every day at 08:00 \(UTC\) · at random",
    "penalty-set": r"^Set for <@5002>: On a failed task: freeze the lock$",
    "pause": r"^Paused: no schedule, deadline, reminder or consequence does anything for <@5002>",
    "resume": r"^Resumed the automation of <@5002>\.$",
    "notify": r"^You get direct messages from the bot for this server\.$",
    "proof": r"^📸 Your photo is with the community in Chaster until <t:\d+:f>",
    "proof-settings": (
        r"^Community photo reviews of <@5002>:\n• run for Chaster's default \(6 h\)\n"
        r"• end at 5 votes$"
    ),
}
ASKS_REPLY = {
    "link": r"^Asked <@5002> to confirm with ✅ within 15 minutes\.$",
    "complete": r"^Marked as done; waiting for the keyholder to confirm\.$",
}


def refusal_reason(role: Actor, action: str, linked: bool) -> str:
    """The reason a refused command gives (a pattern): never a generic error."""
    if action.startswith("settings"):
        return r"^You need the Manage Server permission to change the bot's settings\.$"
    if action == "proof":
        # /task proof names no wearer: whoever is not a linked wearer here hears the same.
        return r"^You are not linked here as a wearer: only a linked wearer sends a photo"
    if action == "link":
        if linked:
            return r"^<@5002> is already linked here\. Use /unlink first\.$"
        return r"^Your lock has a keyholder on Chaster\. Ask them"
    if not linked or role.elsewhere:
        return r"^<@5002> is not linked to a Chaster lock here\. Use /link first\.$"
    return {
        "unlink": r"^Only the wearer, their keyholder of record or a server manager can unlink\.$",
        "assign": r"^Only <@\d+>, the keyholder, can assign tasks\.$",
        "random": r"^Only <@\d+>, the keyholder, can assign tasks\.$",
        "vote": r"^Only <@\d+>, the keyholder, can assign tasks\.$",
        "library-import": r"^Only <@\d+>, the keyholder, can import this lock's task list\.$",
        "status": r"^Only the wearer or their keyholder can see their task status\.$",
        "history": r"^Only the wearer or their keyholder can see their task status\.$",
        "export": r"^Only the wearer or their keyholder can see their task status\.$",
        "schedule-add": r"^Only the wearer's keyholder of record can schedule their tasks\.$",
        "penalty-set": (
            r"^Only the wearer's keyholder of record can set their consequences and reminders\.$"
            if role.link_kind != "consent"
            else r"^A consequence changes the lock itself, so only its own keyholder in Chaster"
        ),
        "pause": r"^Only the wearer and their keyholder of record can pause or resume",
        "resume": r"^Only the wearer and their keyholder of record can pause or resume",
        "proof-settings": r"^Only the keyholder of record changes how photos are reviewed\.$",
    }.get(action, r"^Only the wearer or their keyholder can act on this task\.$")


# The reasons given to the people a refused reaction concerns (only those the POLICY refuses).
NOTICE_REASONS = {
    "react-start": r"This wearer is no longer linked here\.$",
    "react-complete": r"This wearer is no longer linked here\.$",
    "react-fail": r"This wearer is no longer linked here\.$",
    "react-accept-link": r"You are already linked here\. Use /unlink first\.$",
}


def concerned(role: Actor, action: str) -> bool:
    """Whether a refused reaction is answered with a notice: only for the people the task (its
    keyholder of record and wearer) or the request (its wearer) concerns, in their server."""
    if role.elsewhere:
        return False
    if action == "react-accept-link":
        return role.user is WEARER
    return role.user in (WEARER, KEYHOLDER_OF_RECORD[role.link_kind])


async def react(world: World, role: Actor, action: str, scene: Scene, outcome: Outcome) -> None:
    emoji = REACTIONS[action]
    assert scene.message_id is not None
    message_path = rf"/channels/\d+/messages/{scene.message_id}"
    edits = len(world.discord.find_calls("PATCH", message_path))
    await world.discord.dispatch(
        "MESSAGE_REACTION_ADD",
        reaction_add(
            user=role.user,
            channel_id=CHANNEL,
            message_id=scene.message_id,
            guild_id=role.guild_id,
            emoji=emoji,
            message_author_id=world.discord.bot_user.id,
        ),
    )
    if outcome == NO:
        # The removal is the refusal everyone sees; a notice, if any, is sent after it.
        await world.wait_reaction_removed(scene.message_id, role.user, emoji)
    else:
        await world.discord.wait_for_call("PATCH", message_path, count=edits + 1)
    assert await world.bot.work.drained(5), "the reaction was still being handled after 5 s"
    notices = [
        m
        for m in world.discord.bot_messages(CHANNEL)
        if (m.get("message_reference") or {}).get("message_id") == str(scene.message_id)
        and m["content"].startswith(f"<@{role.user.id}>")
    ]
    if outcome != NO:
        assert notices == [], notices
        if outcome == ASK:
            # The wearer's ✅ is the request: it stays.
            assert world.reactions_by(scene.message_id, role.user.id) == [emoji]
        return
    if concerned(role, action):
        [notice] = notices
        assert re.search(NOTICE_REASONS[action], notice["content"]), notice["content"]
    else:
        answers = [m["content"] for m in notices]
        assert answers == [], f"{role.user.name}'s refused reaction was answered: {answers}"


PRESSES = {
    "press-start": "task:start:{task}",
    "press-complete": "task:complete:{task}",
    "press-fail": "task:fail:{task}",
    "press-confirm": "task:confirm:{task}",
    "press-reject": "task:reject:{task}",
    "press-accept-link": "link:accept:{request}",
    "press-decline-link": "link:decline:{request}",
}


def press_refusal(role: Actor, action: str, linked: bool) -> str:
    """The reason a refused press gives the presser (a pattern)."""
    if action == "press-accept-link":
        if role.user is WEARER:
            return r"^You are already linked here\. Use /unlink first\.$"
        return r"^Only the wearer named in the request can accept it\.$"
    if action == "press-decline-link":
        return r"^Only the wearer named in the request can answer it\.$"
    keyholder = KEYHOLDER_OF_RECORD[role.link_kind]
    may_judge = role.user is keyholder
    may_act = role.user in (WEARER, keyholder)
    if not linked and (may_judge if action in JUDGING else may_act):
        return r"^This wearer is no longer linked here\.$"
    if action in JUDGING:
        return r"^Only the keyholder of record can confirm or reject a completion\.$"
    return r"^Only the wearer or their keyholder can act on this task\.$"


async def press(
    world: World, role: Actor, action: str, scene: Scene, linked: bool, outcome: Outcome
) -> None:
    assert scene.message_id is not None
    task = await world.store.get_task_by_feed_message(scene.message_id)
    request = await world.store.get_link_request_by_message(scene.message_id)
    custom_id = PRESSES[action].format(
        task=task.id if task else None, request=request.id if request else None
    )
    message_path = rf"/channels/\d+/messages/{scene.message_id}"
    edits = len(world.discord.find_calls("PATCH", message_path))
    handle = await world.discord.send_component(
        message_id=scene.message_id, custom_id=custom_id, user=role.user
    )
    # Acknowledged at once as an update of the message pressed, whatever comes next.
    first = await handle.first_response()
    assert (first["type"], first["status"]) == (6, 200), first
    if outcome == NO:
        answer = await world.discord.wait_until(
            lambda: next(iter(handle.followups()), None), what="the refusal of a press"
        )
        assert int(answer["flags"]) & EPHEMERAL, answer
        expected = press_refusal(role, action, linked)
        assert re.search(expected, answer["content"]), f"expected /{expected}/: {answer}"
    else:
        await world.discord.wait_for_call("PATCH", message_path, count=edits + 1)
    assert await world.bot.work.drained(5), "the press was still being handled after 5 s"
    if outcome != NO:
        assert handle.followups() == []


# -- what must have happened ----------------------------------------------------------------


async def check_effect(
    world: World,
    role: Actor,
    action: str,
    scene: Scene,
    outcome: Outcome,
    before: Snapshot,
    after: Snapshot,
) -> None:
    store = world.store
    session = scene.session
    writes = after.chaster_writes - before.chaster_writes
    verb = action.removeprefix("react-").removeprefix("press-")
    if verb == "link":
        link = await store.get_open_link(role.guild_id, WEARER.id)
        if outcome == ASK:
            assert link is None
            request = world.discord.bot_messages(CHANNEL)[-1]
            assert request["content"].startswith(f"<@5002>, <@{role.user.id}> wants to manage")
        else:
            assert link is not None and link.keyholder_id == role.user.id
            if role.elsewhere:
                assert after.link == before.link  # this server's link is untouched
        assert writes == 0
    elif verb == "accept-link":
        link = await store.get_open_link(GUILD, WEARER.id)
        assert link is not None and link.keyholder_id == ADMIN.id
        edited = world.discord.messages[scene.message_id or 0]
        assert edited["content"] == "<@5002> accepted: <@5004> is now their keyholder here."
        assert edited["components"] == []
        assert writes == 0
    elif verb == "decline-link":
        request = await store.get_link_request_by_message(scene.message_id or 0)
        assert request is not None and request.state.value == "cancelled"
        edited = world.discord.messages[scene.message_id or 0]
        assert edited["content"] == "<@5002> declined this request to link them."
        assert edited["components"] == []
        [ping] = [
            m
            for m in world.discord.bot_messages(CHANNEL)
            if (m.get("message_reference") or {}).get("message_id") == str(scene.message_id)
        ]
        assert ping["content"].startswith(f"<@{ADMIN.id}>, <@5002> declined"), ping
        assert [int(u["id"]) for u in ping["mentions"]] == [ADMIN.id]
        assert after.link == before.link
        assert writes == 0
    elif verb == "reject":
        assert after.task_state is TaskState.ASSIGNED
        assert after.chaster_task == before.chaster_task
        assert writes == 0
    elif verb == "proof":
        [review] = world.chaster.reviews(session.session_id)
        assert review["verificationType"]["key"] == "photo"
        assert world.chaster.file_bytes(next(iter(world.chaster.files))) == PHOTO
        assert writes == 0  # nothing of the task changes until the verdict
    elif verb == "proof-settings":
        link = await store.get_open_link(GUILD, WEARER.id)
        assert link is not None and link.proof_max_votes == 5
        assert writes == 0
    elif verb == "unlink":
        assert after.link is None
        assert writes == 0
    elif verb == "random":
        assert writes == 1
        assert session.current_task is not None
        assert session.current_task["task"] in ("Write 100 lines", "Cold shower")
    elif verb == "vote":
        [poll] = [m for m in world.discord.bot_messages(CHANNEL) if "poll" in m]
        assert len(poll["poll"]["answers"]) == 2
        assert writes == 0
    elif verb == "library-import":
        caller = Caller(role.user.id, role.guild_id)
        entries = await world.core.library.entries(caller)
        assert [e.description for e in entries] == ["Write 100 lines", "Cold shower"]
        assert writes == 0
    elif verb == "assign":
        assert world.chaster_bodies("POST", "/tasks/assign")[-1]["task"]["task"] == DESCRIPTION
        assert writes == 1
        assert session.current_task is not None and session.current_task["task"] == DESCRIPTION
    elif verb == "start":
        assert writes == 1
        assert session.timer_started_at is not None
        assert after.task_state is TaskState.TIMER_RUNNING
    elif verb == "complete" and outcome == ASK:
        assert after.task_state is TaskState.AWAITING_CONFIRMATION
        assert session.current_task is not None
    elif verb in ("complete", "confirm", "fail"):
        assert writes == 1
        completed = verb != "fail"
        [body] = world.chaster_bodies("POST", "/tasks/complete")
        assert body["isCompleted"] is completed
        assert session.current_task is None
        assert after.task_state is (TaskState.COMPLETED if completed else TaskState.FAILED)
    elif verb in ("status", "history", "export"):
        assert replace(after, session_reads=before.session_reads) == before
    elif verb == "schedule-add":
        link = await store.get_open_link(GUILD, WEARER.id)
        assert link is not None
        [schedule] = await store.schedules_of_link(link.id)
        assert (schedule.created_by, schedule.every.value, schedule.at) == (
            role.user.id,
            "day",
            "08:00",
        )
        assert writes == 0
    elif verb == "penalty-set":
        link = await store.get_open_link(GUILD, WEARER.id)
        assert link is not None
        [penalty] = await store.penalties_of(link.id)
        assert (penalty.on.value, penalty.action.value) == ("fail", "freeze")
        assert writes == 0 and world.chaster.count_calls("POST", "/action") == 0
    elif verb == "pause":
        link = await store.get_open_link(GUILD, WEARER.id)
        assert link is not None and link.paused_by == role.user.id
        assert writes == 0
    elif verb == "resume":
        link = await store.get_open_link(GUILD, WEARER.id)
        assert link is not None and link.paused_at is None
        assert writes == 0
    elif verb == "notify":
        prefs = await world.core.notify.prefs(role.guild_id, role.user.id)
        assert prefs.dm and prefs.sends_dms
        assert after == before
        assert writes == 0
    else:
        settings = await store.get_guild_settings(role.guild_id)
        if verb == "settings-feed":
            assert settings.feed_channel_id == (OTHER_CHANNEL if role.elsewhere else FEED)
        else:
            assert settings.wearer_can_complete
        if role.elsewhere:
            assert after.settings == before.settings  # this server's settings are untouched
        assert writes == 0


def everyone_but_the_bot(world: World) -> list[FakeUser]:
    """The server's people, members of the other server too (as people are of several)."""
    return [m for m in world.discord.members.values() if not m.bot]
