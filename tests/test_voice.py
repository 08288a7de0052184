"""The Discord side's words: the core's codes and parameters rendered from the catalogue."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core.errors import (
    Channel,
    Codes,
    Consequence,
    Permissions,
    Person,
    Phrase,
    Reason,
    Refused,
    TaskText,
    Trouble,
    Typed,
)
from bot.core.text import NO_DESCRIPTION
from bot.discord_side.voice import Voice, quotable
from bot.store import LinkRequestState, TaskState

MOMENT = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
STAMP = int(MOMENT.timestamp())


def test_a_refusal_reads_as_it_always_has_in_english() -> None:
    refusal = Refused(Reason.ALREADY_LINKED, wearer=Person(42))
    assert Voice("en").refusal(refusal) == "<@42> is already linked here. Use /unlink first."


def test_a_moment_is_a_discord_timestamp_in_the_requested_style() -> None:
    voice = Voice("en")
    assert voice.refusal(Refused(Reason.TIMER_RUNNING, at=MOMENT)) == (
        f"The timer is still running; it ends <t:{STAMP}:R>."
    )
    assert voice.text("feed.timer.ends", at=MOMENT) == f"Ends <t:{STAMP}:R> (<t:{STAMP}:t>)"


def test_a_missing_moment_leaves_nothing_in_its_place() -> None:
    assert Voice("en").refusal(Refused(Reason.TIMER_ALREADY_STARTED, at=None)) == (
        "The timer has already been started; it ends ."
    )


@pytest.mark.parametrize("typed", ["a`b", "`", "``x`", "1`h30m"])
def test_quoted_input_with_odd_backticks_keeps_its_quote_intact(typed: str) -> None:
    refusal = Refused(Reason.DURATION_UNREADABLE, input=Typed(typed))
    text = Voice("en").refusal(refusal)
    # The message's own quotes stay paired: the input's backticks cannot end one early.
    assert text.count("`") % 2 == 0, text
    assert f"`{typed.replace('`', chr(39))}`" in text


def test_quoted_input_is_cut_and_keeps_to_one_line() -> None:
    assert quotable("  a\nb\tc  ") == "a b c"
    assert quotable("x" * 100) == "x" * 40
    assert quotable("x" * 100, 80) == "x" * 80
    assert quotable("evil\u202etxt") == "evil\ufffdtxt"


def test_nested_phrases_and_states_are_worded_in_the_same_language() -> None:
    refusal = Refused(
        Reason.CHASTER_UNAVAILABLE,
        trouble=Phrase(Trouble.SERVER_ERROR, {"status": 502, "message": "Bad Gateway"}),
        consequence=Phrase(Consequence.NOTHING_ASSIGNED, {}),
    )
    assert Voice("en").refusal(refusal) == (
        "Chaster is having trouble (HTTP 502: Bad Gateway); nothing was assigned. "
        "Try again in a moment."
    )
    french = Voice("fr").refusal(refusal)
    assert "Bad Gateway" in french and "502" in french
    assert "nothing was assigned" not in french
    assert Voice("en").refusal(Refused(Reason.TASK_CLOSED, state=TaskState.TIMER_RUNNING)) == (
        "This task is already timer running."
    )
    assert Voice("en").refusal(
        Refused(Reason.LINK_REQUEST_RESOLVED, state=LinkRequestState.CANCELLED)
    ) == ("This link request is cancelled.")


def test_lists_of_codes_permissions_and_channels() -> None:
    voice = Voice("en")
    assert voice.refusal(
        Refused(Reason.SEVERAL_SESSIONS, wearer=Person(7), sessions=Codes(("a1", "b2")))
    ) == ("<@7> has several locked sessions (`a1`, `b2`): pass `session_id`.")
    assert voice.refusal(
        Refused(
            Reason.FEED_CHANNEL_UNUSABLE,
            channel=Channel(9),
            permissions=Permissions(("send_messages", "add_reactions")),
        )
    ) == (
        "I can't run the task feed in <#9>: I need permission to send messages, add "
        "reactions there. Give me that, or pick another channel."
    )


def test_a_task_without_text_gets_the_catalogues_placeholder() -> None:
    english = Voice("en")
    assert english.task_text(NO_DESCRIPTION) == "(no description)"
    assert english.task_text("Kneel") == "Kneel"
    assert Voice("de").task_text(NO_DESCRIPTION) != NO_DESCRIPTION
    refusal = Refused(
        Reason.OPEN_TASK_EXISTS,
        wearer=Person(1),
        task=TaskText("Kneel"),
        state=TaskState.ASSIGNED,
    )
    assert english.refusal(refusal) == (
        "<@1> already has an open task: “Kneel” (assigned). Complete or fail it first."
    )


def test_an_unknown_language_speaks_english() -> None:
    assert Voice("xx").language == "en"
