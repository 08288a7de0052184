"""Every command that calls Chaster, against every way Chaster can fail.

For each fault and action the person gets a short, clear answer (never "Something went wrong on
my side"), the store is unchanged or brought in line with Chaster, the next command works once
the fault is gone, and no write that may have reached Chaster is sent again (start-timer's
resend is the one deliberate exception: see `_confirm_timer_started` in bot/core/actions.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bot.chaster import transport as transport_module
from bot.store import Task, TaskState
from tests.e2e.conftest import CHANNEL, COMPLETE, EPHEMERAL, KEYHOLDER, WEARER, World
from tests.fakes.chaster import FakeSession

# The bot's Chaster client, made quick: a hung answer times out in 0.2 s, and the waits before
# retrying a refused connection or a 429 shrink to almost nothing.
CLIENT_TIMEOUT = 0.2
HANG_SECONDS = 1.0


@pytest.fixture(autouse=True)
def quick_chaster_client(monkeypatch: pytest.MonkeyPatch) -> None:
    # Autouse, so it applies before `world` builds the bot's client.
    monkeypatch.setattr(transport_module, "DEFAULT_TIMEOUT", httpx.Timeout(CLIENT_TIMEOUT))
    monkeypatch.setattr(transport_module, "TRANSPORT_RETRY_DELAYS", (0.01, 0.01))
    monkeypatch.setattr(transport_module, "THROTTLE_BACKOFF_SECONDS", 0.01)


# -- actions --------------------------------------------------------------------------------

ASSIGN, START, COMPLETE_CMD, FAIL_CMD, STATUS, LINK, REACT, COMPLETE_READ = (
    "assign",
    "start",
    "complete",
    "fail",
    "status",
    "link",
    "react",
    "complete-after-read",
)
# The Chaster call each action's fault hits: its write, or its only read.
TARGET: dict[str, tuple[str, str]] = {
    ASSIGN: ("POST", "/tasks/assign"),
    START: ("POST", "/tasks/start-timer"),
    COMPLETE_CMD: ("POST", "/tasks/complete"),
    FAIL_CMD: ("POST", "/tasks/complete"),
    REACT: ("POST", "/tasks/complete"),
    COMPLETE_READ: ("GET", "/api/extensions/sessions/"),
    STATUS: ("GET", "/api/extensions/sessions/"),
    LINK: ("GET", "/api/extensions/sessions/"),
}
WRITE = {ASSIGN: "/tasks/assign", START: "/tasks/start-timer"}
SUCCESS = {
    ASSIGN: "Assigned to <@5002>",
    START: "Timer started; it ends",
    COMPLETE_CMD: "Task completed.",
    COMPLETE_READ: "Task completed.",
    FAIL_CMD: "Task marked as failed.",
    STATUS: "Task #1: “Hold a plank”",
    LINK: "Linked",
}
# The task's state after a successful action; a refused one leaves it assigned.
STATE_AFTER = {
    START: TaskState.TIMER_RUNNING,
    COMPLETE_CMD: TaskState.COMPLETED,
    COMPLETE_READ: TaskState.COMPLETED,
    REACT: TaskState.COMPLETED,
    FAIL_CMD: TaskState.FAILED,
    STATUS: TaskState.ASSIGNED,
}


@dataclass
class Scene:
    session: FakeSession
    feed: dict[str, Any] | None = None
    saved: FakeSession | None = None


async def prepare(world: World, action: str) -> Scene:
    if action == LINK:
        return Scene(world.session())
    session = await world.link()
    if action == ASSIGN:
        return Scene(session)
    feed = await world.assign(**({"duration": "10m"} if action == START else {}))
    return Scene(session, feed)


async def ephemeral_answer(world: World, name: str, subcommand: str | None, **options: Any) -> str:
    handle = await world.command(name, KEYHOLDER, subcommand, **options)
    message = await handle.final_message()
    assert int(message.get("flags") or 0) & EPHEMERAL, f"answer not ephemeral: {message}"
    return str(message.get("content", ""))


async def perform(world: World, action: str, scene: Scene) -> str:
    """Do the action as the keyholder; return what they are told (reply or channel notice)."""
    if action == LINK:
        return await ephemeral_answer(
            world, "link", None, wearer=WEARER, session_id=scene.session.session_id
        )
    if action == ASSIGN:
        return await ephemeral_answer(
            world, "task", "assign", wearer=WEARER, description="Hold a plank", points=5
        )
    if action == REACT:
        return await react(world, scene)
    subcommand = "complete" if action == COMPLETE_READ else action
    return await ephemeral_answer(world, "task", subcommand, wearer=WEARER)


async def react(world: World, scene: Scene) -> str:
    """✅ on the feed message: the task closes (and its message is edited) or a notice says why."""
    assert scene.feed is not None
    feed_id = int(scene.feed["id"])
    notices_before = len(notices(world, feed_id))
    edits_before = len(world.discord.find_calls("PATCH", rf"/channels/\d+/messages/{feed_id}"))
    posts_before = world.chaster.count_calls("POST", "/tasks/complete")
    await world.react(KEYHOLDER, feed_id, COMPLETE, CHANNEL)

    def outcome() -> str | None:
        new = notices(world, feed_id)[notices_before:]
        if new:
            return str(new[0]["content"])
        edited = len(world.discord.find_calls("PATCH", rf"/channels/\d+/messages/{feed_id}"))
        # Completed by this ✅: Chaster was asked, then the feed message shows the result.
        # (A task closed for a lock without Tasks is edited too, but never asked, and noticed.)
        posted = world.chaster.count_calls("POST", "/tasks/complete")
        if edited > edits_before and posted > posts_before:
            return SUCCESS[COMPLETE_CMD]
        return None

    told = await world.discord.wait_until(outcome, what="the ✅ to be acted on")
    if told != SUCCESS[COMPLETE_CMD]:
        # A refused reaction is taken off again, so it can be given once more.
        await world.wait_reaction_removed(feed_id, KEYHOLDER, COMPLETE)
    return told


def notices(world: World, feed_id: int) -> list[dict[str, Any]]:
    return [
        m
        for m in world.discord.bot_messages(CHANNEL)
        if int(m["id"]) > feed_id
        and "message_reference" in m
        and m["content"].startswith(f"<@{KEYHOLDER.id}>")
    ]


# -- faults ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    name: str

    async def inject(self, world: World, action: str, scene: Scene) -> None:
        method, path = TARGET[action]
        chaster = world.chaster
        # A read is retried after a lost answer, so a hang must outlast all three attempts.
        reads = 3 if method == "GET" else 1
        match self.name:
            case "500":
                chaster.fail_next(method, path, 500, "Internal server error")
            case "502-after-applying":
                chaster.answer_next(
                    method,
                    path,
                    502,
                    "<html>502 Bad Gateway</html>",
                    content_type="text/html",
                    apply=True,
                )
            case "503":
                chaster.answer_next(
                    method, path, 503, "Service Unavailable", content_type="text/plain"
                )
            case "refused":
                await chaster.go_offline()
            case "timeout":
                chaster.hang_next(method, path, apply=False, seconds=HANG_SECONDS, times=reads)
            case "timeout-after-applying":
                chaster.hang_next(method, path, apply=True, seconds=HANG_SECONDS)
            case "malformed-200":
                chaster.answer_next(method, path, 200, '{"session": {"sessionId": ', apply=True)
            case "429-no-headers":
                chaster.fail_next(method, path, 429, "ThrottlerException: Too Many Requests")
            case "unknown-session":
                scene.saved = chaster.sessions.pop(scene.session.session_id)
            case "tasks-removed":
                chaster.remove_tasks_extension(scene.session.session_id)
            case _:
                raise AssertionError(self.name)

    async def clear(self, world: World, scene: Scene) -> None:
        if self.name == "refused":
            await world.chaster.go_online()
        elif self.name == "unknown-session":
            assert scene.saved is not None
            world.chaster.sessions[scene.saved.session_id] = scene.saved
        elif self.name == "tasks-removed":
            world.chaster.add_tasks_extension(scene.session.session_id)


# What each fault does to each action: (what the keyholder is told, POSTs of the action's write
# reaching Chaster). A write that may have landed is checked in Chaster, never sent again; a
# throttled one was not processed and is sent again; start-timer is sent again on purpose.
TROUBLE_500 = "Chaster is having trouble (HTTP 500: Internal server error)"
TROUBLE_502 = "Chaster is having trouble (HTTP 502: Bad Gateway)"
TROUBLE_503 = "Chaster is having trouble (HTTP 503: Service Unavailable)"
UNREACHABLE = "Chaster could not be reached"
NO_ANSWER = "Chaster did not answer in time"
UNREADABLE = "Chaster sent an answer the bot can't read"
UNCHANGED = "; nothing was changed. Try again in a moment."
NOT_ASSIGNED = ", and Chaster shows no new task: nothing was assigned. Try again."
NOT_LINKED = "; nothing was linked. Try again in a moment."
NOT_SHOWN = "; its side can't be shown right now."
SESSION_GONE = (
    "Chaster no longer has this wearer's session (the lock may have ended). "
    "Use /unlink and link the new lock."
)
TASKS_GONE_MIDTASK = (
    "The lock no longer has the Tasks extension in Chaster. This task can't be finished any "
    "more, so it is now closed as failed. Add Tasks to the lock in Chaster to assign new tasks."
)

CLOSE = {
    "500": (TROUBLE_500 + UNCHANGED, 1),
    "502-after-applying": (SUCCESS[COMPLETE_CMD], 1),
    "503": (TROUBLE_503 + UNCHANGED, 1),
    "refused": (UNREACHABLE + UNCHANGED, 0),
    "timeout": (NO_ANSWER + UNCHANGED, 1),
    "timeout-after-applying": (SUCCESS[COMPLETE_CMD], 1),
    "malformed-200": (SUCCESS[COMPLETE_CMD], 1),
    "429-no-headers": (SUCCESS[COMPLETE_CMD], 2),
    "unknown-session": (SESSION_GONE, 0),
    "tasks-removed": (TASKS_GONE_MIDTASK, 0),
}
EXPECTED: dict[str, dict[str, tuple[str, int]]] = {
    ASSIGN: {
        "500": (TROUBLE_500 + NOT_ASSIGNED, 1),
        "502-after-applying": (SUCCESS[ASSIGN], 1),
        "503": (TROUBLE_503 + NOT_ASSIGNED, 1),
        "refused": (UNREACHABLE + "; nothing was assigned. Try again in a moment.", 0),
        "timeout": (NO_ANSWER + NOT_ASSIGNED, 1),
        "timeout-after-applying": (SUCCESS[ASSIGN], 1),
        "malformed-200": (SUCCESS[ASSIGN], 1),
        "429-no-headers": (SUCCESS[ASSIGN], 2),
        "unknown-session": (SESSION_GONE, 1),
        "tasks-removed": (
            "The lock no longer has the Tasks extension in Chaster. "
            "Add Tasks to the lock in Chaster, then try again.",
            1,
        ),
    },
    START: {
        # A lost start-timer answer is resolved by sending it again (a timer starts once).
        "500": (SUCCESS[START], 2),
        "502-after-applying": (SUCCESS[START], 2),
        "503": (SUCCESS[START], 2),
        "refused": (UNREACHABLE + UNCHANGED, 0),
        "timeout": (SUCCESS[START], 2),
        "timeout-after-applying": (SUCCESS[START], 2),
        "malformed-200": (SUCCESS[START], 2),
        "429-no-headers": (SUCCESS[START], 2),
        "unknown-session": (SESSION_GONE, 0),
        "tasks-removed": (TASKS_GONE_MIDTASK, 0),
    },
    COMPLETE_CMD: CLOSE,
    FAIL_CMD: {
        fault: ((SUCCESS[FAIL_CMD] if told == SUCCESS[COMPLETE_CMD] else told), posts)
        for fault, (told, posts) in CLOSE.items()
    },
    REACT: CLOSE,
    COMPLETE_READ: {
        "500": (TROUBLE_500 + UNCHANGED, 0),
        "502-after-applying": (TROUBLE_502 + UNCHANGED, 0),
        "503": (TROUBLE_503 + UNCHANGED, 0),
        "timeout": (NO_ANSWER + UNCHANGED, 0),
        "malformed-200": (UNREADABLE + UNCHANGED, 0),
        "429-no-headers": (SUCCESS[COMPLETE_READ], 1),
    },
    STATUS: {
        "500": ("⚠️ " + TROUBLE_500 + NOT_SHOWN, 0),
        "502-after-applying": ("⚠️ " + TROUBLE_502 + NOT_SHOWN, 0),
        "503": ("⚠️ " + TROUBLE_503 + NOT_SHOWN, 0),
        "refused": ("⚠️ " + UNREACHABLE + NOT_SHOWN, 0),
        "timeout": ("⚠️ " + NO_ANSWER + NOT_SHOWN, 0),
        "malformed-200": ("⚠️ " + UNREADABLE + NOT_SHOWN, 0),
        "429-no-headers": (SUCCESS[STATUS], 0),
        "unknown-session": (
            "⚠️ Chaster no longer has this wearer's session (the lock may have ended). "
            "Use /unlink and link the new lock.",
            0,
        ),
        "tasks-removed": ("⚠️ The lock no longer has the Tasks extension in Chaster.", 0),
    },
    LINK: {
        "500": (TROUBLE_500 + NOT_LINKED, 0),
        "502-after-applying": (TROUBLE_502 + NOT_LINKED, 0),
        "503": (TROUBLE_503 + NOT_LINKED, 0),
        "refused": (UNREACHABLE + NOT_LINKED, 0),
        "timeout": (NO_ANSWER + NOT_LINKED, 0),
        "malformed-200": (UNREADABLE + NOT_LINKED, 0),
        "429-no-headers": (SUCCESS[LINK], 0),
        "unknown-session": ("Chaster has no session `{session}` for this extension.", 0),
        "tasks-removed": ("That lock does not have the Tasks extension.", 0),
    },
}
CASES = [
    pytest.param(Fault(fault), action, told, posts, id=f"{fault}-{action}")
    for action, faults in EXPECTED.items()
    for fault, (told, posts) in faults.items()
]


def write_posts(world: World, action: str) -> int:
    return world.chaster.count_calls("POST", WRITE.get(action, "/tasks/complete"))


async def open_task(world: World) -> Task | None:
    link = await world.store.get_open_link(world.settings.DISCORD_GUILD_ID or 0, WEARER.id)
    if link is None:
        return None
    return await world.store.get_open_task(link.id)


async def only_task(world: World) -> Task:
    store = world.store
    link = await store.get_open_link(world.settings.DISCORD_GUILD_ID or 0, WEARER.id)
    assert link is not None
    task = await store.latest_task(link.id)
    assert task is not None
    return task


@pytest.mark.parametrize(("fault", "action", "told", "posts"), CASES)
async def test_chaster_fault(
    world: World, fault: Fault, action: str, told: str, posts: int
) -> None:
    scene = await prepare(world, action)
    posts_before = write_posts(world, action)
    await fault.inject(world, action, scene)
    try:
        answer = await perform(world, action, scene)
    finally:
        await fault.clear(world, scene)
    expected = told.format(session=scene.session.session_id)

    # (a) a clear answer, and only ever a refusal or the usual success.
    assert "Something went wrong" not in answer and "Traceback" not in answer
    assert expected in answer, answer
    succeeded = expected == SUCCESS.get(action, SUCCESS[COMPLETE_CMD])

    # (d) exactly the expected writes reached Chaster.
    assert write_posts(world, action) - posts_before == posts
    if action != LINK:
        # Whatever was sent, Chaster applied it at most once.
        logs = [entry["type"] for entry in scene.session.action_logs]
        assert logs.count("tasks_task_assigned") == (0 if action == ASSIGN and not succeeded else 1)
        assert logs.count("tasks_task_completed") + logs.count("tasks_task_failed") <= 1

    # (b) the store matches what happened in Chaster.
    await check_store(world, action, fault, scene, succeeded)

    # (c) with the fault gone, the next command works normally.
    await next_command_works(world, action, fault, scene, succeeded)


async def check_store(
    world: World, action: str, fault: Fault, scene: Scene, succeeded: bool
) -> None:
    store = world.store
    guild = world.settings.DISCORD_GUILD_ID or 0
    link = await store.get_open_link(guild, WEARER.id)
    if action == LINK:
        assert (link is not None) == succeeded
        return
    # Nothing a fault does closes a link: that is the poller's call, on Chaster's word.
    assert link is not None
    session = world.chaster.sessions[scene.session.session_id]
    if action == ASSIGN:
        task = await store.get_open_task(link.id)
        assert (task is not None) == succeeded
        assert (session.current_task is not None) == succeeded
        if task is not None:
            assert task.description == "Hold a plank"
        return
    task = await only_task(world)
    if fault.name == "tasks-removed" and action != STATUS:
        assert task.state is TaskState.FAILED
        assert task.closed_by is None
    elif succeeded:
        assert task.state is STATE_AFTER[action]
    else:
        assert task.state is TaskState.ASSIGNED
    chaster_task = session.current_task
    if fault.name == "tasks-removed":
        # Chaster dropped the task with the extension; /task status only reports that.
        assert chaster_task is None
    elif task.state.is_open:
        assert chaster_task is not None and chaster_task["task"] == task.description
    else:
        assert chaster_task is None


async def next_command_works(
    world: World, action: str, fault: Fault, scene: Scene, succeeded: bool
) -> None:
    if fault.name == "tasks-removed" and action not in (STATUS, LINK):
        # The task no longer blocks: a new one can be assigned on the lock with Tasks again.
        if action == ASSIGN:
            assert await open_task(world) is None
        answer = await perform(world, ASSIGN, scene)
        assert answer.startswith(SUCCESS[ASSIGN]), answer
        return
    if succeeded:
        answer = await ephemeral_answer(world, "task", "status", wearer=WEARER)
        assert "⚠️" not in answer, answer
        return
    if action == STATUS:
        # /task status shows a recent reading for a while (and says how old it is).
        world.advance(world.settings.CHASTER_FRESH_SECONDS + 1)
    answer = await perform(world, action, scene)
    success = SUCCESS.get(action, SUCCESS[COMPLETE_CMD])
    assert success in answer and "⚠️" not in answer, answer


async def test_every_fault_meets_every_action() -> None:
    names = set(EXPECTED[ASSIGN])
    for action, faults in EXPECTED.items():
        # Reads have no "after applying" of their own, and the read before completing meets
        # session faults exactly as /task complete does.
        skipped = {"timeout-after-applying"} if TARGET[action][0] == "GET" else set()
        if action == COMPLETE_READ:
            skipped |= {"refused", "unknown-session", "tasks-removed"}
        assert set(faults) == names - skipped, action
