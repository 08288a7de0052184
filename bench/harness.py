"""What every scenario shares: the fakes, seeded data, a bot process, and the load drivers.

The fake Discord and fake Chaster run in this process, so every timestamp below comes from one
`time.monotonic()` clock: the fake stamps INTERACTION_CREATE when it sends it, each REST call and
Chaster call when it handles it. The bot under test (`python -m bot`) and the floor bot
(`bench/floor.py`) are separate processes, started with the same kind of environment.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import gc
import json
import os
import re
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from bot.chaster.client import SEARCH_PAGE_SIZE
from bot.store import Database
from tests.fakes.chaster import FakeChaster
from tests.fakes.discord import (
    OPTION_INTEGER,
    OPTION_STRING,
    FakeDiscord,
    FakeUser,
    InteractionHandle,
    RecordedCall,
    option,
    user_option,
)

BotKind = Literal["ours", "floor"]

__all__ = [
    "CHANNEL",
    "FAST_WINDOW",
    "RATE_LIMIT",
    "BenchDiscord",
    "BotKind",
    "BotProcess",
    "CpuMeter",
    "Deployment",
    "InteractionHandle",
    "Population",
    "Sample",
    "Sender",
    "Startup",
    "burst",
    "chaster_calls",
    "close_open_tasks",
    "closed_loop",
    "deployment",
    "feed_posts",
    "kill_leftovers",
    "reset_chaster_tasks",
    "send_assign",
    "send_status",
    "session_id",
    "wait_chaster_quiet",
    "wearer",
    "wearer_index",
]

FLOOR_SCRIPT = Path(__file__).resolve().parent / "floor.py"
INSTRUMENTED_BOT = Path(__file__).resolve().parent / "instrumented_bot.py"
SLUG = "discord-tasks-bot"
GUILD = 1000
CHANNEL = 2000
DISCORD_TOKEN = "bench-discord-token"  # noqa: S105 (the fake Discord's, not a secret)
KEYHOLDER = FakeUser(5001, "keyholder")
WEARER_BASE = 10_000_000
FEED_MESSAGE_BASE = 900_000_000
# Large, as the brief asks: one catch-up round at start-up, then no polling during a run.
POLL_SECONDS = 86_400
# The fake Chaster advertises 100 requests per FAST_WINDOW seconds (X-RateLimit-* headers,
# reset in epoch ms). The bot learns the short window from the headers, so its pacer, which
# otherwise assumes Chaster's documented 100 requests a minute, does not bound the command
# scenarios. Scenario "ratelimit" switches to a 6 s window to measure the pacing itself.
FAST_WINDOW = 0.05
RATE_LIMIT = 100
# The bot's own shutdown waits up to 10 s for commands in flight.
STOP_TIMEOUT = 20.0

# Every bot process started, by pid, so an interrupted run still kills exactly those.
_LIVE: set[int] = set()


def kill_leftovers() -> None:
    """SIGKILL every bot process this run started that is still alive (by pid)."""
    for pid in list(_LIVE):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _LIVE.discard(pid)


atexit.register(kill_leftovers)


def wearer(i: int) -> FakeUser:
    return FakeUser(WEARER_BASE + i, f"wearer{i}")


def session_id(i: int) -> str:
    return f"bench-session-{i:06d}"


def wearer_index(user_id: int) -> int:
    return user_id - WEARER_BASE


# =============================================================================================
# the fake Discord, instrumented
# =============================================================================================


class BenchDiscord(FakeDiscord):
    """FakeDiscord with a future per interaction for its first callback and its final message.

    The stock `wait_until` re-runs every waiter's probe after every REST call, which costs
    O(waiters) per call at concurrency 50; a future per interaction costs O(1). The stock
    `_webhook_handle` scans every interaction ever sent for each followup (O(n) per call,
    quadratic over a run); the token carries the interaction id, so this looks it up directly.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._signals: dict[tuple[int, str], asyncio.Future[float]] = {}

    def _future(self, interaction_id: int, kind: str) -> asyncio.Future[float]:
        key = (interaction_id, kind)
        future = self._signals.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._signals[key] = future
        return future

    def _signal(self, interaction_id: int, kind: str, at: float) -> None:
        future = self._future(interaction_id, kind)
        if not future.done():
            future.set_result(at)

    async def wait_signal(self, interaction_id: int, kind: str, timeout: float) -> float | None:  # noqa: ASYNC109
        """When the first callback ("first") or final message ("final") arrived, or None."""
        future = self._future(interaction_id, kind)
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation.
            async with asyncio.timeout(timeout):
                return await asyncio.shield(future)
        except TimeoutError:
            return None

    def forget(self, interaction_id: int) -> None:
        for kind in ("first", "final"):
            self._signals.pop((interaction_id, kind), None)

    async def _callback(self, call: RecordedCall, m: re.Match[str]) -> tuple[int, Any]:
        reply = await super()._callback(call, m)
        interaction_id = int(m["id"])
        self._signal(interaction_id, "first", call.at)
        body = call.json if isinstance(call.json, dict) else {}
        if reply[0] == 200 and body.get("type") == 4:
            self._signal(interaction_id, "final", call.at)
        return reply

    async def _followup(self, call: RecordedCall, m: re.Match[str]) -> tuple[int, Any]:
        reply = await super()._followup(call, m)
        handle = self._webhook_handle(m)
        if handle is not None and reply[0] == 200:
            self._signal(handle.id, "final", call.at)
        return reply

    async def _edit_webhook_message(self, call: RecordedCall, m: re.Match[str]) -> tuple[int, Any]:
        reply = await super()._edit_webhook_message(call, m)
        handle = self._webhook_handle(m)
        if handle is not None and reply[0] == 200:
            self._signal(handle.id, "final", call.at)
        return reply

    def _webhook_handle(self, m: re.Match[str]) -> InteractionHandle | None:
        if int(m["app"]) != self.application_id:
            return None
        token = m["token"]
        tail = token.rpartition("-")[2]
        handle = self.interactions.get(int(tail)) if tail.isdigit() else None
        return handle if handle is not None and handle.token == token else None


# =============================================================================================
# seeded data
# =============================================================================================


@dataclass(frozen=True)
class Population:
    """`links` linked wearers, all with KEYHOLDER as keyholder of record.

    The first `open_tasks` have an open task (in the database and in Chaster); the first
    `running_timers` of those have a running timer that ends hours from now.
    """

    links: int
    open_tasks: int = 0
    running_timers: int = 0


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def task_text(i: int) -> str:
    return f"Bench task {i}"


def seed_chaster(chaster: FakeChaster, population: Population) -> None:
    started = chaster.now() - timedelta(hours=1)
    for i in range(population.links):
        session = chaster.add_session(
            session_id=session_id(i),
            wearer_discord_id=str(wearer(i).id),
            keyholder_discord_id=str(KEYHOLDER.id),
        )
        if i < population.open_tasks:
            timed = i < population.running_timers
            session.current_task = {
                "task": task_text(i),
                "points": 5,
                "verificationRequired": False,
                "duration": 86_400 if timed else 0,
            }
            session.status = "pending"
            session.timer_started_at = started if timed else None


async def seed_database(path: Path, chaster: FakeChaster, population: Population) -> None:
    """Let the bot's own migrations create the schema, then insert rows with sqlite3."""
    database = await Database.open(path)
    await database.close()
    now = datetime.now(UTC)
    stamp = _iso(now)
    links = [
        (
            i + 1,
            GUILD,
            wearer(i).id,
            KEYHOLDER.id,
            session_id(i),
            chaster.sessions[session_id(i)].lock_id,
            stamp,
            CHANNEL,
        )
        for i in range(population.links)
    ]
    tasks = []
    for i in range(population.open_tasks):
        timed = i < population.running_timers
        tasks.append(
            (
                i + 1,
                task_text(i),
                5,
                86_400 if timed else None,
                "timer_running" if timed else "assigned",
                KEYHOLDER.id,
                stamp,
                KEYHOLDER.id if timed else None,
                _iso(now - timedelta(hours=1)) if timed else None,
                _iso(now + timedelta(hours=23)) if timed else None,
                CHANNEL,
                FEED_MESSAGE_BASE + i,
                stamp,
                stamp,
            )
        )
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.executemany(
            "INSERT INTO session_links (id, guild_id, wearer_id, keyholder_id,"
            " chaster_session_id, lock_id, created_at, channel_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            links,
        )
        db.executemany(
            "INSERT INTO tasks (link_id, description, points, duration_seconds, state,"
            " assigned_by, assigned_at, timer_started_by, timer_started_at, timer_ends_at,"
            " feed_channel_id, feed_message_id, updated_at, feed_shown_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            tasks,
        )


def write_floor_sessions(path: Path, population: Population) -> None:
    """The floor's whole 'database': wearer id -> Chaster session id."""
    mapping = {str(wearer(i).id): session_id(i) for i in range(population.links)}
    path.write_text(json.dumps(mapping), encoding="utf-8")


def close_open_tasks(database: Path, chaster: FakeChaster) -> None:
    """Between two assign runs: every open task ends, so each wearer can be assigned again."""
    stamp = _iso(datetime.now(UTC))
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as db, db:
        db.execute(
            "UPDATE tasks SET state = 'completed', closed_at = ?, updated_at = ?"
            " WHERE state IN ('assigned', 'timer_running', 'awaiting_confirmation')",
            (stamp, stamp),
        )
        # As the bot's feed would have shown them (the seeded messages are not in the fake).
        db.execute("UPDATE tasks SET feed_shown_at = updated_at WHERE feed_shown_at IS NULL")
    reset_chaster_tasks(chaster)


def reset_chaster_tasks(chaster: FakeChaster) -> None:
    for session in chaster.sessions.values():
        session.current_task = None
        session.status = "start"
        session.timer_started_at = None


# =============================================================================================
# a bot process
# =============================================================================================


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def _read_json(path: Path) -> dict[str, float] | None:
    if not path.exists():
        return None
    loaded: dict[str, float] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def _proc_fields(pid: int, name: str) -> str:
    return (Path("/proc") / str(pid) / name).read_text()


class BotProcess:
    """The real bot (`python -m bot`) or the floor bot, as its own process."""

    def __init__(
        self, kind: BotKind, folder: Path, env: dict[str, str], *, instrumented: bool = False
    ) -> None:
        self.kind = kind
        self.instrumented = instrumented
        self.folder = folder
        self.env = env
        self.log_path = folder / f"{kind}.log"
        self.process: asyncio.subprocess.Process | None = None
        self.spawned_at = 0.0

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self) -> None:
        assert self.process is None
        if self.kind == "floor":
            command = [sys.executable, str(FLOOR_SCRIPT)]
        elif self.instrumented:
            command = [sys.executable, str(INSTRUMENTED_BOT)]
        else:
            command = [sys.executable, "-m", "bot"]
        with self.log_path.open("ab") as log:
            self.spawned_at = time.monotonic()
            self.process = await asyncio.create_subprocess_exec(
                *command,
                cwd=self.folder,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                # Its own session: a Ctrl-C in the terminal reaches only the driver, which then
                # stops this process itself.
                start_new_session=True,
            )
        _LIVE.add(self.process.pid)

    async def stop(self) -> int | None:
        """SIGTERM (the bot finishes accepted work), then SIGKILL after STOP_TIMEOUT."""
        process, self.process = self.process, None
        if process is None:
            return None
        try:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
                try:
                    async with asyncio.timeout(STOP_TIMEOUT):
                        await process.wait()
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
                    await process.wait()
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            _LIVE.discard(process.pid)
        return process.returncode

    async def kill(self) -> int | None:
        """SIGKILL: no cleanup at all, as in a crash or an out-of-memory kill."""
        process, self.process = self.process, None
        if process is None:
            return None
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        status = await process.wait()
        _LIVE.discard(process.pid)
        return status

    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far."""
        stat = _proc_fields(self.pid, "stat")
        fields = stat[stat.rindex(")") + 2 :].split()
        # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
        ticks = int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def memory_mb(self) -> dict[str, float]:
        """VmHWM (peak resident set) and VmRSS (current), in MB."""
        found: dict[str, float] = {}
        for line in _proc_fields(self.pid, "status").splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                found[key] = round(int(value.split()[0]) / 1024, 1)
        return found

    async def counters(self) -> dict[str, float]:
        """The instrumented bot's totals so far (see bench/instrumented_bot.py)."""
        path = Path(self.env["BENCH_COUNTERS"])
        _remove(path)
        os.kill(self.pid, signal.SIGUSR1)
        for _ in range(100):
            await asyncio.sleep(0.02)  # the bot writes the file from its signal handler
            found = _read_json(path)
            if found is not None:
                return found
        raise RuntimeError("the instrumented bot wrote no counters")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_problems(self) -> list[str]:
        """Log lines at ERROR or above, and tracebacks (the bot logs at WARNING)."""
        return [
            line
            for line in self.log().splitlines()
            if " ERROR " in line or " CRITICAL " in line or line.startswith("Traceback")
        ]


# =============================================================================================
# a deployment: fakes + seeded data + one bot process
# =============================================================================================


@dataclass
class Startup:
    """Process spawn -> IDENTIFY seen, and -> first callback of a first /task status."""

    identify_s: float
    ready_s: float
    first_answer_s: float | None
    catch_up_s: float
    catch_up_reads: int
    memory_mb_at_ready: dict[str, float]


@dataclass
class Deployment:
    kind: BotKind
    discord: BenchDiscord
    chaster: FakeChaster
    bot: BotProcess
    folder: Path
    population: Population
    startup: Startup | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def database(self) -> Path:
        return self.folder / "bot.sqlite3"

    async def start(
        self, *, identify_timeout: float = 60.0, catch_up_timeout: float = 120.0
    ) -> Startup:
        """Spawn the bot, time it to a first answer, then wait out its start-up Chaster reads."""
        await self.bot.start()
        try:
            await self.discord.wait_identified(timeout=identify_timeout)
        except AssertionError:
            raise RuntimeError(
                f"{self.kind} bot never identified; log:\n{self.bot.log()[-4000:]}"
            ) from None
        identified = time.monotonic()
        handle = await send_status(self.discord, wearer(0))
        first = await self.discord.wait_signal(handle.id, "first", identify_timeout)
        final = await self.discord.wait_signal(handle.id, "final", identify_timeout)
        if first is None:
            raise RuntimeError(f"{self.kind} bot never answered; log:\n{self.bot.log()[-4000:]}")
        memory = self.bot.memory_mb()
        caught_up = time.monotonic()
        # The floor has no start-up catch-up to wait for: only quiet.
        swept = self.population.links if self.kind == "ours" else 0
        reads = await wait_catch_up(self.chaster, links=swept, timeout=catch_up_timeout)
        self.startup = Startup(
            identify_s=identified - self.bot.spawned_at,
            ready_s=first - self.bot.spawned_at,
            first_answer_s=None if final is None else final - self.bot.spawned_at,
            catch_up_s=time.monotonic() - caught_up,
            catch_up_reads=reads,
            memory_mb_at_ready=memory,
        )
        return self.startup

    async def warm_up(self, count: int = 20) -> None:
        """A few untimed commands, so lazy imports and first-use costs stay out of the figures."""
        for i in range(count):
            handle = await send_status(self.discord, wearer(i % max(1, self.population.links)))
            await self.discord.wait_signal(handle.id, "final", 15.0)


def bot_environment(
    kind: BotKind, discord: FakeDiscord, chaster: FakeChaster, folder: Path
) -> dict[str, str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "DISCORD_TOKEN": DISCORD_TOKEN,
        "CHASTER_API_TOKEN": chaster.token,
        "CHASTER_EXTENSION_SLUG": SLUG,
        "CHASTER_API_URL": chaster.url,
        "DISCORD_API_URL": discord.api_url,
        "DISCORD_GATEWAY_URL": discord.gateway_url,
        "DATABASE_PATH": str(folder / "bot.sqlite3"),
        "DISCORD_GUILD_ID": str(GUILD),
        "CHASTER_POLL_SECONDS": str(POLL_SECONDS),
        "LOG_LEVEL": "WARNING",
    }
    if kind == "floor":
        env["FLOOR_SESSIONS"] = str(folder / "sessions.json")
    return env


@asynccontextmanager
async def deployment(
    kind: BotKind,
    root: Path,
    population: Population,
    *,
    rate_window: float = FAST_WINDOW,
    instrumented: bool = False,
    environment: dict[str, str] | None = None,
) -> AsyncIterator[Deployment]:
    """Fresh fakes and seeded data for one bot process; everything is stopped on exit.
    `environment` overrides the bot's settings (empty value: the setting is left unset)."""
    folder = root / f"{kind}-{time.monotonic_ns()}"
    folder.mkdir()
    members = [KEYHOLDER, *(wearer(i) for i in range(population.links))]
    async with (
        BenchDiscord(guild_id=GUILD, channel_ids=(CHANNEL,), members=members) as discord,
        FakeChaster(
            slug=SLUG,
            rate_limit=RATE_LIMIT,
            rate_window=rate_window,
            reset_header_format="epoch_ms",
        ) as chaster,
    ):
        seed_chaster(chaster, population)
        if kind == "ours":
            await seed_database(folder / "bot.sqlite3", chaster, population)
        else:
            write_floor_sessions(folder / "sessions.json", population)
        env = bot_environment(kind, discord, chaster, folder)
        env["BENCH_COUNTERS"] = str(folder / "counters.json")
        for name, value in (environment or {}).items():
            if value:
                env[name] = value
            else:
                env.pop(name, None)
        bot = BotProcess(kind, folder, env, instrumented=instrumented)
        deployed = Deployment(kind, discord, chaster, bot, folder, population)
        try:
            yield deployed
        finally:
            status = await bot.stop()
            if status not in (0, None, -signal.SIGTERM):
                deployed.notes.append(f"{kind} bot exited with status {status}")


async def wait_catch_up(
    chaster: FakeChaster,
    *,
    links: int,
    timeout: float,  # noqa: ASYNC109
) -> int:
    """Wait for the bot's start-up catch-up itself (a session search page per hundred linked
    sessions), then for Chaster to be quiet; return the count of requests. Quiet alone was not
    enough: a catch-up starting more than the quiet time after the first answer went uncounted
    and then ran during the measurements."""
    pages = -(-links // SEARCH_PAGE_SIZE)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _searches(chaster) >= pages:
            break
        await asyncio.sleep(0.05)  # an idle check between runs, never during a measurement
    return await wait_chaster_quiet(chaster, timeout=max(0.0, deadline - time.monotonic()))


def _searches(chaster: FakeChaster) -> int:
    return sum(
        1
        for call in chaster.calls
        if call.method == "POST" and call.path.endswith("/sessions/search")
    )


async def wait_chaster_quiet(
    chaster: FakeChaster,
    *,
    timeout: float,  # noqa: ASYNC109
    quiet: float = 0.5,
) -> int:
    """Wait until the fake Chaster has seen no request for `quiet` seconds; return the count."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        last = chaster.calls[-1].at if chaster.calls else 0.0
        if time.monotonic() - last >= quiet:
            break
        await asyncio.sleep(0.05)  # an idle check between runs, never during a measurement
    return len(chaster.calls)


# =============================================================================================
# load
# =============================================================================================


async def send_status(discord: FakeDiscord, who: FakeUser) -> InteractionHandle:
    return await discord.send_slash(
        "task",
        user=KEYHOLDER,
        subcommand="status",
        options=[user_option("wearer", who)],
        channel_id=CHANNEL,
    )


async def send_assign(discord: FakeDiscord, who: FakeUser, description: str) -> InteractionHandle:
    return await discord.send_slash(
        "task",
        user=KEYHOLDER,
        subcommand="assign",
        options=[
            user_option("wearer", who),
            option("description", description, OPTION_STRING),
            option("points", 5, OPTION_INTEGER),
        ],
        channel_id=CHANNEL,
    )


@dataclass
class Sample:
    """One interaction, as the fake Discord saw it."""

    index: int
    interaction_id: int
    wearer_id: int
    dispatched_at: float
    first_at: float | None
    first_status: int | None
    late: bool
    final_at: float | None
    final_content: str

    @property
    def first_latency(self) -> float | None:
        return None if self.first_at is None else self.first_at - self.dispatched_at

    @property
    def in_time(self) -> bool:
        """Acknowledged inside Discord's 3 s window (the fake's deadline record)."""
        return self.first_status == 200 and not self.late


def _sample(
    discord: BenchDiscord, index: int, handle: InteractionHandle, who: int, final: float | None
) -> Sample:
    responses = handle.responses()
    first = next((r for r in responses if r["kind"] == "callback"), None)
    content = ""
    for response in responses:
        body = response["body"]
        if response["status"] == 200 and isinstance(body, dict):
            data = body.get("data") if response["kind"] == "callback" else body
            if isinstance(data, dict) and data.get("content"):
                content = str(data["content"])
    discord.forget(handle.id)
    return Sample(
        index=index,
        interaction_id=handle.id,
        wearer_id=who,
        dispatched_at=handle.dispatched_at,
        first_at=None if first is None else float(first["at"]),
        first_status=None if first is None else int(first["status"]),
        late=bool(first and first["late"]),
        final_at=final,
        final_content=content,
    )


Sender = Callable[[int], Awaitable[tuple[InteractionHandle, int]]]


@contextlib.contextmanager
def driver_gc_paused() -> Iterator[None]:
    """No garbage collection in this process during a timed run.

    The fakes keep every call they saw, so this process's heap grows over a benchmark, and a
    full collection came to pause it for 60-250 ms. The fakes stamp times in this process, so a
    pause here was counted as the bot's latency: one per 1-second run made a p99 of 110 ms out
    of a p95 of 45 ms. Collected before and after instead.
    """
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


async def closed_loop(
    discord: BenchDiscord,
    send: Sender,
    count: int,
    concurrency: int,
    *,
    timeout: float = 30.0,  # noqa: ASYNC109
) -> list[Sample]:
    """`concurrency` users, each sending its next command once the previous one was answered
    in full (final message), until `count` commands were sent."""
    samples: list[Sample] = []
    issued = 0

    async def user() -> None:
        nonlocal issued
        while issued < count:
            index = issued
            issued += 1
            handle, who = await send(index)
            first = await discord.wait_signal(handle.id, "first", timeout)
            final = await discord.wait_signal(handle.id, "final", timeout) if first else None
            samples.append(_sample(discord, index, handle, who, final))

    with driver_gc_paused():
        await asyncio.gather(*(user() for _ in range(concurrency)))
    samples.sort(key=lambda s: s.index)
    return samples


async def burst(
    discord: BenchDiscord,
    send: Sender,
    count: int,
    *,
    timeout: float = 30.0,  # noqa: ASYNC109
) -> list[Sample]:
    """Send `count` commands at once, then wait for every answer."""

    async def answer(index: int, handle: InteractionHandle, who: int) -> Sample:
        first = await discord.wait_signal(handle.id, "first", timeout)
        final = await discord.wait_signal(handle.id, "final", timeout) if first else None
        return _sample(discord, index, handle, who, final)

    with driver_gc_paused():
        sent = [await send(index) for index in range(count)]
        return list(
            await asyncio.gather(*(answer(i, handle, who) for i, (handle, who) in enumerate(sent)))
        )


def feed_posts(discord: FakeDiscord, since: int = 0) -> dict[int, float]:
    """Feed messages (POST /channels/CHANNEL/messages) by the wearer they mention -> `at`."""
    found: dict[int, float] = {}
    for call in discord.calls[since:]:
        if call.method != "POST" or call.path != f"/channels/{CHANNEL}/messages":
            continue
        body = call.json if isinstance(call.json, dict) else {}
        match = re.match(r"<@(\d+)>", str(body.get("content", "")))
        if match and call.status == 200:
            found.setdefault(int(match[1]), call.at)
    return found


def chaster_calls(chaster: FakeChaster, suffix: str, since: int = 0) -> dict[str, float]:
    """First call per session whose path ends with `suffix` (e.g. "/tasks/assign") -> `at`."""
    found: dict[str, float] = {}
    for call in chaster.calls[since:]:
        if call.path.endswith(suffix) and call.status is not None and call.status < 300:
            sid = call.path.split("/")[4]
            found.setdefault(sid, call.at)
    return found


class CpuMeter:
    """CPU seconds spent by the bot process and by this driver process over a block."""

    def __init__(self, bot: BotProcess) -> None:
        self.bot = bot
        self.bot_s = 0.0
        self.driver_s = 0.0
        self.wall_s = 0.0

    def __enter__(self) -> CpuMeter:
        self._bot0 = self.bot.cpu_seconds()
        self._driver0 = time.process_time()
        self._wall0 = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bot_s = self.bot.cpu_seconds() - self._bot0
        self.driver_s = time.process_time() - self._driver0
        self.wall_s = time.monotonic() - self._wall0
