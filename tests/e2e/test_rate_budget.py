"""Chaster's rate limit spent well, end to end: status lookups from the state view, a person's
command never stuck behind another server's burst, and a person told when the limit will hold
their command long. (A sweep noticing a change without webhooks, with the bot in its own
process, is in test_durability.py.)

The fake Chaster enforces a real limit here, so a request the bot let through too early would
come back as a 429, and every test checks that none did.
"""

from __future__ import annotations

from tests.e2e.conftest import GUILD, KEYHOLDER, WEARER, World
from tests.fakes.discord import FakeUser, user_option

OTHER_GUILD = 1600
OTHER_CHANNEL = 2600


async def link_wearers(world: World, count: int) -> list[FakeUser]:
    """`count` more wearers of this server, each linked to a lock KEYHOLDER holds, straight in
    the store (linking them by command is tested elsewhere)."""
    wearers = []
    for index in range(count):
        wearer = FakeUser(7000 + index, f"wearer-{index}")
        world.discord.members[wearer.id] = wearer
        world.discord.users[wearer.id] = wearer
        session = world.chaster.add_session(
            wearer_discord_id=str(wearer.id), keyholder_discord_id=str(KEYHOLDER.id)
        )
        await world.store.create_link(
            guild_id=GUILD,
            wearer_id=wearer.id,
            keyholder_id=KEYHOLDER.id,
            chaster_session_id=session.session_id,
            lock_id=session.lock_id,
            now=world.clock.now(),
            keyholder_is_lock_keyholder=True,
        )
        wearers.append(wearer)
    return wearers


async def test_a_hundred_status_lookups_spend_nothing_and_a_link_elsewhere_goes_at_once(
    world: World,
) -> None:
    # Chaster's documented limit, enforced: 100 requests a minute.
    world.chaster.rate_limit = 100
    world.chaster.rate_window = 60.0
    wearers = await link_wearers(world, 100)
    report = await world.core.sweep.run()  # as the poller's rounds keep the states fresh
    assert report.requests == 1
    await world.bot.tree.sync()  # a deployment in several servers has global commands
    await world.discord.join_other_server(
        OTHER_GUILD, OTHER_CHANNEL, members=everyone_but_the_bot(world)
    )
    lock_elsewhere = world.session()
    before = len(world.chaster.calls)

    lookups = [
        await world.command("task", KEYHOLDER, "status", wearer=wearer) for wearer in wearers
    ]
    link = await world.discord.send_slash(
        "link",
        user=KEYHOLDER,
        options=[user_option("wearer", WEARER)],
        channel_id=OTHER_CHANNEL,
        guild_id=OTHER_GUILD,
    )
    answers = [await lookup.final_message() for lookup in lookups]
    assert all(str(a["content"]).startswith("**<@") for a in answers), answers[0]
    assert all("As read from Chaster" in str(a["content"]) for a in answers)
    # Within the fake's default 5 s: a link queued behind a full window would wait a minute.
    linked = await link.final_message()
    assert str(linked["content"]).startswith("Linked"), linked
    links = await world.store.open_links_for_session(lock_elsewhere.session_id)
    assert [link.guild_id for link in links] == [OTHER_GUILD]
    # The lookups spent no request; the link its own search (two pages of 100).
    assert [call.path for call in world.chaster.calls[before:]] == [
        "/api/extensions/sessions/search"
    ] * 2
    assert world.chaster.throttled == 0


async def test_a_person_is_told_when_chasters_limit_will_hold_their_command_long(
    world: World,
) -> None:
    # One request per 12 s: the lookup below waits for the window to clear.
    world.chaster.rate_limit = 1
    world.chaster.rate_window = 12.0
    await world.link()
    lookup = await world.command("task", KEYHOLDER, "status", wearer=WEARER)
    notice = await world.discord.wait_until(
        lambda: next((r for r in lookup.responses() if r["kind"] == "edit_original"), None),
        timeout=5,
        what="the rate-limit notice",
    )
    assert "Chaster's rate limit is full right now" in str(notice["body"]["content"])
    answer = await world.discord.wait_until(
        lambda: next((r for r in lookup.responses() if r["kind"] == "followup"), None),
        timeout=20,
        what="the answer after the wait",
    )
    assert str(answer["body"]["content"]).startswith(f"**<@{WEARER.id}>**")
    assert world.chaster.throttled == 0


def everyone_but_the_bot(world: World) -> list[FakeUser]:
    """The server's people, members of the other server too (as people are of several)."""
    return [m for m in world.discord.members.values() if not m.bot]
