"""The task library: its rules, whose entries are whose, importing the lock's list, assigning
by an entry, and random draws."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from bot.core.errors import NotAllowed, Person, Reason, Refused, Typed
from bot.core.library import LIBRARY_LIMIT, Candidate, Source, draw
from bot.core.model import Caller, TaskAction
from bot.store import Origin
from tests.core_env import (
    KEYHOLDER,
    KH,
    OTHER,
    OTHER_GUILD,
    WEARER,
    WR,
    CoreEnv,
    refused,
)

LOCK_LIST = [
    {"task": "Kneel for ten minutes", "points": 4, "duration": 600},
    {"task": "Send a photo of the lock", "points": 2, "verificationRequired": True},
    {"task": "   ", "points": 1},  # nothing visible: left out
    {"points": 3},  # no text at all: left out, the rest still read
]


async def add(env: CoreEnv, description: str, caller: Caller = KH, **options: object) -> int:
    entry = await env.core.library.add(
        caller,
        description=description,
        points=int(options.pop("points", 3)),
        **options,  # type: ignore[arg-type]
    )
    return entry.id


# -- the rules ------------------------------------------------------------------------------


async def test_an_entry_keeps_to_the_rules_of_assign(env: CoreEnv) -> None:
    entry = await env.core.library.add(
        KH,
        description="  Plank  ",
        points=5,
        duration="1h30m",
        verification_required=True,
        tag=" gym ",
    )
    assert (entry.description, entry.points, entry.duration_seconds, entry.tag) == (
        "Plank",
        5,
        5400,
        "gym",
    )
    assert entry.verification_required
    for bad, reason in [
        ({"description": "", "points": 1}, Reason.DESCRIPTION_LENGTH),
        ({"description": "x" * 501, "points": 1}, Reason.DESCRIPTION_LENGTH),
        ({"description": "ok\x00", "points": 1}, Reason.DESCRIPTION_CONTROL),
        ({"description": "ok", "points": -1}, Reason.NEGATIVE_POINTS),
        ({"description": "ok", "points": 1, "duration": "soon"}, Reason.DURATION_UNREADABLE),
        ({"description": "ok", "points": 1, "duration": "48h"}, Reason.DURATION_OUT_OF_RANGE),
        ({"description": "ok", "points": 1, "tag": "t" * 33}, Reason.TAG_INVALID),
        ({"description": "ok", "points": 1, "tag": "  "}, Reason.TAG_INVALID),
    ]:
        with pytest.raises(Refused) as caught:
            await env.core.library.add(KH, **bad)  # type: ignore[arg-type]
        assert caught.value.reason is reason, bad
    assert [e.id for e in await env.core.library.entries(KH)] == [entry.id]


async def test_the_same_text_twice_names_the_entry_there(env: CoreEnv) -> None:
    first = await add(env, "Plank")
    with refused(Reason.LIBRARY_HAS_IT, number=first):
        await add(env, "Plank", points=9)


async def test_the_201st_entry_is_refused(env: CoreEnv) -> None:
    for n in range(LIBRARY_LIMIT):
        await add(env, f"Task {n}")
    with refused(Reason.LIBRARY_FULL, count=LIBRARY_LIMIT):
        await add(env, "One more")
    # Another keyholder's library, or this keyholder's in another server, is its own.
    await add(env, "One more", caller=OTHER)
    await add(env, "One more", caller=Caller(KEYHOLDER, OTHER_GUILD))


async def test_nobody_else_sees_uses_or_removes_an_entry(env: CoreEnv) -> None:
    mine = await add(env, "Plank", tag="gym")
    assert [e.id for e in await env.core.library.entries(KH, "gym")] == [mine]
    assert await env.core.library.entries(OTHER) == []
    assert await env.core.library.entries(Caller(KEYHOLDER, OTHER_GUILD)) == []
    with refused(Reason.NO_SUCH_ENTRY, number=mine):
        await env.core.library.remove(OTHER, str(mine))
    with refused(Reason.NO_SUCH_ENTRY, number=mine):
        await env.core.library.remove(Caller(KEYHOLDER, OTHER_GUILD), f"#{mine}")
    with refused(Reason.NO_ENTRY_NAMED, typed=Typed("Plonk")):
        await env.core.library.remove(KH, "Plonk")
    assert (await env.core.library.remove(KH, "Plank")).id == mine
    assert await env.core.library.entries(KH) == []


# -- importing the lock's list ----------------------------------------------------------------


async def test_import_copies_the_lock_list_and_skips_what_is_there(env: CoreEnv) -> None:
    await env.linked(user_tasks=LOCK_LIST)
    await add(env, "Kneel for ten minutes", points=1)
    done = await env.core.library.import_from_lock(KH, WEARER)
    assert (done.added, done.skipped, done.full) == (1, 1, False)
    entries = {e.description: e for e in await env.core.library.entries(KH)}
    photo = entries["Send a photo of the lock"]
    assert (photo.points, photo.verification_required, photo.duration_seconds) == (2, True, None)
    assert entries["Kneel for ten minutes"].points == 1  # the keyholder's own stays
    again = await env.core.library.import_from_lock(KH, WEARER)
    assert (again.added, again.skipped) == (0, 2)


@pytest.mark.parametrize("caller", [WR, OTHER, Caller(KEYHOLDER, OTHER_GUILD)])
async def test_only_the_keyholder_of_record_imports(env: CoreEnv, caller: Caller) -> None:
    await env.linked(user_tasks=LOCK_LIST)
    with pytest.raises(Refused):
        await env.core.library.import_from_lock(caller, WEARER)
    assert await env.core.library.entries(caller) == []
    assert env.fake.calls == []


async def test_import_by_the_wearer_is_refused_as_not_theirs(env: CoreEnv) -> None:
    await env.linked(user_tasks=LOCK_LIST)
    with refused(Reason.ONLY_KEYHOLDER_IMPORTS, NotAllowed, keyholder=Person(KEYHOLDER)):
        await env.core.library.import_from_lock(WR, WEARER)


# -- assigning an entry -----------------------------------------------------------------------


async def test_an_entry_fills_what_assign_leaves_empty(env: CoreEnv) -> None:
    await env.linked()
    await env.core.library.add(KH, description="Plank", points=7, duration="10m")
    task = await env.core.tasks.assign(KH, WEARER, description="Plank", channel_id=1)
    assert (task.points, task.duration_seconds, task.verification_required) == (7, 600, False)
    [assign] = env.posts("assign")
    assert assign.json["task"] == {
        "task": "Plank",
        "points": 7,
        "verificationRequired": False,
        "duration": 600,
    }
    await env.act(KH, TaskAction.FAIL)
    # What is given wins over the entry; "#N" names the entry too.
    entry = (await env.core.library.entries(KH))[0]
    task = await env.core.tasks.assign(
        KH, WEARER, description=f"#{entry.id}", points=1, duration="", channel_id=1
    )
    assert (task.description, task.points, task.duration_seconds) == ("Plank", 1, 600)


async def test_a_text_that_is_no_entry_needs_points_and_calls_nothing(env: CoreEnv) -> None:
    await env.linked()
    await add(env, "Plank", caller=OTHER)  # someone else's entry is no entry for KH
    for text in ("Plank", "Something new", "#999"):
        with refused(Reason.POINTS_NEEDED):
            await env.core.tasks.assign(KH, WEARER, description=text, channel_id=1)
    assert env.fake.calls == []


async def test_a_task_of_the_lock_list_fills_in_once_the_lock_was_read(env: CoreEnv) -> None:
    await env.linked(user_tasks=LOCK_LIST)
    await env.core.tasks.status(KH, WEARER)  # any read of the session brings its list
    task = await env.core.tasks.assign(
        KH, WEARER, description="Kneel for ten minutes", channel_id=1
    )
    assert (task.points, task.duration_seconds) == (4, 600)


# -- random draws -----------------------------------------------------------------------------


def candidates(*texts: str) -> list[Candidate]:
    return [Candidate(text, 1, None, False, entry_id=n) for n, text in enumerate(texts)]


def test_every_candidate_is_reachable_and_the_previous_text_is_not_drawn_again() -> None:
    rng = random.Random(7)
    pool = candidates("a", "b", "c")
    seen = Counter(draw(pool, "b", rng)[0].description for _ in range(300))
    assert set(seen) == {"a", "c"}
    assert min(seen.values()) > 100
    seen = Counter(draw(pool, None, rng)[0].description for _ in range(300))
    assert set(seen) == {"a", "b", "c"}
    # The only choice is drawn even if it repeats.
    assert draw(candidates("b"), "b", rng)[0].description == "b"
    # Several at once are different texts.
    picks = draw(candidates("a", "a", "b", "c"), None, rng, count=3)
    assert sorted(p.description for p in picks) == ["a", "b", "c"]
    assert len(draw(candidates("a", "b"), None, rng, count=5)) == 2


async def test_random_draws_from_the_source_asked_and_says_so(env: CoreEnv) -> None:
    await env.linked(user_tasks=LOCK_LIST[:1])
    await add(env, "Plank", points=2)
    task = await env.core.tasks.random(KH, WEARER, source=Source.LIBRARY, channel_id=1)
    assert (task.description, task.origin) == ("Plank", Origin.RANDOM_LIBRARY)
    await env.act(KH, TaskAction.FAIL)
    task = await env.core.tasks.random(KH, WEARER, source=Source.LOCK, channel_id=1)
    assert (task.description, task.origin, task.duration_seconds) == (
        "Kneel for ten minutes",
        Origin.RANDOM_LOCK,
        600,
    )
    await env.act(KH, TaskAction.FAIL)
    # Both: never the previous text while there is another.
    for _ in range(4):
        task = await env.core.tasks.random(KH, WEARER, channel_id=1)
        previous = task.description
        await env.act(KH, TaskAction.FAIL)
        task = await env.core.tasks.random(KH, WEARER, channel_id=1)
        assert task.description != previous
        await env.act(KH, TaskAction.FAIL)


async def test_an_empty_source_is_refused_before_chaster_is_asked_to_assign(env: CoreEnv) -> None:
    await env.linked(user_tasks=[])
    await add(env, "Plank", tag="gym")
    with refused(Reason.NOTHING_IN_LIBRARY, wearer=Person(WEARER)):
        await env.core.tasks.random(KH, WEARER, source=Source.LIBRARY, tag="other", channel_id=1)
    with refused(Reason.NOTHING_IN_LOCK_LIST, wearer=Person(WEARER)):
        await env.core.tasks.random(KH, WEARER, source=Source.LOCK, channel_id=1)
    assert env.posts("assign") == []


async def test_only_the_keyholder_of_record_draws(env: CoreEnv) -> None:
    await env.linked()
    await add(env, "Plank", caller=WR)
    with refused(Reason.ONLY_KEYHOLDER_ASSIGNS, NotAllowed, keyholder=Person(KEYHOLDER)):
        await env.core.tasks.random(WR, WEARER, channel_id=1)
    assert env.fake.calls == []


async def test_a_number_too_big_for_any_entry_is_plain_text(env: CoreEnv) -> None:
    await env.linked()
    huge = "9" * 19
    with refused(Reason.NO_ENTRY_NAMED, typed=Typed(huge)):
        await env.core.library.remove(KH, huge)
    task = await env.core.tasks.assign(KH, WEARER, description=f"#{huge}", points=1, channel_id=1)
    assert task.description == f"#{huge}"
