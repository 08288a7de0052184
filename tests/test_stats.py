"""Statistics of a wearer's tasks: counts, rate, streaks, and the period's days in a server's
time zone."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core.stats import MAX_DAYS, MIN_DAYS, Day, compute
from bot.store import Task, TaskState

UTC_ZONE = ZoneInfo("UTC")
NEW_YORK = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)

# Outcomes in a streak sequence: completed, failed, missed deadline.
C, F, M = "C", "F", "M"


def task(
    task_id: int,
    outcome: str | None,
    closed_at: datetime | None = None,
    *,
    points: int = 10,
    assigned_at: datetime | None = None,
) -> Task:
    """A task row: `outcome` is C, F, M, or None for one still open."""
    closed = outcome is not None
    at = closed_at or NOW
    return Task(
        id=task_id,
        link_id=1,
        description=f"task {task_id}",
        points=points,
        verification_required=False,
        duration_seconds=None,
        state=(
            TaskState.ASSIGNED
            if not closed
            else TaskState.COMPLETED
            if outcome == C
            else TaskState.FAILED
        ),
        assigned_by=7,
        assigned_at=assigned_at or at - timedelta(hours=1),
        timer_started_by=None,
        timer_started_at=None,
        timer_ends_at=None,
        confirmation_requested_by=None,
        confirmation_requested_at=None,
        closed_by=7 if closed else None,
        closed_at=at if closed else None,
        points_total=None,
        points_required=None,
        feed_channel_id=None,
        feed_message_id=None,
        updated_at=at,
        deadline_at=at - timedelta(minutes=1) if outcome == M else None,
        deadline_missed_at=at if outcome == M else None,
    )


def sequence(outcomes: str, *, last: datetime = NOW, first_id: int = 1) -> list[Task]:
    """Tasks finished an hour apart in the order given, the last at `last`; shuffled, since
    the rows may come in any order."""
    count = len(outcomes)
    tasks = [
        task(first_id + i, outcome, last - timedelta(hours=count - 1 - i))
        for i, outcome in enumerate(outcomes)
    ]
    random.Random(count).shuffle(tasks)
    return tasks


# -- counts and rate ---------------------------------------------------------------------------


def test_counts_rate_and_points_of_the_period() -> None:
    day = timedelta(days=1)
    tasks = [
        task(1, C, NOW - 2 * day, points=5),
        task(2, C, NOW - 1 * day, points=7),
        task(3, C, NOW, points=11),
        task(4, F, NOW - 3 * day, points=100),
        task(5, M, NOW - 4 * day, points=100),
        # Open: counted whatever their age.
        task(6, None, assigned_at=NOW - 400 * day),
        task(7, None, assigned_at=NOW - timedelta(minutes=5)),
        # Finished before the period: in no count.
        task(8, C, NOW - 30 * day, points=1000),
        task(9, F, NOW - 30 * day),
    ]
    stats = compute(tasks, now=NOW, days=7, zone=UTC_ZONE)
    assert (stats.completed, stats.failed, stats.missed, stats.open) == (3, 1, 1, 2)
    assert stats.rate == pytest.approx(3 / 5)
    assert stats.points == 5 + 7 + 11
    assert stats.end == NOW
    assert stats.start == datetime(2026, 6, 9, tzinfo=UTC)


def test_no_finished_task_has_no_rate() -> None:
    tasks = [task(1, None), task(2, None, assigned_at=NOW - timedelta(days=90))]
    stats = compute(tasks, now=NOW, days=7, zone=UTC_ZONE)
    assert stats.rate is None
    assert (stats.completed, stats.failed, stats.missed, stats.open) == (0, 0, 0, 2)
    assert (stats.current_streak, stats.best_streak, stats.points) == (0, 0, 0)
    assert compute([], now=NOW, days=7, zone=UTC_ZONE).rate is None


def test_a_period_of_only_failures_has_a_rate_of_zero() -> None:
    stats = compute(sequence("FM"), now=NOW, days=7, zone=UTC_ZONE)
    assert stats.rate == 0.0
    assert (stats.failed, stats.missed) == (1, 1)


@pytest.mark.parametrize("days", [MIN_DAYS - 1, 0, -7, MAX_DAYS + 1])
def test_days_out_of_range_are_refused(days: int) -> None:
    with pytest.raises(ValueError, match="days"):
        compute([], now=NOW, days=days, zone=UTC_ZONE)


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="naive"):
        compute([], now=NOW.replace(tzinfo=None), days=7, zone=UTC_ZONE)


# -- streaks -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcomes", "current", "best"),
    [
        ("", 0, 0),
        ("CCC", 3, 3),
        ("CCFCCCMCC", 2, 3),
        # A missed deadline breaks a streak as a failure does.
        ("CCCMC", 1, 3),
        ("CCCCM", 0, 4),
        ("FFF", 0, 0),
        ("CFCFC", 1, 1),
    ],
)
def test_streaks(outcomes: str, current: int, best: int) -> None:
    stats = compute(sequence(outcomes), now=NOW, days=7, zone=UTC_ZONE)
    assert (stats.current_streak, stats.best_streak) == (current, best)


def test_the_current_streak_counts_tasks_before_the_period() -> None:
    old = sequence("FCCCCC", last=NOW - timedelta(days=60))
    recent = sequence("CC", first_id=100)
    stats = compute(old + recent, now=NOW, days=7, zone=UTC_ZONE)
    assert stats.current_streak == 7
    # The best streak is the period's only.
    assert stats.best_streak == 2
    assert stats.completed == 2


def test_open_tasks_neither_break_nor_extend_a_streak() -> None:
    stats = compute([*sequence("CC"), task(50, None)], now=NOW, days=7, zone=UTC_ZONE)
    assert (stats.current_streak, stats.best_streak) == (2, 2)


@pytest.mark.parametrize(("failed_id", "completed_id", "current"), [(10, 11, 1), (11, 10, 0)])
def test_tasks_closed_at_the_same_moment_go_by_id(
    failed_id: int, completed_id: int, current: int
) -> None:
    tasks = [task(completed_id, C, NOW), task(failed_id, F, NOW)]
    stats = compute(tasks, now=NOW, days=7, zone=UTC_ZONE)
    assert stats.current_streak == current
    assert stats.best_streak == 1


def test_the_order_tasks_arrive_in_does_not_matter() -> None:
    tasks = sequence("CCFCCCMCCFCCCC")
    expected = compute(tasks, now=NOW, days=7, zone=UTC_ZONE)
    for seed in range(5):
        shuffled = list(tasks)
        random.Random(seed).shuffle(shuffled)
        assert compute(shuffled, now=NOW, days=7, zone=UTC_ZONE) == expected
    assert (expected.current_streak, expected.best_streak) == (4, 4)


# -- the period's days, in the server's zone ---------------------------------------------------


@pytest.mark.parametrize("days", [MIN_DAYS, 30, MAX_DAYS])
def test_one_day_per_local_date_oldest_first_empty_days_included(days: int) -> None:
    stats = compute([task(1, C, NOW)], now=NOW, days=days, zone=PARIS)
    assert len(stats.days) == days
    assert stats.days[-1].date == date(2026, 6, 15)
    assert stats.days[0].date == date(2026, 6, 15) - timedelta(days=days - 1)
    assert all(
        later.date - earlier.date == timedelta(days=1)
        for earlier, later in zip(stats.days, stats.days[1:], strict=False)
    )
    assert stats.days[-1] == Day(date(2026, 6, 15), 10, 1, 0, 0)
    assert all(day == Day(day.date, 0, 0, 0, 0) for day in stats.days[:-1])


def test_new_york_first_day_before_spring_forward() -> None:
    # Today is in daylight time (UTC-4); the first day, 4 March, in standard time (UTC-5).
    now = datetime(2026, 3, 10, 12, 0, tzinfo=NEW_YORK)
    first_midnight = datetime(2026, 3, 4, 5, 0, tzinfo=UTC)
    tasks = [
        # 23:30 local on the first day, though 5 March in UTC.
        task(1, C, datetime(2026, 3, 4, 23, 30, tzinfo=NEW_YORK), points=3),
        # 23:59 local the day before: out, though after midnight at today's offset.
        task(2, C, first_midnight - timedelta(minutes=1), points=1000),
        # The first instant of the period.
        task(3, F, first_midnight),
    ]
    stats = compute(tasks, now=now, days=7, zone=NEW_YORK)
    assert stats.start == first_midnight
    assert stats.days[0] == Day(date(2026, 3, 4), 3, 1, 1, 0)
    assert stats.days[1] == Day(date(2026, 3, 5), 0, 0, 0, 0)
    assert (stats.completed, stats.failed, stats.points) == (1, 1, 3)


def test_paris_first_day_before_fall_back() -> None:
    # Today is in standard time (UTC+1); the first day, 21 October, in summer time (UTC+2).
    now = datetime(2026, 10, 27, 10, 0, tzinfo=PARIS)
    first_midnight = datetime(2026, 10, 20, 22, 0, tzinfo=UTC)
    tasks = [
        # 00:30 local on the first day: in, though before midnight at today's offset.
        task(1, C, first_midnight + timedelta(minutes=30), points=4),
        task(2, C, datetime(2026, 10, 21, 23, 30, tzinfo=PARIS), points=5),
        task(3, M, first_midnight - timedelta(microseconds=1)),
        # The night the clocks go back, 25 October has 25 hours: 23:30 is still that day.
        task(4, C, datetime(2026, 10, 25, 23, 30, tzinfo=PARIS), points=6),
    ]
    stats = compute(tasks, now=now, days=7, zone=PARIS)
    assert stats.start == first_midnight
    assert stats.days[0] == Day(date(2026, 10, 21), 9, 2, 0, 0)
    [sunday] = [day for day in stats.days if day.date == date(2026, 10, 25)]
    assert sunday == Day(date(2026, 10, 25), 6, 1, 0, 0)
    assert stats.missed == 0
    assert stats.points == 15


def test_points_per_day_go_by_the_local_date() -> None:
    # 20:30 in New York on 14 June is 00:30 UTC on 15 June.
    evening = datetime(2026, 6, 14, 20, 30, tzinfo=NEW_YORK)
    tasks = [
        task(1, C, evening, points=2),
        task(2, C, evening + timedelta(minutes=10), points=3),
        # A failure's points are not earned.
        task(3, F, evening, points=50),
        task(4, M, evening, points=50),
        task(5, C, datetime(2026, 6, 15, 1, 0, tzinfo=NEW_YORK), points=7),
    ]
    stats = compute(tasks, now=NOW, days=7, zone=NEW_YORK)
    by_date = {day.date: day for day in stats.days}
    assert by_date[date(2026, 6, 14)] == Day(date(2026, 6, 14), 5, 2, 1, 1)
    assert by_date[date(2026, 6, 15)] == Day(date(2026, 6, 15), 7, 1, 0, 0)
    assert sum(day.points for day in stats.days) == stats.points == 12
