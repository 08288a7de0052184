"""The Discord side: the Bot, its command tree, and building everything from the settings."""

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
from discord.utils import format_dt

import cogs
from bot.chaster import ChasterClient
from bot.config import Settings
from bot.health import Heartbeat, heartbeat_path
from bot.store import Database, Store
from bot.tasks.errors import Refused
from bot.tasks.poller import Poller
from bot.tasks.service import Caller, TaskService
from bot.tasks.timers import Timers
from bot.web import WebServer

log = logging.getLogger(__name__)

# How long shutdown waits for commands and reactions that are being handled.
SHUTDOWN_GRACE_SECONDS = 10.0


def render_refusal(refusal: Refused) -> str:
    """A refusal as the person will read it, times shown in their own time zone."""
    return refusal.render(lambda moment: format_dt(moment, "R"))


async def reply(interaction: discord.Interaction[Any], content: str, *, ephemeral: bool) -> None:
    """Answer through the initial response if it is still open, else through a followup."""
    allowed = discord.AllowedMentions.none()
    if interaction.response.is_done():
        await interaction.followup.send(content, ephemeral=ephemeral, allowed_mentions=allowed)
    else:
        await interaction.response.send_message(
            content, ephemeral=ephemeral, allowed_mentions=allowed
        )


def caller_of(interaction: discord.Interaction[Any]) -> Caller:
    """The service's view of who invoked a command, and where."""
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage("This command only works in a server.")
    return Caller(
        user_id=interaction.user.id,
        guild_id=interaction.guild_id,
        can_manage_guild=interaction.permissions.manage_guild,
    )


def _transform_refusal(error: app_commands.TransformerError) -> str:
    """Discord sent a value an option cannot take, e.g. a user who is not in this server."""
    if error.type in (discord.AppCommandOptionType.user, discord.AppCommandOptionType.mentionable):
        name = discord.utils.escape_mentions(str(error.value))[:80]
        return f"{name} is not a member of this server."
    if error.type is discord.AppCommandOptionType.channel:
        return "That channel can't be used for this; pick a text channel of this server."
    return "One of the options has a value I can't use."


class TasksTree(app_commands.CommandTree["TasksBot"]):
    """Renders every error once, as a short ephemeral reply, and tracks commands in flight."""

    async def interaction_check(self, interaction: discord.Interaction[TasksBot], /) -> bool:
        # Ended by on_error or by the bot's on_app_command_completion, whichever comes.
        interaction.client.work.begin(("command", interaction.id))
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
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        if isinstance(cause, Refused):
            message = render_refusal(cause)
        elif isinstance(cause, app_commands.TransformerError):
            message = _transform_refusal(cause)
        elif isinstance(cause, app_commands.NoPrivateMessage):
            message = "This command only works in a server."
        elif isinstance(cause, app_commands.CheckFailure):
            message = "You can't use this command here."
        else:
            command = interaction.command.qualified_name if interaction.command else "?"
            log.error("command /%s failed", command, exc_info=cause)
            message = "Something went wrong on my side; it has been logged."
        try:
            await reply(interaction, message, ephemeral=True)
        except discord.HTTPException:
            log.warning("could not deliver an error reply for interaction %d", interaction.id)


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


class TasksBot(commands.Bot):
    """The bot: slash commands and reactions in front of the task service."""

    def __init__(self, settings: Settings, service: TaskService, **options: Any) -> None:
        # The bot never joins voice; skip discord.py's start-up warnings about voice libraries.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        intents = discord.Intents.none()
        intents.guilds = True
        # Raw reaction events on feed messages, including messages from before a restart.
        intents.guild_reactions = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=TasksTree,
            help_command=None,
            allowed_mentions=discord.AllowedMentions(everyone=False, roles=False, users=True),
            **options,
        )
        self.settings = settings
        self.service = service
        self.work = InFlight()
        self.timers = Timers(service)
        self.poller = Poller(service, settings.CHASTER_POLL_SECONDS)
        self.web: WebServer | None = None
        self.heartbeat = Heartbeat(
            heartbeat_path(settings), alive=lambda: self.is_ready() and not self.is_closed()
        )

    async def setup_hook(self) -> None:
        for module in pkgutil.iter_modules(cogs.__path__):
            await self.load_extension(f"{cogs.__name__}.{module.name}")
        await self._sync_commands()
        # Deadlines first (overdue ones fire at once), then what a crash left half done, then
        # the first poll round, which catches up with what changed in Chaster meanwhile.
        await self.timers.start()
        await self.service.resume()
        self.poller.start()
        if self.settings.WEBHOOK_PORT is not None:
            assert self.settings.WEBHOOK_USERNAME and self.settings.WEBHOOK_PASSWORD
            self.web = WebServer(
                self.service,
                host=self.settings.WEBHOOK_HOST,
                port=self.settings.WEBHOOK_PORT,
                username=self.settings.WEBHOOK_USERNAME,
                password=self.settings.WEBHOOK_PASSWORD,
                is_healthy=lambda: self.is_ready() and not self.is_closed(),
            )
            await self.web.start()
        self.heartbeat.start()

    async def close(self) -> None:
        """Stop taking work, finish what was accepted, then disconnect."""
        await self.heartbeat.stop()
        if self.web is not None:
            await self.web.stop()
        await self.poller.stop()
        await self.timers.stop()
        if not await self.work.drained(within=SHUTDOWN_GRACE_SECONDS):
            log.warning("shutting down with %d commands or reactions unfinished", len(self.work))
        await super().close()

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


@asynccontextmanager
async def create_bot(settings: Settings, **options: Any) -> AsyncIterator[TasksBot]:
    """Build the Chaster client, store, service and bot; close them all on exit."""
    point_discord_at(settings)
    async with (
        ChasterClient(settings.CHASTER_API_URL, settings.CHASTER_API_TOKEN) as chaster,
        await Database.open(settings.DATABASE_PATH) as database,
    ):
        service = TaskService(Store(database), chaster, settings.CHASTER_EXTENSION_SLUG)
        bot = TasksBot(settings, service, **options)
        async with bot:
            yield bot
