"""Acting on a wearer's open task: start its timer, complete it (or ask the keyholder to
confirm a wearer's completion), fail it. Commands, reactions and buttons all end here."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.chaster import Actor, ChasterClient, ChasterError, ChasterUnavailable
from bot.chaster.state import LockState
from bot.core.chaster_errors import chaster_failed, chaster_refused, trouble
from bot.core.errors import Consequence, NotAllowed, Person, Reason, Refused
from bot.core.links import open_link
from bot.core.locks import ACT_FRESH_SECONDS, Locks
from bot.core.model import Caller, EventKind, TaskAction
from bot.core.policy import Action, May, Role, Rule, chaster_actor, require, role_of
from bot.core.proof_rules import require_open_to, under_review
from bot.core.settings import ServerSettings
from bot.core.shared import Part, Shared
from bot.core.sync import Sync
from bot.core.text import same_task
from bot.store import OPEN_TASK_STATES, SessionLink, Store, Task, TaskState

log = logging.getLogger(__name__)

_POLICY_ACTION = {
    TaskAction.START: Action.START,
    TaskAction.COMPLETE: Action.COMPLETE,
    TaskAction.FAIL: Action.FAIL,
    TaskAction.CONFIRM: Action.CONFIRM,
    TaskAction.REJECT: Action.REJECT,
}


class TaskActions(Part):
    def __init__(
        self,
        store: Store,
        chaster: ChasterClient,
        shared: Shared,
        *,
        locks: Locks,
        sync: Sync,
        settings: ServerSettings,
    ) -> None:
        super().__init__(store, chaster, shared)
        self._locks = locks
        self._sync = sync
        self._settings = settings

    async def act(self, caller: Caller, wearer_id: int, action: TaskAction) -> Task:
        """/task start|complete|fail for the wearer's open task."""
        async with (
            self._audit.action(caller, f"task.{action}", detail=f"wearer={wearer_id}") as audit,
            self._guards.of(caller.guild_id, wearer_id),
        ):
            link = await open_link(self._store, caller.guild_id, wearer_id)
            audit.link_id = link.id
            task = await self._store.get_open_task(link.id)
            if task is None:
                require(
                    _POLICY_ACTION[action],
                    role_of(caller, link),
                    refusal=Reason.ONLY_INVOLVED_ACT_ON_THEIR_TASKS,
                )
                raise Refused(Reason.NO_OPEN_TASK, wearer=Person(wearer_id))
            audit.task_id = task.id
            return await self._act(caller, link, task, action)

    async def act_on_message(
        self, caller: Caller, task: Task, action: TaskAction, *, via: str = "reaction"
    ) -> Task:
        """A reaction or a button (`via` says which, for the audit) on a task's feed message."""
        async with self._audit.action(caller, f"{via}.{action}") as audit:
            audit.task_id = task.id
            link = await self._store.get_link(task.link_id)
            if link is None or link.guild_id != caller.guild_id:
                raise NotAllowed(Reason.TASK_FROM_OTHER_SERVER)
            audit.link_id = link.id
            audit.detail = f"wearer={link.wearer_id}"
            async with self._guards.of(link.guild_id, link.wearer_id):
                # Re-read under the mutex: an unlink or another action may have come first.
                current = await self._store.get_task(task.id)
                fresh = await self._store.get_link(link.id)
                if current is None:
                    raise Refused(Reason.TASK_GONE)
                if fresh is None or not fresh.is_open:
                    # Not their task: refused like any stranger's reaction.
                    require(_POLICY_ACTION[action], role_of(caller, fresh or link))
                    raise Refused(Reason.WEARER_UNLINKED)
                return await self._act(caller, fresh, current, action)

    async def _act(self, caller: Caller, link: SessionLink, task: Task, action: TaskAction) -> Task:
        role = role_of(caller, link)
        granted = require(_POLICY_ACTION[action], role)
        if not task.state.is_open:
            raise Refused(Reason.TASK_CLOSED, state=task.state)
        await require_open_to(self._store, task, action, role)
        if action is TaskAction.START:
            return await self._start_timer(caller, granted, link, task)
        if action is TaskAction.COMPLETE:
            return await self._complete(caller, role, granted, link, task)
        if action in (TaskAction.CONFIRM, TaskAction.REJECT):
            # A press on a message that still shows an answered request: nothing to judge.
            if task.state is not TaskState.AWAITING_CONFIRMATION:
                raise Refused(Reason.NOT_AWAITING_CONFIRMATION, state=task.state)
            if action is TaskAction.CONFIRM:
                return await self._complete(caller, role, granted, link, task)
            return await self._reject(caller, link, task)
        return await self._fail(caller, granted, link, task)

    async def _start_timer(
        self, caller: Caller, granted: Rule, link: SessionLink, task: Task
    ) -> Task:
        if task.duration_seconds is None:
            raise Refused(Reason.NOT_TIMED)
        if task.state is not TaskState.ASSIGNED:
            raise Refused(Reason.TIMER_ALREADY_STARTED, at=task.timer_ends_at)
        lock = await self._require_current(link, task)
        actor = await self._actor(granted, link, lock)
        try:
            await self._chaster.start_task_timer(link.chaster_session_id, actor)
        except ChasterUnavailable as error:
            if not error.may_have_applied:
                raise chaster_failed(error, Consequence.TIMER_NOT_STARTED) from None
            await self._confirm_timer_started(link, actor, task)
        except ChasterError as error:
            raise await self._locks.refusal_for(link, error, assigning=False) from None
        now = self._clock()
        updated = await self._transition(
            task,
            (TaskState.ASSIGNED,),
            TaskState.TIMER_RUNNING,
            timer_started_by=caller.user_id,
            timer_started_at=now,
            timer_ends_at=now + timedelta(seconds=task.duration_seconds),
        )
        await self._events.task_event(EventKind.TIMER_STARTED, updated, link, caller.user_id)
        return updated

    async def _confirm_timer_started(self, link: SessionLink, actor: Actor, task: Task) -> None:
        """After a lost answer to start-timer: make sure the timer runs, or raise Refused.

        Sending it again is safe, unlike an assign: a timer starts at most once. Success means
        the first call never landed. A refusal means it did only if Chaster says the timer is
        running: from the current task's timer field when Chaster sends one, otherwise from a
        validation-style refusal (400, 409, 422) while our task is still the current one.
        Anything else is Chaster's own refusal, and nothing is recorded.
        """
        try:
            await self._chaster.start_task_timer(link.chaster_session_id, actor)
            return
        except ChasterUnavailable as error:
            raise Refused(Reason.TIMER_OUTCOME_UNKNOWN, trouble=trouble(error)) from None
        except ChasterError as error:
            refusal = error
        if refusal.status in (400, 409, 422):
            try:
                lock = await self._locks.read(link)
            except Refused:
                raise chaster_refused(refusal) from None
            current = lock.tasks.current_task if lock.tasks is not None else None
            if (
                current is not None
                and same_task(current.task, task.description)
                and current.timer_started is not False
            ):
                return
        raise chaster_refused(refusal)

    async def _complete(
        self, caller: Caller, role: Role, granted: Rule, link: SessionLink, task: Task
    ) -> Task:
        if task.verification_required:
            raise Refused(Reason.NEEDS_PHOTO)
        if task.duration_seconds is not None:
            if task.state is TaskState.ASSIGNED:
                raise Refused(Reason.START_TIMER_FIRST)
            if task.timer_ends_at is not None and task.timer_ends_at > self._clock():
                raise Refused(Reason.TIMER_RUNNING, at=task.timer_ends_at)
        if granted.may is May.ASKS:
            # The lock's own default (its configuration page) before the server's setting.
            allowed = link.wearer_can_complete
            if allowed is None:
                allowed = (await self._settings.of(link.guild_id)).wearer_can_complete
            if not allowed:
                return await self._request_confirmation(caller, link, task)
        lock = await self._require_current(link, task)
        actor = await self._actor(granted, link, lock)
        await self._close_in_chaster(link, task, actor, completed=True)
        points_total, points_required = _points_after_completion(lock)
        updated = await self._transition(
            task,
            OPEN_TASK_STATES,
            TaskState.COMPLETED,
            closed_by=caller.user_id,
            closed_at=self._clock(),
            points_total=points_total,
            points_required=points_required,
        )
        await self._events.task_event(EventKind.COMPLETED, updated, link, caller.user_id)
        return updated

    async def _request_confirmation(self, caller: Caller, link: SessionLink, task: Task) -> Task:
        if task.state is TaskState.AWAITING_CONFIRMATION:
            raise Refused(Reason.ALREADY_AWAITING_CONFIRMATION, keyholder=Person(link.keyholder_id))
        updated = await self._transition(
            task,
            (TaskState.ASSIGNED, TaskState.TIMER_RUNNING),
            TaskState.AWAITING_CONFIRMATION,
            confirmation_requested_by=caller.user_id,
            confirmation_requested_at=self._clock(),
        )
        await self._events.task_event(
            EventKind.CONFIRMATION_REQUESTED, updated, link, caller.user_id
        )
        return updated

    async def _reject(self, caller: Caller, link: SessionLink, task: Task) -> Task:
        """The keyholder does not accept the wearer's "done": the task is open again, as it was
        before the wearer asked. Chaster never heard of the request, so nothing is sent."""
        reopened = TaskState.TIMER_RUNNING if task.timer_started_at else TaskState.ASSIGNED
        updated = await self._transition(
            task,
            (TaskState.AWAITING_CONFIRMATION,),
            reopened,
            confirmation_requested_by=None,
            confirmation_requested_at=None,
        )
        await self._events.task_event(
            EventKind.CONFIRMATION_REJECTED, updated, link, caller.user_id
        )
        return updated

    async def _fail(self, caller: Caller, granted: Rule, link: SessionLink, task: Task) -> Task:
        # The keyholder may fail a task whose photo is under review; the review already
        # carries the link's consequence as its punishment, which Chaster runs if the photo
        # is rejected, so the bot adds none of its own (it would be applied twice).
        reviewing = await under_review(self._store, task) is not None
        lock = await self._require_current(link, task)
        actor = await self._actor(granted, link, lock)
        await self._close_in_chaster(link, task, actor, completed=False)
        updated = await self._transition(
            task,
            OPEN_TASK_STATES,
            TaskState.FAILED,
            closed_by=caller.user_id,
            closed_at=self._clock(),
        )
        await self._events.task_event(
            EventKind.FAILED, updated, link, caller.user_id, counts_as_failure=not reviewing
        )
        return updated

    async def fail_missed(self, link: SessionLink, task: Task) -> Task | None:
        """Fail a task whose deadline passed, as the extension (the caller holds the wearer's
        mutex). Refused, with the stored state brought in line, when it is no longer Chaster's
        current task; None when another change came first.

        The decision is recorded once Chaster shows the task still current, and before it is
        told: whichever way the task then ends (this call, or the sync after a crash), it ends
        as a missed deadline; and a task the wearer failed in Chaster just before is not one.
        """
        if await under_review(self._store, task) is not None:
            # The photo came in time: its verdict ends the task.
            return None
        await self._require_current(link, task)
        if task.deadline_missed_at is None:
            marked = await self._store.mark_deadline_missed(task.id, now=self._clock())
            if marked is None:
                return None
            task = marked
        await self._close_in_chaster(link, task, Actor.EXTENSION, completed=False)
        return await self._transition(
            task, OPEN_TASK_STATES, TaskState.FAILED, closed_at=self._clock()
        )

    async def close_for_verdict(self, link: SessionLink, task: Task, *, completed: bool) -> Task:
        """Complete or fail a task as its photo's verdict says, as the extension (the caller
        holds the wearer's mutex); Refused, with the stored state brought in line, when it is
        no longer Chaster's current task."""
        lock = await self._require_current(link, task)
        await self._close_in_chaster(link, task, Actor.EXTENSION, completed=completed)
        total, required = _points_after_completion(lock) if completed else (None, None)
        return await self._transition(
            task,
            OPEN_TASK_STATES,
            TaskState.COMPLETED if completed else TaskState.FAILED,
            closed_at=self._clock(),
            points_total=total,
            points_required=required,
        )

    async def _actor(self, granted: Rule, link: SessionLink, lock: LockState) -> Actor:
        return chaster_actor(granted, holds_lock=await self._locks.keyholder_holds_lock(link, lock))

    async def _close_in_chaster(
        self, link: SessionLink, task: Task, actor: Actor, *, completed: bool
    ) -> None:
        try:
            await self._chaster.complete_task(
                link.chaster_session_id, actor, is_completed=completed
            )
        except ChasterUnavailable as error:
            if not error.may_have_applied:
                raise chaster_failed(error) from None
            # Never sent again: a second complete would close whatever task came next. It
            # landed exactly when our task is no longer Chaster's current one (it was current
            # just before: _require_current checked).
            current = await self._locks.is_current(link, task.description)
            if current is False:
                return
            if current is None:
                raise Refused(Reason.CLOSE_OUTCOME_UNKNOWN, trouble=trouble(error)) from None
            raise chaster_failed(error) from None
        except ChasterError as error:
            raise await self._locks.refusal_for(link, error, assigning=False) from None

    async def _require_current(self, link: SessionLink, task: Task) -> LockState:
        """Read Chaster and make sure `task` is still its current task.

        Chaster's start-timer and complete act on whatever task is current, so without this a
        reaction on an old feed message could finish a newer task assigned inside Chaster.
        When they differ, the stored state is brought in line first.
        """
        lock = await self._locks.read(link, within=ACT_FRESH_SECONDS)
        current = lock.tasks.current_task if lock.tasks is not None else None
        if current is None or not same_task(current.task, task.description):
            await self._sync.sync_link(link, lock, None, background=False)
            if lock.tasks is None:
                raise Refused(Reason.NO_TASKS_EXTENSION_TASK_FAILED)
            raise Refused(Reason.NOT_CURRENT_IN_CHASTER)
        return lock

    async def _transition(
        self,
        task: Task,
        from_states: tuple[TaskState, ...],
        to_state: TaskState,
        **fields: datetime | int | None,
    ) -> Task:
        updated = await self._store.transition_task(
            task.id, from_states=from_states, to_state=to_state, now=self._clock(), **fields
        )
        if updated is None:
            # Chaster already accepted the change; only a concurrent local write can get here.
            log.error(
                "task %d changed while moving to %s; Chaster already did it", task.id, to_state
            )
            raise Refused(Reason.TASK_CHANGED)
        return updated


def _points_after_completion(lock: LockState) -> tuple[int | None, int | None]:
    """The wearer's points and target once the current task is completed, when Chaster counts
    points: completing adds the task's points (read just before, so no read is needed after)."""
    tasks = lock.tasks
    if tasks is None or not tasks.enable_points or tasks.current_task is None:
        return None, None
    total = tasks.points + tasks.current_task.points
    return total, tasks.points_required or None
