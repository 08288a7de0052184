"""The audit of every attempted action, and the per-server settings only managers change."""

from __future__ import annotations

import pytest

from bot.core.errors import (
    Channel,
    ChasterRefused,
    NotAllowed,
    Permissions,
    Person,
    Reason,
    Refused,
)
from bot.core.model import Caller
from bot.store import Task
from tests.core_env import (
    ADMIN,
    CHANNEL,
    COMPLETE,
    FAIL,
    FEED_CHANNEL,
    GUILD,
    KEYHOLDER,
    KH,
    MANAGER,
    OTHER,
    OTHER_GUILD,
    STRANGER,
    WEARER,
    WR,
    CoreEnv,
    refused,
)

# ---------------------------------------------------------------------------------- audit


async def test_every_attempt_is_audited(env: CoreEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    link = await env.linked()
    with refused(Reason.ONLY_KEYHOLDER_ASSIGNS, NotAllowed, keyholder=Person(KEYHOLDER)):
        await env.assign(WR)
    task = await env.assign()
    env.fake.fail_next("POST", "/tasks/complete", 500, "Chaster tripped")
    with refused(Reason.CHASTER_UNAVAILABLE, ChasterRefused):
        await env.act(KH, COMPLETE)

    async def broken(link_id: int) -> Task | None:
        raise RuntimeError("disk gone")

    with monkeypatch.context() as patch:
        patch.setattr(env.store, "get_open_task", broken)
        with pytest.raises(RuntimeError, match="disk gone") as crashed:
            await env.act(WR, FAIL)
    assert type(crashed.value) is RuntimeError
    await env.core.tasks.status(WR, WEARER)
    with refused(Reason.ONLY_INVOLVED_SEE_STATUS, NotAllowed):
        await env.core.tasks.status(OTHER, WEARER)

    entries = list(reversed(await env.store.audit_entries()))
    assert [(e.action, e.result, e.user_id) for e in entries] == [
        ("link", "ok", KEYHOLDER),
        ("task.assign", "refused", WEARER),
        ("task.assign", "ok", KEYHOLDER),
        ("task.complete", "refused", KEYHOLDER),
        ("task.fail", "error", WEARER),
        ("task.status", "ok", WEARER),
        ("task.status", "refused", STRANGER),
    ]
    assert [e.guild_id for e in entries] == [GUILD] * 7
    assert [e.link_id for e in entries] == [link.id] * 7
    assert entries[2].task_id == task.id
    assert entries[3].task_id == task.id
    # A refusal is recorded as its code with its parameters (Chaster's words among them).
    assert Reason.ONLY_KEYHOLDER_ASSIGNS.value in entries[1].detail
    assert Reason.CHASTER_UNAVAILABLE.value in entries[3].detail
    assert "Chaster tripped" in entries[3].detail
    assert "RuntimeError" in entries[4].detail
    assert Reason.ONLY_INVOLVED_SEE_STATUS.value in entries[6].detail
    assert [e.at for e in entries] == [env.clock.now()] * 7


async def test_link_requests_and_confirmations_are_audited(env: CoreEnv) -> None:
    session = env.add_lock()
    outcome = await env.core.links.link(OTHER, WEARER, session.session_id, CHANNEL)
    assert outcome.request is not None
    with refused(Reason.ONLY_NAMED_WEARER_ACCEPTS, NotAllowed):
        await env.core.links.confirm(OTHER, outcome.request)
    link = await env.core.links.confirm(WR, outcome.request)
    with refused(Reason.LINK_REQUEST_NOT_PENDING):
        await env.core.links.confirm(WR, outcome.request)
    with refused(Reason.ONLY_INVOLVED_UNLINK, NotAllowed):
        await env.core.links.unlink(Caller(ADMIN, GUILD), WEARER)
    await env.core.links.unlink(WR, WEARER)
    entries = list(reversed(await env.store.audit_entries()))
    assert [(e.action, e.result) for e in entries] == [
        ("link", "ok"),
        ("link.confirm", "refused"),
        ("link.confirm", "ok"),
        ("link.confirm", "refused"),
        ("unlink", "refused"),
        ("unlink", "ok"),
    ]
    assert session.session_id in entries[0].detail
    assert entries[2].link_id == link.id
    assert entries[5].link_id == link.id


# ---------------------------------------------------------------------------------- settings


async def test_settings_need_manage_server(env: CoreEnv) -> None:
    for caller in (KH, WR, OTHER):
        with refused(Reason.NEEDS_MANAGE_SERVER, NotAllowed):
            await env.core.settings.set_feed_channel(caller, FEED_CHANNEL)
        with refused(Reason.NEEDS_MANAGE_SERVER, NotAllowed):
            await env.core.settings.set_wearer_can_complete(caller, True)
    settings = await env.store.get_guild_settings(GUILD)
    assert settings.feed_channel_id is None
    assert settings.wearer_can_complete is False
    assert settings.updated_at is None
    assert (
        await env.audit()
        == [
            ("settings.feed", "refused"),
            ("settings.wearer-complete", "refused"),
        ]
        * 3
    )


async def test_a_manager_changes_the_settings_of_their_server_only(env: CoreEnv) -> None:
    await env.core.settings.set_feed_channel(MANAGER, FEED_CHANNEL)
    await env.core.settings.set_wearer_can_complete(MANAGER, True)
    settings = await env.store.get_guild_settings(GUILD)
    assert settings.feed_channel_id == FEED_CHANNEL
    assert settings.wearer_can_complete is True
    other = await env.store.get_guild_settings(OTHER_GUILD)
    assert (other.feed_channel_id, other.wearer_can_complete) == (None, False)
    assert await env.audit() == [("settings.feed", "ok"), ("settings.wearer-complete", "ok")]


async def test_a_feed_channel_the_bot_cannot_use_is_refused(env: CoreEnv) -> None:
    missing = ["send_messages", "add_reactions"]
    with refused(
        Reason.FEED_CHANNEL_UNUSABLE,
        Refused,
        channel=Channel(FEED_CHANNEL),
        permissions=Permissions(tuple(missing)),
    ):
        await env.core.settings.set_feed_channel(MANAGER, FEED_CHANNEL, missing_permissions=missing)
    assert (await env.store.get_guild_settings(GUILD)).feed_channel_id is None
    assert await env.audit() == [("settings.feed", "refused")]
