"""/stats in the core: who may see or show them, and the lock's points beside them."""

from __future__ import annotations

from bot.core.errors import NotAllowed, Reason
from tests.core_env import COMPLETE, KH, OTHER, WEARER, WR, CoreEnv, refused


async def test_the_period_and_who_may_show_them(env: CoreEnv) -> None:
    await env.linked()
    with refused(Reason.STATS_DAYS_RANGE, shortest=7, longest=365):
        await env.core.report.stats(WR, WEARER, days=6)
    with refused(Reason.ONLY_INVOLVED_SEE_STATUS, NotAllowed):
        await env.core.report.stats(OTHER, WEARER)
    with refused(Reason.ONLY_WEARER_MAKES_PUBLIC):
        await env.core.report.stats(KH, WEARER, public=True)
    shown = await env.core.report.stats(WR, WEARER, public=True)
    assert shown.stats.rate is None and shown.wearer_id == WEARER


async def test_the_locks_points_come_with_them_when_chaster_counts_them(env: CoreEnv) -> None:
    await env.linked(enable_points=True, points_required=10, points=2)
    await env.assign(points=5)
    await env.allow_wearer_complete()
    await env.act(WR, COMPLETE)
    report = await env.core.report.stats(KH, WEARER, days=7)
    assert (report.stats.completed, report.stats.points) == (1, 5)
    assert (report.lock_points, report.lock_target) == (7, 10)


async def test_without_chaster_the_stats_still_come(env: CoreEnv) -> None:
    await env.linked(enable_points=True, points_required=10)
    await env.fake.go_offline()
    env.advance(3600)  # past any recent reading
    report = await env.core.report.stats(WR, WEARER)
    assert report.lock_points is None and report.stats.completed == 0
