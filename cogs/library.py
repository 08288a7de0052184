"""/library: a keyholder's own task library in this server (add, list, remove, import)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.errors import Person, TaskText
from bot.core.library import Candidate
from bot.discord_side.controls import PAGE_BUTTON, page_buttons
from bot.discord_side.interactions import caller_of, reply
from bot.discord_side.language import command_text
from bot.discord_side.proof_view import PROOF_CHOICES, proof_of
from bot.discord_side.suggestions import describe, entry_choices
from bot.discord_side.voice import Voice
from bot.store import LibraryEntry

if TYPE_CHECKING:
    from bot.discord_side.client import TasksBot

PAGE_SIZE = 10


@app_commands.guild_only()
class Library(
    commands.GroupCog, group_name="library", group_description=command_text("command.library")
):
    """Everything here is the caller's own: nobody else's entries are ever shown or touched."""

    def __init__(self, bot: TasksBot) -> None:
        self.bot = bot
        super().__init__()

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(PageButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(PageButton)

    @app_commands.command(name="add", description=command_text("command.library.add"))
    @app_commands.describe(
        description=command_text("option.library.add.description"),
        points=command_text("option.library.add.points"),
        duration=command_text("option.library.add.duration"),
        verification=command_text("option.library.add.verification"),
        tag=command_text("option.library.add.tag"),
        deadline=command_text("option.deadline"),
        proof=command_text("option.proof"),
    )
    @app_commands.choices(proof=PROOF_CHOICES)
    async def add(
        self,
        interaction: discord.Interaction[TasksBot],
        description: app_commands.Range[str, 1, 500],
        points: app_commands.Range[int, 0],
        duration: str | None = None,
        verification: bool = False,
        tag: app_commands.Range[str, 1, 32] | None = None,
        deadline: app_commands.Range[str, 1, 16] | None = None,
        proof: app_commands.Choice[str] | None = None,
    ) -> None:
        entry = await self.bot.core.library.add(
            caller_of(interaction),
            description=description,
            points=points,
            duration=duration,
            verification_required=verification,
            tag=tag,
            deadline=deadline,
            proof=proof_of(proof),
        )
        voice = self.bot.voice_for(interaction)
        await reply(
            interaction,
            voice.text("reply.library-added", number=entry.id, task=TaskText(entry.description)),
            ephemeral=True,
        )

    @app_commands.command(name="list", description=command_text("command.library.list"))
    @app_commands.describe(tag=command_text("option.library.list.tag"))
    async def list_(
        self,
        interaction: discord.Interaction[TasksBot],
        tag: app_commands.Range[str, 1, 32] | None = None,
    ) -> None:
        entries = await self.bot.core.library.entries(caller_of(interaction), tag)
        content, view = library_page(entries, 0, tag, self.bot.voice_for(interaction))
        await interaction.response.send_message(
            content,
            view=view or discord.utils.MISSING,
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @app_commands.command(name="remove", description=command_text("command.library.remove"))
    @app_commands.describe(entry=command_text("option.library.remove.entry"))
    async def remove(self, interaction: discord.Interaction[TasksBot], entry: str) -> None:
        removed = await self.bot.core.library.remove(caller_of(interaction), entry)
        voice = self.bot.voice_for(interaction)
        await reply(
            interaction,
            voice.text(
                "reply.library-removed", number=removed.id, task=TaskText(removed.description)
            ),
            ephemeral=True,
        )

    @remove.autocomplete("entry")
    async def _entry_choices(
        self, interaction: discord.Interaction[TasksBot], current: str
    ) -> list[app_commands.Choice[str]]:
        entries = await self.bot.core.library.entries(caller_of(interaction))
        return entry_choices(entries, current, self.bot.voice_for(interaction))

    @app_commands.command(name="import", description=command_text("command.library.import"))
    @app_commands.describe(wearer=command_text("option.library.import.wearer"))
    async def import_(
        self, interaction: discord.Interaction[TasksBot], wearer: discord.Member
    ) -> None:
        # Chaster is read: defer first.
        await interaction.response.defer(ephemeral=True, thinking=True)
        done = await self.bot.core.library.import_from_lock(caller_of(interaction), wearer.id)
        voice = self.bot.voice_for(interaction)
        lines = [
            voice.text(
                "reply.library-imported",
                count=done.added,
                wearer=Person(wearer.id),
                skipped=done.skipped,
            )
        ]
        if done.full:
            lines.append(voice.text("reply.library-import-full"))
        await reply(interaction, "\n".join(lines), ephemeral=True)


def library_page(
    entries: list[LibraryEntry], page: int, tag: str | None, voice: Voice
) -> tuple[str, discord.ui.View | None]:
    """One page of the caller's entries, with Previous and Next when there are more."""
    if not entries:
        return voice.text("library.empty"), None
    pages = (len(entries) + PAGE_SIZE - 1) // PAGE_SIZE
    page = min(max(page, 0), pages - 1)
    shown = entries[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    lines = [voice.text("library.header", count=len(entries))]
    for entry in shown:
        line = f"`#{entry.id}` {describe(Candidate.of(entry), voice)}"
        lines.append(f"{line} · `{entry.tag}`" if entry.tag else line)
    if pages == 1:
        return "\n".join(lines), None
    lines.append(voice.text("library.page", page=page + 1, pages=pages))
    suffix = f":{tag}" if tag else ""
    view = page_buttons(
        page, pages, voice, custom_id=lambda target: f"library:page:{target}{suffix}"
    )
    return "\n".join(lines), view


class PageButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=PAGE_BUTTON):
    """Previous or Next on a /library list: shows that page of the presser's own entries."""

    def __init__(self, page: int, tag: str | None) -> None:
        suffix = f":{tag}" if tag else ""
        super().__init__(discord.ui.Button(custom_id=f"library:page:{page}{suffix}"))
        self.page = page
        self.tag = tag

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> PageButton:
        return cls(int(match["page"]), match["tag"])

    async def callback(self, interaction: discord.Interaction[TasksBot]) -> None:  # type: ignore[override]
        bot = interaction.client
        entries = await bot.core.library.entries(caller_of(interaction), self.tag)
        content, view = library_page(entries, self.page, self.tag, bot.voice_for(interaction))
        await interaction.response.edit_message(
            content=content, view=view, allowed_mentions=discord.AllowedMentions.none()
        )


async def setup(bot: TasksBot) -> None:
    await bot.add_cog(Library(bot))
