"""Direct messages, opt-in: per person and server, whether the bot also tells them in a DM
when something needs them; and, once Discord refuses one, that it stops trying."""

from __future__ import annotations

from bot.core.audit import Audit
from bot.core.model import Caller, Clock
from bot.core.policy import Action, require, role_of
from bot.store import NotifyPrefs, Store


class Notify:
    def __init__(self, store: Store, audit: Audit, clock: Clock) -> None:
        self._store = store
        self._audit = audit
        self._clock = clock

    async def set_dm(self, caller: Caller, on: bool) -> NotifyPrefs:
        """Turn the caller's own DMs here on or off; turning them on again also tries again
        after Discord refused one."""
        async with self._audit.action(caller, "notify.dm", detail=f"on={on}"):
            require(Action.NOTIFY, role_of(caller))
            return await self._store.set_dm(caller.guild_id, caller.user_id, on, now=self._clock())

    async def prefs(self, guild_id: int, user_id: int) -> NotifyPrefs:
        return await self._store.notify_prefs(guild_id, user_id)

    async def dms_refused(self, guild_id: int, user_id: int) -> bool:
        """Discord refused a DM to the person: no more are tried. True the first time, so the
        feed says so once."""
        return await self._store.mark_dms_closed(guild_id, user_id, now=self._clock())
