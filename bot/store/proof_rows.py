"""Typed rows of photo proof: who judges a task's photo, and each photo's review in Chaster."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.store.times import from_db


class Proof(StrEnum):
    """Who judges the photo a task needs in Chaster (None where a task needs none)."""

    KEYHOLDER = "keyholder"
    COMMUNITY = "community"

    @classmethod
    def stored(cls, value: str | None) -> Proof | None:
        return cls(value) if value else None


class ProofState(StrEnum):
    """Where a photo's review stands.

    uploading → creating → open → verified | rejected, with failed for an attempt that
    reached no review (the photo may be sent again) and unknown for a creation whose answer
    was lost and that Chaster's review history could not settle yet.
    """

    UPLOADING = "uploading"
    CREATING = "creating"
    UNKNOWN = "unknown"
    OPEN = "open"
    VERIFIED = "verified"
    REJECTED = "rejected"
    FAILED = "failed"

    @property
    def is_pending(self) -> bool:
        """On its way to Chaster, or judged there: no second photo, no other ending."""
        return self in (
            ProofState.UPLOADING,
            ProofState.CREATING,
            ProofState.UNKNOWN,
            ProofState.OPEN,
        )

    @property
    def is_verdict(self) -> bool:
        return self in (ProofState.VERIFIED, ProofState.REJECTED)


@dataclass(frozen=True, slots=True)
class ProofReview:
    id: int
    task_id: int
    link_id: int
    chaster_session_id: str
    audience: Proof
    state: ProofState
    submitted_by: int
    submitted_at: datetime
    sent_at: datetime | None
    file_id: str | None
    review_id: str | None
    ends_at: datetime | None
    ended_at: datetime | None
    votes_verified: int | None
    votes_rejected: int | None
    reasons: tuple[str, ...]
    settled_at: datetime | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ProofReview:
        return cls(
            id=row["id"],
            task_id=row["task_id"],
            link_id=row["link_id"],
            chaster_session_id=row["chaster_session_id"],
            audience=Proof(row["audience"]),
            state=ProofState(row["state"]),
            submitted_by=row["submitted_by"],
            submitted_at=from_db(row["submitted_at"]),
            sent_at=from_db(row["sent_at"]),
            file_id=row["file_id"],
            review_id=row["review_id"],
            ends_at=from_db(row["ends_at"]),
            ended_at=from_db(row["ended_at"]),
            votes_verified=row["votes_verified"],
            votes_rejected=row["votes_rejected"],
            reasons=tuple(json.loads(row["reasons"])) if row["reasons"] else (),
            settled_at=from_db(row["settled_at"]),
        )
