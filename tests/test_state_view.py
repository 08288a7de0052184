"""The state view: /task status from a recent reading, concurrent reads sharing one request,
and no reading from before the bot's own write ever used.

The real core on a temp SQLite file against the fake Chaster over loopback; time is the shared
fake clock (tests/core_env.py).
"""

from __future__ import annotations

import asyncio

from bot.core.locks import ACT_FRESH_SECONDS
from bot.store import TaskState
from tests.conftest import DEFAULT_FRESH_SECONDS
from tests.core_env import COMPLETE, KH, WEARER, WR, CoreEnv, EnvFactory


def reads(env: CoreEnv) -> int:
    return env.fake.count_calls("GET", "/sessions/")


async def test_status_answers_from_a_fresh_reading_and_says_when_it_was_read(
    env: CoreEnv,
) -> None:
    await env.linked(enable_points=True, points=4)
    read_at = env.clock.now()
    first = await env.core.tasks.status(KH, WEARER)
    assert reads(env) == 1
    env.advance(DEFAULT_FRESH_SECONDS - 1)
    again = await env.core.tasks.status(WR, WEARER)
    assert reads(env) == 1
    assert first.read_at == again.read_at == read_at
    assert again.chaster is not None and again.chaster.points == 4


async def test_status_reads_again_once_the_reading_is_older_than_the_bound(
    env: CoreEnv,
) -> None:
    await env.linked(enable_points=True, points=4)
    await env.core.tasks.status(KH, WEARER)
    env.fake.sessions[env.session.session_id].points = 9
    env.advance(DEFAULT_FRESH_SECONDS + 1)
    status = await env.core.tasks.status(KH, WEARER)
    assert reads(env) == 2
    assert status.read_at == env.clock.now()
    assert status.chaster is not None and status.chaster.points == 9


async def test_the_bound_is_a_setting(make_env: EnvFactory) -> None:
    env = await make_env(fresh_seconds=0)
    await env.linked()
    await env.core.tasks.status(KH, WEARER)
    await env.core.tasks.status(KH, WEARER)
    assert reads(env) == 2


async def test_concurrent_status_lookups_of_one_lock_share_one_request(env: CoreEnv) -> None:
    await env.linked()
    env.fake.latency = 0.05  # long enough for every lookup to arrive while the read is out
    statuses = await asyncio.gather(*(env.core.tasks.status(KH, WEARER) for _ in range(10)))
    assert reads(env) == 1
    assert all(status.chaster is not None for status in statuses)


async def test_one_lookup_giving_up_does_not_fail_the_others_sharing_its_read(
    env: CoreEnv,
) -> None:
    await env.linked()
    env.fake.latency = 0.1
    first = asyncio.create_task(env.core.tasks.status(KH, WEARER))
    await env.fake.wait_for_call("GET", "/sessions/")
    second = asyncio.create_task(env.core.tasks.status(WR, WEARER))
    await asyncio.sleep(0)
    first.cancel()
    status = await asyncio.wait_for(second, 5)
    assert status.chaster is not None
    assert reads(env) == 1


async def test_a_persons_lookup_does_not_wait_behind_a_background_read(env: CoreEnv) -> None:
    await env.linked()
    session_id = env.session.session_id
    env.fake.latency = 0.05
    background = asyncio.create_task(env.core.view.read(session_id, within=60, background=True))
    await env.fake.wait_for_call("GET", "/sessions/")
    # The rate limiter serves a person before background work, so sharing a background read
    # could make them wait behind a sweep; a person's own read goes instead.
    await env.core.tasks.status(KH, WEARER)
    await background
    assert reads(env) == 2


async def test_the_bots_own_write_makes_earlier_readings_stale(env: CoreEnv) -> None:
    await env.linked()
    await env.core.tasks.status(KH, WEARER)
    await env.assign(description="Plank")
    status = await env.core.tasks.status(KH, WEARER)
    # Read again after the assign: the reading from before it showed no task.
    assert reads(env) == 2
    assert status.chaster is not None and status.chaster.current_task is not None
    assert status.chaster.current_task.task == "Plank"


async def test_acting_uses_a_reading_only_when_it_is_a_few_seconds_old(env: CoreEnv) -> None:
    await env.linked()
    await env.assign()
    await env.core.tasks.status(KH, WEARER)
    env.advance(ACT_FRESH_SECONDS + 1)
    before = reads(env)
    await env.act(KH, COMPLETE)
    # Old enough to matter: the completion read Chaster's current task itself.
    assert reads(env) == before + 1
    assert (await env.only_task()).state is TaskState.COMPLETED


async def test_acting_right_after_a_lookup_spends_no_second_read(env: CoreEnv) -> None:
    await env.linked()
    await env.assign()
    await env.core.tasks.status(KH, WEARER)
    before = reads(env)
    await env.act(KH, COMPLETE)
    assert reads(env) == before
    assert (await env.only_task()).state is TaskState.COMPLETED


async def test_a_webhooks_read_refreshes_the_reading_that_acting_uses(env: CoreEnv) -> None:
    """Within those few seconds a reading could miss a change made in Chaster's app; the read
    that the change's webhook triggers replaces it at once."""
    await env.linked()
    await env.assign(description="Old")
    await env.core.tasks.status(KH, WEARER)
    env.fake.finish_in_app(env.session.session_id, completed=True)
    env.fake.assign_in_app(env.session.session_id, "New")
    await env.core.sync.sync_session(env.session.session_id)  # as the webhook would
    before = reads(env)
    task = await env.act(KH, COMPLETE)
    assert (task.description, task.state) == ("New", TaskState.COMPLETED)
    assert reads(env) == before
