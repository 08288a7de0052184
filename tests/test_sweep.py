"""Sweeps: every linked session from Chaster's session search, a hundred per request, through
the same sync path as webhooks; and the poller that runs them.

The real core on a temp SQLite file, its real Chaster client against the fake Chaster over
loopback (tests/core_env.py).
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.chaster.state import LockState
from bot.core.model import CloseReason, EventKind, LinkEventKind
from bot.core.state_view import Reading
from bot.jobs.poller import POLL_SHARE, Poller
from bot.store import TaskState
from tests.core_env import (
    CHANNEL,
    COMPLETE,
    GUILD,
    KEYHOLDER,
    KH,
    OTHER_GUILD,
    WEARER,
    CoreEnv,
)
from tests.fakes.chaster import FakeSession

# Wearers of further locks, for the tests that need many linked sessions.
MORE_WEARERS = WEARER + 1_000


async def link_more_sessions(
    env: CoreEnv, count: int, *, guild_id: int = GUILD
) -> list[FakeSession]:
    """Link `count` further locks (one per wearer) straight in the store."""
    sessions = []
    for index in range(count):
        wearer = MORE_WEARERS + index
        session = env.fake.add_session(
            wearer_discord_id=str(wearer), keyholder_discord_id=str(KEYHOLDER)
        )
        sessions.append(session)
        await env.store.create_link(
            guild_id=guild_id,
            wearer_id=wearer,
            keyholder_id=KEYHOLDER,
            chaster_session_id=session.session_id,
            lock_id=session.lock_id,
            now=env.clock.now(),
        )
    return sessions


def requests(env: CoreEnv) -> tuple[int, int]:
    """(search pages, single session reads) Chaster has received."""
    return env.fake.count_calls("POST", "/sessions/search"), env.fake.count_calls(
        "GET", "/sessions/"
    )


async def test_a_sweep_reads_a_hundred_sessions_per_request_and_applies_each(
    env: CoreEnv,
) -> None:
    sessions = await link_more_sessions(env, 250)
    for _ in range(30):
        env.fake.add_session()  # locked sessions of the extension that nobody linked here
    env.fake.assign_in_app(sessions[7].session_id, "Picked in the app", points=3)
    report = await env.core.sweep.run()
    assert (report.pages, report.applied, report.read_alone, report.complete) == (3, 250, 0, True)
    assert requests(env) == (3, 0)
    [link] = await env.store.open_links_for_session(sessions[7].session_id)
    task = await env.store.get_open_task(link.id)
    assert task is not None and task.description == "Picked in the app"
    assert env.feed.kinds() == [EventKind.ASSIGNED]
    # Every linked session's state is now held, so /task status would not read.
    assert len(env.core.view) == 250


async def test_a_sweep_notices_a_completion_in_chaster_and_shows_it_once(env: CoreEnv) -> None:
    await env.linked()
    await env.assign(description="Plank")
    env.fake.finish_in_app(env.session.session_id, completed=True)
    env.fake.calls.clear()
    await env.core.sweep.run()
    await env.core.sweep.run()
    task = await env.only_task()
    assert task.state is TaskState.COMPLETED
    assert env.feed.kinds() == [EventKind.ASSIGNED, EventKind.COMPLETED]
    # Two pages, and one history read to learn the outcome; no single session read.
    assert requests(env) == (2, 0)
    assert env.fake.count_calls("POST", "/logs/search") == 1


async def test_a_linked_session_missing_from_the_sweep_is_read_once_and_its_end_recorded(
    env: CoreEnv,
) -> None:
    link = await env.linked()
    await link_more_sessions(env, 3)
    env.fake.end_lock(env.session.session_id)  # no longer among the locked sessions
    report = await env.core.sweep.run()
    assert (report.pages, report.read_alone) == (1, 1)
    assert requests(env) == (1, 1)
    assert await env.store.get_open_link(GUILD, WEARER) is None
    closed = await env.store.get_link(link.id)
    assert closed is not None and closed.close_reason == CloseReason.LOCK_ENDED
    assert [event.kind for event in env.feed.link_events] == [LinkEventKind.LOCK_ENDED]
    # Once: the link is closed, so the next sweep has nobody to read on their own.
    report = await env.core.sweep.run()
    assert report.read_alone == 0
    assert requests(env) == (2, 1)


async def test_a_session_chaster_no_longer_knows_ends_its_link(env: CoreEnv) -> None:
    link = await env.linked()
    del env.fake.sessions[env.session.session_id]
    report = await env.core.sweep.run()
    assert (report.pages, report.read_alone) == (1, 1)
    closed = await env.store.get_link(link.id)
    assert closed is not None and closed.close_reason == CloseReason.SESSION_GONE


async def test_one_sweep_result_updates_a_session_linked_in_two_servers(env: CoreEnv) -> None:
    [session] = await link_more_sessions(env, 1)
    await env.store.create_link(
        guild_id=OTHER_GUILD,
        wearer_id=MORE_WEARERS,
        keyholder_id=KEYHOLDER,
        chaster_session_id=session.session_id,
        lock_id=session.lock_id,
        now=env.clock.now(),
        channel_id=CHANNEL,
    )
    env.fake.assign_in_app(session.session_id, "For both servers")
    await env.core.sweep.run()
    assert requests(env) == (1, 0)
    links = await env.store.open_links_for_session(session.session_id)
    assert {link.guild_id for link in links} == {GUILD, OTHER_GUILD}
    for link in links:
        task = await env.store.get_open_task(link.id)
        assert task is not None and task.description == "For both servers"
    assert sorted(event.link.guild_id for event in env.feed.events) == sorted([GUILD, OTHER_GUILD])


async def test_a_result_without_the_locks_extensions_is_read_on_its_own_and_logged_once(
    env: CoreEnv, caplog: pytest.LogCaptureFixture
) -> None:
    sessions = await link_more_sessions(env, 2)
    env.fake.assign_in_app(sessions[0].session_id, "Still seen")
    env.fake.search_omits_extensions = True
    with caplog.at_level(logging.WARNING, logger="bot.core.sweep"):
        first = await env.core.sweep.run()
        second = await env.core.sweep.run()
    assert (first.read_alone, second.read_alone) == (2, 2)
    assert requests(env) == (2, 4)
    [link] = await env.store.open_links_for_session(sessions[0].session_id)
    task = await env.store.get_open_task(link.id)
    assert task is not None and task.description == "Still seen"
    warnings = [r for r in caplog.records if "left out a lock's extensions" in r.getMessage()]
    assert len(warnings) == 1
    # And nothing was taken for a lock without the Tasks extension.
    assert env.feed.kinds() == [EventKind.ASSIGNED]


async def test_a_sweep_cut_short_by_chaster_reads_nobody_on_their_own(env: CoreEnv) -> None:
    await link_more_sessions(env, 150)
    env.fake.fail_next("POST", "/sessions/search", 503, "Service Unavailable")
    report = await env.core.sweep.run()
    assert not report.complete
    assert report.read_alone == 0
    assert env.fake.count_calls("GET", "/sessions/") == 0


async def test_a_reading_sent_before_the_bots_own_write_is_not_applied(env: CoreEnv) -> None:
    """A sweep page read while a completion was on its way still shows the task as current:
    applied, it would record that task a second time."""
    link = await env.linked()
    await env.assign(description="Plank")
    env.fake.calls.clear()
    before = await env.core.view.read(env.session.session_id)
    assert before.lock.tasks is not None and before.lock.tasks.current_task is not None
    await env.act(KH, COMPLETE)
    await env.core.sync.apply(before)
    tasks = [await env.store.get_open_task(link.id), await env.only_task()]
    assert tasks[0] is None and tasks[1].state is TaskState.COMPLETED
    assert env.feed.kinds() == [EventKind.ASSIGNED, EventKind.COMPLETED]


async def test_the_newer_reading_wins_over_an_older_one_applied_later(env: CoreEnv) -> None:
    link = await env.linked()
    session_id = env.session.session_id
    older = Reading(
        session_id,
        LockState.of((await env.chaster.get_session(session_id)).lock),
        env.core.view.stamp(),
    )
    env.fake.assign_in_app(session_id, "Seen by the newer reading")
    await env.core.view.read(session_id)  # e.g. a /task status read meanwhile
    await env.core.sync.apply(older)
    task = await env.store.get_open_task(link.id)
    assert task is not None and task.description == "Seen by the newer reading"


async def test_a_poll_round_over_300_sessions_costs_three_requests_and_no_429(
    env: CoreEnv,
) -> None:
    env.fake.rate_limit = 100
    env.fake.rate_window = 1.0
    env.fake.reset_header_format = "epoch_ms"
    await link_more_sessions(env, 300)
    poller = Poller(env.core.sweep.run, env.chaster.limiter, interval_seconds=600)
    report = await poller.run_round(spread=False)
    assert report.requests == 3
    assert env.fake.throttled == 0
    assert requests(env) == (3, 0)


async def test_a_poll_round_is_spread_over_the_interval_within_its_share(env: CoreEnv) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    def poller(interval: float) -> Poller:
        return Poller(
            env.core.sweep.run, env.chaster.limiter, interval, sleep=sleep, monotonic=lambda: 0.0
        )

    # At most half of 100 requests a minute: one request every 1.2 s at the least.
    assert poller(300).min_gap() == pytest.approx(60 / (100 * POLL_SHARE))
    await link_more_sessions(env, 250)
    await poller(300).run_round(spread=True)
    # Three pages over the 300 s interval: the time never moves here, so each request waits
    # until its own place in the round.
    assert waits == [100.0, 200.0, 300.0]
    waits.clear()
    await poller(2).run_round(spread=True)
    # A 2 s interval would need 1.5 requests a second: the share caps it at one every 1.2 s.
    assert waits == pytest.approx([1.2, 2.4, 3.6])


async def test_after_the_catch_up_each_page_comes_round_once_per_interval(env: CoreEnv) -> None:
    await link_more_sessions(env, 250)
    waits: list[float] = []
    enough = asyncio.Event()

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) >= 4:
            enough.set()
        await asyncio.sleep(0)

    poller = Poller(
        env.core.sweep.run, env.chaster.limiter, 300, sleep=sleep, monotonic=lambda: 0.0
    )
    poller.start()
    try:
        await asyncio.wait_for(enough.wait(), 10)
    finally:
        await poller.stop()
    # The catch-up reads its three pages at once, then waits one gap (not a whole interval):
    # the next round's last page is read an interval after the catch-up read it.
    assert waits[:4] == [100.0, 100.0, 200.0, 300.0]
    assert env.fake.count_calls("POST", "/sessions/search") >= 6
