"""`Store` methods for guild settings: one row per server, defaults until it changes one."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Final

from ._queries import StoreBase, _one, _write
from .rows import GuildSettings, to_db

_SELECT: Final = "SELECT * FROM guild_settings WHERE guild_id = ?"
_SET_FEED_CHANNEL: Final = (
    "INSERT INTO guild_settings (guild_id, feed_channel_id, updated_at) VALUES (?, ?, ?)"
    " ON CONFLICT (guild_id) DO UPDATE"
    " SET feed_channel_id = excluded.feed_channel_id, updated_at = excluded.updated_at"
)
_SET_WEARER_CAN_COMPLETE: Final = (
    "INSERT INTO guild_settings (guild_id, wearer_can_complete, updated_at) VALUES (?, ?, ?)"
    " ON CONFLICT (guild_id) DO UPDATE"
    " SET wearer_can_complete = excluded.wearer_can_complete, updated_at = excluded.updated_at"
)
_SET_LANGUAGE: Final = (
    "INSERT INTO guild_settings (guild_id, language, updated_at) VALUES (?, ?, ?)"
    " ON CONFLICT (guild_id) DO UPDATE"
    " SET language = excluded.language, updated_at = excluded.updated_at"
)


class GuildSettingsMixin(StoreBase):
    """Reading and changing a server's settings."""

    async def get_guild_settings(self, guild_id: int) -> GuildSettings:
        """The server's settings, or the defaults when it has never changed any."""
        row = await self._db.read(lambda conn: _one(conn, _SELECT, (guild_id,)))
        return GuildSettings.from_row(row) if row is not None else GuildSettings(guild_id)

    async def set_feed_channel(
        self, guild_id: int, channel_id: int | None, *, now: datetime | None = None
    ) -> GuildSettings:
        """Set (or clear, with None) the server's feed channel."""
        return await self._upsert_setting(_SET_FEED_CHANNEL, guild_id, channel_id, now)

    async def set_wearer_can_complete(
        self, guild_id: int, allowed: bool, *, now: datetime | None = None
    ) -> GuildSettings:
        """Allow or forbid wearers to complete their own tasks in this server."""
        return await self._upsert_setting(_SET_WEARER_CAN_COMPLETE, guild_id, int(allowed), now)

    async def set_language(
        self, guild_id: int, language: str, *, now: datetime | None = None
    ) -> GuildSettings:
        """Set the language of the server's public messages ('auto' or a language code)."""
        return await self._upsert_setting(_SET_LANGUAGE, guild_id, language, now)

    async def _upsert_setting(
        self, sql: str, guild_id: int, value: int | str | None, now: datetime | None
    ) -> GuildSettings:
        stamp = to_db(now if now is not None else datetime.now(UTC))

        def upsert(conn: sqlite3.Connection) -> GuildSettings:
            _write(conn, sql, (guild_id, value, stamp))
            row = _one(conn, _SELECT, (guild_id,))
            assert row is not None
            return GuildSettings.from_row(row)

        return await self._db.write(upsert)
