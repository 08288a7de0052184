"""/task: assign, start, complete, fail and status."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands
from discord.utils import format_dt

from bot.app import caller_of, reply
from bot.feed import collect_feed_problems, timer_finished, with_feed_problems
from bot.store import TaskState
from bot.tasks.durations import format_duration
from bot.tasks.service import TaskAction, TaskStatus

if TYPE_CHECKING:
    from bot.app import TasksBot

_DONE = {
    TaskAction.START: "Timer started.",
    TaskAction.COMPLETE: "Task completed.",
    TaskAction.FAIL: "Task marked as failed.",
}


@app_commands.guild_only()
class Tasks(commands.GroupCog, group_name="task", group_description="Chaster tasks"):
    """Every subcommand defers first: they all call Chaster, whose latency is not ours."""

    def __init__(self, bot: TasksBot) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(name="assign", description="Assign a Chaster task to a wearer.")
    @app_commands.describe(
        wearer="The wearer who gets the task",
        description="What the wearer must do (up to 500 characters)",
        points="Points awarded on completion",
        verification="Require a verification photo (the wearer then finishes it in Chaster)",
        duration="Timed task: 90s, 15m, 1h30m, 2h or minutes (1 minute to 24 hours)",
    )
    async def assign(
        self,
        interaction: discord.Interaction[TasksBot],
        wearer: discord.Member,
        description: app_commands.Range[str, 1, 500],
        points: app_commands.Range[int, 0],
        verification: bool = False,
        duration: str | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        with collect_feed_problems() as problems:
            task = await self.bot.service.assign(
                caller_of(interaction),
                wearer.id,
                description=description,
                points=points,
                verification_required=verification,
                duration=duration,
                channel_id=interaction.channel_id or 0,
            )
        timed = f", timed {format_duration(task.duration_seconds)}" if task.duration_seconds else ""
        done = f"Assigned to {wearer.mention}: “{task.description}” ({task.points} points{timed})."
        await reply(interaction, with_feed_problems(done, problems), ephemeral=True)

    @app_commands.command(name="start", description="Start the timer of a timed task.")
    @app_commands.describe(wearer="Whose task (default: yours)")
    async def start(
        self, interaction: discord.Interaction[TasksBot], wearer: discord.Member | None = None
    ) -> None:
        await self._act(interaction, wearer, TaskAction.START)

    @app_commands.command(name="complete", description="Complete the current task.")
    @app_commands.describe(wearer="Whose task (default: yours)")
    async def complete(
        self, interaction: discord.Interaction[TasksBot], wearer: discord.Member | None = None
    ) -> None:
        await self._act(interaction, wearer, TaskAction.COMPLETE)

    @app_commands.command(name="fail", description="Mark the current task as failed.")
    @app_commands.describe(wearer="Whose task (default: yours)")
    async def fail(
        self, interaction: discord.Interaction[TasksBot], wearer: discord.Member | None = None
    ) -> None:
        await self._act(interaction, wearer, TaskAction.FAIL)

    async def _act(
        self,
        interaction: discord.Interaction[TasksBot],
        wearer: discord.Member | None,
        action: TaskAction,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        wearer_id = (wearer or interaction.user).id
        with collect_feed_problems() as problems:
            task = await self.bot.service.act(caller_of(interaction), wearer_id, action)
        if task.state is TaskState.AWAITING_CONFIRMATION:
            message = "Marked as done; waiting for the keyholder to confirm."
        elif task.state is TaskState.TIMER_RUNNING and task.timer_ends_at is not None:
            message = f"Timer started; it ends {format_dt(task.timer_ends_at, 'R')}."
        else:
            message = _DONE[action]
        await reply(interaction, with_feed_problems(message, problems), ephemeral=True)

    @app_commands.command(name="status", description="Show a wearer's current task and points.")
    @app_commands.describe(wearer="Whose status (default: yours)")
    async def status(
        self, interaction: discord.Interaction[TasksBot], wearer: discord.Member | None = None
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        wearer_id = (wearer or interaction.user).id
        status = await self.bot.service.status(caller_of(interaction), wearer_id)
        await reply(interaction, _describe(status, self.bot.service.clock()), ephemeral=True)


def _describe(status: TaskStatus, now: datetime) -> str:
    link, task = status.link, status.task
    lines = [f"**<@{link.wearer_id}>** · keyholder <@{link.keyholder_id}>"]
    if task is None:
        lines.append("No task yet.")
    else:
        state = task.state.label
        if timer_finished(task, now):
            state = "timer finished"
        line = f"Task #{task.id}: “{task.description}” · {task.points} points · {state}"
        if task.state is TaskState.TIMER_RUNNING and task.timer_ends_at is not None:
            line += f" · ends {format_dt(task.timer_ends_at, 'R')}"
        lines.append(line)
    if status.chaster is not None:
        config, data = status.chaster.config, status.chaster.user_data
        if config.enable_points:
            target = f" / {config.points_required}" if config.points_required else ""
            lines.append(f"Points in Chaster: {data.points}{target}")
        if data.current_task is not None and (task is None or not task.state.is_open):
            lines.append(f"Chaster shows a current task: “{data.current_task.task}”")
    elif status.chaster_error is not None:
        lines.append(f"⚠️ {status.chaster_error}")
    return "\n".join(lines)


async def setup(bot: TasksBot) -> None:
    await bot.add_cog(Tasks(bot))
