"""Task durations as people type them: `90s`, `15m`, `1h30m`, `2h`, or a bare number of minutes."""

from __future__ import annotations

import re

from bot.core.errors import Reason, Refused, Typed

# Chaster's range for a timed task.
MIN_DURATION_SECONDS = 60
MAX_DURATION_SECONDS = 86_400

# What the duration option offers before anything is typed.
SUGGESTED_DURATIONS = ("15m", "30m", "1h", "2h", "6h", "12h", "24h")

# ASCII digits only, and few of them: `str.isdigit` also accepts "²", and int() refuses huge
# strings. Anything over 24 hours is refused anyway.
_MINUTES = re.compile(r"[0-9]{1,6}")
_UNITS = re.compile(r"(?:(?P<h>[0-9]{1,6})h)?(?:(?P<m>[0-9]{1,6})m)?(?:(?P<s>[0-9]{1,6})s)?")


def parse_duration(text: str) -> int:
    """Seconds in `text`, which must come to 60..86400; raises Refused with the reason."""
    cleaned = text.strip().lower().replace(" ", "")
    if _MINUTES.fullmatch(cleaned):
        seconds = int(cleaned) * 60
    else:
        match = _UNITS.fullmatch(cleaned)
        if not cleaned or match is None:
            raise Refused(Reason.DURATION_UNREADABLE, input=Typed(text))
        seconds = int(match["h"] or 0) * 3600 + int(match["m"] or 0) * 60 + int(match["s"] or 0)
    if not MIN_DURATION_SECONDS <= seconds <= MAX_DURATION_SECONDS:
        raise Refused(
            Reason.DURATION_OUT_OF_RANGE, input=Typed(text), duration=format_duration(seconds)
        )
    return seconds


def format_duration(seconds: int) -> str:
    """`5400` -> `1h 30m`; `90` -> `1m 30s`: the units people type, in every language."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{value}{unit}" for value, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if value
    ]
    return " ".join(parts) or "0s"
