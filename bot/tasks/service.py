"""The task service: every way in (command, reaction, webhook, poll and timer) ends here.

It decides who may do what, picks the Chaster actor, calls Chaster, records the new state and
emits an event for the feed. It knows nothing about Discord beyond user, server, channel and
message ids.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from http import HTTPStatus

from bot.chaster import (
    ActionLog,
    Actor,
    ChasterClient,
    ChasterError,
    ChasterUnavailable,
    ExtensionSession,
    InvalidSessionId,
    Lock,
    TaskDetails,
    TasksState,
    WebhookEnvelope,
)
from bot.chaster.client import record_calls
from bot.chaster.models import TASK_COMPLETED, TASK_FAILED, TASK_LOG_TYPES
from bot.store import (
    OPEN_TASK_STATES,
    AuditResult,
    GuildSettings,
    LinkExists,
    LinkRequest,
    LinkRequestNotPending,
    LinkRequestState,
    SessionLink,
    Store,
    Task,
    TaskState,
)
from bot.tasks.durations import MAX_DURATION_SECONDS, MIN_DURATION_SECONDS, parse_duration
from bot.tasks.errors import ChasterRefused, NotAllowed, Refused
from bot.tasks.text import check_description, clean_task_text, quotable, same_task

log = logging.getLogger(__name__)

LINK_REQUEST_TTL = timedelta(minutes=15)
NO_TASKS_EXTENSION = "The lock no longer has the Tasks extension in Chaster."
SESSION_GONE = (
    "Chaster no longer has this wearer's session (the lock may have ended). "
    "Use /unlink and link the new lock."
)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Caller:
    """The person asking, in the server where they asked."""

    user_id: int
    guild_id: int
    can_manage_guild: bool = False


class Role(StrEnum):
    KEYHOLDER = "keyholder"
    WEARER = "wearer"


class TaskAction(StrEnum):
    """What a person can do to an open task."""

    START = "start"
    COMPLETE = "complete"
    FAIL = "fail"


class EventKind(StrEnum):
    ASSIGNED = "assigned"
    TIMER_STARTED = "timer_started"
    TIMER_FINISHED = "timer_finished"
    CONFIRMATION_REQUESTED = "confirmation_requested"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True)
class TaskEvent:
    """Something happened to a task; `channel_id` is the feed channel it belongs in.

    `by_user_id` is the Discord user who did it, or None when it happened inside Chaster or
    the bot did it on its own (a timer running out).
    """

    kind: EventKind
    task: Task
    link: SessionLink
    channel_id: int | None
    by_user_id: int | None


class LinkEventKind(StrEnum):
    REQUESTED = "requested"
    REQUEST_EXPIRED = "request_expired"
    LOCK_ENDED = "lock_ended"


@dataclass(frozen=True)
class LinkEvent:
    """Something happened to a link or a link request."""

    kind: LinkEventKind
    link: SessionLink | None = None
    request: LinkRequest | None = None
    channel_id: int | None = None


Event = TaskEvent | LinkEvent
EventHandler = Callable[[Event], Awaitable[None]]


@dataclass(frozen=True)
class LinkOutcome:
    """The result of /link: a link made at once, or a request waiting for the wearer's ✅."""

    link: SessionLink | None
    request: LinkRequest | None
    lock_title: str | None


@dataclass(frozen=True)
class TaskStatus:
    """What /task status shows: the link, its open (or latest) task, and Chaster's view."""

    link: SessionLink
    task: Task | None
    chaster: TasksState | None
    chaster_error: str | None


class TaskService:
    """The rules for links and tasks, shared by every entry point."""

    def __init__(
        self,
        store: Store,
        chaster: ChasterClient,
        extension_slug: str,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.chaster = chaster
        self.extension_slug = extension_slug
        self.clock = clock
        self._handlers: list[EventHandler] = []
        # One action at a time per (server, wearer): a double ✅ must not complete twice.
        self._wearer_locks: dict[tuple[int, int], asyncio.Lock] = {}

    def subscribe(self, handler: EventHandler) -> None:
        """Call `handler` for every event (the feed and the timers subscribe)."""
        self._handlers.append(handler)

    # -- settings ---------------------------------------------------------------------------

    async def set_feed_channel(
        self, caller: Caller, channel_id: int, *, unusable_because: str | None = None
    ) -> GuildSettings:
        """Post the feed in `channel_id`; `unusable_because` says why the bot can't post there."""
        async with self._audited(caller, "settings.feed", detail=f"channel={channel_id}"):
            self._require_manage_guild(caller)
            if unusable_because is not None:
                raise Refused(unusable_because)
            return await self.store.set_feed_channel(caller.guild_id, channel_id)

    async def set_wearer_can_complete(self, caller: Caller, allowed: bool) -> GuildSettings:
        async with self._audited(caller, "settings.wearer-complete", detail=f"allowed={allowed}"):
            self._require_manage_guild(caller)
            return await self.store.set_wearer_can_complete(caller.guild_id, allowed)

    @staticmethod
    def _require_manage_guild(caller: Caller) -> None:
        if not caller.can_manage_guild:
            raise NotAllowed("You need the Manage Server permission to change the bot's settings.")

    # -- links ------------------------------------------------------------------------------

    async def link(
        self, caller: Caller, wearer_id: int, session_id: str | None, channel_id: int
    ) -> LinkOutcome:
        """Link a Chaster session to `wearer_id` here, or ask the wearer to consent."""
        async with (
            self._audited(caller, "link", detail=f"wearer={wearer_id}") as audit,
            self._wearer_lock(caller.guild_id, wearer_id),
        ):
            if await self.store.get_open_link(caller.guild_id, wearer_id) is not None:
                raise Refused(f"<@{wearer_id}> is already linked here. Use /unlink first.")
            session = await self._find_session(wearer_id, session_id)
            lock = session.lock
            audit.detail += f" session={session.session_id}"
            if lock.user.discord_id is not None and lock.user.discord_id != str(wearer_id):
                raise Refused(f"That Chaster lock belongs to someone else, not <@{wearer_id}>.")
            if lock.tasks is None:
                raise Refused(
                    "That lock does not have the Tasks extension. "
                    "Add Tasks to the lock in Chaster, then try again."
                )
            now = self.clock()
            keyholder_discord_id = lock.keyholder.discord_id if lock.keyholder else None
            invoker_is_keyholder = keyholder_discord_id == str(caller.user_id)
            if not invoker_is_keyholder and lock.user.discord_id is None:
                # Nothing proves that this Discord user wears the lock: only the lock's own
                # keyholder (whose Discord id Chaster confirms) may link it.
                raise Refused(
                    "That lock's wearer has no Discord account connected on Chaster, so I "
                    "can't check who wears it. Connect Discord in Chaster, or ask the lock's "
                    "keyholder to run /link."
                )
            if caller.user_id == wearer_id and not invoker_is_keyholder:
                if lock.keyholder is not None:
                    raise Refused(
                        "Your lock has a keyholder on Chaster. Ask them (or the person you want "
                        "as keyholder here) to run /link; you will be asked to confirm."
                    )
                # A self-lock: the wearer manages their own tasks here.
                invoker_is_keyholder = True
            if invoker_is_keyholder:
                link = await self._create_link(
                    caller.guild_id, wearer_id, caller.user_id, session, now, channel_id
                )
                audit.link_id = link.id
                return LinkOutcome(link=link, request=None, lock_title=lock.title)
            request = await self.store.create_link_request(
                guild_id=caller.guild_id,
                channel_id=channel_id,
                wearer_id=wearer_id,
                requested_by=caller.user_id,
                chaster_session_id=session.session_id,
                lock_id=lock.id,
                now=now,
                expires_at=now + LINK_REQUEST_TTL,
            )
            audit.detail += " pending-consent"
            await self._publish(LinkEvent(LinkEventKind.REQUESTED, request=request))
            return LinkOutcome(link=None, request=request, lock_title=lock.title)

    async def _create_link(
        self,
        guild_id: int,
        wearer_id: int,
        keyholder_id: int,
        session: ExtensionSession,
        now: datetime,
        channel_id: int,
    ) -> SessionLink:
        try:
            return await self.store.create_link(
                guild_id=guild_id,
                wearer_id=wearer_id,
                keyholder_id=keyholder_id,
                chaster_session_id=session.session_id,
                lock_id=session.lock.id,
                now=now,
                channel_id=channel_id,
                keyholder_is_lock_keyholder=_holds_lock(session.lock, keyholder_id),
            )
        except LinkExists:
            raise Refused(f"<@{wearer_id}> is already linked here. Use /unlink first.") from None

    async def _find_session(self, wearer_id: int, session_id: str | None) -> ExtensionSession:
        if session_id is not None:
            try:
                return await self.chaster.get_session(session_id.strip())
            except InvalidSessionId as error:
                raise Refused(f"`{quotable(session_id, 80)}`: {error}") from None
            except ChasterError as error:
                if error.status == 404:
                    raise Refused(
                        f"Chaster has no session `{quotable(session_id, 80)}` for this extension."
                    ) from None
                raise _chaster_failed(error, "nothing was linked") from None
        try:
            sessions = await self.chaster.search_sessions(self.extension_slug, status="locked")
        except ChasterError as error:
            raise _chaster_failed(error, "nothing was linked") from None
        mine = [s for s in sessions if s.lock.user.discord_id == str(wearer_id)]
        if not mine:
            raise Refused(
                f"I found no locked Chaster session with this extension for <@{wearer_id}>. "
                "Their Chaster account must be connected to Discord, or pass `session_id`."
            )
        if len(mine) > 1:
            ids = ", ".join(f"`{s.session_id}`" for s in mine[:5])
            raise Refused(f"<@{wearer_id}> has several locked sessions ({ids}): pass `session_id`.")
        return mine[0]

    async def link_request_for_message(self, message_id: int) -> LinkRequest | None:
        return await self.store.get_link_request_by_message(message_id)

    async def attach_link_request_message(self, request_id: int, message_id: int) -> LinkRequest:
        return await self.store.set_link_request_message(request_id, message_id)

    async def cancel_link_request(self, request_id: int) -> None:
        """Withdraw a request that could not be shown to the wearer (no message was posted)."""
        await self.store.resolve_link_request(
            request_id, LinkRequestState.CANCELLED, now=self.clock()
        )

    async def confirm_link(self, caller: Caller, request: LinkRequest) -> SessionLink:
        """The wearer's ✅ on a link request: the requester becomes keyholder of record."""
        async with (
            self._audited(caller, "link.confirm", detail=f"request={request.id}") as audit,
            self._wearer_lock(request.guild_id, request.wearer_id),
        ):
            if caller.guild_id != request.guild_id or caller.user_id != request.wearer_id:
                raise NotAllowed("Only the wearer named in the request can accept it.")
            now = self.clock()
            if request.state is not LinkRequestState.PENDING:
                raise Refused(f"This link request is {request.state}.")
            if request.expires_at <= now:
                # The same path as the expiry timer, so the request message says so too.
                await self.expire_link_request(request.id)
                raise Refused("This link request has expired. Ask for a new /link.")
            try:
                link = await self.store.accept_link_request(request.id, now=now)
            except LinkRequestNotPending:
                raise Refused("This link request is no longer pending.") from None
            except LinkExists:
                raise Refused("You are already linked here. Use /unlink first.") from None
            audit.link_id = link.id
            return link

    async def unlink(self, caller: Caller, wearer_id: int) -> SessionLink:
        """Close the wearer's link: the keyholder of record, the wearer or a manager may."""
        async with (
            self._audited(caller, "unlink", detail=f"wearer={wearer_id}") as audit,
            self._wearer_lock(caller.guild_id, wearer_id),
        ):
            link = await self._open_link(caller.guild_id, wearer_id)
            audit.link_id = link.id
            # A server manager may too: links are this server's business (say, after the
            # keyholder left it), and unlinking changes nothing in Chaster.
            if self._role(caller, link) is None and not caller.can_manage_guild:
                raise NotAllowed(
                    "Only the wearer, their keyholder of record or a server manager can unlink."
                )
            closed = await self.store.close_link(
                link.id, closed_by=caller.user_id, reason="unlinked", now=self.clock()
            )
            if closed is None:
                raise Refused(f"<@{wearer_id}> is not linked here.")
            return closed

    # -- tasks ------------------------------------------------------------------------------

    async def assign(
        self,
        caller: Caller,
        wearer_id: int,
        *,
        description: str,
        points: int,
        verification_required: bool = False,
        duration: str | None = None,
        channel_id: int,
    ) -> Task:
        """Give the wearer a task in Chaster (keyholder of record only)."""
        async with self._audited(caller, "task.assign", detail=f"wearer={wearer_id}") as audit:
            text = check_description(description)
            if points < 0:
                raise Refused("Points cannot be negative.")
            seconds = (
                parse_duration(duration) if duration is not None and duration.strip() else None
            )
            async with self._wearer_lock(caller.guild_id, wearer_id):
                link = await self._open_link(caller.guild_id, wearer_id)
                audit.link_id = link.id
                if self._role(caller, link) is not Role.KEYHOLDER:
                    raise NotAllowed(
                        f"Only <@{link.keyholder_id}>, the keyholder, can assign tasks."
                    )
                open_task = await self.store.get_open_task(link.id)
                if open_task is not None:
                    raise Refused(
                        f"<@{wearer_id}> already has an open task: “{open_task.description}” "
                        f"({open_task.state.label}). Complete or fail it first."
                    )
                lock: Lock | None = None
                if link.keyholder_is_lock_keyholder is None:
                    # The actor is not known yet (a link from an older version): read the
                    # session once, and check Chaster's side while at it.
                    lock = await self._read_lock(link)
                    _require_free(_require_tasks(lock), wearer_id)
                # Otherwise no read first: Chaster itself refuses an assign while a task or a
                # vote is current (its message reaches the user), and one request per assign
                # doubles how many fit in Chaster's rate limit.
                actor = await self._actor_for(Role.KEYHOLDER, link, lock)
                details = TaskDetails(
                    task=text,
                    points=points,
                    verification_required=verification_required,
                    duration=seconds,
                )
                try:
                    await self.chaster.assign_task(link.chaster_session_id, details, actor)
                except ChasterUnavailable as error:
                    # Never sent again: a second assign could give the wearer two tasks.
                    await self._require_assign_landed(link, text, error)
                except ChasterError as error:
                    raise await self._refusal_for(link, error, assigning=True) from None
                task = await self.store.create_task(
                    link_id=link.id,
                    description=text,
                    points=points,
                    verification_required=verification_required,
                    duration_seconds=seconds,
                    assigned_by=caller.user_id,
                    now=self.clock(),
                    feed_channel_id=await self.feed_channel_for(link, fallback=channel_id),
                )
                audit.task_id = task.id
                await self._emit(EventKind.ASSIGNED, task, link, caller.user_id)
                return task

    async def _require_assign_landed(
        self, link: SessionLink, text: str, error: ChasterUnavailable
    ) -> None:
        """After an assign without a usable answer: return if Chaster shows our task as the
        current one, else raise Refused saying what is known."""
        if not error.may_have_applied:
            raise _chaster_failed(error, "nothing was assigned")
        landed = await self._is_current(link, text)
        if landed is None:
            raise Refused(
                f"{_chaster_trouble(error)}, and I can't tell whether the task was assigned. "
                "Check /task status in a moment before assigning again."
            )
        if not landed:
            raise Refused(
                f"{_chaster_trouble(error)}, and Chaster shows no new task: nothing was "
                "assigned. Try again."
            )

    async def _is_current(self, link: SessionLink, text: str) -> bool | None:
        """Whether Chaster's current task is the one with this text; None if it can't be read."""
        try:
            tasks = (await self.chaster.get_session(link.chaster_session_id)).lock.tasks
        except ChasterError:
            return None
        current = tasks.current_task if tasks is not None else None
        return current is not None and same_task(current.task, text)

    async def act(self, caller: Caller, wearer_id: int, action: TaskAction) -> Task:
        """/task start|complete|fail for the wearer's open task."""
        async with (
            self._audited(caller, f"task.{action}", detail=f"wearer={wearer_id}") as audit,
            self._wearer_lock(caller.guild_id, wearer_id),
        ):
            link = await self._open_link(caller.guild_id, wearer_id)
            audit.link_id = link.id
            task = await self.store.get_open_task(link.id)
            if task is None:
                if self._role(caller, link) is None:
                    raise NotAllowed("Only the wearer or their keyholder can act on their tasks.")
                raise Refused(f"<@{wearer_id}> has no open task.")
            audit.task_id = task.id
            return await self._act(caller, link, task, action)

    async def task_for_message(self, message_id: int) -> Task | None:
        return await self.store.get_task_by_feed_message(message_id)

    async def act_on_message(self, caller: Caller, task: Task, action: TaskAction) -> Task:
        """A reaction on a task's feed message."""
        async with self._audited(caller, f"reaction.{action}") as audit:
            audit.task_id = task.id
            link = await self.store.get_link(task.link_id)
            if link is None or link.guild_id != caller.guild_id:
                raise NotAllowed("That task is not from this server.")
            audit.link_id = link.id
            audit.detail = f"wearer={link.wearer_id}"
            async with self._wearer_lock(link.guild_id, link.wearer_id):
                # Re-read under the lock: an unlink or another action may have come first.
                current = await self.store.get_task(task.id)
                fresh = await self.store.get_link(link.id)
                if current is None:
                    raise Refused("That task no longer exists.")
                if fresh is None or not fresh.is_open:
                    if self._role(caller, fresh or link) is None:
                        # Not their task: removed quietly, like any stranger's reaction.
                        raise NotAllowed("Only the wearer or their keyholder can act on this task.")
                    raise Refused("This wearer is no longer linked here.")
                return await self._act(caller, fresh, current, action)

    async def _act(self, caller: Caller, link: SessionLink, task: Task, action: TaskAction) -> Task:
        role = self._role(caller, link)
        if role is None:
            raise NotAllowed("Only the wearer or their keyholder can act on this task.")
        if not task.state.is_open:
            raise Refused(f"This task is already {task.state.label}.")
        if action is TaskAction.START:
            return await self._start_timer(caller, role, link, task)
        if action is TaskAction.COMPLETE:
            return await self._complete(caller, role, link, task)
        return await self._fail(caller, role, link, task)

    async def _start_timer(self, caller: Caller, role: Role, link: SessionLink, task: Task) -> Task:
        if task.duration_seconds is None:
            raise Refused("This task is not timed; there is no timer to start.")
        if task.state is not TaskState.ASSIGNED:
            raise Refused(
                "The timer has already been started; it ends {at}.", at=task.timer_ends_at
            )
        lock = await self._require_current(link, task)
        actor = await self._actor_for(role, link, lock)
        try:
            await self.chaster.start_task_timer(link.chaster_session_id, actor)
        except ChasterUnavailable as error:
            if not error.may_have_applied:
                raise _chaster_failed(error, "the timer was not started") from None
            await self._confirm_timer_started(link, actor, task)
        except ChasterError as error:
            raise await self._refusal_for(link, error) from None
        now = self.clock()
        updated = await self._transition(
            task,
            (TaskState.ASSIGNED,),
            TaskState.TIMER_RUNNING,
            timer_started_by=caller.user_id,
            timer_started_at=now,
            timer_ends_at=now + timedelta(seconds=task.duration_seconds),
        )
        await self._emit(EventKind.TIMER_STARTED, updated, link, caller.user_id)
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
            await self.chaster.start_task_timer(link.chaster_session_id, actor)
            return
        except ChasterUnavailable as error:
            raise Refused(
                f"{_chaster_trouble(error)}, so I can't tell whether the timer started. "
                "Check /task status in a moment, then try again."
            ) from None
        except ChasterError as error:
            refusal = error
        if refusal.status in (400, 409, 422):
            try:
                lock = (await self.chaster.get_session(link.chaster_session_id)).lock
            except ChasterError:
                raise _chaster_refused(refusal) from None
            current = lock.tasks.current_task if lock.tasks is not None else None
            if (
                current is not None
                and same_task(current.task, task.description)
                and current.timer_started() is not False
            ):
                return
        raise _chaster_refused(refusal)

    async def _complete(self, caller: Caller, role: Role, link: SessionLink, task: Task) -> Task:
        if task.verification_required:
            raise Refused(
                "This task needs a verification photo: the wearer must finish it in Chaster's "
                "Tasks page (Chaster does not let bots complete it)."
            )
        if task.duration_seconds is not None:
            if task.state is TaskState.ASSIGNED:
                raise Refused("Start the timer first (▶️ or /task start).")
            if task.timer_ends_at is not None and task.timer_ends_at > self.clock():
                raise Refused("The timer is still running; it ends {at}.", at=task.timer_ends_at)
        if role is Role.WEARER:
            settings = await self.store.get_guild_settings(link.guild_id)
            if not settings.wearer_can_complete:
                return await self._request_confirmation(caller, link, task)
        lock = await self._require_current(link, task)
        actor = await self._actor_for(role, link, lock)
        await self._close_in_chaster(link, task, actor, completed=True)
        points_total, points_required = _points_after_completion(lock)
        updated = await self._transition(
            task,
            OPEN_TASK_STATES,
            TaskState.COMPLETED,
            closed_by=caller.user_id,
            closed_at=self.clock(),
            points_total=points_total,
            points_required=points_required,
        )
        await self._emit(EventKind.COMPLETED, updated, link, caller.user_id)
        return updated

    async def _request_confirmation(self, caller: Caller, link: SessionLink, task: Task) -> Task:
        if task.state is TaskState.AWAITING_CONFIRMATION:
            raise Refused(f"Already waiting for <@{link.keyholder_id}> to confirm.")
        updated = await self._transition(
            task,
            (TaskState.ASSIGNED, TaskState.TIMER_RUNNING),
            TaskState.AWAITING_CONFIRMATION,
            confirmation_requested_by=caller.user_id,
            confirmation_requested_at=self.clock(),
        )
        await self._emit(EventKind.CONFIRMATION_REQUESTED, updated, link, caller.user_id)
        return updated

    async def _fail(self, caller: Caller, role: Role, link: SessionLink, task: Task) -> Task:
        lock = await self._require_current(link, task)
        actor = await self._actor_for(role, link, lock)
        await self._close_in_chaster(link, task, actor, completed=False)
        updated = await self._transition(
            task,
            OPEN_TASK_STATES,
            TaskState.FAILED,
            closed_by=caller.user_id,
            closed_at=self.clock(),
        )
        await self._emit(EventKind.FAILED, updated, link, caller.user_id)
        return updated

    async def _close_in_chaster(
        self, link: SessionLink, task: Task, actor: Actor, *, completed: bool
    ) -> None:
        try:
            await self.chaster.complete_task(link.chaster_session_id, actor, is_completed=completed)
        except ChasterUnavailable as error:
            if not error.may_have_applied:
                raise _chaster_failed(error) from None
            # Never sent again: a second complete would close whatever task came next. It
            # landed exactly when our task is no longer Chaster's current one (it was current
            # just before: _require_current checked).
            current = await self._is_current(link, task.description)
            if current is False:
                return
            if current is None:
                raise Refused(
                    f"{_chaster_trouble(error)}, and I can't tell whether the task was closed "
                    "there. Check /task status in a moment before trying again."
                ) from None
            raise _chaster_failed(error) from None
        except ChasterError as error:
            raise await self._refusal_for(link, error) from None

    async def _require_current(self, link: SessionLink, task: Task) -> Lock:
        """Read Chaster and make sure `task` is still its current task.

        Chaster's start-timer and complete act on whatever task is current, so without this a
        reaction on an old feed message could finish a newer task assigned inside Chaster.
        When they differ, the stored state is brought in line first.
        """
        lock = await self._read_lock(link)
        current = lock.tasks.current_task if lock.tasks is not None else None
        if current is None or not same_task(current.task, task.description):
            await self._sync_link(link, lock, None, background=False)
            if lock.tasks is None:
                raise Refused(
                    f"{NO_TASKS_EXTENSION} This task can't be finished any more, so it is now "
                    "closed as failed. Add Tasks to the lock in Chaster to assign new tasks."
                )
            raise Refused(
                "That task is no longer the current one in Chaster (it was finished or "
                "replaced there); the feed now shows what Chaster has."
            )
        return lock

    async def _close_without_tasks(self, link: SessionLink) -> None:
        """The Tasks extension left the lock, and its tasks' state in Chaster went with it:
        nothing can finish an open task any more, and left open it would block every assign."""
        task = await self.store.get_open_task(link.id)
        if task is None:
            return
        closed = await self.store.transition_task(
            task.id, from_states=OPEN_TASK_STATES, to_state=TaskState.FAILED, now=self.clock()
        )
        if closed is not None:
            log.info("task %d closed: the lock has no Tasks extension any more", task.id)
            await self._emit(EventKind.FAILED, closed, link, None)

    async def _refusal_for(
        self, link: SessionLink, error: ChasterError, *, assigning: bool = False
    ) -> Refused:
        """Chaster refused a task action. Its 404 means either the session or the lock's Tasks
        extension is gone, in words that may not say which: read the session to tell."""
        if error.status != 404:
            return _chaster_refused(error)
        try:
            lock = await self._read_lock(link)
        except Refused as refusal:
            return refusal
        if lock.tasks is None:
            advice = "then try again" if assigning else "then assign a new task"
            return Refused(f"{NO_TASKS_EXTENSION} Add Tasks to the lock in Chaster, {advice}.")
        return _chaster_refused(error)

    async def status(self, caller: Caller, wearer_id: int) -> TaskStatus:
        """The wearer's link, task and Chaster points (wearer and keyholder only)."""
        async with self._audited(caller, "task.status", detail=f"wearer={wearer_id}") as audit:
            link = await self._open_link(caller.guild_id, wearer_id)
            audit.link_id = link.id
            if self._role(caller, link) is None:
                raise NotAllowed("Only the wearer or their keyholder can see their task status.")
            task = await self.store.get_open_task(link.id) or await self.store.latest_task(link.id)
            try:
                lock = (await self.chaster.get_session(link.chaster_session_id)).lock
            except ChasterError as error:
                if error.status == 404:
                    trouble = SESSION_GONE
                else:
                    trouble = f"{_chaster_trouble(error)}; its side can't be shown right now."
                return TaskStatus(link=link, task=task, chaster=None, chaster_error=trouble)
            if lock.tasks is None:
                return TaskStatus(
                    link=link,
                    task=task,
                    chaster=None,
                    chaster_error=NO_TASKS_EXTENSION,
                )
            return TaskStatus(link=link, task=task, chaster=lock.tasks, chaster_error=None)

    async def feed_channel_for(
        self, link: SessionLink, *, fallback: int | None = None
    ) -> int | None:
        """Where the link's messages go now: the server's feed channel if it has one, else
        `fallback` (the channel of the command at hand), else the channel of its /link."""
        settings = await self.store.get_guild_settings(link.guild_id)
        return settings.feed_channel_id or fallback or link.channel_id

    async def attach_feed_message(self, task_id: int, channel_id: int, message_id: int) -> Task:
        """Remember the message that shows the task, so reactions find it even after a restart."""
        return await self.store.set_feed_message(
            task_id, channel_id=channel_id, message_id=message_id
        )

    # -- what happens without a command: timers, expiry, Chaster-side changes ---------------

    async def finish_timer(self, task_id: int) -> Task | None:
        """A timer ran out: tell the wearer and keyholder, once, however often this is called."""
        task = await self.store.get_task(task_id)
        if task is None:
            return None
        link = await self.store.get_link(task.link_id)
        if link is None or not link.is_open:
            return None
        # Under the wearer's lock, so the notice never races a completion of the same task.
        async with self._wearer_lock(link.guild_id, link.wearer_id):
            current = await self.store.get_task(task_id)
            if current is None or current.timer_ends_at is None:
                return None
            if current.timer_ends_at > self.clock():
                return None
            marked = await self.store.mark_timer_notified(task_id, now=self.clock())
            if marked is None:
                return None
            await self._emit(EventKind.TIMER_FINISHED, marked, link, None)
            return marked

    async def expire_link_request(self, request_id: int) -> LinkRequest | None:
        """A link request reached its expiry without the wearer's consent."""
        request = await self.store.get_link_request(request_id)
        if request is None or request.expires_at > self.clock():
            return None
        expired = await self.store.resolve_link_request(
            request_id, LinkRequestState.EXPIRED, now=self.clock()
        )
        if expired is not None:
            await self._publish(
                LinkEvent(
                    LinkEventKind.REQUEST_EXPIRED, request=expired, channel_id=expired.channel_id
                )
            )
        return expired

    async def end_session(self, session_id: str, reason: str) -> list[SessionLink]:
        """The lock ended in Chaster: close every link to the session and say so."""
        closed: list[SessionLink] = []
        for link in await self.store.open_links_for_session(session_id):
            async with self._wearer_lock(link.guild_id, link.wearer_id):
                done = await self.store.close_link(
                    link.id, closed_by=None, reason=reason, now=self.clock()
                )
            if done is None:
                continue
            closed.append(done)
            await self._publish(
                LinkEvent(
                    LinkEventKind.LOCK_ENDED,
                    link=done,
                    channel_id=await self.feed_channel_for(done),
                )
            )
        return closed

    async def handle_webhook(self, envelope: WebhookEnvelope) -> None:
        """Act on one Chaster webhook delivery (already authenticated, parsed and de-duplicated)."""
        if (created := envelope.action_log_created) is not None:
            session_id, action_log = created.session_id, created.action_log
            if action_log.type not in TASK_LOG_TYPES or action_log.prefix not in (None, "default"):
                log.debug("action log %s on %s is not about tasks", action_log.type, session_id)
                return
            await self.sync_session(session_id, hint=action_log)
        elif (deleted := envelope.session_deleted) is not None:
            await self.end_session(deleted.session.session_id, "lock ended in Chaster")
        else:
            log.debug("webhook %s acknowledged and ignored", envelope.event)

    async def sync_session(
        self, session_id: str, *, hint: ActionLog | None = None, background: bool = False
    ) -> None:
        """Bring every link to `session_id` in line with Chaster's state.

        The same path serves webhooks, polling and start-up, so the feed never shows two
        versions of one task. A change this bot made itself (its own assign coming back as a
        webhook) finds the task already recorded and does nothing.
        """
        for link in await self.store.open_links_for_session(session_id):
            async with self._wearer_lock(link.guild_id, link.wearer_id):
                # Read Chaster inside the lock: a state read before a concurrent command
                # finished would look like a new task and be recorded twice.
                try:
                    session = await self.chaster.get_session(session_id, background=background)
                except ChasterError as error:
                    if error.status == 404:
                        break
                    log.warning("sync of %s skipped: %s", session_id, error.text)
                    return
                current = await self.store.get_link(link.id)
                if current is None or not current.is_open:
                    continue
                await self._remember_keyholder(current, session.lock)
                await self._sync_link(current, session.lock, hint, background)
        else:
            return
        # Chaster no longer knows the session: the lock is gone.
        await self.end_session(session_id, "session no longer exists in Chaster")

    async def _sync_link(
        self, link: SessionLink, lock: Lock, hint: ActionLog | None, background: bool
    ) -> None:
        tasks = lock.tasks
        if tasks is None:
            await self._close_without_tasks(link)
            return
        chaster_task = tasks.current_task
        open_task = await self.store.get_open_task(link.id)
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
                page = await self.chaster.search_logs(
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
        self, link: SessionLink, task: Task, outcome: TaskState, tasks: TasksState
    ) -> None:
        points_total = points_required = None
        if outcome is TaskState.COMPLETED and tasks.config.enable_points:
            points_total = tasks.user_data.points
            points_required = tasks.config.points_required or None
        closed = await self.store.transition_task(
            task.id,
            from_states=OPEN_TASK_STATES,
            to_state=outcome,
            now=self.clock(),
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
            await self._emit(kind, closed, link, None)

    async def _record_task_from_chaster(self, link: SessionLink, details: TaskDetails) -> None:
        duration = details.duration
        task = await self.store.create_task(
            link_id=link.id,
            description=clean_task_text(details.task),
            points=max(0, details.points),
            verification_required=details.verification_required,
            duration_seconds=duration
            if duration and MIN_DURATION_SECONDS <= duration <= MAX_DURATION_SECONDS
            else None,
            assigned_by=None,
            now=self.clock(),
            feed_channel_id=await self.feed_channel_for(link),
        )
        log.info(
            "sync: task %d assigned in Chaster guild=%d wearer=%d",
            task.id,
            link.guild_id,
            link.wearer_id,
        )
        await self._emit(EventKind.ASSIGNED, task, link, None)

    async def resume(self) -> None:
        """After a restart: post feed messages that a crash kept from being posted."""
        for task in await self.store.tasks_missing_feed_message():
            link = await self.store.get_link(task.link_id)
            if link is not None and link.is_open:
                await self._emit(EventKind.ASSIGNED, task, link, task.assigned_by)

    # -- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _role(caller: Caller, link: SessionLink) -> Role | None:
        if caller.guild_id != link.guild_id:
            return None
        # The keyholder role wins: on a self-lock the wearer is their own keyholder of record.
        if caller.user_id == link.keyholder_id:
            return Role.KEYHOLDER
        if caller.user_id == link.wearer_id:
            return Role.WEARER
        return None

    async def _actor_for(self, role: Role, link: SessionLink, lock: Lock | None = None) -> Actor:
        """Who Chaster is told acted: never a keyholder who did not act themselves."""
        if role is Role.WEARER:
            return Actor.WEARER
        if lock is not None:
            holds_lock = _holds_lock(lock, link.keyholder_id)
        elif link.keyholder_is_lock_keyholder is not None:
            holds_lock = link.keyholder_is_lock_keyholder
        else:
            holds_lock = _holds_lock(await self._read_lock(link), link.keyholder_id)
        # "keyholder" only for the lock's own keyholder (Chaster would show the action in their
        # name); on a self-lock, or for someone the wearer accepted, the bot acts as itself.
        return Actor.KEYHOLDER if holds_lock else Actor.EXTENSION

    async def _read_lock(self, link: SessionLink) -> Lock:
        try:
            lock = (await self.chaster.get_session(link.chaster_session_id)).lock
        except ChasterError as error:
            if error.status == 404:
                raise Refused(SESSION_GONE) from None
            raise _chaster_failed(error) from None
        await self._remember_keyholder(link, lock)
        return lock

    async def _remember_keyholder(self, link: SessionLink, lock: Lock) -> None:
        """Keep the link's actor fact in step with the lock (its keyholder can change)."""
        holds_lock = _holds_lock(lock, link.keyholder_id)
        if link.keyholder_is_lock_keyholder is not holds_lock:
            await self.store.set_keyholder_is_lock_keyholder(link.id, holds_lock)

    async def _open_link(self, guild_id: int, wearer_id: int) -> SessionLink:
        link = await self.store.get_open_link(guild_id, wearer_id)
        if link is None:
            raise Refused(f"<@{wearer_id}> is not linked to a Chaster lock here. Use /link first.")
        return link

    async def _transition(
        self,
        task: Task,
        from_states: tuple[TaskState, ...],
        to_state: TaskState,
        **fields: datetime | int | None,
    ) -> Task:
        updated = await self.store.transition_task(
            task.id, from_states=from_states, to_state=to_state, now=self.clock(), **fields
        )
        if updated is None:
            # Chaster already accepted the change; only a concurrent local write can get here.
            log.error(
                "task %d changed while moving to %s; Chaster already did it", task.id, to_state
            )
            raise Refused("The task changed while I was working on it; check its status.")
        return updated

    async def _emit(
        self, kind: EventKind, task: Task, link: SessionLink, by_user_id: int | None
    ) -> None:
        await self._publish(
            TaskEvent(
                kind=kind,
                task=task,
                link=link,
                channel_id=task.feed_channel_id,
                by_user_id=by_user_id,
            )
        )

    async def _publish(self, event: Event) -> None:
        for handler in self._handlers:
            try:
                await handler(event)
            except Exception:
                # The change already happened in Chaster and in the store; a feed failure must
                # not turn it into an error for the person who asked.
                log.exception("event handler failed for %s", event.kind)

    def _wearer_lock(self, guild_id: int, wearer_id: int) -> asyncio.Lock:
        return self._wearer_locks.setdefault((guild_id, wearer_id), asyncio.Lock())

    @asynccontextmanager
    async def _audited(
        self, caller: Caller, action: str, *, detail: str = ""
    ) -> AsyncIterator[_Audit]:
        """Record the action in the audit log and in one log line, whatever its outcome."""
        audit = _Audit(detail=detail)
        started = time.monotonic()
        with record_calls() as calls:
            try:
                yield audit
            except Refused as refusal:
                await self._record(caller, action, "refused", audit, refusal.message)
                self._log(logging.INFO, action, "refused", caller, audit, calls, started)
                raise
            except Exception as error:
                await self._record(caller, action, "error", audit, type(error).__name__)
                self._log(logging.WARNING, action, "error", caller, audit, calls, started)
                raise
            else:
                await self._record(caller, action, "ok", audit, "")
                self._log(logging.INFO, action, "ok", caller, audit, calls, started)

    @staticmethod
    def _log(
        level: int,
        action: str,
        result: str,
        caller: Caller,
        audit: _Audit,
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
            audit.detail,
            audit.task_id if audit.task_id is not None else "-",
            ", ".join(calls),
            (time.monotonic() - started) * 1000,
        )

    async def _record(
        self, caller: Caller, action: str, result: AuditResult, audit: _Audit, reason: str
    ) -> None:
        detail = f"{audit.detail} {reason}".strip()
        try:
            await self.store.record_audit(
                action=action,
                result=result,
                guild_id=caller.guild_id,
                user_id=caller.user_id,
                detail=detail[:1000],
                link_id=audit.link_id,
                task_id=audit.task_id,
                now=self.clock(),
            )
        except Exception:
            log.exception("could not record audit entry for %s", action)


@dataclass
class _Audit:
    detail: str
    link_id: int | None = None
    task_id: int | None = None


def _points_after_completion(lock: Lock) -> tuple[int | None, int | None]:
    """The wearer's points and target once the current task is completed, when Chaster counts
    points: completing adds the task's points (read just before, so no read is needed after)."""
    tasks = lock.tasks
    if tasks is None or not tasks.config.enable_points or tasks.current_task is None:
        return None, None
    total = tasks.user_data.points + tasks.current_task.points
    return total, tasks.config.points_required or None


def _closes(entry: ActionLog, task: Task) -> bool:
    """Whether a history entry records the end (completed or failed) of `task`."""
    if entry.type not in (TASK_COMPLETED, TASK_FAILED):
        return False
    details = entry.task_details()
    return details is None or same_task(details.task, task.description)


def _holds_lock(lock: Lock, keyholder_id: int) -> bool:
    """Whether Chaster shows this Discord user as the lock's keyholder."""
    return lock.keyholder is not None and lock.keyholder.discord_id == str(keyholder_id)


def _require_free(tasks: TasksState, wearer_id: int) -> None:
    """Refuse an assign while Chaster shows a vote or a current task."""
    if tasks.user_data.status == "vote":
        raise Refused("A task vote is running in Chaster; wait until it ends.")
    if tasks.current_task is not None:
        raise Refused(
            f"Chaster already shows a task for <@{wearer_id}>: "
            f"“{tasks.current_task.task}”. It must be finished there first."
        )


def _require_tasks(lock: Lock) -> TasksState:
    tasks = lock.tasks
    if tasks is None:
        raise Refused(NO_TASKS_EXTENSION)
    return tasks


def _chaster_refused(error: ChasterError) -> ChasterRefused:
    if error.status == HTTPStatus.UNAUTHORIZED:
        return ChasterRefused(error.text, error.status, message=f"{_chaster_trouble(error)}.")
    return ChasterRefused(error.text, error.status)


def _chaster_trouble(error: ChasterError) -> str:
    """Why Chaster gave no usable answer, as the start of a sentence."""
    if error.status == HTTPStatus.UNAUTHORIZED:
        # Nobody in Discord can fix this: it is the bot's own credentials.
        return (
            f"Chaster refused the bot's API token (HTTP {error.status}); whoever runs the bot "
            "should check CHASTER_API_TOKEN"
        )
    if isinstance(error, ChasterUnavailable) and error.status is not None:
        if error.status == HTTPStatus.TOO_MANY_REQUESTS:
            return "Chaster is limiting how often the bot may call it"
        if error.status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            return f"Chaster is having trouble (HTTP {error.status}: {error.text})"
    if not isinstance(error, ChasterUnavailable):
        return f"Chaster said: {error.text}"
    return error.text


def _chaster_failed(error: ChasterError, consequence: str = "nothing was changed") -> Refused:
    """A Chaster failure for the person who asked: its own refusal (4xx) in its words, or, when
    it gave no usable answer, what went wrong and that trying again later is safe."""
    if isinstance(error, ChasterUnavailable):
        return ChasterRefused(
            error.text,
            error.status,
            message=f"{_chaster_trouble(error)}; {consequence}. Try again in a moment.",
        )
    return _chaster_refused(error)
