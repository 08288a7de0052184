"""Secrets never reach a log line, a reply or a message, and the webhook password check does not
leak through its timing.

The bot runs as `python -m bot` with LOG_LEVEL=DEBUG against fakes that insist on the known
token values (so the values are really in use), through a flow that touches every place a
secret could slip out: start-up, commands, reactions, refusals, Chaster errors, webhooks with
wrong and right credentials, `python -m bot check`, and shutdown.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bot.config import Settings
from bot.web import WebServer
from tests.e2e.conftest import CHANNEL, COMPLETE, GUILD, KEYHOLDER, SLUG, STRANGER, WEARER
from tests.e2e.test_durability import (
    DISCORD_TOKEN,
    WEBHOOK_PASSWORD,
    WEBHOOK_USER,
    Deployment,
    delivered,
    wait_for_delivery,
)
from tests.fakes.chaster import FakeChaster
from tests.fakes.discord import FakeDiscord

CHASTER_TOKEN = "chaster-token-value-7f3a"
SECRETS = (DISCORD_TOKEN, CHASTER_TOKEN, WEBHOOK_PASSWORD)


def everything_discord_saw(fake: FakeDiscord) -> str:
    """Every message, interaction response and request body the bot sent to Discord."""
    bodies: list[Any] = [fake.messages, fake.ephemeral_messages]
    bodies += [handle.responses for handle in fake.interactions.values()]
    bodies += [call.json for call in fake.calls]
    return json.dumps(bodies, ensure_ascii=False, default=str)


async def test_no_secret_in_any_log_line_or_reply(tmp_path: Path) -> None:
    async with (
        FakeDiscord(
            guild_id=GUILD,
            channel_ids=(CHANNEL,),
            members=[KEYHOLDER, WEARER, STRANGER],
            token=DISCORD_TOKEN,
        ) as discord_fake,
        FakeChaster(slug=SLUG, token=CHASTER_TOKEN) as chaster,
    ):
        deployment = Deployment(discord_fake, chaster, tmp_path)
        deployment.fresh_seconds = 0  # every /task status reaches Chaster's refusals
        chaster.webhook_url = deployment.webhook_url
        chaster.webhook_auth = (WEBHOOK_USER, WEBHOOK_PASSWORD)
        chaster.webhook_retry_delays = [0.2]
        try:
            await deployment.start()
            session, feed = await deployment.link_and_assign()
            refused = await deployment.reply("task", STRANGER, "status", wearer=WEARER)
            assert refused.startswith("Only the wearer or their keyholder"), refused
            chaster.fail_next("GET", "/sessions/", 401, "Unauthorized")
            status = await deployment.reply("task", KEYHOLDER, "status", wearer=WEARER)
            assert "Chaster refused the bot's API token (HTTP 401)" in status, status
            await deployment.react(KEYHOLDER, feed, COMPLETE)
            await deployment.wait_title(feed, "✅ Completed")

            async with httpx.AsyncClient() as client:
                for auth in ((WEBHOOK_USER, "wrong"), (WEBHOOK_PASSWORD, WEBHOOK_PASSWORD)):
                    wrong = await client.post(deployment.webhook_url, json={}, auth=auth)
                    assert wrong.status_code == 401
            # Chaster's own webhook, with the right credentials: the wearer gets a task there.
            chaster.assign_in_app(session.session_id, "Kneel", points=2)
            await discord_fake.wait_until(
                lambda: (
                    len([m for m in discord_fake.bot_messages(CHANNEL) if m.get("embeds")]) == 2
                ),
                what="the task assigned in Chaster in the feed",
                timeout=15,
            )
            # Every delivery Chaster made, with the right credentials, was accepted at once
            # (the echoes of the bot's own history entries too, which change nothing).
            await wait_for_delivery(chaster, "tasks_task_assigned", "Kneel")
            assert [d for d in delivered(chaster) if d[0] != "custom"] == [
                ("tasks_task_assigned", "Stand still", 200),
                ("tasks_task_completed", "Stand still", 200),
                ("tasks_task_assigned", "Kneel", 200),
            ]
            assert all(status == 200 for *_, status in delivered(chaster))
            check = await run_check(deployment)
        finally:
            if deployment.process is not None:
                assert await deployment.stop() == 0

        # The values were really in use, so their absence below means something.
        assert discord_fake.identify_payloads[0]["token"] == DISCORD_TOKEN
        assert any(call.status == 200 for call in chaster.calls)
        log = deployment.log()
        assert "DEBUG" in log and "task.assign ok" in log
        seen = {
            "log": log,
            "python -m bot check": check,
            "Discord": everything_discord_saw(discord_fake),
        }
        for where, text in seen.items():
            for secret in SECRETS:
                assert secret not in text, f"a secret reached {where}"
                encoded = base64.b64encode(f"{WEBHOOK_USER}:{secret}".encode()).decode()
                assert encoded not in text, f"an encoded secret reached {where}"


async def run_check(deployment: Deployment) -> str:
    """`python -m bot check` with the deployment's settings; returns everything it printed."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "check",
        cwd=deployment.folder,
        env=deployment.environment(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text
    return text


def test_settings_never_show_secrets() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        DISCORD_TOKEN=DISCORD_TOKEN,
        CHASTER_API_TOKEN=CHASTER_TOKEN,
        CHASTER_EXTENSION_SLUG=SLUG,
        WEBHOOK_PORT=8080,
        WEBHOOK_USERNAME=WEBHOOK_USER,
        WEBHOOK_PASSWORD=WEBHOOK_PASSWORD,
    )
    for shown in (repr(settings), str(settings), settings.model_dump_json(), f"{settings!s}"):
        for secret in SECRETS:
            assert secret not in shown


@pytest.mark.parametrize(
    ("username", "password", "accepted"),
    [
        (WEBHOOK_USER, WEBHOOK_PASSWORD, True),
        (WEBHOOK_USER, "wrong", False),
        ("wrong", WEBHOOK_PASSWORD, False),
        ("wrong", "wrong", False),
    ],
)
def test_webhook_credentials_are_compared_in_constant_time(
    monkeypatch: pytest.MonkeyPatch, username: str, password: str, accepted: bool
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real_compare = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real_compare(a, b)

    monkeypatch.setattr("bot.web.hmac.compare_digest", spy)
    server = WebServer(
        store=None,  # type: ignore[arg-type]
        handle_webhook=None,  # type: ignore[arg-type]
        clock=None,  # type: ignore[arg-type]
        host="127.0.0.1",
        port=0,
        username=WEBHOOK_USER,
        password=SecretStr(WEBHOOK_PASSWORD),
        is_healthy=lambda: True,
    )
    header = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()

    assert server._authorised(header) is accepted
    # Both parts are always compared with compare_digest, so neither a wrong user name nor the
    # length of a matching prefix shows in how long the answer takes.
    assert compared == [
        (username.encode(), WEBHOOK_USER.encode()),
        (password.encode(), WEBHOOK_PASSWORD.encode()),
    ]
