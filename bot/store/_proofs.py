"""`Store` methods for photo proof: a link's review settings and each photo's review."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Final

from ._links import _link
from ._queries import StoreBase, _all, _changed, _one, _write
from .errors import ConstraintViolation
from .proof_rows import Proof, ProofReview, ProofState
from .rows import SessionLink
from .times import to_db

_SELECT: Final = "SELECT * FROM proof_reviews WHERE id = ?"
# Only a photo on its way or under review can get a verdict (ProofState.is_pending).
_RECORD_VERDICT: Final = (
    "UPDATE proof_reviews SET state = ?, ended_at = ?, votes_verified = ?, votes_rejected = ?,"
    " reasons = ? WHERE id = ? AND state IN ('uploading', 'creating', 'unknown', 'open')"
)


class ProofsMixin(StoreBase):
    """Recording a photo's way to Chaster, its review and its verdict."""

    async def set_proof_settings(
        self, link_id: int, *, delay_seconds: int | None, max_votes: int | None
    ) -> SessionLink:
        """A community review's length and vote cap for the link (None: Chaster's default)."""

        def update(conn: sqlite3.Connection) -> SessionLink:
            _write(
                conn,
                "UPDATE session_links SET proof_delay_seconds = ?, proof_max_votes = ?"
                " WHERE id = ?",
                (delay_seconds, max_votes, link_id),
            )
            return _link(conn, link_id)

        return await self._db.write(update)

    async def start_proof(
        self,
        *,
        task_id: int,
        link_id: int,
        chaster_session_id: str,
        audience: Proof,
        submitted_by: int,
        now: datetime,
    ) -> ProofReview | None:
        """Record a photo on its way, before Chaster is asked anything; None when the task
        already has one on its way or judged (a second photo is refused)."""

        def insert(conn: sqlite3.Connection) -> ProofReview | None:
            try:
                proof_id = _write(
                    conn,
                    "INSERT INTO proof_reviews (task_id, link_id, chaster_session_id, audience,"
                    " state, submitted_by, submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        task_id,
                        link_id,
                        chaster_session_id,
                        audience.value,
                        ProofState.UPLOADING.value,
                        submitted_by,
                        to_db(now),
                    ),
                )
            except sqlite3.IntegrityError:
                return None
            return _proof(conn, proof_id)

        try:
            return await self._db.write(insert)
        except ConstraintViolation:
            return None

    async def proof_uploaded(self, proof_id: int, file_id: str, *, now: datetime) -> ProofReview:
        """The photo is in Chaster as `file_id`; the review's creation is being sent."""
        return await self._set_proof(
            proof_id,
            "state = 'creating', file_id = ?, sent_at = ?",
            (file_id, to_db(now)),
        )

    async def proof_opened(
        self, proof_id: int, review_id: str, *, ends_at: datetime | None
    ) -> ProofReview:
        """Chaster runs the review `review_id`."""
        return await self._set_proof(
            proof_id, "state = 'open', review_id = ?, ends_at = ?", (review_id, to_db(ends_at))
        )

    async def proof_unknown(self, proof_id: int) -> ProofReview:
        """The creation's answer was lost and the history could not tell: nothing is resent."""
        return await self._set_proof(proof_id, "state = 'unknown'", ())

    async def proof_failed(self, proof_id: int, *, now: datetime) -> ProofReview:
        """No review came of this photo: another may be sent."""
        return await self._set_proof(proof_id, "state = 'failed', settled_at = ?", (to_db(now),))

    async def record_verdict(
        self,
        proof_id: int,
        *,
        verified: bool,
        ended_at: datetime,
        votes_verified: int,
        votes_rejected: int,
        reasons: tuple[str, ...],
    ) -> ProofReview | None:
        """Compare-and-set: the review's verdict, once; None when it was recorded before."""

        def update(conn: sqlite3.Connection) -> ProofReview | None:
            changed = _changed(
                conn,
                _RECORD_VERDICT,
                (
                    (ProofState.VERIFIED if verified else ProofState.REJECTED).value,
                    to_db(ended_at),
                    votes_verified,
                    votes_rejected,
                    json.dumps(list(reasons), ensure_ascii=False),
                    proof_id,
                ),
            )
            return _proof(conn, proof_id) if changed else None

        return await self._db.write(update)

    async def proof_settled(self, proof_id: int, *, now: datetime) -> ProofReview:
        """The verdict was carried to the task (or there was nothing left to carry it to)."""
        return await self._set_proof(proof_id, "settled_at = ?", (to_db(now),))

    async def get_proof(self, proof_id: int) -> ProofReview | None:
        row = await self._db.read(lambda conn: _one(conn, _SELECT, (proof_id,)))
        return ProofReview.from_row(row) if row is not None else None

    async def proof_of_task(self, task_id: int) -> ProofReview | None:
        """The task's photo on its way or judged, else its latest failed attempt."""
        row = await self._db.read(
            lambda conn: _one(
                conn,
                "SELECT * FROM proof_reviews WHERE task_id = ?"
                " ORDER BY state = 'failed', id DESC LIMIT 1",
                (task_id,),
            )
        )
        return ProofReview.from_row(row) if row is not None else None

    async def proof_by_review(self, review_id: str) -> ProofReview | None:
        row = await self._db.read(
            lambda conn: _one(conn, "SELECT * FROM proof_reviews WHERE review_id = ?", (review_id,))
        )
        return ProofReview.from_row(row) if row is not None else None

    async def unsettled_proofs(self) -> list[ProofReview]:
        """Every photo not yet carried to its end: on its way, judged in Chaster, or with a
        verdict whose task was not closed yet (a crash came in between)."""
        rows = await self._db.read(
            lambda conn: _all(
                conn,
                "SELECT * FROM proof_reviews WHERE settled_at IS NULL ORDER BY id",
            )
        )
        return [ProofReview.from_row(row) for row in rows]

    async def review_ids_of_session(self, chaster_session_id: str) -> set[str]:
        """Every review id the bot knows on the session (a lost creation's review is one that
        is not among them)."""
        rows = await self._db.read(
            lambda conn: _all(
                conn,
                "SELECT review_id FROM proof_reviews"
                " WHERE chaster_session_id = ? AND review_id IS NOT NULL",
                (chaster_session_id,),
            )
        )
        return {row[0] for row in rows}

    async def _set_proof(
        self, proof_id: int, assignments: str, params: tuple[object, ...]
    ) -> ProofReview:
        def update(conn: sqlite3.Connection) -> ProofReview:
            _write(
                conn,
                f"UPDATE proof_reviews SET {assignments} WHERE id = ?",  # noqa: S608
                (*params, proof_id),
            )
            return _proof(conn, proof_id)

        return await self._db.write(update)


def _proof(conn: sqlite3.Connection, proof_id: int) -> ProofReview:
    row = _one(conn, _SELECT, (proof_id,))
    assert row is not None
    return ProofReview.from_row(row)
