"""When a schedule's occasions fall: `every:<day|weekday|week|Nh> at:<HH:MM> timezone:<IANA>`.

Occasions are wall-clock times in the schedule's zone. A local time is turned into an instant
with `datetime.combine(day, t, tzinfo=zone)` (fold=0): a time skipped by a spring-forward change
is read with the offset before the change, so 02:30 fires at 03:30 by the new clock, once; a
time repeated by a fall-back change fires once, the first time. All instants handed out are
aware UTC datetimes.
"""

from __future__ import annotations

import difflib
import math
import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from bot.core.errors import Reason, Refused, Typed
from bot.store import Every


@dataclass(frozen=True)
class Recurrence:
    """A schedule's rule: which local days, which local times, in which zone."""

    every: Every
    hours: int | None  # N for Every.HOURS (1..24), else None
    at: time  # local time of day, naive, minute precision
    zone: str  # IANA name, already checked
    weekday: int | None  # for Every.WEEK: 0=Monday..6=Sunday, else None

    def __post_init__(self) -> None:
        # A rule read back from the database is trusted no more than one being built: a bad one
        # is a bug, not something a person typed, so it is a ValueError rather than a refusal.
        if (self.every is Every.HOURS) != (self.hours is not None):
            raise ValueError(f"hours={self.hours!r} does not fit every={self.every}")
        if self.hours is not None and not MIN_HOURS <= self.hours <= MAX_HOURS:
            raise ValueError(f"hours={self.hours} is outside {MIN_HOURS}..{MAX_HOURS}")
        if (self.every is Every.WEEK) != (self.weekday is not None):
            raise ValueError(f"weekday={self.weekday!r} does not fit every={self.every}")
        if self.weekday is not None and not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday={self.weekday} is outside 0..6")
        if self.at.tzinfo is not None or self.at.second or self.at.microsecond or self.at.fold:
            raise ValueError(f"at={self.at!r} must be naive, to the minute")
        if self.zone not in _names():
            raise ValueError(f"zone={self.zone!r} is not a known IANA name")


MIN_HOURS = 1
MAX_HOURS = 24

# Most occasions that `occasions_between` hands back: after a long outage only the newest matter.
MAX_MISSED = 1000

# The longest a name may be; the longest IANA name is about half of it.
MAX_ZONE_NAME = 64

# Offered first when the timezone option is still empty.
COMMON_ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Amsterdam",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Toronto",
    "America/Sao_Paulo",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Asia/Shanghai",
    "Australia/Sydney",
    "Pacific/Auckland",
)

# ASCII digits only: `str.isdigit` also accepts "²" and "٣", which int() reads differently or
# not at all.
_HOURS = re.compile(r"([0-9]{1,2})h")
_AT = re.compile(r"([0-9]{1,2}):([0-9]{2})")
# What an IANA name can contain. Checked before any lookup, so nothing like "../etc" ever
# reaches ZoneInfo, which would read it as a path.
_ZONE_CHARS = re.compile(r"[A-Za-z0-9/_+\-]+")
# "localtime" is this host's own setting and "Factory" a placeholder: neither names a place.
_NOT_ZONES = frozenset({"localtime", "Factory"})
# The areas of the IANA database; a city's name under one of them is the one to suggest.
_AREAS = frozenset(
    {
        "Africa",
        "America",
        "Antarctica",
        "Arctic",
        "Asia",
        "Atlantic",
        "Australia",
        "Europe",
        "Indian",
        "Pacific",
    }
)

# Local dates scanned by `next_occasion` around the date of `after`: a day before, because a
# local time near midnight on the previous date can fall after `after` in UTC, and nine after,
# because the sparsest rule (once a week) needs seven plus room for a DST shift.
_DAYS_BEFORE = 1
_DAYS_AFTER = 9


def parse_every(text: str) -> tuple[Every, int | None]:
    """`day`, `weekday`, `week` or `Nh` (N in 1..24), with N for the last; else Refused."""
    cleaned = text.strip().lower()
    if cleaned in (Every.DAY, Every.WEEKDAY, Every.WEEK):
        return Every(cleaned), None
    match = _HOURS.fullmatch(cleaned)
    if match is not None:
        hours = int(match[1])
        if MIN_HOURS <= hours <= MAX_HOURS:
            return Every.HOURS, hours
    raise Refused(Reason.EVERY_UNREADABLE, input=Typed(text))


def parse_at(text: str) -> time:
    """`HH:MM` or `H:MM`, 00:00..23:59, as a naive time; else Refused."""
    match = _AT.fullmatch(text.strip())
    if match is not None:
        hour, minute = int(match[1]), int(match[2])
        if hour <= 23 and minute <= 59:
            return time(hour, minute)
    raise Refused(Reason.AT_UNREADABLE, input=Typed(text))


def zone_named(name: str) -> ZoneInfo:
    """The zone of an IANA name, matched exactly or ignoring case; else Refused, with the
    closest name as a suggestion where there is one."""
    if 0 < len(name) <= MAX_ZONE_NAME and _ZONE_CHARS.fullmatch(name):
        canonical = name if name in _names() else _names_by_lower().get(name.lower())
        if canonical is not None:
            return ZoneInfo(canonical)
    suggestion = _closest_zone(name)
    if suggestion is None:
        raise Refused(Reason.UNKNOWN_TIMEZONE_NO_GUESS, zone=Typed(name))
    raise Refused(Reason.UNKNOWN_TIMEZONE, zone=Typed(name), suggestion=suggestion)


def zone_names_matching(prefix: str, limit: int = 25) -> list[str]:
    """IANA names containing `prefix` (ignoring case), those starting with it first; for an
    empty prefix, the common zones first."""
    if limit <= 0:
        return []
    # People type the space that the names spell as "_": "new york" finds America/New_York.
    needle = prefix.strip().lower().replace(" ", "_")
    names = sorted(_names())
    if not needle:
        common = [zone for zone in COMMON_ZONES if zone in _names()]
        rest = [zone for zone in names if zone not in common]
        return (common + rest)[:limit]
    starting = [zone for zone in names if zone.lower().startswith(needle)]
    inside = [zone for zone in names if needle in zone.lower() and zone not in starting]
    return (starting + inside)[:limit]


def recurrence(
    every: Every, hours: int | None, at: time, zone: str, *, starting: datetime
) -> Recurrence:
    """The rule for these choices; a weekly one repeats on the weekday of its first occasion
    at or after `starting`."""
    _require_aware(starting, "starting")
    weekday: int | None = None
    if every is Every.WEEK:
        tz = _zone(zone)
        today = starting.astimezone(tz).date()
        first = today if _instant(today, at, tz) >= starting else today + timedelta(days=1)
        weekday = first.weekday()
    return Recurrence(every=every, hours=hours, at=at, zone=zone, weekday=weekday)


def day_times(rec: Recurrence) -> list[time]:
    """The local times of day at which the rule fires, sorted."""
    if rec.hours is None:
        return [rec.at]
    # The grid starts over at `at` each day: every 5h at 08:00 is 08, 13, 18, 23 and (from the
    # day's start) 04, never 03 or 09 from carrying the previous day's steps over.
    start = rec.at.hour * 60 + rec.at.minute
    steps = math.ceil(24 / rec.hours)
    minutes = {(start + k * rec.hours * 60) % (24 * 60) for k in range(steps)}
    return [time(m // 60, m % 60) for m in sorted(minutes)]


def next_occasion(rec: Recurrence, after: datetime) -> datetime:
    """The first occasion strictly after `after`, in UTC."""
    _require_aware(after, "after")
    tz = _zone(rec.zone)
    first_day = after.astimezone(tz).date() - timedelta(days=_DAYS_BEFORE)
    days = [first_day + timedelta(days=n) for n in range(_DAYS_BEFORE + _DAYS_AFTER + 1)]
    # The smallest of all candidates, not the first found: around a DST change the local order
    # of times and the order of their instants need not agree.
    later = [moment for moment in _occasions_on(rec, days, tz) if moment > after]
    if not later:  # pragma: no cover - every rule fires within the scanned days
        raise RuntimeError(f"no occasion of {rec} within {_DAYS_AFTER} days of {after}")
    return min(later)


def occasions_between(rec: Recurrence, start: datetime, end: datetime) -> list[datetime]:
    """Every occasion in (start, end], in UTC, ascending; at most the newest MAX_MISSED."""
    _require_aware(start, "start")
    _require_aware(end, "end")
    if end <= start:
        return []
    tz = _zone(rec.zone)
    first_day = start.astimezone(tz).date() - timedelta(days=_DAYS_BEFORE)
    last_day = end.astimezone(tz).date() + timedelta(days=_DAYS_BEFORE)
    # Only the newest MAX_MISSED are kept, so after a very long outage scan no further back than
    # they can reach; the work stays bounded however long the bot was down.
    first_day = max(first_day, last_day - timedelta(days=_days_for(rec, MAX_MISSED)))
    days = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
    found = {moment for moment in _occasions_on(rec, days, tz) if start < moment <= end}
    return sorted(found)[-MAX_MISSED:]


def _occasions_on(rec: Recurrence, days: list[date], tz: ZoneInfo) -> list[datetime]:
    """The instants of the rule's local times on those of `days` the rule allows."""
    times = day_times(rec)
    return [_instant(day, t, tz) for day in days if _fires_on(rec, day) for t in times]


def _fires_on(rec: Recurrence, day: date) -> bool:
    """Whether the rule fires on this local date."""
    if rec.every is Every.WEEKDAY:
        return day.weekday() < 5
    if rec.every is Every.WEEK:
        return day.weekday() == rec.weekday
    return True


def _instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time (fold=0: see the module's docstring)."""
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def _days_for(rec: Recurrence, count: int) -> int:
    """Local days that surely hold `count` occasions of the rule."""
    per_week = {Every.DAY: 7, Every.HOURS: 7, Every.WEEKDAY: 5, Every.WEEK: 1}[rec.every]
    per_week *= len(day_times(rec))
    # Two weeks more, for occasions merged on DST-change days (and a day a zone skipped).
    return 7 * math.ceil(count / per_week) + 14


def _zone(name: str) -> ZoneInfo:
    """The zone of a name already checked (a stored rule's); a bug if it is not known."""
    if name not in _names():
        raise ValueError(f"{name!r} is not a known IANA name")
    return ZoneInfo(name)


def _require_aware(moment: datetime, what: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what}={moment!r} must be timezone-aware")


@cache
def _names() -> frozenset[str]:
    """The IANA names this installation knows (tzdata ships them where the system does not)."""
    return frozenset(zoneinfo.available_timezones() - _NOT_ZONES)


@cache
def _names_by_lower() -> dict[str, str]:
    """Each name's lower-case spelling to the name itself."""
    return {name.lower(): name for name in sorted(_names())}


@cache
def _names_by_city() -> dict[str, str]:
    """Each name's last part ("paris", "new_york"), lower-cased, to the name to suggest for it."""
    by_city: dict[str, str] = {}
    # Where several names end the same ("US/Eastern", "Canada/Eastern"; "America/Indianapolis",
    # "America/Indiana/Indianapolis"), prefer one under a geographic area, then the shorter.
    ranked = sorted(
        _names(), key=lambda name: (name.split("/")[0] not in _AREAS, name.count("/"), name)
    )
    for name in ranked:
        by_city.setdefault(name.rsplit("/", 1)[-1].lower(), name)
    return by_city


def _closest_zone(name: str) -> str | None:
    """The IANA name closest to `name`, by its whole spelling or by its last part."""
    # Past the limit it is not a mistyped name; and difflib's cost grows with the length.
    if len(name) > MAX_ZONE_NAME:
        return None
    typed = name.strip().lower().replace(" ", "_")
    # Something like "../etc" or "/etc/localtime" is a path, not a misspelt place: guessing one
    # would only mislead.
    if not _ZONE_CHARS.fullmatch(typed) or "" in typed.split("/"):
        return None
    city = typed.rsplit("/", 1)[-1]
    candidates: list[tuple[float, str]] = []
    for word, table in ((typed, _names_by_lower()), (city, _names_by_city())):
        for match in difflib.get_close_matches(word, table, n=1):
            score = difflib.SequenceMatcher(None, word, match).ratio()
            candidates.append((score, table[match]))
    if not candidates:
        return None
    # The better score wins; on a tie, the whole-name match, which came first.
    return max(candidates, key=lambda candidate: candidate[0])[1]
