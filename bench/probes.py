"""`python -m bench.probes NAME`: small, direct measurements behind the findings in RESULTS.md.

They use the bot's own code (store, state records, migrations) in this process, not a bot process:

* `sqlite-hop`:     CPU of one aiosqlite operation (a round trip to its worker thread) next to
                    the same query on a plain sqlite3 connection.
* `latest-task`:    `Store.latest_task`'s query plan and cost as the tasks table grows, with and
                    without an index on tasks(link_id, id).
* `state-view`:     memory the state view holds for 10,000 linked sessions, each with an open
                    task, next to the parsed wire payloads it replaces.
* `startup-memory`: peak Python memory (tracemalloc) of the start-up loads on the scale data set.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import aiosqlite

from bench.harness import Population, seed_chaster, seed_database
from bot.chaster import ExtensionSession
from bot.chaster.state import LockState
from bot.store import Database, Store
from tests.fakes.chaster import FakeChaster

NOW = "2026-01-01T00:00:00.000000+00:00"


async def sqlite_hop(folder: Path) -> None:
    path = folder / "hop.sqlite3"
    count = 5000
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        await conn.execute("PRAGMA journal_mode=WAL")
        started = time.process_time()
        for _ in range(count):
            async with conn.execute("SELECT 1") as cursor:
                await cursor.fetchone()
        per_op = (time.process_time() - started) / (3 * count)
        await conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        started = time.process_time()
        for _ in range(count):
            await conn.execute("BEGIN IMMEDIATE")
            async with conn.execute("INSERT INTO t (v) VALUES ('x')"):
                pass
            await conn.commit()
        per_write = (time.process_time() - started) / count
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as plain:
        started = time.process_time()
        for _ in range(count):
            plain.execute("SELECT 1").fetchone()
        per_plain = (time.process_time() - started) / count
    print(f"aiosqlite, one operation (execute / fetchone / close): {per_op * 1e6:6.0f} us CPU")
    print(f"aiosqlite, write transaction (BEGIN, INSERT, COMMIT):  {per_write * 1e6:6.0f} us CPU")
    print(f"plain sqlite3, SELECT 1 with its fetch:                 {per_plain * 1e6:6.1f} us CPU")


async def _empty_database(path: Path) -> None:
    database = await Database.open(path)
    await database.close()


def _fill(db: sqlite3.Connection, links: int, tasks: int, *, open_tasks: bool) -> None:
    db.execute("DELETE FROM tasks")
    db.execute("DELETE FROM session_links")
    db.executemany(
        "INSERT INTO session_links (id, guild_id, wearer_id, keyholder_id, chaster_session_id,"
        " lock_id, created_at) VALUES (?, 1, ?, 5, ?, 'lock', ?)",
        [(i + 1, 1000 + i, f"s{i}", NOW) for i in range(links)],
    )
    rows: list[tuple[Any, ...]]
    if open_tasks:
        rows = [(i + 1, "t", 1, "assigned", NOW, NOW, None) for i in range(tasks)]
    else:
        # Closed history spread over every link but the last one.
        rows = [((i % (links - 1)) + 1, "t", 1, "completed", NOW, NOW, NOW) for i in range(tasks)]
    db.executemany(
        "INSERT INTO tasks (link_id, description, points, state, assigned_at, updated_at,"
        " closed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


async def latest_task(folder: Path) -> None:
    path = folder / "latest.sqlite3"
    await _empty_database(path)
    query = "SELECT * FROM tasks WHERE link_id = ? ORDER BY id DESC LIMIT 1"
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        plan = db.execute("EXPLAIN QUERY PLAN " + query, (1,)).fetchall()
        print(f"query plan: {' | '.join(str(row[3]) for row in plan)}")
        for tasks in (10_000, 100_000):
            _fill(db, 10_000, tasks, open_tasks=False)
            print(f"{tasks:>7} tasks, a linked wearer with no task: {_time(db, query):.3f} ms")
        db.execute("CREATE INDEX probe_tasks_by_link ON tasks (link_id, id)")
        plan = db.execute("EXPLAIN QUERY PLAN " + query, (1,)).fetchall()
        print(f"with an index on tasks(link_id, id): {_time(db, query):.3f} ms ({plan[0][3]})")


def _time(db: sqlite3.Connection, query: str, runs: int = 50) -> float:
    started = time.perf_counter()
    for _ in range(runs):
        db.execute(query, (10_000,)).fetchone()
    return (time.perf_counter() - started) * 1000 / runs


async def state_view(folder: Path) -> None:
    population = Population(links=10_000, open_tasks=10_000, running_timers=0)
    chaster = FakeChaster()
    seed_chaster(chaster, population)
    payloads = [chaster.session_json(session_id) for session_id in chaster.sessions]
    for name, keep in (
        ("parsed wire payloads (ExtensionSession)", ExtensionSession.model_validate),
        (
            "state view records (LockState)",
            lambda body: LockState.of(ExtensionSession.model_validate(body).lock),
        ),
    ):
        tracemalloc.start()
        held = [keep(body) for body in payloads]
        current, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"{name:42s} {len(held):6d} sessions: {current / 2**20:5.1f} MB held")
        del held


async def startup_memory(folder: Path) -> None:
    population = Population(links=10_000, open_tasks=10_000, running_timers=5_000)
    chaster = FakeChaster()
    seed_chaster(chaster, population)
    path = folder / "scale.sqlite3"
    await seed_database(path, chaster, population)
    async with await Database.open(path) as database:
        store = Store(database)
        loads: list[tuple[str, Callable[[], Awaitable[list[Any]]]]] = [
            ("Store.pending_timer_deadlines() (Timers.start)", store.pending_timer_deadlines),
            ("Store.linked_sessions() (Sweep.run)", store.linked_sessions),
        ]
        for name, load in loads:
            tracemalloc.start()
            result = await load()
            current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(
                f"{name:40s} {len(result):6d} items: peak {peak / 2**20:5.1f} MB, "
                f"still held {current / 2**20:5.1f} MB"
            )
            del result


PROBES: dict[str, Callable[[Path], Coroutine[Any, Any, None]]] = {
    "sqlite-hop": sqlite_hop,
    "latest-task": latest_task,
    "state-view": state_view,
    "startup-memory": startup_memory,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.probes", description=__doc__)
    parser.add_argument("probe", nargs="*", help=f"any of {', '.join(PROBES)} (default: all)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.probe if name not in PROBES]
    if unknown:
        parser.error(f"unknown probe(s) {', '.join(unknown)}; choose from {', '.join(PROBES)}")
    for name in args.probe or list(PROBES):
        print(f"== {name}")
        with tempfile.TemporaryDirectory(prefix="chaster-probe-") as folder:
            asyncio.run(PROBES[name](Path(folder)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
