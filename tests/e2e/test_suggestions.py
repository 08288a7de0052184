"""Autocomplete of /task assign's duration: suggestions, the typed value read back in words in
the person's language, and what is wrong with a value that cannot be read. Answered by the bot
alone, with no Chaster request."""

from __future__ import annotations

import dataclasses

from tests.e2e.conftest import KEYHOLDER, WEARER, World
from tests.fakes.discord import OPTION_STRING, FakeUser, option, user_option


async def choices(world: World, typed: str, user: FakeUser = KEYHOLDER) -> list[tuple[str, str]]:
    handle = await world.discord.send_autocomplete(
        "task",
        user=user,
        subcommand="assign",
        focused="duration",
        options=[user_option("wearer", WEARER), option("duration", typed, OPTION_STRING)],
    )
    answer = await handle.first_response()
    assert answer["type"] == 8, answer
    return [(c["name"], c["value"]) for c in answer["data"]["choices"]]


async def test_before_anything_is_typed_it_suggests_common_durations(world: World) -> None:
    got = await choices(world, "")
    assert got[:3] == [
        ("15m → 15 minutes", "15m"),
        ("30m → 30 minutes", "30m"),
        ("1h → 1 hour", "1h"),
    ]
    assert [value for _, value in got] == ["15m", "30m", "1h", "2h", "6h", "12h", "24h"]
    assert world.chaster.calls == []


async def test_what_is_typed_is_read_back_in_words_then_suggestions_that_begin_with_it(
    world: World,
) -> None:
    assert await choices(world, "1h30m") == [("1h30m → 1 hour 30 minutes", "1h30m")]
    got = await choices(world, "1")
    # A bare number is minutes.
    assert got[0] == ("1 → 1 minute", "1")
    assert [value for _, value in got[1:]] == ["15m", "1h", "12h"]


async def test_a_value_that_cannot_be_read_says_why(world: World) -> None:
    # The refusal the command itself would give, cut to Discord's 100 characters.
    [(name, value)] = await choices(world, "soon")
    assert value == "soon"
    refusal = (
        "I can't read the duration `soon`: use forms like `90s`, `15m`, `1h30m`, `2h`, or a "
        "number of minutes."
    )
    assert name == refusal[:99] + "…"
    [(name, value)] = await choices(world, "25h")
    assert (name, value) == (
        "A timed task must last between 1 minute and 24 hours; `25h` is 25h.",
        "25h",
    )


async def test_the_reading_is_in_the_persons_language(world: World) -> None:
    french = dataclasses.replace(KEYHOLDER, locale="fr")
    assert (await choices(world, "90m", user=french))[0] == ("90m → 1 heure 30 minutes", "90m")
