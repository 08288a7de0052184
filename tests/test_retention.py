"""Retention: /settings retention, and the daily pruning of what a server keeps no longer."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.errors import Reason, Typed
from bot.core.retention import parse_retention
from bot.store import LinkRequestState
from tests.core_env import FAIL, GUILD, KH, MANAGER, OTHER, WEARER, CoreEnv, refused

DAY = 86_400


def test_retention_is_days_or_forever() -> None:
    assert parse_retention("30") == 30
    assert parse_retention(" 3650 ") == 3650
    assert parse_retention("Forever") is None
    for bad in ("29", "3651", "0", "-30", "1e3", "30d", "", "٣٠"):
        with refused(Reason.RETENTION_INVALID, input=Typed(bad)):
            parse_retention(bad)


async def test_only_a_manager_sets_it(env: CoreEnv) -> None:
    from bot.core.errors import NotAllowed

    with refused(Reason.NEEDS_MANAGE_SERVER, NotAllowed):
        await env.core.settings.set_retention(OTHER, "30")
    settings = await env.core.settings.set_retention(MANAGER, "90")
    assert settings.retention_days == 90
    assert (await env.core.settings.set_retention(MANAGER, "forever")).retention_days is None


async def record_of(env: CoreEnv) -> tuple[int, int]:
    return await env.count("tasks"), await env.count("audit_log")


@pytest.mark.parametrize("setting", ["forever", None])
async def test_without_a_limit_nothing_is_pruned(env: CoreEnv, setting: str | None) -> None:
    if setting is not None:
        await env.core.settings.set_retention(MANAGER, setting)
    await env.linked()
    await env.assign()
    await env.act(KH, FAIL)
    before = await record_of(env)
    env.advance(4000 * DAY)
    assert await env.core.retention.prune() == 0
    assert await record_of(env) == before


async def test_old_finished_tasks_and_audit_go_open_ones_and_links_stay(env: CoreEnv) -> None:
    await env.core.settings.set_retention(MANAGER, "30")
    await env.linked()
    # Records that point at the old task: its consequence, and an answered link request.
    await env.core.penalties.set(KH, WEARER, on="fail", action="freeze")
    await env.assign(description="Old and done")
    await env.act(KH, FAIL)
    old = await env.only_task()
    await env.run_due()
    assert await env.store.consequence_for_task(old.id) is not None
    request = await env.store.create_link_request(
        guild_id=GUILD,
        channel_id=1,
        wearer_id=OTHER.user_id,
        requested_by=KH.user_id,
        chaster_session_id="s",
        lock_id="l",
        now=env.clock.now(),
        expires_at=env.clock.now() + timedelta(minutes=15),
    )
    await env.store.resolve_link_request(request.id, LinkRequestState.EXPIRED, now=env.clock.now())
    env.advance(20 * DAY)
    await env.assign(description="Still open")
    env.advance(11 * DAY)  # the first task finished 31 days ago; the second is open
    removed = await env.core.retention.prune()
    assert removed > 0
    assert await env.store.get_task(old.id) is None
    assert await env.store.consequence_for_task(old.id) is None
    assert await env.count("link_requests") == 0
    open_task = await env.open_task()
    assert open_task is not None and open_task.description == "Still open"
    assert (
        await env.store.get_open_link(
            open_task and env.session and 900_000_000_000_000_001, 100_000_000_000_000_001
        )
        is not None
    )
    # Entries newer than the cutoff stay.
    entries = await env.store.audit_entries()
    assert entries and all(entry.at >= env.clock.now() - timedelta(days=30) for entry in entries)
    # Pruning again removes nothing more.
    assert await env.core.retention.prune() == 0
