"""Task durations as people type them, and as the bot writes them back."""

from __future__ import annotations

import pytest

from bot.core.durations import format_duration, format_span, parse_duration, parse_span
from bot.core.errors import Reason, Refused, Typed
from tests.core_env import refused


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("1h30m", 5400),
        ("2h", 7200),
        ("45", 2700),
        ("1", 60),
        ("60s", 60),
        ("1m30s", 90),
        ("0h1m", 60),
        ("24h", 86_400),
        ("1440", 86_400),
        ("23h59m60s", 86_400),
        (" 1h 30m ", 5400),
        ("1H30M", 5400),
    ],
)
def test_parse_duration_accepts(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


UNREADABLE = Reason.DURATION_UNREADABLE
OUT_OF_RANGE = Reason.DURATION_OUT_OF_RANGE


@pytest.mark.parametrize(
    ("text", "reason", "duration"),
    [
        ("", UNREADABLE, None),
        ("   ", UNREADABLE, None),
        ("0", OUT_OF_RANGE, "0s"),
        ("59s", OUT_OF_RANGE, "59s"),
        ("0m59s", OUT_OF_RANGE, "59s"),
        ("1441", OUT_OF_RANGE, "24h 1m"),
        ("24h1s", OUT_OF_RANGE, "24h 1s"),
        ("25h", OUT_OF_RANGE, "25h"),
        ("1.5h", UNREADABLE, None),
        ("-5", UNREADABLE, None),
        ("+5", UNREADABLE, None),
        ("soon", UNREADABLE, None),
        ("15x", UNREADABLE, None),
        ("m", UNREADABLE, None),
        ("h30", UNREADABLE, None),
        ("30s1m", UNREADABLE, None),
        ("1m30", UNREADABLE, None),
        ("2 hours", UNREADABLE, None),
        ("1h-30m", UNREADABLE, None),
    ],
)
def test_parse_duration_refuses(text: str, reason: Reason, duration: str | None) -> None:
    # An unreadable duration has no `duration` parameter: there is nothing to say it came to.
    with refused(reason, input=Typed(text), duration=duration):
        parse_duration(text)


def test_parse_duration_out_of_range_message_says_why() -> None:
    # The refusal names what was typed and what it came to, for "between 1 minute and 24 hours".
    with refused(Reason.DURATION_OUT_OF_RANGE, input=Typed("25h"), duration="25h") as caught:
        parse_duration("25h")
    assert set(caught.value.params) == {"input", "duration"}


def test_parse_duration_range_is_one_minute_to_a_day_inclusive() -> None:
    for below in ("59s", "0m59s"):
        with refused(Reason.DURATION_OUT_OF_RANGE, input=Typed(below), duration="59s"):
            parse_duration(below)
    assert parse_duration("60s") == 60
    assert parse_duration("1m") == 60
    assert parse_duration("24h") == 86_400
    assert parse_duration("86400s") == 86_400
    assert parse_duration(format_duration(86_400)) == 86_400
    with refused(Reason.DURATION_OUT_OF_RANGE, input=Typed("24h1s"), duration="24h 1s"):
        parse_duration("24h1s")


# `str.isdigit` accepts "²" (which int() refuses) and int() refuses more than 4300 digits: both
# must be refused as unreadable, not crash.
@pytest.mark.parametrize(
    "text",
    ["²", "1" * 5000, "9" * 5000 + "h"],
    ids=["superscript", "5000-digits", "5000-digit-hours"],
)
def test_parse_duration_refuses_odd_digit_strings(text: str) -> None:
    with refused(Reason.DURATION_UNREADABLE, input=Typed(text)):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (59, "59s"),
        (60, "1m"),
        (90, "1m 30s"),
        (3600, "1h"),
        (3661, "1h 1m 1s"),
        (5400, "1h 30m"),
        (86_400, "24h"),
    ],
)
def test_format_duration(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [60, 61, 90, 599, 3600, 3601, 5400, 86_399, 86_400])
def test_format_duration_reads_back(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


def test_spans_read_in_days_and_hours() -> None:
    assert format_span(60) == "1m"
    assert format_span(86_400) == "1d"
    assert format_span(93_600) == "1d 2h"
    assert format_span(604_800) == "7d"
    assert parse_span("1d2h") == 93_600
    with pytest.raises(Refused) as caught:
        parse_span("8d")
    assert caught.value.params["longest"] == "7d"
