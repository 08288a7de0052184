"""/task history in words: ten tasks a page, with Previous and Next."""

from __future__ import annotations

import re
from typing import Any

import discord

from bot.core.durations import format_span
from bot.core.errors import Person, Refused, TaskText
from bot.core.record import GivenBy, HistoryPage, given_by, outcome_of, took_seconds
from bot.discord_side.controls import HISTORY_BUTTON, page_buttons
from bot.discord_side.interactions import caller_of
from bot.discord_side.voice import Voice
from bot.store import Task


def history_page(page: HistoryPage, voice: Voice) -> tuple[str, discord.ui.View | None]:
    """The page's text, and its buttons when there is more than one page."""
    wearer = Person(page.wearer_id)
    if not page.tasks:
        return voice.text("history.empty", wearer=wearer), None
    lines = [voice.text("history.header", wearer=wearer, count=page.total)]
    lines += [_line(task, voice) for task in page.tasks]
    if page.pages == 1:
        return "\n".join(lines), None
    lines.append(voice.text("library.page", page=page.page + 1, pages=page.pages))
    view = page_buttons(
        page.page,
        page.pages,
        voice,
        custom_id=lambda target: f"history:page:{page.wearer_id}:{target}",
    )
    return "\n".join(lines), view


def _line(task: Task, voice: Voice) -> str:
    by = given_by(task)
    if by is GivenBy.PERSON and task.assigned_by is not None:
        who = voice.text("history.by.person", user=Person(task.assigned_by))
    else:
        who = voice.text(f"history.by.{by.value}", number=task.schedule_id or 0)
    line = voice.text(
        "history.line",
        id=task.id,
        outcome=voice.text(f"history.outcome.{outcome_of(task).value}"),
        task=TaskText(task.description),
        count=task.points,
        by=who,
        assigned=task.assigned_at,
    )
    took = took_seconds(task)
    if task.closed_at is not None and took is not None:
        line += " · " + voice.text("history.finished", at=task.closed_at, took=format_span(took))
    return line


class HistoryButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=HISTORY_BUTTON):
    """Previous or Next on a /task history: that page, if the presser may still see it."""

    def __init__(self, wearer_id: int, page: int) -> None:
        super().__init__(discord.ui.Button(custom_id=f"history:page:{wearer_id}:{page}"))
        self.wearer_id = wearer_id
        self.page = page

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> HistoryButton:
        return cls(int(match["wearer"]), int(match["page"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot = interaction.client
        voice: Voice = bot.voice_for(interaction)
        try:
            page = await bot.core.record.history(caller_of(interaction), self.wearer_id, self.page)
        except Refused as refusal:
            await interaction.response.send_message(
                voice.refusal(refusal),
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )
            return
        content, view = history_page(page, voice)
        await interaction.response.edit_message(
            content=content,
            view=view,
            allowed_mentions=discord.AllowedMentions.none(),
        )
