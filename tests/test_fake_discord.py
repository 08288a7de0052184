"""The fake Discord works with the real discord.py client (the canary for every e2e test).

A tiny ``commands.Bot`` defined here runs against ``tests.fakes.discord.FakeDiscord`` over loopback.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
import yarl
from discord import app_commands
from discord.ext import commands

from tests.fakes.discord import (
    ALREADY_ACKNOWLEDGED,
    CANNOT_MESSAGE_USER,
    DEFAULT_EVERYONE_PERMISSIONS,
    JSON,
    MANAGE_GUILD,
    MESSAGE_FLAG_EPHEMERAL,
    MISSING_ACCESS,
    MISSING_PERMISSIONS,
    OPTION_STRING,
    SEND_MESSAGES,
    UNKNOWN_INTERACTION,
    VIEW_CHANNEL,
    FakeDiscord,
    FakeRole,
    FakeUser,
    attachment_option,
    channel_option,
    option,
    reaction_add,
    user_option,
    validate_autocomplete_result,
    validate_message_body,
    validate_modal,
)

GUILD = 1000
CHANNEL = 2000
OTHER_CHANNEL = 2001
ADMINS = FakeRole(3000, "admins", MANAGE_GUILD)
ALICE = FakeUser(5001, "alice")
BOB = FakeUser(5002, "bob", roles=(ADMINS.id,))
STRANGER = FakeUser(5999, "stranger")  # not a guild member


class MiniBot(commands.Bot):
    """One feature per command, enough to exercise every part of the fake."""

    def __init__(self) -> None:
        super().__init__(
            command_prefix="!",
            intents=discord.Intents.default(),
            guild_ready_timeout=0.05,
        )
        self.guild_obj = discord.Object(GUILD)
        self.raw_reactions: asyncio.Queue[discord.RawReactionActionEvent] = asyncio.Queue()
        self.app_errors: asyncio.Queue[app_commands.AppCommandError] = asyncio.Queue()
        self.targets: list[discord.Member | discord.User] = []
        #: simulated work before /echo answers (the late-callback test sets it)
        self.work_time = 0.0

    async def setup_hook(self) -> None:
        tree = self.tree
        guild = self.guild_obj

        @tree.command(name="ping", description="Ephemeral pong", guild=guild)
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("pong", ephemeral=True)

        @tree.command(name="echo", description="Defer, then follow up", guild=guild)
        async def echo(interaction: discord.Interaction, text: str) -> None:
            await asyncio.sleep(self.work_time)  # stands in for a slow API call
            await interaction.response.defer(thinking=True)
            await interaction.followup.send(f"echo: {text}")

        @echo.autocomplete("text")
        async def echo_complete(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            return [app_commands.Choice(name=w, value=w) for w in ("hello", "help") if current in w]

        @tree.command(name="who", description="Resolve a user option", guild=guild)
        async def who(interaction: discord.Interaction, target: discord.User) -> None:
            self.targets.append(target)
            await interaction.response.send_message(f"that is {target.mention}", ephemeral=True)

        group = app_commands.Group(name="task", description="Task things", guild_ids=[GUILD])

        @group.command(name="add", description="Needs Manage Server")
        @app_commands.checks.has_permissions(manage_guild=True)
        async def task_add(interaction: discord.Interaction, title: str) -> None:
            await interaction.response.send_message(f"added {title}")
            await interaction.edit_original_response(content=f"added {title}!")

        tree.add_command(group)

        class Note(discord.ui.Modal, title="A note"):
            text = discord.ui.TextInput(label="Text", style=discord.TextStyle.paragraph)
            mood = discord.ui.Label(
                text="Mood", component=discord.ui.TextInput(max_length=5, required=False)
            )

            async def on_submit(self, interaction: discord.Interaction) -> None:
                assert isinstance(self.mood.component, discord.ui.TextInput)
                await interaction.response.send_message(
                    f"{self.text.value} ({self.mood.component.value or 'no mood'})",
                    ephemeral=True,
                )

        @tree.context_menu(name="Note on", guild=guild)
        async def note_on(interaction: discord.Interaction, member: discord.Member) -> None:
            self.targets.append(member)
            await interaction.response.send_modal(Note())

        @tree.error
        async def on_app_error(
            interaction: discord.Interaction, error: app_commands.AppCommandError
        ) -> None:
            await self.app_errors.put(error)

        await tree.sync(guild=guild)

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self.raw_reactions.put(payload)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        # discord.py sleeps 5 s before every non-initial IDENTIFY (after an invalid session);
        # skip that so the re-identify test stays fast.
        return None


async def start_bot(fake: FakeDiscord) -> tuple[MiniBot, asyncio.Task[None]]:
    bot = MiniBot()
    task = asyncio.create_task(bot.start("fake-token"))
    ready = asyncio.create_task(bot.wait_until_ready())
    done, _ = await asyncio.wait({task, ready}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        ready.cancel()
        await bot.close()
        await task  # re-raises a crash during start-up
        raise AssertionError("bot never became ready")
    return bot, task


async def stop_bot(bot: MiniBot, task: asyncio.Task[None]) -> None:
    await bot.close()
    await task  # surfaces parser crashes (KeyError on a malformed payload)


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(
        guild_id=GUILD, channel_ids=(CHANNEL, OTHER_CHANNEL), members=[ALICE, BOB], roles=[ADMINS]
    ) as f:
        monkeypatch.setattr(discord.http.Route, "BASE", f.api_url)
        monkeypatch.setattr(
            discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(f.gateway_url)
        )
        yield f
        assert f.unhandled == []


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[MiniBot]:
    b, task = await start_bot(fake)
    yield b
    await stop_bot(b, task)


def text_channel(bot: MiniBot, channel_id: int = CHANNEL) -> discord.TextChannel:
    channel = bot.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


# --------------------------------------------------------------------------- start-up


async def test_startup_identifies_and_syncs_guild_commands(fake: FakeDiscord, bot: MiniBot) -> None:
    assert fake.identified.is_set()
    assert bot.user is not None and bot.user.id == fake.bot_user.id
    assert bot.application_id == fake.application_id
    guild = bot.get_guild(GUILD)
    assert guild is not None and guild.me is not None
    assert {c.id for c in guild.text_channels} == {CHANNEL, OTHER_CHANNEL}
    assert guild.member_count == 3
    assert {c["name"] for c in fake.commands} == {"ping", "echo", "who", "task", "Note on"}
    assert fake.guild_commands[GUILD] == fake.commands
    assert fake.identify_payloads[0]["intents"] == discord.Intents.default().value
    await fake.wait_for_call("PUT", rf"/applications/{fake.application_id}/guilds/{GUILD}/commands")


# --------------------------------------------------------------------------- interactions


async def test_ephemeral_reply(fake: FakeDiscord, bot: MiniBot) -> None:
    handle = await fake.send_slash("ping", user=ALICE)
    first = await handle.first_response()
    assert first["type"] == 4
    assert first["data"]["content"] == "pong"
    assert first["data"]["flags"] & MESSAGE_FLAG_EPHEMERAL
    assert first["at"] - handle.dispatched_at < fake.interaction_deadline
    assert (await handle.final_message())["content"] == "pong"
    original = handle.original_message()
    assert original is not None and original["flags"] & MESSAGE_FLAG_EPHEMERAL
    assert fake.channel_messages(CHANNEL) == []  # ephemeral: not visible in the channel


async def test_defer_then_followup(fake: FakeDiscord, bot: MiniBot) -> None:
    handle = await fake.send_slash(
        "echo", user=ALICE, options=[option("text", "hi", OPTION_STRING)]
    )
    assert (await handle.first_response())["type"] == 5
    final = await handle.final_message()
    assert final["content"] == "echo: hi"
    assert [r["kind"] for r in handle.responses()] == ["callback", "followup"]
    # the first followup after "thinking" edits the loading message, as on Discord
    original = handle.original_message()
    assert original is not None and original["content"] == "echo: hi"
    assert original["flags"] == 0
    assert [m["id"] for m in fake.channel_messages(CHANNEL)] == [original["id"]]
    call = await fake.wait_for_call("POST", rf"/webhooks/{fake.application_id}/[^/]+")
    assert call.query["wait"] == "1"


async def test_late_callback_is_rejected(fake: FakeDiscord, bot: MiniBot) -> None:
    fake.interaction_deadline = 0.1
    bot.work_time = 0.3
    handle = await fake.send_slash("echo", user=ALICE, options=[option("text", "x", OPTION_STRING)])
    error = await asyncio.wait_for(bot.app_errors.get(), 5)
    assert isinstance(error, app_commands.CommandInvokeError)
    assert isinstance(error.original, discord.NotFound)
    assert error.original.code == UNKNOWN_INTERACTION
    first = await handle.first_response()
    assert first["late"] and first["status"] == 404
    call = await fake.wait_for_call("POST", r"/interactions/\d+/[^/]+/callback")
    assert call.late and call.status == 404
    rejected = (
        rf"^interaction {handle.id}: the first callback was rejected \(status 404, late=True\):"
        r" \{'type': 5\}$"
    )
    with pytest.raises(AssertionError, match=rejected) as caught:
        await handle.final_message()
    assert type(caught.value) is AssertionError


async def test_user_option_resolves_to_member(fake: FakeDiscord, bot: MiniBot) -> None:
    handle = await fake.send_slash("who", user=ALICE, options=[user_option("target", BOB)])
    assert (await handle.final_message())["content"] == f"that is <@{BOB.id}>"
    target = bot.targets[0]
    assert isinstance(target, discord.Member)
    assert target.id == BOB.id and target.guild.id == GUILD
    assert [r.id for r in target.roles if not r.is_default()] == [ADMINS.id]
    # a plain id option is resolved from the fake's members too; a non-member is a User
    await (
        await fake.send_slash("who", user=ALICE, options=[option("target", ALICE.id, 6)])
    ).final_message()
    await (
        await fake.send_slash("who", user=ALICE, options=[user_option("target", STRANGER)])
    ).final_message()
    assert isinstance(bot.targets[1], discord.Member) and bot.targets[1].id == ALICE.id
    assert type(bot.targets[2]) is discord.User and bot.targets[2].id == STRANGER.id


async def test_subcommand_permissions_and_original_edit(fake: FakeDiscord, bot: MiniBot) -> None:
    # alice lacks Manage Server: the bot's check refuses
    await fake.send_slash("task", subcommand="add", user=ALICE, options=[option("title", "a", 3)])
    error = await asyncio.wait_for(bot.app_errors.get(), 5)
    assert isinstance(error, app_commands.MissingPermissions)
    # bob's role grants it: reply, then edit @original
    handle = await fake.send_slash(
        "task", subcommand="add", user=BOB, options=[option("title", "b", 3)]
    )
    await fake.wait_for_call("PATCH", r"/webhooks/\d+/[^/]+/messages/@original")
    assert [r["kind"] for r in handle.responses()] == ["callback", "edit_original"]
    original = handle.original_message()
    assert original is not None and original["content"] == "added b!"
    assert original["edited_timestamp"] is not None
    assert original["interaction_metadata"]["user"]["id"] == str(BOB.id)


async def test_send_slash_refuses_what_discord_would(fake: FakeDiscord, bot: MiniBot) -> None:
    unsynced_nope = (
        r"^/nope was never synced to Discord "
        r"\(synced: \['ping', 'echo', 'who', 'task', 'Note on'\]\)$"
    )
    with pytest.raises(LookupError, match=unsynced_nope) as unsynced:
        await fake.send_slash("nope", user=ALICE)
    assert type(unsynced.value) is LookupError
    with pytest.raises(
        ValueError, match=r"^/echo: unknown option 'txt' \(has \['text'\]\)$"
    ) as unknown:
        await fake.send_slash("echo", user=ALICE, options=[option("txt", "x", OPTION_STRING)])
    assert type(unknown.value) is ValueError
    with pytest.raises(
        ValueError, match=r"^/echo: required options missing: \['text'\]$"
    ) as missing:
        await fake.send_slash("echo", user=ALICE)
    assert type(missing.value) is ValueError
    with pytest.raises(ValueError, match=r"^/task needs a subcommand$") as bare:
        await fake.send_slash("task", user=ALICE)
    assert type(bare.value) is ValueError


async def test_commands_from_another_server(fake: FakeDiscord, bot: MiniBot) -> None:
    elsewhere, elsewhere_channel = 1500, 2500

    # A deployment whose commands are global: they can be run in every server the bot is in.
    @bot.tree.command(name="where", description="Where it was run")
    async def where(interaction: discord.Interaction, channel: discord.TextChannel) -> None:
        await interaction.response.send_message(
            f"{interaction.guild_id} {interaction.channel_id} {channel.guild.id}", ephemeral=True
        )

    await bot.tree.sync()
    await fake.join_other_server(elsewhere, elsewhere_channel)
    handle = await fake.send_slash(
        "where",
        user=ALICE,
        guild_id=elsewhere,
        options=[channel_option("channel", elsewhere_channel)],
    )
    content = (await handle.final_message())["content"]
    assert content == f"{elsewhere} {elsewhere_channel} {elsewhere}"
    server = bot.get_guild(elsewhere)
    assert server is not None and [c.id for c in server.text_channels] == [elsewhere_channel]
    # Commands synced to one server exist only there; a channel belongs to one server.
    unsynced_here = r"^/ping was never synced to Discord \(synced: \['where'\]\)$"
    with pytest.raises(LookupError, match=unsynced_here) as unsynced:
        await fake.send_slash("ping", user=ALICE, guild_id=elsewhere)
    assert type(unsynced.value) is LookupError
    wrong_server = rf"^channel {CHANNEL} is in server {GUILD}, not {elsewhere}$"
    with pytest.raises(ValueError, match=wrong_server) as mismatch:
        await fake.send_slash(
            "where",
            user=ALICE,
            guild_id=elsewhere,
            channel_id=CHANNEL,
            options=[channel_option("channel", elsewhere_channel)],
        )
    assert type(mismatch.value) is ValueError


async def test_autocomplete(fake: FakeDiscord, bot: MiniBot) -> None:
    handle = await fake.send_autocomplete(
        "echo", user=ALICE, focused="text", options=[option("text", "hel", OPTION_STRING)]
    )
    first = await handle.first_response()
    assert first["type"] == 8
    assert [c["value"] for c in first["data"]["choices"]] == ["hello", "help"]


async def test_button_click_updates_message(fake: FakeDiscord, bot: MiniBot) -> None:
    clicked: asyncio.Queue[int] = asyncio.Queue()

    class Done(discord.ui.View):
        @discord.ui.button(label="Done", custom_id="done")
        async def done(
            self, interaction: discord.Interaction, button: discord.ui.Button[Done]
        ) -> None:
            await clicked.put(interaction.user.id)
            await interaction.response.edit_message(content="done!", view=None)

    msg = await text_channel(bot).send("task", view=Done(timeout=None))
    handle = await fake.send_component(message_id=msg.id, custom_id="done", user=ALICE)
    assert (await handle.final_message())["content"] == "done!"
    assert await asyncio.wait_for(clicked.get(), 5) == ALICE.id
    assert fake.messages[msg.id]["content"] == "done!"
    assert fake.messages[msg.id]["components"] == []


async def test_second_callback_is_already_acknowledged(fake: FakeDiscord, bot: MiniBot) -> None:
    handle = await fake.send_slash("ping", user=ALICE)
    await handle.first_response()
    async with aiohttp.ClientSession() as session:
        url = f"{fake.api_url}/interactions/{handle.id}/{handle.token}/callback"
        async with session.post(url, json={"type": 4, "data": {"content": "again"}}) as resp:
            assert resp.status == 400
            assert resp.headers["Content-Type"] == "application/json"
            assert (await resp.json())["code"] == ALREADY_ACKNOWLEDGED


# --------------------------------------------------------------------------- reactions


async def test_raw_reaction_reaches_listener(fake: FakeDiscord, bot: MiniBot) -> None:
    await fake.dispatch(
        "MESSAGE_REACTION_ADD",
        reaction_add(user=ALICE, channel_id=CHANNEL, message_id=42, guild_id=GUILD, emoji="👍"),
    )
    payload = await asyncio.wait_for(bot.raw_reactions.get(), 5)
    assert payload.user_id == ALICE.id and payload.message_id == 42
    assert str(payload.emoji) == "👍"
    assert isinstance(payload.member, discord.Member) and payload.member.id == ALICE.id
    assert fake.reactions[42] == [("👍", ALICE.id)]


async def test_post_react_edit_and_remove_reactions(fake: FakeDiscord, bot: MiniBot) -> None:
    channel = text_channel(bot)
    echoed = asyncio.create_task(bot.wait_for("message", check=lambda m: m.content == "feed"))
    msg = await channel.send("feed")
    assert (await asyncio.wait_for(echoed, 5)).id == msg.id  # MESSAGE_CREATE echo, as Discord
    assert msg.id in fake.messages
    assert fake.channel_messages(CHANNEL)[0]["content"] == "feed"

    await msg.add_reaction("✅")
    own = await asyncio.wait_for(bot.raw_reactions.get(), 5)  # Discord echoes the bot's own too
    assert own.user_id == fake.bot_user.id

    await fake.add_reaction(user=ALICE, message_id=msg.id, emoji="❌")
    assert (await asyncio.wait_for(bot.raw_reactions.get(), 5)).user_id == ALICE.id
    assert fake.reactions[msg.id] == [("✅", fake.bot_user.id), ("❌", ALICE.id)]

    edited = await msg.edit(content="feed (edited)")
    assert edited.content == "feed (edited)"
    assert fake.messages[msg.id]["content"] == "feed (edited)"
    assert fake.messages[msg.id]["edited_timestamp"] is not None

    await msg.remove_reaction("❌", discord.Object(ALICE.id))
    assert bot.user is not None
    await msg.remove_reaction("✅", bot.user)
    assert fake.reactions[msg.id] == []
    fetched = await channel.fetch_message(msg.id)
    assert fetched.content == "feed (edited)" and fetched.reactions == []

    await msg.delete()
    assert msg.id not in fake.messages
    with pytest.raises(discord.NotFound) as info:
        await msg.edit(content="gone")
    assert (info.value.status, info.value.code, info.value.text) == (404, 10008, "Unknown Message")


async def test_reaction_state_and_permissions(fake: FakeDiscord, bot: MiniBot) -> None:
    msg = await text_channel(bot).send("vote")
    await fake.add_reaction(user=ALICE, message_id=msg.id, emoji="👍")
    await fake.add_reaction(user=BOB, message_id=msg.id, emoji="👍")
    await msg.add_reaction("👍")
    fetched = await text_channel(bot).fetch_message(msg.id)
    assert [(str(r.emoji), r.count, r.me) for r in fetched.reactions] == [("👍", 3, True)]
    users = [u.id async for u in fetched.reactions[0].users()]
    assert sorted(users) == sorted([ALICE.id, BOB.id, fake.bot_user.id])

    with pytest.raises(discord.HTTPException) as bad:
        await msg.add_reaction(":thumbsup:")
    assert type(bad.value) is discord.HTTPException
    assert (bad.value.status, bad.value.code, bad.value.text) == (400, 10014, "Unknown Emoji")

    await fake.set_role_permissions(fake.bot_role_id, DEFAULT_EVERYONE_PERMISSIONS)
    with pytest.raises(discord.Forbidden) as denied:
        await msg.remove_reaction("👍", discord.Object(ALICE.id))
    assert (denied.value.status, denied.value.code, denied.value.text) == (
        403,
        MISSING_PERMISSIONS,
        "Missing Permissions",
    )
    assert bot.user is not None
    await msg.remove_reaction("👍", bot.user)  # removing its own needs no permission
    assert fake.reactions[msg.id] == [("👍", ALICE.id), ("👍", BOB.id)]


async def test_channel_overwrites_decide_what_the_bot_may_do_there(
    fake: FakeDiscord, bot: MiniBot
) -> None:
    channel = text_channel(bot)
    await fake.set_channel_overwrites(
        CHANNEL, [{"id": fake.bot_role_id, "type": 0, "allow": 0, "deny": SEND_MESSAGES}]
    )
    with pytest.raises(discord.Forbidden) as denied:
        await channel.send("hello")
    assert denied.value.code == MISSING_PERMISSIONS
    # The bot's client sees the same: CHANNEL_UPDATE carried the overwrites.
    assert channel.guild.me is not None
    assert not channel.permissions_for(channel.guild.me).send_messages
    # A member overwrite comes last and wins over the role's.
    await fake.set_channel_overwrites(
        CHANNEL,
        [
            {"id": fake.bot_role_id, "type": 0, "allow": 0, "deny": SEND_MESSAGES},
            {"id": fake.bot_user.id, "type": 1, "allow": SEND_MESSAGES, "deny": 0},
        ],
    )
    await channel.send("hello again")
    await fake.set_channel_overwrites(
        CHANNEL, [{"id": GUILD, "type": 0, "allow": 0, "deny": VIEW_CHANNEL}]
    )
    with pytest.raises(discord.Forbidden) as hidden:
        await channel.send("anyone?")
    assert hidden.value.code == MISSING_ACCESS
    assert fake.channel_permissions(fake.bot_user, OTHER_CHANNEL) == fake.bot_permissions


# --------------------------------------------------------------------------- REST details


async def test_fail_injection_raises_forbidden(fake: FakeDiscord, bot: MiniBot) -> None:
    fake.fail("POST", rf"/channels/{CHANNEL}/messages", 403, 50013, "Missing Permissions")
    with pytest.raises(discord.Forbidden) as info:
        await text_channel(bot).send("nope")
    assert (info.value.status, info.value.code, info.value.text) == (
        403,
        50013,
        "Missing Permissions",
    )
    assert (await text_channel(bot).send("works again")).content == "works again"  # times=1
    fake.fail("GET", r"/channels/\d+/messages/\d+", 503, 0, "Service Unavailable")
    with pytest.raises(discord.DiscordServerError) as unavailable:
        await text_channel(bot).fetch_message(1)
    assert (unavailable.value.status, unavailable.value.code, unavailable.value.text) == (
        503,
        0,
        "Service Unavailable",
    )
    with pytest.raises(
        ValueError, match=r"^status 500 makes discord\.py retry for ~25 s; use 503$"
    ) as refused:
        fake.fail("GET", r"/x", 500, 0)
    assert type(refused.value) is ValueError
    # a 429 carries retry_after and a Via header: discord.py waits and retries by itself
    fake.fail("PATCH", r"/channels/\d+/messages/\d+", 429, 0, "Rate limited", retry_after=0.01)
    msg = await text_channel(bot).send("a")
    assert (await msg.edit(content="b")).content == "b"
    assert [c.status for c in fake.find_calls("PATCH", r"/channels/\d+/messages/\d+")] == [429, 200]


async def test_limits_files_replies_history(fake: FakeDiscord, bot: MiniBot) -> None:
    channel = text_channel(bot, OTHER_CHANNEL)
    with pytest.raises(discord.HTTPException) as too_long:
        await channel.send("x" * 2001)
    assert type(too_long.value) is discord.HTTPException
    assert (too_long.value.status, too_long.value.code, too_long.value.text) == (
        400,
        50035,
        "Invalid Form Body\nIn content: Must be 2000 or fewer in length.",
    )

    report = await channel.send("report", file=discord.File(io.BytesIO(b"a,b\n"), "r.csv"))
    call = await fake.wait_for_call(
        "POST", rf"/channels/{OTHER_CHANNEL}/messages", predicate=lambda c: bool(c.files)
    )
    assert call.json["content"] == "report" and call.files == [("r.csv", b"a,b\n")]
    assert await report.attachments[0].read() == b"a,b\n"

    reply = await report.reply(f"<@{ALICE.id}> see above")
    assert reply.reference is not None and reply.reference.message_id == report.id
    assert [m.id for m in reply.mentions] == [ALICE.id]

    history = [m.id async for m in channel.history(limit=10)]
    assert history == [reply.id, report.id]
    assert [m["id"] for m in fake.bot_messages(OTHER_CHANNEL)] == [str(report.id), str(reply.id)]


async def test_members_users_and_dms(fake: FakeDiscord, bot: MiniBot) -> None:
    guild = bot.get_guild(GUILD)
    assert guild is not None
    member = await guild.fetch_member(ALICE.id)
    assert member.name == "alice"
    with pytest.raises(discord.NotFound) as info:
        await guild.fetch_member(STRANGER.id)
    assert (info.value.status, info.value.code, info.value.text) == (404, 10007, "Unknown Member")
    user = await bot.fetch_user(BOB.id)
    dm = await user.send("hello bob")
    assert dm.guild is None
    assert fake.channel_messages(dm.channel.id)[0]["content"] == "hello bob"


async def test_dms_are_stored_per_user_and_skip_channel_permissions(
    fake: FakeDiscord, bot: MiniBot
) -> None:
    guild = bot.get_guild(GUILD)
    assert guild is not None
    member = await guild.fetch_member(ALICE.id)
    assert fake.dm_messages(ALICE.id) == []  # no DM channel yet
    # The bot may not post anywhere in the server: a DM needs no server permission.
    await fake.set_role_permissions(fake.bot_role_id, 0)
    await fake.set_role_permissions(GUILD, 0)
    first = await member.send("hello alice")
    second = await (await bot.fetch_user(ALICE.id)).send("again")
    assert first.guild is None and first.channel.id == second.channel.id
    assert fake.dm_channel_id(ALICE.id) == first.channel.id
    assert [m["content"] for m in fake.dm_messages(ALICE.id)] == ["hello alice", "again"]
    assert all("guild_id" not in m for m in fake.dm_messages(ALICE.id))
    assert fake.dm_messages(BOB.id) == []
    # DMs are no server channel: not in the server's channel messages nor its channel list.
    assert fake.channel_messages(CHANNEL) == fake.channel_messages(OTHER_CHANNEL) == []
    assert {c.id for c in await guild.fetch_channels()} == {CHANNEL, OTHER_CHANNEL}
    assert first.channel.id not in fake.channels


async def test_closed_dms_refuse_messages_until_opened(fake: FakeDiscord, bot: MiniBot) -> None:
    user = await bot.fetch_user(BOB.id)
    fake.close_dms(BOB.id)
    with pytest.raises(discord.Forbidden) as refused:
        await user.send("are you there?")
    assert (refused.value.status, refused.value.code, refused.value.text) == (
        403,
        CANNOT_MESSAGE_USER,
        "Cannot send messages to this user",
    )
    # Opening the DM channel still worked; the message was refused, recorded, and not stored.
    dm_id = fake.dm_channel_id(BOB.id)
    assert dm_id is not None
    [opened] = fake.find_calls("POST", r"/users/@me/channels")
    assert opened.status == 200 and opened.response["id"] == str(dm_id)
    [call] = fake.find_calls("POST", rf"/channels/{dm_id}/messages")
    assert call.status == 403 and call.json["content"] == "are you there?"
    assert call.response == {"message": "Cannot send messages to this user", "code": 50007}
    assert fake.dm_messages(BOB.id) == []
    assert fake.channel_messages(dm_id) == []
    # Other users' DMs and the server's channels are not affected.
    assert (await (await bot.fetch_user(ALICE.id)).send("hi")).content == "hi"
    assert (await text_channel(bot).send("still here")).content == "still here"

    fake.open_dms(BOB.id)
    delivered = await user.send("now?")
    assert delivered.channel.id == dm_id
    assert [m["content"] for m in fake.dm_messages(BOB.id)] == ["now?"]
    assert [c.status for c in fake.find_calls("POST", rf"/channels/{dm_id}/messages")] == [403, 200]


async def test_unknown_route_is_recorded(fake: FakeDiscord, bot: MiniBot) -> None:
    route = discord.http.Route("GET", "/guilds/{guild_id}/emojis", guild_id=GUILD)
    with pytest.raises(discord.NotFound) as info:
        await bot.http.request(route)
    assert (info.value.status, info.value.code, info.value.text) == (404, 0, "Unknown route")
    assert [(c.method, c.path) for c in fake.unhandled] == [("GET", f"/guilds/{GUILD}/emojis")]
    fake.unhandled.clear()  # the fixture asserts none are left


async def test_rest_latency_is_applied(fake: FakeDiscord, bot: MiniBot) -> None:
    fake.rest_latency = 0.05
    loop = asyncio.get_running_loop()
    started = loop.time()
    await text_channel(bot).send("slow")
    assert loop.time() - started >= 0.05


# --------------------------------------------------------------------------- gateway


async def test_message_content_is_censored_without_intent(fake: FakeDiscord, bot: MiniBot) -> None:
    seen = asyncio.create_task(bot.wait_for("message", check=lambda m: m.author.id == ALICE.id))
    await fake.post_message(user=ALICE, channel_id=CHANNEL, content="secret")
    assert (await asyncio.wait_for(seen, 5)).content == ""  # no message_content intent
    seen = asyncio.create_task(bot.wait_for("message", check=lambda m: m.author.id == ALICE.id))
    await fake.post_message(user=ALICE, channel_id=CHANNEL, content=f"<@{fake.bot_user.id}> hi")
    assert (await asyncio.wait_for(seen, 5)).content.endswith("hi")  # mentions are delivered


async def test_disconnect_resume_and_reidentify(fake: FakeDiscord, bot: MiniBot) -> None:
    await fake.disconnect_clients()
    await fake.wait_resumed(1)
    await fake.add_reaction(
        user=ALICE, message_id=(await text_channel(bot).send("m")).id, emoji="🎉"
    )
    assert (await asyncio.wait_for(bot.raw_reactions.get(), 5)).user_id == ALICE.id

    await fake.disconnect_clients(invalidate=True)
    await fake.wait_identified(2)  # RESUME refused (op 9) -> a fresh IDENTIFY
    handle = await fake.send_slash("ping", user=BOB)
    assert (await handle.final_message())["content"] == "pong"


async def test_second_client_gets_events(fake: FakeDiscord, bot: MiniBot) -> None:
    other, task = await start_bot(fake)
    try:
        assert fake.identify_count == 2
        await fake.dispatch(
            "MESSAGE_REACTION_ADD",
            reaction_add(user=BOB, channel_id=CHANNEL, message_id=7, guild_id=GUILD, emoji="👀"),
        )
        for b in (bot, other):
            assert (await asyncio.wait_for(b.raw_reactions.get(), 5)).user_id == BOB.id
    finally:
        await stop_bot(other, task)


def test_an_autocomplete_answer_beyond_discords_limits_is_refused() -> None:
    fine = [{"name": "n" * 100, "value": "v" * 100}] * 25
    assert validate_autocomplete_result({"choices": fine}) is None
    for choices in (
        [*fine, {"name": "one more", "value": "x"}],
        [{"name": "n" * 101, "value": "x"}],
        [{"name": "", "value": "x"}],
        [{"name": "long value", "value": "v" * 101}],
    ):
        refused = validate_autocomplete_result({"choices": choices})
        assert refused is not None and refused["code"] == 50035, choices
    assert validate_autocomplete_result({}) is not None


async def test_a_member_context_menu_opens_a_modal_that_can_be_submitted(
    fake: FakeDiscord, bot: MiniBot
) -> None:
    handle = await fake.send_user_command("Note on", user=ALICE, target=BOB)
    opened = await handle.first_response()
    assert opened["type"] == 9
    assert [m.id for m in bot.targets] == [BOB.id]
    text_id = opened["data"]["components"][0]["components"][0]["custom_id"]
    mood_id = opened["data"]["components"][1]["component"]["custom_id"]
    with pytest.raises(ValueError, match="will not submit without"):
        await fake.send_modal_submit(handle, {mood_id: "ok"})
    with pytest.raises(ValueError, match="must be 0-5 characters"):
        await fake.send_modal_submit(handle, {text_id: "hi", mood_id: "grumpy"})
    submitted = await fake.send_modal_submit(handle, {text_id: "hello", mood_id: "calm"})
    assert (await submitted.final_message())["content"] == "hello (calm)"
    with pytest.raises(ValueError, match="opened no modal"):
        await fake.send_modal_submit(submitted, {})
    with pytest.raises(LookupError):
        await fake.send_user_command("Nope", user=ALICE, target=BOB)


def test_a_modal_beyond_discords_limits_is_refused() -> None:
    row = {"type": 1, "components": [{"type": 4, "custom_id": "t", "style": 1, "label": "L"}]}
    fine = {"custom_id": "m", "title": "t" * 45, "components": [row] * 5}
    assert validate_modal(fine) is None
    labelled = {"type": 18, "label": "L", "component": {"type": 4, "custom_id": "t", "style": 2}}
    assert validate_modal({**fine, "components": [labelled]}) is None
    for broken in (
        {**fine, "title": "t" * 46},
        {**fine, "custom_id": "m" * 101},
        {**fine, "components": [row] * 6},
        {**fine, "components": []},
        {**fine, "components": [{"type": 1, "components": [{"type": 2, "custom_id": "b"}]}]},
        {**fine, "components": [{**labelled, "label": "L" * 46}]},
        {
            **fine,
            "components": [{**labelled, "component": {**labelled["component"], "label": "x"}}],
        },
    ):
        refused = validate_modal(broken)
        assert refused is not None and refused["code"] == 50035, broken


def test_message_components_beyond_discords_limits_are_refused() -> None:
    def button(n: int, **extra: Any) -> dict[str, Any]:
        return {"type": 2, "style": 1, "custom_id": f"b{n}", "label": "Go", **extra}

    def row(*items: dict[str, Any]) -> dict[str, Any]:
        return {"type": 1, "components": list(items)}

    def check(*rows: dict[str, Any]) -> JSON | None:
        return validate_message_body(
            {"content": "x", "components": list(rows)}, has_files=False, creating=True
        )

    assert check(*[row(*[button(n) for n in range(5)])] * 5) is None
    assert (
        check(row({"type": 2, "style": 5, "url": "https://example.com", "label": "Link"})) is None
    )
    for broken in (
        [row(*[button(n) for n in range(6)])],
        [row(button(0))] * 6,
        [row()],
        [row(button(0, custom_id="c" * 101))],
        [row(button(0, label="l" * 81))],
        [row({"type": 3, "custom_id": "s", "options": []}, button(1))],
    ):
        refused = check(*broken)
        assert refused is not None and refused["code"] == 50035, broken


async def test_only_a_component_the_message_shows_can_be_pressed(
    fake: FakeDiscord, bot: MiniBot
) -> None:
    msg = await text_channel(bot).send("plain")
    with pytest.raises(ValueError, match="has no component 'ghost'"):
        await fake.send_component(message_id=msg.id, custom_id="ghost", user=ALICE)


def test_a_poll_beyond_discords_limits_is_refused() -> None:
    def poll(**changes: Any) -> JSON:
        fine: JSON = {
            "question": {"text": "q" * 300},
            "answers": [{"poll_media": {"text": "a" * 55}}] * 10,
            "duration": 768,
        }
        return {"content": "x", "poll": {**fine, **changes}}

    assert validate_message_body(poll(), has_files=False, creating=True) is None
    assert validate_message_body(poll(duration=1.0), has_files=False, creating=True) is None
    for broken in (
        poll(answers=[{"poll_media": {"text": "a"}}] * 11),
        poll(answers=[]),
        poll(answers=[{"poll_media": {"text": "a" * 56}}]),
        poll(question={"text": "q" * 301}),
        poll(duration=0),
        poll(duration=769),
        poll(duration=1.5),
    ):
        refused = validate_message_body(broken, has_files=False, creating=True)
        assert refused is not None and refused["code"] == 50035, broken


async def test_a_poll_counts_votes_and_ends_once(fake: FakeDiscord, bot: MiniBot) -> None:
    poll = discord.Poll(question="Which?", duration=dt.timedelta(hours=1))
    poll.add_answer(text="one")
    poll.add_answer(text="two")
    msg = await text_channel(bot).send(poll=poll)
    await fake.vote(user=ALICE, message_id=msg.id, answer_id=2)
    await fake.vote(user=BOB, message_id=msg.id, answer_id=2)
    await fake.vote(user=BOB, message_id=msg.id, answer_id=1)  # changes their vote
    with pytest.raises(ValueError, match="no answer 3"):
        await fake.vote(user=ALICE, message_id=msg.id, answer_id=3)
    ended = await msg.end_poll()
    assert ended.poll is not None and ended.poll.is_finalised()
    assert [(a.id, a.vote_count) for a in ended.poll.answers] == [(1, 1), (2, 1)]
    with pytest.raises(discord.HTTPException) as again:
        await msg.end_poll()
    assert again.value.status == 400
    with pytest.raises(ValueError, match="has ended"):
        await fake.vote(user=ALICE, message_id=msg.id, answer_id=1)


# --------------------------------------------------------------------------- files users send

#: A 1x1 PNG: real image bytes, so a byte-for-byte comparison means something.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5f6cd"
    "1c0000000049454e44ae426082"
)


def test_a_modal_with_a_file_upload_keeps_discords_limits() -> None:
    def upload(**fields: Any) -> JSON:
        return {"type": 18, "label": "Photo", "component": {"type": 19, **fields}}

    def modal(*fields: JSON) -> JSON:
        return {"custom_id": "m", "title": "Photos", "components": list(fields)}

    assert validate_modal(modal(upload(custom_id="p"))) is None
    assert validate_modal(modal(upload(custom_id="p", min_values=0, max_values=10))) is None
    assert validate_modal(modal(upload(custom_id="p", min_values=10, max_values=10))) is None
    # discord.py sends null for counts it was not given: Discord's defaults (1 and 1) apply.
    assert validate_modal(modal(upload(custom_id="p", min_values=None, max_values=None))) is None
    assert validate_modal(modal(upload(custom_id="p", required=False))) is None

    class Photos(discord.ui.Modal, title="Photos"):
        one: discord.ui.Label[Photos] = discord.ui.Label(
            text="Photo", component=discord.ui.FileUpload(custom_id="one")
        )
        many: discord.ui.Label[Photos] = discord.ui.Label(
            text="More", component=discord.ui.FileUpload(min_values=0, max_values=10)
        )

    assert validate_modal(Photos().to_dict()) is None

    for broken, path in (
        (upload(custom_id="p", max_values=11), "components.0.component.max_values"),
        (upload(custom_id="p", max_values=0), "components.0.component.max_values"),
        (upload(custom_id="p", min_values=11, max_values=10), "components.0.component.min_values"),
        (upload(custom_id="p", min_values=-1), "components.0.component.min_values"),
        (upload(custom_id="p", min_values=3, max_values=2), "components.0.component.min_values"),
        (upload(custom_id="p", min_values=2), "components.0.component.min_values"),  # max is 1
        (upload(), "components.0.component.custom_id"),
        (upload(custom_id=""), "components.0.component.custom_id"),
        (upload(custom_id="p" * 101), "components.0.component.custom_id"),
        (upload(custom_id="p", max_values="2"), "components.0.component.max_values"),
    ):
        refused = validate_modal(modal(broken))
        assert refused is not None and refused["code"] == 50035, broken
        errors = refused["errors"]
        for key in path.split("."):
            errors = errors[key]
        assert errors["_errors"], (broken, refused)
    # A file upload lives in a Label, never in an action row.
    in_row = {"type": 1, "components": [{"type": 19, "custom_id": "p"}]}
    refused = validate_modal(modal(in_row))
    assert refused is not None and refused["code"] == 50035


def test_user_attachment_is_what_discord_resolves(fake: FakeDiscord) -> None:
    png = fake.user_attachment(PNG, "cat.png")
    assert png["filename"] == "cat.png" and png["size"] == len(PNG)
    assert png["content_type"] == "image/png"
    assert (
        png["url"]
        == png["proxy_url"]
        == (f"{fake.base_url}/attachments/{CHANNEL}/{png['id']}/cat.png")
    )
    assert fake.user_attachment(b"x", "a.JPG")["content_type"] == "image/jpeg"
    assert fake.user_attachment(b"x", "a.jpeg")["content_type"] == "image/jpeg"
    assert fake.user_attachment(b"x", "a.gif")["content_type"] == "image/gif"
    assert fake.user_attachment(b"x", "a.txt")["content_type"].startswith("text/plain")
    assert "content_type" not in fake.user_attachment(b"x", "blob.unknownext")
    assert "content_type" not in fake.user_attachment(b"x", "README")
    given = fake.user_attachment(b"x", "blob", content_type="image/webp", channel_id=OTHER_CHANNEL)
    assert given["content_type"] == "image/webp" and f"/{OTHER_CHANNEL}/" in given["url"]
    assert int(png["id"]) < int(given["id"])  # fresh snowflakes
    # The old form still describes an attachment the bot cannot download.
    assert attachment_option("f", attachment_id=7, filename="a.png")["value"] == "7"
    option_ = attachment_option("f", attachment=png)
    assert option_["value"] == png["id"] and option_["_attachment"] == png
    with pytest.raises(TypeError):
        attachment_option("f")


async def test_a_slash_command_gets_the_file_a_user_attached(
    fake: FakeDiscord, bot: MiniBot
) -> None:
    received: asyncio.Queue[tuple[discord.Attachment, bytes]] = asyncio.Queue()

    @bot.tree.command(name="upload", description="Takes a file", guild=bot.guild_obj)
    async def upload(interaction: discord.Interaction, file: discord.Attachment) -> None:
        await received.put((file, await file.read()))
        await interaction.response.send_message(f"got {file.filename}", ephemeral=True)

    await bot.tree.sync(guild=bot.guild_obj)
    png = fake.user_attachment(PNG, "cat.png")
    handle = await fake.send_slash(
        "upload", user=ALICE, options=[attachment_option("file", attachment=png)]
    )
    assert (await handle.final_message())["content"] == "got cat.png"
    attachment, content = await asyncio.wait_for(received.get(), 5)
    assert isinstance(attachment, discord.Attachment)
    assert attachment.id == int(png["id"])
    assert (attachment.filename, attachment.size, attachment.content_type) == (
        "cat.png",
        len(PNG),
        "image/png",
    )
    assert content == PNG
    assert handle.payload["data"]["resolved"]["attachments"] == {png["id"]: png}
    # The fake's CDN answers with the file's content type.
    async with aiohttp.ClientSession() as session, session.get(png["url"]) as resp:
        assert resp.status == 200 and resp.headers["Content-Type"] == "image/png"
        assert await resp.read() == PNG

    notes = fake.user_attachment("héllo\n".encode(), "notes.txt")
    handle = await fake.send_slash(
        "upload", user=ALICE, options=[attachment_option("file", attachment=notes)]
    )
    assert (await handle.final_message())["content"] == "got notes.txt"
    attachment, content = await asyncio.wait_for(received.get(), 5)
    assert attachment.content_type is not None
    assert attachment.content_type.startswith("text/plain")
    assert content.decode() == "héllo\n"


async def test_a_modal_file_upload_reaches_the_bot_as_attachments(
    fake: FakeDiscord, bot: MiniBot
) -> None:
    received: asyncio.Queue[tuple[list[discord.Attachment], list[discord.Attachment], bytes]] = (
        asyncio.Queue()
    )

    class Photos(discord.ui.Modal, title="Photos"):
        photo: discord.ui.Label[Photos] = discord.ui.Label(
            text="Photo", component=discord.ui.FileUpload(custom_id="photo")
        )
        more: discord.ui.Label[Photos] = discord.ui.Label(
            text="More",
            component=discord.ui.FileUpload(
                custom_id="more", required=False, min_values=1, max_values=2
            ),
        )

        async def on_submit(self, interaction: discord.Interaction) -> None:
            assert isinstance(self.photo.component, discord.ui.FileUpload)
            assert isinstance(self.more.component, discord.ui.FileUpload)
            photos, more = self.photo.component.values, self.more.component.values
            content = await photos[0].read()
            await received.put((photos, more, content))
            await interaction.response.send_message(f"{len(photos) + len(more)}", ephemeral=True)

    @bot.tree.command(name="photos", description="Asks for photos", guild=bot.guild_obj)
    async def photos(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(Photos())

    await bot.tree.sync(guild=bot.guild_obj)
    handle = await fake.send_slash("photos", user=ALICE)
    opened = await handle.first_response()
    assert opened["type"] == 9 and opened["status"] == 200
    assert opened["data"]["components"][0]["component"]["type"] == 19

    cat = fake.user_attachment(PNG, "cat.png")
    dog = fake.user_attachment(b"GIF89a-dog", "dog.gif")
    bird = fake.user_attachment(b"\xff\xd8bird", "bird.jpg")
    with pytest.raises(ValueError, match=r"will not submit 'photo' with fewer than 1 files"):
        await fake.send_modal_submit(handle, {})
    with pytest.raises(ValueError, match=r"will not submit 'photo' with fewer than 1 files"):
        await fake.send_modal_submit(handle, {"photo": []})
    with pytest.raises(ValueError, match=r"'photo' takes at most 1 files in the client, not 2"):
        await fake.send_modal_submit(handle, {"photo": [cat, dog]})
    with pytest.raises(ValueError, match=r"'more' takes at most 2 files in the client, not 3"):
        await fake.send_modal_submit(handle, {"photo": [cat], "more": [cat, dog, bird]})
    with pytest.raises(ValueError, match=r"takes a list of attachments"):
        await fake.send_modal_submit(handle, {"photo": "cat.png"})
    assert len(fake.interactions) == 1  # nothing refused was sent

    submitted = await fake.send_modal_submit(handle, {"photo": [cat]})
    assert (await submitted.final_message())["content"] == "1"
    photos_, more, content = await asyncio.wait_for(received.get(), 5)
    assert content == PNG
    assert more == []  # not required: may be left empty
    [photo] = photos_
    assert isinstance(photo, discord.Attachment)
    assert (photo.id, photo.filename, photo.size, photo.content_type) == (
        int(cat["id"]),
        "cat.png",
        len(PNG),
        "image/png",
    )
    data = submitted.payload["data"]
    assert data["components"][0] == {
        "type": 18,
        "component": {"type": 19, "custom_id": "photo", "values": [cat["id"]]},
    }
    assert data["components"][1]["component"]["values"] == []
    assert data["resolved"] == {"attachments": {cat["id"]: cat}}

    # Several files, across both uploads, each reaching its own FileUpload.
    second = await fake.send_slash("photos", user=BOB)
    await second.first_response()
    submitted = await fake.send_modal_submit(second, {"photo": [bird], "more": [dog, cat]})
    assert (await submitted.final_message())["content"] == "3"
    photos_, more, content = await asyncio.wait_for(received.get(), 5)
    assert [a.filename for a in photos_] == ["bird.jpg"] and content == b"\xff\xd8bird"
    assert sorted(a.filename for a in more) == ["cat.png", "dog.gif"]
    assert [await a.read() for a in sorted(more, key=lambda a: a.filename)] == [
        PNG,
        b"GIF89a-dog",
    ]
