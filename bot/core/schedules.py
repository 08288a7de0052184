"""Schedules: a keyholder's routine for a wearer, fired by the bot on its own.

Each occasion is claimed in the store (with the schedule moved on to its next occasion) before
anything is asked of Chaster, so it is acted on at most once, whatever crashes in between. An
occasion that finds the wearer with an open task is skipped, not queued; one that passed while
the bot was down fires on start-up if it is less than an hour late, otherwise it is reported
as missed; one that falls in a pause is skipped without a word (the pause said so).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, time, timedelta

from bot.chaster import ChasterClient
from bot.core.chaster_errors import log_retry
from bot.core.durations import optional_span
from bot.core.errors import Reason, Refused, TaskText, Typed
from bot.core.library import Candidate, Library, Source, check_tag
from bot.core.links import open_link
from bot.core.locks import Locks
from bot.core.model import AutomationEvent, AutomationEventKind, Caller, Later
from bot.core.occasions import (
    Recurrence,
    next_occasion,
    occasions_between,
    parse_at,
    parse_every,
    recurrence,
    zone_named,
)
from bot.core.policy import AUTOMATION, Action, require, role_of
from bot.core.settings import ServerSettings
from bot.core.shared import Part, Shared
from bot.core.tasks import Tasks
from bot.store import OccasionState, Proof, Schedule, SessionLink, Store, Task

log = logging.getLogger(__name__)

# How late an occasion may still fire (after the bot was down).
GRACE = timedelta(hours=1)
SCHEDULE_LIMIT = 25
# How long after a failed try a schedule is looked at again.
RETRY = timedelta(seconds=30)
_NUMBER = re.compile(r"#?([0-9]{1,18})")


def recurrence_of(schedule: Schedule) -> Recurrence:
    hour, minute = (int(part) for part in schedule.at.split(":"))
    return Recurrence(
        every=schedule.every,
        hours=schedule.hours,
        at=time(hour, minute),
        zone=schedule.timezone,
        weekday=schedule.weekday,
    )


class Schedules(Part):
    def __init__(
        self,
        store: Store,
        chaster: ChasterClient,
        shared: Shared,
        *,
        tasks: Tasks,
        library: Library,
        locks: Locks,
        settings: ServerSettings,
        later: Later,
    ) -> None:
        super().__init__(store, chaster, shared)
        self._tasks = tasks
        self._library = library
        self._locks = locks
        self._settings = settings
        self._later = later

    async def add(
        self,
        caller: Caller,
        wearer_id: int,
        *,
        every: str,
        at: str,
        entry: str | None = None,
        source: str | None = None,
        timezone: str | None = None,
        tag: str | None = None,
        deadline: str | None = None,
        proof: Proof | None = None,
    ) -> Schedule:
        """Schedule a library entry, or a random draw from `source`, for the wearer (keyholder
        of record only), in `timezone` or the server's."""
        async with self._audit.action(
            caller, "schedule.add", detail=f"wearer={wearer_id}"
        ) as audit:
            kind, hours = parse_every(every)
            local_time = parse_at(at)
            deadline_seconds = optional_span(deadline)
            tag = check_tag(tag)
            drawn_from = _source(entry, source)
            link = await open_link(self._store, caller.guild_id, wearer_id)
            audit.link_id = link.id
            require(Action.SCHEDULE, role_of(caller, link))
            zone = zone_named(timezone or (await self._settings.of(caller.guild_id)).timezone)
            entry_id = None
            if entry is not None:
                entry_id = await self._entry_id(caller, link, entry)
            if len(await self._store.schedules_of_link(link.id)) >= SCHEDULE_LIMIT:
                raise Refused(Reason.SCHEDULES_FULL, count=SCHEDULE_LIMIT)
            now = self._clock()
            rule = recurrence(kind, hours, local_time, zone.key, starting=now)
            schedule = await self._store.create_schedule(
                link_id=link.id,
                guild_id=caller.guild_id,
                wearer_id=wearer_id,
                created_by=caller.user_id,
                entry_id=entry_id,
                source=drawn_from.value if drawn_from is not None else None,
                tag=tag if drawn_from is not None else None,
                every=kind,
                hours=hours,
                at=f"{local_time:%H:%M}",
                weekday=rule.weekday,
                timezone=zone.key,
                deadline_seconds=deadline_seconds,
                next_at=next_occasion(rule, now),
                now=now,
                proof=proof,
            )
            audit.detail += f" schedule={schedule.id}"
            self.wake(schedule.id, schedule.next_at)
            return schedule

    async def _entry_id(self, caller: Caller, link: SessionLink, named: str) -> int:
        found = await self._library.resolve(caller, link, named)
        if found is None or found.entry_id is None:
            # A task of the lock's list is no entry: the schedule must name one it can keep.
            raise Refused(Reason.NO_ENTRY_NAMED, typed=Typed(named))
        return found.entry_id

    async def remove(self, caller: Caller, schedule: str) -> Schedule:
        """Remove a schedule, by its number (keyholder of record only)."""
        async with self._audit.action(
            caller, "schedule.remove", detail=f"schedule={schedule[:20]}"
        ):
            number = _NUMBER.fullmatch(schedule.strip())
            found = await self._store.get_schedule(int(number[1])) if number else None
            link = await self._store.get_link(found.link_id) if found is not None else None
            if found is None or link is None or found.guild_id != caller.guild_id:
                raise Refused(Reason.NO_SUCH_SCHEDULE, typed=Typed(schedule))
            require(Action.SCHEDULE, role_of(caller, link))
            removed = await self._store.remove_schedule(found.id, now=self._clock())
            if removed is None:
                raise Refused(Reason.NO_SUCH_SCHEDULE, typed=Typed(schedule))
            return removed

    async def of_wearer(self, caller: Caller, wearer_id: int) -> list[Schedule]:
        """The wearer's schedules (wearer and keyholder of record only)."""
        link = await open_link(self._store, caller.guild_id, wearer_id)
        require(Action.STATUS, role_of(caller, link))
        return await self._store.schedules_of_link(link.id)

    async def removable(self, caller: Caller) -> list[Schedule]:
        """The schedules the caller may remove here: those of wearers they hold."""
        found = []
        for link in await self._store.open_links_held_by(caller.guild_id, caller.user_id):
            found += await self._store.schedules_of_link(link.id)
        return found

    async def entry_text(self, schedule: Schedule) -> TaskText | None:
        """The text of the entry a schedule names, None when it draws or the entry is gone."""
        if schedule.entry_id is None:
            return None
        found = await self._library.entry(schedule.guild_id, schedule.created_by, schedule.entry_id)
        return TaskText(found.description) if found is not None else None

    # -- firing ------------------------------------------------------------------------------

    def wake(self, schedule_id: int, when: datetime) -> None:
        """Look at the schedule at `when`, and from then on at each of its occasions."""

        async def look() -> None:
            try:
                next_at = await self.fire(schedule_id)
            except Exception as error:
                log_retry(log, error, "schedule %d could not fire", schedule_id)
                next_at = self._clock() + RETRY
            if next_at is not None:
                self.wake(schedule_id, next_at)

        self._later(when, f"schedule {schedule_id}", look)

    async def fire(self, schedule_id: int) -> datetime | None:
        """Act on the schedule's occasions that have come; returns when to look again (None
        once it is removed)."""
        schedule = await self._store.get_schedule(schedule_id)
        if schedule is None or schedule.removed_at is not None:
            return None
        now = self._clock()
        if schedule.next_at > now:
            return schedule.next_at
        link = await self._store.get_link(schedule.link_id)
        if link is None or not link.is_open:
            # Unlinked: the schedule ends with the link.
            await self._store.remove_schedule(schedule.id, now=now)
            return None
        rule = recurrence_of(schedule)
        passed = occasions_between(rule, schedule.next_at - timedelta(microseconds=1), now)
        passed = passed or [schedule.next_at]
        latest, next_at = passed[-1], next_occasion(rule, now)
        claim = self._store.claim_occasion
        if link.is_paused:
            await claim(schedule.id, latest, next_at=next_at, state=OccasionState.PAUSED, now=now)
            return next_at
        if now - latest >= GRACE:
            if await claim(
                schedule.id, latest, next_at=next_at, state=OccasionState.MISSED, now=now
            ):
                await self._missed(schedule, link, passed)
            return next_at
        if len(passed) > 1 and await claim(
            schedule.id, passed[-2], next_at=latest, state=OccasionState.MISSED, now=now
        ):
            await self._missed(schedule, link, passed[:-1])
        if await claim(schedule.id, latest, next_at=next_at, now=now):
            await self._give(schedule, latest)
        return next_at

    async def _missed(self, schedule: Schedule, link: SessionLink, missed: list[datetime]) -> None:
        log.info(
            "schedule %d missed %d occasion(s) while the bot was down", schedule.id, len(missed)
        )
        await self._announce(
            AutomationEventKind.OCCASIONS_MISSED, schedule, link, count=len(missed), at=missed[0]
        )

    async def _give(self, schedule: Schedule, due: datetime) -> None:
        guild_id, wearer_id = schedule.guild_id, schedule.wearer_id
        settle = self._store.settle_occasion
        try:
            async with (
                self._audit.automatic(
                    guild_id, "schedule.fire", detail=f"schedule={schedule.id} wearer={wearer_id}"
                ) as audit,
                self._guards.of(guild_id, wearer_id),
            ):
                link = await self._store.get_link(schedule.link_id)
                if link is None or not link.is_open or link.is_paused:
                    await settle(schedule.id, due, OccasionState.PAUSED, now=self._clock())
                    return
                audit.link_id = link.id
                open_task = await self._store.get_open_task(link.id)
                if open_task is not None:
                    await settle(schedule.id, due, OccasionState.SKIPPED, now=self._clock())
                    await self._announce(
                        AutomationEventKind.OCCASION_SKIPPED, schedule, link, task=open_task
                    )
                    return
                pick = await self._pick(schedule, link)
                await self._store.note_drawn(schedule.id, due, pick.description)
                task = await self._tasks.give(
                    Caller(link.keyholder_id, guild_id),
                    link,
                    AUTOMATION,
                    pick.details(),
                    None,
                    origin=None if schedule.entry_id is not None else pick.origin,
                    deadline_seconds=schedule.deadline_seconds or pick.deadline_seconds,
                    schedule_id=schedule.id,
                    proof=_proof_for(schedule, pick),
                )
                audit.task_id = task.id
                await settle(
                    schedule.id, due, OccasionState.ASSIGNED, now=self._clock(), task_id=task.id
                )
        except Refused as refusal:
            await settle(schedule.id, due, OccasionState.FAILED, now=self._clock())
            link = await self._store.get_link(schedule.link_id)
            if link is not None:
                await self._announce(
                    AutomationEventKind.OCCASION_FAILED, schedule, link, refusal=refusal
                )

    async def _pick(self, schedule: Schedule, link: SessionLink) -> Candidate:
        owner = Caller(schedule.created_by, schedule.guild_id)
        if schedule.entry_id is None:
            source = Source(schedule.source or Source.BOTH)
            return await self._tasks.pick(owner, link, source, schedule.tag)
        found = await self._library.entry(schedule.guild_id, schedule.created_by, schedule.entry_id)
        if found is None:
            raise Refused(Reason.NO_SUCH_ENTRY, number=schedule.entry_id)
        return found

    async def settle_interrupted(self) -> None:
        """At start-up: settle the occasions a crash left in progress. One whose task reached
        Chaster counts as assigned; any other is reported, never fired again."""
        for occasion in await self._store.claimed_occasions():
            schedule = await self._store.get_schedule(occasion.schedule_id)
            if schedule is None:
                continue
            link = await self._store.get_link(schedule.link_id)
            landed, task_id = await self._landed(schedule, link, occasion.due_at, occasion.drawn)
            state = OccasionState.ASSIGNED if landed else OccasionState.INTERRUPTED
            await self._store.settle_occasion(
                schedule.id, occasion.due_at, state, now=self._clock(), task_id=task_id
            )
            if state is OccasionState.INTERRUPTED and link is not None and link.is_open:
                await self._announce(
                    AutomationEventKind.OCCASION_INTERRUPTED, schedule, link, at=occasion.due_at
                )

    async def _landed(
        self, schedule: Schedule, link: SessionLink | None, due: datetime, drawn: str | None
    ) -> tuple[bool, int | None]:
        """Whether an interrupted occasion's task reached Chaster, and its number when the bot
        recorded it too; False when it did not or that cannot be told."""
        if link is None or drawn is None:
            return False, None
        latest = await self._store.latest_task(link.id)
        if latest is not None and latest.schedule_id == schedule.id and latest.assigned_at >= due:
            return True, latest.id
        # Only Chaster has it: the sync records it as a task from Chaster.
        return bool(await self._locks.is_current(link, drawn)), None

    async def _announce(
        self,
        kind: AutomationEventKind,
        schedule: Schedule,
        link: SessionLink,
        *,
        task: Task | None = None,
        refusal: Refused | None = None,
        count: int = 0,
        at: datetime | None = None,
    ) -> None:
        await self._events.publish(
            AutomationEvent(
                kind,
                link=link,
                channel_id=await self._settings.feed_channel_for(link),
                schedule=schedule,
                task=task,
                refusal=refusal,
                count=count,
                at=at,
            )
        )


def _source(entry: str | None, source: str | None) -> Source | None:
    """What a schedule draws from; None when it names an entry. Exactly one must be given."""
    if (entry is None) == (source is None):
        raise Refused(Reason.SCHEDULE_NEEDS_ONE_SOURCE)
    if source is None:
        return None
    try:
        return Source(source)
    except ValueError:
        raise Refused(Reason.SCHEDULE_NEEDS_ONE_SOURCE) from None


def _proof_for(schedule: Schedule, pick: Candidate) -> Proof | None:
    """The schedule's photo proof, unless the drawn task needs Chaster's own photo."""
    if schedule.proof is not None and not pick.verification_required:
        return schedule.proof
    return pick.proof
