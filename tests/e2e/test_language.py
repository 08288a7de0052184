"""Four languages end to end: what only one person sees is in their Discord language, what the
server sees is in the server's (`/settings language`, or its preferred locale with `auto`),
and the slash commands' descriptions are localised while their names stay English."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest

from bot.discord_side.voice import Voice
from tests.e2e.conftest import (
    ADMIN,
    CHANNEL,
    COMPLETE,
    FEED,
    GUILD,
    KEYHOLDER,
    STRANGER,
    WEARER,
    ChannelRef,
    World,
    embed,
    fields,
)


def said(language: str, key: str, **params: Any) -> str:
    """What the catalogue says for `key` in `language`."""
    return Voice(language).text(key, **params)


async def test_a_french_server_gets_french_feed_messages(world: World) -> None:
    text = await world.reply("settings", ADMIN, "language", language="fr")
    # The reply is for the admin, whose Discord is in English.
    assert text == ("Task updates, pings and link requests in this server are now in Français."), (
        text
    )
    await world.link()
    feed = await world.assign(description="Tenir la planche")
    assert feed["content"] == said("fr", "feed.post.new", wearer=f"<@{WEARER.id}>")
    assert feed["content"] != f"<@{WEARER.id}>, a new task for you."
    shown = embed(feed)
    assert shown["title"] == "📋 " + said("fr", "feed.headline.assigned")
    assert shown["description"] == "Tenir la planche"
    assert set(fields(feed)) == {
        said("fr", key)
        for key in (
            "feed.field.wearer",
            "feed.field.assigned-by",
            "feed.field.points",
            "feed.field.kind",
        )
    }
    # A wearer's ✅ asks the keyholder in a public ping: French as well.
    await world.react(WEARER, int(feed["id"]), COMPLETE, CHANNEL)
    ping = await world.discord.wait_until(
        lambda: next(
            (
                m
                for m in world.discord.bot_messages(CHANNEL)
                if m.get("message_reference") and str(KEYHOLDER.id) in m["content"]
            ),
            None,
        ),
        what="the confirmation ping",
    )
    assert ping["content"].startswith(f"<@{KEYHOLDER.id}>, <@{WEARER.id}> ")
    assert "says they finished" not in ping["content"]


async def test_a_german_user_gets_german_refusals_in_an_english_server(world: World) -> None:
    await world.link()
    german_stranger = replace(STRANGER, locale="de")
    refusal = await world.refusal(
        "task", german_stranger, "assign", wearer=WEARER, description="x", points=1
    )
    assert refusal == said("de", "refusal.only-keyholder-assigns", keyholder=f"<@{KEYHOLDER.id}>")
    assert refusal != f"Only <@{KEYHOLDER.id}>, the keyholder, can assign tasks."
    # The public feed stays in the server's language (English here).
    feed = await world.assign()
    assert feed["content"] == f"<@{WEARER.id}>, a new task for you."
    # A German keyholder's own reply is German too.
    german_keyholder = replace(KEYHOLDER, locale="de")
    text = await world.reply("task", german_keyholder, "fail", wearer=WEARER)
    assert text == said("de", "reply.done.fail")


@pytest.mark.parametrize("locale", ["es-ES", "es-419"])
async def test_both_spanish_locales_get_spanish(world: World, locale: str) -> None:
    refusal = await world.refusal("task", replace(WEARER, locale=locale), "status")
    assert refusal == said("es", "refusal.not-linked-use-link", wearer=f"<@{WEARER.id}>")


async def test_a_locale_the_bot_does_not_speak_gets_english(world: World) -> None:
    refusal = await world.refusal("task", replace(WEARER, locale="ja"), "status")
    assert refusal == f"<@{WEARER.id}> is not linked to a Chaster lock here. Use /link first."


async def test_auto_follows_the_servers_language_in_discord(world: World) -> None:
    await world.discord.set_preferred_locale("de")
    # The gateway delivers events in order: once a later interaction is answered, the bot has
    # seen the server's new language.
    await world.refusal("task", WEARER, "status")
    guild = world.bot.get_guild(GUILD)
    assert guild is not None and guild.preferred_locale.value == "de"
    await world.link()
    feed = await world.assign()
    assert feed["content"] == said("de", "feed.post.new", wearer=f"<@{WEARER.id}>")
    # A chosen language wins over the server's locale; `auto` goes back to it.
    await world.reply("settings", ADMIN, "language", language="es")
    await world.reply("task", KEYHOLDER, "fail", wearer=WEARER)
    edited = world.discord.messages[int(feed["id"])]
    assert embed(edited)["title"] == "❌ " + said("es", "feed.headline.failed")
    text = await world.reply("settings", ADMIN, "language", language="auto")
    assert text == (
        "Task updates, pings and link requests in this server now follow the server's "
        "language in Discord (now Deutsch)."
    ), text
    second = await world.assign(description="Second")
    assert second["content"] == said("de", "feed.post.new", wearer=f"<@{WEARER.id}>")


async def test_only_a_server_manager_sets_the_language(world: World) -> None:
    world.discord.enforce_command_permissions = False  # as if an admin had opened the command
    refusal = await world.refusal("settings", KEYHOLDER, "language", language="fr")
    assert refusal == "You need the Manage Server permission to change the bot's settings."
    settings = await world.store.get_guild_settings(GUILD)
    assert settings.language == "auto"


def _commands(world: World) -> dict[str, dict[str, Any]]:
    return {command["name"]: command for command in world.discord.guild_commands[GUILD]}


async def test_commands_are_described_in_each_language_and_named_in_english(
    world: World,
) -> None:
    commands = _commands(world)
    assert set(commands) == {
        "link",
        "unlink",
        "task",
        "settings",
        "library",
        "schedule",
        "penalty",
        "pause",
        "resume",
        "notify",
        "stats",
        "proof",
        "Assign task",
    }
    # A member's context menu shows the entry's name itself: that one is in each language.
    menu = commands["Assign task"]
    assert menu["type"] == 2
    assert menu["name_localizations"]["de"] == said("de", "command.menu.assign")
    assert menu["name_localizations"]["es-419"] == said("es", "command.menu.assign")
    link = commands["link"]
    assert link["description"] == "Link a wearer's Chaster lock to this server."
    localized = link["description_localizations"]
    assert set(localized) == {"fr", "de", "es-ES", "es-419"}
    assert localized["es-ES"] == localized["es-419"] == said("es", "command.link")
    assert localized["fr"] == said("fr", "command.link")
    assert not link.get("name_localizations")
    task = commands["task"]
    assign = next(option for option in task["options"] if option["name"] == "assign")
    assert assign["description_localizations"]["de"] == said("de", "command.task.assign")
    wearer = next(option for option in assign["options"] if option["name"] == "wearer")
    assert wearer["description_localizations"]["fr"] == said("fr", "option.task.assign.wearer")
    assert not wearer.get("name_localizations")
    settings = commands["settings"]
    language = next(option for option in settings["options"] if option["name"] == "language")
    [choice_option] = language["options"]
    values = [choice["value"] for choice in choice_option["choices"]]
    assert values == ["auto", "en", "de", "es", "fr"]
    auto = choice_option["choices"][0]
    assert auto["name"] == "Automatic (the server's language)"
    assert auto["name_localizations"]["fr"] == said("fr", "choice.language.auto")


def _english_fragments() -> set[str]:
    """The English catalogue's wording: each message's text between placeholders, where it is
    long enough to be unmistakably English."""
    catalogue = Voice("en").catalogue
    fragments: set[str] = set()
    for message in catalogue.messages.values():
        for text in filter(None, (message.singular, message.plural)):
            for part in re.split(r"\{[^{}]*\}", text):
                part = part.strip(" .,;:()“”*·")
                if len(part) >= 12 and " " in part:
                    fragments.add(part)
    return fragments


def _texts(message: dict[str, Any]) -> list[str]:
    """Every text a message shows: its content and its embeds' words."""
    texts = [str(message.get("content") or "")]
    for shown in message.get("embeds") or []:
        texts += [str(shown.get("title", "")), str(shown.get("footer", {}).get("text", ""))]
        for field in shown.get("fields", []):
            texts += [str(field["name"]), str(field["value"])]
    return texts


async def test_in_a_french_server_with_french_members_nothing_is_said_in_english(
    world: World,
) -> None:
    french = {user.id: replace(user, locale="fr") for user in (KEYHOLDER, WEARER, ADMIN)}
    keyholder, wearer, admin = french[KEYHOLDER.id], french[WEARER.id], french[ADMIN.id]
    await world.reply("settings", admin, "language", language="fr")
    await world.reply("settings", admin, "feed", channel=ChannelRef(FEED))
    session = world.session()
    await world.reply("link", keyholder, wearer=WEARER, session_id=session.session_id)
    await world.refusal("link", keyholder, wearer=WEARER, session_id=session.session_id)
    await world.reply(
        "task", keyholder, "assign", wearer=WEARER, description="Planche", points=1, duration="2m"
    )
    feed = world.feed_messages()[-1]
    await world.refusal("task", wearer, "complete")  # the timer has not started
    await world.reply("task", wearer, "start")
    await world.refusal("task", wearer, "start")  # already started
    await world.reply("task", keyholder, "status", wearer=WEARER)
    await world.react(wearer, int(feed["id"]), COMPLETE, FEED)  # the timer is still running
    await world.wait_reaction_removed(feed["id"], WEARER, COMPLETE)
    world.advance(121)
    await world.discord.wait_until(
        lambda: any(
            "<@" in m["content"] for m in world.discord.bot_messages(FEED) if not m.get("embeds")
        ),
        what="the timer's ping",
    )
    await world.reply("task", wearer, "complete")  # asks the keyholder
    await world.react(keyholder, int(feed["id"]), COMPLETE, FEED)
    # Completed: the finished task's reactions are cleared.
    await world.discord.wait_for_call("DELETE", rf"/channels/\d+/messages/{feed['id']}/reactions")
    await world.reply("unlink", keyholder, wearer=WEARER)
    shown = [
        text
        for message in [
            *world.discord.messages.values(),
            *world.discord.ephemeral_messages.values(),
        ]
        if int(message["author"]["id"]) == world.discord.bot_user.id
        for text in _texts(message)
    ]
    assert len(shown) > 20
    english = _english_fragments()
    assert "is already linked here. Use /unlink first" in english
    said_in_english = sorted(
        {fragment for fragment in english for text in shown if fragment in text}
    )
    assert said_in_english == []
