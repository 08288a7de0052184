"""The floor: the least a discord.py bot can do for `/task status` and `/task assign`.

Run as its own process (`python bench/floor.py`) with the same environment as the real bot. It
points discord.py at DISCORD_API_URL / DISCORD_GATEWAY_URL the same way (Route.BASE and
DEFAULT_GATEWAY), asks for the same intents (guilds + guild_reactions), and syncs the same
command names and options to DISCORD_GUILD_ID. Each command defers at once, like the real bot,
then makes one raw httpx call to Chaster:

* `/task status`: GET /api/extensions/sessions/{id}, then a followup;
* `/task assign`: POST /api/extensions/sessions/{id}/tasks/assign, then a feed message with
  `channel.send`, then a followup.

No database, no rate-limit pacing, no validation: wearer -> session comes from the JSON file in
FLOOR_SESSIONS. Whatever the real bot spends beyond this is its own overhead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from pathlib import Path

import discord
import httpx
import yarl
from discord import app_commands


class Floor(discord.Client):
    def __init__(self) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_reactions = True
        super().__init__(intents=intents)
        self.tree = app_commands.CommandTree(self)
        self.guild_id = int(os.environ["DISCORD_GUILD_ID"])
        self.sessions: dict[str, str] = json.loads(
            Path(os.environ["FLOOR_SESSIONS"]).read_text(encoding="utf-8")
        )
        self.chaster = httpx.AsyncClient(
            base_url=os.environ["CHASTER_API_URL"].rstrip("/"),
            headers={"Authorization": f"Bearer {os.environ['CHASTER_API_TOKEN']}"},
            timeout=httpx.Timeout(10.0, connect=5.0),
        )
        self.tree.add_command(task_group(self), guild=discord.Object(self.guild_id))

    async def setup_hook(self) -> None:
        await self.tree.sync(guild=discord.Object(self.guild_id))

    async def close(self) -> None:
        await self.chaster.aclose()
        await super().close()


def task_group(bot: Floor) -> app_commands.Group:
    group = app_commands.Group(name="task", description="Chaster tasks", guild_only=True)

    @group.command(name="status", description="Show a wearer's current task and points.")
    async def status(
        interaction: discord.Interaction[Floor], wearer: discord.Member | None = None
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = wearer or interaction.user
        sid = bot.sessions.get(str(who.id), "unknown")
        response = await bot.chaster.get(f"/api/extensions/sessions/{sid}")
        await interaction.followup.send(
            f"{who.mention}: Chaster answered {response.status_code}", ephemeral=True
        )

    @group.command(name="assign", description="Assign a Chaster task to a wearer.")
    async def assign(
        interaction: discord.Interaction[Floor],
        wearer: discord.Member,
        description: app_commands.Range[str, 1, 500],
        points: app_commands.Range[int, 0],
        verification: bool = False,
        duration: str | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        sid = bot.sessions.get(str(wearer.id), "unknown")
        task = {"task": description, "points": points, "verificationRequired": verification}
        response = await bot.chaster.post(
            f"/api/extensions/sessions/{sid}/tasks/assign",
            json={"task": task, "actor": "keyholder"},
        )
        if not response.is_success:
            await interaction.followup.send(
                f"Chaster refused: {response.status_code}", ephemeral=True
            )
            return
        channel = bot.get_partial_messageable(interaction.channel_id or 0, guild_id=bot.guild_id)
        await channel.send(
            f"{wearer.mention}, a new task for you.",
            embed=discord.Embed(title="📋 Task assigned", description=description),
            allowed_mentions=discord.AllowedMentions(users=[wearer]),
        )
        await interaction.followup.send(f"Assigned to {wearer.mention}.", ephemeral=True)

    return group


async def run() -> None:
    discord.http.Route.BASE = os.environ["DISCORD_API_URL"].rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["DISCORD_GATEWAY_URL"])
    async with Floor() as bot:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(bot.close()))
        await bot.start(os.environ["DISCORD_TOKEN"])


if __name__ == "__main__":
    discord.VoiceClient.warn_nacl = False
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
