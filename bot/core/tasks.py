"""Giving a wearer a task, and showing where it stands."""

from __future__ import annotations

import random
from datetime import timedelta

from bot.chaster import ChasterClient, ChasterError, ChasterUnavailable, TaskDetails
from bot.chaster.state import LockState, TasksSnapshot
from bot.core.chaster_errors import chaster_failed, trouble
from bot.core.durations import optional_span, parse_duration
from bot.core.errors import Consequence, Person, Reason, Refused, TaskText
from bot.core.library import Candidate, Library, Source, check_proof, draw
from bot.core.links import open_link
from bot.core.locks import ACT_FRESH_SECONDS, Locks
from bot.core.model import Caller, EventKind, TaskStatus
from bot.core.policy import Action, Rule, chaster_actor, require, role_of
from bot.core.settings import ServerSettings
from bot.core.shared import Part, Shared
from bot.core.state_view import StateView
from bot.core.text import check_description
from bot.store import Controls, Origin, Proof, SessionLink, Store, Task

# What an empty source is refused with.
_NOTHING_IN = {
    Source.LIBRARY: Reason.NOTHING_IN_LIBRARY,
    Source.LOCK: Reason.NOTHING_IN_LOCK_LIST,
    Source.BOTH: Reason.NOTHING_TO_DRAW,
}


class Tasks(Part):
    def __init__(
        self,
        store: Store,
        chaster: ChasterClient,
        shared: Shared,
        *,
        locks: Locks,
        settings: ServerSettings,
        view: StateView,
        library: Library,
        fresh_seconds: float,
        rng: random.Random,
    ) -> None:
        super().__init__(store, chaster, shared)
        self._library = library
        # Draws at random; seeded in tests.
        self._rng = rng
        self._locks = locks
        self._view = view
        # How old a reading /task status may show.
        self._fresh_seconds = fresh_seconds
        self._settings = settings

    async def assign(
        self,
        caller: Caller,
        wearer_id: int,
        *,
        description: str,
        points: int | None = None,
        verification_required: bool | None = None,
        duration: str | None = None,
        deadline: str | None = None,
        proof: Proof | None = None,
        channel_id: int,
    ) -> Task:
        """Give the wearer a task in Chaster (keyholder of record only). A description that
        names one of the caller's library entries, or a task of the wearer's lock list, takes
        what is left empty from it; any other needs its points."""
        async with self._audit.action(caller, "task.assign", detail=f"wearer={wearer_id}") as audit:
            # Every entry's text passes this too: bad text is refused first, as it always was.
            typed = check_description(description)
            if points is not None and points < 0:
                raise Refused(Reason.NEGATIVE_POINTS)
            seconds = parse_duration(duration) if duration and duration.strip() else None
            deadline_seconds = optional_span(deadline)
            async with self._guards.of(caller.guild_id, wearer_id):
                link = await open_link(self._store, caller.guild_id, wearer_id)
                audit.link_id = link.id
                granted = require(
                    Action.ASSIGN, role_of(caller, link), keyholder=Person(link.keyholder_id)
                )
                entry = await self._library.resolve(caller, link, typed)
                if entry is not None:
                    text = entry.description
                    points = entry.points if points is None else points
                    if verification_required is None:
                        verification_required = entry.verification_required
                    if seconds is None and not (duration and duration.strip()):
                        seconds = entry.duration_seconds
                    if deadline_seconds is None:
                        deadline_seconds = entry.deadline_seconds
                    if proof is None and not verification_required:
                        proof = entry.proof
                else:
                    text = typed
                    if points is None:
                        raise Refused(Reason.POINTS_NEEDED)
                check_proof(proof, verification_required=bool(verification_required))
                details = TaskDetails(
                    task=text,
                    points=points,
                    verification_required=bool(verification_required),
                    duration=seconds,
                )
                task = await self.give(
                    caller,
                    link,
                    granted,
                    details,
                    channel_id,
                    origin=None,
                    deadline_seconds=deadline_seconds,
                    proof=proof,
                )
                audit.task_id = task.id
                return task

    async def random(
        self,
        caller: Caller,
        wearer_id: int,
        *,
        source: Source = Source.BOTH,
        tag: str | None = None,
        deadline: str | None = None,
        proof: Proof | None = None,
        channel_id: int,
    ) -> Task:
        """Give the wearer a task drawn at random from `source` (keyholder of record only),
        never the text of their previous task while there is another choice."""
        async with (
            self._audit.action(
                caller, "task.random", detail=f"wearer={wearer_id} source={source}"
            ) as audit,
            self._guards.of(caller.guild_id, wearer_id),
        ):
            deadline_seconds = optional_span(deadline)
            link = await open_link(self._store, caller.guild_id, wearer_id)
            audit.link_id = link.id
            granted = require(
                Action.ASSIGN, role_of(caller, link), keyholder=Person(link.keyholder_id)
            )
            await self._require_no_open_task(link)
            pick = await self.pick(caller, link, source, tag)
            if proof is not None:
                # A drawn task that needs Chaster's own photo keeps it: both cannot go together.
                check_proof(proof, verification_required=pick.verification_required)
            task = await self.give(
                caller,
                link,
                granted,
                pick.details(),
                channel_id,
                origin=pick.origin,
                proof=proof or pick.proof,
                deadline_seconds=pick.deadline_seconds
                if deadline_seconds is None
                else deadline_seconds,
            )
            audit.task_id = task.id
            return task

    async def pick(
        self, caller: Caller, link: SessionLink, source: Source, tag: str | None
    ) -> Candidate:
        """A task drawn at random for the link from `source`, never the text of its previous
        task while there is another choice; Refused when there is nothing to draw."""
        pool = await self._library.candidates(caller, link, source, tag)
        if not pool:
            raise Refused(_NOTHING_IN[source], wearer=Person(link.wearer_id))
        previous = await self._store.latest_task(link.id)
        [pick] = draw(pool, previous.description if previous else None, self._rng)
        return pick

    async def _require_no_open_task(self, link: SessionLink) -> None:
        open_task = await self._store.get_open_task(link.id)
        if open_task is not None:
            raise Refused(
                Reason.OPEN_TASK_EXISTS,
                wearer=Person(link.wearer_id),
                task=TaskText(open_task.description),
                state=open_task.state,
            )

    async def give(
        self,
        caller: Caller,
        link: SessionLink,
        granted: Rule,
        details: TaskDetails,
        channel_id: int | None,
        *,
        origin: Origin | None,
        deadline_seconds: int | None = None,
        schedule_id: int | None = None,
        proof: Proof | None = None,
    ) -> Task:
        """Assign `details` in Chaster and record it, with its deadline counted from now; the
        caller holds the wearer's guard. A task with `proof` is assigned without Chaster's
        own verification, so that the bot can close it on its photo's verdict."""
        await self._require_no_open_task(link)
        lock: LockState | None = None
        if link.keyholder_is_lock_keyholder is None:
            # The actor is not known yet (a link from an older version): read the session
            # once, and check Chaster's side while at it.
            lock = await self._locks.read(link, within=ACT_FRESH_SECONDS)
            _require_free(_require_tasks(lock), link.wearer_id)
        # Otherwise no read first: Chaster itself refuses an assign while a task or a vote is
        # current (its message reaches the user), and one request per assign doubles how many
        # fit in Chaster's rate limit.
        actor = chaster_actor(
            granted, holds_lock=await self._locks.keyholder_holds_lock(link, lock)
        )
        try:
            await self._chaster.assign_task(link.chaster_session_id, details, actor)
        except ChasterUnavailable as error:
            # Never sent again: a second assign could give the wearer two tasks.
            await self._require_assign_landed(link, details.task, error)
        except ChasterError as error:
            raise await self._locks.refusal_for(link, error, assigning=True) from None
        now = self._clock()
        if deadline_seconds is None:
            # The lock's default deadline, from its configuration page.
            deadline_seconds = link.default_deadline_seconds
        task = await self._store.create_task(
            link_id=link.id,
            description=details.task,
            points=details.points,
            verification_required=details.verification_required,
            duration_seconds=details.duration,
            assigned_by=caller.user_id,
            now=now,
            feed_channel_id=await self._settings.feed_channel_for(link, fallback=channel_id),
            origin=origin,
            deadline_at=now + timedelta(seconds=deadline_seconds) if deadline_seconds else None,
            schedule_id=schedule_id,
            proof=proof,
        )
        await self._events.task_event(EventKind.ASSIGNED, task, link, caller.user_id)
        return task

    async def may_assign(self, caller: Caller, wearer_id: int) -> None:
        """Refused unless the caller could assign the wearer a task now: before a form opens,
        so nobody types a task only to be told they may not give it."""
        link = await open_link(self._store, caller.guild_id, wearer_id)
        require(Action.ASSIGN, role_of(caller, link), keyholder=Person(link.keyholder_id))

    async def _require_assign_landed(
        self, link: SessionLink, text: str, error: ChasterUnavailable
    ) -> None:
        """After an assign without a usable answer: return if Chaster shows our task as the
        current one, else raise Refused saying what is known."""
        if not error.may_have_applied:
            raise chaster_failed(error, Consequence.NOTHING_ASSIGNED)
        landed = await self._locks.is_current(link, text)
        if landed is None:
            raise Refused(Reason.ASSIGN_OUTCOME_UNKNOWN, trouble=trouble(error))
        if not landed:
            raise Refused(Reason.ASSIGN_DID_NOT_LAND, trouble=trouble(error))

    async def status(self, caller: Caller, wearer_id: int) -> TaskStatus:
        """The wearer's link, task and Chaster points (wearer and keyholder only)."""
        async with self._audit.action(caller, "task.status", detail=f"wearer={wearer_id}") as audit:
            link = await open_link(self._store, caller.guild_id, wearer_id)
            audit.link_id = link.id
            require(Action.STATUS, role_of(caller, link))
            task = await self._store.get_open_task(link.id) or await self._store.latest_task(
                link.id
            )
            penalties = tuple(await self._store.penalties_of(link.id))
            try:
                reading = await self._view.read(link.chaster_session_id, within=self._fresh_seconds)
            except ChasterError as error:
                problem = (
                    Refused(Reason.SESSION_GONE)
                    if error.status == 404
                    else Refused(Reason.STATUS_CHASTER_UNAVAILABLE, trouble=trouble(error))
                )
                return TaskStatus(
                    link=link, task=task, chaster=None, chaster_problem=problem, penalties=penalties
                )
            if reading.lock.tasks is None:
                return TaskStatus(
                    link=link,
                    task=task,
                    chaster=None,
                    chaster_problem=Refused(Reason.NO_TASKS_EXTENSION),
                    read_at=reading.read_at,
                    penalties=penalties,
                )
            return TaskStatus(
                link=link,
                task=task,
                chaster=reading.lock.tasks,
                chaster_problem=None,
                read_at=reading.read_at,
                penalties=penalties,
            )

    async def for_message(self, message_id: int) -> Task | None:
        """The task a feed message shows."""
        return await self._store.get_task_by_feed_message(message_id)

    async def get(self, task_id: int) -> Task | None:
        """A task by its number (a button's custom id carries it)."""
        return await self._store.get_task(task_id)

    async def link_of(self, task: Task) -> SessionLink | None:
        return await self._store.get_link(task.link_id)

    async def feed_shown(self, task: Task) -> None:
        """Its feed message shows `task` as it is now."""
        await self._store.mark_feed_shown(task.id, task.updated_at)

    async def stale_feed(self, *, settle_seconds: float, limit: int) -> list[Task]:
        """Tasks changed in the last day (but not in the last `settle_seconds`, which the feed
        is still showing) whose feed message shows an older state or was never posted."""
        now = self._clock()
        return await self._store.tasks_with_stale_feed(
            updated_after=now - timedelta(days=1),
            updated_before=now - timedelta(seconds=settle_seconds),
            limit=limit,
        )

    async def attach_feed_message(
        self, task_id: int, channel_id: int, message_id: int, controls: Controls
    ) -> Task:
        """Remember the message that shows the task and what it carries, so reactions find it
        even after a restart and its later edits keep its controls."""
        return await self._store.set_feed_message(
            task_id, channel_id=channel_id, message_id=message_id, controls=controls
        )


def _require_free(tasks: TasksSnapshot, wearer_id: int) -> None:
    """Refuse an assign while Chaster shows a vote or a current task."""
    if tasks.status == "vote":
        raise Refused(Reason.VOTE_RUNNING)
    if tasks.current_task is not None:
        raise Refused(
            Reason.CHASTER_HAS_TASK, wearer=Person(wearer_id), task=tasks.current_task.task
        )


def _require_tasks(lock: LockState) -> TasksSnapshot:
    tasks = lock.tasks
    if tasks is None:
        raise Refused(Reason.NO_TASKS_EXTENSION)
    return tasks
