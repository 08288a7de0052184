"""Direct messages, opt-in per person and server: the setting, and what a refused DM does."""

from __future__ import annotations

from bot.core.model import Caller
from tests.core_env import GUILD, OTHER_GUILD, WEARER, WR, CoreEnv


async def test_dms_are_off_until_asked_and_per_server(env: CoreEnv) -> None:
    notify = env.core.notify
    assert not (await notify.prefs(GUILD, WEARER)).sends_dms
    on = await notify.set_dm(WR, True)
    assert on.dm and on.sends_dms
    assert (await notify.prefs(GUILD, WEARER)).sends_dms
    # Another server has its own setting.
    assert not (await notify.prefs(OTHER_GUILD, WEARER)).sends_dms
    await notify.set_dm(WR, False)
    assert not (await notify.prefs(GUILD, WEARER)).dm
    assert await env.audit() == [("notify.dm", "ok"), ("notify.dm", "ok")]


async def test_a_refused_dm_stops_them_once_until_turned_on_again(env: CoreEnv) -> None:
    notify = env.core.notify
    await notify.set_dm(WR, True)
    assert await notify.dms_refused(GUILD, WEARER) is True
    # Said once: a second refusal (a message already on its way) is not news.
    assert await notify.dms_refused(GUILD, WEARER) is False
    closed = await notify.prefs(GUILD, WEARER)
    assert closed.dm and closed.dms_closed_at == env.clock.now() and not closed.sends_dms
    # Turning them on again is how a person says their DMs are open now.
    reopened = await notify.set_dm(WR, True)
    assert reopened.sends_dms and (await notify.prefs(GUILD, WEARER)).sends_dms


async def test_nobody_else_has_a_say_in_someone_s_dms(env: CoreEnv) -> None:
    other = Caller(WEARER + 1, GUILD)
    await env.core.notify.set_dm(other, True)
    assert not (await env.core.notify.prefs(GUILD, WEARER)).dm
    # A refusal for someone who never asked changes nothing for them.
    assert await env.core.notify.dms_refused(GUILD, WEARER) is False
