"""Statistics of a wearer's tasks over the last days: counts, rate, streaks, points per day.

Pure functions of the rows given; days are local dates in the server's time zone. Words stay
on the Discord side.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.core.record import Outcome, outcome_of
from bot.store import Task

__all__ = ["MAX_DAYS", "MIN_DAYS", "Day", "Stats", "compute"]

MIN_DAYS = 7
MAX_DAYS = 365


@dataclass(frozen=True, slots=True)
class Day:
    """One local date of the period and what was finished on it."""

    date: dt.date
    # Points of the tasks completed that day.
    points: int
    completed: int
    # Failed, not counting missed deadlines.
    failed: int
    # Failed because the deadline passed.
    missed: int


@dataclass(frozen=True, slots=True)
class Stats:
    """A wearer's tasks over a period that ends now."""

    # Aware UTC; `start` is local midnight of the first day.
    start: dt.datetime
    end: dt.datetime
    completed: int
    failed: int
    missed: int
    # Open now, whatever their age.
    open: int
    # completed / finished; None when nothing was finished in the period.
    rate: float | None
    # Completed in a row up to the latest finished task, over every task given.
    current_streak: int
    # The longest run of completed among the tasks finished in the period.
    best_streak: int
    points: int
    # One per local date, oldest first, empty days included.
    days: list[Day]


# Finished tasks are ordered by when they closed, then by id for those closed together.
_Key = tuple[dt.datetime, int]


def compute(tasks: list[Task], *, now: dt.datetime, days: int, zone: ZoneInfo) -> Stats:
    """The statistics of `tasks` (in any order) over the last `days` local days, today
    included."""
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise ValueError(f"days must be from {MIN_DAYS} to {MAX_DAYS}, not {days}")
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"naive datetime {now!r}: pass a timezone-aware datetime")
    today = now.astimezone(zone).date()
    first = today - dt.timedelta(days=days - 1)
    # fold=0 is the day's first instant even where midnight is skipped or repeated.
    start = dt.datetime.combine(first, dt.time(), tzinfo=zone).astimezone(dt.UTC)

    # Per day: [points, completed, failed, missed].
    buckets = [[0, 0, 0, 0] for _ in range(days)]
    open_count = 0
    last_break: _Key | None = None
    completed_keys: list[_Key] = []
    in_period: list[tuple[_Key, bool]] = []
    for task in tasks:
        outcome = outcome_of(task)
        if outcome is Outcome.OPEN:
            open_count += 1
            continue
        if task.closed_at is None:
            # The schema requires closed_at of a finished task; nothing to place it by.
            continue
        key = (task.closed_at, task.id)
        done = outcome is Outcome.COMPLETED
        if done:
            completed_keys.append(key)
        elif last_break is None or key > last_break:
            last_break = key
        index = (task.closed_at.astimezone(zone).date() - first).days
        if not 0 <= index < days:
            continue
        in_period.append((key, done))
        bucket = buckets[index]
        if done:
            bucket[0] += task.points
            bucket[1] += 1
        elif outcome is Outcome.MISSED_DEADLINE:
            bucket[3] += 1
        else:
            bucket[2] += 1

    day_list = [
        Day(first + dt.timedelta(days=i), points, completed, failed, missed)
        for i, (points, completed, failed, missed) in enumerate(buckets)
    ]
    completed = sum(day.completed for day in day_list)
    failed = sum(day.failed for day in day_list)
    missed = sum(day.missed for day in day_list)
    finished = completed + failed + missed
    return Stats(
        start=start,
        end=now.astimezone(dt.UTC),
        completed=completed,
        failed=failed,
        missed=missed,
        open=open_count,
        rate=completed / finished if finished else None,
        current_streak=_current_streak(completed_keys, last_break),
        best_streak=_best_streak(in_period),
        points=sum(day.points for day in day_list),
        days=day_list,
    )


def _current_streak(completed: list[_Key], last_break: _Key | None) -> int:
    """Completed tasks after the latest fail or miss: no sort needed, so linear over all
    history."""
    if last_break is None:
        return len(completed)
    return sum(1 for key in completed if key > last_break)


def _best_streak(finished: list[tuple[_Key, bool]]) -> int:
    """The longest run of completed tasks in closing order."""
    # Only the period's tasks are sorted; rows from the store come ordered, which Timsort
    # takes in one pass.
    best = run = 0
    for _, done in sorted(finished, key=lambda item: item[0]):
        run = run + 1 if done else 0
        best = max(best, run)
    return best
