"""`Store` methods for retention: what a server keeps, and pruning what is older than that.
Open tasks and links are never pruned."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from ._queries import StoreBase, _all, _changed
from .rows import to_db

# The finished tasks of one server older than a cutoff; every statement below names it.
_OLD_TASKS: Final = (
    "SELECT t.id FROM tasks AS t JOIN session_links AS l ON l.id = t.link_id"
    " WHERE l.guild_id = :guild AND t.state IN ('completed', 'failed') AND t.closed_at < :cutoff"
)


@dataclass(frozen=True)
class Pruned:
    tasks: int = 0
    audit_entries: int = 0
    link_requests: int = 0
    occasions: int = 0
    votes: int = 0
    history_entries: int = 0


class RetentionMixin(StoreBase):
    async def retention_by_guild(self) -> list[tuple[int, int]]:
        """(server, days) of every server that keeps its record for a limited time."""
        rows = await self._db.read(
            lambda conn: _all(
                conn,
                "SELECT guild_id, retention_days FROM guild_settings"
                " WHERE retention_days IS NOT NULL ORDER BY guild_id",
            )
        )
        return [(row[0], row[1]) for row in rows]

    async def prune_guild(self, guild_id: int, cutoff: datetime) -> Pruned:
        """Delete the server's finished tasks, audit entries, answered link requests, ended
        votes, past schedule occasions and entries sent to Chaster's history from before
        `cutoff`, in one unit of work; what
        newer records pointed at a pruned task now points at nothing."""
        params = {"guild": guild_id, "cutoff": to_db(cutoff)}

        def run(conn: sqlite3.Connection, sql: str) -> int:
            # Named values: every statement names the same server and cutoff.
            return _changed(conn, sql, params)

        def prune(conn: sqlite3.Connection) -> Pruned:
            audit = run(conn, "DELETE FROM audit_log WHERE guild_id = :guild AND at < :cutoff")
            for table in ("audit_log", "schedule_occasions", "votes"):
                # The table names are the literals above; the values are parameters.
                run(
                    conn,
                    f"UPDATE {table} SET task_id = NULL WHERE task_id IN ({_OLD_TASKS})",  # noqa: S608
                )
            run(conn, f"DELETE FROM consequences WHERE task_id IN ({_OLD_TASKS})")  # noqa: S608
            run(conn, f"DELETE FROM proof_reviews WHERE task_id IN ({_OLD_TASKS})")  # noqa: S608
            occasions = run(
                conn,
                "DELETE FROM schedule_occasions WHERE due_at < :cutoff AND state != 'claimed'"
                " AND schedule_id IN (SELECT id FROM schedules WHERE guild_id = :guild)",
            )
            votes = run(
                conn,
                "DELETE FROM votes WHERE guild_id = :guild AND state = 'ended'"
                " AND ended_at < :cutoff",
            )
            tasks = run(conn, f"DELETE FROM tasks WHERE id IN ({_OLD_TASKS})")  # noqa: S608
            requests = run(
                conn,
                "DELETE FROM link_requests WHERE guild_id = :guild AND state != 'pending'"
                " AND created_at < :cutoff",
            )
            entries = run(
                conn,
                "DELETE FROM chaster_logs WHERE state IN ('sent', 'failed')"
                " AND created_at < :cutoff"
                " AND link_id IN (SELECT id FROM session_links WHERE guild_id = :guild)",
            )
            return Pruned(tasks, audit, requests, occasions, votes, entries)

        return await self._db.write(prune)
