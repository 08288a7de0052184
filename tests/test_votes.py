"""Votes in the core: starting one, and its end (winner, tie, no votes, an open task at the
end, the link gone, the bot down at the end, and never twice)."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from bot.core.errors import NotAllowed, Person, Reason
from bot.core.library import Source
from bot.core.model import VoteEvent, VoteEventKind
from bot.store import Origin, TaskState, VoteOutcome, VoteState
from tests.core_env import CHANNEL, GUILD, KEYHOLDER, KH, WEARER, WR, CoreEnv, refused
from tests.test_sync import timers_of

ENTRIES = ["Plank", "Lines", "Cold shower", "Kneel"]


async def with_library(env: CoreEnv, texts: list[str] = ENTRIES) -> None:
    await env.linked(user_tasks=[])
    for n, text in enumerate(texts):
        await env.core.library.add(KH, description=text, points=n + 1)


async def start(env: CoreEnv, **options: object) -> int:
    vote = await env.core.votes.start(KH, WEARER, channel_id=CHANNEL, **options)  # type: ignore[arg-type]
    return vote.id


def vote_events(env: CoreEnv) -> list[VoteEvent]:
    return [e for e in env.feed.events if isinstance(e, VoteEvent)]


async def test_a_vote_offers_different_tasks_and_ends_after_its_hours(env: CoreEnv) -> None:
    await with_library(env)
    vote = await env.core.votes.start(KH, WEARER, options=3, hours=2, channel_id=CHANNEL)
    assert len({o.description for o in vote.options}) == 3
    assert (vote.ends_at - vote.created_at).total_seconds() == 7200
    assert vote.state is VoteState.OPEN
    with refused(Reason.VOTE_ALREADY_OPEN, wearer=Person(WEARER)):
        await start(env)
    assert env.posts("assign") == []


@pytest.mark.parametrize(
    ("options", "reason", "range_"),
    [
        ({"options": 1}, Reason.VOTE_OPTIONS_RANGE, (2, 10)),
        ({"options": 11}, Reason.VOTE_OPTIONS_RANGE, (2, 10)),
        ({"hours": 0}, Reason.VOTE_HOURS_RANGE, (1, 168)),
        ({"hours": 169}, Reason.VOTE_HOURS_RANGE, (1, 168)),
    ],
)
async def test_bad_sizes_are_refused(
    env: CoreEnv, options: dict[str, int], reason: Reason, range_: tuple[int, int]
) -> None:
    await with_library(env)
    with refused(reason, low=range_[0], high=range_[1]):
        await start(env, **options)
    assert await env.store.current_vote(GUILD, WEARER) is None


async def test_a_vote_needs_two_different_tasks_and_the_keyholder(env: CoreEnv) -> None:
    await with_library(env, ["Plank"])
    with refused(Reason.NOT_ENOUGH_TO_VOTE, count=1):
        await start(env, source=Source.LIBRARY)
    with refused(Reason.ONLY_KEYHOLDER_ASSIGNS, NotAllowed, keyholder=Person(KEYHOLDER)):
        await env.core.votes.start(WR, WEARER, channel_id=CHANNEL)


async def test_the_most_votes_win_and_are_assigned(env: CoreEnv) -> None:
    await with_library(env)
    vote_id = await start(env, options=3)
    vote = await env.core.votes.get(vote_id)
    assert vote is not None
    ended = await env.core.votes.finish(vote_id, {0: 1, 1: 5, 2: 2})
    assert ended is not None
    assert (ended.winner, ended.winner_votes, ended.outcome) == (1, 5, VoteOutcome.ASSIGNED)
    [assign] = env.posts("assign")
    assert assign.json["task"]["task"] == vote.options[1].description
    task = await env.open_task()
    assert task is not None and task.origin is Origin.VOTE and ended.task_id == task.id
    # Never twice: a second end (a timer and /task vote-end at once) does nothing.
    assert await env.core.votes.finish(vote_id, {0: 9}) is None
    assert len(env.posts("assign")) == 1


async def test_a_tie_is_broken_at_random_and_no_votes_is_a_random_pick(env: CoreEnv) -> None:
    await with_library(env)
    # An open task keeps every vote from assigning: only the choice of winner is at work.
    await env.assign(description="Busy", points=1)
    winners: Counter[int] = Counter()
    picked: Counter[int] = Counter()
    for _ in range(20):
        ended = await env.core.votes.finish(await start(env, options=3), {0: 2, 2: 2, 1: 1})
        assert ended is not None and ended.winner in (0, 2) and ended.winner_votes == 2
        winners[ended.winner] += 1
        ended = await env.core.votes.finish(await start(env, options=3), None)
        assert ended is not None and ended.winner_votes == 0
        assert ended.outcome is VoteOutcome.OPEN_TASK
        picked[ended.winner] += 1
    assert set(winners) == {0, 2}
    assert set(picked) == {0, 1, 2}
    assert len(env.posts("assign")) == 1


async def test_an_open_task_at_the_end_means_nothing_is_assigned(env: CoreEnv) -> None:
    await with_library(env)
    vote_id = await start(env)
    await env.assign(description="Something else", points=1)
    ended = await env.core.votes.finish(vote_id, {0: 3})
    assert ended is not None and ended.outcome is VoteOutcome.OPEN_TASK
    assert len(env.posts("assign")) == 1
    [event] = [e for e in vote_events(env) if e.kind is VoteEventKind.ENDED]
    assert event.task is None


async def test_a_link_gone_at_the_end_means_nothing_is_assigned(env: CoreEnv) -> None:
    await with_library(env)
    vote_id = await start(env)
    await env.core.links.unlink(WR, WEARER)
    ended = await env.core.votes.finish(vote_id, {0: 3})
    assert ended is not None and ended.outcome is VoteOutcome.UNLINKED
    assert env.posts("assign") == []


async def test_a_vote_due_while_the_bot_was_down_ends_once_at_start_up(env: CoreEnv) -> None:
    await with_library(env)
    vote_id = await start(env, hours=1)
    env.advance(3 * 3600)  # the bot was down past its end
    first, second = timers_of(env), timers_of(env)
    await asyncio.gather(first.start(), second.start())
    try:
        async with asyncio.timeout(5):
            while not [e for e in vote_events(env) if e.kind is VoteEventKind.ENDED]:
                env.feed.changed.clear()
                await env.feed.changed.wait()
    finally:
        await first.stop()
        await second.stop()
    vote = await env.core.votes.get(vote_id)
    assert vote is not None and vote.outcome is VoteOutcome.ASSIGNED
    assert len(env.posts("assign")) == 1


async def test_a_vote_left_deciding_by_a_crash_is_not_assigned_twice(env: CoreEnv) -> None:
    await with_library(env)
    vote_id = await start(env)
    vote = await env.core.votes.get(vote_id)
    assert vote is not None
    # The crash came after the winner was stored and Chaster took it, before anything else.
    await env.store.decide_vote(vote_id, winner=0, votes=2)
    await env.assign(description=vote.options[0].description)
    ended = await env.core.votes.finish(vote_id, None)
    assert ended is not None and ended.outcome is VoteOutcome.ASSIGNED and ended.winner == 0
    assert len(env.posts("assign")) == 1
    task = await env.open_task()
    assert task is not None and task.state is TaskState.ASSIGNED and ended.task_id == task.id


async def test_a_vote_left_by_a_closed_link_does_not_block_the_next_one(env: CoreEnv) -> None:
    await with_library(env)
    old = await start(env, hours=168)
    await env.core.links.unlink(WR, WEARER)
    outcome = await env.core.links.link(KH, WEARER, env.session.session_id, CHANNEL)
    assert outcome.link is not None
    new = await start(env)
    assert new != old
    ended = await env.core.votes.get(old)
    assert ended is not None and ended.outcome is VoteOutcome.UNLINKED
    assert (await env.core.votes.to_end_early(KH, WEARER)).id == new


async def test_a_retried_end_reads_chaster_before_assigning_again(env: CoreEnv) -> None:
    await with_library(env)
    vote_id = await start(env)
    vote = await env.core.votes.get(vote_id)
    assert vote is not None
    # Chaster took the winner, but the answer never came back (or the bot died at once).
    await env.store.decide_vote(vote_id, winner=1, votes=3)
    option = vote.options[1]
    env.session.current_task = {
        "task": option.description,
        "points": option.points,
        "verificationRequired": False,
        "duration": None,
    }
    ended = await env.core.votes.finish(vote_id, None)
    assert ended is not None and ended.outcome is VoteOutcome.ASSIGNED and ended.winner == 1
    assert env.posts("assign") == []
