"""/link and /unlink end to end: direct links, search, consent requests and refusals."""

from __future__ import annotations

from tests.e2e.conftest import ADMIN, CHANNEL, KEYHOLDER, STRANGER, WEARER, FakeUser, World

CONFIRM = "✅"
# A Discord user who is not a member of the server.
OUTSIDER = FakeUser(7777, "outsider")


async def test_keyholder_links_at_once_and_can_assign(world: World) -> None:
    session = world.session()
    handle = await world.command("link", KEYHOLDER, wearer=WEARER, session_id=session.session_id)
    message = await handle.final_message()
    assert message["content"] == (
        "Linked <@5002> (“Keyholder lock”). <@5001> is their keyholder here."
    )
    # Linked at once: no consent request in the channel.
    assert world.discord.bot_messages(CHANNEL) == []
    await world.assign()
    assert session.current_task is not None


async def test_link_without_session_id_searches_every_page(world: World) -> None:
    # 120 locked sessions of other wearers come first in Chaster's pagination order (the fake
    # orders by creation), so the wearer's session is only on the second page of 100.
    for index in range(120):
        world.chaster.add_session(
            wearer_discord_id=str(9_100_000 + index), keyholder_discord_id=str(KEYHOLDER.id)
        )
    world.session(status="unlocked")  # an ended lock of the wearer is not a candidate
    mine = world.session()
    text = await world.reply("link", KEYHOLDER, wearer=WEARER)
    assert text.startswith("Linked <@5002>"), text

    searches = world.chaster_bodies("POST", "/sessions/search")
    assert len(searches) == 2, searches
    assert searches[0]["status"] == "locked"
    assert "paginationLastId" not in searches[0]
    assert searches[1]["paginationLastId"]
    # The link points at the right session: the task lands there.
    await world.assign(description="Found you")
    assert mine.current_task is not None
    assert mine.current_task["task"] == "Found you"


async def test_link_without_session_id_when_the_wearer_has_no_session(world: World) -> None:
    world.chaster.add_session(wearer_discord_id=str(STRANGER.id))
    text = await world.refusal("link", KEYHOLDER, wearer=WEARER)
    assert "found no locked Chaster session" in text, text


async def test_link_request_is_accepted_by_the_wearer_only(world: World) -> None:
    session = world.session()
    # ADMIN is not the lock's keyholder in Chaster: the wearer must consent.
    text = await world.reply("link", ADMIN, wearer=WEARER, session_id=session.session_id)
    assert "Asked <@5002> to confirm" in text, text
    [request] = world.discord.bot_messages(CHANNEL)
    assert request["content"].startswith("<@5002>, <@5004> wants to manage your Chaster tasks")
    assert [int(user["id"]) for user in request["mentions"]] == [WEARER.id]
    await world.wait_reactions(request["id"], [CONFIRM])

    # A stranger's ✅ is taken away and links nothing.
    await world.react(STRANGER, int(request["id"]), CONFIRM, CHANNEL)
    await world.wait_reaction_removed(request["id"], STRANGER, CONFIRM)
    assert "wants to manage" in world.discord.messages[int(request["id"])]["content"]
    assert "not linked" in await world.refusal("task", ADMIN, "status", wearer=WEARER)

    await world.react(WEARER, int(request["id"]), CONFIRM, CHANNEL)
    edited = await world.wait_edits(request["id"])
    assert edited["content"] == "<@5002> accepted: <@5004> is now their keyholder here."

    # The requester is now the keyholder of record; the Chaster keyholder is not. Chaster is
    # told the extension acted, not the lock's keyholder, who did not.
    feed = await world.assign(by=ADMIN, description="Consented task")
    assert any(f["value"] == "<@5004>" for f in feed["embeds"][0]["fields"])
    assert world.chaster_bodies("POST", "/tasks/assign")[-1]["actor"] == "extension"
    assert "Only <@5004>" in await world.refusal(
        "task", KEYHOLDER, "assign", wearer=WEARER, description="Mine", points=1
    )


async def test_link_request_expires_after_15_minutes(world: World) -> None:
    session = world.session()
    await world.reply("link", ADMIN, wearer=WEARER, session_id=session.session_id)
    [request] = world.discord.bot_messages(CHANNEL)
    await world.wait_reactions(request["id"], [CONFIRM])

    world.advance(15 * 60 + 1)
    await world.react(WEARER, int(request["id"]), CONFIRM, CHANNEL)
    await world.wait_reaction_removed(request["id"], WEARER, CONFIRM)
    notice = await world.discord.wait_until(
        lambda: next(
            (m for m in world.discord.bot_messages(CHANNEL) if m["id"] != request["id"]), None
        ),
        what="the expiry notice",
    )
    assert notice["content"].startswith("<@5002> ")
    assert "expired" in notice["content"]
    assert [int(user["id"]) for user in notice["mentions"]] == [WEARER.id]
    # (The bot may also mark the request as expired on its own; it never says accepted.)
    assert "accepted" not in world.discord.messages[int(request["id"])]["content"]
    assert "not linked" in await world.refusal("task", WEARER, "status")


async def test_link_refused_for_a_lock_of_another_discord_user(world: World) -> None:
    session = world.chaster.add_session(
        wearer_discord_id=str(STRANGER.id), keyholder_discord_id=str(KEYHOLDER.id)
    )
    text = await world.refusal("link", KEYHOLDER, wearer=WEARER, session_id=session.session_id)
    assert "belongs to someone else" in text, text
    assert "not linked" in await world.refusal("task", WEARER, "status")


async def test_link_refused_without_the_tasks_extension(world: World) -> None:
    session = world.session(tasks_extension=False)
    text = await world.refusal("link", KEYHOLDER, wearer=WEARER, session_id=session.session_id)
    assert "does not have the Tasks extension" in text, text
    assert "not linked" in await world.refusal("task", WEARER, "status")


async def test_link_refuses_a_malformed_session_id_without_calling_chaster(world: World) -> None:
    text = await world.refusal("link", KEYHOLDER, wearer=WEARER, session_id="../x")
    assert "not a Chaster session id" in text, text
    assert world.chaster.count_calls("GET", "/sessions/") == 0
    assert world.chaster.count_calls("POST", "/sessions/") == 0


async def test_link_refuses_an_unknown_session_id(world: World) -> None:
    text = await world.refusal("link", KEYHOLDER, wearer=WEARER, session_id="NoSuchSession123")
    assert "Chaster has no session" in text, text


async def test_link_refused_when_already_linked(world: World) -> None:
    await world.link()
    other = world.session()
    text = await world.refusal("link", KEYHOLDER, wearer=WEARER, session_id=other.session_id)
    assert "already linked" in text, text
    assert world.chaster.count_calls("GET", other.session_id) == 0


async def test_wearer_cannot_self_link_a_lock_that_has_a_keyholder(world: World) -> None:
    session = world.session()
    text = await world.refusal("link", WEARER, wearer=WEARER, session_id=session.session_id)
    assert "has a keyholder on Chaster" in text, text


async def test_unlink_by_a_stranger_is_refused(world: World) -> None:
    await world.link()
    text = await world.refusal("unlink", STRANGER, wearer=WEARER)
    assert "Only the wearer, their keyholder of record or a server manager" in text, text
    status = await world.reply("task", KEYHOLDER, "status", wearer=WEARER)
    assert status.startswith("**<@5002>** · keyholder <@5001>"), status


async def test_unlink_by_the_keyholder_or_the_wearer(world: World) -> None:
    for who in (KEYHOLDER, WEARER):
        await world.link()
        text = await world.reply("unlink", who, wearer=WEARER)
        assert text == "Unlinked <@5002>. Nothing was changed in Chaster.", text
        assert "not linked" in await world.refusal("task", KEYHOLDER, "status", wearer=WEARER)
    assert "not linked" in await world.refusal("unlink", KEYHOLDER, wearer=WEARER)


async def test_link_with_a_slow_chaster_answers_within_discords_deadline(world: World) -> None:
    world.session()
    world.chaster.latency = 4.0
    handle = await world.command("link", KEYHOLDER, wearer=WEARER)
    first = await handle.first_response()
    assert first["type"] == 5  # deferred: "thinking"
    assert not first["late"]
    assert first["at"] - handle.dispatched_at < 3
    final = await handle.final_message(timeout=15)
    assert final["content"].startswith("Linked <@5002>"), final
    assert final["at"] - handle.dispatched_at >= 4


async def test_link_without_session_id_refuses_when_the_wearer_has_several(world: World) -> None:
    first, second = world.session(), world.session()
    text = await world.refusal("link", KEYHOLDER, wearer=WEARER)
    assert "several locked sessions" in text, text
    assert first.session_id in text
    assert second.session_id in text
    assert "pass `session_id`" in text


async def test_consented_link_to_a_self_lock_assigns_as_the_extension(world: World) -> None:
    session = world.session(has_keyholder=False)
    await world.reply("link", ADMIN, wearer=WEARER, session_id=session.session_id)
    [request] = world.discord.bot_messages(CHANNEL)
    await world.wait_reactions(request["id"], [CONFIRM])
    await world.react(WEARER, int(request["id"]), CONFIRM, CHANNEL)
    await world.wait_edits(request["id"])
    await world.assign(by=ADMIN)
    # Chaster refuses actor "keyholder" on a lock without one.
    assert world.chaster_bodies("POST", "/tasks/assign")[-1]["actor"] == "extension"
    assert session.current_task is not None


async def test_link_to_a_user_who_is_not_a_member_is_refused_plainly(world: World) -> None:
    world.session()
    text = await world.refusal("link", KEYHOLDER, wearer=OUTSIDER)
    assert "is not a member of this server" in text, text
    assert "Something went wrong" not in text, text


async def test_accepting_a_request_after_someone_else_linked_is_refused(world: World) -> None:
    session = world.session()
    await world.reply("link", ADMIN, wearer=WEARER, session_id=session.session_id)
    [request] = world.discord.bot_messages(CHANNEL)
    await world.wait_reactions(request["id"], [CONFIRM])
    # Meanwhile the lock's own keyholder links the wearer directly.
    await world.reply("link", KEYHOLDER, wearer=WEARER, session_id=session.session_id)

    await world.react(WEARER, int(request["id"]), CONFIRM, CHANNEL)
    await world.wait_reaction_removed(request["id"], WEARER, CONFIRM)
    notice = await world.discord.wait_until(
        lambda: next(
            (
                m
                for m in world.discord.bot_messages(CHANNEL)
                if int(m["id"]) > int(request["id"]) and m["content"].startswith("<@5002> ")
            ),
            None,
        ),
        what="the refusal notice",
    )
    assert "already linked" in notice["content"], notice
    assert "accepted" not in world.discord.messages[int(request["id"])]["content"]
    status = await world.reply("task", KEYHOLDER, "status", wearer=WEARER)
    assert status.startswith("**<@5002>** · keyholder <@5001>"), status


async def test_link_request_that_cannot_be_posted_is_withdrawn(world: World) -> None:
    session = world.session()
    world.discord.fail("POST", rf"/channels/{CHANNEL}/messages", 403, 50013, "Missing Permissions")
    text = await world.refusal("link", ADMIN, wearer=WEARER, session_id=session.session_id)
    assert text.startswith("I can't post the link request in this channel"), text
    # Withdrawn: no request is left waiting (and expiring later) for a message nobody saw.
    assert await world.store.pending_link_requests() == []
    assert await world.store.get_open_link(world.discord.guild_id, WEARER.id) is None
