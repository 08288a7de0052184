"""Votes: the server chooses a wearer's next task among a few drawn from the keyholder's
library or the lock's list.

The Discord side runs the poll and, when it ends, hands the counts to `finish`. A vote ends
once: its state moves open -> deciding (the winner is stored) -> ended (with what came of
it), each step a compare-and-set, so a restart, a second timer or `/task vote-end` at the
same moment cannot act on it twice. A vote left deciding by a crash is finished on the next
try without assigning twice: a winner Chaster already shows is recorded, not sent again.
"""

from __future__ import annotations

import random
from datetime import timedelta

from bot.chaster import ChasterClient, TaskDetails
from bot.core.errors import Consequence, Person, Phrase, Reason, Refused, Trouble
from bot.core.library import Library, Source, draw
from bot.core.links import open_link
from bot.core.locks import Locks
from bot.core.model import Caller, VoteEvent, VoteEventKind
from bot.core.policy import Action, May, require, role_of, rule
from bot.core.settings import ServerSettings
from bot.core.shared import Part, Shared
from bot.core.tasks import Tasks
from bot.store import (
    ConstraintViolation,
    Origin,
    Store,
    Task,
    Vote,
    VoteOption,
    VoteOutcome,
    VoteState,
)

MIN_OPTIONS, MAX_OPTIONS, DEFAULT_OPTIONS = 2, 10, 3
MIN_HOURS, MAX_HOURS, DEFAULT_HOURS = 1, 168, 1


class Votes(Part):
    def __init__(
        self,
        store: Store,
        chaster: ChasterClient,
        shared: Shared,
        *,
        library: Library,
        locks: Locks,
        tasks: Tasks,
        settings: ServerSettings,
        rng: random.Random,
    ) -> None:
        super().__init__(store, chaster, shared)
        self._library = library
        self._locks = locks
        self._tasks = tasks
        self._settings = settings
        self._rng = rng

    async def start(
        self,
        caller: Caller,
        wearer_id: int,
        *,
        options: int = DEFAULT_OPTIONS,
        hours: int = DEFAULT_HOURS,
        source: Source = Source.BOTH,
        tag: str | None = None,
        channel_id: int,
    ) -> Vote:
        """Open a vote (keyholder of record only) among `options` different tasks; its poll is
        posted by the Discord side, in the feed channel."""
        async with (
            self._audit.action(caller, "task.vote", detail=f"wearer={wearer_id}") as audit,
            self._guards.of(caller.guild_id, wearer_id),
        ):
            if not MIN_OPTIONS <= options <= MAX_OPTIONS:
                raise Refused(Reason.VOTE_OPTIONS_RANGE, low=MIN_OPTIONS, high=MAX_OPTIONS)
            if not MIN_HOURS <= hours <= MAX_HOURS:
                raise Refused(Reason.VOTE_HOURS_RANGE, low=MIN_HOURS, high=MAX_HOURS)
            link = await open_link(self._store, caller.guild_id, wearer_id)
            audit.link_id = link.id
            require(Action.ASSIGN, role_of(caller, link), keyholder=Person(link.keyholder_id))
            current = await self._store.current_vote(caller.guild_id, wearer_id)
            if current is not None and current.link_id != link.id:
                # Left from a link that has closed since: it can assign nothing any more.
                await self._store.end_vote(
                    current.id, outcome=VoteOutcome.UNLINKED, task_id=None, now=self._clock()
                )
            elif current is not None:
                raise Refused(Reason.VOTE_ALREADY_OPEN, wearer=Person(wearer_id))
            pool = await self._library.candidates(caller, link, source, tag)
            previous = await self._store.latest_task(link.id)
            picked = draw(pool, previous.description if previous else None, self._rng, options)
            if len(picked) < MIN_OPTIONS:
                raise Refused(Reason.NOT_ENOUGH_TO_VOTE, count=len(picked))
            now = self._clock()
            channel = await self._settings.feed_channel_for(link, fallback=channel_id)
            try:
                vote = await self._store.create_vote(
                    link_id=link.id,
                    guild_id=caller.guild_id,
                    wearer_id=wearer_id,
                    started_by=caller.user_id,
                    channel_id=channel or channel_id,
                    options=[
                        VoteOption(
                            c.description,
                            c.points,
                            c.duration_seconds,
                            c.verification_required,
                            c.from_lock,
                            c.proof,
                        )
                        for c in picked
                    ],
                    now=now,
                    ends_at=now + timedelta(hours=hours),
                )
            except ConstraintViolation:
                raise Refused(Reason.VOTE_ALREADY_OPEN, wearer=Person(wearer_id)) from None
            await self._events.publish(VoteEvent(VoteEventKind.STARTED, vote))
            return vote

    async def attach_message(self, vote_id: int, message_id: int) -> Vote:
        return await self._store.set_vote_message(vote_id, message_id)

    async def cancel(self, vote_id: int) -> None:
        """Withdraw a vote whose poll could not be posted (or never was)."""
        ended = await self._store.end_vote(
            vote_id, outcome=VoteOutcome.CANCELLED, task_id=None, now=self._clock()
        )
        if ended is not None:
            await self._events.publish(VoteEvent(VoteEventKind.ENDED, ended))

    async def get(self, vote_id: int) -> Vote | None:
        return await self._store.get_vote(vote_id)

    async def to_end_early(self, caller: Caller, wearer_id: int) -> Vote:
        """The wearer's open vote, for its keyholder of record to end now."""
        link = await open_link(self._store, caller.guild_id, wearer_id)
        require(Action.ASSIGN, role_of(caller, link), keyholder=Person(link.keyholder_id))
        vote = await self._store.current_vote(caller.guild_id, wearer_id)
        if vote is None or vote.link_id != link.id:
            raise Refused(Reason.NO_OPEN_VOTE, wearer=Person(wearer_id))
        return vote

    async def finish(self, vote_id: int, counts: dict[int, int] | None) -> Vote | None:
        """End the vote with the poll's counts (by option index; None when the poll could not
        be read): the winner is assigned to the wearer unless they have an open task or are no
        longer linked. A tie is broken at random; no votes at all is a random pick. Returns the
        vote as ended, or None when it had already ended."""
        vote = await self._store.get_vote(vote_id)
        if vote is None or vote.state is VoteState.ENDED:
            return None
        async with self._guards.of(vote.guild_id, vote.wearer_id):
            vote = await self._store.get_vote(vote_id)
            if vote is None or vote.state is VoteState.ENDED:
                return None
            retrying = vote.state is VoteState.DECIDING
            if vote.state is VoteState.OPEN:
                winner, votes = self._winner(vote, counts or {})
                decided = await self._store.decide_vote(vote_id, winner=winner, votes=votes)
                if decided is None:
                    return None
                vote = decided
            outcome, task = await self._assign_winner(vote, retrying=retrying)
            ended = await self._store.end_vote(
                vote_id, outcome=outcome, task_id=task.id if task else None, now=self._clock()
            )
            if ended is None:
                return None
        await self._events.publish(VoteEvent(VoteEventKind.ENDED, ended, task))
        return ended

    def _winner(self, vote: Vote, counts: dict[int, int]) -> tuple[int, int]:
        valid = {i: n for i, n in counts.items() if 0 <= i < len(vote.options) and n > 0}
        if not valid:
            return self._rng.randrange(len(vote.options)), 0
        best = max(valid.values())
        return self._rng.choice(sorted(i for i, n in valid.items() if n == best)), best

    async def _assign_winner(
        self, vote: Vote, *, retrying: bool
    ) -> tuple[VoteOutcome, Task | None]:
        assert vote.winner is not None
        option = vote.options[vote.winner]
        link = await self._store.get_link(vote.link_id)
        if link is None or not link.is_open:
            return VoteOutcome.UNLINKED, None
        open_task = await self._store.get_open_task(link.id)
        if open_task is not None:
            if (
                open_task.description == option.description
                and open_task.assigned_at >= vote.created_at
            ):
                # Assigned before a crash (or seen in Chaster since): not sent again.
                return VoteOutcome.ASSIGNED, open_task
            return VoteOutcome.OPEN_TASK, None
        caller = Caller(vote.started_by, vote.guild_id)
        granted = rule(Action.ASSIGN, role_of(caller, link))
        if granted.may is May.NO:
            # Someone else is keyholder of record now.
            return VoteOutcome.UNLINKED, None
        if retrying:
            # An earlier try may have reached Chaster without an answer (or before a crash):
            # an assign is never sent again blindly.
            landed = await self._locks.is_current(link, option.description)
            if landed is None:
                # Left deciding; tried again later.
                raise Refused(
                    Reason.CHASTER_UNAVAILABLE,
                    trouble=Phrase(Trouble.UNREACHABLE, {}),
                    consequence=Phrase(Consequence.NOTHING_ASSIGNED, {}),
                )
            if landed:
                # Chaster has it; the next sweep or webhook records it as a task here.
                return VoteOutcome.ASSIGNED, None
        details = TaskDetails(
            task=option.description,
            points=option.points,
            verification_required=option.verification_required,
            duration=option.duration_seconds,
        )
        try:
            task = await self._tasks.give(
                caller,
                link,
                granted,
                details,
                vote.channel_id,
                origin=Origin.VOTE,
                proof=option.proof,
            )
        except Refused as refusal:
            if refusal.reason in (
                Reason.CHASTER_UNAVAILABLE,
                Reason.ASSIGN_OUTCOME_UNKNOWN,
                Reason.STATUS_CHASTER_UNAVAILABLE,
            ):
                # Not known to have failed: left deciding, to be tried again.
                raise
            return VoteOutcome.FAILED, None
        return VoteOutcome.ASSIGNED, task
