"""Typed rows of the keyholder's library and of server votes. Times cross the storage boundary
through `times`."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .proof_rows import Proof
from .times import from_db


@dataclass(frozen=True, slots=True)
class LibraryEntry:
    """A task a keyholder keeps for assigning by name, drawing at random or a vote."""

    id: int
    guild_id: int
    keyholder_id: int
    description: str
    points: int
    duration_seconds: int | None
    verification_required: bool
    tag: str | None
    created_at: datetime
    deadline_seconds: int | None = None
    proof: Proof | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> LibraryEntry:
        return cls(
            id=row["id"],
            guild_id=row["guild_id"],
            keyholder_id=row["keyholder_id"],
            description=row["description"],
            points=row["points"],
            duration_seconds=row["duration_seconds"],
            verification_required=bool(row["verification_required"]),
            tag=row["tag"],
            created_at=from_db(row["created_at"]),
            deadline_seconds=row["deadline_seconds"],
            proof=Proof.stored(row["proof"]),
        )


class VoteState(StrEnum):
    OPEN = "open"
    DECIDING = "deciding"
    ENDED = "ended"


class VoteOutcome(StrEnum):
    """What came of a vote."""

    ASSIGNED = "assigned"
    # The wearer had an open task when it ended, or was no longer linked: nothing assigned.
    OPEN_TASK = "open-task"
    UNLINKED = "unlinked"
    # Chaster refused the winner.
    FAILED = "failed"
    # Its poll could not be posted.
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class VoteOption:
    """One task a vote offers."""

    description: str
    points: int
    duration_seconds: int | None
    verification_required: bool
    from_lock: bool
    # Votes from before photo proof have none.
    proof: Proof | None = None


@dataclass(frozen=True, slots=True)
class Vote:
    id: int
    link_id: int
    guild_id: int
    wearer_id: int
    started_by: int
    channel_id: int
    message_id: int | None
    options: tuple[VoteOption, ...]
    created_at: datetime
    ends_at: datetime
    state: VoteState
    winner: int | None
    winner_votes: int | None
    outcome: VoteOutcome | None
    task_id: int | None
    ended_at: datetime | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Vote:
        return cls(
            id=row["id"],
            link_id=row["link_id"],
            guild_id=row["guild_id"],
            wearer_id=row["wearer_id"],
            started_by=row["started_by"],
            channel_id=row["channel_id"],
            message_id=row["message_id"],
            options=tuple(_option(option) for option in json.loads(row["options"])),
            created_at=from_db(row["created_at"]),
            ends_at=from_db(row["ends_at"]),
            state=VoteState(row["state"]),
            winner=row["winner"],
            winner_votes=row["winner_votes"],
            outcome=VoteOutcome(row["outcome"]) if row["outcome"] else None,
            task_id=row["task_id"],
            ended_at=from_db(row["ended_at"]),
        )


def _option(stored: dict[str, object]) -> VoteOption:
    proof = stored.get("proof")
    return VoteOption(
        **{key: value for key, value in stored.items() if key != "proof"},  # type: ignore[arg-type]
        proof=Proof.stored(proof if isinstance(proof, str) else None),
    )
