"""Per-server settings: where the feed goes, whether wearers complete their own tasks, the
language of the server's public messages and the time zone of its schedules."""

from __future__ import annotations

from collections.abc import Collection

from bot.core.audit import Audit
from bot.core.errors import Channel, Codes, Permissions, Reason, Refused
from bot.core.model import Caller
from bot.core.occasions import zone_named
from bot.core.policy import Action, require, role_of
from bot.core.retention import parse_retention
from bot.store import Controls, GuildSettings, SessionLink, Store

AUTO_LANGUAGE = "auto"


class ServerSettings:
    def __init__(self, store: Store, audit: Audit, *, languages: Collection[str]) -> None:
        self._store = store
        self._audit = audit
        # The catalogue's languages; 'auto' follows the server's own locale.
        self._languages = frozenset(languages)

    async def of(self, guild_id: int) -> GuildSettings:
        return await self._store.get_guild_settings(guild_id)

    async def set_feed_channel(
        self, caller: Caller, channel_id: int, *, missing_permissions: Collection[str] = ()
    ) -> GuildSettings:
        """Post the feed in `channel_id`; `missing_permissions` are those the bot lacks there."""
        async with self._audit.action(caller, "settings.feed", detail=f"channel={channel_id}"):
            require(Action.SETTINGS, role_of(caller))
            if missing_permissions:
                raise Refused(
                    Reason.FEED_CHANNEL_UNUSABLE,
                    channel=Channel(channel_id),
                    permissions=Permissions(tuple(missing_permissions)),
                )
            return await self._store.set_feed_channel(caller.guild_id, channel_id)

    async def set_wearer_can_complete(self, caller: Caller, allowed: bool) -> GuildSettings:
        async with self._audit.action(
            caller, "settings.wearer-complete", detail=f"allowed={allowed}"
        ):
            require(Action.SETTINGS, role_of(caller))
            return await self._store.set_wearer_can_complete(caller.guild_id, allowed)

    async def set_language(self, caller: Caller, language: str) -> GuildSettings:
        async with self._audit.action(caller, "settings.language", detail=f"language={language}"):
            require(Action.SETTINGS, role_of(caller))
            if language != AUTO_LANGUAGE and language not in self._languages:
                raise Refused(
                    Reason.UNKNOWN_LANGUAGE,
                    language=language,
                    languages=Codes((AUTO_LANGUAGE, *sorted(self._languages))),
                )
            return await self._store.set_language(caller.guild_id, language)

    async def set_controls(self, caller: Caller, controls: str) -> GuildSettings:
        """What new feed messages carry: buttons, reactions or both."""
        async with self._audit.action(caller, "settings.controls", detail=f"style={controls}"):
            require(Action.SETTINGS, role_of(caller))
            try:
                style = Controls(controls)
            except ValueError:
                raise Refused(
                    Reason.UNKNOWN_CONTROLS,
                    style=controls,
                    styles=Codes(tuple(style.value for style in Controls)),
                ) from None
            return await self._store.set_controls(caller.guild_id, style)

    async def set_timezone(self, caller: Caller, zone: str) -> GuildSettings:
        """The time zone of the server's schedules that name none (an IANA name)."""
        async with self._audit.action(caller, "settings.timezone", detail=f"zone={zone[:64]}"):
            require(Action.SETTINGS, role_of(caller))
            return await self._store.set_timezone(caller.guild_id, zone_named(zone).key)

    async def set_retention(self, caller: Caller, days: str) -> GuildSettings:
        """How long the server keeps its finished tasks and audit log: days, or forever."""
        async with self._audit.action(caller, "settings.retention", detail=f"days={days[:20]}"):
            require(Action.SETTINGS, role_of(caller))
            return await self._store.set_retention(caller.guild_id, parse_retention(days))

    async def set_chaster_history(self, caller: Caller, enabled: bool) -> GuildSettings:
        """Whether actions taken here are also written in the locks' Chaster history."""
        async with self._audit.action(
            caller, "settings.chaster-history", detail=f"enabled={enabled}"
        ):
            require(Action.SETTINGS, role_of(caller))
            return await self._store.set_chaster_history(caller.guild_id, enabled)

    async def feed_channel_for(
        self, link: SessionLink, *, fallback: int | None = None
    ) -> int | None:
        """Where the link's messages go now: the server's feed channel if it has one, else
        `fallback` (the channel of the command at hand), else the channel of its /link."""
        settings = await self._store.get_guild_settings(link.guild_id)
        return settings.feed_channel_id or fallback or link.channel_id
