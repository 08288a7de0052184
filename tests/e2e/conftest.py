"""End-to-end harness: the real bot (as `python -m bot` builds it) against fake Discord and Chaster.

Both fakes listen on 127.0.0.1; the bot reaches them through its own settings
(`DISCORD_API_URL`, `DISCORD_GATEWAY_URL`, `CHASTER_API_URL`), exactly as a deployment would.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.bootstrap import App, create_app
from bot.config import Settings
from bot.core import Core
from bot.discord_side.client import TasksBot
from bot.store import Store
from tests.clock import FakeClock
from tests.fakes.chaster import FakeChaster, FakeSession
from tests.fakes.discord import (
    MANAGE_GUILD,
    OPTION_BOOLEAN,
    OPTION_INTEGER,
    OPTION_STRING,
    FakeDiscord,
    FakeRole,
    FakeUser,
    InteractionHandle,
    channel_option,
    option,
    reaction_add,
    user_option,
)

SLUG = "discord-tasks-bot"
EPHEMERAL = 1 << 6
GUILD = 1000
CHANNEL = 2000
FEED = 2001
ADMINS = FakeRole(3000, "admins", MANAGE_GUILD)
KEYHOLDER = FakeUser(5001, "keyholder")
WEARER = FakeUser(5002, "wearer")
STRANGER = FakeUser(5003, "stranger")
ADMIN = FakeUser(5004, "admin", roles=(ADMINS.id,))


START, COMPLETE, FAIL = "▶️", "✅", "❌"


def embed(message: dict[str, Any]) -> dict[str, Any]:
    """The one embed of a feed message."""
    [only] = message["embeds"]
    return dict(only)


def fields(message: dict[str, Any]) -> dict[str, str]:
    """A feed message's embed fields by name."""
    return {field["name"]: field["value"] for field in embed(message)["fields"]}


@dataclass
class World:
    discord: FakeDiscord
    chaster: FakeChaster
    app: App
    settings: Settings
    clock: FakeClock
    sessions: dict[int, FakeSession] = field(default_factory=dict)

    @property
    def bot(self) -> TasksBot:
        return self.app.bot

    @property
    def core(self) -> Core:
        return self.app.core

    @property
    def store(self) -> Store:
        return self.app.store

    def advance(self, seconds: float) -> None:
        """Time passes for the bot and for Chaster alike (they share the clock)."""
        self.clock.advance(seconds)

    async def command(
        self,
        name: str,
        user: FakeUser,
        subcommand: str | None = None,
        *,
        channel_id: int = CHANNEL,
        **options: Any,
    ) -> InteractionHandle:
        """Dispatch a slash command; keyword options become typed options."""
        return await self.discord.send_slash(
            name,
            user=user,
            subcommand=subcommand,
            options=[_option(key, value) for key, value in options.items()],
            channel_id=channel_id,
        )

    async def reply(
        self, name: str, user: FakeUser, subcommand: str | None = None, **options: Any
    ) -> str:
        """Run a command and return the text of its final (ephemeral) answer."""
        handle = await self.command(name, user, subcommand, **options)
        message = await handle.final_message()
        return str(message.get("content", ""))

    async def react(self, user: FakeUser, message_id: int, emoji: str, channel_id: int) -> None:
        await self.discord.dispatch(
            "MESSAGE_REACTION_ADD",
            reaction_add(
                user=user,
                channel_id=channel_id,
                message_id=message_id,
                guild_id=GUILD,
                emoji=emoji,
                message_author_id=self.discord.bot_user.id,
            ),
        )

    async def refusal(
        self, name: str, user: FakeUser, subcommand: str | None = None, **options: Any
    ) -> str:
        """Run a command that must fail: assert its answer is ephemeral and return its text."""
        handle = await self.command(name, user, subcommand, **options)
        message = await handle.final_message()
        assert int(message.get("flags") or 0) & EPHEMERAL, f"error reply not ephemeral: {message}"
        return str(message.get("content", ""))

    async def assign(
        self,
        by: FakeUser = KEYHOLDER,
        *,
        description: str = "Hold a plank",
        points: int = 5,
        **options: Any,
    ) -> dict[str, Any]:
        """`/task assign` to WEARER; return the feed message (posted before the reply)."""
        text = await self.reply(
            "task", by, "assign", wearer=WEARER, description=description, points=points, **options
        )
        assert text.startswith("Assigned to <@"), text
        return self.feed_messages()[-1]

    def feed_messages(self) -> list[dict[str, Any]]:
        """The bot's task messages (those with an embed) in every channel, oldest first."""
        return [
            message
            for _, message in sorted(self.discord.messages.items())
            if int(message["author"]["id"]) == self.discord.bot_user.id and message.get("embeds")
        ]

    def reactions_by(self, message_id: int | str, user_id: int | None = None) -> list[str]:
        """Emoji currently on a message from one user (default: the bot), sorted."""
        who = self.discord.bot_user.id if user_id is None else user_id
        return sorted(e for e, uid in self.discord.reactions.get(int(message_id), []) if uid == who)

    async def wait_reactions(self, message_id: int | str, expected: list[str]) -> None:
        """Wait until the bot's own reactions on a message are exactly `expected`."""
        await self.discord.wait_until(
            lambda: self.reactions_by(message_id) == sorted(expected),
            what=f"bot reactions {expected} on {message_id}",
        )

    async def wait_reaction_removed(
        self, message_id: int | str, user: FakeUser, emoji: str
    ) -> None:
        """Wait for the bot's DELETE of `user`'s `emoji` reaction on a message."""
        await self.discord.wait_for_call(
            "DELETE",
            rf"/channels/\d+/messages/{message_id}/reactions/{re.escape(emoji)}/{user.id}",
        )

    async def wait_edits(self, message_id: int | str, count: int = 1) -> dict[str, Any]:
        """Wait for the `count`-th PATCH of a channel message; return the message as now stored."""
        await self.discord.wait_for_call(
            "PATCH", rf"/channels/\d+/messages/{message_id}", count=count
        )
        return self.discord.messages[int(message_id)]

    def chaster_bodies(self, method: str, path_contains: str) -> list[Any]:
        """JSON bodies of the fake Chaster's calls matching `method` and a path fragment."""
        return [
            call.json
            for call in self.chaster.calls
            if call.method == method and path_contains in call.path
        ]

    def session(self, *, has_keyholder: bool = True, **kwargs: Any) -> FakeSession:
        return self.chaster.add_session(
            wearer_discord_id=str(WEARER.id),
            keyholder_discord_id=str(KEYHOLDER.id) if has_keyholder else None,
            has_keyholder=has_keyholder,
            **kwargs,
        )

    async def link(self, *, has_keyholder: bool = True, **kwargs: Any) -> FakeSession:
        """Link WEARER's lock with KEYHOLDER as its keyholder (or a self-lock by the wearer)."""
        session = self.session(has_keyholder=has_keyholder, **kwargs)
        invoker = KEYHOLDER if has_keyholder else WEARER
        text = await self.reply("link", invoker, wearer=WEARER, session_id=session.session_id)
        assert text.startswith("Linked"), text
        return session


def _option(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, FakeUser):
        return user_option(name, value)
    if isinstance(value, ChannelRef):
        return channel_option(name, value.id)
    if isinstance(value, bool):
        return option(name, value, OPTION_BOOLEAN)
    if isinstance(value, int):
        return option(name, value, OPTION_INTEGER)
    return option(name, value, OPTION_STRING)


@dataclass(frozen=True)
class ChannelRef:
    id: int


def e2e_settings(discord_fake: FakeDiscord, chaster: FakeChaster, database: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        DISCORD_TOKEN="fake-discord-token",
        CHASTER_API_TOKEN=chaster.token,
        CHASTER_EXTENSION_SLUG=SLUG,
        CHASTER_API_URL=chaster.url,
        DISCORD_API_URL=discord_fake.api_url,
        DISCORD_GATEWAY_URL=discord_fake.gateway_url,
        DATABASE_PATH=database,
        DISCORD_GUILD_ID=GUILD,
    )


@asynccontextmanager
async def running_world(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **settings: Any
) -> AsyncIterator[World]:
    """The bot, ready, against a fake Discord and a fake Chaster; `settings` change the bot's
    settings (say, to turn the web server on)."""
    # The bot points discord.py's class attributes at the fake; restore them afterwards.
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket,
        "DEFAULT_GATEWAY",
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
    )
    clock = FakeClock()
    async with (
        FakeDiscord(
            guild_id=GUILD,
            channel_ids=(CHANNEL, FEED),
            members=[KEYHOLDER, WEARER, STRANGER, ADMIN],
            roles=[ADMINS],
        ) as discord_fake,
        FakeChaster(slug=SLUG, clock=clock.now) as chaster,
    ):
        base = e2e_settings(discord_fake, chaster, tmp_path / "bot.sqlite3")
        configured = base.model_copy(update=settings) if settings else base
        async with create_app(configured, clock=clock.now, guild_ready_timeout=0.05) as app:
            runner = asyncio.create_task(app.run())
            ready = asyncio.create_task(app.bot.wait_until_ready())
            done, _ = await asyncio.wait(
                {runner, ready}, timeout=10, return_when=asyncio.FIRST_COMPLETED
            )
            if ready not in done:
                ready.cancel()
                await app.close()
                await runner
                raise AssertionError("the bot never became ready")
            yield World(discord_fake, chaster, app, configured, clock)
            await app.close()
            await runner
        assert discord_fake.unhandled == []


@pytest.fixture
async def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[World]:
    async with running_world(monkeypatch, tmp_path) as running:
        yield running
