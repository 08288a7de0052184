"""`Store` methods for guild settings: one row per server, defaults until it changes one."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from functools import partial
from typing import Final

from ._queries import StoreBase, _one, _write
from .rows import Controls, GuildSettings, to_db

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
_SET_CONTROLS: Final = (
    "INSERT INTO guild_settings (guild_id, controls, updated_at) VALUES (?, ?, ?)"
    " ON CONFLICT (guild_id) DO UPDATE"
    " SET controls = excluded.controls, updated_at = excluded.updated_at"
)
_SET_LANGUAGE: Final = (
    "INSERT INTO guild_settings (guild_id, language, updated_at) VALUES (?, ?, ?)"
    " ON CONFLICT (guild_id) DO UPDATE"
    " SET language = excluded.language, updated_at = excluded.updated_at"
)
_SET_TIMEZONE: Final = (
    "INSERT INTO guild_settings (guild_id, timezone, updated_at) VALUES (?, ?, ?)"
    " ON CONFLICT (guild_id) DO UPDATE"
    " SET timezone = excluded.timezone, updated_at = excluded.updated_at"
)
_SET_RETENTION: Final = (
    "INSERT INTO guild_settings (guild_id, retention_days, updated_at) VALUES (?, ?, ?)"
    " ON CONFLICT (guild_id) DO UPDATE"
    " SET retention_days = excluded.retention_days, updated_at = excluded.updated_at"
)
_SET_CHASTER_HISTORY: Final = (
    "INSERT INTO guild_settings (guild_id, chaster_history, updated_at) VALUES (?, ?, ?)"
    " ON CONFLICT (guild_id) DO UPDATE"
    " SET chaster_history = excluded.chaster_history, updated_at = excluded.updated_at"
)


class SettingsCache:
    """Each server's settings as last read or written, so the reads on every command and
    feed event (feed channel, language) cost no trip to the database.

    Only this process writes the settings, and only through `Store`, which updates the cache
    after each write. A read that overlapped a write may have seen the row before it, so its
    result is kept only if no write began or ended while it ran.
    """

    def __init__(self) -> None:
        self._settings: dict[int, GuildSettings] = {}
        # Bumped when a write begins and when it ends; `_writing` counts those in flight.
        self._epoch = 0
        self._writing = 0

    def get(self, guild_id: int) -> GuildSettings | None:
        return self._settings.get(guild_id)

    def read_started(self) -> int:
        """A ticket for `read_done`."""
        return self._epoch

    def read_done(self, ticket: int, settings: GuildSettings) -> None:
        if ticket == self._epoch and not self._writing:
            self._settings[settings.guild_id] = settings

    def write_started(self, guild_id: int) -> None:
        self._epoch += 1
        self._writing += 1
        # Until the write's outcome is known, the row is whatever the database says.
        self._settings.pop(guild_id, None)

    def write_done(self, guild_id: int, write: asyncio.Future[GuildSettings]) -> None:
        """Called when the write has run (or failed) on the database thread."""
        self._epoch += 1
        self._writing -= 1
        if write.cancelled() or write.exception() is not None:
            self._settings.pop(guild_id, None)
        else:
            self._settings[guild_id] = write.result()


class GuildSettingsMixin(StoreBase):
    """Reading and changing a server's settings."""

    _settings_cache: SettingsCache

    async def get_guild_settings(self, guild_id: int) -> GuildSettings:
        """The server's settings, or the defaults when it has never changed any."""
        cache = self._settings_cache
        cached = cache.get(guild_id)
        if cached is not None:
            return cached
        ticket = cache.read_started()
        row = await self._db.look_up(lambda conn: _one(conn, _SELECT, (guild_id,)))
        settings = GuildSettings.from_row(row) if row is not None else GuildSettings(guild_id)
        cache.read_done(ticket, settings)
        return settings

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

    async def set_controls(
        self, guild_id: int, controls: Controls, *, now: datetime | None = None
    ) -> GuildSettings:
        """Set what the server's new feed messages carry: buttons, reactions or both."""
        return await self._upsert_setting(_SET_CONTROLS, guild_id, Controls(controls).value, now)

    async def set_timezone(
        self, guild_id: int, timezone: str, *, now: datetime | None = None
    ) -> GuildSettings:
        """Set the IANA time zone of the server's schedules that name none."""
        return await self._upsert_setting(_SET_TIMEZONE, guild_id, timezone, now)

    async def set_retention(
        self, guild_id: int, days: int | None, *, now: datetime | None = None
    ) -> GuildSettings:
        """How many days the server keeps its record (None: forever)."""
        return await self._upsert_setting(_SET_RETENTION, guild_id, days, now)

    async def set_chaster_history(
        self, guild_id: int, enabled: bool, *, now: datetime | None = None
    ) -> GuildSettings:
        """Whether the server's actions are also written in the locks' Chaster history."""
        return await self._upsert_setting(_SET_CHASTER_HISTORY, guild_id, int(enabled), now)

    async def _upsert_setting(
        self, sql: str, guild_id: int, value: int | str | None, now: datetime | None
    ) -> GuildSettings:
        stamp = to_db(now if now is not None else datetime.now(UTC))

        def upsert(conn: sqlite3.Connection) -> GuildSettings:
            _write(conn, sql, (guild_id, value, stamp))
            row = _one(conn, _SELECT, (guild_id,))
            assert row is not None
            return GuildSettings.from_row(row)

        cache = self._settings_cache
        cache.write_started(guild_id)
        write = asyncio.ensure_future(self._db.write(upsert))
        write.add_done_callback(partial(cache.write_done, guild_id))
        # Shielded: a caller cancelled mid-write must not end the cache's wait for the outcome,
        # since the write may still commit.
        return await asyncio.shield(write)
