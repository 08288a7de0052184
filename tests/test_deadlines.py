"""Deadlines and their reminders: an open task whose deadline passes is failed in Chaster as
the extension, once; never while it awaits the keyholder's confirmation or while the link is
paused (resuming moves the deadline later); the wearer is reminded once before it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.core.errors import ChasterRefused, Reason, Typed
from bot.core.library import Source
from bot.core.model import EventKind, TaskAction
from bot.jobs.timers import DEADLINE_RETRY
from bot.store import Task, TaskState
from tests.core_env import (
    CHANNEL,
    COMPLETE,
    KH,
    WEARER,
    WR,
    CoreEnv,
    refused,
)
from tests.test_sync import timers_of

MINUTE = 60


async def with_deadline(env: CoreEnv, deadline: str = "30m", **options: object) -> Task:
    """WEARER linked, with the timers listening, and given a task with `deadline`."""
    await env.linked()
    timers_of(env)
    task = await env.core.tasks.assign(
        KH,
        WEARER,
        description="Write 100 lines",
        points=5,
        deadline=deadline,
        channel_id=CHANNEL,
        **options,  # type: ignore[arg-type]
    )
    env.fake.calls.clear()
    return task


def fails_sent(env: CoreEnv) -> list[dict[str, object]]:
    return [call.json for call in env.posts("complete")]


def reminders(env: CoreEnv) -> list[int]:
    return [e.task.id for e in env.feed.events if e.kind is EventKind.DEADLINE_REMINDER]


def failed_in_chaster(env: CoreEnv) -> int:
    return sum(log["type"] == "tasks_task_failed" for log in env.session.action_logs)


# ---------------------------------------------------------------------------------- expiry


async def test_a_task_is_failed_once_at_its_deadline_as_the_extension(env: CoreEnv) -> None:
    task = await with_deadline(env, "30m")
    assert task.deadline_at == task.assigned_at + timedelta(minutes=30)
    env.advance(30 * MINUTE - 1)
    await env.run_due()
    assert fails_sent(env) == []
    assert (await env.only_task()).state is TaskState.ASSIGNED

    env.advance(1)
    await env.run_due()
    assert fails_sent(env) == [{"actor": "extension", "isCompleted": False}]
    failed = await env.only_task()
    assert failed.state is TaskState.FAILED
    assert failed.deadline_missed_at == task.deadline_at
    assert failed.closed_at == task.deadline_at
    assert failed.missed_deadline
    assert env.session.current_task is None
    assert env.feed.by()[-1] == (EventKind.FAILED, None)
    assert ("deadline.missed", "ok") in await env.audit()

    # However often it is looked at again, nothing more is sent.
    assert await env.core.deadlines.expire(task.id) is None
    env.advance(3600)
    await env.run_due()
    assert len(fails_sent(env)) == 1
    assert env.feed.kinds().count(EventKind.FAILED) == 1


async def test_a_deadline_is_not_acted_on_before_it_comes(env: CoreEnv) -> None:
    task = await with_deadline(env, "1h")
    env.advance(59 * MINUTE)
    assert await env.core.deadlines.expire(task.id) is None
    assert env.fake.calls == []
    assert (await env.only_task()).deadline_missed_at is None


async def test_deadlines_pending_at_start_up_are_loaded(env: CoreEnv) -> None:
    await env.linked()
    await env.core.tasks.assign(
        KH, WEARER, description="Plank", points=1, deadline="10m", channel_id=CHANNEL
    )
    # The bot restarts after the deadline: the timers find it in the store.
    env.advance(20 * MINUTE)
    assert len(env.later) == 0
    timers = timers_of(env)
    await timers.start()
    await timers.deadlines.stop()
    await env.run_due()
    assert fails_sent(env) == [{"actor": "extension", "isCompleted": False}]
    assert (await env.only_task()).state is TaskState.FAILED


async def test_not_while_the_task_awaits_confirmation(env: CoreEnv) -> None:
    await env.allow_wearer_complete(False)
    task = await with_deadline(env, "30m")
    awaiting = await env.act(WR, COMPLETE)
    assert awaiting.state is TaskState.AWAITING_CONFIRMATION
    env.advance(31 * MINUTE)
    await env.run_due()
    assert await env.core.deadlines.expire(task.id) is None
    assert fails_sent(env) == []
    current = await env.only_task()
    assert current.state is TaskState.AWAITING_CONFIRMATION
    assert current.deadline_missed_at is None

    # Rejected after the deadline: it is open again, and failed at once.
    await env.act(KH, TaskAction.REJECT)
    await env.run_due()
    assert fails_sent(env) == [{"actor": "extension", "isCompleted": False}]
    assert (await env.only_task()).missed_deadline


async def test_a_pause_moves_the_deadline_later_by_its_length(env: CoreEnv) -> None:
    task = await with_deadline(env, "1h")
    assert task.deadline_at is not None
    env.advance(10 * MINUTE)
    await env.core.pause.pause(WR, WEARER, "cramp")
    env.advance(2 * 3600)
    await env.run_due()
    # The deadline passed during the pause: nothing at all was asked of Chaster.
    assert env.fake.calls == []
    assert (await env.only_task()).state is TaskState.ASSIGNED

    await env.core.pause.resume(WR, WEARER)
    moved = await env.only_task()
    assert moved.deadline_at == task.deadline_at + timedelta(hours=2)
    assert moved.deadline_missed_at is None
    await env.run_due()
    assert env.fake.calls == []
    env.advance(50 * MINUTE - 1)
    await env.run_due()
    assert fails_sent(env) == []
    env.advance(1)
    await env.run_due()
    assert fails_sent(env) == [{"actor": "extension", "isCompleted": False}]
    failed = await env.only_task()
    assert failed.state is TaskState.FAILED
    assert failed.deadline_missed_at == moved.deadline_at


async def test_chaster_unavailable_at_the_deadline_is_tried_again_and_fails_once(
    env: CoreEnv, caplog: pytest.LogCaptureFixture
) -> None:
    task = await with_deadline(env, "30m")
    env.advance(30 * MINUTE)
    await env.fake.go_offline()
    with refused(Reason.CHASTER_UNAVAILABLE, ChasterRefused):
        await env.core.deadlines.expire(task.id)
    # Nothing is decided before Chaster shows the task still open: it stays as it was.
    marked = await env.only_task()
    assert marked.state is TaskState.ASSIGNED
    assert marked.deadline_missed_at is None
    # The timer's own try fails too, and is put back for later.
    caplog.clear()
    await env.run_due()
    assert failed_in_chaster(env) == 0
    # Found by the soak: an expected Chaster failure was logged as an error with a traceback.
    [retry] = [r for r in caplog.records if r.name == "bot.jobs.timers"]
    assert retry.levelname == "WARNING" and retry.exc_info is None
    assert retry.getMessage() == (
        f"the deadline of task {task.id} could not be acted on (refusal.chaster-unavailable "
        "trouble=(trouble.unreachable) consequence=(consequence.nothing-changed)); trying again"
    )
    await env.fake.go_online()
    env.advance(DEADLINE_RETRY.total_seconds())
    await env.run_due()
    assert fails_sent(env) == [{"actor": "extension", "isCompleted": False}]
    assert failed_in_chaster(env) == 1
    failed = await env.only_task()
    # Decided when it was acted on, after the retry.
    assert failed.state is TaskState.FAILED and failed.deadline_missed_at == env.clock.now()
    env.advance(3600)
    await env.run_due()
    assert len(fails_sent(env)) == 1


async def test_a_server_error_on_the_fail_is_tried_again_once_it_did_not_land(
    env: CoreEnv,
) -> None:
    task = await with_deadline(env, "30m")
    env.advance(30 * MINUTE)
    env.fake.fail_next("POST", "/tasks/complete", 503, "Service Unavailable")
    with refused(Reason.CHASTER_UNAVAILABLE, ChasterRefused):
        await env.core.deadlines.expire(task.id)
    assert failed_in_chaster(env) == 0
    failed = await env.core.deadlines.expire(task.id)
    assert failed is not None and failed.state is TaskState.FAILED
    assert failed_in_chaster(env) == 1
    assert await env.core.deadlines.expire(task.id) is None
    assert len(fails_sent(env)) == 2


async def test_a_lost_answer_to_the_fail_is_never_sent_again(env: CoreEnv) -> None:
    task = await with_deadline(env, "30m")
    env.advance(30 * MINUTE)
    env.fake.drop_next("POST", "/tasks/complete", apply=True)
    await env.run_due()
    assert len(fails_sent(env)) == 1
    assert failed_in_chaster(env) == 1
    failed = await env.only_task()
    assert failed.state is TaskState.FAILED and failed.missed_deadline
    assert await env.core.deadlines.expire(task.id) is None
    assert len(fails_sent(env)) == 1


async def test_a_task_completed_in_chaster_just_before_is_not_failed(env: CoreEnv) -> None:
    task = await with_deadline(env, "30m")
    env.advance(30 * MINUTE - 5)
    env.fake.finish_in_app(env.session.session_id, completed=True)
    env.advance(5)
    await env.run_due()
    assert await env.core.deadlines.expire(task.id) is None
    assert fails_sent(env) == []
    assert failed_in_chaster(env) == 0
    closed = await env.only_task()
    assert closed.state is TaskState.COMPLETED
    assert not closed.missed_deadline
    assert env.feed.by()[-1] == (EventKind.COMPLETED, None)


async def test_a_task_replaced_in_chaster_is_not_failed(env: CoreEnv) -> None:
    """Chaster's complete acts on whatever task is current: a task the wearer got inside
    Chaster meanwhile must not be failed for the old one's deadline."""
    task = await with_deadline(env, "30m")
    env.fake.finish_in_app(env.session.session_id, completed=True)
    env.fake.assign_in_app(env.session.session_id, "Something new", 2)
    env.advance(30 * MINUTE)
    await env.run_due()
    assert await env.core.deadlines.expire(task.id) is None
    assert fails_sent(env) == []
    assert env.session.current_task is not None
    assert env.session.current_task["task"] == "Something new"


# ---------------------------------------------------------------------------------- reminders


async def test_the_wearer_is_reminded_once_at_the_lead(env: CoreEnv) -> None:
    task = await with_deadline(env, "1h")
    env.advance(45 * MINUTE - 1)
    await env.run_due()
    assert reminders(env) == []
    env.advance(1)
    await env.run_due()
    assert reminders(env) == [task.id]
    reminded = await env.only_task()
    assert reminded.reminded_at == task.assigned_at + timedelta(minutes=45)
    assert await env.core.deadlines.remind(task.id) is None
    assert await env.core.deadlines.reminder_of(task.id) is None
    env.advance(10 * MINUTE)
    await env.run_due()
    assert reminders(env) == [task.id]
    # A reminder is the bot's own message: Chaster hears nothing of it.
    assert env.fake.calls == []


async def test_the_keyholder_sets_the_lead(env: CoreEnv) -> None:
    await env.linked()
    link = await env.core.penalties.remind(KH, WEARER, "5m")
    assert link.remind_before_seconds == 300
    with refused(Reason.SPAN_OUT_OF_RANGE):
        await env.core.penalties.remind(KH, WEARER, "30s")
    timers_of(env)
    task = await env.core.tasks.assign(
        KH, WEARER, description="Plank", points=1, deadline="20m", channel_id=CHANNEL
    )
    env.advance(15 * MINUTE - 1)
    await env.run_due()
    assert reminders(env) == []
    env.advance(1)
    await env.run_due()
    assert reminders(env) == [task.id]


async def test_no_reminder_for_a_deadline_shorter_than_twice_the_lead(env: CoreEnv) -> None:
    task = await with_deadline(env, "29m")
    assert await env.core.deadlines.reminder_of(task.id) is None
    for _ in range(30):
        env.advance(MINUTE)
        await env.run_due()
    assert reminders(env) == []
    assert (await env.only_task()).state is TaskState.FAILED


async def test_no_reminder_while_paused(env: CoreEnv) -> None:
    task = await with_deadline(env, "1h")
    env.advance(40 * MINUTE)
    await env.core.pause.pause(KH, WEARER)
    env.advance(10 * MINUTE)
    await env.run_due()
    assert await env.core.deadlines.remind(task.id) is None
    assert reminders(env) == []
    assert (await env.only_task()).reminded_at is None
    assert env.fake.calls == []
    # After the pause the reminder comes at the moved deadline's lead.
    env.advance(20 * MINUTE)
    await env.core.pause.resume(KH, WEARER)
    await env.run_due()
    assert reminders(env) == []
    env.advance(15 * MINUTE)
    await env.run_due()
    assert reminders(env) == [task.id]


# ---------------------------------------------------------------------------------- the option


@pytest.mark.parametrize(
    ("typed", "seconds"),
    [("1m", 60), ("30m", 1800), ("2h", 7200), ("1d", 86_400), ("7d", 604_800)],
)
async def test_deadline_syntax(env: CoreEnv, typed: str, seconds: int) -> None:
    task = await with_deadline(env, typed)
    assert task.deadline_at == task.assigned_at + timedelta(seconds=seconds)


@pytest.mark.parametrize(("typed", "shown"), [("59s", "59s"), ("7d1s", "7d 1s")])
async def test_deadlines_out_of_bounds_are_refused(env: CoreEnv, typed: str, shown: str) -> None:
    await env.linked()
    await env.core.library.add(KH, description="Plank", points=1)
    bounds: dict[str, Any] = {
        "input": Typed(typed),
        "duration": shown,
        "shortest": "1m",
        "longest": "7d",
    }
    with refused(Reason.SPAN_OUT_OF_RANGE, **bounds):
        await env.core.tasks.assign(
            KH, WEARER, description="Lines", points=1, deadline=typed, channel_id=CHANNEL
        )
    with refused(Reason.SPAN_OUT_OF_RANGE, **bounds):
        await env.core.tasks.random(
            KH, WEARER, source=Source.LIBRARY, deadline=typed, channel_id=CHANNEL
        )
    with refused(Reason.SPAN_OUT_OF_RANGE, **bounds):
        await env.core.library.add(KH, description="Squats", points=1, deadline=typed)
    assert env.fake.calls == []
    assert await env.count("tasks") == 0


async def test_a_random_draw_and_a_library_entry_carry_deadlines(env: CoreEnv) -> None:
    await env.linked(user_tasks=[])
    entry = await env.core.library.add(KH, description="Plank", points=1, deadline="2h")
    assert entry.deadline_seconds == 7200
    drawn = await env.core.tasks.random(KH, WEARER, source=Source.LIBRARY, channel_id=CHANNEL)
    assert drawn.deadline_at == drawn.assigned_at + timedelta(hours=2)
    await env.act(KH, COMPLETE)
    override = await env.core.tasks.random(
        KH, WEARER, source=Source.LIBRARY, deadline="15m", channel_id=CHANNEL
    )
    assert override.deadline_at == override.assigned_at + timedelta(minutes=15)
    await env.act(KH, COMPLETE)
    named = await env.core.tasks.assign(KH, WEARER, description="Plank", channel_id=CHANNEL)
    assert named.deadline_at == named.assigned_at + timedelta(hours=2)


async def test_chaster_refusing_the_fail_is_not_sent_again_and_again(env: CoreEnv) -> None:
    # Chaster does not let the API close a task that needs a photo.
    task = await with_deadline(env, "30m", verification_required=True)
    env.advance(30 * MINUTE)
    for _ in range(10):
        await env.run_due()
        env.advance(DEADLINE_RETRY.total_seconds())
    assert len(fails_sent(env)) == 1
    assert ("deadline.missed", "refused") in await env.audit()
    # Still open: the wearer can still send the photo, and the decision stands.
    still = await env.only_task()
    assert still.state is TaskState.ASSIGNED
    assert still.deadline_missed_at == task.deadline_at
    # Failed in Chaster since (the keyholder, in the app): it ends as a missed deadline.
    env.fake.finish_in_app(env.session.session_id, completed=False, role="keyholder")
    await env.core.sync.sync_session(env.session.session_id)
    assert (await env.only_task()).missed_deadline
