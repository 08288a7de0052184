"""Pause, the safeword: one command stops every schedule, deadline, reminder and consequence
of a link at once. It only writes the bot's own record (nothing is asked of Chaster), so it
works whatever state Chaster is in, and it takes no wearer's mutex, so nothing in progress
can hold it up."""

from __future__ import annotations

from bot.chaster import ChasterClient
from bot.core.errors import Person, Reason, Refused
from bot.core.links import open_link, wearer_meant
from bot.core.model import Caller, LinkEvent, LinkEventKind
from bot.core.policy import Action, Condition, require, role_of
from bot.core.settings import ServerSettings
from bot.core.shared import Part, Shared
from bot.core.text import checked_reason
from bot.store import SessionLink, Store


class Pause(Part):
    def __init__(
        self, store: Store, chaster: ChasterClient, shared: Shared, *, settings: ServerSettings
    ) -> None:
        super().__init__(store, chaster, shared)
        self._settings = settings

    async def pause(
        self, caller: Caller, wearer_id: int | None, reason: str | None = None
    ) -> SessionLink:
        """Pause the wearer's automation (the wearer, always, or their keyholder of record)."""
        async with self._audit.action(caller, "pause", detail=f"wearer={wearer_id}") as audit:
            text = checked_reason(reason)
            wearer_id = await wearer_meant(self._store, caller, wearer_id)
            audit.detail = f"wearer={wearer_id}"
            link = await open_link(self._store, caller.guild_id, wearer_id)
            audit.link_id = link.id
            require(Action.PAUSE, role_of(caller, link))
            paused = await self._store.pause_link(
                link.id, by=caller.user_id, reason=text, now=self._clock()
            )
            if paused is None:
                raise _already_paused(await self._store.get_link(link.id) or link)
            await self._announce(LinkEventKind.PAUSED, paused, caller)
            return paused

    async def resume(self, caller: Caller, wearer_id: int | None) -> SessionLink:
        """End the pause (the wearer; the keyholder only when they paused it). Open tasks'
        deadlines move later by the time it lasted."""
        async with self._audit.action(caller, "resume", detail=f"wearer={wearer_id}") as audit:
            wearer_id = await wearer_meant(self._store, caller, wearer_id)
            audit.detail = f"wearer={wearer_id}"
            link = await open_link(self._store, caller.guild_id, wearer_id)
            audit.link_id = link.id
            granted = require(Action.RESUME, role_of(caller, link))
            if link.paused_at is None:
                raise Refused(Reason.NOT_PAUSED, wearer=Person(wearer_id))
            if granted.condition is Condition.PAUSED_IT and link.paused_by != caller.user_id:
                raise Refused(Reason.ONLY_WEARER_RESUMES, wearer=Person(wearer_id))
            resumed = await self._store.resume_link(link.id, now=self._clock())
            if resumed is None:
                raise Refused(Reason.NOT_PAUSED, wearer=Person(wearer_id))
            await self._announce(LinkEventKind.RESUMED, resumed, caller)
            return resumed

    async def _announce(self, kind: LinkEventKind, link: SessionLink, caller: Caller) -> None:
        await self._events.publish(
            LinkEvent(
                kind,
                link=link,
                channel_id=await self._settings.feed_channel_for(link),
                by_user_id=caller.user_id,
            )
        )


def _already_paused(link: SessionLink) -> Refused:
    if link.paused_by is None:
        return Refused(Reason.NOT_LINKED_USE_LINK, wearer=Person(link.wearer_id))
    return Refused(Reason.ALREADY_PAUSED, by=Person(link.paused_by), at=link.paused_at)
