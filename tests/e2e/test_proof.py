"""Photo proof end to end: a proof task from its assignment through the Complete button's
upload form, a review judged in the fake Chaster, its `peer_verification.ended` webhook to the
bot's own web server, and the feed; the photo's bytes are nowhere but in Chaster's files."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from tests.e2e.conftest import KEYHOLDER, WEARER, World, embed, fields, running_world
from tests.e2e.test_buttons import custom_id
from tests.e2e.test_durability import free_port

USER, PASSWORD = "chaster", "webhook-secret"
# A real PNG's signature, then bytes no log or message would hold by chance.
PHOTO = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"proof-photo-\xf0\x9f\x93\xb8-7f3a9c" * 64
MARK = b"proof-photo-"


@pytest.fixture
async def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[World]:
    port = free_port()
    async with running_world(
        monkeypatch,
        tmp_path,
        WEBHOOK_PORT=port,
        WEBHOOK_HOST="127.0.0.1",
        WEBHOOK_USERNAME=USER,
        WEBHOOK_PASSWORD=SecretStr(PASSWORD),
    ) as running:
        running.chaster.webhook_url = f"http://127.0.0.1:{port}/chaster/webhook"
        running.chaster.webhook_auth = (USER, PASSWORD)
        running.chaster.webhook_retry_delays = []
        yield running


async def send_photo(world: World, message: dict[str, Any], content: bytes = PHOTO) -> str:
    """Press Complete on the task's message, upload `content` in the form; the private reply."""
    current = world.discord.messages[int(message["id"])]
    opened = await world.discord.send_component(
        message_id=int(message["id"]), custom_id=custom_id(current, "Complete"), user=WEARER
    )
    first = await opened.first_response()
    assert first["type"] == 9, first  # the form, not a deferred update
    attachment = world.discord.user_attachment(content, "IMG_0042.jpg")
    submitted = await world.discord.send_modal_submit(opened, {"photo": [attachment]})
    answer = await submitted.final_message()
    assert int(answer.get("flags") or 0) & 64, answer  # private
    return str(answer["content"])


async def wait_title(world: World, message: dict[str, Any], title: str) -> dict[str, Any]:
    message_id = int(message["id"])
    return await world.discord.wait_until(
        lambda: (
            world.discord.messages[message_id]
            if embed(world.discord.messages[message_id])["title"] == title
            else None
        ),
        what=f"the feed message titled {title!r}",
    )


def review_of(world: World, session_id: str) -> dict[str, Any]:
    [review] = world.chaster.reviews(session_id)
    return review


async def test_a_community_review_completes_the_task_and_the_photo_stays_in_chaster(
    world: World, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    session = await world.link()
    await world.reply("proof", KEYHOLDER, "settings", wearer=WEARER, **{"max-votes": 4})
    message = await world.assign(description="Kneel in the corner", proof="community")
    assert [b["task"]["verificationRequired"] for b in world.chaster_bodies("POST", "assign")] == [
        False
    ]
    assert "judged by the community" in fields(message)["Kind"]

    reply = await send_photo(world, message)
    assert reply.startswith("📸 Your photo is with the community in Chaster until"), reply
    review = review_of(world, session.session_id)
    [upload] = world.chaster.files.values()
    assert world.chaster.file_bytes(upload.file_id) == PHOTO
    assert upload.name == "proof.png"  # named by its content, not by what the user called it
    under = await wait_title(world, message, "🔍 Photo under review")
    assert "Under the community's review in Chaster" in fields(under)["Photo"]

    # The fourth vote ends it; three in four approve (Chaster's 75%).
    world.chaster.vote(review["_id"], approve=False, reasons=["task_not_visible"])
    world.chaster.vote(review["_id"], approve=True, count=3)
    done = await wait_title(world, message, "✅ Completed")
    assert fields(done)["Photo"] == "Approved in Chaster (3 for, 1 against)"
    completes = world.chaster_bodies("POST", "tasks/complete")
    assert completes == [{"actor": "extension", "isCompleted": True}]

    # The photo is in no log line, no Discord message or request, and no database row.
    assert not [r for r in caplog.records if MARK.decode() in r.getMessage()]
    for call in world.discord.calls:
        assert MARK.decode() not in repr(call.json), call
    for stored in world.discord.messages.values():
        assert MARK.decode() not in str(stored)
    with sqlite3.connect(world.settings.DATABASE_PATH) as db:
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            for row in db.execute(f"SELECT * FROM {table}"):
                assert not any(
                    isinstance(value, bytes | str)
                    and MARK in (value if isinstance(value, bytes) else value.encode())
                    for value in row
                ), table
    db.close()
    assert not files_holding(tmp_path, MARK)


def files_holding(folder: Path, content: bytes) -> list[Path]:
    """Every file under `folder` (the database, its journal, anything else) holding `content`."""
    return [p for p in folder.rglob("*") if p.is_file() and content in p.read_bytes()]


async def test_a_rejection_fails_the_task_with_chasters_punishment_once(world: World) -> None:
    session = await world.link()
    text = await world.reply(
        "penalty", KEYHOLDER, "set", on="fail", action="add_time", amount="1h", wearer=WEARER
    )
    assert text, text
    message = await world.assign(description="Write lines", proof="keyholder")
    ends_before = session.end_date

    reply = await send_photo(world, message)
    assert (
        reply
        == "📸 Your photo is with your keyholder in Chaster. The task ends with their verdict."
    )
    review = review_of(world, session.session_id)
    assert review["punishments"] == [{"name": "add_time", "params": 3600}]
    # While it is under review, the wearer cannot fail it from Discord.
    refused = await world.refusal("task", WEARER, "fail")
    assert refused.startswith("The photo for this task is under review in Chaster"), refused

    world.chaster.judge(review["_id"], verified=False, reasons=["task_not_done"])
    failed = await wait_title(world, message, "❌ Failed")
    assert "Rejected in Chaster (0 for, 1 against)" in fields(failed)["Photo"]
    assert "The task was not done" in fields(failed)["Photo"]
    assert world.chaster_bodies("POST", "tasks/complete") == [
        {"actor": "extension", "isCompleted": False}
    ]
    # Chaster applied the punishment once; the bot sent no lock action of its own.
    assert world.chaster_bodies("POST", "/action") == []
    assert ends_before is not None and session.end_date is not None
    assert (session.end_date - ends_before).total_seconds() == 3600
    with sqlite3.connect(world.settings.DATABASE_PATH) as db:
        assert db.execute("SELECT count(*) FROM consequences").fetchone() == (0,)
    db.close()
