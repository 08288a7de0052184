"""The task library in the store: scoped to one keyholder in one server, capped, one text once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.store import ConstraintViolation, Database, LibraryEntry, LibraryFull, Store

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
GUILD, OTHER_GUILD = 100, 200
KEYHOLDER, OTHER_KEYHOLDER = 1, 2


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with await Database.open(tmp_path / "bot.db") as database:
        yield Store(database)


async def add(store: Store, description: str, **overrides: object) -> LibraryEntry:
    fields: dict[str, object] = {
        "guild_id": GUILD,
        "keyholder_id": KEYHOLDER,
        "description": description,
        "points": 3,
        "duration_seconds": None,
        "verification_required": False,
        "tag": None,
        "now": T0,
        "limit": 200,
    }
    fields.update(overrides)
    return await store.add_library_entry(**fields)  # type: ignore[arg-type]


async def test_entries_belong_to_one_keyholder_in_one_server(store: Store) -> None:
    mine = await add(store, "Plank", tag="gym", duration_seconds=600)
    assert (mine.description, mine.points, mine.duration_seconds, mine.tag) == (
        "Plank",
        3,
        600,
        "gym",
    )
    theirs = await add(store, "Plank", keyholder_id=OTHER_KEYHOLDER)
    elsewhere = await add(store, "Plank", guild_id=OTHER_GUILD)
    assert len({mine.id, theirs.id, elsewhere.id}) == 3
    assert await store.library_entries(GUILD, KEYHOLDER) == [mine]
    assert await store.get_library_entry(GUILD, KEYHOLDER, mine.id) == mine
    assert await store.get_library_entry(GUILD, KEYHOLDER, theirs.id) is None
    assert await store.get_library_entry(OTHER_GUILD, KEYHOLDER, mine.id) is None
    # Removing someone else's entry removes nothing.
    assert not await store.remove_library_entry(GUILD, KEYHOLDER, theirs.id)
    assert await store.library_entries(GUILD, OTHER_KEYHOLDER) == [theirs]
    assert await store.remove_library_entry(GUILD, KEYHOLDER, mine.id)
    assert await store.library_entries(GUILD, KEYHOLDER) == []


async def test_an_entry_is_found_by_its_exact_text_for_its_keyholder_only(store: Store) -> None:
    mine = await add(store, "Plank")
    assert await store.find_library_entry(GUILD, KEYHOLDER, "Plank") == mine
    assert await store.find_library_entry(GUILD, KEYHOLDER, "plank") is None
    assert await store.find_library_entry(GUILD, OTHER_KEYHOLDER, "Plank") is None
    assert await store.find_library_entry(OTHER_GUILD, KEYHOLDER, "Plank") is None


async def test_a_tag_narrows_the_list(store: Store) -> None:
    gym = await add(store, "Plank", tag="gym")
    await add(store, "Lines")
    assert await store.library_entries(GUILD, KEYHOLDER, tag="gym") == [gym]
    assert await store.library_entries(GUILD, KEYHOLDER, tag="other") == []


async def test_the_same_text_is_one_entry(store: Store) -> None:
    await add(store, "Plank")
    with pytest.raises(ConstraintViolation):
        await add(store, "Plank", points=9)
    assert len(await store.library_entries(GUILD, KEYHOLDER)) == 1


async def test_the_limit_holds_even_for_adds_at_once(store: Store) -> None:
    results = await asyncio.gather(
        *(add(store, f"Task {n}", limit=5) for n in range(8)), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, LibraryFull)]
    assert len(refused) == 3 and refused[0].limit == 5
    assert len(await store.library_entries(GUILD, KEYHOLDER)) == 5
    # Another keyholder's library is not full.
    await add(store, "Task 0", keyholder_id=OTHER_KEYHOLDER, limit=5)
