"""Linking by code end to end: the main page (served by the bot's own web server) shows a code,
and `/link code:` in Discord proves who is who, for a lock whose wearer and keyholder Chaster
knows on no Discord account."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from bot.core.lock_defaults import LockDefaults
from tests.e2e.conftest import KEYHOLDER, WEARER, World, running_world
from tests.e2e.test_durability import free_port


@pytest.fixture
async def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[World]:
    async with running_world(
        monkeypatch,
        tmp_path,
        WEBHOOK_PORT=free_port(),
        WEBHOOK_HOST="127.0.0.1",
        WEBHOOK_USERNAME="chaster",
        WEBHOOK_PASSWORD=SecretStr("webhook-secret"),
    ) as running:
        yield running


async def page_state(world: World, token: str) -> dict[str, object]:
    assert world.app.web is not None
    url = f"http://127.0.0.1:{world.app.web.port}/chaster/main/state"
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.post(url, json={"mainToken": token})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_both_codes_link_a_lock_chaster_knows_no_discord_account_of(world: World) -> None:
    session = world.chaster.add_session()  # no Discord id for either of them
    session.config = LockDefaults.from_form(
        {"wearerCanComplete": "yes", "deadline": "2h"}
    ).to_config()

    wearer_page = await page_state(
        world, world.chaster.issue_main_token(session.session_id, "wearer")
    )
    assert wearer_page["servers"] == []
    text = await world.reply("link", WEARER, code=str(wearer_page["linkCode"]))
    assert text.startswith("Code accepted: you wear “Keyholder lock”."), text

    keyholder_page = await page_state(
        world, world.chaster.issue_main_token(session.session_id, "keyholder")
    )
    text = await world.reply("link", KEYHOLDER, code=str(keyholder_page["linkCode"]))
    assert text == "Linked <@5002> (“Keyholder lock”). <@5001> is their keyholder here.", text

    # The keyholder acts as the lock's keyholder in Chaster, proven by the code.
    await world.assign()
    assert world.chaster_bodies("POST", "/tasks/assign")[-1]["actor"] == "keyholder"
    status = await world.reply("task", WEARER, "status")
    assert "the wearer completes tasks without confirmation" in status, status
    assert "a task given without a deadline gets 2 hours" in status, status

    # The page now names the server and the keyholder there, from Discord.
    again = await page_state(world, world.chaster.issue_main_token(session.session_id, "wearer"))
    assert again["servers"] == [
        {"name": "Test Guild", "keyholder": "keyholder", "selfManaged": False}
    ]


async def test_a_wrong_code_is_refused_and_counted(world: World) -> None:
    text = await world.refusal("link", WEARER, code="ZZZ-ZZZ")
    assert text == (
        "That code isn't one I gave. Check it on the extension's page in Chaster (4 tries left)."
    )
    assert "wearer:" in await world.refusal("link", WEARER)
    assert "without `wearer:`" in await world.refusal("link", WEARER, code="ZZZ-ZZZ", wearer=WEARER)
