"""Who may do what, and which Chaster `actor` goes with it: one table, read by the code that
decides, by the permission-matrix test and by the test that checks the README's table.

A person has one role toward a wearer: keyholder of record, else wearer, else (for anyone else)
manager when they have Manage Server, else anyone. So a wearer who manages the server is still
the wearer: they cannot ask to be their own keyholder. Everything is scoped to one server: in
another server nobody holds a role on this server's links.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.chaster import Actor
from bot.core.errors import NotAllowed, Param, Reason
from bot.core.model import Caller
from bot.store import SessionLink


class Role(StrEnum):
    """What a person is to a linked wearer (or, for /link, to the lock being linked)."""

    # The keyholder of record here. For /link: the lock's keyholder in Chaster, or the wearer
    # of a self-lock, who becomes keyholder of record at once.
    KEYHOLDER = "keyholder"
    WEARER = "wearer"
    # Has Manage Server in this server.
    MANAGER = "manager"
    ANYONE = "anyone"


class Action(StrEnum):
    LINK = "link"
    ACCEPT_LINK = "accept-link"
    DECLINE_LINK = "decline-link"
    UNLINK = "unlink"
    ASSIGN = "assign"
    IMPORT = "import"
    START = "start"
    COMPLETE = "complete"
    FAIL = "fail"
    CONFIRM = "confirm"
    REJECT = "reject"
    STATUS = "status"
    SCHEDULE = "schedule"
    PENALTY = "penalty"
    PAUSE = "pause"
    RESUME = "resume"
    NOTIFY = "notify"
    SETTINGS = "settings"
    PROOF = "proof"
    PROOF_SETTINGS = "proof-settings"


class May(StrEnum):
    YES = "yes"
    # Allowed once someone else agrees: a link waits for the wearer's ✅; a wearer's completion
    # waits for the keyholder's, unless the server lets wearers complete their own tasks.
    ASKS = "asks"
    NO = "no"


class Condition(StrEnum):
    """What else must hold for a rule that says yes."""

    # The keyholder of record is the lock's own keyholder in Chaster (or the wearer of a
    # self-lock): a keyholder the wearer accepted cannot change a lock that is not theirs.
    HOLDS_THE_LOCK = "holds-the-lock"
    # They paused it themselves: the wearer's pause is the wearer's to end.
    PAUSED_IT = "paused-it"


@dataclass(frozen=True)
class Rule:
    may: May
    # Who Chaster is told acted, for an action that writes to Chaster.
    actor: Actor | None = None
    condition: Condition | None = None


NO = Rule(May.NO)
YES = Rule(May.YES)
ASKS = Rule(May.ASKS)
AS_KEYHOLDER = Rule(May.YES, Actor.KEYHOLDER)
AS_WEARER = Rule(May.YES, Actor.WEARER)
ASKS_AS_WEARER = Rule(May.ASKS, Actor.WEARER)
IF_HOLDS_THE_LOCK = Rule(May.YES, condition=Condition.HOLDS_THE_LOCK)
IF_PAUSED_IT = Rule(May.YES, condition=Condition.PAUSED_IT)
# What automation (a schedule, a deadline) writes to Chaster as: the bot itself, so the lock's
# history never shows a person doing what nobody did at that moment.
AUTOMATION = Rule(May.YES, Actor.EXTENSION)

ROLES = (Role.KEYHOLDER, Role.WEARER, Role.MANAGER, Role.ANYONE)

# fmt: off
POLICY: dict[Action, tuple[Rule, Rule, Rule, Rule]] = {
    #                     keyholder     wearer          manager  anyone
    Action.LINK:         (YES,          NO,             ASKS,    ASKS),
    Action.ACCEPT_LINK:  (NO,           YES,            NO,      NO),
    Action.DECLINE_LINK: (NO,           YES,            NO,      NO),
    Action.UNLINK:       (YES,          YES,            YES,     NO),
    Action.ASSIGN:       (AS_KEYHOLDER, NO,             NO,      NO),
    # Copies the lock's task list into the keyholder's own library; reads Chaster only.
    Action.IMPORT:       (YES,          NO,             NO,      NO),
    Action.START:        (AS_KEYHOLDER, AS_WEARER,      NO,      NO),
    Action.COMPLETE:     (AS_KEYHOLDER, ASKS_AS_WEARER, NO,      NO),
    Action.FAIL:         (AS_KEYHOLDER, AS_WEARER,      NO,      NO),
    Action.CONFIRM:      (AS_KEYHOLDER, NO,             NO,      NO),
    # Puts the task back to open; nothing is written to Chaster.
    Action.REJECT:       (YES,          NO,             NO,      NO),
    Action.STATUS:       (YES,          YES,            NO,      NO),
    # Schedules assign as the extension (AUTOMATION), whoever made them; with them, when the
    # wearer is reminded of a deadline.
    Action.SCHEDULE:     (YES,          NO,             NO,      NO),
    # Consequences change the lock itself.
    Action.PENALTY:      (IF_HOLDS_THE_LOCK, NO,        NO,      NO),
    # The safeword: the wearer can always pause, and end their own pause.
    Action.PAUSE:        (YES,          YES,            NO,      NO),
    Action.RESUME:       (IF_PAUSED_IT, YES,            NO,      NO),
    # Each person's own direct messages.
    Action.NOTIFY:       (YES,          YES,            YES,     YES),
    Action.SETTINGS:     (NO,           NO,             YES,     NO),
    # The wearer sends a task's photo; the keyholder or the community judges it in Chaster,
    # and the bot completes or fails the task as the extension (AUTOMATION) on the verdict.
    Action.PROOF:        (NO,           YES,            NO,      NO),
    # How long a community review runs and how many votes end it.
    Action.PROOF_SETTINGS: (YES,        NO,             NO,      NO),
}
# fmt: on

# What a refusal says, when the action's code does not say something more precise.
REFUSALS: dict[Action, Reason] = {
    Action.LINK: Reason.LOCK_HAS_KEYHOLDER,
    Action.ACCEPT_LINK: Reason.ONLY_NAMED_WEARER_ACCEPTS,
    Action.DECLINE_LINK: Reason.ONLY_NAMED_WEARER_ANSWERS,
    Action.UNLINK: Reason.ONLY_INVOLVED_UNLINK,
    Action.ASSIGN: Reason.ONLY_KEYHOLDER_ASSIGNS,
    Action.IMPORT: Reason.ONLY_KEYHOLDER_IMPORTS,
    Action.START: Reason.ONLY_INVOLVED_ACT_ON_THIS_TASK,
    Action.COMPLETE: Reason.ONLY_INVOLVED_ACT_ON_THIS_TASK,
    Action.FAIL: Reason.ONLY_INVOLVED_ACT_ON_THIS_TASK,
    Action.CONFIRM: Reason.ONLY_KEYHOLDER_JUDGES,
    Action.REJECT: Reason.ONLY_KEYHOLDER_JUDGES,
    Action.STATUS: Reason.ONLY_INVOLVED_SEE_STATUS,
    Action.SCHEDULE: Reason.ONLY_KEYHOLDER_SCHEDULES,
    Action.PENALTY: Reason.ONLY_KEYHOLDER_PENALTIES,
    Action.PAUSE: Reason.ONLY_INVOLVED_PAUSE,
    Action.RESUME: Reason.ONLY_INVOLVED_PAUSE,
    # Never refused: everyone may choose for themselves.
    Action.NOTIFY: Reason.ONLY_INVOLVED_PAUSE,
    Action.SETTINGS: Reason.NEEDS_MANAGE_SERVER,
    Action.PROOF: Reason.ONLY_WEARER_SENDS_PROOF,
    Action.PROOF_SETTINGS: Reason.ONLY_KEYHOLDER_PROOF_SETTINGS,
}


def rule(action: Action, role: Role) -> Rule:
    return POLICY[action][ROLES.index(role)]


def role_of(caller: Caller, link: SessionLink | None = None) -> Role:
    """The caller's role toward `link`, or toward the server when there is no link."""
    if link is not None:
        if link.guild_id != caller.guild_id:
            # Manage Server in another server says nothing about this one.
            return Role.ANYONE
        # The keyholder role wins: on a self-lock the wearer is their own keyholder of record.
        if caller.user_id == link.keyholder_id:
            return Role.KEYHOLDER
        if caller.user_id == link.wearer_id:
            return Role.WEARER
    return Role.MANAGER if caller.can_manage_guild else Role.ANYONE


def require(action: Action, role: Role, *, refusal: Reason | None = None, **params: Param) -> Rule:
    """The role's rule for `action`; NotAllowed (with `refusal`, or the action's usual
    reason) when it may not."""
    granted = rule(action, role)
    if granted.may is May.NO:
        raise NotAllowed(refusal or REFUSALS[action], **params)
    return granted


def chaster_actor(granted: Rule, *, holds_lock: bool) -> Actor:
    """The actor Chaster is told. "keyholder" only for the lock's own keyholder in Chaster,
    since Chaster shows the action in their name; on a self-lock, or for a keyholder the
    wearer accepted, the bot acts as the extension."""
    if granted.actor is None:
        raise ValueError("this action does not write to Chaster")
    if granted.actor is Actor.KEYHOLDER and not holds_lock:
        return Actor.EXTENSION
    return granted.actor
