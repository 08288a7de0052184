"""The record: a wearer's tasks in a server, as a paged history and as a CSV export.

Wearer and keyholder of record only, as for the status. Words stay on the Discord side: a
task's outcome and who gave it are codes here.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from bot.core.audit import Audit
from bot.core.links import open_link
from bot.core.model import Caller
from bot.core.policy import Action, require, role_of
from bot.store import Origin, Store, Task, TaskState

PAGE_SIZE = 10
# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Outcome(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    MISSED_DEADLINE = "missed-deadline"
    OPEN = "open"


class GivenBy(StrEnum):
    """Who gave a task, when it was not simply a person typing it."""

    PERSON = "person"
    CHASTER = "chaster"
    SCHEDULE = "schedule"
    RANDOM = "random"
    VOTE = "vote"


def outcome_of(task: Task) -> Outcome:
    if task.missed_deadline:
        return Outcome.MISSED_DEADLINE
    if task.state is TaskState.COMPLETED:
        return Outcome.COMPLETED
    if task.state is TaskState.FAILED:
        return Outcome.FAILED
    return Outcome.OPEN


def given_by(task: Task) -> GivenBy:
    if task.schedule_id is not None:
        return GivenBy.SCHEDULE
    if task.origin is Origin.VOTE:
        return GivenBy.VOTE
    if task.origin is not None:
        return GivenBy.RANDOM
    return GivenBy.PERSON if task.assigned_by is not None else GivenBy.CHASTER


def took_seconds(task: Task) -> int | None:
    """How long from being given to being finished, for a finished task."""
    if task.closed_at is None:
        return None
    return max(0, int((task.closed_at - task.assigned_at).total_seconds()))


@dataclass(frozen=True)
class HistoryPage:
    wearer_id: int
    tasks: list[Task]
    # From 0; `pages` is at least 1.
    page: int
    pages: int
    total: int


class Record:
    def __init__(self, store: Store, audit: Audit) -> None:
        self._store = store
        self._audit = audit

    async def history(self, caller: Caller, wearer_id: int, page: int = 0) -> HistoryPage:
        """One page of the wearer's tasks here, newest first."""
        await self._require_involved(caller, wearer_id)
        total = await self._store.count_wearer_tasks(caller.guild_id, wearer_id)
        pages = max(1, math.ceil(total / PAGE_SIZE))
        page = min(max(page, 0), pages - 1)
        tasks = await self._store.wearer_tasks(
            caller.guild_id, wearer_id, limit=PAGE_SIZE, offset=page * PAGE_SIZE
        )
        return HistoryPage(wearer_id, tasks, page, pages, total)

    async def export(self, caller: Caller, wearer_id: int) -> bytes:
        """Every task of the wearer here, as CSV."""
        async with self._audit.action(caller, "task.export", detail=f"wearer={wearer_id}"):
            await self._require_involved(caller, wearer_id)
            return tasks_csv(await self._store.wearer_tasks(caller.guild_id, wearer_id))

    async def _require_involved(self, caller: Caller, wearer_id: int) -> None:
        link = await open_link(self._store, caller.guild_id, wearer_id)
        require(Action.STATUS, role_of(caller, link))


COLUMNS = (
    "task_id",
    "task",
    "outcome",
    "points",
    "given_by",
    "given_by_user_id",
    "schedule_id",
    "assigned_at",
    "finished_at",
    "took_seconds",
    "deadline_at",
)


def tasks_csv(tasks: list[Task]) -> bytes:
    """UTF-8 CSV with a header row; times in ISO 8601 UTC; a text cell a spreadsheet would
    take for a formula starts with a quote instead."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for task in tasks:
        writer.writerow(
            (
                task.id,
                formula_safe(task.description),
                outcome_of(task).value,
                task.points,
                given_by(task).value,
                task.assigned_by if task.assigned_by is not None else "",
                task.schedule_id if task.schedule_id is not None else "",
                _iso(task.assigned_at),
                _iso(task.closed_at),
                took_seconds(task) if task.closed_at is not None else "",
                _iso(task.deadline_at),
            )
        )
    return out.getvalue().encode("utf-8")


def formula_safe(text: str) -> str:
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def _iso(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
