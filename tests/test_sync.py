"""Keeping in step with Chaster (webhooks, single reads), timers and link-request expiry.

The real core on a temp SQLite file, its real Chaster client against the fake Chaster over
loopback (tests/core_env.py); the timers are built as the deployment builds them. Sweeps and
polling are in tests/test_sweep.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from bot.chaster import WebhookEnvelope
from bot.core.errors import Reason
from bot.core.model import EventKind, LinkEventKind
from bot.jobs.timers import Timers
from bot.store import LinkRequestState, Task, TaskState
from tests.core_env import (
    CHANNEL,
    COMPLETE,
    GUILD,
    KEYHOLDER,
    KH,
    OTHER,
    SLUG,
    START,
    STRANGER,
    WEARER,
    WR,
    CoreEnv,
    refused,
)
from tests.fakes.chaster import FakeSession

# Wearers of further locks, for the tests that need many linked sessions.
MORE_WEARERS = WEARER + 1_000


def envelope(event: str, data: dict[str, Any], request_id: str = "req-1") -> WebhookEnvelope:
    return WebhookEnvelope.model_validate(
        {
            "event": event,
            "data": data,
            "sentAt": "2026-01-01T00:00:00.000Z",
            "requestId": request_id,
        }
    )


def last_log(session: FakeSession) -> dict[str, Any]:
    return session.action_logs[-1]


def timers_of(env: CoreEnv) -> Timers:
    """The timers, wired to the core as the deployment wires them."""
    timers = Timers(
        env.store,
        env.clock.now,
        env.later,
        finish_timer=env.core.sync.finish_timer,
        expire_request=env.core.links.expire_request,
        # No poll here: a vote ends as one nobody voted in.
        end_vote=lambda vote_id: env.core.votes.finish(vote_id, None),
        task_deadlines=env.core.deadlines,
        schedules=env.core.schedules,
        consequences=env.core.consequences,
        proofs=env.core.proofs,
        retention=env.core.retention,
        chaster_history=env.core.chaster_history,
    )
    env.core.events.subscribe(timers.on_event)
    return timers


async def wait_for_event(env: CoreEnv, wanted: tuple[EventKind, int | None]) -> None:
    async with asyncio.timeout(5):
        while wanted not in env.feed.by():
            env.feed.changed.clear()
            await env.feed.changed.wait()


# ---------------------------------------------------------------------------------- webhooks


async def test_own_assign_coming_back_as_a_webhook_changes_nothing(env: CoreEnv) -> None:
    await env.linked()
    task = await env.assign()
    await env.core.sync.handle_webhook(
        envelope(
            "action_log.created",
            {"sessionId": env.session.session_id, "actionLog": last_log(env.session)},
        )
    )
    assert env.feed.by() == [(EventKind.ASSIGNED, KEYHOLDER)]
    assert await env.open_task() == await env.store.get_task(task.id)
    assert (await env.only_task()).id == task.id


async def test_task_completed_inside_chaster_is_closed_here(env: CoreEnv) -> None:
    await env.linked(enable_points=True, points_required=20, points=4)
    await env.assign(points=6)
    env.fake.finish_in_app(env.session.session_id, completed=True)
    await env.core.sync.handle_webhook(
        envelope(
            "action_log.created",
            {"sessionId": env.session.session_id, "actionLog": last_log(env.session)},
        )
    )
    task = await env.only_task()
    assert task.state is TaskState.COMPLETED
    assert (task.points_total, task.points_required, task.closed_by) == (10, 20, None)
    assert env.feed.by() == [(EventKind.ASSIGNED, KEYHOLDER), (EventKind.COMPLETED, None)]


async def test_lock_end_closes_the_link(env: CoreEnv) -> None:
    link = await env.linked()
    await env.core.sync.handle_webhook(
        envelope(
            "extension_session.deleted",
            {"session": {"sessionId": env.session.session_id}, "extension": {"slug": SLUG}},
        )
    )
    assert (await env.store.get_open_link(GUILD, WEARER)) is None
    assert env.feed.events == []
    [event] = env.feed.link_events
    assert event.kind is LinkEventKind.LOCK_ENDED
    assert event.link is not None and event.link.id == link.id and not event.link.is_open
    assert event.channel_id == CHANNEL


async def test_unrelated_webhooks_are_ignored(env: CoreEnv) -> None:
    await env.linked()
    await env.core.sync.handle_webhook(
        envelope(
            "action_log.created",
            {
                "sessionId": env.session.session_id,
                "actionLog": {"_id": "1" * 24, "type": "locked"},
            },
        )
    )
    await env.core.sync.handle_webhook(envelope("extension_session.updated", {}))
    assert env.fake.calls == []
    assert env.feed.events == [] and env.feed.link_events == []
    assert (await env.store.get_open_link(GUILD, WEARER)) is not None


# ------------------------------------------------------------------------- syncing a session


async def test_a_lock_that_lost_its_tasks_extension_closes_the_open_task_once(
    env: CoreEnv,
) -> None:
    # Chaster dropped the task with the extension: nothing can finish it, and left open it
    # would block every assign. Polling finds it the same way a command does.
    link = await env.linked()
    await env.assign()
    env.fake.remove_tasks_extension(env.session.session_id)
    await env.core.sync.sync_session(env.session.session_id)
    await env.core.sync.sync_session(env.session.session_id)
    task = await env.only_task()
    assert task.state is TaskState.FAILED and task.closed_by is None
    assert env.feed.by() == [(EventKind.ASSIGNED, KEYHOLDER), (EventKind.FAILED, None)]
    assert env.fake.count_calls("POST", "/logs/search") == 0
    link_now = await env.store.get_link(link.id)
    assert link_now is not None and link_now.is_open


async def test_failure_inside_chaster_found_by_polling_reads_history(env: CoreEnv) -> None:
    await env.linked()
    await env.assign()
    env.fake.finish_in_app(env.session.session_id, completed=False)
    await env.core.sync.sync_session(env.session.session_id)
    task = await env.only_task()
    assert task.state is TaskState.FAILED and task.closed_by is None
    assert env.fake.count_calls("POST", "/logs/search") == 1
    assert env.feed.by() == [(EventKind.ASSIGNED, KEYHOLDER), (EventKind.FAILED, None)]


async def test_unknown_outcome_is_not_guessed(env: CoreEnv) -> None:
    await env.linked()
    task = await env.assign()
    env.fake.finish_in_app(env.session.session_id, completed=True)
    env.fake.fail_next("POST", "/logs/search", 503, "Service Unavailable")
    await env.core.sync.sync_session(env.session.session_id)
    assert await env.open_task() == await env.store.get_task(task.id)
    assert env.feed.by() == [(EventKind.ASSIGNED, KEYHOLDER)]
    # The next look finds the outcome.
    await env.core.sync.sync_session(env.session.session_id)
    closed = await env.only_task()
    assert closed.id == task.id and closed.state is TaskState.COMPLETED
    assert env.feed.by() == [(EventKind.ASSIGNED, KEYHOLDER), (EventKind.COMPLETED, None)]


async def test_task_assigned_inside_chaster_gets_a_feed_message(env: CoreEnv) -> None:
    await env.linked()
    env.fake.assign_in_app(env.session.session_id, "Write lines", points=2, duration=600)
    await env.core.sync.sync_session(env.session.session_id)
    task = await env.open_task()
    assert task is not None
    assert (task.description, task.points, task.duration_seconds, task.assigned_by) == (
        "Write lines",
        2,
        600,
        None,
    )
    [event] = env.feed.events
    assert event.kind is EventKind.ASSIGNED and event.channel_id == CHANNEL
    assert event.task.id == task.id and event.by_user_id is None
    # A second look (a poll after the webhook) finds nothing new.
    await env.core.sync.sync_session(env.session.session_id)
    assert env.feed.by() == [(EventKind.ASSIGNED, None)]
    assert (await env.only_task()).id == task.id


async def test_replaced_task_closes_the_old_one_and_records_the_new(env: CoreEnv) -> None:
    await env.linked()
    first = await env.assign(description="First")
    env.fake.finish_in_app(env.session.session_id, completed=True)
    env.fake.assign_in_app(env.session.session_id, "Second")
    await env.core.sync.sync_session(env.session.session_id)
    open_task = await env.open_task()
    assert open_task is not None and open_task.description == "Second"
    closed = await env.store.get_task(first.id)
    assert closed is not None and closed.state is TaskState.COMPLETED
    assert env.feed.by() == [
        (EventKind.ASSIGNED, KEYHOLDER),
        (EventKind.COMPLETED, None),
        (EventKind.ASSIGNED, None),
    ]


async def test_vanished_session_closes_the_link(env: CoreEnv) -> None:
    link = await env.linked()
    del env.fake.sessions[env.session.session_id]
    await env.core.sync.sync_session(env.session.session_id)
    assert (await env.store.get_open_link(GUILD, WEARER)) is None
    [event] = env.feed.link_events
    assert event.kind is LinkEventKind.LOCK_ENDED
    assert event.link is not None and event.link.id == link.id


async def test_task_text_from_chaster_is_cleaned_of_control_characters(env: CoreEnv) -> None:
    await env.linked()
    env.fake.assign_in_app(env.session.session_id, "\x00Kneel\x07 now")
    await env.core.sync.sync_session(env.session.session_id)
    task = await env.open_task()
    assert task is not None and task.description == "Kneel  now"


async def test_a_long_chaster_task_is_still_matched_and_closed(env: CoreEnv) -> None:
    await env.linked()
    long_text = "Line one\r\n" + "x" * 600
    env.fake.assign_in_app(env.session.session_id, long_text)
    await env.core.sync.sync_session(env.session.session_id)
    recorded = await env.open_task()
    assert recorded is not None and len(recorded.description) == 500
    # Still the same task on the next sync: no second record, no extra history read.
    await env.core.sync.sync_session(env.session.session_id)
    assert env.fake.count_calls("POST", "/logs/search") == 0
    assert (await env.only_task()).id == recorded.id
    env.fake.finish_in_app(env.session.session_id, completed=True)
    await env.core.sync.sync_session(env.session.session_id)
    closed = await env.only_task()
    assert closed.id == recorded.id and closed.state is TaskState.COMPLETED


async def test_completing_a_task_chaster_has_replaced_touches_nothing_in_chaster(
    env: CoreEnv,
) -> None:
    await env.linked()
    old = await env.assign(description="Old task")
    # Inside Chaster, before any webhook or poll: the old task ends and a new one is assigned.
    env.fake.finish_in_app(env.session.session_id, completed=True)
    env.fake.assign_in_app(env.session.session_id, "New task")
    with refused(Reason.NOT_CURRENT_IN_CHASTER) as caught:
        await env.act(KH, COMPLETE)
    assert caught.value.params == {}
    # Chaster's new task was not completed by mistake; both tasks are now recorded here.
    assert env.fake.count_calls("POST", "/tasks/complete") == 0
    current = env.session.current_task
    assert current is not None and current["task"] == "New task"
    open_task = await env.open_task()
    assert open_task is not None and open_task.description == "New task"
    closed = await env.store.get_task(old.id)
    assert closed is not None and closed.state is TaskState.COMPLETED


async def test_completion_points_come_from_the_read_before_it(env: CoreEnv) -> None:
    await env.linked(enable_points=True, points_required=30, points=4)
    await env.assign(points=7)
    reads = env.fake.count_calls("GET", "/sessions/")
    await env.act(KH, COMPLETE)
    task = await env.only_task()
    assert task.state is TaskState.COMPLETED
    assert (task.points_total, task.points_required) == (11, 30)
    assert env.session.points == 11  # the fake agrees
    assert env.fake.count_calls("GET", "/sessions/") == reads + 1


async def test_unverifiable_wearer_can_only_be_linked_by_the_locks_keyholder(
    env: CoreEnv,
) -> None:
    self_lock = env.fake.add_session(wearer_discord_id=None, has_keyholder=False)
    # Someone who only knows the session id cannot make themselves its wearer...
    with refused(Reason.WEARER_NOT_ON_DISCORD) as caught:
        await env.core.links.link(OTHER, STRANGER, self_lock.session_id, CHANNEL)
    assert caught.value.params == {}
    # ...nor ask someone else to consent to it.
    with refused(Reason.WEARER_NOT_ON_DISCORD) as caught:
        await env.core.links.link(OTHER, WEARER, self_lock.session_id, CHANNEL)
    assert caught.value.params == {}
    assert await env.count("session_links") == 0
    assert await env.count("link_requests") == 0
    # The lock's keyholder, whose Discord id Chaster confirms, still can.
    held = env.fake.add_session(wearer_discord_id=None, keyholder_discord_id=str(KEYHOLDER))
    outcome = await env.core.links.link(KH, WEARER, held.session_id, CHANNEL)
    assert outcome.link is not None and outcome.link.wearer_id == WEARER


async def test_resume_posts_a_feed_message_a_crash_kept_back(env: CoreEnv) -> None:
    link = await env.linked()
    # Recorded with its feed channel, but the process stopped before the message was posted.
    task = await env.store.create_task(
        link_id=link.id,
        description="Kneel",
        points=3,
        verification_required=False,
        duration_seconds=None,
        assigned_by=KEYHOLDER,
        now=env.clock.now(),
        feed_channel_id=CHANNEL,
    )
    assert task.feed_message_id is None
    await env.core.sync.resume()
    assert env.feed.by() == [(EventKind.ASSIGNED, KEYHOLDER)]
    [event] = env.feed.events
    assert event.task.id == task.id and event.channel_id == CHANNEL
    posted = await env.store.get_task(task.id)
    assert posted is not None and posted.feed_message_id == env.feed.message_ids[task.id]
    # Once posted, it is not posted again.
    await env.core.sync.resume()
    assert env.feed.by() == [(EventKind.ASSIGNED, KEYHOLDER)]


# ----------------------------------------------------------------------------------- timers


async def test_timer_finishes_exactly_once(env: CoreEnv) -> None:
    await env.linked()
    await env.assign(duration="1m")
    task = await env.act(WR, START)
    assert await env.core.sync.finish_timer(task.id) is None  # not yet
    env.advance(61)
    results = await asyncio.gather(*(env.core.sync.finish_timer(task.id) for _ in range(3)))
    finished = [result for result in results if result is not None]
    assert len(finished) == 1
    assert finished[0].id == task.id and finished[0].timer_notified_at == env.clock.now()
    assert env.feed.by().count((EventKind.TIMER_FINISHED, None)) == 1
    assert await env.core.sync.finish_timer(task.id) is None
    assert env.feed.by().count((EventKind.TIMER_FINISHED, None)) == 1


async def test_timers_reload_pending_deadlines_and_fire_overdue_ones(env: CoreEnv) -> None:
    await env.linked()
    await env.assign(duration="1m")
    await env.act(WR, START)
    env.advance(120)  # the bot was "down" while the timer ran out
    timers = timers_of(env)
    await timers.start()
    try:
        await wait_for_event(env, (EventKind.TIMER_FINISHED, None))
    finally:
        await timers.stop()
    task = await env.open_task()
    assert task is not None and task.timer_notified_at == env.clock.now()
    assert env.feed.by().count((EventKind.TIMER_FINISHED, None)) == 1


async def test_a_timer_started_while_the_timers_run_fires_once_its_time_has_come(
    env: CoreEnv,
) -> None:
    await env.linked()
    await env.assign(duration="1m")
    timers = timers_of(env)
    await timers.start()
    try:
        started = await env.act(WR, START)
        # Scheduled from the event. (Counting every entry would race the daily pruning's
        # first run, which leaves and rejoins the heap.)
        assert f"timer of task {started.id}" in timers.deadlines.pending()
        env.advance(61)
        await wait_for_event(env, (EventKind.TIMER_FINISHED, None))
    finally:
        await timers.stop()
    task = await env.store.get_task(started.id)
    assert task is not None and task.timer_notified_at == env.clock.now()
    assert env.feed.by().count((EventKind.TIMER_FINISHED, None)) == 1


async def store_task(env: CoreEnv, wearer: int, state: TaskState) -> Task:
    """A timed task of `wearer` (linked straight in the store) in `state`; every state but
    ASSIGNED comes after a one-minute timer that started now."""
    session = env.fake.add_session(wearer_discord_id=str(wearer))
    link = await env.store.create_link(
        guild_id=GUILD,
        wearer_id=wearer,
        keyholder_id=KEYHOLDER,
        chaster_session_id=session.session_id,
        lock_id=session.lock_id,
        now=env.clock.now(),
    )
    task = await env.store.create_task(
        link_id=link.id,
        description="Kneel",
        points=1,
        verification_required=False,
        duration_seconds=60,
        assigned_by=KEYHOLDER,
        now=env.clock.now(),
    )
    if state is TaskState.ASSIGNED:
        return task
    running = await env.store.transition_task(
        task.id,
        from_states=(TaskState.ASSIGNED,),
        to_state=TaskState.TIMER_RUNNING,
        now=env.clock.now(),
        timer_started_by=wearer,
        timer_started_at=env.clock.now(),
        timer_ends_at=env.clock.now() + timedelta(seconds=60),
    )
    assert running is not None
    if state is TaskState.TIMER_RUNNING:
        return running
    moved = await env.store.transition_task(
        task.id, from_states=(TaskState.TIMER_RUNNING,), to_state=state, now=env.clock.now()
    )
    assert moved is not None
    return moved


async def test_marking_a_run_out_timer_notes_its_notice_once(env: CoreEnv) -> None:
    running = await store_task(env, WEARER, TaskState.TIMER_RUNNING)
    assert running.timer_ends_at is not None and running.timer_notified_at is None
    assert await env.store.pending_timer_deadlines() == [(running.id, running.timer_ends_at)]
    env.advance(61)
    noticed_at = env.clock.now()

    marked = await env.store.mark_timer_notified(running.id, now=noticed_at)
    # Only the notice is noted: the task keeps its state and its timer.
    assert marked == dataclasses.replace(running, timer_notified_at=noticed_at)
    assert await env.store.get_task(running.id) == marked
    assert await env.store.pending_timer_deadlines() == []

    # A second call (a second timer loop, a restart) finds it noted: the notice goes out once.
    env.advance(5)
    assert await env.store.mark_timer_notified(running.id, now=env.clock.now()) is None
    assert await env.store.get_task(running.id) == marked


@pytest.mark.parametrize(
    "state",
    [
        TaskState.ASSIGNED,
        TaskState.AWAITING_CONFIRMATION,
        TaskState.COMPLETED,
        TaskState.FAILED,
    ],
)
async def test_a_task_whose_timer_is_not_running_is_not_marked(
    env: CoreEnv, state: TaskState
) -> None:
    # Each after a timer whose end has passed (but ASSIGNED, whose timer never started): only
    # the state stands in the way.
    task = await store_task(env, WEARER, state)
    env.advance(61)
    assert await env.store.mark_timer_notified(task.id, now=env.clock.now()) is None
    assert await env.store.get_task(task.id) == task


async def test_marking_a_timer_touches_no_other_task(env: CoreEnv) -> None:
    first = await store_task(env, WEARER, TaskState.TIMER_RUNNING)
    second = await store_task(env, MORE_WEARERS, TaskState.TIMER_RUNNING)
    env.advance(61)
    assert await env.store.mark_timer_notified(first.id, now=env.clock.now()) is not None
    assert await env.store.get_task(second.id) == second
    assert [task_id for task_id, _ in await env.store.pending_timer_deadlines()] == [second.id]
    # A task that does not exist is not marked either.
    missing = max(first.id, second.id) + 1
    assert await env.store.get_task(missing) is None
    assert await env.store.mark_timer_notified(missing, now=env.clock.now()) is None
    marked = await env.store.mark_timer_notified(second.id, now=env.clock.now())
    assert marked is not None and marked.timer_notified_at == env.clock.now()


async def test_link_request_expires_on_time(env: CoreEnv) -> None:
    # Someone else holds the lock in Chaster: the link waits for the wearer's consent.
    session = env.fake.add_session(
        wearer_discord_id=str(WEARER), keyholder_discord_id=str(STRANGER)
    )
    outcome = await env.core.links.link(KH, WEARER, session.session_id, CHANNEL)
    request = outcome.request
    assert outcome.link is None and request is not None
    assert request.expires_at == env.clock.now() + timedelta(minutes=15)
    assert await env.core.links.expire_request(request.id) is None
    env.advance(15 * 60 - 1)
    assert await env.core.links.expire_request(request.id) is None
    env.advance(1)
    expired = await env.core.links.expire_request(request.id)
    assert expired is not None and expired.id == request.id
    assert expired.state is LinkRequestState.EXPIRED
    assert [event.kind for event in env.feed.link_events] == [
        LinkEventKind.REQUESTED,
        LinkEventKind.REQUEST_EXPIRED,
    ]
    expiry = env.feed.link_events[-1]
    assert expiry.request == expired and expiry.channel_id == CHANNEL
    # Expired once: a second call finds nothing to expire and says nothing.
    assert await env.core.links.expire_request(request.id) is None
    assert len(env.feed.link_events) == 2
