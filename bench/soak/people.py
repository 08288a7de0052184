"""What the soak's people do: commands, buttons, reactions, votes, and changes made in Chaster.

Each action picks its target from what the fakes show (Chaster's current task, the feed
messages in Discord), as a person looking at the screen would; some actions are bound to be
refused (completing a timed task too early, a wearer confirming their own task), which is part
of the mix. Every interaction is recorded with what it was meant to do, for the checks.
"""

from __future__ import annotations

import random
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.soak.record import Record, Sent
from bench.soak.world import Pair, World
from tests.fakes.discord import (
    OPTION_BOOLEAN,
    OPTION_INTEGER,
    OPTION_STRING,
    FakeUser,
    InteractionHandle,
    option,
    user_option,
)

START, COMPLETE, FAIL = "\N{BLACK RIGHT-POINTING TRIANGLE}\N{VARIATION SELECTOR-16}", "✅", "❌"
FOOTER_ID = re.compile(r"Task #(\d+)")
WEARER_FIELD = re.compile(r"<@(\d+)>")
IN_APP = "In-app task"  # the prefix of tasks assigned inside Chaster


def _option(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, FakeUser):
        return user_option(name, value)
    if isinstance(value, bool):
        return option(name, value, OPTION_BOOLEAN)
    if isinstance(value, int):
        return option(name, value, OPTION_INTEGER)
    return option(name, value, OPTION_STRING)


def feed_task_id(message: dict[str, Any]) -> int | None:
    """The task a feed message is about, from its footer ("Task #12 · ...")."""
    for embed in message.get("embeds") or []:
        found = FOOTER_ID.match(str((embed.get("footer") or {}).get("text", "")))
        if found:
            return int(found[1])
    return None


def feed_wearer(message: dict[str, Any]) -> int | None:
    for embed in message.get("embeds") or []:
        for field_ in embed.get("fields") or []:
            found = WEARER_FIELD.fullmatch(str(field_.get("value", "")))
            if found and field_.get("name") == "Wearer":
                return int(found[1])
    return None


def buttons(message: dict[str, Any]) -> list[str]:
    found = []
    for row in message.get("components") or []:
        for item in row.get("components") or []:
            if item.get("type") == 2 and item.get("custom_id"):
                found.append(str(item["custom_id"]))
    return found


class People:
    """The people of both servers, acting at random (from one seeded generator)."""

    def __init__(self, world: World, record: Record, rng: random.Random) -> None:
        self.world = world
        self.record = record
        self.rng = rng
        self.counter = 0
        self.schedules = 0
        self.actions: list[tuple[int, Callable[[Pair], Awaitable[None]]]] = [
            (14, self.assign),
            (4, self.draw),
            (2, self.vote),
            (2, self.vote_end),
            (2, self.cast_vote),
            (1, self.schedule),
            (8, self.start),
            (10, self.complete),
            (4, self.confirm),
            (5, self.fail),
            (5, self.status),
            (2, self.pause),
            (3, self.resume),
            (1, self.penalty),
            (3, self.assign_in_chaster),
            (1, self.start_in_chaster),
            (3, self.finish_in_chaster),
        ]

    async def act(self) -> None:
        pair = self.rng.choice(self.world.pairs)
        weights = [w for w, _ in self.actions]
        _, action = self.rng.choices(self.actions, weights=weights)[0]
        await action(pair)

    # -- plumbing ----------------------------------------------------------------------------

    async def command(
        self,
        what: str,
        name: str,
        user: FakeUser,
        pair: Pair,
        subcommand: str | None = None,
        task: str | None = None,
        **options: Any,
    ) -> Sent:
        """Send a slash command; `task` is the task text it is meant to assign, if any."""
        handle = await self.world.discord.send_slash(
            name,
            user=user,
            subcommand=subcommand,
            options=[_option(key, value) for key, value in options.items()],
            channel_id=pair.channel,
            guild_id=pair.guild,
        )
        shown = " ".join(
            f"{k}={v.name if isinstance(v, FakeUser) else v}" for k, v in options.items()
        )
        return self._sent(
            what, handle, pair, task, f"/{name} {subcommand or ''} {shown} by {user.name}"
        )

    def _sent(
        self, action: str, handle: InteractionHandle, pair: Pair, description: str | None, text: str
    ) -> Sent:
        sent = Sent(
            self.record.step,
            handle,
            action,
            pair.session_id,
            description,
            up=self.world.up,
        )
        self.record.sent.append(sent)
        self.record.actions[action] += 1
        self.record.note(f"{text} [{pair.session_id}] interaction {handle.id}")
        return sent

    def name(self, kind: str) -> str:
        self.counter += 1
        return f"Soak {kind} {self.record.seed}-{self.counter}"

    def feed_message(self, pair: Pair) -> dict[str, Any] | None:
        """The newest feed message about the pair's wearer in their server's channel."""
        found = None
        for message in self.world.discord.bot_messages(pair.channel):
            if feed_task_id(message) is not None and feed_wearer(message) == pair.wearer.id:
                found = message
        return found

    def anyone(self, pair: Pair) -> FakeUser:
        return self.rng.choice([pair.keyholder, pair.wearer])

    # -- commands ----------------------------------------------------------------------------

    async def assign(self, pair: Pair) -> None:
        description = self.name("task")
        options: dict[str, Any] = {"wearer": pair.wearer, "description": description}
        options["points"] = self.rng.randint(0, 9)
        if self.rng.random() < 0.4:
            options["duration"] = self.rng.choice(["1m", "90s", "2m"])
        if self.rng.random() < 0.35:
            options["deadline"] = self.rng.choice(["1m", "2m", "3m"])
        await self.command(
            "assign", "task", pair.keyholder, pair, "assign", task=description, **options
        )

    async def draw(self, pair: Pair) -> None:
        options: dict[str, Any] = {"wearer": pair.wearer, "source": "library"}
        if self.rng.random() < 0.3:
            options["deadline"] = "2m"
        await self.command("random", "task", pair.keyholder, pair, "random", **options)

    async def vote(self, pair: Pair) -> None:
        await self.command(
            "vote",
            "task",
            pair.keyholder,
            pair,
            "vote",
            wearer=pair.wearer,
            options=self.rng.randint(2, 3),
            hours=1,
            source="library",
        )

    async def vote_end(self, pair: Pair) -> None:
        await self.command("vote-end", "task", pair.keyholder, pair, "vote-end", wearer=pair.wearer)

    async def cast_vote(self, pair: Pair) -> None:
        polls = [
            m
            for m in self.world.discord.bot_messages(pair.channel)
            if m.get("poll") and not m["poll"]["results"]["is_finalized"]
        ]
        if not polls:
            return
        poll = self.rng.choice(polls)
        answer = self.rng.choice(poll["poll"]["answers"])["answer_id"]
        voter = self.rng.choice([p.wearer for p in self.world.pairs if p.guild == pair.guild])
        try:
            await self.world.discord.vote(user=voter, message_id=int(poll["id"]), answer_id=answer)
        except (ValueError, KeyError):
            return  # the poll ended meanwhile
        self.record.actions["poll-vote"] += 1
        self.record.note(f"{voter.name} votes {answer} on poll {poll['id']}")

    async def schedule(self, pair: Pair) -> None:
        if self.schedules >= len(self.world.pairs):
            return
        self.schedules += 1
        # The next occasion one to three minutes from now (UTC, the servers' default zone).
        at = datetime.now(UTC) + timedelta(minutes=self.rng.randint(1, 3))
        options: dict[str, Any] = {
            "wearer": pair.wearer,
            "every": "day",
            "at": at.strftime("%H:%M"),
        }
        options["random"] = "library"
        if self.rng.random() < 0.5:
            options["deadline"] = "2m"
        await self.command("schedule", "schedule", pair.keyholder, pair, "add", **options)

    async def status(self, pair: Pair) -> None:
        await self.command("status", "task", self.anyone(pair), pair, "status", wearer=pair.wearer)

    async def pause(self, pair: Pair) -> None:
        await self.command("pause", "pause", pair.wearer, pair)

    async def resume(self, pair: Pair) -> None:
        await self.command("resume", "resume", pair.wearer, pair)

    async def penalty(self, pair: Pair) -> None:
        on = self.rng.choice(["fail", "deadline"])
        # add_time only: each one applied leaves exactly one entry in the lock's history (a
        # freeze of a frozen lock leaves none), so the checks can count them.
        options: dict[str, Any] = {"on": on, "action": "add_time", "wearer": pair.wearer}
        options["amount"] = self.rng.choice(["5m", "10m", "1h"])
        await self.command("penalty", "penalty", pair.keyholder, pair, "set", **options)

    async def by_task_control(self, action: str, pair: Pair, user: FakeUser) -> None:
        """A slash command, the feed message's button, or its reaction, at random."""
        message = self.feed_message(pair)
        how = self.rng.choice(["command", "button", "reaction"]) if message else "command"
        if how == "command" or message is None:
            await self.command(action, "task", user, pair, action, wearer=pair.wearer)
            return
        if how == "button":
            wanted = {"start": "start", "complete": "complete", "fail": "fail"}[action]
            ids = [c for c in buttons(message) if wanted in c] or buttons(message)
            if not ids:
                return
            custom_id = self.rng.choice(ids)
            try:
                handle = await self.world.discord.send_component(
                    message_id=int(message["id"]), custom_id=custom_id, user=user
                )
            except (KeyError, ValueError):
                return  # the message changed meanwhile
            self._sent(f"button-{action}", handle, pair, None, f"{user.name} presses {custom_id}")
            return
        emoji = {"start": START, "complete": COMPLETE, "fail": FAIL}[action]
        try:
            await self.world.discord.add_reaction(
                user=user, message_id=int(message["id"]), emoji=emoji
            )
        except KeyError:
            return
        self.record.actions[f"reaction-{action}"] += 1
        self.record.note(f"{user.name} reacts {emoji} on {message['id']} [{pair.session_id}]")

    async def start(self, pair: Pair) -> None:
        await self.by_task_control("start", pair, self.anyone(pair))

    async def complete(self, pair: Pair) -> None:
        await self.by_task_control("complete", pair, self.anyone(pair))

    async def confirm(self, pair: Pair) -> None:
        await self.by_task_control("complete", pair, pair.keyholder)

    async def fail(self, pair: Pair) -> None:
        await self.by_task_control("fail", pair, self.anyone(pair))

    # -- in Chaster --------------------------------------------------------------------------

    async def assign_in_chaster(self, pair: Pair) -> None:
        session = self.world.chaster.sessions[pair.session_id]
        if session.status != "start":
            return
        description = f"{IN_APP} {self.record.seed}-{self.counter}"
        self.counter += 1
        duration = self.rng.choice([0, 0, 60])
        self.world.chaster.assign_in_app(
            pair.session_id, description, 2, duration=duration, role="keyholder"
        )
        self.record.actions["chaster-assign"] += 1
        self.record.note(f"in Chaster: {description!r} assigned [{pair.session_id}]")

    async def start_in_chaster(self, pair: Pair) -> None:
        session = self.world.chaster.sessions[pair.session_id]
        task = session.current_task
        if task is None or not task.get("duration") or session.timer_started_at is not None:
            return
        self.world.chaster.start_timer_in_app(pair.session_id)
        self.world.chaster.notify_session_updated(pair.session_id)
        self.record.actions["chaster-start"] += 1
        self.record.note(f"in Chaster: timer started [{pair.session_id}]")

    async def finish_in_chaster(self, pair: Pair) -> None:
        session = self.world.chaster.sessions[pair.session_id]
        task = session.current_task
        if task is None:
            return
        if task.get("duration") and session.timer_started_at is None:
            return  # Chaster's own screen has no completion before the timer ran
        completed = self.rng.random() < 0.6
        self.world.chaster.finish_in_app(pair.session_id, completed=completed, role="keyholder")
        self.record.actions["chaster-finish"] += 1
        self.record.note(
            f"in Chaster: {'completed' if completed else 'failed'} {task['task']!r} "
            f"[{pair.session_id}]"
        )


async def set_up(world: World, people: People) -> None:
    """Links every pair, then gives each keyholder library entries and some wearers
    consequences, all by commands."""
    links = [
        await people.command(
            "link",
            "link",
            pair.keyholder,
            pair,
            None,
            wearer=pair.wearer,
            session_id=pair.session_id,
        )
        for pair in world.pairs
    ]
    await _answered(world, links, "Linked")
    rest: list[Sent] = []
    for keyholder in dict.fromkeys(pair.keyholder for pair in world.pairs):
        pair = next(p for p in world.pairs if p.keyholder == keyholder)
        for n, duration in enumerate((None, None, "1m")):
            options: dict[str, Any] = {
                "description": f"Library task {keyholder.name}-{n + 1}",
                "points": n + 1,
                "tag": "soak",
            }
            if duration:
                options["duration"] = duration
            rest.append(
                await people.command("library", "library", keyholder, pair, "add", **options)
            )
    for n, pair in enumerate(world.pairs):
        penalties = [("fail", "10m")] if n % 2 == 0 else []
        penalties += [("deadline", "1h")] if n % 3 == 0 else []
        for on, amount in penalties:
            rest.append(
                await people.command(
                    "penalty",
                    "penalty",
                    pair.keyholder,
                    pair,
                    "set",
                    on=on,
                    action="add_time",
                    amount=amount,
                    wearer=pair.wearer,
                )
            )
    await _answered(world, rest, "Kept in your library", "Set for")


async def _answered(world: World, pending: list[Sent], *done: str) -> None:
    for sent in pending:
        try:
            await world.discord.wait_until(
                lambda sent=sent: sent.answer()[0].startswith(done), timeout=120, what=sent.action
            )
        except AssertionError:
            raise RuntimeError(f"setting up: {sent.action} answered {sent.answer()[0]!r}") from None
