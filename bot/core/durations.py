"""Durations as people type them: `90s`, `15m`, `1h30m`, `2h`, `2d`, or a bare number of
minutes; for a timed task (up to 24 hours) and for deadlines and the like (up to 7 days)."""

from __future__ import annotations

import re

from bot.core.errors import Reason, Refused, Typed

# Chaster's range for a timed task.
MIN_DURATION_SECONDS = 60
MAX_DURATION_SECONDS = 86_400
# The range of a deadline, a reminder's lead and a consequence's amount: 1 minute to 7 days.
MIN_SPAN_SECONDS = 60
MAX_SPAN_SECONDS = 7 * 86_400

# What the duration option offers before anything is typed.
SUGGESTED_DURATIONS = ("15m", "30m", "1h", "2h", "6h", "12h", "24h")
# And for a deadline, a reminder's lead or a consequence's amount.
SUGGESTED_SPANS = ("15m", "30m", "1h", "2h", "6h", "12h", "1d", "2d", "7d")

# ASCII digits only, and few of them: `str.isdigit` also accepts "²", and int() refuses huge
# strings. Anything over 7 days is refused anyway.
_MINUTES = re.compile(r"[0-9]{1,6}")
_UNITS = re.compile(
    r"(?:(?P<d>[0-9]{1,4})d)?(?:(?P<h>[0-9]{1,6})h)?(?:(?P<m>[0-9]{1,6})m)?(?:(?P<s>[0-9]{1,6})s)?"
)


def parse_duration(text: str) -> int:
    """Seconds in `text`, which must come to 60..86400; raises Refused with the reason."""
    seconds = _seconds(text)
    if not MIN_DURATION_SECONDS <= seconds <= MAX_DURATION_SECONDS:
        raise Refused(
            Reason.DURATION_OUT_OF_RANGE, input=Typed(text), duration=format_duration(seconds)
        )
    return seconds


def parse_span(text: str) -> int:
    """Seconds in `text` (a deadline, a reminder's lead, a consequence's amount: the same
    syntax as a duration), which must come to 1 minute..7 days; raises Refused."""
    seconds = _seconds(text)
    if not MIN_SPAN_SECONDS <= seconds <= MAX_SPAN_SECONDS:
        raise Refused(
            Reason.SPAN_OUT_OF_RANGE,
            input=Typed(text),
            duration=format_span(seconds),
            shortest=format_span(MIN_SPAN_SECONDS),
            longest=format_span(MAX_SPAN_SECONDS),
        )
    return seconds


def optional_span(text: str | None) -> int | None:
    """`parse_span` of an option that may be left empty."""
    return parse_span(text) if text is not None and text.strip() else None


def _seconds(text: str) -> int:
    cleaned = text.strip().lower().replace(" ", "")
    if _MINUTES.fullmatch(cleaned):
        return int(cleaned) * 60
    match = _UNITS.fullmatch(cleaned)
    if not cleaned or match is None:
        raise Refused(Reason.DURATION_UNREADABLE, input=Typed(text))
    days, hours = int(match["d"] or 0), int(match["h"] or 0)
    return (days * 24 + hours) * 3600 + int(match["m"] or 0) * 60 + int(match["s"] or 0)


def format_span(seconds: int) -> str:
    """A deadline or the like, which may run to days: `93600` -> `1d 2h`, `604800` -> `7d`."""
    days, rest = divmod(seconds, 86_400)
    if not days:
        return format_duration(seconds)
    return f"{days}d {format_duration(rest)}" if rest else f"{days}d"


def format_duration(seconds: int) -> str:
    """`5400` -> `1h 30m`; `90` -> `1m 30s`: the units people type, in every language."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{value}{unit}" for value, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if value
    ]
    return " ".join(parts) or "0s"
