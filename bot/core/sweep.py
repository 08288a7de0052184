"""The sweep: every linked session from Chaster's session search, a hundred per request.

One page of `POST /api/extensions/sessions/search` holds up to 100 full sessions, each with
its lock and the Tasks extension's state, so a round over every linked session costs about
ceil(sessions / 100) requests instead of one per session. Each linked session found goes
through the same path as a webhook's read. A linked session the search does not return (its
lock ended, or Chaster left it out) is then read on its own, once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.chaster import ChasterClient, ChasterError
from bot.chaster.client import SEARCH_PAGE_SIZE
from bot.chaster.state import LockState
from bot.core.state_view import Reading, StateView
from bot.core.sync import Sync
from bot.store import Store

log = logging.getLogger(__name__)

# Awaited after each request of a sweep with how many were made and how many the whole
# round is expected to take, so the caller can spread them over its interval.
Pace = Callable[[int, int], Awaitable[None]]


@dataclass(frozen=True)
class SweepReport:
    """What one sweep did."""

    pages: int
    applied: int
    read_alone: int
    complete: bool
    # Requests made for photo reviews.
    reviews: int = 0

    @property
    def requests(self) -> int:
        return self.pages + self.read_alone + self.reviews


class Sweep:
    def __init__(
        self,
        store: Store,
        chaster: ChasterClient,
        view: StateView,
        sync: Sync,
        *,
        extension_slug: str,
        reviews: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        self._store = store
        # After each round: photo reviews that may have ended without a webhook (returns the
        # requests it made).
        self._reviews = reviews
        self._chaster = chaster
        self._view = view
        self._sync = sync
        self._slug = extension_slug
        # Logged once: a search result without the lock's extensions is read on its own.
        self._told_missing_extensions = False

    async def run(self, pace: Pace | None = None) -> SweepReport:
        """One round over every linked session."""
        linked = {session for session, _ in await self._store.linked_sessions()}
        if not linked:
            return SweepReport(pages=0, applied=0, read_alone=0, complete=True)
        expected = -(-len(linked) // SEARCH_PAGE_SIZE)
        found: set[str] = set()
        pages = 0
        walk = self._chaster.iter_pages(self._slug, background=True)
        try:
            while True:
                sent = self._view.stamp()
                page = await anext(walk, None)
                if page is None:
                    break
                pages += 1
                # The search counts every locked session of the extension, linked or not.
                expected = max(expected, -(-page.count // SEARCH_PAGE_SIZE))
                for result in page.results:
                    session_id = result.session_id
                    if session_id not in linked or session_id in found:
                        continue
                    if not result.lock.lists_extensions:
                        self._tell_missing_extensions()
                        continue
                    found.add(session_id)
                    reading = Reading(session_id, LockState.of(result.lock), sent)
                    try:
                        await self._sync.apply(reading)
                    except Exception:
                        log.exception("sweep could not apply session %s", session_id)
                if pace is not None:
                    await pace(pages, expected)
        except ChasterError as error:
            # A sweep cut short reads nobody on their own: that could be every session.
            log.warning("sweep stopped after %d page(s): %s", pages, error.text)
            return SweepReport(pages=pages, applied=len(found), read_alone=0, complete=False)
        finally:
            await walk.aclose()
        missing = sorted(linked - found)
        for number, session_id in enumerate(missing, start=1):
            try:
                await self._sync.sync_session(session_id, background=True)
            except Exception:
                log.exception("sweep could not read session %s", session_id)
            if pace is not None:
                await pace(pages + number, pages + len(missing))
        self._view.keep_only(linked)
        reviews = 0
        if self._reviews is not None:
            try:
                reviews = await self._reviews()
            except Exception:
                log.exception("sweep could not check photo reviews")
        return SweepReport(
            pages=pages,
            applied=len(found),
            read_alone=len(missing),
            complete=True,
            reviews=reviews,
        )

    def _tell_missing_extensions(self) -> None:
        if not self._told_missing_extensions:
            self._told_missing_extensions = True
            log.warning(
                "Chaster's session search left out a lock's extensions; such sessions are "
                "read on their own"
            )
