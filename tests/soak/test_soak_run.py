"""A minute of the soak in every test run: `python -m bench soak --minutes 1 --seed 20261204`.

The real bot (`python -m bot`) under a minute of mixed use and faults, a SIGKILL and a SIGTERM
among them, checked by every invariant of `bench/soak/invariants.py`.
"""

from __future__ import annotations

from pathlib import Path

from bench.soak.run import soak

SEED = 20261204


async def test_a_minute_of_mixed_use_and_faults_breaks_no_invariant(tmp_path: Path) -> None:
    report = await soak(1.0, SEED, tmp_path)

    assert report.violations == [], report.summary() + "\n" + report.transcript
    assert report.converged_after_s is not None
    # The minute held what it is for: restarts both ways, faults, people acting.
    assert report.faults["sigkill"] >= 1 and report.faults["sigterm"] >= 1
    assert sum(report.faults.values()) >= 6
    assert report.actions["assign"] >= 5
    assert all(count > 0 for count in report.checks.values())
