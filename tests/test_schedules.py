"""Schedules: a keyholder's routine, fired by the bot on its own as the extension, at local
times in an IANA zone (across DST changes), once per occasion whatever crashes in between;
skipped on an open task, caught up after a short downtime, reported after a long one, and
silent (nothing at all sent to Chaster) while the link is paused."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.chaster import Actor, TaskDetails
from bot.core.errors import NotAllowed, Reason, Typed
from bot.core.model import AutomationEventKind, EventKind, LinkEventKind
from bot.core.schedules import GRACE, SCHEDULE_LIMIT
from bot.store import OccasionState, Origin, Schedule, TaskState, to_db
from tests.core_env import (
    COMPLETE,
    GUILD,
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

ENTRY = "Kneel for ten minutes"


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


async def with_entry(env: CoreEnv, at: datetime, *, deadline: str | None = None) -> None:
    """WEARER linked at `at`, KEYHOLDER's library holding ENTRY."""
    env.clock.current = at
    await env.linked()
    await env.core.library.add(KH, description=ENTRY, points=3, deadline=deadline)
    env.fake.calls.clear()


async def daily(env: CoreEnv, at: str = "09:00", zone: str = "UTC", **options: str) -> Schedule:
    return await env.core.schedules.add(
        KH, WEARER, every="day", at=at, entry=ENTRY, timezone=zone, **options
    )


async def occasions(env: CoreEnv, schedule: Schedule) -> list[tuple[datetime, OccasionState]]:
    return [(o.due_at, o.state) for o in await env.store.occasions_of(schedule.id)]


async def close_open_task(env: CoreEnv) -> None:
    """The keyholder completes the open task, so the next occasion has a free wearer."""
    await env.act(KH, COMPLETE)


# ---------------------------------------------------------------------------------- firing


async def test_a_daily_schedule_assigns_at_its_local_time_as_the_extension(env: CoreEnv) -> None:
    await with_entry(env, utc(2026, 6, 1, 6, 59, 30), deadline="2h")
    schedule = await daily(env, "09:00", "Europe/Paris")
    # 09:00 in Paris in June is 07:00 UTC.
    assert schedule.next_at == utc(2026, 6, 1, 7)
    assert (schedule.timezone, schedule.at, schedule.entry_id) == ("Europe/Paris", "09:00", 1)
    assert await env.run_due() == 0
    env.advance(29)
    assert await env.run_due() == 0
    assert env.posts("assign") == []

    env.advance(1)
    assert await env.run_due() == 1
    [call] = env.posts("assign")
    assert call.json == {
        "task": {"task": ENTRY, "points": 3, "verificationRequired": False},
        "actor": "extension",
    }
    task = await env.open_task()
    assert task is not None
    assert (task.schedule_id, task.description, task.state) == (
        schedule.id,
        ENTRY,
        TaskState.ASSIGNED,
    )
    assert task.assigned_at == utc(2026, 6, 1, 7)
    # The entry's own deadline comes with it.
    assert task.deadline_at == utc(2026, 6, 1, 9)
    assert task.origin is None
    assert env.feed.kinds() == [EventKind.ASSIGNED]
    assert await occasions(env, schedule) == [(utc(2026, 6, 1, 7), OccasionState.ASSIGNED)]
    [settled] = await env.store.occasions_of(schedule.id)
    assert settled.task_id == task.id
    assert ("schedule.fire", "ok") in await env.audit()
    moved = await env.store.get_schedule(schedule.id)
    assert moved is not None and moved.next_at == utc(2026, 6, 2, 7)

    # It re-armed itself: the next day at the same local time, once the task is done.
    await close_open_task(env)
    env.clock.current = utc(2026, 6, 2, 7)
    assert await env.run_due() == 1
    assert len(env.posts("assign")) == 2
    assert [o[0] for o in await occasions(env, schedule)] == [
        utc(2026, 6, 1, 7),
        utc(2026, 6, 2, 7),
    ]


async def test_a_schedule_deadline_overrides_the_entrys(env: CoreEnv) -> None:
    await with_entry(env, utc(2026, 6, 1, 8), deadline="2h")
    schedule = await daily(env, deadline="30m")
    assert schedule.deadline_seconds == 1800
    env.clock.current = schedule.next_at
    await env.core.schedules.fire(schedule.id)
    task = await env.open_task()
    assert task is not None and task.deadline_at == schedule.next_at + timedelta(minutes=30)


async def test_a_schedule_draws_from_the_lock_list(env: CoreEnv) -> None:
    env.clock.current = utc(2026, 6, 1, 8)
    await env.linked(user_tasks=[{"task": "Cold shower", "points": 10}])
    schedule = await env.core.schedules.add(
        KH, WEARER, every="day", at="09:00", source="lock", timezone="UTC"
    )
    assert (schedule.entry_id, schedule.source) == (None, "lock")
    env.clock.current = schedule.next_at
    await env.core.schedules.fire(schedule.id)
    [call] = env.posts("assign")
    assert call.json["task"]["task"] == "Cold shower"
    assert call.json["actor"] == "extension"
    task = await env.open_task()
    assert task is not None and task.origin is Origin.RANDOM_LOCK
    [occasion] = await env.store.occasions_of(schedule.id)
    assert (occasion.state, occasion.drawn) == (OccasionState.ASSIGNED, "Cold shower")


async def test_every_n_hours_fires_on_its_grid(env: CoreEnv) -> None:
    await with_entry(env, utc(2026, 6, 1, 7))
    schedule = await env.core.schedules.add(
        KH, WEARER, every="6h", at="08:00", entry=ENTRY, timezone="UTC"
    )
    assert (schedule.every, schedule.hours) == ("hours", 6)
    fired = []
    for _ in range(5):
        current = await env.store.get_schedule(schedule.id)
        assert current is not None
        env.clock.current = current.next_at
        fired.append(current.next_at)
        await env.core.schedules.fire(schedule.id)
        await close_open_task(env)
    assert fired == [
        utc(2026, 6, 1, 8),
        utc(2026, 6, 1, 14),
        utc(2026, 6, 1, 20),
        utc(2026, 6, 2, 2),
        utc(2026, 6, 2, 8),
    ]
    assert len(env.posts("assign")) == 5
    assert {state for _, state in await occasions(env, schedule)} == {OccasionState.ASSIGNED}


@pytest.mark.parametrize(
    ("zone", "start", "expected"),
    [
        pytest.param(
            "Europe/Paris",
            utc(2026, 3, 27, 12),
            # 09:00 CET is 08:00Z; from Sunday 29 March, 09:00 CEST is 07:00Z.
            [utc(2026, 3, 28, 8), utc(2026, 3, 29, 7), utc(2026, 3, 30, 7)],
            id="paris-spring",
        ),
        pytest.param(
            "Europe/Paris",
            utc(2026, 10, 23, 12),
            [utc(2026, 10, 24, 7), utc(2026, 10, 25, 8), utc(2026, 10, 26, 8)],
            id="paris-autumn",
        ),
        pytest.param(
            "America/New_York",
            utc(2026, 3, 6, 16),
            # 09:00 EST is 14:00Z; from Sunday 8 March, 09:00 EDT is 13:00Z.
            [utc(2026, 3, 7, 14), utc(2026, 3, 8, 13), utc(2026, 3, 9, 13)],
            id="new-york-spring",
        ),
        pytest.param(
            "America/New_York",
            utc(2026, 10, 30, 16),
            [utc(2026, 10, 31, 13), utc(2026, 11, 1, 14), utc(2026, 11, 2, 14)],
            id="new-york-autumn",
        ),
    ],
)
async def test_a_daily_schedule_keeps_its_local_time_across_a_dst_change(
    env: CoreEnv, zone: str, start: datetime, expected: list[datetime]
) -> None:
    await with_entry(env, start)
    schedule = await daily(env, "09:00", zone)
    assigned = []
    for day in range(3):
        # A minute early: nothing yet (the schedule knows when it is due).
        env.clock.current = expected[day] - timedelta(minutes=1)
        assert await env.core.schedules.fire(schedule.id) == expected[day]
        assert len(env.posts("assign")) == day
        env.clock.current = expected[day]
        nxt = await env.core.schedules.fire(schedule.id)
        task = await env.open_task()
        assert task is not None
        assigned.append(task.assigned_at)
        await close_open_task(env)
        if day < 2:
            assert nxt == expected[day + 1]
    assert assigned == expected
    assert [due for due, _ in await occasions(env, schedule)] == expected


# ---------------------------------------------------------------------------------- skipping


async def test_an_open_task_skips_the_occasion(env: CoreEnv) -> None:
    await with_entry(env, utc(2026, 6, 1, 8))
    schedule = await daily(env)
    busy = await env.assign(description="Already busy", points=1)
    env.fake.calls.clear()
    env.clock.current = schedule.next_at
    assert await env.core.schedules.fire(schedule.id) == utc(2026, 6, 2, 9)
    assert env.posts("assign") == []
    assert await occasions(env, schedule) == [(utc(2026, 6, 1, 9), OccasionState.SKIPPED)]
    [event] = automation_events(env)
    assert event.kind is AutomationEventKind.OCCASION_SKIPPED
    assert event.schedule is not None and event.schedule.id == schedule.id
    assert event.task is not None and event.task.id == busy.id
    open_task = await env.open_task()
    assert open_task is not None and open_task.id == busy.id


async def test_an_occasion_less_than_an_hour_late_fires_once(env: CoreEnv) -> None:
    await with_entry(env, utc(2026, 6, 1, 8))
    schedule = await daily(env)
    # The bot was down at 09:00 and comes back just under the grace period later.
    env.clock.current = schedule.next_at + GRACE - timedelta(seconds=1)
    timers = timers_of(env)
    await timers.start()
    await timers.deadlines.stop()
    await env.run_due()
    await env.run_due()
    assert len(env.posts("assign")) == 1
    task = await env.open_task()
    assert task is not None and task.schedule_id == schedule.id
    assert await occasions(env, schedule) == [(utc(2026, 6, 1, 9), OccasionState.ASSIGNED)]
    assert automation_events(env) == []


async def test_an_occasion_an_hour_late_is_reported_missed(env: CoreEnv) -> None:
    await with_entry(env, utc(2026, 6, 1, 8))
    schedule = await daily(env)
    env.clock.current = schedule.next_at + GRACE
    assert await env.core.schedules.fire(schedule.id) == utc(2026, 6, 2, 9)
    assert env.posts("assign") == []
    assert env.fake.calls == []
    assert await env.open_task() is None
    assert await occasions(env, schedule) == [(utc(2026, 6, 1, 9), OccasionState.MISSED)]
    [event] = automation_events(env)
    assert event.kind is AutomationEventKind.OCCASIONS_MISSED
    assert (event.count, event.at) == (1, utc(2026, 6, 1, 9))
    # Once: looking again reports nothing more.
    assert await env.core.schedules.fire(schedule.id) == utc(2026, 6, 2, 9)
    assert len(automation_events(env)) == 1


async def test_after_a_long_downtime_only_the_latest_occasion_fires(env: CoreEnv) -> None:
    await with_entry(env, utc(2026, 6, 1, 8, 30))
    schedule = await env.core.schedules.add(
        KH, WEARER, every="1h", at="09:00", entry=ENTRY, timezone="UTC"
    )
    # Down from before 09:00 to 12:30: 09:00, 10:00 and 11:00 are missed, 12:00 fires.
    env.clock.current = utc(2026, 6, 1, 12, 30)
    assert await env.core.schedules.fire(schedule.id) == utc(2026, 6, 1, 13)
    [call] = env.posts("assign")
    assert call.json["actor"] == "extension"
    [event] = automation_events(env)
    assert event.kind is AutomationEventKind.OCCASIONS_MISSED
    assert (event.count, event.at) == (3, utc(2026, 6, 1, 9))
    assert await occasions(env, schedule) == [
        (utc(2026, 6, 1, 11), OccasionState.MISSED),
        (utc(2026, 6, 1, 12), OccasionState.ASSIGNED),
    ]


async def test_chaster_offline_at_an_occasion_fails_it_once_and_says_so(env: CoreEnv) -> None:
    await with_entry(env, utc(2026, 6, 1, 8))
    schedule = await daily(env)
    env.clock.current = schedule.next_at
    await env.fake.go_offline()
    assert await env.core.schedules.fire(schedule.id) == utc(2026, 6, 2, 9)
    await env.fake.go_online()
    assert await occasions(env, schedule) == [(utc(2026, 6, 1, 9), OccasionState.FAILED)]
    [event] = automation_events(env)
    assert event.kind is AutomationEventKind.OCCASION_FAILED
    assert event.refusal is not None and event.refusal.reason is Reason.CHASTER_UNAVAILABLE
    # Not tried again for that occasion: the next one is the next day's.
    assert await env.core.schedules.fire(schedule.id) == utc(2026, 6, 2, 9)
    assert env.session.current_task is None
    assert await env.open_task() is None


# ---------------------------------------------------------------------------------- never twice


async def test_an_occasion_fires_once_however_often_it_is_looked_at(env: CoreEnv) -> None:
    await with_entry(env, utc(2026, 6, 1, 8))
    schedule = await daily(env)
    env.clock.current = schedule.next_at
    await asyncio.gather(*(env.core.schedules.fire(schedule.id) for _ in range(3)))
    assert len(env.posts("assign")) == 1
    await close_open_task(env)
    # A stale reader that still sees the occasion as due: its claim fails, nothing is sent.
    await env.store.db.write_one(
        "UPDATE schedules SET next_at = ? WHERE id = ?", (to_db(schedule.next_at), schedule.id)
    )
    assert await env.core.schedules.fire(schedule.id) == utc(2026, 6, 2, 9)
    assert len(env.posts("assign")) == 1
    assert await env.open_task() is None
    assert await occasions(env, schedule) == [(utc(2026, 6, 1, 9), OccasionState.ASSIGNED)]


async def claim_then_crash(env: CoreEnv, schedule: Schedule, *, drawn: str | None) -> None:
    """What a crash right after claiming the occasion (and noting the text) leaves behind."""
    env.clock.current = schedule.next_at
    claimed = await env.store.claim_occasion(
        schedule.id, schedule.next_at, next_at=utc(2026, 6, 2, 9), now=env.clock.now()
    )
    assert claimed
    if drawn is not None:
        await env.store.note_drawn(schedule.id, schedule.next_at, drawn)


async def test_a_crash_before_the_assign_left_is_reported_never_fired(env: CoreEnv) -> None:
    await with_entry(env, utc(2026, 6, 1, 8))
    schedule = await daily(env)
    await claim_then_crash(env, schedule, drawn=ENTRY)
    await env.core.schedules.settle_interrupted()
    assert env.posts("assign") == []
    assert await occasions(env, schedule) == [(utc(2026, 6, 1, 9), OccasionState.INTERRUPTED)]
    [event] = automation_events(env)
    assert event.kind is AutomationEventKind.OCCASION_INTERRUPTED
    assert event.at == utc(2026, 6, 1, 9)
    # Looking at the schedule again (start-up wakes it) does not fire the occasion.
    assert await env.core.schedules.fire(schedule.id) == utc(2026, 6, 2, 9)
    await env.core.schedules.settle_interrupted()
    assert env.posts("assign") == []
    assert len(automation_events(env)) == 1


async def test_a_crash_before_anything_was_drawn_is_interrupted(env: CoreEnv) -> None:
    await with_entry(env, utc(2026, 6, 1, 8))
    schedule = await daily(env)
    await claim_then_crash(env, schedule, drawn=None)
    await env.core.schedules.settle_interrupted()
    assert await occasions(env, schedule) == [(utc(2026, 6, 1, 9), OccasionState.INTERRUPTED)]
    # Nothing was drawn, so nothing to look for in Chaster either.
    assert env.fake.calls == []


async def test_a_crash_after_the_assign_reached_chaster_counts_as_assigned(env: CoreEnv) -> None:
    await with_entry(env, utc(2026, 6, 1, 8))
    schedule = await daily(env)
    await claim_then_crash(env, schedule, drawn=ENTRY)
    # The assign reached Chaster; the bot died before recording it.
    await env.chaster.assign_task(
        env.session.session_id, TaskDetails(task=ENTRY, points=3), Actor.EXTENSION
    )
    await env.core.schedules.settle_interrupted()
    [occasion] = await env.store.occasions_of(schedule.id)
    assert (occasion.state, occasion.task_id) == (OccasionState.ASSIGNED, None)
    assert automation_events(env) == []
    assert await env.core.schedules.fire(schedule.id) == utc(2026, 6, 2, 9)
    assert len(env.posts("assign")) == 1
    # The sync records it as a task from Chaster, once.
    await env.core.sync.sync_session(env.session.session_id)
    task = await env.open_task()
    assert task is not None and task.description == ENTRY


async def test_a_crash_after_the_task_was_recorded_settles_with_it(env: CoreEnv) -> None:
    await with_entry(env, utc(2026, 6, 1, 8))
    schedule = await daily(env)
    env.clock.current = schedule.next_at
    await env.core.schedules.fire(schedule.id)
    task = await env.open_task()
    assert task is not None
    # As if the bot died between recording the task and settling the occasion.
    await env.store.db.write_one(
        "UPDATE schedule_occasions SET state = 'claimed', task_id = NULL, settled_at = NULL"
    )
    await env.core.schedules.settle_interrupted()
    [occasion] = await env.store.occasions_of(schedule.id)
    assert (occasion.state, occasion.task_id) == (OccasionState.ASSIGNED, task.id)
    assert len(env.posts("assign")) == 1
    assert automation_events(env) == []


# ---------------------------------------------------------------------------------- pause


async def test_while_paused_occasions_are_recorded_and_nothing_reaches_chaster(
    env: CoreEnv,
) -> None:
    await with_entry(env, utc(2026, 6, 1, 8))
    schedule = await env.core.schedules.add(
        KH, WEARER, every="1h", at="09:00", entry=ENTRY, timezone="UTC"
    )
    await env.core.pause.pause(WR, WEARER, "resting")
    for hour in (9, 10, 11):
        env.clock.current = utc(2026, 6, 1, hour)
        assert await env.run_due() == 1
    assert env.fake.calls == []
    assert await occasions(env, schedule) == [
        (utc(2026, 6, 1, 9), OccasionState.PAUSED),
        (utc(2026, 6, 1, 10), OccasionState.PAUSED),
        (utc(2026, 6, 1, 11), OccasionState.PAUSED),
    ]
    # Silently: no automation event, only the pause itself.
    assert automation_events(env) == []
    assert [e.kind for e in env.feed.link_events] == [LinkEventKind.PAUSED]

    await env.core.pause.resume(WR, WEARER)
    env.clock.current = utc(2026, 6, 1, 12)
    assert await env.run_due() == 1
    assert len(env.posts("assign")) == 1


async def test_while_paused_even_a_long_downtime_passes_without_a_word(env: CoreEnv) -> None:
    await with_entry(env, utc(2026, 6, 1, 8))
    schedule = await daily(env)
    await env.core.pause.pause(KH, WEARER)
    env.clock.current = schedule.next_at + 3 * GRACE
    assert await env.core.schedules.fire(schedule.id) == utc(2026, 6, 2, 9)
    assert await occasions(env, schedule) == [(utc(2026, 6, 1, 9), OccasionState.PAUSED)]
    assert automation_events(env) == []
    assert env.fake.calls == []


# ---------------------------------------------------------------------------------- refusals


async def test_only_the_keyholder_of_record_schedules(env: CoreEnv) -> None:
    await with_entry(env, utc(2026, 6, 1, 8))
    for caller in (WR, OTHER):
        with refused(Reason.ONLY_KEYHOLDER_SCHEDULES, NotAllowed):
            await env.core.schedules.add(caller, WEARER, every="day", at="09:00", source="library")
    assert await env.count("schedules") == 0


async def test_an_unknown_zone_is_refused_with_a_suggestion(env: CoreEnv) -> None:
    await with_entry(env, utc(2026, 6, 1, 8))
    with refused(Reason.UNKNOWN_TIMEZONE, zone=Typed("Europe/Pariss"), suggestion="Europe/Paris"):
        await daily(env, zone="Europe/Pariss")
    assert await env.count("schedules") == 0


async def test_without_a_zone_the_servers_is_used(env: CoreEnv) -> None:
    await with_entry(env, utc(2026, 6, 1, 5))
    await env.core.settings.set_timezone(MANAGER, "america/new_york")
    schedule = await env.core.schedules.add(KH, WEARER, every="day", at="09:00", entry=ENTRY)
    assert schedule.timezone == "America/New_York"
    assert schedule.next_at == utc(2026, 6, 1, 13)


@pytest.mark.parametrize(
    "options",
    [{}, {"entry": ENTRY, "source": "library"}, {"source": "everywhere"}],
    ids=["neither", "both", "unknown-source"],
)
async def test_a_schedule_needs_exactly_one_of_entry_and_source(
    env: CoreEnv, options: dict[str, str]
) -> None:
    await with_entry(env, utc(2026, 6, 1, 8))
    with refused(Reason.SCHEDULE_NEEDS_ONE_SOURCE):
        await env.core.schedules.add(KH, WEARER, every="day", at="09:00", **options)
    assert await env.count("schedules") == 0


async def test_an_entry_must_be_one_of_the_library_not_a_lock_task(env: CoreEnv) -> None:
    await with_entry(env, utc(2026, 6, 1, 8))
    # "Cold shower" is on the lock's own list: a schedule could not keep it.
    assert "Cold shower" in [t["task"] for t in env.session.user_tasks]
    for named in ("Cold shower", "Nothing like this"):
        with refused(Reason.NO_ENTRY_NAMED, typed=Typed(named)):
            await env.core.schedules.add(KH, WEARER, every="day", at="09:00", entry=named)
    assert await env.count("schedules") == 0
    # "#1" names the keyholder's first entry.
    schedule = await env.core.schedules.add(KH, WEARER, every="day", at="09:00", entry="#1")
    assert schedule.entry_id == 1


async def test_bad_every_and_at_are_refused(env: CoreEnv) -> None:
    await with_entry(env, utc(2026, 6, 1, 8))
    with refused(Reason.EVERY_UNREADABLE, input=Typed("25h")):
        await env.core.schedules.add(KH, WEARER, every="25h", at="09:00", entry=ENTRY)
    with refused(Reason.AT_UNREADABLE, input=Typed("24:00")):
        await env.core.schedules.add(KH, WEARER, every="day", at="24:00", entry=ENTRY)
    with refused(Reason.SPAN_OUT_OF_RANGE):
        await daily(env, deadline="59s")
    assert await env.count("schedules") == 0


async def test_a_wearer_has_at_most_the_limit_of_schedules(env: CoreEnv) -> None:
    await with_entry(env, utc(2026, 6, 1, 8))
    for n in range(SCHEDULE_LIMIT):
        await daily(env, at=f"{n % 24:02d}:{n // 24:02d}")
    with refused(Reason.SCHEDULES_FULL, count=SCHEDULE_LIMIT):
        await daily(env, at="23:59")
    assert await env.count("schedules") == SCHEDULE_LIMIT


# ---------------------------------------------------------------------------------- removing


async def test_remove_by_number_stops_the_schedule(env: CoreEnv) -> None:
    await with_entry(env, utc(2026, 6, 1, 8))
    first = await daily(env)
    second = await daily(env, at="10:00")
    assert [s.id for s in await env.core.schedules.of_wearer(WR, WEARER)] == [first.id, second.id]
    with refused(Reason.ONLY_INVOLVED_SEE_STATUS, NotAllowed):
        await env.core.schedules.of_wearer(OTHER, WEARER)
    with refused(Reason.ONLY_KEYHOLDER_SCHEDULES, NotAllowed):
        await env.core.schedules.remove(WR, str(first.id))

    removed = await env.core.schedules.remove(KH, f"#{first.id}")
    assert removed.id == first.id and removed.removed_at == env.clock.now()
    assert [s.id for s in await env.core.schedules.of_wearer(KH, WEARER)] == [second.id]
    for typed in (f"#{first.id}", "999", "first"):
        with refused(Reason.NO_SUCH_SCHEDULE, typed=Typed(typed)):
            await env.core.schedules.remove(KH, typed)
    # Its occasion comes and goes: nothing is assigned for it, and it no longer re-arms.
    env.clock.current = utc(2026, 6, 1, 9)
    assert await env.run_due() == 1
    assert env.posts("assign") == []
    assert await env.core.schedules.fire(first.id) is None
    env.clock.current = utc(2026, 6, 1, 10)
    await env.run_due()
    [call] = env.posts("assign")
    assert call.json["actor"] == "extension"
    task = await env.open_task()
    assert task is not None and task.schedule_id == second.id


async def test_a_schedule_ends_with_its_link(env: CoreEnv) -> None:
    await with_entry(env, utc(2026, 6, 1, 8))
    schedule = await daily(env)
    await env.core.links.unlink(KH, WEARER)
    env.fake.calls.clear()
    env.clock.current = schedule.next_at
    assert await env.core.schedules.fire(schedule.id) is None
    assert env.fake.calls == []
    gone = await env.store.get_schedule(schedule.id)
    assert gone is not None and gone.removed_at is not None
    assert await env.store.get_open_link(GUILD, WEARER) is None
