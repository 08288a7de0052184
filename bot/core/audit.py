"""The audit: every attempted action, with its outcome, in the store and in one log line."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
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

    def action(
        self, caller: Caller, action: str, *, detail: str = ""
    ) -> AbstractAsyncContextManager[Entry]:
        """Record `action` whatever its outcome: ok, refused (with the reason's code) or error."""
        return self._entry(caller.guild_id, caller.user_id, action, detail)

    def automatic(
        self, guild_id: int, action: str, *, detail: str = ""
    ) -> AbstractAsyncContextManager[Entry]:
        """The same for what the bot does on its own (a schedule, a deadline, a consequence):
        recorded with no user."""
        return self._entry(guild_id, None, action, detail)

    @asynccontextmanager
    async def _entry(
        self, guild_id: int, user_id: int | None, action: str, detail: str
    ) -> AsyncIterator[Entry]:
        entry = Entry(detail=detail)
        started = time.monotonic()
        who = (guild_id, user_id)
        with record_calls(server=guild_id) as calls:
            try:
                yield entry
            except Refused as refusal:
                await self._record(who, action, "refused", entry, str(refusal))
                _log(logging.INFO, action, "refused", who, entry, calls, started)
                raise
            except Exception as error:
                await self._record(who, action, "error", entry, type(error).__name__)
                _log(logging.WARNING, action, "error", who, entry, calls, started)
                raise
            else:
                await self._record(who, action, "ok", entry, "")
                _log(logging.INFO, action, "ok", who, entry, calls, started)

    async def _record(
        self,
        who: tuple[int, int | None],
        action: str,
        result: AuditResult,
        entry: Entry,
        reason: str,
    ) -> None:
        detail = f"{entry.detail} {reason}".strip()
        try:
            await self._store.record_audit(
                action=action,
                result=result,
                guild_id=who[0],
                user_id=who[1],
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
    who: tuple[int, int | None],
    entry: Entry,
    calls: list[str],
    started: float,
) -> None:
    log.log(
        level,
        "%s %s guild=%d user=%s %s task=%s chaster=[%s] %.0fms",
        action,
        result,
        who[0],
        "bot" if who[1] is None else who[1],
        entry.detail,
        entry.task_id if entry.task_id is not None else "-",
        ", ".join(calls),
        (time.monotonic() - started) * 1000,
    )
