"""`python -m bench`: run the scenarios, print the table, write bench/results.json.

`python -m bench soak [--minutes N] [--seed S]`: the long randomized run (bench/soak/)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import kill_leftovers
from bench.scenarios import SCENARIOS, Config, Figure, Report, run

RESULTS = Path(__file__).resolve().parent / "results.json"
REPO = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the real bot (python -m bot) against a floor bot, on the fakes.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer interactions and smaller data (smoke run)"
    )
    parser.add_argument(
        "--scenario",
        action="append",
        choices=SCENARIOS,
        metavar="NAME",
        help=f"run only this scenario (repeatable): {', '.join(SCENARIOS)}",
    )
    parser.add_argument(
        "--output", type=Path, default=RESULTS, help=f"results file (default {RESULTS})"
    )
    return parser.parse_args(argv)


def _value(value: float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.1f}"
    return f"{value:,.0f}"


def table(figures: list[Figure]) -> str:
    header = ("scenario", "figure", "unit", "ours", "floor", "ours/floor", "target", "met")
    rows = [header]
    for f in figures:
        met = "-" if f.met is None else ("yes" if f.met else "NO")
        rows.append(
            (
                f.scenario,
                f.name,
                f.unit,
                _value(f.ours),
                _value(f.floor),
                _value(f.ratio),
                f.target,
                met,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    numeric = {3, 4, 5}
    lines = []
    for n, row in enumerate(rows):
        cells = [
            cell.rjust(widths[i]) if i in numeric and n else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def code_version() -> dict[str, Any]:
    """The commit measured, and whether bot/ or cogs/ had uncommitted changes."""

    def git(*args: str) -> str:
        done = subprocess.run(  # noqa: S603
            ["git", "-C", str(REPO), *args],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD") or None,
        "bot_or_cogs_modified": bool(git("status", "--porcelain", "--", "bot", "cogs")),
    }


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


def write_results(path: Path, report: Report, scenarios: list[str], elapsed: float) -> None:
    payload = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "code": code_version(),
        "scenarios": scenarios,
        "elapsed_s": round(elapsed, 1),
        "figures": [asdict(f) for f in report.figures],
        "notes": report.notes,
        "details": report.details,
    }
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


async def run_until_signalled(config: Config, scenarios: list[str]) -> Report:
    """Run the scenarios; SIGINT or SIGTERM cancels them, and every `finally` on the way out
    stops the bot processes and the fakes. A second signal kills the bot processes at once."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    signals = 0

    def keep_cancelling() -> None:
        # On Python 3.11 a wait_for inside a library can swallow one cancellation.
        if not task.done():
            task.cancel()
            loop.call_later(1.0, keep_cancelling)

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            print("\nstopping: bot processes and fakes are being shut down", file=sys.stderr)
            keep_cancelling()
        else:
            kill_leftovers()
            os._exit(130)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    return await run(config, scenarios)


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    if given[:1] == ["soak"]:
        from bench.soak.run import main as soak

        return soak(given[1:])
    args = parse_args(argv)
    scenarios = [s for s in SCENARIOS if s in (args.scenario or SCENARIOS)]
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="chaster-bench-") as folder:
            config = Config.make(Path(folder), quick=args.quick)
            report = asyncio.run(run_until_signalled(config, scenarios))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; every process the benchmark started has been stopped", file=sys.stderr)
        return 130
    finally:
        kill_leftovers()
    elapsed = time.monotonic() - started
    print(table(report.figures))
    for note in report.notes:
        print(f"note: {note}")
    write_results(args.output, report, scenarios, elapsed)
    missed = [f for f in report.figures if f.met is False]
    print(
        f"\n{len(report.figures)} figures, {len(missed)} target(s) missed, "
        f"{elapsed:.0f} s; results in {args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
