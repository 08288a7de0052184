"""Sync with Chaster (webhooks, polling), timers and expiry, at the service level.

Real store on a temp SQLite file, real Chaster client against the fake Chaster over loopback.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.chaster import ChasterClient, WebhookEnvelope
from bot.store import Database, SessionLink, Store, TaskState
from bot.tasks.errors import Refused
from bot.tasks.poller import Poller
from bot.tasks.service import (
    Caller,
    Event,
    EventKind,
    LinkEvent,
    LinkEventKind,
    TaskAction,
    TaskEvent,
    TaskService,
)
from bot.tasks.timers import Timers
from tests.clock import Clock
from tests.fakes.chaster import FakeChaster, FakeSession

SLUG = "discord-tasks-bot"
GUILD = 10
CHANNEL = 20
KEYHOLDER = 501
WEARER = 502


@dataclass
class Env:
    fake: FakeChaster
    store: Store
    service: TaskService
    clock: Clock
    events: list[Event] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def record(self, event: Event) -> None:
        self.events.append(event)
        self.changed.set()

    def task_events(self) -> list[tuple[EventKind, int | None]]:
        return [(e.kind, e.by_user_id) for e in self.events if isinstance(e, TaskEvent)]

    async def link(self, **session_options: Any) -> tuple[FakeSession, SessionLink]:
        session = self.fake.add_session(
            wearer_discord_id=str(WEARER), keyholder_discord_id=str(KEYHOLDER), **session_options
        )
        outcome = await self.service.link(
            Caller(KEYHOLDER, GUILD), WEARER, session.session_id, CHANNEL
        )
        assert outcome.link is not None
        return session, outcome.link

    async def assign(self, **options: Any) -> None:
        await self.service.assign(
            Caller(KEYHOLDER, GUILD),
            WEARER,
            description=options.pop("description", "Kneel"),
            points=options.pop("points", 3),
            channel_id=CHANNEL,
            **options,
        )

    def advance(self, seconds: float) -> None:
        self.clock.offset += timedelta(seconds=seconds)
        self.fake.advance(seconds)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with (
        FakeChaster(slug=SLUG) as fake,
        await Database.open(tmp_path / "bot.sqlite3") as database,
        ChasterClient(fake.url, SecretStr(fake.token)) as chaster,
    ):
        clock = Clock()
        store = Store(database)
        service = TaskService(store, chaster, SLUG, clock=clock.now)
        environment = Env(fake, store, service, clock)
        service.subscribe(environment.record)
        yield environment


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


async def test_own_assign_coming_back_as_a_webhook_changes_nothing(env: Env) -> None:
    session, link = await env.link()
    await env.assign()
    await env.service.handle_webhook(
        envelope(
            "action_log.created",
            {"sessionId": session.session_id, "actionLog": last_log(session)},
        )
    )
    assert env.task_events() == [(EventKind.ASSIGNED, KEYHOLDER)]
    assert (await env.store.get_open_task(link.id)) is not None


async def test_task_completed_inside_chaster_is_closed_here(env: Env) -> None:
    session, link = await env.link(enable_points=True, points_required=20, points=4)
    await env.assign(points=6)
    env.fake.finish_in_app(session.session_id, completed=True)
    await env.service.handle_webhook(
        envelope(
            "action_log.created",
            {"sessionId": session.session_id, "actionLog": last_log(session)},
        )
    )
    task = await env.store.latest_task(link.id)
    assert task is not None and task.state is TaskState.COMPLETED
    assert (task.points_total, task.points_required, task.closed_by) == (10, 20, None)
    assert env.task_events()[-1] == (EventKind.COMPLETED, None)


async def test_a_lock_that_lost_its_tasks_extension_closes_the_open_task_once(
    env: Env,
) -> None:
    # Chaster dropped the task with the extension: nothing can finish it, and left open it
    # would block every assign. Polling finds it the same way a command does.
    session, link = await env.link()
    await env.assign()
    env.fake.remove_tasks_extension(session.session_id)
    await env.service.sync_session(session.session_id)
    await env.service.sync_session(session.session_id)
    task = await env.store.latest_task(link.id)
    assert task is not None and task.state is TaskState.FAILED and task.closed_by is None
    assert env.task_events()[-2:] == [(EventKind.ASSIGNED, KEYHOLDER), (EventKind.FAILED, None)]
    assert env.fake.count_calls("POST", "/logs/search") == 0
    link_now = await env.store.get_link(link.id)
    assert link_now is not None and link_now.is_open


async def test_failure_inside_chaster_found_by_polling_reads_history(env: Env) -> None:
    session, link = await env.link()
    await env.assign()
    env.fake.finish_in_app(session.session_id, completed=False)
    await env.service.sync_session(session.session_id)
    task = await env.store.latest_task(link.id)
    assert task is not None and task.state is TaskState.FAILED
    assert env.fake.count_calls("POST", "/logs/search") == 1


async def test_unknown_outcome_is_not_guessed(env: Env) -> None:
    session, link = await env.link()
    await env.assign()
    env.fake.finish_in_app(session.session_id, completed=True)
    env.fake.fail_next("POST", "/logs/search", 503, "Service Unavailable")
    await env.service.sync_session(session.session_id)
    assert (await env.store.get_open_task(link.id)) is not None
    # The next look finds the outcome.
    await env.service.sync_session(session.session_id)
    task = await env.store.latest_task(link.id)
    assert task is not None and task.state is TaskState.COMPLETED


async def test_task_assigned_inside_chaster_gets_a_feed_message(env: Env) -> None:
    session, link = await env.link()
    env.fake.assign_in_app(session.session_id, "Write lines", points=2, duration=600)
    await env.service.sync_session(session.session_id)
    task = await env.store.get_open_task(link.id)
    assert task is not None
    assert (task.description, task.points, task.duration_seconds, task.assigned_by) == (
        "Write lines",
        2,
        600,
        None,
    )
    [event] = [e for e in env.events if isinstance(e, TaskEvent)]
    assert event.kind is EventKind.ASSIGNED and event.channel_id == CHANNEL
    # A second look (a poll after the webhook) finds nothing new.
    await env.service.sync_session(session.session_id)
    assert len(env.task_events()) == 1


async def test_replaced_task_closes_the_old_one_and_records_the_new(env: Env) -> None:
    session, link = await env.link()
    await env.assign(description="First")
    env.fake.finish_in_app(session.session_id, completed=True)
    env.fake.assign_in_app(session.session_id, "Second")
    await env.service.sync_session(session.session_id)
    open_task = await env.store.get_open_task(link.id)
    assert open_task is not None and open_task.description == "Second"
    assert [kind for kind, _ in env.task_events()] == [
        EventKind.ASSIGNED,
        EventKind.COMPLETED,
        EventKind.ASSIGNED,
    ]


async def test_lock_end_closes_the_link(env: Env) -> None:
    session, _ = await env.link()
    await env.service.handle_webhook(
        envelope(
            "extension_session.deleted",
            {"session": {"sessionId": session.session_id}, "extension": {"slug": SLUG}},
        )
    )
    assert (await env.store.get_open_link(GUILD, WEARER)) is None
    [event] = env.events
    assert isinstance(event, LinkEvent) and event.kind is LinkEventKind.LOCK_ENDED
    assert event.channel_id == CHANNEL


async def test_vanished_session_closes_the_link(env: Env) -> None:
    session, _ = await env.link()
    del env.fake.sessions[session.session_id]
    await env.service.sync_session(session.session_id)
    assert (await env.store.get_open_link(GUILD, WEARER)) is None


async def test_unrelated_webhooks_are_ignored(env: Env) -> None:
    session, _ = await env.link()
    calls = len(env.fake.calls)
    await env.service.handle_webhook(
        envelope(
            "action_log.created",
            {"sessionId": session.session_id, "actionLog": {"_id": "1" * 24, "type": "locked"}},
        )
    )
    await env.service.handle_webhook(envelope("extension_session.updated", {}))
    assert len(env.fake.calls) == calls and env.events == []


async def test_timer_finishes_exactly_once(env: Env) -> None:
    await env.link()
    await env.assign(duration="1m")
    task = await env.service.act(Caller(WEARER, GUILD), WEARER, TaskAction.START)
    assert await env.service.finish_timer(task.id) is None  # not yet
    env.advance(61)
    results = await asyncio.gather(*(env.service.finish_timer(task.id) for _ in range(3)))
    assert sum(result is not None for result in results) == 1
    assert env.task_events().count((EventKind.TIMER_FINISHED, None)) == 1
    assert await env.service.finish_timer(task.id) is None


async def test_timers_reload_pending_deadlines_and_fire_overdue_ones(env: Env) -> None:
    _, link = await env.link()
    await env.assign(duration="1m")
    await env.service.act(Caller(WEARER, GUILD), WEARER, TaskAction.START)
    env.advance(120)  # the bot was "down" while the timer ran out
    timers = Timers(env.service)
    await timers.start()
    try:
        async with asyncio.timeout(5):
            while (EventKind.TIMER_FINISHED, None) not in env.task_events():
                env.changed.clear()
                await env.changed.wait()
    finally:
        await timers.stop()
    task = await env.store.get_open_task(link.id)
    assert task is not None and task.timer_notified_at is not None


async def test_link_request_expires_on_time(env: Env) -> None:
    session = env.fake.add_session(wearer_discord_id=str(WEARER), keyholder_discord_id="999")
    outcome = await env.service.link(Caller(KEYHOLDER, GUILD), WEARER, session.session_id, CHANNEL)
    assert outcome.request is not None
    assert await env.service.expire_link_request(outcome.request.id) is None
    env.advance(15 * 60)
    expired = await env.service.expire_link_request(outcome.request.id)
    assert expired is not None and expired.state == "expired"
    assert any(
        isinstance(e, LinkEvent) and e.kind is LinkEventKind.REQUEST_EXPIRED for e in env.events
    )


async def test_resume_posts_a_feed_message_a_crash_kept_back(env: Env) -> None:
    _, link = await env.link()
    await env.assign()
    task = await env.store.get_open_task(link.id)
    assert task is not None and task.feed_message_id is None  # nobody posted it
    env.events.clear()
    await env.service.resume()
    assert env.task_events() == [(EventKind.ASSIGNED, KEYHOLDER)]


async def test_poll_round_over_300_sessions_never_hits_a_429(tmp_path: Path) -> None:
    async with (
        FakeChaster(
            slug=SLUG, rate_limit=100, rate_window=1.0, reset_header_format="epoch_ms"
        ) as fake,
        await Database.open(tmp_path / "bot.sqlite3") as database,
        ChasterClient(fake.url, SecretStr(fake.token)) as chaster,
    ):
        store = Store(database)
        service = TaskService(store, chaster, SLUG)
        now = datetime.now(UTC)
        for index in range(300):
            session = fake.add_session(wearer_discord_id=str(1000 + index))
            await store.create_link(
                guild_id=GUILD,
                wearer_id=1000 + index,
                keyholder_id=KEYHOLDER,
                chaster_session_id=session.session_id,
                lock_id=session.lock_id,
                now=now,
            )
        poller = Poller(service, interval_seconds=600)
        started = time.monotonic()
        read = await poller.run_round(spread=False)
        elapsed = time.monotonic() - started
        assert read == 300
        assert fake.throttled == 0
        assert fake.count_calls("GET", "/sessions/") == 300
    # Background work leaves a fifth of the limit to commands: 80 a second at most.
    assert elapsed >= 300 / 100 - 1


async def test_poll_plan_puts_open_tasks_first_and_respects_the_budget(env: Env) -> None:
    session, _ = await env.link()
    others = []
    for index in range(5):
        other = env.fake.add_session(wearer_discord_id=str(2000 + index))
        others.append(other.session_id)
        await env.store.create_link(
            guild_id=GUILD,
            wearer_id=2000 + index,
            keyholder_id=KEYHOLDER,
            chaster_session_id=other.session_id,
            lock_id=other.lock_id,
            now=env.clock.now(),
        )
    await env.assign()
    poller = Poller(env.service, interval_seconds=1.8)  # budget: 1.8 s * 100/60 * 0.5 = 1
    assert poller.budget() == 1
    assert await poller.plan() == [session.session_id]
    poller = Poller(env.service, interval_seconds=6)  # budget 5
    first = await poller.plan()
    second = await poller.plan()
    assert first[0] == second[0] == session.session_id
    assert set(first[1:]) | set(second[1:]) == set(others)


async def test_task_text_from_chaster_is_cleaned_of_control_characters(env: Env) -> None:
    session, link = await env.link()
    env.fake.assign_in_app(session.session_id, "\x00Kneel\x07 now")
    await env.service.sync_session(session.session_id)
    task = await env.store.get_open_task(link.id)
    assert task is not None and task.description == "Kneel  now"


async def test_unverifiable_wearer_can_only_be_linked_by_the_locks_keyholder(env: Env) -> None:
    stranger = 777
    self_lock = env.fake.add_session(wearer_discord_id=None, has_keyholder=False)
    # Someone who only knows the session id cannot make themselves its wearer...
    with pytest.raises(Refused, match="no Discord account connected"):
        await env.service.link(Caller(stranger, GUILD), stranger, self_lock.session_id, CHANNEL)
    # ...nor ask someone else to consent to it.
    with pytest.raises(Refused, match="no Discord account connected"):
        await env.service.link(Caller(stranger, GUILD), WEARER, self_lock.session_id, CHANNEL)
    # The lock's keyholder, whose Discord id Chaster confirms, still can.
    held = env.fake.add_session(wearer_discord_id=None, keyholder_discord_id=str(KEYHOLDER))
    outcome = await env.service.link(Caller(KEYHOLDER, GUILD), WEARER, held.session_id, CHANNEL)
    assert outcome.link is not None


async def test_poll_rounds_reach_every_open_task_when_there_are_more_than_a_round_reads(
    env: Env,
) -> None:
    sessions = []
    for index in range(5):
        session = env.fake.add_session(wearer_discord_id=str(3000 + index))
        sessions.append(session.session_id)
        link = await env.store.create_link(
            guild_id=GUILD,
            wearer_id=3000 + index,
            keyholder_id=KEYHOLDER,
            chaster_session_id=session.session_id,
            lock_id=session.lock_id,
            now=env.clock.now(),
        )
        await env.store.create_task(
            link_id=link.id,
            description="x",
            points=0,
            verification_required=False,
            duration_seconds=None,
            assigned_by=KEYHOLDER,
            now=env.clock.now(),
        )
    poller = Poller(env.service, interval_seconds=2.4)  # budget: 2.4 s * 100/60 * 0.5 = 2
    assert poller.budget() == 2
    rounds = [await poller.plan() for _ in range(3)]
    assert all(len(chosen) == 2 for chosen in rounds)
    assert {session for chosen in rounds for session in chosen} == set(sessions)


async def test_completing_a_task_chaster_has_replaced_touches_nothing_in_chaster(env: Env) -> None:
    session, link = await env.link()
    await env.assign(description="Old task")
    # Inside Chaster, before any webhook or poll: the old task ends and a new one is assigned.
    env.fake.finish_in_app(session.session_id, completed=True)
    env.fake.assign_in_app(session.session_id, "New task")
    with pytest.raises(Refused, match="no longer the current one"):
        await env.service.act(Caller(KEYHOLDER, GUILD), WEARER, TaskAction.COMPLETE)
    # Chaster's new task was not completed by mistake; both tasks are now recorded here.
    assert env.fake.count_calls("POST", "/tasks/complete") == 0
    assert session.current_task is not None and session.current_task["task"] == "New task"
    open_task = await env.store.get_open_task(link.id)
    assert open_task is not None and open_task.description == "New task"


async def test_completion_points_come_from_the_read_before_it(env: Env) -> None:
    session, link = await env.link(enable_points=True, points_required=30, points=4)
    await env.assign(points=7)
    reads = env.fake.count_calls("GET", "/sessions/")
    await env.service.act(Caller(KEYHOLDER, GUILD), WEARER, TaskAction.COMPLETE)
    task = await env.store.latest_task(link.id)
    assert task is not None and (task.points_total, task.points_required) == (11, 30)
    assert session.points == 11  # the fake agrees
    assert env.fake.count_calls("GET", "/sessions/") == reads + 1


async def test_a_long_chaster_task_is_still_matched_and_closed(env: Env) -> None:
    session, link = await env.link()
    long_text = "Line one\r\n" + "x" * 600
    env.fake.assign_in_app(session.session_id, long_text)
    await env.service.sync_session(session.session_id)
    recorded = await env.store.get_open_task(link.id)
    assert recorded is not None and len(recorded.description) == 500
    # Still the same task on the next sync: no second record, no extra history read.
    await env.service.sync_session(session.session_id)
    assert env.fake.count_calls("POST", "/logs/search") == 0
    env.fake.finish_in_app(session.session_id, completed=True)
    await env.service.sync_session(session.session_id)
    closed = await env.store.latest_task(link.id)
    assert closed is not None and closed.state is TaskState.COMPLETED
