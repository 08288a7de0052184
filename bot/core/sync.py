"""Keeping in step with Chaster: webhooks, polling and start-up catch-up all end in
`sync_session`; plus what happens on its own: finished timers, a session that ended, and the
feed messages a crash kept from being posted."""

from __future__ import annotations

import logging

from bot.chaster import ActionLog, ChasterClient, ChasterError, WebhookEnvelope
from bot.chaster.models import TASK_COMPLETED, TASK_FAILED, TASK_LOG_TYPES
from bot.chaster.state import CurrentTask, LockState, TasksSnapshot
from bot.core.durations import MAX_DURATION_SECONDS, MIN_DURATION_SECONDS
from bot.core.locks import Locks
from bot.core.model import CloseReason, EventKind, LinkEvent, LinkEventKind
from bot.core.settings import ServerSettings
from bot.core.shared import Part, Shared
from bot.core.state_view import Reading, StateView
from bot.core.text import clean_task_text, same_task
from bot.store import OPEN_TASK_STATES, SessionLink, Store, Task, TaskState

log = logging.getLogger(__name__)


class Sync(Part):
    def __init__(
        self,
        store: Store,
        chaster: ChasterClient,
        shared: Shared,
        *,
        locks: Locks,
        settings: ServerSettings,
        view: StateView,
    ) -> None:
        super().__init__(store, chaster, shared)
        self._view = view
        self._locks = locks
        self._settings = settings

    async def handle_webhook(self, envelope: WebhookEnvelope) -> None:
        """Act on one Chaster webhook delivery (already authenticated, parsed and de-duplicated)."""
        if (created := envelope.action_log_created) is not None:
            session_id, action_log = created.session_id, created.action_log
            if action_log.type not in TASK_LOG_TYPES or action_log.prefix not in (None, "default"):
                log.debug("action log %s on %s is not about tasks", action_log.type, session_id)
                return
            await self.sync_session(session_id, hint=action_log)
        elif (deleted := envelope.session_deleted) is not None:
            await self.end_session(deleted.session.session_id, CloseReason.LOCK_ENDED)
        else:
            log.debug("webhook %s acknowledged and ignored", envelope.event)

    async def sync_session(
        self, session_id: str, *, hint: ActionLog | None = None, background: bool = False
    ) -> None:
        """Read `session_id` now and bring every link to it in line with Chaster's state.

        The same path serves webhooks, polling, sweeps and start-up, so the feed never shows
        two versions of one task. A change this bot made itself (its own assign coming back as
        a webhook) finds the task already recorded and does nothing.
        """
        links = await self._store.open_links_for_session(session_id)
        if not links:
            return
        try:
            reading = await self._view.read(session_id, background=background)
        except ChasterError as error:
            if error.status == 404:
                # Chaster no longer knows the session: the lock is gone.
                await self.end_session(session_id, CloseReason.SESSION_GONE)
            else:
                log.warning("sync of %s skipped: %s", session_id, error.text)
            return
        await self._apply(reading, links, hint=hint, reread=True, background=background)

    async def apply(self, reading: Reading) -> None:
        """Bring every link to the reading's session in line with it, or with a newer reading
        (a sweep's result).

        A reading whose request went out before one of the bot's own writes to the session is
        not applied: it could show a task the bot has just closed as still current, and record
        it twice. The next sweep will see the session again.
        """
        links = await self._store.open_links_for_session(reading.session_id)
        await self._apply(reading, links, hint=None, reread=False, background=True)

    async def _apply(
        self,
        reading: Reading,
        links: list[SessionLink],
        *,
        hint: ActionLog | None,
        reread: bool,
        background: bool,
    ) -> None:
        """`apply` for these links; with `reread`, a stale reading is replaced by a new read
        (a webhook's change must not wait for the next sweep)."""
        session_id = reading.session_id
        if reading.lock.ended:
            await self.end_session(session_id, CloseReason.LOCK_ENDED)
            return
        for link in links:
            async with self._guards.of(link.guild_id, link.wearer_id):
                newest = self._view.offer(reading)
                if newest is None:
                    if not reread:
                        return
                    try:
                        newest = await self._view.read(session_id, background=background)
                    except ChasterError as error:
                        log.warning("sync of %s skipped: %s", session_id, error.text)
                        return
                reading = newest
                current = await self._store.get_link(link.id)
                if current is None or not current.is_open:
                    continue
                await self._locks.remember_keyholder(current, reading.lock)
                await self.sync_link(current, reading.lock, hint, background=background)

    async def sync_link(
        self, link: SessionLink, lock: LockState, hint: ActionLog | None, *, background: bool
    ) -> None:
        """Record what Chaster shows for one link (its wearer's mutex is held)."""
        tasks = lock.tasks
        if tasks is None:
            await self._close_without_tasks(link)
            return
        chaster_task = tasks.current_task
        open_task = await self._store.get_open_task(link.id)
        if open_task is not None and (
            chaster_task is None or not same_task(chaster_task.task, open_task.description)
        ):
            outcome = await self._outcome_in_chaster(link, open_task, hint, background)
            if outcome is None:
                # Neither completed nor failed is recorded yet: look again on the next sync
                # rather than guess.
                log.info("task %d left Chaster without a known outcome yet", open_task.id)
                return
            await self._close_from_chaster(link, open_task, outcome, tasks)
            open_task = None
        if chaster_task is not None and open_task is None:
            await self._record_task_from_chaster(link, chaster_task)

    async def _outcome_in_chaster(
        self, link: SessionLink, task: Task, hint: ActionLog | None, background: bool
    ) -> TaskState | None:
        candidates = [hint] if hint is not None else []
        if not any(_closes(log_entry, task) for log_entry in candidates):
            try:
                page = await self._chaster.search_logs(
                    link.chaster_session_id, background=background
                )
            except ChasterError as error:
                log.warning("history of %s unavailable: %s", link.chaster_session_id, error.text)
                return None
            candidates = page.results
        for entry in candidates:
            if _closes(entry, task):
                return TaskState.COMPLETED if entry.type == TASK_COMPLETED else TaskState.FAILED
        return None

    async def _close_from_chaster(
        self, link: SessionLink, task: Task, outcome: TaskState, tasks: TasksSnapshot
    ) -> None:
        points_total = points_required = None
        if outcome is TaskState.COMPLETED and tasks.enable_points:
            points_total = tasks.points
            points_required = tasks.points_required or None
        closed = await self._store.transition_task(
            task.id,
            from_states=OPEN_TASK_STATES,
            to_state=outcome,
            now=self._clock(),
            points_total=points_total,
            points_required=points_required,
        )
        if closed is not None:
            log.info(
                "sync: task %d %s in Chaster guild=%d wearer=%d",
                task.id,
                outcome,
                link.guild_id,
                link.wearer_id,
            )
            kind = EventKind.COMPLETED if outcome is TaskState.COMPLETED else EventKind.FAILED
            await self._events.task_event(kind, closed, link, None)

    async def _record_task_from_chaster(self, link: SessionLink, details: CurrentTask) -> None:
        duration = details.duration
        task = await self._store.create_task(
            link_id=link.id,
            description=clean_task_text(details.task),
            points=max(0, details.points),
            verification_required=details.verification_required,
            duration_seconds=duration
            if duration and MIN_DURATION_SECONDS <= duration <= MAX_DURATION_SECONDS
            else None,
            assigned_by=None,
            now=self._clock(),
            feed_channel_id=await self._settings.feed_channel_for(link),
        )
        log.info(
            "sync: task %d assigned in Chaster guild=%d wearer=%d",
            task.id,
            link.guild_id,
            link.wearer_id,
        )
        await self._events.task_event(EventKind.ASSIGNED, task, link, None)

    async def _close_without_tasks(self, link: SessionLink) -> None:
        """The Tasks extension left the lock, and its tasks' state in Chaster went with it:
        nothing can finish an open task any more, and left open it would block every assign."""
        task = await self._store.get_open_task(link.id)
        if task is None:
            return
        closed = await self._store.transition_task(
            task.id, from_states=OPEN_TASK_STATES, to_state=TaskState.FAILED, now=self._clock()
        )
        if closed is not None:
            log.info("task %d closed: the lock has no Tasks extension any more", task.id)
            await self._events.task_event(
                EventKind.FAILED, closed, link, None, counts_as_failure=False
            )

    async def end_session(self, session_id: str, reason: CloseReason) -> list[SessionLink]:
        """The lock ended in Chaster: close every link to the session and say so."""
        closed: list[SessionLink] = []
        for link in await self._store.open_links_for_session(session_id):
            async with self._guards.of(link.guild_id, link.wearer_id):
                done = await self._store.close_link(
                    link.id, closed_by=None, reason=reason, now=self._clock()
                )
            if done is None:
                continue
            closed.append(done)
            await self._events.publish(
                LinkEvent(
                    LinkEventKind.LOCK_ENDED,
                    link=done,
                    channel_id=await self._settings.feed_channel_for(done),
                )
            )
        self._view.forget(session_id)
        return closed

    async def finish_timer(self, task_id: int) -> Task | None:
        """A timer ran out: tell the wearer and keyholder, once, however often this is called."""
        task = await self._store.get_task(task_id)
        if task is None:
            return None
        link = await self._store.get_link(task.link_id)
        if link is None or not link.is_open:
            return None
        # Under the wearer's mutex, so the notice never races a completion of the same task.
        async with self._guards.of(link.guild_id, link.wearer_id):
            current = await self._store.get_task(task_id)
            if current is None or current.timer_ends_at is None:
                return None
            if current.timer_ends_at > self._clock():
                return None
            marked = await self._store.mark_timer_notified(task_id, now=self._clock())
            if marked is None:
                return None
            await self._events.task_event(EventKind.TIMER_FINISHED, marked, link, None)
            return marked

    async def resume(self) -> None:
        """After a restart: post feed messages that a crash kept from being posted."""
        for task in await self._store.tasks_missing_feed_message():
            link = await self._store.get_link(task.link_id)
            if link is not None and link.is_open:
                await self._events.task_event(EventKind.ASSIGNED, task, link, task.assigned_by)


def _closes(entry: ActionLog, task: Task) -> bool:
    """Whether a history entry records the end (completed or failed) of `task`."""
    if entry.type not in (TASK_COMPLETED, TASK_FAILED):
        return False
    details = entry.task_details()
    return details is None or same_task(details.task, task.description)
