"""`Store` methods for records kept alongside: webhook deliveries seen, and the audit log."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from ._queries import StoreBase, _all, _changed, _one
from .rows import AUDIT_RESULTS, AuditEntry, AuditResult, from_db, to_db


class RecordsMixin(StoreBase):
    """Deduplicating webhook deliveries and appending to (and reading) the audit log."""

    # ---- webhook deliveries -----------------------------------------------------------------

    async def webhook_delivery_seen(self, request_id: str) -> bool:
        """Whether a delivery with this `requestId` has been handled."""
        row = await self._db.look_up(
            lambda conn: _one(
                conn, "SELECT 1 FROM webhook_deliveries WHERE request_id = ?", (request_id,)
            )
        )
        return row is not None

    async def record_webhook_delivery(
        self, request_id: str, *, event: str, now: datetime, keep: timedelta = timedelta(days=2)
    ) -> bool:
        """Remember a delivery; False if this `requestId` was seen before (a retry).

        Entries older than `keep` are dropped: Chaster stops retrying long before that.
        """

        def record(conn: sqlite3.Connection) -> int:
            _changed(
                conn, "DELETE FROM webhook_deliveries WHERE received_at < ?", (to_db(now - keep),)
            )
            return _changed(
                conn,
                "INSERT INTO webhook_deliveries (request_id, event, received_at) VALUES (?, ?, ?)"
                " ON CONFLICT (request_id) DO NOTHING",
                (request_id, event, to_db(now)),
            )

        return await self._db.write(record) == 1

    # ---- audit log --------------------------------------------------------------------------

    async def record_audit(
        self,
        *,
        action: str,
        result: AuditResult,
        guild_id: int | None,
        user_id: int | None,
        detail: str = "",
        link_id: int | None = None,
        task_id: int | None = None,
        now: datetime,
    ) -> AuditEntry:
        """Append one attempted action and its outcome to the audit log."""
        if result not in AUDIT_RESULTS:
            raise ValueError(f"audit result must be one of {sorted(AUDIT_RESULTS)}, not {result!r}")
        # Every action writes one of these: a single statement, no transaction, no read-back.
        at = to_db(now)
        entry_id = await self._db.write_one(
            "INSERT INTO audit_log (at, guild_id, user_id, action, result, detail, link_id,"
            " task_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (at, guild_id, user_id, action, result, detail, link_id, task_id),
        )
        return AuditEntry(
            id=entry_id,
            at=from_db(at),
            guild_id=guild_id,
            user_id=user_id,
            action=action,
            result=result,
            detail=detail,
            link_id=link_id,
            task_id=task_id,
        )

    async def audit_entries(
        self, *, guild_id: int | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """The newest audit entries first, optionally for one server only."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if guild_id is None:
            sql = "SELECT * FROM audit_log ORDER BY at DESC, id DESC LIMIT ?"
            params: tuple[int, ...] = (limit,)
        else:
            sql = "SELECT * FROM audit_log WHERE guild_id = ? ORDER BY at DESC, id DESC LIMIT ?"
            params = (guild_id, limit)
        rows = await self._db.read(lambda conn: _all(conn, sql, params))
        return [AuditEntry.from_row(row) for row in rows]
