"""Pause, the safeword: the wearer (always) or their keyholder of record stops every schedule,
deadline, reminder and consequence of the link at once; the wearer ends any pause, the
keyholder only their own. It writes only the bot's record, so it works with Chaster down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.errors import NotAllowed, Person, Reason
from bot.core.model import Caller, EventKind, LinkEventKind
from bot.core.text import REASON_LIMIT
from bot.store import ConsequenceState, OccasionState, TaskState
from tests.core_env import (
    CHANNEL,
    FAIL,
    GUILD,
    KEYHOLDER,
    KH,
    MANAGER,
    OTHER,
    WEARER,
    WR,
    CoreEnv,
    automation_events,
    refused,
)
from tests.test_sync import timers_of


def paused_events(env: CoreEnv) -> list[tuple[LinkEventKind, int | None]]:
    return [(e.kind, e.by_user_id) for e in env.feed.link_events]


@pytest.mark.parametrize(("caller", "user_id"), [(WR, WEARER), (KH, KEYHOLDER)])
async def test_the_wearer_or_the_keyholder_pauses(
    env: CoreEnv, caller: Caller, user_id: int
) -> None:
    link = await env.linked()
    paused = await env.core.pause.pause(caller, WEARER, "  Cramp in my leg  ")
    assert (paused.paused_at, paused.paused_by, paused.pause_reason) == (
        env.clock.now(),
        user_id,
        "Cramp in my leg",
    )
    assert paused.is_paused
    assert await env.store.get_link(link.id) == paused
    [event] = env.feed.link_events
    assert (event.kind, event.by_user_id, event.channel_id) == (
        LinkEventKind.PAUSED,
        user_id,
        CHANNEL,
    )
    assert event.link == paused
    assert env.fake.calls == []
    assert await env.audit() == [("link", "ok"), ("pause", "ok")]


@pytest.mark.parametrize("caller", [OTHER, MANAGER], ids=["stranger", "admin"])
async def test_nobody_else_pauses_or_resumes(env: CoreEnv, caller: Caller) -> None:
    await env.linked()
    with refused(Reason.ONLY_INVOLVED_PAUSE, NotAllowed):
        await env.core.pause.pause(caller, WEARER)
    link = await env.store.get_open_link(GUILD, WEARER)
    assert link is not None and not link.is_paused
    await env.core.pause.pause(WR, WEARER)
    with refused(Reason.ONLY_INVOLVED_PAUSE, NotAllowed):
        await env.core.pause.resume(caller, WEARER)
    link = await env.store.get_open_link(GUILD, WEARER)
    assert link is not None and link.is_paused


async def test_an_unlinked_wearer_cannot_be_paused(env: CoreEnv) -> None:
    with refused(Reason.NOT_LINKED_USE_LINK, wearer=Person(WEARER)):
        await env.core.pause.pause(WR, WEARER)


async def test_the_wearer_resumes_the_keyholders_pause(env: CoreEnv) -> None:
    await env.linked()
    await env.core.pause.pause(KH, WEARER)
    resumed = await env.core.pause.resume(WR, WEARER)
    assert (resumed.paused_at, resumed.paused_by, resumed.pause_reason) == (None, None, None)
    assert paused_events(env) == [
        (LinkEventKind.PAUSED, KEYHOLDER),
        (LinkEventKind.RESUMED, WEARER),
    ]


async def test_the_keyholder_cannot_resume_the_wearers_pause(env: CoreEnv) -> None:
    await env.linked()
    paused = await env.core.pause.pause(WR, WEARER, "safeword")
    with refused(Reason.ONLY_WEARER_RESUMES, wearer=Person(WEARER)):
        await env.core.pause.resume(KH, WEARER)
    assert await env.store.get_link(paused.id) == paused
    assert paused_events(env) == [(LinkEventKind.PAUSED, WEARER)]


async def test_the_keyholder_resumes_their_own_pause(env: CoreEnv) -> None:
    await env.linked()
    await env.core.pause.pause(KH, WEARER)
    resumed = await env.core.pause.resume(KH, WEARER)
    assert not resumed.is_paused
    assert paused_events(env)[-1] == (LinkEventKind.RESUMED, KEYHOLDER)


async def test_a_self_lock_wearer_pauses_and_resumes(env: CoreEnv) -> None:
    await env.linked(keyholder=False)
    await env.core.pause.pause(WR, WEARER)
    assert not (await env.core.pause.resume(WR, WEARER)).is_paused


async def test_pausing_twice_and_resuming_what_is_not_paused_are_refused(env: CoreEnv) -> None:
    await env.linked()
    with refused(Reason.NOT_PAUSED, wearer=Person(WEARER)):
        await env.core.pause.resume(WR, WEARER)
    paused = await env.core.pause.pause(KH, WEARER)
    env.advance(60)
    for caller in (WR, KH):
        with refused(Reason.ALREADY_PAUSED, by=Person(KEYHOLDER), at=paused.paused_at):
            await env.core.pause.pause(caller, WEARER)
    # The first pause stands, from when it began.
    assert await env.store.get_link(paused.id) == paused
    await env.core.pause.resume(WR, WEARER)
    with refused(Reason.NOT_PAUSED, wearer=Person(WEARER)):
        await env.core.pause.resume(WR, WEARER)
    assert [kind for kind, _ in paused_events(env)] == [LinkEventKind.PAUSED, LinkEventKind.RESUMED]


async def test_a_reason_follows_the_rules_of_a_tasks_text(env: CoreEnv) -> None:
    await env.linked()
    with refused(Reason.DESCRIPTION_CONTROL):
        await env.core.pause.pause(WR, WEARER, "stop\x00now")
    paused = await env.core.pause.pause(WR, WEARER, "x" * (REASON_LIMIT + 50))
    assert paused.pause_reason == "x" * REASON_LIMIT
    await env.core.pause.resume(WR, WEARER)
    assert (await env.core.pause.pause(WR, WEARER, "   ")).pause_reason is None


async def test_pause_and_resume_work_with_chaster_offline(env: CoreEnv) -> None:
    await env.linked()
    await env.fake.go_offline()
    paused = await env.core.pause.pause(WR, WEARER, "Chaster is down, so am I")
    assert paused.is_paused
    resumed = await env.core.pause.resume(WR, WEARER)
    assert not resumed.is_paused
    assert [kind for kind, _ in paused_events(env)] == [LinkEventKind.PAUSED, LinkEventKind.RESUMED]
    assert env.fake.calls == []


async def test_resuming_moves_only_the_open_tasks_deadline(env: CoreEnv) -> None:
    await env.linked()
    old = await env.core.tasks.assign(
        KH, WEARER, description="Old", points=1, deadline="1h", channel_id=CHANNEL
    )
    await env.act(KH, FAIL)
    task = await env.core.tasks.assign(
        KH, WEARER, description="New", points=1, deadline="1h", channel_id=CHANNEL
    )
    assert task.deadline_at is not None
    await env.core.pause.pause(WR, WEARER)
    env.advance(1234)
    await env.core.pause.resume(WR, WEARER)
    moved = await env.store.get_task(task.id)
    assert moved is not None and moved.deadline_at == task.deadline_at + timedelta(seconds=1234)
    closed = await env.store.get_task(old.id)
    assert closed is not None and closed.deadline_at == old.deadline_at


async def test_nothing_reaches_chaster_from_automation_while_paused(env: CoreEnv) -> None:
    env.clock.current = datetime(2026, 6, 1, 8, tzinfo=UTC)
    await env.linked()
    timers_of(env)
    await env.core.penalties.set(KH, WEARER, on="fail", action="add_time", amount="1h")
    await env.core.library.add(KH, description="Kneel", points=1)
    schedule = await env.core.schedules.add(
        KH, WEARER, every="day", at="11:00", entry="Kneel", timezone="UTC"
    )
    # A consequence due now, a reminder due at 09:45, a deadline at 10:00, an occasion at 11:00.
    failed = await env.assign(description="Failed one", points=1)
    await env.act(KH, FAIL)
    task = await env.core.tasks.assign(
        KH, WEARER, description="Plank", points=1, deadline="2h", channel_id=CHANNEL
    )
    await env.core.pause.pause(WR, WEARER, "safeword")
    env.fake.calls.clear()
    events_before = len(env.feed.events)

    for minutes in (0, 105, 120, 180, 240):
        env.clock.current = datetime(2026, 6, 1, 8, tzinfo=UTC) + timedelta(minutes=minutes)
        await env.run_due()
    assert env.fake.calls == []
    assert env.feed.events[events_before:] == []
    consequence = await env.store.consequence_for_task(failed.id)
    assert consequence is not None and consequence.state is ConsequenceState.CANCELLED
    still = await env.store.get_task(task.id)
    assert still is not None
    assert (still.state, still.deadline_missed_at, still.reminded_at) == (
        TaskState.ASSIGNED,
        None,
        None,
    )
    assert [(o.due_at.hour, o.state) for o in await env.store.occasions_of(schedule.id)] == [
        (11, OccasionState.PAUSED)
    ]

    # Resumed at 12:00 after four hours: the deadline is 14:00 now, its reminder 13:45.
    await env.core.pause.resume(WR, WEARER)
    moved = await env.store.get_task(task.id)
    assert moved is not None and moved.deadline_at == datetime(2026, 6, 1, 14, tzinfo=UTC)
    env.clock.current = datetime(2026, 6, 1, 13, 45, tzinfo=UTC)
    await env.run_due()
    assert [e.kind for e in env.feed.events[events_before:]] == [EventKind.DEADLINE_REMINDER]
    env.clock.current = datetime(2026, 6, 1, 14, tzinfo=UTC)
    await env.run_due()
    assert (await env.only_task()).missed_deadline
    assert [e.json for e in env.posts("complete")] == [{"actor": "extension", "isCompleted": False}]
    # The cancelled consequence stays cancelled, and none is set for a missed deadline.
    assert [c.path for c in env.fake.calls if c.path.endswith("/action")] == []
    assert automation_events(env) == []


async def test_a_task_given_during_the_pause_gains_only_the_time_it_spent_paused(
    env: CoreEnv,
) -> None:
    await env.linked()
    await env.core.pause.pause(WR, WEARER)
    # Three hours into the pause the keyholder gives a task by hand, due in 30 minutes...
    env.advance(3 * 3600)
    task = await env.core.tasks.assign(
        KH, WEARER, description="Plank", points=1, deadline="30m", channel_id=CHANNEL
    )
    assert task.deadline_at is not None
    # ...and the pause ends ten minutes later: the deadline moves by those ten minutes only.
    env.advance(600)
    await env.core.pause.resume(WR, WEARER)
    moved = await env.store.get_task(task.id)
    assert moved is not None and moved.deadline_at == task.deadline_at + timedelta(minutes=10)
