"""Typed rows of automation: schedules and their occasions, penalties and the consequences
applied, and who wants direct messages. Times cross the storage boundary through `rows`."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .proof_rows import Proof
from .times import from_db


class Every(StrEnum):
    """How often a schedule fires."""

    DAY = "day"
    WEEKDAY = "weekday"
    WEEK = "week"
    HOURS = "hours"


@dataclass(frozen=True, slots=True)
class Schedule:
    """A keyholder's routine for one wearer: a library entry, or a draw from `source`, at
    local times in `timezone`. `next_at` is its next occasion."""

    id: int
    link_id: int
    guild_id: int
    wearer_id: int
    created_by: int
    entry_id: int | None
    source: str | None
    tag: str | None
    every: Every
    hours: int | None
    at: str
    weekday: int | None
    timezone: str
    deadline_seconds: int | None
    created_at: datetime
    next_at: datetime
    removed_at: datetime | None
    proof: Proof | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Schedule:
        return cls(
            id=row["id"],
            link_id=row["link_id"],
            guild_id=row["guild_id"],
            wearer_id=row["wearer_id"],
            created_by=row["created_by"],
            entry_id=row["entry_id"],
            source=row["source"],
            tag=row["tag"],
            every=Every(row["every"]),
            hours=row["hours"],
            at=row["at"],
            weekday=row["weekday"],
            timezone=row["timezone"],
            deadline_seconds=row["deadline_seconds"],
            created_at=from_db(row["created_at"]),
            next_at=from_db(row["next_at"]),
            removed_at=from_db(row["removed_at"]),
            proof=Proof.stored(row["proof"]),
        )


class OccasionState(StrEnum):
    """What the bot did about one occasion of a schedule."""

    # Being acted on: still so at start-up means a crash came in between.
    CLAIMED = "claimed"
    ASSIGNED = "assigned"
    # The wearer had an open task.
    SKIPPED = "skipped"
    PAUSED = "paused"
    # The bot was down for more than the grace period.
    MISSED = "missed"
    FAILED = "failed"
    # A crash came between claiming it and knowing the outcome, and the task did not land.
    INTERRUPTED = "interrupted"


@dataclass(frozen=True, slots=True)
class Occasion:
    schedule_id: int
    due_at: datetime
    state: OccasionState
    drawn: str | None
    task_id: int | None
    settled_at: datetime | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Occasion:
        return cls(
            schedule_id=row["schedule_id"],
            due_at=from_db(row["due_at"]),
            state=OccasionState(row["state"]),
            drawn=row["drawn"],
            task_id=row["task_id"],
            settled_at=from_db(row["settled_at"]),
        )


class PenaltyOn(StrEnum):
    """When a consequence applies."""

    FAIL = "fail"
    DEADLINE = "deadline"


class PenaltyAction(StrEnum):
    """What a consequence does to the lock in Chaster."""

    ADD_TIME = "add_time"
    FREEZE = "freeze"
    PILLORY = "pillory"


@dataclass(frozen=True, slots=True)
class PenaltyDefault:
    """A consequence a link starts with."""

    on: PenaltyOn
    action: PenaltyAction
    seconds: int | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class LinkDefaults:
    """What a link starts with, from the lock's configuration page in Chaster."""

    # None: the server's setting decides.
    wearer_can_complete: bool | None = None
    deadline_seconds: int | None = None
    penalties: tuple[PenaltyDefault, ...] = ()


@dataclass(frozen=True, slots=True)
class Penalty:
    """A link's consequence for a failed task or a missed deadline."""

    link_id: int
    on: PenaltyOn
    action: PenaltyAction
    seconds: int | None
    reason: str | None
    set_by: int
    set_at: datetime

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Penalty:
        return cls(
            link_id=row["link_id"],
            on=PenaltyOn(row["occasion"]),
            action=PenaltyAction(row["action"]),
            seconds=row["seconds"],
            reason=row["reason"],
            set_by=row["set_by"],
            set_at=from_db(row["set_at"]),
        )


class ConsequenceState(StrEnum):
    PENDING = "pending"
    # Sent (or about to be): a crash here is settled from the lock's history.
    APPLYING = "applying"
    APPLIED = "applied"
    REFUSED = "refused"
    # Whether it landed could not be told: not applied again, the keyholder is told.
    UNKNOWN = "unknown"
    # The link was paused (or closed) before it was applied.
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Consequence:
    """One penalty applied (or to apply) to a lock for one task."""

    id: int
    task_id: int
    link_id: int
    on: PenaltyOn
    action: PenaltyAction
    seconds: int | None
    reason: str | None
    state: ConsequenceState
    created_at: datetime
    applying_at: datetime | None
    settled_at: datetime | None
    detail: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Consequence:
        return cls(
            id=row["id"],
            task_id=row["task_id"],
            link_id=row["link_id"],
            on=PenaltyOn(row["occasion"]),
            action=PenaltyAction(row["action"]),
            seconds=row["seconds"],
            reason=row["reason"],
            state=ConsequenceState(row["state"]),
            created_at=from_db(row["created_at"]),
            applying_at=from_db(row["applying_at"]),
            settled_at=from_db(row["settled_at"]),
            detail=row["detail"],
        )


@dataclass(frozen=True, slots=True)
class NotifyPrefs:
    """Whether a person wants direct messages in a server, and whether Discord refuses them."""

    guild_id: int
    user_id: int
    dm: bool = False
    dms_closed_at: datetime | None = None

    @property
    def sends_dms(self) -> bool:
        return self.dm and self.dms_closed_at is None
