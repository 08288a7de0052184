"""Consequences applied in Chaster, when a task fails or misses its deadline (the keyholder
sets them with `bot.core.penalties`).

A consequence is recorded before Chaster is asked, then marked as being applied just before the
call, so each is applied at most once per task. After a crash (or a lost answer) between the
mark and Chaster's answer, the lock's history settles it: found there, it was applied; absent,
it was not, and it is applied now; when the history cannot be read, it is not applied again and
the keyholder is told. Nothing happens while the link is paused.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.chaster import ChasterClient, ChasterError, ChasterUnavailable, LockAction
from bot.chaster.models import ActionLog
from bot.core.chaster_errors import chaster_refused, trouble
from bot.core.errors import Consequence as Outcome
from bot.core.errors import Person, Phrase, Reason, Refused
from bot.core.locks import Locks, keyholder_of_record_holds, lock_action
from bot.core.model import (
    AutomationEvent,
    AutomationEventKind,
    Event,
    EventKind,
    Later,
    LinkEvent,
    LinkEventKind,
    TaskEvent,
)
from bot.core.settings import ServerSettings
from bot.core.shared import Part, Shared
from bot.store import (
    Consequence,
    ConsequenceState,
    PenaltyAction,
    PenaltyOn,
    SessionLink,
    Store,
)

log = logging.getLogger(__name__)

# The history entry each action leaves on the lock.
LOG_TYPES = {
    PenaltyAction.ADD_TIME: "time_changed",
    PenaltyAction.FREEZE: "lock_frozen",
    PenaltyAction.PILLORY: "pillory_in",
}
# Waits before trying a consequence again that Chaster did not take (it was down or busy),
# and before reading the history after an answer was lost (it may still be being written).
RETRY_DELAYS = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10))
SETTLE_DELAY = timedelta(seconds=30)
# Clocks differ: a history entry this much older than the mark still counts.
CLOCK_SKEW = timedelta(minutes=1)


class Consequences(Part):
    def __init__(
        self,
        store: Store,
        chaster: ChasterClient,
        shared: Shared,
        *,
        locks: Locks,
        settings: ServerSettings,
        extension_slug: str,
        later: Later,
    ) -> None:
        super().__init__(store, chaster, shared)
        self._locks = locks
        self._settings = settings
        self._slug = extension_slug
        self._later = later
        # Tries of a consequence Chaster did not take, by id.
        self._tries: dict[int, int] = {}
        # Consequences this process is applying right now. One of them is 'applying' in the
        # store too, but it is no crash's leftover: its call is still on its way, and reading
        # the history now (before the call lands) would send it a second time.
        self._in_flight: set[int] = set()
        # The error of a call whose answer was lost, by consequence id, until the history
        # says whether it landed: absent, it counts as one more try Chaster did not take.
        self._lost: dict[int, ChasterUnavailable] = {}

    async def on_event(self, event: Event) -> None:
        """A task failed (or missed its deadline): record the link's consequence for it, then
        apply it from the jobs, never inside the action of the person who failed it. A pause
        ended: settle what was being sent when it began."""
        if isinstance(event, LinkEvent) and event.kind is LinkEventKind.RESUMED:
            if event.link is not None:
                for unsettled in await self._store.unsettled_consequences():
                    if unsettled.link_id == event.link.id:
                        self._soon(unsettled.id, self._clock())
            return
        if not isinstance(event, TaskEvent) or event.kind is not EventKind.FAILED:
            return
        if not event.counts_as_failure:
            return
        task = event.task
        link = await self._store.get_link(event.link.id)
        if link is None or not link.is_open or link.is_paused:
            return
        on = PenaltyOn.DEADLINE if task.deadline_missed_at is not None else PenaltyOn.FAIL
        penalty = await self._store.get_penalty(link.id, on)
        if penalty is None:
            return
        recorded = await self._store.record_consequence(task.id, penalty, now=self._clock())
        if recorded is not None:
            self._soon(recorded.id, self._clock())

    async def resume(self) -> None:
        """At start-up: apply what was recorded but never sent, settle what was being sent."""
        for consequence in await self._store.unsettled_consequences():
            self._soon(consequence.id, self._clock())

    def _soon(self, consequence_id: int, when: datetime) -> None:
        async def run() -> None:
            await self.apply(consequence_id)

        self._later(when, f"consequence {consequence_id}", run)

    async def apply(self, consequence_id: int) -> Consequence | None:
        """Apply a recorded consequence, or settle one whose call may have landed."""
        if consequence_id in self._in_flight:
            return None
        self._in_flight.add(consequence_id)
        try:
            return await self._apply(consequence_id)
        finally:
            self._in_flight.discard(consequence_id)

    async def _apply(self, consequence_id: int) -> Consequence | None:
        consequence = await self._consequence(consequence_id)
        if consequence is None:
            return None
        link = await self._store.get_link(consequence.link_id)
        if consequence.state is ConsequenceState.APPLYING:
            if link is not None and link.is_paused:
                # It may have reached the lock already: its history tells, once the pause
                # ends (nothing is asked of Chaster for the link meanwhile).
                return None
            if link is None or not link.is_open:
                # Unlinked: nobody is left to act for; whether it landed stays unknown.
                return await self._settle(consequence, link, ConsequenceState.UNKNOWN, None)
            return await self._from_history(consequence, link)
        if link is None or not link.is_open or link.is_paused:
            # Never sent: the pause (or the unlink) stops it.
            return await self._settle(consequence, link, ConsequenceState.CANCELLED, None)
        if consequence.state is not ConsequenceState.PENDING:
            return consequence
        if not keyholder_of_record_holds(link):
            # The lock changed hands in Chaster since the consequence was set: it is no longer
            # theirs to change.
            refusal = Refused(
                Reason.ONLY_LOCK_KEYHOLDER_PENALTIES, keyholder=Person(link.keyholder_id)
            )
            return await self._settle(consequence, link, ConsequenceState.REFUSED, refusal)
        applying = await self._store.move_consequence(
            consequence.id,
            from_states=(ConsequenceState.PENDING,),
            to_state=ConsequenceState.APPLYING,
            now=self._clock(),
        )
        if applying is None:
            return None
        return await self._send(applying, link)

    async def _send(self, consequence: Consequence, link: SessionLink) -> Consequence | None:
        detail = f"wearer={link.wearer_id} action={consequence.action} on={consequence.on}"
        try:
            async with self._audit.automatic(
                link.guild_id, "consequence.apply", detail=detail
            ) as audit:
                audit.link_id, audit.task_id = link.id, consequence.task_id
                try:
                    await self._chaster.apply_lock_action(
                        link.chaster_session_id, _lock_action(consequence)
                    )
                except ChasterUnavailable as error:
                    if error.may_have_applied:
                        # The answer was lost: the history tells, once it has been written.
                        self._lost[consequence.id] = error
                        self._soon(consequence.id, self._clock() + SETTLE_DELAY)
                        return None
                    return await self._try_later(consequence, link, error)
                except ChasterError as error:
                    raise await self._refusal(consequence, link, error) from None
        except Refused as refusal:
            return await self._settle(consequence, link, ConsequenceState.REFUSED, refusal)
        return await self._settle(consequence, link, ConsequenceState.APPLIED, None)

    async def _try_later(
        self, consequence: Consequence, link: SessionLink, error: ChasterUnavailable
    ) -> Consequence | None:
        """Chaster did not take it (and did not apply it): back to pending, tried again a few
        times; then the keyholder is told."""
        tries = self._tries.get(consequence.id, 0)
        if tries >= len(RETRY_DELAYS):
            self._tries.pop(consequence.id, None)
            refusal = Refused(
                Reason.CHASTER_UNAVAILABLE,
                trouble=trouble(error),
                consequence=Phrase(Outcome.NOTHING_CHANGED, {}),
            )
            return await self._settle(consequence, link, ConsequenceState.REFUSED, refusal)
        self._tries[consequence.id] = tries + 1
        await self._store.move_consequence(
            consequence.id,
            from_states=(ConsequenceState.APPLYING,),
            to_state=ConsequenceState.PENDING,
            now=self._clock(),
        )
        self._soon(consequence.id, self._clock() + RETRY_DELAYS[tries])
        return None

    async def _from_history(
        self, consequence: Consequence, link: SessionLink
    ) -> Consequence | None:
        """A consequence marked as being sent whose outcome is unknown: its history entry on the
        lock says whether it was applied."""
        try:
            page = await self._chaster.search_logs(
                link.chaster_session_id, limit=50, background=True
            )
        except ChasterError as error:
            log.warning(
                "consequence %d: the history of %s cannot be read (%s); not applied again",
                consequence.id,
                link.chaster_session_id,
                error.text,
            )
            refusal = Refused(Reason.CONSEQUENCE_HISTORY_UNREADABLE, trouble=trouble(error))
            return await self._settle(consequence, link, ConsequenceState.UNKNOWN, refusal)
        if any(self._records(entry, consequence) for entry in page.results):
            return await self._settle(consequence, link, ConsequenceState.APPLIED, None)
        # Not in the history: it never reached the lock, so applying it now is the first time.
        lost = self._lost.pop(consequence.id, None)
        if lost is not None:
            # Sent by this process, its answer lost, and it did not land: a try Chaster did
            # not take, like any other (so a Chaster that keeps failing is not asked forever).
            return await self._try_later(consequence, link, lost)
        return await self._send(consequence, link)

    def _records(self, entry: ActionLog, consequence: Consequence) -> bool:
        """Whether a history entry is this consequence, applied by this extension."""
        if entry.type != LOG_TYPES[consequence.action] or entry.extension != self._slug:
            return False
        marked = consequence.applying_at or consequence.created_at
        if entry.created_at is None or entry.created_at < marked - CLOCK_SKEW:
            return False
        if consequence.seconds is None:
            return True
        return abs(_number(entry.payload.get("duration"))) == consequence.seconds

    async def _refusal(
        self, consequence: Consequence, link: SessionLink, error: ChasterError
    ) -> Refused:
        if consequence.action is PenaltyAction.PILLORY and error.status in (400, 404, 422):
            try:
                lock = await self._locks.read(link)
            except Refused:
                return chaster_refused(error)
            if not lock.has_pillory:
                return Refused(Reason.PILLORY_MISSING)
        return chaster_refused(error)

    async def _settle(
        self,
        consequence: Consequence,
        link: SessionLink | None,
        state: ConsequenceState,
        refusal: Refused | None,
    ) -> Consequence | None:
        settled = await self._store.move_consequence(
            consequence.id,
            from_states=(ConsequenceState.PENDING, ConsequenceState.APPLYING),
            to_state=state,
            now=self._clock(),
            detail=str(refusal) if refusal is not None else None,
        )
        if settled is not None:
            self._tries.pop(settled.id, None)
            self._lost.pop(settled.id, None)
        if settled is None or link is None or state is ConsequenceState.CANCELLED:
            return settled
        log.info(
            "consequence %d (%s for task %d) %s", settled.id, settled.action, settled.task_id, state
        )
        kind = {
            ConsequenceState.APPLIED: AutomationEventKind.CONSEQUENCE_APPLIED,
            ConsequenceState.REFUSED: AutomationEventKind.CONSEQUENCE_REFUSED,
            ConsequenceState.UNKNOWN: AutomationEventKind.CONSEQUENCE_UNKNOWN,
        }[state]
        await self._events.publish(
            AutomationEvent(
                kind,
                link=link,
                channel_id=await self._settings.feed_channel_for(link),
                consequence=settled,
                task=await self._store.get_task(settled.task_id),
                refusal=refusal,
            )
        )
        return settled

    async def _consequence(self, consequence_id: int) -> Consequence | None:
        found = await self._store.get_consequence(consequence_id)
        if found is None or found.state not in (
            ConsequenceState.PENDING,
            ConsequenceState.APPLYING,
        ):
            return None
        return found


def _lock_action(consequence: Consequence) -> LockAction:
    return lock_action(consequence.action, consequence.seconds, consequence.reason)


def _number(value: object) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0
