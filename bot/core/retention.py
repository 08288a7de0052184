"""Retention: how long a server keeps its record, and the daily pruning of what is older.
Open tasks and links are never pruned; without a setting, everything is kept."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from bot.core.errors import Reason, Refused, Typed
from bot.core.model import Clock, Later
from bot.store import Store

log = logging.getLogger(__name__)

MIN_DAYS = 30
MAX_DAYS = 3650
FOREVER = "forever"
PRUNE_EVERY = timedelta(days=1)
LINK_CODES_KEPT = timedelta(days=1)
_DAYS = re.compile(r"[0-9]{1,5}")


def parse_retention(text: str) -> int | None:
    """Days from 30 to 3650, or None for "forever"; Refused otherwise."""
    cleaned = text.strip().lower()
    if cleaned == FOREVER:
        return None
    if _DAYS.fullmatch(cleaned) and MIN_DAYS <= int(cleaned) <= MAX_DAYS:
        return int(cleaned)
    raise Refused(Reason.RETENTION_INVALID, input=Typed(text), shortest=MIN_DAYS, longest=MAX_DAYS)


class Retention:
    def __init__(self, store: Store, clock: Clock, later: Later) -> None:
        self._store = store
        self._clock = clock
        self._later = later

    def wake(self) -> None:
        """Prune now, then once a day."""

        async def run() -> None:
            try:
                await self.prune()
            finally:
                self._later(self._clock() + PRUNE_EVERY, "retention", run)

        self._later(self._clock(), "retention", run)

    async def prune(self) -> int:
        """Prune every server that keeps its record for a limited time; how many rows went."""
        now = self._clock()
        kept = await self._store.retention_by_guild()
        removed = 0
        for guild_id, days in kept:
            pruned = await self._store.prune_guild(guild_id, now - timedelta(days=days))
            total = (
                pruned.tasks
                + pruned.audit_entries
                + pruned.link_requests
                + pruned.occasions
                + pruned.votes
                + pruned.history_entries
            )
            if total:
                log.info("retention: guild %d pruned %s", guild_id, pruned)
            removed += total
        # Link codes live 15 minutes and proofs a day, whatever a server keeps: a day after,
        # nothing can use them (nor a code's miss count).
        codes = await self._store.prune_link_codes(now - LINK_CODES_KEPT)
        if codes:
            log.info("retention: %d expired link codes, proofs and misses pruned", codes)
        # Handled webhook ids need no pruning here: each delivery drops those over two days
        # old (Chaster stops retrying long before).
        return removed + codes
