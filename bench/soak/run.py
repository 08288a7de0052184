"""`python -m bench soak`: the real bot under a random mix of use and faults, for N minutes.

One seeded generator chooses every action, fault, target and pause between steps, so a seed
replays the same run (the timings of the processes themselves still vary). The safety
invariants are checked every few seconds while the run goes on; when the time is up, every
fault ends, the bot is given time to catch up, and everything is checked once more, the feed's
convergence included. A violation prints the seed, the step and the transcript around it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import kill_leftovers
from bench.soak.faults import Faults
from bench.soak.invariants import Checks, Violation, snapshot
from bench.soak.people import People, set_up
from bench.soak.record import Record
from bench.soak.world import (
    CHANNEL_A,
    CHANNEL_B,
    GUILD_A,
    GUILD_B,
    WEBHOOK_PASSWORD,
    WEBHOOK_USER,
    World,
    make_fakes,
    members_of,
    people,
)

# Four keyholders with four wearers each in server A, two with four each in server B.
SERVERS = ((GUILD_A, CHANNEL_A, 4), (GUILD_B, CHANNEL_B, 2))
WEARERS_EACH = 4
FAULT_SHARE = 0.12  # of the steps
RESTART_EVERY = 150.0  # seconds between SIGKILL/SIGTERM restarts, on average
CHECK_EVERY = 5.0  # seconds between two rounds of the continuous checks
CONVERGE_SECONDS = 150.0  # for the bot to catch up once the faults stop


@dataclass
class Report:
    seed: int
    minutes: float
    steps: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    checks: Counter[str] = field(default_factory=Counter)
    violations: list[Violation] = field(default_factory=list)
    restarts: int = 0
    converged_after_s: float | None = None
    rss_mb: list[tuple[int, float | None, float | None, float]] = field(default_factory=list)
    elapsed_s: float = 0.0
    transcript: str = ""

    def summary(self) -> str:
        lines = [
            f"seed {self.seed}, {self.minutes:g} minute(s): {self.steps} steps"
            f" in {self.elapsed_s:.0f} s",
            f"restarts: {self.restarts}",
            "actions: " + ", ".join(f"{k} {v}" for k, v in sorted(self.actions.items())),
            "faults: " + ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items())),
            "checks: " + ", ".join(f"{k} {v}" for k, v in sorted(self.checks.items())),
            "converged after: "
            + ("never" if self.converged_after_s is None else f"{self.converged_after_s:.1f} s"),
        ]
        for pid, ready, last, lived in self.rss_mb:
            lines.append(
                f"bot pid {pid}: RSS {ready} MB when ready, {last} MB at its end ({lived:.0f} s)"
            )
        lines.append(f"violations: {len(self.violations)}")
        return "\n".join(lines)


async def soak(minutes: float, seed: int, folder: Path) -> Report:
    rng = random.Random(seed)  # noqa: S311 (a repeatable run, not a secret)
    report = Report(seed, minutes)
    began = time.monotonic()
    keyholders, pairs = people(SERVERS, WEARERS_EACH)
    discord, chaster = make_fakes(pairs)
    async with discord, chaster:
        world = World(discord, chaster, folder, keyholders, pairs)
        chaster.webhook_url = world.webhook_url
        chaster.webhook_auth = (WEBHOOK_USER, WEBHOOK_PASSWORD)
        # Before the bot connects: its every IDENTIFY then gets both servers.
        await discord.join_other_server(GUILD_B, CHANNEL_B, members=members_of(GUILD_B, pairs))
        record = Record(seed)
        everyone = People(world, record, rng)
        faults = Faults(world, record, rng)
        checks = Checks(world, record)
        try:
            await world.start_bot()
            await set_up(world, everyone)
            record.note("set up: every pair linked, libraries and consequences in place")
            report.violations = await run_steps(
                world, record, everyone, faults, checks, rng, minutes
            )
            if not report.violations:
                record.note("faults end; the bot catches up")
                await faults.settle()
                report.converged_after_s, late = await converge(checks, world)
                report.violations = [*late, *checks.final()]
            world.sample_memory()
        finally:
            if world.bot is not None:
                await world.end_life("sigterm")
            await stop_background(faults)
        report.steps = record.step
        report.actions, report.faults, report.checks = record.actions, record.faults, record.checks
        report.restarts = sum(record.faults[k] for k in ("sigkill", "sigterm"))
        report.rss_mb = [
            (
                life.pid,
                life.rss_mb_ready,
                life.rss_mb_last,
                (life.ended or time.monotonic()) - life.started,
            )
            for life in world.lives
        ]
        if report.violations:
            first = report.violations[0]
            report.transcript = (
                record.around(first.step) + "\n--- bot log (tail) ---\n" + world.log_tail()
            )
    report.elapsed_s = time.monotonic() - began
    return report


async def run_steps(
    world: World,
    record: Record,
    everyone: People,
    faults: Faults,
    checks: Checks,
    rng: random.Random,
    minutes: float,
) -> list[Violation]:
    """Steps until the time is up, or until a continuous check fails."""
    length = minutes * 60.0
    started = time.monotonic()
    # A SIGKILL and a SIGTERM in every run, however short, and more at random in a long one.
    planned = [(started + length * 0.3, "sigkill"), (started + length * 0.65, "sigterm")]
    last_check = started
    while time.monotonic() - started < length:
        record.step += 1
        now = time.monotonic()
        if planned and now >= planned[0][0] and world.up and not faults.restarting:
            await faults.end_and_restart(planned.pop(0)[1])
        elif rng.random() < (1.0 / RESTART_EVERY) * 0.9:
            await faults.end_and_restart(rng.choice(["sigkill", "sigterm"]))
        elif rng.random() < FAULT_SHARE:
            await faults.inject()
        else:
            await everyone.act()
        if time.monotonic() - last_check >= CHECK_EVERY:
            last_check = time.monotonic()
            world.sample_memory()
            found = checks.continuous()
            if found:
                return found
        await asyncio.sleep(rng.uniform(0.4, 1.4))  # the pace of people, chosen by the seed
    return []


async def converge(checks: Checks, world: World) -> tuple[float | None, list[Violation]]:
    """Wait for the feed and the bot's tasks to agree with Chaster; the last disagreement if
    they never do."""
    started = time.monotonic()
    found: list[Violation] = []
    while time.monotonic() - started < CONVERGE_SECONDS:
        data = snapshot(world)
        found = checks.tasks_agree(data) + checks.feed_converged(data)
        if not found:
            return time.monotonic() - started, []
        await asyncio.sleep(2.0)  # the bot's sweep and feed edits take their time
    return None, found


async def stop_background(faults: Faults) -> None:
    for task in list(faults.background):
        task.cancel()
    for task in list(faults.background):
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench soak",
        description="Run the real bot under a random mix of use and faults, checking invariants.",
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="how long (default 10)")
    parser.add_argument("--seed", type=int, default=None, help="the run's seed (default: random)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**6)
    print(f"soak: seed {seed}, {args.minutes:g} minute(s)", flush=True)
    try:
        with tempfile.TemporaryDirectory(prefix="chaster-soak-") as folder:
            report = asyncio.run(soak(args.minutes, seed, Path(folder)))
    except KeyboardInterrupt:
        print("interrupted; every process the soak started has been stopped", file=sys.stderr)
        return 130
    finally:
        kill_leftovers()
    print(report.summary())
    if report.violations:
        for violation in report.violations[:20]:
            print(f"VIOLATION at step {violation.step}: {violation.invariant}: {violation.detail}")
        print(f"seed {report.seed}; transcript around step {report.violations[0].step}:")
        print(report.transcript)
        return 1
    return 0
