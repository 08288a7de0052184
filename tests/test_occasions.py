"""When schedules fire: parsing `every`/`at`/`timezone`, and occasions across DST changes."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from typing import NoReturn
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core import occasions
from bot.core.errors import Reason, Refused, Typed
from bot.core.occasions import (
    COMMON_ZONES,
    MAX_MISSED,
    Every,
    Recurrence,
    day_times,
    next_occasion,
    occasions_between,
    parse_at,
    parse_every,
    recurrence,
    zone_named,
    zone_names_matching,
)

PARIS = "Europe/Paris"
NEW_YORK = "America/New_York"
LOS_ANGELES = "America/Los_Angeles"
TOKYO = "Asia/Tokyo"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def daily(at: time, zone: str) -> Recurrence:
    return Recurrence(every=Every.DAY, hours=None, at=at, zone=zone, weekday=None)


def every_hours(hours: int, at: time, zone: str) -> Recurrence:
    return Recurrence(every=Every.HOURS, hours=hours, at=at, zone=zone, weekday=None)


def weekdays(at: time, zone: str) -> Recurrence:
    return Recurrence(every=Every.WEEKDAY, hours=None, at=at, zone=zone, weekday=None)


def local_times(found: list[datetime], zone: str) -> list[str]:
    return [moment.astimezone(ZoneInfo(zone)).strftime("%m-%d %H:%M") for moment in found]


# --- parse_every ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("day", (Every.DAY, None)),
        ("  DAY ", (Every.DAY, None)),
        ("Weekday", (Every.WEEKDAY, None)),
        ("week", (Every.WEEK, None)),
        ("1h", (Every.HOURS, 1)),
        ("6h", (Every.HOURS, 6)),
        (" 12H ", (Every.HOURS, 12)),
        ("24h", (Every.HOURS, 24)),
        ("06h", (Every.HOURS, 6)),
    ],
)
def test_parse_every_accepts(text: str, expected: tuple[Every, int | None]) -> None:
    assert parse_every(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "0h",
        "25h",
        "100h",
        "h",
        "1.5h",
        "\u0663h",
        "²h",
        "-1h",
        "6",
        "6 h",
        "hours",
        "days",
    ],
)
def test_parse_every_refuses(text: str) -> None:
    with pytest.raises(Refused) as caught:
        parse_every(text)
    assert caught.value.reason is Reason.EVERY_UNREADABLE
    assert caught.value.params == {"input": Typed(text)}


# --- parse_at ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("08:00", time(8, 0)),
        ("8:05", time(8, 5)),
        ("00:00", time(0, 0)),
        ("23:59", time(23, 59)),
        (" 7:30 ", time(7, 30)),
    ],
)
def test_parse_at_accepts(text: str, expected: time) -> None:
    assert parse_at(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "8",
        "24:00",
        "12:60",
        "8:5",
        "08:000",
        "123:00",
        "\u0660\u0668:\u0660\u0660",
        "8h30",
        "12:30pm",
        "-1:00",
    ],
)
def test_parse_at_refuses(text: str) -> None:
    with pytest.raises(Refused) as caught:
        parse_at(text)
    assert caught.value.reason is Reason.AT_UNREADABLE
    assert caught.value.params == {"input": Typed(text)}


# --- zone_named ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        (PARIS, PARIS),
        ("UTC", "UTC"),
        ("europe/paris", PARIS),
        ("AMERICA/NEW_YORK", NEW_YORK),
        ("utc", "UTC"),
    ],
)
def test_zone_named_exact_and_ignoring_case(name: str, canonical: str) -> None:
    assert zone_named(name).key == canonical


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("Europe/Pariss", PARIS),
        ("paris", PARIS),
        ("Paris", PARIS),
        ("New York", NEW_YORK),
        ("new_york", NEW_YORK),
        ("Europe/Londn", "Europe/London"),
    ],
)
def test_zone_named_suggests(name: str, suggestion: str) -> None:
    with pytest.raises(Refused) as caught:
        zone_named(name)
    assert caught.value.reason is Reason.UNKNOWN_TIMEZONE
    assert caught.value.params == {"zone": Typed(name), "suggestion": suggestion}


def test_zone_named_without_a_guess() -> None:
    with pytest.raises(Refused) as caught:
        zone_named("zzzz-nothing")
    assert caught.value.reason is Reason.UNKNOWN_TIMEZONE_NO_GUESS
    assert caught.value.params == {"zone": Typed("zzzz-nothing")}


@pytest.mark.parametrize(
    "name",
    [
        "",
        "../etc",
        "../../etc/passwd",
        "/etc/localtime",
        "Europe/../../etc",
        "Europe\\Paris",
        "Europe/Paris\x00",
        "Europe/Paris ",
        "localtime",
        "A" * 65,
        "Europe/" + "x" * 100,
    ],
)
def test_zone_named_refuses_without_calling_zoneinfo(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(key: str) -> NoReturn:
        raise AssertionError(f"ZoneInfo({key!r}) was attempted")

    monkeypatch.setattr(occasions, "ZoneInfo", boom)
    with pytest.raises(Refused) as caught:
        zone_named(name)
    assert caught.value.reason in (Reason.UNKNOWN_TIMEZONE, Reason.UNKNOWN_TIMEZONE_NO_GUESS)
    assert caught.value.params["zone"] == Typed(name)


def test_path_like_names_get_no_guess() -> None:
    for name in ("../etc", "/etc/localtime", "Europe//Paris", "Europe/", "A" * 65):
        with pytest.raises(Refused) as caught:
            zone_named(name)
        assert caught.value.reason is Reason.UNKNOWN_TIMEZONE_NO_GUESS


# --- zone_names_matching -------------------------------------------------------------------


def test_zone_names_matching_empty_prefix_gives_common_ones_first() -> None:
    names = zone_names_matching("")
    assert len(names) == 25
    assert names[: len(COMMON_ZONES)] == list(COMMON_ZONES)
    assert len(set(names)) == len(names)
    assert zone_names_matching("", limit=3) == ["UTC", "Europe/London", "Europe/Paris"]


def test_zone_names_matching_starting_ones_first_then_containing() -> None:
    names = zone_names_matching("am", limit=600)
    starting = [name for name in names if name.lower().startswith("am")]
    inside = [name for name in names if not name.lower().startswith("am")]
    assert starting and inside
    assert names == sorted(starting) + sorted(inside)
    assert all("am" in name.lower() for name in names)
    assert len(zone_names_matching("am")) == 25


def test_zone_names_matching_ignores_case_and_reads_spaces_as_underscores() -> None:
    assert zone_names_matching("PARIS") == [PARIS]
    assert zone_names_matching("new york")[0] == NEW_YORK
    assert zone_names_matching("zzzz") == []
    assert zone_names_matching("europe", limit=0) == []


# --- recurrence and day_times --------------------------------------------------------------


def test_weekly_repeats_on_the_first_occasions_weekday() -> None:
    # Wednesday 2026-03-04; 08:00 in Paris (CET) is 07:00Z.
    ahead = recurrence(Every.WEEK, None, time(8), PARIS, starting=utc(2026, 3, 4, 6, 59))
    exactly = recurrence(Every.WEEK, None, time(8), PARIS, starting=utc(2026, 3, 4, 7, 0))
    passed = recurrence(Every.WEEK, None, time(8), PARIS, starting=utc(2026, 3, 4, 7, 1))
    assert ahead.weekday == exactly.weekday == 2  # Wednesday
    assert passed.weekday == 3  # Thursday

    found: list[datetime] = []
    moment = utc(2026, 3, 4, 6, 59)
    for _ in range(5):
        moment = next_occasion(ahead, moment)
        found.append(moment)
    # The same local time each Wednesday, across the change to summer time on 2026-03-29.
    assert found == [
        utc(2026, 3, 4, 7),
        utc(2026, 3, 11, 7),
        utc(2026, 3, 18, 7),
        utc(2026, 3, 25, 7),
        utc(2026, 4, 1, 6),
    ]


def test_weekly_weekday_is_the_local_one() -> None:
    # Sunday 2026-03-08 15:00Z is Monday 00:00 in Tokyo: the first 00:30 is on Monday there.
    rec = recurrence(Every.WEEK, None, time(0, 30), TOKYO, starting=utc(2026, 3, 8, 15))
    assert rec.weekday == 0
    assert next_occasion(rec, utc(2026, 3, 8, 15)) == utc(2026, 3, 8, 15, 30)


def test_recurrence_keeps_what_it_was_given() -> None:
    rec = recurrence(Every.HOURS, 6, time(8), PARIS, starting=utc(2026, 1, 1))
    assert rec == Recurrence(every=Every.HOURS, hours=6, at=time(8), zone=PARIS, weekday=None)


@pytest.mark.parametrize(
    ("every", "hours", "at", "zone", "weekday"),
    [
        (Every.HOURS, None, time(8), PARIS, None),
        (Every.HOURS, 0, time(8), PARIS, None),
        (Every.HOURS, 25, time(8), PARIS, None),
        (Every.DAY, 6, time(8), PARIS, None),
        (Every.WEEK, None, time(8), PARIS, None),
        (Every.WEEK, None, time(8), PARIS, 7),
        (Every.DAY, None, time(8), PARIS, 1),
        (Every.DAY, None, time(8, 0, 30), PARIS, None),
        (Every.DAY, None, time(8, tzinfo=UTC), PARIS, None),
        (Every.DAY, None, time(8), "Mars/Olympus", None),
        (Every.DAY, None, time(8), "../etc", None),
    ],
)
def test_recurrence_refuses_inconsistent_rules(
    every: Every, hours: int | None, at: time, zone: str, weekday: int | None
) -> None:
    with pytest.raises(ValueError):
        Recurrence(every=every, hours=hours, at=at, zone=zone, weekday=weekday)


def test_naive_datetimes_are_a_bug() -> None:
    rec = daily(time(8), PARIS)
    with pytest.raises(ValueError):
        next_occasion(rec, datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        occasions_between(rec, datetime(2026, 1, 1), utc(2026, 1, 2))
    with pytest.raises(ValueError):
        recurrence(Every.WEEK, None, time(8), PARIS, starting=datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("hours", "at", "expected"),
    [
        (6, time(8), ["02:00", "08:00", "14:00", "20:00"]),
        (5, time(8), ["04:00", "08:00", "13:00", "18:00", "23:00"]),
        (7, time(8, 15), ["05:15", "08:15", "15:15", "22:15"]),
        (24, time(8), ["08:00"]),
        (12, time(0), ["00:00", "12:00"]),
    ],
)
def test_day_times_grid(hours: int, at: time, expected: list[str]) -> None:
    rec = every_hours(hours, at, PARIS)
    assert [t.strftime("%H:%M") for t in day_times(rec)] == expected


def test_day_times_hourly_and_single() -> None:
    assert len(day_times(every_hours(1, time(0, 45), PARIS))) == 24
    assert day_times(daily(time(8), PARIS)) == [time(8)]
    assert day_times(weekdays(time(9, 30), PARIS)) == [time(9, 30)]


# --- daily across DST changes --------------------------------------------------------------


def test_daily_paris_across_spring_forward() -> None:
    rec = daily(time(8), PARIS)
    assert occasions_between(rec, utc(2026, 3, 27), utc(2026, 3, 31)) == [
        utc(2026, 3, 27, 7),
        utc(2026, 3, 28, 7),
        utc(2026, 3, 29, 6),
        utc(2026, 3, 30, 6),
    ]


def test_daily_paris_across_fall_back() -> None:
    rec = daily(time(8), PARIS)
    assert occasions_between(rec, utc(2026, 10, 23, 12), utc(2026, 10, 26, 12)) == [
        utc(2026, 10, 24, 6),
        utc(2026, 10, 25, 7),
        utc(2026, 10, 26, 7),
    ]


def test_daily_new_york_across_both_changes() -> None:
    rec = daily(time(8), NEW_YORK)
    assert occasions_between(rec, utc(2026, 3, 7), utc(2026, 3, 9, 23)) == [
        utc(2026, 3, 7, 13),
        utc(2026, 3, 8, 12),
        utc(2026, 3, 9, 12),
    ]
    assert occasions_between(rec, utc(2026, 10, 31), utc(2026, 11, 2, 23)) == [
        utc(2026, 10, 31, 12),
        utc(2026, 11, 1, 13),
        utc(2026, 11, 2, 13),
    ]
    assert next_occasion(rec, utc(2026, 3, 7, 13)) == utc(2026, 3, 8, 12)
    assert next_occasion(rec, utc(2026, 10, 31, 12)) == utc(2026, 11, 1, 13)


def test_a_skipped_time_fires_once_an_hour_later_by_the_new_clock() -> None:
    # 02:30 does not exist in Paris on 2026-03-29: it fires at 01:30Z, which is 03:30 CEST.
    rec = daily(time(2, 30), PARIS)
    found = occasions_between(rec, utc(2026, 3, 28), utc(2026, 3, 30, 12))
    assert found == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)]
    assert local_times(found, PARIS) == ["03-28 02:30", "03-29 03:30", "03-30 02:30"]
    assert next_occasion(rec, utc(2026, 3, 28, 1, 30)) == utc(2026, 3, 29, 1, 30)
    assert next_occasion(rec, utc(2026, 3, 29, 1, 30)) == utc(2026, 3, 30, 0, 30)


def test_repeated_time_fires_once_the_first_time() -> None:
    # 02:30 happens twice in Paris on 2026-10-25 (00:30Z in CEST, 01:30Z in CET): once, first.
    rec = daily(time(2, 30), PARIS)
    found = occasions_between(rec, utc(2026, 10, 24), utc(2026, 10, 26, 12))
    assert found == [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]
    assert next_occasion(rec, utc(2026, 10, 25, 0, 30)) == utc(2026, 10, 26, 1, 30)


# --- every N hours -------------------------------------------------------------------------


def test_every_6h_keeps_the_local_grid_across_spring_forward() -> None:
    rec = every_hours(6, time(8), PARIS)
    found = occasions_between(rec, utc(2026, 3, 28), utc(2026, 3, 29, 23, 59))
    assert found == [
        utc(2026, 3, 28, 1),
        utc(2026, 3, 28, 7),
        utc(2026, 3, 28, 13),
        utc(2026, 3, 28, 19),
        utc(2026, 3, 29, 1),  # 02:00 is skipped: fires at 03:00 CEST
        utc(2026, 3, 29, 6),
        utc(2026, 3, 29, 12),
        utc(2026, 3, 29, 18),
    ]
    assert local_times(found, PARIS)[4:] == [
        "03-29 03:00",
        "03-29 08:00",
        "03-29 14:00",
        "03-29 20:00",
    ]


def test_every_5h_keeps_the_local_grid_across_fall_back() -> None:
    rec = every_hours(5, time(8), NEW_YORK)
    zone = ZoneInfo(NEW_YORK)
    found = occasions_between(rec, utc(2026, 10, 30, 4), utc(2026, 11, 3, 5))
    grid = {t.strftime("%H:%M") for t in day_times(rec)}
    assert grid == {"04:00", "08:00", "13:00", "18:00", "23:00"}
    per_day = Counter(moment.astimezone(zone).date() for moment in found)
    assert set(per_day.values()) == {5}
    assert len(per_day) == 4
    assert {moment.astimezone(zone).strftime("%H:%M") for moment in found} == grid
    # On the day itself: 04:00 is EST already (09:00Z), 23:00 the day before was EDT (03:00Z).
    assert utc(2026, 11, 1, 3) in found
    assert utc(2026, 11, 1, 9) in found


def test_hourly_on_dst_days_fires_once_per_instant() -> None:
    rec = every_hours(1, time(0), PARIS)
    spring = occasions_between(rec, utc(2026, 3, 28, 23), utc(2026, 3, 29, 22))
    # 23 hours that day: the skipped 02:00 lands on 03:00's instant and fires once.
    assert len(spring) == len(set(spring)) == 23
    assert spring == [utc(2026, 3, 28, 23) + timedelta(hours=h) for h in range(1, 24)]
    fall = occasions_between(rec, utc(2026, 10, 24, 22), utc(2026, 10, 25, 23))
    # 25 hours that day, 24 local times: the repeated 02:00 fires the first time only.
    assert len(fall) == 24
    assert utc(2026, 10, 25, 0) in fall and utc(2026, 10, 25, 1) not in fall


# --- weekdays ------------------------------------------------------------------------------


def test_weekday_skips_the_weekend_by_local_date() -> None:
    # Friday 2026-03-06 23:30 in Los Angeles is Saturday 07:30Z: it fires; Saturday and Sunday
    # evenings (Sunday and Monday in UTC) do not. Monday is already summer time.
    rec = weekdays(time(23, 30), LOS_ANGELES)
    found = occasions_between(rec, utc(2026, 3, 5, 12), utc(2026, 3, 10, 12))
    assert found == [utc(2026, 3, 6, 7, 30), utc(2026, 3, 7, 7, 30), utc(2026, 3, 10, 6, 30)]
    assert next_occasion(rec, utc(2026, 3, 7, 7, 30)) == utc(2026, 3, 10, 6, 30)


def test_weekday_monday_morning_east_of_utc() -> None:
    # 00:30 on Monday in Tokyo is Sunday in UTC, and fires; Saturday's 00:30 (Friday UTC) not.
    rec = weekdays(time(0, 30), TOKYO)
    found = occasions_between(rec, utc(2026, 3, 5, 15), utc(2026, 3, 9, 15))
    assert found == [utc(2026, 3, 5, 15, 30), utc(2026, 3, 8, 15, 30)]
    assert [moment.astimezone(ZoneInfo(TOKYO)).weekday() for moment in found] == [4, 0]


# --- long runs and downtime ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "zone"),
    [
        (time(8), PARIS),
        (time(2, 30), PARIS),
        (time(1, 30), NEW_YORK),
        (time(2), "Australia/Lord_Howe"),
    ],
)
def test_successive_daily_occasions_over_400_days(at: time, zone: str) -> None:
    rec = daily(at, zone)
    tz = ZoneInfo(zone)
    start = utc(2026, 1, 1)
    found: list[datetime] = []
    moment = start
    for _ in range(400):
        following = next_occasion(rec, moment)
        assert following > moment
        assert following.tzinfo is UTC
        found.append(following)
        moment = following
    days = Counter(moment.astimezone(tz).date() for moment in found)
    assert set(days.values()) == {1}
    first = min(days)
    assert sorted(days) == [first + timedelta(days=n) for n in range(400)]
    assert occasions_between(rec, start, found[-1]) == found


def test_successive_hourly_occasions_agree_with_occasions_between() -> None:
    rec = every_hours(5, time(8, 20), NEW_YORK)
    start = utc(2026, 1, 1)
    found = [next_occasion(rec, start)]
    while len(found) < 900:
        found.append(next_occasion(rec, found[-1]))
    assert found == sorted(set(found))
    assert occasions_between(rec, start, found[-1]) == found


def test_downtime_of_three_days() -> None:
    rec = daily(time(8), PARIS)
    down, up = utc(2026, 5, 1, 6, 30), utc(2026, 5, 4, 9)
    assert occasions_between(rec, down, up) == [
        utc(2026, 5, 2, 6),
        utc(2026, 5, 3, 6),
        utc(2026, 5, 4, 6),
    ]
    # The start is excluded (it already ran), the end included.
    assert occasions_between(rec, utc(2026, 5, 2, 6), utc(2026, 5, 4, 6)) == [
        utc(2026, 5, 3, 6),
        utc(2026, 5, 4, 6),
    ]
    six_hourly = occasions_between(every_hours(6, time(8), PARIS), down, up)
    assert len(six_hourly) == 12
    assert six_hourly[0] == utc(2026, 5, 1, 12) and six_hourly[-1] == utc(2026, 5, 4, 6)


def test_empty_or_backward_span_has_no_occasions() -> None:
    rec = daily(time(8), PARIS)
    assert occasions_between(rec, utc(2026, 5, 2, 6), utc(2026, 5, 2, 6)) == []
    assert occasions_between(rec, utc(2026, 5, 3), utc(2026, 5, 1)) == []


def test_long_downtime_keeps_the_newest_thousand() -> None:
    hourly = every_hours(1, time(0), "UTC")
    end = utc(2026, 4, 11, 12)
    found = occasions_between(hourly, utc(2026, 1, 1), end)
    assert len(found) == MAX_MISSED
    assert found == [end - timedelta(hours=h) for h in reversed(range(MAX_MISSED))]

    weekly = Recurrence(every=Every.WEEK, hours=None, at=time(8), zone=PARIS, weekday=0)
    years = occasions_between(weekly, utc(1990, 1, 1), utc(2026, 5, 4, 6))
    assert len(years) == MAX_MISSED
    assert years[-1] == utc(2026, 5, 4, 6)
    # A week apart, give or take the hour of a DST change in between.
    week, hour = timedelta(days=7), timedelta(hours=1)
    gaps = {later - earlier for earlier, later in itertools.pairwise(years)}
    assert gaps == {week - hour, week, week + hour}


# --- property ------------------------------------------------------------------------------

DST_ZONES = (
    PARIS,
    NEW_YORK,
    LOS_ANGELES,
    "Australia/Lord_Howe",  # a half-hour change
    "America/Santiago",  # changes at midnight
    "Pacific/Auckland",
    "Asia/Beirut",
)


@st.composite
def recurrences(draw: st.DrawFn) -> Recurrence:
    every = draw(st.sampled_from(Every))
    return Recurrence(
        every=every,
        hours=draw(st.integers(1, 24)) if every is Every.HOURS else None,
        at=time(draw(st.integers(0, 23)), draw(st.integers(0, 59))),
        zone=draw(st.sampled_from(DST_ZONES)),
        weekday=draw(st.integers(0, 6)) if every is Every.WEEK else None,
    )


@given(
    rec=recurrences(),
    after=st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2029, 1, 1), timezones=st.just(UTC)
    ),
)
def test_next_occasion_is_the_very_next(rec: Recurrence, after: datetime) -> None:
    following = next_occasion(rec, after)
    assert following > after
    assert following - after <= timedelta(days=8)
    assert occasions_between(rec, after, following) == [following]
