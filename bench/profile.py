"""`python -m bench.profile`: where the real bot's CPU goes for one command, by py-spy.

Starts the bot on the fakes (as `python -m bench` does), attaches `py-spy record` to it while a
closed-loop run of one command is served, and prints the busy samples by thread, by innermost
bot function and by library function. py-spy is not a dependency of the project:
`.venv/bin/pip install py-spy`.

With --instrument there is no py-spy: the bot runs as bench/instrumented_bot.py, and the run
reports per command its aiosqlite operations, Discord and Chaster requests, and the time spent
waiting for and holding the bot's single database lock.

    python -m bench.profile assign --concurrency 1 --count 1000
    python -m bench.profile assign --concurrency 50 --instrument
    python -m bench.profile status --links 10000 --open-tasks   # the scale data set
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.harness import (
    CpuMeter,
    InteractionHandle,
    Population,
    Sample,
    Sender,
    closed_loop,
    deployment,
    feed_posts,
    send_assign,
    send_status,
    session_id,
    wait_chaster_quiet,
    wearer,
    wearer_index,
)
from bench.stats import summary_ms

OUTPUT = Path(__file__).resolve().parent / "profiles"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("command", choices=("status", "assign"))
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--links", type=int, default=None, help="linked wearers (default count)")
    parser.add_argument("--open-tasks", action="store_true", help="every link has an open task")
    parser.add_argument("--kind", choices=("ours", "floor"), default="ours")
    parser.add_argument("--rate", type=int, default=1000, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument(
        "--instrument", action="store_true", help="count operations and time the DB lock"
    )
    return parser.parse_args(argv)


# Leaf frames where a thread waits rather than works (py-spy --nonblocking cannot tell).
IDLE_LEAVES = (
    "EpollSelector.select (selectors.py",
    "_connection_worker_thread (aiosqlite/core.py:59)",
)


def fold(raw: Path, top: int) -> str:
    """Summarise py-spy's collapsed stacks, idle waits left out: busy samples per thread, per
    innermost bot/cogs function (with the library code it called), inclusive and self."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    ours: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    busy = idle = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        raw_frames = stack.split(";")
        if raw_frames[-1].startswith(IDLE_LEAVES):
            idle += count
            continue
        busy += count
        frames = [_frame(f) for f in raw_frames]
        other = "other threads (aiosqlite worker, discord.py keep-alive)"
        threads[other if "_bootstrap" in stack else "event loop thread"] += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
        mine = [
            f
            for f in frames
            if f.split(" (", 1)[-1].startswith(("bot/", "cogs/"))
            and not f.endswith("(bot/__main__.py)")
        ]
        ours[mine[-1] if mine else "(no bot frame: discord.py, aiohttp, asyncio, threads)"] += count
    lines = [f"{busy} busy samples ({idle} idle samples left out)"]
    for title, counter in (
        ("thread", threads),
        ("innermost bot/cogs frame", ours),
        ("inclusive", inclusive),
        ("self", own),
    ):
        lines.append(f"\n-- top {top} by {title} (share of busy samples) --")
        for frame, count in counter.most_common(top):
            lines.append(f"{100 * count / max(1, busy):6.1f}%  {frame}")
    return "\n".join(lines)


def _frame(frame: str) -> str:
    # "function (path/to/file.py:123)" -> "function (file.py)" so lines of one function fold.
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    short = "/".join(path.split("/")[-2:])
    return f"{name} ({short})"


def find_py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return shutil.which("py-spy") or (str(beside) if beside.exists() else None)


def _sender(args: argparse.Namespace, discord: Any, links: int) -> Sender:
    async def send(index: int) -> tuple[InteractionHandle, int]:
        who = wearer(index % links)
        if args.command == "assign":
            return await send_assign(discord, who, f"Profiled {index}"), who.id
        return await send_status(discord, who), who.id

    return send


def _population(args: argparse.Namespace) -> Population:
    links = args.links or args.count
    return Population(links=links, open_tasks=links if args.open_tasks else 0)


def _name(args: argparse.Namespace) -> str:
    links = args.links or args.count
    return f"{args.kind}-{args.command}-c{args.concurrency}-{links}links"


async def profile(args: argparse.Namespace, spy: str) -> int:
    population = _population(args)
    OUTPUT.mkdir(exist_ok=True)
    name = _name(args)
    raw = OUTPUT / f"{name}.folded"
    with tempfile.TemporaryDirectory(prefix="chaster-profile-") as folder:
        async with deployment(args.kind, Path(folder), population) as deployed:
            await deployed.start(identify_timeout=120, catch_up_timeout=300)
            await deployed.warm_up()
            spy_process = await asyncio.create_subprocess_exec(
                spy,
                "record",
                "--pid",
                str(deployed.bot.pid),
                "--rate",
                str(args.rate),
                "--format",
                "raw",
                "--output",
                str(raw),
                "--nonblocking",
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                await asyncio.sleep(1.0)  # py-spy attaches
                send = _sender(args, deployed.discord, population.links)
                with CpuMeter(deployed.bot) as cpu:
                    samples = await closed_loop(
                        deployed.discord, send, args.count, args.concurrency
                    )
            finally:
                spy_process.send_signal(signal.SIGINT)  # py-spy writes its output and exits
                _, errors = await spy_process.communicate()
    first = [s.first_latency for s in samples if s.first_latency is not None]
    print(f"{name}: first response {summary_ms(first)}")
    print(f"bot CPU {cpu.bot_s * 1000 / len(samples):.2f} ms per command (wall {cpu.wall_s:.1f} s)")
    if not raw.exists():
        print(f"py-spy wrote nothing: {errors.decode(errors='replace')}", file=sys.stderr)
        return 1
    summary = fold(raw, args.top)
    (OUTPUT / f"{name}.txt").write_text(summary + "\n", encoding="utf-8")
    print(summary)
    print(f"\nraw stacks: {raw}")
    return 0


def segments(
    samples: list[Sample], chaster_calls: list[Any], feed: dict[int, float]
) -> dict[str, list[float]]:
    """Per command: dispatch -> first callback -> Chaster GET -> Chaster POST assign -> feed
    message -> final answer (the steps a command has; status has no POST and no feed)."""
    gets: dict[str, float] = {}
    assigns: dict[str, float] = {}
    for call in chaster_calls:
        sid = call.path.split("/")[4]
        if call.method == "GET":
            gets.setdefault(sid, call.at)
        elif call.path.endswith("/tasks/assign"):
            assigns.setdefault(sid, call.at)
    out: dict[str, list[float]] = {}
    for sample in samples:
        sid = session_id(wearer_index(sample.wearer_id))
        stamps = [
            ("INTERACTION_CREATE", sample.dispatched_at),
            ("first callback", sample.first_at),
            ("Chaster GET", gets.get(sid)),
            ("Chaster POST assign", assigns.get(sid)),
            ("feed message", feed.get(sample.wearer_id)),
            ("final answer", sample.final_at),
        ]
        present = [(name, at) for name, at in stamps if at is not None]
        for (name_a, at_a), (name_b, at_b) in itertools.pairwise(present):
            out.setdefault(f"{name_a} -> {name_b}", []).append(at_b - at_a)
    return out


async def instrument(args: argparse.Namespace) -> int:
    population = _population(args)
    name = _name(args) + "-instrumented"
    with tempfile.TemporaryDirectory(prefix="chaster-profile-") as folder:
        async with deployment("ours", Path(folder), population, instrumented=True) as deployed:
            await deployed.start(identify_timeout=120, catch_up_timeout=300)
            await deployed.warm_up()
            before = await deployed.bot.counters()
            chaster_mark, discord_mark = len(deployed.chaster.calls), len(deployed.discord.calls)
            send = _sender(args, deployed.discord, population.links)
            with CpuMeter(deployed.bot) as cpu:
                samples = await closed_loop(deployed.discord, send, args.count, args.concurrency)
            await wait_chaster_quiet(deployed.chaster, timeout=10.0, quiet=0.3)
            after = await deployed.bot.counters()
            steps = segments(
                samples,
                deployed.chaster.calls[chaster_mark:],
                feed_posts(deployed.discord, discord_mark),
            )
    n = len(samples)
    delta = {key: after.get(key, 0) - before.get(key, 0) for key in sorted(after)}
    first = [s.first_latency for s in samples if s.first_latency is not None]
    final = [s.final_at - s.dispatched_at for s in samples if s.final_at is not None]
    lines = [
        f"{name}: {n} commands in {cpu.wall_s:.1f} s ({n / cpu.wall_s:.0f}/s)",
        f"first response {summary_ms(first)}",
        f"final answer   {summary_ms(final)}",
        f"bot CPU {1000 * cpu.bot_s / n:.2f} ms per command, "
        f"{100 * cpu.bot_s / cpu.wall_s:.0f}% of one core",
        "per command:",
    ]
    for key, value in delta.items():
        if key in ("db_lock_wait", "db_lock_held"):
            lines.append(f"  {key:28s} {1000 * value / n:9.2f} ms")
        elif value:
            lines.append(f"  {key:28s} {value / n:9.2f}")
    held = delta.get("db_lock_held", 0.0)
    lines.append(f"database lock held {100 * held / cpu.wall_s:.0f}% of the run's wall time")
    lines.append("steps of one command, as the fakes saw them (ms):")
    for step, values in steps.items():
        lines.append(f"  {step:34s} {summary_ms(values)}")
    text = "\n".join(lines)
    OUTPUT.mkdir(exist_ok=True)
    (OUTPUT / f"{name}.txt").write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.instrument:
        return asyncio.run(instrument(args))
    spy = find_py_spy()
    if spy is None:
        print("py-spy not found: .venv/bin/pip install py-spy", file=sys.stderr)
        return 2
    return asyncio.run(profile(args, spy))


if __name__ == "__main__":
    sys.exit(main())
