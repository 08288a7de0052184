"""Deadlines and their reminders: a task still open when its deadline passes is failed in
Chaster as the extension, once; the wearer is reminded once before it. Neither does anything
while the link is paused (resuming moves the deadline later by the time paused), nor while the
task awaits the keyholder's confirmation."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.chaster import ChasterClient
from bot.core.actions import TaskActions
from bot.core.errors import Reason, Refused
from bot.core.model import EventKind
from bot.core.shared import Part, Shared
from bot.store import SessionLink, Store, Task, TaskState

log = logging.getLogger(__name__)

# Refusals that mean the task already left Chaster: the sync has recorded how it ended.
_SETTLED = (
    Reason.NOT_CURRENT_IN_CHASTER,
    Reason.NO_TASKS_EXTENSION_TASK_FAILED,
    Reason.TASK_CHANGED,
)
# Chaster's own refusal (a 4xx with its words): final, unlike a missing answer, which is
# tried again.
_REFUSED_BY_CHASTER = (Reason.CHASTER_SAID,)


def reminder_due(task: Task, link: SessionLink) -> datetime | None:
    """When the wearer is reminded of the task's deadline: the link's lead before it, and
    none for a deadline shorter than twice that lead (the reminder would come right away)."""
    if task.deadline_at is None:
        return None
    lead = timedelta(seconds=link.remind_before_seconds)
    if task.deadline_at - task.assigned_at < 2 * lead:
        return None
    return task.deadline_at - lead


class TaskDeadlines(Part):
    def __init__(
        self, store: Store, chaster: ChasterClient, shared: Shared, *, actions: TaskActions
    ) -> None:
        super().__init__(store, chaster, shared)
        self._actions = actions

    async def _due(self, task_id: int) -> tuple[Task, SessionLink] | None:
        """The task and its link when automation may act on it now: open, linked, not
        paused."""
        task = await self._store.get_task(task_id)
        if task is None or not task.is_open or task.deadline_at is None:
            return None
        link = await self._store.get_link(task.link_id)
        if link is None or not link.is_open or link.is_paused:
            return None
        return task, link

    async def expire(self, task_id: int) -> Task | None:
        """The task's deadline may have passed: fail it in Chaster if it is still open. Raises
        (to be tried again) when Chaster could not be told; returns the failed task, or None
        when there was nothing to do or Chaster refused it (never asked again)."""
        found = await self._due(task_id)
        if found is None:
            return None
        task, link = found
        async with self._guards.of(link.guild_id, link.wearer_id):
            # Again under the mutex: a completion or a pause may have come first.
            found = await self._due(task_id)
            if found is None:
                return None
            task, link = found
            assert task.deadline_at is not None
            if task.deadline_at > self._clock() or task.state is TaskState.AWAITING_CONFIRMATION:
                return None
            try:
                async with self._audit.automatic(
                    link.guild_id, "deadline.missed", detail=f"wearer={link.wearer_id}"
                ) as audit:
                    audit.link_id, audit.task_id = link.id, task.id
                    try:
                        failed = await self._actions.fail_missed(link, task)
                    except Refused as refusal:
                        if refusal.reason in _SETTLED:
                            log.info(
                                "task %d left Chaster before its deadline was acted on", task.id
                            )
                            return None
                        raise
            except Refused as refusal:
                if refusal.reason not in _REFUSED_BY_CHASTER:
                    raise
                # Chaster answered, and said no (a task that needs a photo cannot be closed
                # through the API): asking again would get the same answer every time. The
                # decision stands, so however the task ends later, it ends as missed.
                log.warning("Chaster refused to fail task %d at its deadline: %s", task.id, refusal)
                return None
            if failed is None:
                return None
            await self._events.task_event(EventKind.FAILED, failed, link, None)
            return failed

    async def remind(self, task_id: int) -> datetime | None:
        """Remind the wearer of the deadline, once. Returns when to look again, when the
        reminder's moment has moved later (the lead changed, or a pause moved the deadline)."""
        found = await self._due(task_id)
        if found is None:
            return None
        task, link = found
        due = reminder_due(task, link)
        now = self._clock()
        if due is None or task.reminded_at is not None:
            return None
        if due > now:
            return due
        assert task.deadline_at is not None
        if task.deadline_at <= now or task.state is TaskState.AWAITING_CONFIRMATION:
            return None
        marked = await self._store.mark_reminded(task.id, now=now)
        if marked is not None:
            await self._events.task_event(EventKind.DEADLINE_REMINDER, marked, link, None)
        return None

    async def reminder_of(self, task_id: int) -> datetime | None:
        """When the task's reminder is due, if it has one still to come."""
        task = await self._store.get_task(task_id)
        if task is None or task.reminded_at is not None:
            return None
        link = await self._store.get_link(task.link_id)
        return reminder_due(task, link) if link is not None else None
