"""The faults the soak injects, each faithful to how the real service fails.

Chaster: 500/502/503 answers, answers that never come (a read timeout, with or without the
change made), refused connections, 429 bursts, a slow Chaster, webhooks lost on the way and
webhooks delivered twice. Discord: gateway drops with and without a resumable session, 403 on
the feed channel, a feed message deleted (with its MESSAGE_DELETE, or with the event lost so
the next edit meets a 404). The bot: SIGKILL and SIGTERM, restarted at once or a little later.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from bench.soak.people import feed_task_id
from bench.soak.record import Record
from bench.soak.world import CHANNEL_A, CHANNEL_B, World

# Chaster's paths by what they do (a substring of the request path).
CHASTER_PATHS = (
    "/tasks/assign",
    "/tasks/start-timer",
    "/tasks/complete",
    "/action",
    "/logs/custom",
    "/sessions/search",
    "/api/extensions/sessions/",
)
# Longer than the bot's read timeout (10 s): the answer never comes in time.
HANG_SECONDS = 12.0


class Faults:
    def __init__(self, world: World, record: Record, rng: random.Random) -> None:
        self.world = world
        self.record = record
        self.rng = rng
        self.background: set[asyncio.Task[None]] = set()
        self.restarting = False
        self.kinds: list[tuple[int, Callable[[], Awaitable[None]]]] = [
            (6, self.chaster_error),
            (3, self.chaster_timeout),
            (2, self.chaster_refused),
            (2, self.chaster_429_burst),
            (2, self.chaster_slow),
            (3, self.webhook_lost),
            (3, self.webhook_retried),
            (2, self.gateway_drop),
            (1, self.gateway_drop_no_resume),
            (2, self.feed_403),
            (2, self.feed_deleted),
            (2, self.feed_deleted_unseen),
        ]

    async def inject(self) -> None:
        weights = [w for w, _ in self.kinds]
        _, fault = self.rng.choices(self.kinds, weights=weights)[0]
        await fault()

    def _count(self, kind: str, detail: str) -> None:
        self.record.faults[kind] += 1
        self.record.note(f"FAULT {kind}: {detail}")

    def _later(self, seconds: float, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        async def run() -> None:
            await asyncio.sleep(seconds)  # the fault's length, chosen by the seed
            await work()

        task = asyncio.create_task(run())
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    # -- Chaster -----------------------------------------------------------------------------

    async def chaster_error(self) -> None:
        status = self.rng.choice([500, 502, 503])
        path = self.rng.choice(CHASTER_PATHS)
        times = self.rng.randint(1, 3)
        self.world.chaster.fail_next("*", path, status, "Internal server error", times=times)
        self._count(f"chaster-{status}", f"next {times} x *{path}*")

    async def chaster_timeout(self) -> None:
        path = self.rng.choice(CHASTER_PATHS)
        apply = self.rng.random() < 0.5
        self.world.chaster.hang_next("*", path, apply=apply, seconds=HANG_SECONDS)
        self._count("chaster-timeout", f"next *{path}* (change {'made' if apply else 'not made'})")

    async def chaster_refused(self) -> None:
        if self.world.chaster._runner is None:
            return  # already offline
        seconds = self.rng.uniform(2, 8)
        await self.world.chaster.go_offline()
        self._count("chaster-refused", f"offline for {seconds:.1f} s")

        async def back() -> None:
            with contextlib.suppress(RuntimeError):
                await self.world.chaster.go_online()
            self.record.note("Chaster listens again")

        self._later(seconds, back)

    async def chaster_429_burst(self) -> None:
        times = self.rng.randint(3, 8)
        self.world.chaster.fail_next(
            "*", "/api/", 429, "ThrottlerException: Too Many Requests", times=times
        )
        self._count("chaster-429-burst", f"next {times} requests")

    async def chaster_slow(self) -> None:
        if self.world.chaster.latency:
            return
        latency, seconds = self.rng.uniform(1.0, 3.0), self.rng.uniform(5, 20)
        self.world.chaster.latency = latency
        self._count("chaster-slow", f"{latency:.1f} s per answer for {seconds:.0f} s")

        async def back() -> None:
            self.world.chaster.latency = 0.0
            self.record.note("Chaster is fast again")

        self._later(seconds, back)

    async def webhook_lost(self) -> None:
        count = self.rng.randint(1, 3)
        self.world.chaster.lose_webhooks += count
        self._count("webhook-lost", f"the next {count}")

    async def webhook_retried(self) -> None:
        delivered = [d for d in self.world.chaster.webhook_deliveries[-30:] if d["status"] == 200]
        if not delivered:
            return
        body = self.rng.choice(delivered)["body"]
        await self.world.chaster.send_webhook(
            body["event"], body["data"], request_id=body["requestId"], wait=False
        )
        self._count("webhook-retried", f"{body['event']} {body['requestId']} again")

    # -- Discord -----------------------------------------------------------------------------

    async def gateway_drop(self, *, resumable: bool = True) -> None:
        """Every gateway socket closed; the bot resumes its session, or identifies again when
        Discord invalidated it (and what happened meanwhile never reaches it)."""
        if not self.world.up:
            return
        discord = self.world.discord
        resumed, identified = discord.resume_count, discord.identify_count
        self.world.begin_disruption()
        await discord.disconnect_clients(invalidate=not resumable)
        if resumable:
            self._count("gateway-drop-resume", "sockets closed, session resumable")
        else:
            self._count("gateway-drop-reidentify", "sockets closed, session invalidated")

        async def wait() -> None:
            try:
                if resumable:
                    await discord.wait_resumed(count=resumed + 1, timeout=60)
                else:
                    await discord.wait_identified(count=identified + 1, timeout=60)
            finally:
                self.world.end_disruption()

        self._later(0, wait)

    async def gateway_drop_no_resume(self) -> None:
        await self.gateway_drop(resumable=False)

    async def feed_403(self) -> None:
        channel = self.rng.choice([CHANNEL_A, CHANNEL_B])
        times = self.rng.randint(1, 3)
        method, path = self.rng.choice(
            [
                ("POST", rf"/channels/{channel}/messages"),
                ("PATCH", rf"/channels/{channel}/messages/\d+"),
            ]
        )
        self.world.discord.fail(method, path, 403, 50013, "Missing Permissions", times=times)
        self._count("feed-403", f"next {times} x {method} {path}")

    def _feed_messages(self) -> list[dict[str, Any]]:
        return [
            m
            for channel in (CHANNEL_A, CHANNEL_B)
            for m in self.world.discord.bot_messages(channel)
            if feed_task_id(m) is not None
        ]

    async def feed_deleted(self) -> None:
        """A moderator deletes a feed message while the bot is connected (one deleted while it
        is not is posted again only at its task's next change: the deletion never reaches it)."""
        messages = self._feed_messages()[-20:]
        if not messages or not self.world.up:
            return
        message = self.rng.choice(messages)
        await self.world.discord.delete_message(int(message["id"]))
        self._count("feed-deleted", f"message {message['id']} (task #{feed_task_id(message)})")

    async def feed_deleted_unseen(self) -> None:
        """Deleted, with its MESSAGE_DELETE a moment late: an edit meanwhile meets a 404."""
        messages = self._feed_messages()[-20:]
        if not messages or not self.world.up:
            return
        message = self.rng.choice(messages)
        self.world.discord._drop_message(int(message["id"]))
        late = self.rng.uniform(0.5, 3.0)
        self._count(
            "feed-404",
            f"message {message['id']} (task #{feed_task_id(message)}), told {late:.1f} s late",
        )
        told = {k: message[k] for k in ("id", "channel_id", "guild_id") if k in message}

        async def tell() -> None:
            await self.world.discord.dispatch("MESSAGE_DELETE", told)

        self._later(late, tell)

    # -- the bot -----------------------------------------------------------------------------

    async def end_and_restart(self, how: str) -> None:
        """SIGKILL or SIGTERM, then a restart at once or after a few seconds."""
        if self.restarting or not self.world.up:
            return
        self.restarting = True
        delay = self.rng.choice([0.0, self.rng.uniform(1, 6)])
        status = await self.world.end_life(how)
        self._count(how, f"exit status {status}, restart after {delay:.1f} s")

        async def back() -> None:
            try:
                await self.world.restart()
                self.record.note(f"bot up again (pid {self.world.lives[-1].pid})")
            finally:
                self.restarting = False

        self._later(delay, back)

    async def settle(self) -> None:
        """End every fault: Chaster answers again, fast, and nothing more is failed or lost."""
        for task in list(self.background):
            with contextlib.suppress(Exception):
                await task
        if self.world.chaster._runner is None:
            await self.world.chaster.go_online()
        self.world.chaster.latency = 0.0
        self.world.chaster._rules.clear()
        self.world.chaster.lose_webhooks = 0
        self.world.discord._failures.clear()
        if self.world.bot is None:
            await self.world.restart()
