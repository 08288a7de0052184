"""Restarts, SIGKILL, timers, webhooks and polling, with `python -m bot` as a real process.

The bot runs exactly as deployed (its own process, settings from the environment) against the
fake Discord and fake Chaster of this test process, so it can be killed and started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import socket
import sqlite3
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import (
    CHANNEL,
    COMPLETE,
    GUILD,
    KEYHOLDER,
    SLUG,
    START,
    STRANGER,
    WEARER,
    _option,
)
from tests.fakes.chaster import FakeChaster, FakeSession
from tests.fakes.discord import FakeDiscord, FakeUser, reaction_add

DISCORD_TOKEN = "fake-discord-token-value"
WEBHOOK_USER = "chaster"
WEBHOOK_PASSWORD = "webhook-password-value"


def action_log(delivery: dict[str, Any]) -> tuple[str | None, str | None]:
    """The type and text of the action log a webhook delivery carried."""
    log = delivery["body"].get("data", {}).get("actionLog") or {}
    return log.get("type"), log.get("description")


def delivered(chaster: FakeChaster) -> list[tuple[str | None, str | None, int | None]]:
    """Every webhook delivery attempt so far: the action log it carried and the bot's answer."""
    return [(*action_log(d), d["status"]) for d in chaster.webhook_deliveries]


async def wait_for_delivery(chaster: FakeChaster, log_type: str, text: str) -> None:
    """Until the delivery of that action log has had its answer."""
    await chaster.wait_for_webhook(lambda d: action_log(d) == (log_type, text), timeout=15)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Deployment:
    """The fakes, plus the bot as a process that can be started, killed and started again."""

    discord: FakeDiscord
    chaster: FakeChaster
    folder: Path
    webhooks: bool = True
    poll_seconds: int = 300
    # How old a Chaster state /task status may show (None: the bot's default).
    fresh_seconds: int | None = None
    process: asyncio.subprocess.Process | None = None
    starts: int = 0

    def __post_init__(self) -> None:
        self.port = free_port()
        self.log_path = self.folder / "bot.log"

    @property
    def database(self) -> Path:
        return self.folder / "bot.sqlite3"

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/chaster/webhook"

    def environment(self) -> dict[str, str]:
        env = {
            "PATH": "/usr/bin:/bin",
            "DISCORD_TOKEN": DISCORD_TOKEN,
            "CHASTER_API_TOKEN": self.chaster.token,
            "CHASTER_EXTENSION_SLUG": SLUG,
            "CHASTER_API_URL": self.chaster.url,
            "DISCORD_API_URL": self.discord.api_url,
            "DISCORD_GATEWAY_URL": self.discord.gateway_url,
            "DATABASE_PATH": str(self.database),
            "DISCORD_GUILD_ID": str(GUILD),
            "CHASTER_POLL_SECONDS": str(self.poll_seconds),
            "LOG_LEVEL": "DEBUG",
        }
        if self.fresh_seconds is not None:
            env["CHASTER_FRESH_SECONDS"] = str(self.fresh_seconds)
        if self.webhooks:
            env |= {
                "WEBHOOK_PORT": str(self.port),
                "WEBHOOK_HOST": "127.0.0.1",
                "WEBHOOK_USERNAME": WEBHOOK_USER,
                "WEBHOOK_PASSWORD": WEBHOOK_PASSWORD,
            }
        return env

    async def start(self) -> None:
        assert self.process is None
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                cwd=self.folder,
                env=self.environment(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        self.starts += 1
        try:
            await self.discord.wait_identified(count=self.starts, timeout=20)
            if self.webhooks:
                await self._wait_healthy()
        except BaseException:
            await self.kill()
            raise

    async def _wait_healthy(self) -> None:
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                try:
                    response = await client.get(f"http://127.0.0.1:{self.port}/healthz")
                    if response.status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)  # polling a socket that is not up yet
        raise AssertionError(f"bot never became healthy; log:\n{self.log()}")

    async def kill(self) -> None:
        """SIGKILL: no cleanup at all, as in a crash or an OOM kill."""
        process, self.process = self.process, None
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGKILL)
            await process.wait()

    async def stop(self) -> int:
        """SIGTERM, as `docker stop` does; returns the exit status."""
        process, self.process = self.process, None
        assert process is not None
        process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(process.wait(), timeout=20)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # -- what people do -----------------------------------------------------------------

    async def reply(
        self, name: str, user: FakeUser, subcommand: str | None = None, **options: Any
    ) -> str:
        handle = await self.discord.send_slash(
            name,
            user=user,
            subcommand=subcommand,
            options=[_option(key, value) for key, value in options.items()],
            channel_id=CHANNEL,
        )
        message = await handle.final_message(timeout=15)
        return str(message.get("content", ""))

    async def link_and_assign(self, **assign: Any) -> tuple[FakeSession, int]:
        session = self.chaster.add_session(
            wearer_discord_id=str(WEARER.id), keyholder_discord_id=str(KEYHOLDER.id)
        )
        linked = await self.reply("link", KEYHOLDER, wearer=WEARER, session_id=session.session_id)
        assert linked.startswith("Linked"), linked
        assigned = await self.reply(
            "task",
            KEYHOLDER,
            "assign",
            wearer=WEARER,
            description="Stand still",
            points=4,
            **assign,
        )
        assert assigned.startswith("Assigned"), assigned
        [feed] = [m for m in self.discord.bot_messages(CHANNEL) if m.get("embeds")]
        return session, int(feed["id"])

    async def react(self, user: FakeUser, message_id: int, emoji: str) -> None:
        await self.discord.dispatch(
            "MESSAGE_REACTION_ADD",
            reaction_add(
                user=user,
                channel_id=CHANNEL,
                message_id=message_id,
                guild_id=GUILD,
                emoji=emoji,
                message_author_id=self.discord.bot_user.id,
            ),
        )

    def feed_title(self, message_id: int) -> str:
        return str(self.discord.messages[message_id]["embeds"][0]["title"])

    async def wait_title(self, message_id: int, title: str) -> None:
        await self.discord.wait_until(
            lambda: self.feed_title(message_id) == title,
            what=f"feed message {message_id} titled {title!r}",
            timeout=15,
        )

    def bot_texts(self, fragment: str) -> list[str]:
        return [
            str(m["content"])
            for m in self.discord.bot_messages(CHANNEL)
            if fragment in str(m.get("content", ""))
        ]


@pytest.fixture
async def deployment(tmp_path: Path) -> AsyncIterator[Deployment]:
    async with (
        FakeDiscord(
            guild_id=GUILD, channel_ids=(CHANNEL,), members=[KEYHOLDER, WEARER, STRANGER]
        ) as discord_fake,
        FakeChaster(slug=SLUG) as chaster,
    ):
        chaster.webhook_retry_delays = [0.2]
        deployed = Deployment(discord_fake, chaster, tmp_path)
        yield deployed
        await deployed.kill()
        log = deployed.log()
        for secret in (DISCORD_TOKEN, chaster.token, WEBHOOK_PASSWORD):
            assert secret not in log, "a secret reached the log"
        assert "Traceback" not in log, log[-6000:]
        assert discord_fake.unhandled == []


async def test_reaction_on_a_message_from_before_sigkill_completes_once(
    deployment: Deployment,
) -> None:
    await deployment.start()
    session, feed = await deployment.link_and_assign()
    await deployment.kill()

    await deployment.start()
    await deployment.react(KEYHOLDER, feed, COMPLETE)
    await deployment.wait_title(feed, "✅ Completed")
    assert deployment.chaster.count_calls("POST", "/tasks/complete") == 1
    assert session.current_task is None

    # A late second ✅ (the wearer's) changes nothing and calls nothing.
    await deployment.react(WEARER, feed, COMPLETE)
    await deployment.discord.wait_for_call(
        "DELETE", rf"/channels/{CHANNEL}/messages/{feed}/reactions/.*/{WEARER.id}", timeout=15
    )
    assert deployment.chaster.count_calls("POST", "/tasks/complete") == 1
    assert await deployment.stop() == 0


async def test_a_button_on_a_message_from_before_sigkill_works_and_acts_once(
    deployment: Deployment,
) -> None:
    await deployment.start()
    session, feed = await deployment.link_and_assign(duration="1m")
    start = f"task:start:{feed_task_id(deployment, feed)}"
    await deployment.kill()

    # The new process registered nothing for this message: the custom id is all it has.
    await deployment.start()
    press = await deployment.discord.send_component(message_id=feed, custom_id=start, user=WEARER)
    assert (await press.first_response(timeout=15))["status"] == 200
    await deployment.wait_title(feed, "⏱️ Timer running")
    assert deployment.chaster.count_calls("POST", "/tasks/start-timer") == 1
    assert session.timer_started_at is not None
    # Start timer is gone from the message: pressing it there is no longer possible.
    assert start not in str(deployment.discord.messages[feed]["components"])
    assert await deployment.stop() == 0


async def test_a_form_opened_before_sigkill_still_assigns_once_submitted(
    deployment: Deployment,
) -> None:
    await deployment.start()
    session = deployment.chaster.add_session(
        wearer_discord_id=str(WEARER.id), keyholder_discord_id=str(KEYHOLDER.id)
    )
    linked = await deployment.reply("link", KEYHOLDER, wearer=WEARER, session_id=session.session_id)
    assert linked.startswith("Linked"), linked
    opened = await deployment.discord.send_user_command(
        "Assign task", user=KEYHOLDER, target=WEARER
    )
    assert (await opened.first_response(timeout=15))["type"] == 9
    await deployment.kill()

    # The keyholder was still typing: nothing of the form lives in the new process.
    await deployment.start()
    submitted = await deployment.discord.send_modal_submit(
        opened, {"description": "Stand still", "points": "4", "duration": "10m"}
    )
    answer = await submitted.final_message(timeout=15)
    assert str(answer["content"]).startswith("Assigned to <@"), answer
    assert deployment.chaster.count_calls("POST", "/tasks/assign") == 1
    assert session.current_task is not None
    assert await deployment.stop() == 0


def feed_task_id(deployment: Deployment, message_id: int) -> int:
    """The task a feed message shows, from the number in its footer."""
    footer = str(deployment.discord.messages[message_id]["embeds"][0]["footer"]["text"])
    match = re.match(r"Task #(\d+)", footer)
    assert match is not None, footer
    return int(match[1])


async def test_timer_started_before_a_kill_fires_after_restart_exactly_once(
    deployment: Deployment,
) -> None:
    await deployment.start()
    _session, feed = await deployment.link_and_assign(duration="1m")
    await deployment.react(WEARER, feed, START)
    await deployment.wait_title(feed, "⏱️ Timer running")
    await deployment.kill()

    # The timer runs out while the bot is down.
    ended = (datetime.now(UTC) - timedelta(seconds=1)).isoformat(timespec="microseconds")
    with sqlite3.connect(deployment.database) as db:
        db.execute("UPDATE tasks SET timer_ends_at = ?", (ended,))
    deployment.chaster.advance(61)

    await deployment.start()
    await deployment.discord.wait_until(
        lambda: len(deployment.bot_texts("has finished")) == 1, what="timer ping", timeout=15
    )
    [ping] = deployment.bot_texts("has finished")
    assert ping.startswith(f"<@{WEARER.id}> <@{KEYHOLDER.id}>, the timer of “Stand still”")
    await deployment.wait_title(feed, "⏰ Timer finished")
    assert await deployment.stop() == 0

    # Once more: the notice is not repeated. The start-up sweep shows the bot got past its
    # timers.
    sweeps = deployment.chaster.count_calls("POST", "/sessions/search")
    await deployment.start()
    await deployment.chaster.wait_for_call("POST", "/sessions/search", count=sweeps + 1, timeout=15)
    assert len(deployment.bot_texts("has finished")) == 1

    await deployment.react(KEYHOLDER, feed, COMPLETE)
    await deployment.wait_title(feed, "✅ Completed")


async def test_task_completed_inside_chaster_reaches_the_feed_by_webhook(
    deployment: Deployment,
) -> None:
    deployment.chaster.webhook_url = deployment.webhook_url
    deployment.chaster.webhook_auth = (WEBHOOK_USER, WEBHOOK_PASSWORD)
    await deployment.start()
    session, feed = await deployment.link_and_assign(verification=True)
    # The wearer finishes the photo task in Chaster's own app.
    deployment.chaster.finish_in_app(session.session_id, completed=True)
    await deployment.wait_title(feed, "✅ Completed")
    embed = deployment.discord.messages[feed]["embeds"][0]
    assert any(f["value"].startswith("in Chaster") for f in embed["fields"])
    # Chaster's echo of the bot's own assign created no second feed message.
    assert len([m for m in deployment.discord.bot_messages(CHANNEL) if m.get("embeds")]) == 1
    # Both Chaster's echo of the assign and the completion were accepted at the first attempt
    # (so was the echo of the bot's own history entry for the assign, which changes nothing).
    await wait_for_delivery(deployment.chaster, "tasks_task_completed", "Stand still")
    assert [d for d in delivered(deployment.chaster) if d[0] != "custom"] == [
        ("tasks_task_assigned", "Stand still", 200),
        ("tasks_task_completed", "Stand still", 200),
    ]
    assert all(status == 200 for *_, status in delivered(deployment.chaster))


async def test_webhook_auth_duplicates_and_lock_end(deployment: Deployment) -> None:
    await deployment.start()
    session, feed = await deployment.link_and_assign()
    sid = session.session_id
    # The wearer abandons the task in Chaster; the delivery is sent by hand below.
    deployment.chaster.finish_in_app(sid, completed=False)
    body = {
        "event": "action_log.created",
        "data": {"sessionId": sid, "actionLog": session.action_logs[-1]},
        "sentAt": "2026-01-01T00:00:00.000Z",
        "requestId": "delivery-1",
    }
    reads = deployment.chaster.count_calls("GET", f"/sessions/{sid}")
    async with httpx.AsyncClient() as client:
        wrong = await client.post(
            deployment.webhook_url, json=body, auth=(WEBHOOK_USER, "not-the-password")
        )
        assert wrong.status_code == 401
        missing = await client.post(deployment.webhook_url, json=body)
        assert missing.status_code == 401
        assert deployment.feed_title(feed) == "📋 Task assigned"
        assert deployment.chaster.count_calls("GET", f"/sessions/{sid}") == reads

        huge = await client.post(
            deployment.webhook_url,
            content=b"{" + b" " * (600 * 1024) + b"}",
            headers={"Content-Type": "application/json"},
            auth=(WEBHOOK_USER, WEBHOOK_PASSWORD),
        )
        assert huge.status_code == 413

        first = await client.post(
            deployment.webhook_url, json=body, auth=(WEBHOOK_USER, WEBHOOK_PASSWORD)
        )
        assert first.status_code == 200
        await deployment.wait_title(feed, "❌ Failed")
        reads_after_first = deployment.chaster.count_calls("GET", f"/sessions/{sid}")
        again = await client.post(
            deployment.webhook_url, json=body, auth=(WEBHOOK_USER, WEBHOOK_PASSWORD)
        )
        assert again.status_code == 200 and again.json() == {"status": "duplicate"}

        ended = {
            "event": "extension_session.deleted",
            "data": {"session": {"sessionId": sid}, "extension": {"slug": SLUG}},
            "requestId": "delivery-2",
        }
        response = await client.post(
            deployment.webhook_url, json=ended, auth=(WEBHOOK_USER, WEBHOOK_PASSWORD)
        )
        assert response.status_code == 200
    await deployment.discord.wait_until(
        lambda: bool(deployment.bot_texts("lock has ended")), what="lock-ended notice", timeout=15
    )
    # The duplicate did no work at all.
    assert deployment.chaster.count_calls("GET", f"/sessions/{sid}") == reads_after_first
    text = await deployment.reply("task", KEYHOLDER, "status", wearer=WEARER)
    assert "not linked" in text


async def test_without_webhooks_a_sweep_notices_a_completion_within_one_interval(
    deployment: Deployment,
) -> None:
    deployment.webhooks = False
    deployment.poll_seconds = 4
    deployment.chaster.rate_limit = 100
    deployment.chaster.rate_window = 60.0
    await deployment.start()
    session, feed = await deployment.link_and_assign()
    # 299 more linked locks: three pages of the search a round, spread over the interval.
    # Once a round has gone by with them, the completion below happens at a random point.
    more = [deployment.chaster.add_session(wearer_discord_id=str(8000 + n)) for n in range(299)]
    with contextlib.closing(sqlite3.connect(deployment.database, timeout=10)) as db, db:
        db.executemany(
            "INSERT INTO session_links (guild_id, wearer_id, keyholder_id, chaster_session_id,"
            " lock_id, created_at) VALUES (?, ?, ?, ?, ?, '2026-01-01T00:00:00.000000+00:00')",
            [(GUILD, 8000 + n, KEYHOLDER.id, s.session_id, s.lock_id) for n, s in enumerate(more)],
        )
    await deployment.chaster.wait_for_call(
        "POST",
        "/sessions/search",
        count=deployment.chaster.count_calls("POST", "/sessions/search") + 3,
        timeout=15,
    )
    deployment.chaster.finish_in_app(session.session_id, completed=True)
    started = asyncio.get_running_loop().time()
    await deployment.wait_title(feed, "✅ Completed")
    # One interval for the sweep to come round to the lock, plus slack for a loaded machine.
    assert asyncio.get_running_loop().time() - started < deployment.poll_seconds + 2
    assert deployment.chaster.throttled == 0


async def test_sigterm_shuts_down_cleanly(deployment: Deployment) -> None:
    await deployment.start()
    # A command answered: the bot has been ready for a while.
    assert "not linked" in await deployment.reply("task", KEYHOLDER, "status", wearer=WEARER)
    assert await deployment.stop() == 0
    # Once connected, what start-up built was set aside from the garbage collector.
    assert "start-up objects set aside from garbage collection" in deployment.log()
    with sqlite3.connect(deployment.database) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


async def test_sigterm_finishes_a_command_in_flight(deployment: Deployment) -> None:
    deployment.fresh_seconds = 0  # /task status reads Chaster every time
    await deployment.start()
    await deployment.link_and_assign()
    deployment.chaster.latency = 1.5
    handle = await deployment.discord.send_slash(
        "task",
        user=KEYHOLDER,
        subcommand="status",
        options=[_option("wearer", WEARER)],
        channel_id=CHANNEL,
    )
    await handle.first_response(timeout=15)  # deferred: now waiting on the slow Chaster
    stopping = asyncio.create_task(deployment.stop())
    answer = await handle.final_message(timeout=15)
    assert "Stand still" in str(answer.get("content")), answer
    assert await stopping == 0


async def test_sigterm_with_chaster_stuck_ends_within_one_grace(deployment: Deployment) -> None:
    # Found by the soak: a webhook delivery and a command both waiting on a stuck Chaster made
    # each part wait its own 10 s, so a stop took over 20 s and was killed.
    deployment.chaster.webhook_url = deployment.webhook_url
    deployment.chaster.webhook_auth = (WEBHOOK_USER, WEBHOOK_PASSWORD)
    deployment.fresh_seconds = 0  # /task status reads Chaster every time
    await deployment.start()
    session, _ = await deployment.link_and_assign()
    deployment.chaster.latency = 60.0
    status = await deployment.discord.send_slash(
        "task",
        user=KEYHOLDER,
        subcommand="status",
        options=[_option("wearer", WEARER)],
        channel_id=CHANNEL,
    )
    await status.first_response(timeout=15)  # deferred: its read waits on Chaster
    # Completed in Chaster: the delivery is acknowledged, and its handling reads the session.
    deployment.chaster.finish_in_app(session.session_id, completed=True)
    await wait_for_delivery(deployment.chaster, "tasks_task_completed", "Stand still")
    started = asyncio.get_running_loop().time()
    assert await deployment.stop() == 0
    assert asyncio.get_running_loop().time() - started < 14.0


async def test_start_up_catches_up_with_a_task_assigned_while_the_bot_was_down(
    deployment: Deployment,
) -> None:
    deployment.webhooks = False
    await deployment.start()
    session, feed = await deployment.link_and_assign()
    await deployment.kill()
    # While the bot is down the task is finished and a new one assigned, inside Chaster.
    deployment.chaster.finish_in_app(session.session_id, completed=True)
    deployment.chaster.assign_in_app(session.session_id, "Write 50 lines", points=2)

    await deployment.start()
    await deployment.wait_title(feed, "✅ Completed")
    await deployment.discord.wait_until(
        lambda: bool(deployment.bot_texts("assigned to you in Chaster")),
        what="feed message for the task assigned in Chaster",
        timeout=15,
    )
    [new] = [
        m
        for m in deployment.discord.bot_messages(CHANNEL)
        if "assigned to you in Chaster" in str(m.get("content"))
    ]
    assert new["embeds"][0]["description"] == "Write 50 lines"


def now_in_db() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


async def test_a_schedule_killed_mid_assign_never_gives_the_occasion_twice(
    deployment: Deployment,
) -> None:
    await deployment.start()
    session = deployment.chaster.add_session(
        wearer_discord_id=str(WEARER.id),
        keyholder_discord_id=str(KEYHOLDER.id),
        user_tasks=[{"task": "Kneel", "points": 1}],
    )
    await deployment.reply("link", KEYHOLDER, wearer=WEARER, session_id=session.session_id)
    added = await deployment.reply(
        "schedule", KEYHOLDER, "add", wearer=WEARER, every="day", at="08:00", random="lock"
    )
    assert added.startswith("Scheduled for"), added
    await deployment.kill()
    # Its moment comes while the bot is down; the assign will land in Chaster, but the bot is
    # killed before it hears the answer.
    with sqlite3.connect(deployment.database) as db:
        db.execute("UPDATE schedules SET next_at = ?", (now_in_db(),))
    deployment.chaster.hang_next("POST", "/tasks/assign", apply=True, seconds=30)
    await deployment.start()
    await deployment.chaster.wait_for_call("POST", "/tasks/assign", timeout=15)
    await deployment.kill()
    assert session.current_task is not None and session.current_task["task"] == "Kneel"

    await deployment.start()
    # Settled at start-up as given (the task is Chaster's current one), and never sent again;
    # the sweep then records the task itself.
    await deployment.discord.wait_until(
        lambda: bool(deployment.bot_texts("assigned to you in Chaster")),
        what="the task in the feed",
        timeout=15,
    )
    assert deployment.chaster.count_calls("POST", "/tasks/assign") == 1
    with sqlite3.connect(deployment.database) as db:
        states = db.execute("SELECT state FROM schedule_occasions").fetchall()
    assert states == [("assigned",)]
    assert deployment.bot_texts("stopped while giving") == []


async def test_a_consequence_killed_mid_call_is_settled_from_the_history_not_resent(
    deployment: Deployment,
) -> None:
    await deployment.start()
    session, feed = await deployment.link_and_assign()
    answer = await deployment.reply(
        "penalty", KEYHOLDER, "set", wearer=WEARER, on="fail", action="add_time", amount="2h"
    )
    assert answer.startswith("Set for"), answer
    end = session.end_date
    assert end is not None
    deployment.chaster.hang_next("POST", "/action", apply=True, seconds=30)
    failed = await deployment.reply("task", KEYHOLDER, "fail", wearer=WEARER)
    assert failed == "Task marked as failed.", failed
    await deployment.chaster.wait_for_call("POST", "/action", timeout=15)
    await deployment.kill()
    assert session.end_date == end + timedelta(hours=2)

    await deployment.start()
    await deployment.discord.wait_until(
        lambda: bool(deployment.bot_texts("Consequence applied in Chaster")),
        what="the consequence settled from the lock's history",
        timeout=15,
    )
    assert deployment.chaster.count_calls("POST", "/action") == 1
    assert session.end_date == end + timedelta(hours=2)
    await deployment.wait_title(feed, "❌ Failed")
    # The lock's history names who did it, once each, across the kill and the restart.
    await deployment.chaster.wait_for_call("POST", "/logs/custom", count=3, timeout=15)
    titles = [log["title"] for log in session.action_logs if log["type"] == "custom"]
    assert titles == [
        "Task assigned from Discord",
        "Task failed from Discord",
        "Consequence for a failed task, from Discord",
    ]
