"""The audit: every attempted action, with its outcome, in the store and in one log line."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.chaster.calls import record_calls
from bot.core.errors import Refused
from bot.core.model import Caller, Clock
from bot.store import AuditResult, Store

log = logging.getLogger("bot.core")


@dataclass
class Entry:
    """What the action found out while it ran, for its audit entry and log line."""

    detail: str
    link_id: int | None = None
    task_id: int | None = None


class Audit:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    @asynccontextmanager
    async def action(
        self, caller: Caller, action: str, *, detail: str = ""
    ) -> AsyncIterator[Entry]:
        """Record `action` whatever its outcome: ok, refused (with the reason's code) or error."""
        entry = Entry(detail=detail)
        started = time.monotonic()
        with record_calls(server=caller.guild_id) as calls:
            try:
                yield entry
            except Refused as refusal:
                await self._record(caller, action, "refused", entry, str(refusal))
                _log(logging.INFO, action, "refused", caller, entry, calls, started)
                raise
            except Exception as error:
                await self._record(caller, action, "error", entry, type(error).__name__)
                _log(logging.WARNING, action, "error", caller, entry, calls, started)
                raise
            else:
                await self._record(caller, action, "ok", entry, "")
                _log(logging.INFO, action, "ok", caller, entry, calls, started)

    async def _record(
        self, caller: Caller, action: str, result: AuditResult, entry: Entry, reason: str
    ) -> None:
        detail = f"{entry.detail} {reason}".strip()
        try:
            await self._store.record_audit(
                action=action,
                result=result,
                guild_id=caller.guild_id,
                user_id=caller.user_id,
                detail=detail[:1000],
                link_id=entry.link_id,
                task_id=entry.task_id,
                now=self._clock(),
            )
        except Exception:
            log.exception("could not record audit entry for %s", action)


def _log(
    level: int,
    action: str,
    result: str,
    caller: Caller,
    entry: Entry,
    calls: list[str],
    started: float,
) -> None:
    log.log(
        level,
        "%s %s guild=%d user=%d %s task=%s chaster=[%s] %.0fms",
        action,
        result,
        caller.guild_id,
        caller.user_id,
        entry.detail,
        entry.task_id if entry.task_id is not None else "-",
        ", ".join(calls),
        (time.monotonic() - started) * 1000,
    )
