"""Chaster's history names who acted in Discord: for each action taken from Discord, an entry
in the lock's history ("Task assigned from Discord", "by kim (Discord) — …").

The Discord side words each entry (display names, no Discord ids) and hands it here under a
key unique to the action; it is queued before anything is sent, sent in the background after
every request a person waits for, and sent once: marked 'sending' just before the call, so
after a crash the lock's history says whether it landed. A failure is logged, never shown.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.chaster import ChasterClient, ChasterError, ChasterUnavailable
from bot.core.model import Clock, Later
from bot.core.settings import ServerSettings
from bot.store import ChasterLog, SessionLink, Store

log = logging.getLogger(__name__)

RETRY = timedelta(minutes=1)
# How far Chaster's clock and the bot's may differ when the history is read for an entry.
CLOCK_SKEW = timedelta(minutes=1)
MAX_TRIES = 5
# Chaster's limits are not documented; long task texts are cut well before any plausible one.
TITLE_LIMIT = 100
DESCRIPTION_LIMIT = 500


class ChasterHistory:
    def __init__(
        self,
        store: Store,
        chaster: ChasterClient,
        settings: ServerSettings,
        clock: Clock,
        later: Later,
    ) -> None:
        self._store = store
        self._chaster = chaster
        self._settings = settings
        self._clock = clock
        self._later = later
        self._tries: dict[int, int] = {}

    async def write(
        self, link: SessionLink, *, key: str, title: str, description: str, icon: str, color: str
    ) -> None:
        """Queue the entry for the link's lock (once per key), unless the server turned the
        history off, and send it soon."""
        if not (await self._settings.of(link.guild_id)).chaster_history:
            return
        queued = await self._store.queue_chaster_log(
            key=key,
            link_id=link.id,
            title=_cut(title, TITLE_LIMIT),
            description=_cut(description, DESCRIPTION_LIMIT),
            icon=icon,
            color=color,
            now=self._clock(),
        )
        if queued is not None:
            self._soon(queued.id)

    async def resume(self) -> None:
        """At start-up: send what was queued, settle what was being sent."""
        for entry in await self._store.unsent_chaster_logs():
            self._soon(entry.id)

    def _soon(self, log_id: int, delay: timedelta = timedelta(0)) -> None:
        async def run() -> None:
            await self.send(log_id)

        self._later(self._clock() + delay, f"chaster-log:{log_id}", run)

    async def send(self, log_id: int) -> ChasterLog | None:
        entry = await self._store.get_chaster_log(log_id)
        if entry is None or entry.state not in ("pending", "sending"):
            return None
        link = await self._store.get_link(entry.link_id)
        if link is None:
            return None
        if entry.state == "sending":
            try:
                landed = await self._in_history(link, entry)
            except ChasterError as error:
                # Cannot be told yet: never sent twice, and never called sent unseen.
                return await self._again(entry, error.text, True)
            if landed:
                return await self._done(entry, "sent")  # before a crash, or its answer lost
        sending = await self._store.move_chaster_log(
            entry.id, from_states=("pending", "sending"), to_state="sending", now=self._clock()
        )
        if sending is None:
            return None
        try:
            await self._chaster.add_custom_log(
                link.chaster_session_id,
                title=entry.title,
                description=entry.description,
                icon=entry.icon,
                color=entry.color,
            )
        except ChasterUnavailable as error:
            return await self._again(sending, error.text, error.may_have_applied)
        except ChasterError as error:
            log.warning("chaster history entry %d refused: %s", entry.id, error.text)
            return await self._done(sending, "failed")
        return await self._done(sending, "sent")

    async def _again(
        self, entry: ChasterLog, why: str, may_have_applied: bool
    ) -> ChasterLog | None:
        tries = self._tries.get(entry.id, 0) + 1
        self._tries[entry.id] = tries
        if tries >= MAX_TRIES:
            log.warning("chaster history entry %d not written: %s", entry.id, why)
            return await self._done(entry, "failed")
        if not may_have_applied:
            await self._store.move_chaster_log(
                entry.id, from_states=("sending",), to_state="pending", now=self._clock()
            )
        # Still 'sending' when it may have landed: the next try reads the history first.
        self._soon(entry.id, RETRY)
        return None

    async def _in_history(self, link: SessionLink, entry: ChasterLog) -> bool:
        """Whether the lock's history has the entry (ChasterError when it cannot be read).

        The same words can be in the history for another action (a library task assigned
        twice): only entries from since it was sent count, and only as many more than this
        link's other entries with those words sent since then."""
        page = await self._chaster.search_logs(link.chaster_session_id, limit=50, background=True)
        since = (entry.sending_at or entry.created_at) - CLOCK_SKEW
        seen = sum(
            1
            for found in page.results
            if found.type == "custom"
            and found.title == entry.title
            and found.description == entry.description
            and (found.created_at is None or found.created_at >= since)
        )
        others = await self._store.count_sent_chaster_logs(
            link.id, entry.title, entry.description, since=since, excluding=entry.id
        )
        return seen > others

    async def _done(self, entry: ChasterLog, state: str) -> ChasterLog | None:
        self._tries.pop(entry.id, None)
        return await self._store.move_chaster_log(
            entry.id, from_states=("pending", "sending"), to_state=state, now=self._clock()
        )


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
