"""The task feed: one message per task, edited as the task moves, plus pings people must see."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot.core.errors import Person
from bot.core.guards import KeyedLocks
from bot.core.model import Event, EventKind, LinkEvent, LinkEventKind, TaskEvent
from bot.discord_side.controls import task_buttons
from bot.discord_side.feed_problems import UNKNOWN_CHANNEL, UNKNOWN_MESSAGE, report_feed_problem
from bot.discord_side.feed_view import (
    COMPLETE_EMOJI,
    FAIL_EMOJI,
    FEED_EMOJI,
    reactions_for,
    task_embed,
)
from bot.discord_side.link_requests import close_link_request
from bot.discord_side.voice import Voice
from bot.jobs.background import Background
from bot.store import Proof, ProofReview, ProofState, SessionLink, Task, TaskState

if TYPE_CHECKING:
    from bot.discord_side.client import TasksBot

log = logging.getLogger(__name__)

# How often the feed looks for tasks whose message shows an older state, how many it shows
# again per round (a few requests, whatever Discord refuses), and how long after a change it
# leaves the event that made the change to show it.
REPAIR_SECONDS = 20.0
REPAIR_BATCH = 10
SETTLE_SECONDS = 10.0

# The state a task's message is shown in, as an event of that kind (the repair pass).
_KIND_OF_STATE = {
    TaskState.ASSIGNED: EventKind.ASSIGNED,
    TaskState.TIMER_RUNNING: EventKind.TIMER_STARTED,
    TaskState.AWAITING_CONFIRMATION: EventKind.CONFIRMATION_REQUESTED,
    TaskState.COMPLETED: EventKind.COMPLETED,
    TaskState.FAILED: EventKind.FAILED,
}


class Feed(commands.Cog):
    """Subscribes to the core's events and mirrors every task event in the feed channel, in
    the server's language. A message Discord refused to post or edit, or one deleted, is
    shown again by a repair pass, so the feed catches up once Discord lets it."""

    def __init__(self, bot: TasksBot) -> None:
        self.bot = bot
        bot.core.events.subscribe(self.on_event)
        # One rendering of a task at a time: an event and the repair pass (or two events)
        # would otherwise both post a message for a task that has none.
        # (Not the core's wearer guards: it emits events while holding them.)
        self._rendering: KeyedLocks[int] = KeyedLocks()
        self._repair = Background("feed-repair", self._repair_loop)

    async def cog_load(self) -> None:
        self._repair.start()

    async def cog_unload(self) -> None:
        await self._repair.stop()

    def _lock(self, task_id: int) -> asyncio.Lock:
        return self._rendering.of(task_id)

    async def _repair_loop(self) -> None:
        await self.bot.wait_until_ready()
        while True:
            await asyncio.sleep(REPAIR_SECONDS)
            try:
                await self.repair()
            except Exception:
                log.exception("feed repair failed")

    async def repair(self) -> int:
        """Show again the tasks whose message shows an older state; how many were shown."""
        shown = 0
        stale = await self.bot.core.tasks.stale_feed(
            settle_seconds=SETTLE_SECONDS, limit=REPAIR_BATCH
        )
        for task in stale:
            link = await self.bot.core.tasks.link_of(task)
            if link is None or not link.is_open:
                await self.bot.core.tasks.feed_shown(task)  # an ended link's feed rests
                continue
            current = await self._show_again(task.id, link, late_because=None)
            shown += current is not None
        return shown

    async def _show_again(
        self,
        task_id: int,
        link: SessionLink,
        *,
        late_because: str | None,
        replacing: int | None = None,
    ) -> Task | None:
        """Show the task as it is now: edit its message, or post it again (`late_because`
        says why) in place of the message `replacing`, unless that is no longer its message."""
        async with self._lock(task_id):
            task = await self.bot.core.tasks.get(task_id)
            if task is None or (replacing is not None and task.feed_message_id != replacing):
                return None
            event = TaskEvent(
                _KIND_OF_STATE[task.state],
                task,
                link,
                await self.bot.core.settings.feed_channel_for(link),
                None,
            )
            voice = await self.bot.server_voice(link.guild_id)
            try:
                if late_because is not None:
                    return await self._post(event, voice, late_because=late_because)
                return await self._update(event, voice)
            except discord.HTTPException as error:
                log.warning(
                    "feed: task %d still not shown: %s %s", task.id, error.status, error.text
                )
                return None

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        """Someone deleted an open task's message: post it again at once (a task must stay
        visible and reactable). A closed task's message may go."""
        task = await self.bot.core.tasks.for_message(payload.message_id)
        if task is None or not task.state.is_open:
            return
        link = await self.bot.core.tasks.link_of(task)
        if link is None or not link.is_open:
            return
        log.info("feed message of task %d was deleted; posting it again", task.id)
        # Nothing, if an edit met the deletion first and posted it again already.
        await self._show_again(
            task.id, link, late_because="feed.late.deleted", replacing=payload.message_id
        )

    async def on_event(self, event: Event) -> None:
        try:
            if isinstance(event, LinkEvent):
                await self._on_link_event(event)
            elif isinstance(event, TaskEvent):
                await self._on_task_event(event)
            # Votes have their own messages (cogs/votes.py), automation too
            # (cogs/automation_feed.py).
        except discord.HTTPException as error:
            # The change itself is saved; only showing it failed. Tell the person whose
            # command caused it (if any) and the log what to fix.
            channel_id = _feed_channel(event) if isinstance(event, TaskEvent) else event.channel_id
            log.warning(
                "feed: could not show %s in channel %s: %s %s",
                event.kind,
                channel_id,
                error.status,
                error.text,
            )
            report_feed_problem(error, channel_id)

    async def _on_task_event(self, event: TaskEvent) -> None:
        voice = await self.bot.server_voice(event.link.guild_id)
        async with self._lock(event.task.id):
            if event.kind is EventKind.ASSIGNED:
                posted = await self.bot.core.tasks.get(event.task.id)
                if posted is None or posted.feed_message_id is None:
                    await self._post(event, voice)
                    return
                # Told twice (a start-up catch-up and the assign itself): shown already.
                event = dataclasses.replace(event, task=posted)
            task = await self._update(event, voice)
        if event.kind is EventKind.ASSIGNED:
            return
        link = event.link
        # An edit notifies nobody, so these also get a message that mentions who must act.
        # They name the reactions whenever the message has them, as before buttons existed.
        buttons = not task.controls.has_reactions
        quoted = _quote(voice.task_text(task.description))
        wearer, keyholder = Person(link.wearer_id), Person(link.keyholder_id)
        if event.kind is EventKind.CONFIRMATION_REQUESTED:
            if buttons:
                text = voice.text(
                    "feed.ping.confirm.buttons", keyholder=keyholder, wearer=wearer, task=quoted
                )
            else:
                text = voice.text(
                    "feed.ping.confirm",
                    keyholder=keyholder,
                    wearer=wearer,
                    task=quoted,
                    complete=COMPLETE_EMOJI,
                    fail=FAIL_EMOJI,
                )
            await self._ping(task, link, [link.keyholder_id], text)
        elif event.kind is EventKind.CONFIRMATION_REJECTED:
            text = voice.text("feed.ping.rejected", wearer=wearer, keyholder=keyholder, task=quoted)
            await self._ping(task, link, [link.wearer_id], text)
        elif event.kind is EventKind.TIMER_FINISHED:
            if buttons:
                text = voice.text(
                    "feed.ping.timer-finished.buttons",
                    wearer=wearer,
                    keyholder=keyholder,
                    task=quoted,
                )
            else:
                text = voice.text(
                    "feed.ping.timer-finished",
                    wearer=wearer,
                    keyholder=keyholder,
                    task=quoted,
                    complete=COMPLETE_EMOJI,
                )
            await self._ping(task, link, [link.wearer_id, link.keyholder_id], text)
        elif event.kind is EventKind.DEADLINE_REMINDER and task.deadline_at is not None:
            text = voice.text("feed.ping.reminder", wearer=wearer, task=quoted, at=task.deadline_at)
            await self._ping(task, link, [link.wearer_id], text)
        elif event.kind is EventKind.PROOF_SUBMITTED and task.proof is Proof.KEYHOLDER:
            text = voice.text(
                "feed.ping.proof-to-judge", keyholder=keyholder, wearer=wearer, task=quoted
            )
            await self._ping(task, link, [link.keyholder_id], text)
        elif (
            event.kind in (EventKind.COMPLETED, EventKind.FAILED)
            and event.by_user_id is None
            and task.proof is not None
        ):
            proof = await self.bot.core.proofs.of_task(task)
            if proof is not None and proof.state.is_verdict:
                key = (
                    "feed.ping.proof-verified"
                    if proof.state is ProofState.VERIFIED
                    else "feed.ping.proof-rejected"
                )
                await self._ping(
                    task, link, [link.wearer_id], voice.text(key, wearer=wearer, task=quoted)
                )
        elif event.kind is EventKind.FAILED and task.missed_deadline:
            text = voice.text(
                "feed.ping.missed-deadline", wearer=wearer, keyholder=keyholder, task=quoted
            )
            await self._ping(task, link, [link.wearer_id, link.keyholder_id], text)

    async def _on_link_event(self, event: LinkEvent) -> None:
        request = event.request
        answered = (LinkEventKind.REQUEST_EXPIRED, LinkEventKind.REQUEST_DECLINED)
        if event.kind in answered and request is not None:
            if request.message_id is None:
                return
            voice = await self.bot.server_voice(request.guild_id)
            channel = self.bot.get_partial_messageable(
                request.channel_id, guild_id=request.guild_id
            )
            message = channel.get_partial_message(request.message_id)
            wearer = Person(request.wearer_id)
            if event.kind is LinkEventKind.REQUEST_EXPIRED:
                text = voice.text("link.request-expired", wearer=wearer)
                await close_link_request(message, text, self._bot_id)
                return
            await close_link_request(
                message, voice.text("link.declined", wearer=wearer), self._bot_id
            )
            # The request was theirs: they learn of the answer by a mention.
            requester = request.requested_by
            await channel.send(
                voice.text("link.declined-ping", requester=Person(requester), wearer=wearer),
                reference=message.to_reference(fail_if_not_exists=False),
                mention_author=False,
                allowed_mentions=discord.AllowedMentions(users=[discord.Object(requester)]),
            )
        elif event.kind is LinkEventKind.LOCK_ENDED and event.link is not None:
            if event.channel_id is None:
                return
            link = event.link
            voice = await self.bot.server_voice(link.guild_id)
            channel = self.bot.get_partial_messageable(event.channel_id, guild_id=link.guild_id)
            await channel.send(
                voice.text("link.lock-ended", wearer=Person(link.wearer_id)),
                allowed_mentions=discord.AllowedMentions.none(),
            )

    async def _post(
        self, event: TaskEvent, voice: Voice, *, late_because: str | None = None
    ) -> Task:
        """Post the task's message with its reactions; `late_because` (a catalogue key) says
        why it comes only now, for a task that already had (or should have had) one."""
        task, link = event.task, event.link
        channel_id = _feed_channel(event)
        if channel_id is None:
            log.warning("task %d has no feed channel; it is not shown", task.id)
            await self.bot.core.tasks.feed_shown(task)  # nowhere to show it, now or later
            return task
        channel = self.bot.get_partial_messageable(channel_id, guild_id=link.guild_id)
        wearer = Person(link.wearer_id)
        if late_because is not None:
            content = voice.text("feed.post.late", wearer=wearer, why=voice.text(late_because))
            mentions = discord.AllowedMentions.none()
        else:
            if task.schedule_id is not None:
                content = voice.text("feed.post.schedule", wearer=wearer, number=task.schedule_id)
            elif task.origin is not None:
                # Drawn or voted for: the message says so, and from where.
                content = voice.text(f"feed.post.{task.origin.value}", wearer=wearer)
            elif task.assigned_by is not None:
                content = voice.text("feed.post.new", wearer=wearer)
            else:
                content = voice.text("feed.post.from-chaster", wearer=wearer)
            mentions = discord.AllowedMentions(users=[discord.Object(link.wearer_id)])
        controls = (await self.bot.core.settings.of(link.guild_id)).controls
        proof = await self.bot.core.proofs.of_task(task)
        embed = task_embed(task, link, self.bot.core.clock(), voice, controls, proof)
        view = (
            task_buttons(task, voice, reviewing=_reviewing(proof)) if controls.has_buttons else None
        )
        try:
            message = await channel.send(
                content, embed=embed, view=_or_missing(view), allowed_mentions=mentions
            )
        except discord.NotFound as error:
            # The task's channel was deleted; if the server has picked another feed since, the
            # task moves there.
            now_feed = await self.bot.core.settings.feed_channel_for(link)
            if error.code != UNKNOWN_CHANNEL or now_feed is None or now_feed == channel_id:
                raise
            channel = self.bot.get_partial_messageable(now_feed, guild_id=link.guild_id)
            message = await channel.send(
                content, embed=embed, view=_or_missing(view), allowed_mentions=mentions
            )
        shown = task
        task = await self.bot.core.tasks.attach_feed_message(
            task.id, channel.id, message.id, controls
        )
        # The state is shown; reactions refused from here on are reported, not retried.
        await self.bot.core.tasks.feed_shown(shown)
        if controls.has_reactions:
            for emoji in reactions_for(task):
                await message.add_reaction(emoji)
        return task

    async def _update(self, event: TaskEvent, voice: Voice) -> Task:
        """Show the task's new state on its message; returns the task as now shown."""
        task = event.task
        if task.feed_message_id is None or task.feed_channel_id is None:
            # Its message was never posted (Discord refused it, or a crash came first).
            return await self._post(event, voice, late_because="feed.late.not-shown")
        channel = self.bot.get_partial_messageable(
            task.feed_channel_id, guild_id=event.link.guild_id
        )
        message = channel.get_partial_message(task.feed_message_id)
        controls = task.controls
        proof = await self.bot.core.proofs.of_task(task)
        embed = task_embed(task, event.link, self.bot.core.clock(), voice, controls, proof)
        try:
            if controls.has_buttons:
                # None removes the buttons of a closed task.
                view = task_buttons(task, voice, reviewing=_reviewing(proof))
                await message.edit(embed=embed, view=view)
            else:
                await message.edit(embed=embed)
        except discord.NotFound as error:
            if error.code != UNKNOWN_MESSAGE:
                raise
            # Someone deleted the message: a task must stay visible and reactable.
            log.info("feed message of task %d was deleted; posting it again", task.id)
            return await self._post(event, voice, late_because="feed.late.deleted")
        # The state is shown; reactions refused from here on are reported, not retried.
        await self.bot.core.tasks.feed_shown(task)
        if not controls.has_reactions:
            return task
        wanted = reactions_for(task)
        if not wanted:
            # Closed: nothing left to react to; clearing needs Manage Messages.
            try:
                await message.clear_reactions()
            except discord.Forbidden:
                for emoji in FEED_EMOJI:
                    await message.remove_reaction(emoji, discord.Object(self._bot_id))
            return task
        for emoji in FEED_EMOJI:
            if emoji in wanted:
                await message.add_reaction(emoji)
            else:
                await message.remove_reaction(emoji, discord.Object(self._bot_id))
        return task

    async def _ping(self, task: Task, link: SessionLink, user_ids: list[int], content: str) -> None:
        if task.feed_channel_id is None:
            return
        channel = self.bot.get_partial_messageable(task.feed_channel_id, guild_id=link.guild_id)
        mentions = discord.AllowedMentions(users=[discord.Object(uid) for uid in set(user_ids)])
        if task.feed_message_id is None:
            await channel.send(content, allowed_mentions=mentions)
            return
        # A reply, so the ping links straight to the task's message; still sent if that
        # message has just been deleted.
        reference = channel.get_partial_message(task.feed_message_id).to_reference(
            fail_if_not_exists=False
        )
        await channel.send(
            content, reference=reference, mention_author=False, allowed_mentions=mentions
        )

    @property
    def _bot_id(self) -> int:
        assert self.bot.user is not None
        return self.bot.user.id


def _or_missing(view: discord.ui.View | None) -> Any:
    """A message without buttons is sent without a view: `send`'s typed overloads take none."""
    return discord.utils.MISSING if view is None else view


def _reviewing(proof: ProofReview | None) -> bool:
    return proof is not None and proof.state.is_pending


def _feed_channel(event: TaskEvent) -> int | None:
    """The channel the task's message is in, or where it goes when it has none yet."""
    return event.task.feed_channel_id or event.channel_id


def _quote(text: str, limit: int = 100) -> str:
    """A task's text inside a message, shown as typed: shortened, its markdown escaped (a stray
    `||` or backtick would swallow the rest of the message) and its mentions never pinging."""
    short = text if len(text) <= limit else text[: limit - 1] + "…"
    return discord.utils.escape_mentions(discord.utils.escape_markdown(short))


async def setup(bot: TasksBot) -> None:
    await bot.add_cog(Feed(bot))
