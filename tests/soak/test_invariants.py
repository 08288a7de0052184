"""The soak's checks catch what they are for: each is shown a history that breaks it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bench.harness import BenchDiscord
from bench.soak.invariants import PAUSED, Checks, Snapshot, episodes
from bench.soak.record import Record, Sent
from bench.soak.world import GUILD_A, SECRETS, SLUG, World, make_fakes, people
from tests.fakes.chaster import FakeChaster
from tests.fakes.discord import RecordedCall


@pytest.fixture
def world(tmp_path: Path) -> World:
    keyholders, pairs = people(((GUILD_A, 2000, 1),), 1)
    discord, chaster = make_fakes(pairs)
    assert isinstance(discord, BenchDiscord)
    return World(discord, chaster, tmp_path, keyholders, pairs)


def session_id(world: World) -> str:
    return world.pairs[0].session_id


def assigned(chaster: FakeChaster, session: str, text: str, *, by_bot: bool = True) -> None:
    chaster._do_assign(
        chaster.sessions[session],
        {"task": text, "points": 1},
        role="extension" if by_bot else "keyholder",
        extension=SLUG if by_bot else None,
    )


def finished(chaster: FakeChaster, session: str, *, completed: bool) -> None:
    chaster._do_finish(
        chaster.sessions[session], completed=completed, role="extension", extension=SLUG
    )


def snapshot(world: World, tasks: list[dict[str, Any]], **rows: list[dict[str, Any]]) -> Snapshot:
    link = {
        "id": 1,
        "guild_id": GUILD_A,
        "chaster_session_id": session_id(world),
        "paused_at": None,
        "closed_at": None,
    }
    return Snapshot(
        links=[link],  # type: ignore[list-item]
        tasks=[{"link_id": 1, "schedule_id": None, "deadline_missed_at": None, **t} for t in tasks],  # type: ignore[misc]
        consequences=rows.get("consequences", []),  # type: ignore[arg-type]
        chaster_logs=rows.get("chaster_logs", []),  # type: ignore[arg-type]
        penalties=[],
        schedules=[],
    )


def task(n: int, description: str, state: str) -> dict[str, Any]:
    return {"id": n, "description": description, "state": state, "assigned_at": "2026-01-01"}


def test_a_history_read_as_tasks(world: World) -> None:
    chaster, session = world.chaster, session_id(world)
    assigned(chaster, session, "One")
    finished(chaster, session, completed=True)
    assigned(chaster, session, "Two", by_bot=False)

    found = episodes(chaster.sessions[session].action_logs)

    assert [(e.description, e.by_bot, e.outcome) for e in found] == [
        ("One", True, "completed"),
        ("Two", False, None),
    ]


def test_tasks_that_agree_pass(world: World) -> None:
    chaster, session = world.chaster, session_id(world)
    assigned(chaster, session, "One")
    finished(chaster, session, completed=False)
    assigned(chaster, session, "Unseen in-app task", by_bot=False)
    finished(chaster, session, completed=True)
    assigned(chaster, session, "Two")
    checks = Checks(world, Record(1))

    data = snapshot(world, [task(1, "One", "failed"), task(2, "Two", "assigned")])

    assert checks.tasks_agree(data) == []


def test_a_second_assign_for_one_task_is_caught(world: World) -> None:
    chaster, session = world.chaster, session_id(world)
    assigned(chaster, session, "One")
    finished(chaster, session, completed=True)
    assigned(chaster, session, "One")  # sent again for the same intent
    checks = Checks(world, Record(1))

    found = checks.tasks_agree(snapshot(world, [task(1, "One", "completed")]))

    assert [v.invariant for v in found] == ["one-assign-per-task"]


def test_a_task_chaster_never_got_is_caught(world: World) -> None:
    checks = Checks(world, Record(1))

    found = checks.tasks_agree(snapshot(world, [task(1, "Lost", "assigned")]))

    assert [v.invariant for v in found] == ["accepted-not-lost"]


def test_a_completion_that_landed_on_the_wrong_outcome_is_caught(world: World) -> None:
    chaster, session = world.chaster, session_id(world)
    assigned(chaster, session, "One")
    finished(chaster, session, completed=False)
    checks = Checks(world, Record(1))

    found = checks.tasks_agree(snapshot(world, [task(1, "One", "completed")]))

    assert [v.invariant for v in found] == ["tasks-agree"]


def test_time_added_twice_for_one_consequence_is_caught(world: World) -> None:
    chaster, session = world.chaster, session_id(world)
    for _ in range(2):
        chaster._change_time(chaster.sessions[session], 600)
    checks = Checks(world, Record(1))
    consequence = {"link_id": 1, "state": "applied"}

    found = checks.writes_not_doubled(snapshot(world, [], consequences=[consequence]), final=False)

    assert [v.invariant for v in found] == ["one-consequence-per-occasion"]


class Answered:
    """An interaction handle as the checks read it: when it was sent and its answers."""

    def __init__(self, text: str | None, *, late: bool = False) -> None:
        self.id = 1
        self.dispatched_at = time.monotonic() - 10
        self._responses = []
        if text is not None:
            data = {"type": 4, "data": {"content": text}}
            at = self.dispatched_at + 0.1
            self._responses.append(
                {"kind": "callback", "status": 200, "late": late, "body": data, "at": at}
            )

    def responses(self) -> list[dict[str, Any]]:
        return self._responses


def test_time_added_to_a_paused_lock_is_caught(world: World) -> None:
    chaster, session = world.chaster, session_id(world)
    record = Record(1)
    record.began = time.monotonic() - 60
    record.sent.append(Sent(1, Answered(PAUSED + "<@1> …"), "pause", session))  # type: ignore[arg-type]
    checks = Checks(world, record)
    # Chaster's clock: a minute after the pause was answered.
    paused_at = checks.wall(record.sent[0].handle.dispatched_at + 0.1)
    chaster._offset = (paused_at + timedelta(minutes=1) - datetime.now(UTC)).total_seconds()
    chaster._change_time(chaster.sessions[session], 600)

    found = checks.paused_links_untouched(snapshot(world, []))

    assert [v.invariant for v in found] == ["paused-untouched"]


def test_an_interaction_answered_late_or_never_is_caught(world: World) -> None:
    record = Record(1)
    record.sent += [
        Sent(1, Answered("ok"), "status", None),  # type: ignore[arg-type]
        Sent(2, Answered("late", late=True), "status", None),  # type: ignore[arg-type]
        Sent(3, Answered(None), "status", None),  # type: ignore[arg-type]
        Sent(4, Answered(None), "status", None, up=False),  # type: ignore[arg-type]
    ]
    checks = Checks(world, record)

    found = checks.first_responses(final=False)

    assert [v.step for v in found] == [2, 3]


def test_an_error_in_the_bots_log_is_caught(world: World) -> None:
    world.log_path.write_text(
        "2026-12-04 03:43:25,424 WARNING bot.chaster.transport: chaster ... retrying\n"
        "2026-12-04 03:43:25,727 ERROR   bot.core.events: event handler failed\n"
        "Traceback (most recent call last):\n"
    )
    checks = Checks(world, Record(1))

    found = checks.no_error_logged(checks._new_log())

    assert [v.invariant for v in found] == ["no-error-logged", "no-error-logged"]
    assert checks.no_error_logged(checks._new_log()) == []  # each line is read once


def test_a_secret_in_a_request_is_caught(world: World) -> None:
    checks = Checks(world, Record(1))
    world.discord.calls.append(
        RecordedCall("POST", "/channels/1/messages", {}, {"content": SECRETS[1]}, 0.0)
    )

    found = checks.no_secret("")

    assert [v.invariant for v in found] == ["no-secret"]
