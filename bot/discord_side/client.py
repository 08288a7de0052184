"""The Discord bot: its command tree, the cogs, and the words it answers with."""

from __future__ import annotations

import asyncio
import logging
import pkgutil
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.ext import commands

import cogs
from bot.config import Settings
from bot.core import Core
from bot.core.errors import Refused
from bot.discord_side.interactions import reply, say_when_chaster_is_busy
from bot.discord_side.language import CommandTranslator, language_of_locale, server_language
from bot.discord_side.voice import Voice
from bot.i18n import Catalogue

log = logging.getLogger(__name__)

# How long shutdown waits, in all, for the work accepted before it began: webhook deliveries
# acknowledged and commands and reactions being handled. One budget for every part, so a stop
# ends well inside docker compose's 30 s stop_grace_period even when Chaster is stuck.
SHUTDOWN_GRACE_SECONDS = 10.0


class TasksTree(app_commands.CommandTree["TasksBot"]):
    """Renders every error once, as a short ephemeral reply, and tracks commands in flight."""

    async def interaction_check(self, interaction: discord.Interaction[TasksBot], /) -> bool:
        if interaction.type is not discord.InteractionType.application_command:
            # Autocomplete is answered at once, and neither hook below ends it.
            return True
        # Ended by on_error or by the bot's on_app_command_completion, whichever comes.
        interaction.client.work.begin(("command", interaction.id))
        say_when_chaster_is_busy(interaction)
        return True

    async def on_error(
        self, interaction: discord.Interaction[TasksBot], error: app_commands.AppCommandError
    ) -> None:
        try:
            await self._render_error(interaction, error)
        finally:
            interaction.client.work.end(("command", interaction.id))

    async def _render_error(
        self, interaction: discord.Interaction[TasksBot], error: app_commands.AppCommandError
    ) -> None:
        voice = interaction.client.voice_for(interaction)
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        if isinstance(cause, Refused):
            message = voice.refusal(cause)
        elif isinstance(cause, app_commands.TransformerError):
            message = _transform_refusal(cause, voice)
        elif isinstance(cause, app_commands.NoPrivateMessage):
            message = voice.text("error.server-only")
        elif isinstance(cause, app_commands.CheckFailure):
            message = voice.text("error.not-here")
        else:
            command = interaction.command.qualified_name if interaction.command else "?"
            log.error("command /%s failed", command, exc_info=cause)
            message = voice.text("error.internal")
        try:
            await reply(interaction, message, ephemeral=True)
        except discord.HTTPException:
            log.warning("could not deliver an error reply for interaction %d", interaction.id)


def _transform_refusal(error: app_commands.TransformerError, voice: Voice) -> str:
    """Discord sent a value an option cannot take, e.g. a user who is not in this server."""
    if error.type in (discord.AppCommandOptionType.user, discord.AppCommandOptionType.mentionable):
        name = discord.utils.escape_mentions(str(error.value))[:80]
        return voice.text("error.not-a-member", name=name)
    if error.type is discord.AppCommandOptionType.channel:
        return voice.text("error.bad-channel")
    return voice.text("error.bad-option")


class InFlight:
    """Work that has started and must finish before shutdown closes Discord's connection."""

    def __init__(self) -> None:
        self._keys: set[Hashable] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    def __len__(self) -> int:
        return len(self._keys)

    def begin(self, key: Hashable) -> None:
        self._keys.add(key)
        self._idle.clear()

    def end(self, key: Hashable) -> None:
        self._keys.discard(key)
        if not self._keys:
            self._idle.set()

    @asynccontextmanager
    async def running(self, key: Hashable) -> AsyncIterator[None]:
        self.begin(key)
        try:
            yield
        finally:
            self.end(key)

    async def drained(self, within: float) -> bool:
        """Wait until nothing is in flight; False if `within` seconds passed first."""
        try:
            await asyncio.wait_for(self._idle.wait(), within)
        except TimeoutError:
            return False
        return True


def _drop(data: Any) -> None:
    """A gateway event the bot does not read."""


class TasksBot(commands.Bot):
    """Slash commands, reactions and the feed, in front of the core."""

    def __init__(
        self, settings: Settings, core: Core, catalogue: Catalogue, **options: Any
    ) -> None:
        # The bot never joins voice; skip discord.py's start-up warnings about voice libraries.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        intents = discord.Intents.none()
        intents.guilds = True
        # Raw reaction events on feed messages, including messages from before a restart.
        intents.guild_reactions = True
        # Only for MESSAGE_DELETE: a deleted feed message of an open task is posted again at
        # once. Not privileged, and no message content; the messages themselves are dropped
        # unparsed (`_ignore_messages`).
        intents.guild_messages = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=TasksTree,
            help_command=None,
            allowed_mentions=discord.AllowedMentions(everyone=False, roles=False, users=True),
            **options,
        )
        self.settings = settings
        self.core = core
        self.catalogue = catalogue
        self.work = InFlight()
        # What is left of the shutdown's budget when the deployment closes the bot.
        self.grace_seconds = SHUTDOWN_GRACE_SECONDS
        self._ignore_own_reactions()
        self._ignore_messages()

    def _ignore_messages(self) -> None:
        """Drop MESSAGE_CREATE and MESSAGE_UPDATE before discord.py parses them.

        The Guild Messages intent, asked for its deletions, also brings every message posted
        or edited in the servers' channels (without content); the bot reads none of them, and
        parsing and caching each would cost CPU and memory on a busy server.
        """
        parsers = self._connection.parsers
        for event in ("MESSAGE_CREATE", "MESSAGE_UPDATE"):
            parsers[event] = _drop

    def _ignore_own_reactions(self) -> None:
        """Drop the gateway's echo of the bot's own reactions before discord.py parses it.

        Discord sends MESSAGE_REACTION_ADD for every reaction the bot puts on a feed message
        (two or three per task), and the reaction handler ignores them; parsing each one (its
        emoji, event and member objects) and dispatching it to every listener cost about a
        tenth of a millisecond, a few per cent of an assign's CPU. discord.py keeps its
        gateway parsers in `ConnectionState.parsers`, by event name, since 1.x (pinned).
        """
        parsers = self._connection.parsers
        parse = parsers["MESSAGE_REACTION_ADD"]

        def parse_unless_own(data: Any) -> None:
            if self.user is not None and data.get("user_id") == str(self.user.id):
                return
            parse(data)

        parsers["MESSAGE_REACTION_ADD"] = parse_unless_own

    async def setup_hook(self) -> None:
        await self.tree.set_translator(CommandTranslator(self.catalogue))
        for module in pkgutil.iter_modules(cogs.__path__):
            await self.load_extension(f"{cogs.__name__}.{module.name}")
        await self._sync_commands()

    async def close(self) -> None:
        """Finish the commands and reactions already accepted, then disconnect."""
        if not await self.work.drained(within=self.grace_seconds):
            log.warning("shutting down with %d commands or reactions unfinished", len(self.work))
        await super().close()

    def is_healthy(self) -> bool:
        return self.is_ready() and not self.is_closed()

    # -- names for the extension's main page (core.pages.Directory) --------------------------

    async def server_name(self, guild_id: int) -> str | None:
        guild = self.get_guild(guild_id)
        return guild.name if guild is not None else None

    async def member_name(self, guild_id: int, user_id: int) -> str | None:
        """Their display name in the server now (read from Discord when not cached: the bot
        does not receive member lists), else as a user the bot has seen; None if unknown."""
        guild = self.get_guild(guild_id)
        member = guild.get_member(user_id) if guild is not None else None
        if member is None and guild is not None:
            try:
                member = await guild.fetch_member(user_id)
            except discord.HTTPException:
                member = None
        if member is not None:
            return member.display_name
        user = self.get_user(user_id)
        return user.display_name if user is not None else None

    def voice_for(self, interaction: discord.Interaction[Any]) -> Voice:
        """The words for a reply that only this person sees: their own Discord language."""
        return Voice(language_of_locale(interaction.locale, self.catalogue), self.catalogue)

    async def server_voice(self, guild_id: int) -> Voice:
        """The words for a public message in a server: its `/settings language`."""
        setting = (await self.core.settings.of(guild_id)).language
        language = server_language(setting, self.get_guild(guild_id), self.catalogue)
        return Voice(language, self.catalogue)

    async def on_app_command_completion(
        self,
        interaction: discord.Interaction[TasksBot],
        command: app_commands.Command[Any, ..., Any] | app_commands.ContextMenu,
    ) -> None:
        self.work.end(("command", interaction.id))

    async def _sync_commands(self) -> None:
        guild_id = self.settings.DISCORD_GUILD_ID
        if guild_id is not None:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to server %d", len(synced), guild_id)
        else:
            synced = await self.tree.sync()
            log.info("synced %d global commands (they may take a while to appear)", len(synced))

    async def on_ready(self) -> None:
        log.info("connected as %s in %d servers", self.user, len(self.guilds))


def point_discord_at(settings: Settings) -> None:
    """Send discord.py's REST and gateway traffic to the configured URLs (proxy or local fake).

    discord.py has no option for either, so its two class attributes are set; both have been
    stable since 1.x and are pinned with the library version.
    """
    discord.http.Route.BASE = settings.DISCORD_API_URL
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.DISCORD_GATEWAY_URL)
