"""The Chaster client against the fake Chaster over loopback."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from datetime import UTC, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bot.chaster import (
    ActionLog,
    Actor,
    ChasterClient,
    ChasterError,
    ChasterUnavailable,
    InvalidSessionId,
    LockAction,
    LockActionName,
    Priority,
    RateLimiter,
    TaskDetails,
    Unavailability,
)
from bot.chaster import transport as transport_module
from bot.chaster.ratelimit import WaitNotice
from tests.fakes.chaster import FakeChaster

SLUG = "discord-tasks-bot"


@pytest.fixture
async def fake() -> AsyncIterator[FakeChaster]:
    async with FakeChaster(slug=SLUG) as server:
        yield server


@pytest.fixture
async def client(fake: FakeChaster) -> AsyncIterator[ChasterClient]:
    async with ChasterClient(fake.url, SecretStr(fake.token)) as chaster:
        yield chaster


@pytest.fixture(autouse=True)
def fast_transport_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport_module, "TRANSPORT_RETRY_DELAYS", (0.01, 0.01))


async def test_get_session(fake: FakeChaster, client: ChasterClient) -> None:
    session = fake.add_session(wearer_discord_id="111", keyholder_discord_id="222")
    got = await client.get_session(session.session_id)
    assert got.session_id == session.session_id
    assert got.lock.user.discord_id == "111"
    assert got.lock.keyholder is not None and got.lock.keyholder.discord_id == "222"
    assert got.lock.tasks is not None and got.lock.tasks.user_data.status == "start"
    [call] = fake.calls
    assert call.method == "GET"
    assert call.path == f"/api/extensions/sessions/{session.session_id}"


async def test_bearer_token_required(fake: FakeChaster) -> None:
    session = fake.add_session()
    async with ChasterClient(fake.url, SecretStr("wrong-token")) as wrong:
        with pytest.raises(ChasterError, match=r"^Unauthorized$") as caught:
            await wrong.get_session(session.session_id)
    # Chaster's refusal, not a failure to answer (ChasterUnavailable is a subclass).
    assert type(caught.value) is ChasterError
    assert (caught.value.status, caught.value.message) == (401, "Unauthorized")


async def test_unknown_session_is_404(client: ChasterClient) -> None:
    with pytest.raises(ChasterError, match=r"^Session not found$") as caught:
        await client.get_session("NoSuchSession123")
    assert type(caught.value) is ChasterError
    assert (caught.value.status, caught.value.message) == (404, "Session not found")


@pytest.mark.parametrize(
    "bad_id", ["../x", "a/b", "", "x" * 65, "%2e%2e", "abc?x=1", "a b", "..", "abc#"]
)
async def test_session_ids_never_reach_the_url_unchecked(
    fake: FakeChaster, client: ChasterClient, bad_id: str
) -> None:
    not_an_id = r"^not of the form of a Chaster session id$"
    with pytest.raises(InvalidSessionId, match=not_an_id):
        await client.get_session(bad_id)
    with pytest.raises(InvalidSessionId, match=not_an_id):
        await client.assign_task(bad_id, TaskDetails(task="t", points=1), Actor.EXTENSION)
    assert fake.calls == []


async def test_search_reads_every_page(fake: FakeChaster, client: ChasterClient) -> None:
    ours = [fake.add_session(wearer_discord_id=str(1000 + i)) for i in range(230)]
    fake.add_session(slug="someone-elses-extension")
    fake.add_session(status="unlocked")
    found = await client.search_sessions(SLUG)
    assert sorted(s.session_id for s in found) == sorted(s.session_id for s in ours)
    assert fake.count_calls("POST", "/sessions/search") == 3
    bodies = [c.json for c in fake.calls]
    assert bodies[0] == {"extensionSlug": SLUG, "status": "locked", "limit": 100}
    assert bodies[1]["paginationLastId"] == found[99].pagination_id


async def test_assign_sends_the_documented_body(fake: FakeChaster, client: ChasterClient) -> None:
    session = fake.add_session()
    await client.assign_task(
        session.session_id, TaskDetails(task="Push-ups", points=10, duration=900), Actor.KEYHOLDER
    )
    [call] = fake.calls
    assert call.path.endswith("/tasks/assign")
    assert call.json == {
        "task": {"task": "Push-ups", "points": 10, "verificationRequired": False, "duration": 900},
        "actor": "keyholder",
    }
    assert call.headers.get("Authorization") == "<redacted>"
    state = (await client.get_session(session.session_id)).lock.tasks
    assert state is not None and state.current_task is not None
    assert state.current_task.task == "Push-ups"


async def test_untimed_assign_leaves_duration_out(fake: FakeChaster, client: ChasterClient) -> None:
    session = fake.add_session()
    await client.assign_task(session.session_id, TaskDetails(task="x", points=0), Actor.EXTENSION)
    assert "duration" not in fake.calls[0].json["task"]


async def test_chaster_rules_surface_as_errors(fake: FakeChaster, client: ChasterClient) -> None:
    session = fake.add_session()
    sid = session.session_id
    with pytest.raises(ChasterError, match=r"^No task is currently assigned$") as no_task:
        await client.complete_task(sid, Actor.EXTENSION, is_completed=True)
    assert type(no_task.value) is ChasterError
    assert no_task.value.status == fake.status_rule
    await client.assign_task(sid, TaskDetails(task="a", points=1), Actor.EXTENSION)
    with pytest.raises(ChasterError, match=r"^A task is already assigned$") as conflict:
        await client.assign_task(sid, TaskDetails(task="b", points=1), Actor.EXTENSION)
    assert type(conflict.value) is ChasterError
    assert conflict.value.status == fake.status_task_conflict
    with pytest.raises(ChasterError, match=r"^The current task is not a timed task$") as untimed:
        await client.start_task_timer(sid, Actor.WEARER)
    assert type(untimed.value) is ChasterError
    assert untimed.value.status == fake.status_rule


async def test_validation_message_list_is_kept(fake: FakeChaster, client: ChasterClient) -> None:
    session = fake.add_session()
    with pytest.raises(ChasterError, match=r"^task\.duration must not be less than 60$") as caught:
        await client.assign_task(
            session.session_id, TaskDetails(task="x", points=1, duration=30), Actor.EXTENSION
        )
    assert type(caught.value) is ChasterError
    assert caught.value.status == 400
    assert caught.value.message == ["task.duration must not be less than 60"]
    assert caught.value.text == "; ".join(caught.value.message)


async def test_keyholder_actor_on_a_self_lock_is_refused(
    fake: FakeChaster, client: ChasterClient
) -> None:
    session = fake.add_session(has_keyholder=False)
    with pytest.raises(ChasterError, match=r"^This lock has no keyholder$") as caught:
        await client.assign_task(
            session.session_id, TaskDetails(task="x", points=1), Actor.KEYHOLDER
        )
    assert type(caught.value) is ChasterError
    assert caught.value.status == fake.status_rule
    await client.assign_task(session.session_id, TaskDetails(task="x", points=1), Actor.EXTENSION)


async def test_timed_task_lifecycle_and_points(fake: FakeChaster, client: ChasterClient) -> None:
    session = fake.add_session(enable_points=True, points_required=30, points=5)
    sid = session.session_id
    await client.assign_task(sid, TaskDetails(task="Wait", points=7, duration=60), Actor.KEYHOLDER)
    with pytest.raises(ChasterError, match=r"^The task timer has not been started$") as unstarted:
        await client.complete_task(sid, Actor.KEYHOLDER, is_completed=True)
    assert type(unstarted.value) is ChasterError
    assert unstarted.value.status == fake.status_rule
    await client.start_task_timer(sid, Actor.WEARER)
    with pytest.raises(ChasterError, match=r"^The task timer is not finished yet$") as running:
        await client.complete_task(sid, Actor.KEYHOLDER, is_completed=True)
    assert type(running.value) is ChasterError
    assert running.value.status == fake.status_rule
    fake.advance(61)
    await client.complete_task(sid, Actor.KEYHOLDER, is_completed=True)
    state = (await client.get_session(sid)).lock.tasks
    assert state is not None
    assert state.current_task is None and state.user_data.points == 12


async def test_fail_closes_the_task(fake: FakeChaster, client: ChasterClient) -> None:
    session = fake.add_session()
    sid = session.session_id
    await client.assign_task(sid, TaskDetails(task="Try", points=7), Actor.KEYHOLDER)
    await client.complete_task(sid, Actor.WEARER, is_completed=False)
    assert [log["type"] for log in session.action_logs][-1] == "tasks_task_failed"


async def test_injected_error_keeps_chasters_message(
    fake: FakeChaster, client: ChasterClient
) -> None:
    session = fake.add_session()
    fake.fail_next("POST", "/tasks/assign", 422, "You cannot do that right now")
    with pytest.raises(ChasterError, match=r"^You cannot do that right now$") as caught:
        await client.assign_task(session.session_id, TaskDetails(task="x", points=1), Actor.WEARER)
    assert type(caught.value) is ChasterError
    assert (caught.value.status, caught.value.message) == (422, "You cannot do that right now")
    assert session.current_task is None


async def test_timed_out_post_is_not_retried(fake: FakeChaster) -> None:
    session = fake.add_session()
    fake.hang_next("POST", "/tasks/assign", apply=True, seconds=1.0)
    timeout = httpx.Timeout(0.3)
    async with ChasterClient(fake.url, SecretStr(fake.token), timeout=timeout) as chaster:
        with pytest.raises(ChasterUnavailable, match=r"^Chaster did not answer in time$") as caught:
            await chaster.assign_task(
                session.session_id, TaskDetails(task="x", points=1), Actor.WEARER
            )
    assert caught.value.reason is Unavailability.TIMEOUT
    assert caught.value.status is None
    assert caught.value.may_have_applied
    assert fake.count_calls("POST", "/tasks/assign") == 1
    # It did land: the caller must check Chaster's state rather than assign again.
    assert session.current_task is not None


async def test_timed_out_get_is_retried(fake: FakeChaster) -> None:
    session = fake.add_session()
    fake.hang_next("GET", "/sessions/", apply=False, seconds=1.0)
    async with ChasterClient(fake.url, SecretStr(fake.token), timeout=httpx.Timeout(0.3)) as c:
        got = await c.get_session(session.session_id)
    assert got.session_id == session.session_id
    assert fake.count_calls("GET", "/sessions/") == 2


async def test_unreachable_chaster_is_reported_as_not_applied() -> None:
    async with ChasterClient("http://127.0.0.1:9", SecretStr("t")) as chaster:
        with pytest.raises(ChasterUnavailable, match=r"^Chaster could not be reached$") as caught:
            await chaster.start_task_timer("abc", Actor.WEARER)
    assert caught.value.reason is Unavailability.UNREACHABLE
    assert caught.value.status is None
    assert not caught.value.may_have_applied


async def test_burst_is_paced_without_a_single_429() -> None:
    async with FakeChaster(slug=SLUG, rate_limit=10, rate_window=1.0) as fake:
        sessions = [fake.add_session() for _ in range(25)]
        async with ChasterClient(fake.url, SecretStr(fake.token)) as chaster:
            started = time.monotonic()
            await asyncio.gather(*(chaster.get_session(s.session_id) for s in sessions))
            elapsed = time.monotonic() - started
        assert fake.throttled == 0
        assert len(fake.calls) == 25
    # 25 requests at 10 per second need two full windows after the first ten.
    assert elapsed >= 1.9


async def test_a_429_is_waited_out_and_retried(fake: FakeChaster) -> None:
    session = fake.add_session()
    fake.fail_next("GET", "/sessions/", 429, "ThrottlerException: Too Many Requests")
    limiter = RateLimiter()
    async with ChasterClient(fake.url, SecretStr(fake.token), limiter=limiter) as chaster:
        got = await chaster.get_session(session.session_id)
    assert got.session_id == session.session_id
    assert fake.count_calls("GET", "/sessions/") == 2


async def test_token_never_logged(
    fake: FakeChaster, client: ChasterClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    session = fake.add_session()
    await client.get_session(session.session_id)
    with pytest.raises(ChasterError, match=r"^Session not found$") as caught:
        await client.get_session("missing")
    assert type(caught.value) is ChasterError
    assert caught.value.status == 404
    assert caplog.records
    assert fake.token not in caplog.text


def test_reset_header_forms() -> None:
    limiter = RateLimiter(wall_clock=lambda: 1_700_000_000.0)
    seconds = limiter.seconds_until_reset
    assert seconds({"x-ratelimit-reset": "1700000030"}) == 30
    assert seconds({"x-ratelimit-reset": "1700000030000"}) == 30
    assert seconds({"x-ratelimit-reset": "12"}) == 12
    assert seconds({"x-ratelimit-reset": "2023-11-14T22:13:50Z"}) == 30
    assert seconds({"x-ratelimit-reset": "soon"}) is None
    assert seconds({}) is None


def test_window_is_learned_from_the_first_request_of_a_window() -> None:
    limiter = RateLimiter(wall_clock=lambda: 1_700_000_000.0)
    limiter.observe(
        {"x-ratelimit-limit": "100", "x-ratelimit-remaining": "50", "x-ratelimit-reset": "3"}
    )
    assert limiter.window == 60
    limiter.observe(
        {"x-ratelimit-limit": "100", "x-ratelimit-remaining": "99", "x-ratelimit-reset": "6"}
    )
    assert 6 <= limiter.window <= 6.2


@pytest.mark.parametrize(
    ("status", "body", "content_type", "message"),
    [
        pytest.param(
            500,
            '{"statusCode":500,"message":"Internal server error"}',
            "application/json",
            "Internal server error",
            id="500",
        ),
        pytest.param(502, "<html>bad</html>", "text/html", "Bad Gateway", id="502-html"),
        pytest.param(503, "", "text/plain", "Service Unavailable", id="503-empty"),
    ],
)
async def test_server_error_on_a_write_may_have_applied_and_is_not_resent(
    fake: FakeChaster,
    client: ChasterClient,
    status: int,
    body: str,
    content_type: str,
    message: str,
) -> None:
    session = fake.add_session()
    fake.answer_next("POST", "/tasks/assign", status, body, content_type=content_type, apply=True)
    with pytest.raises(ChasterUnavailable, match=f"^{message}$") as caught:
        await client.assign_task(session.session_id, TaskDetails(task="x", points=1), Actor.WEARER)
    assert caught.value.reason is Unavailability.SERVER_ERROR
    assert (caught.value.status, caught.value.message) == (status, message)
    assert caught.value.may_have_applied
    assert fake.count_calls("POST", "/tasks/assign") == 1


async def test_server_error_on_a_read_did_not_apply(
    fake: FakeChaster, client: ChasterClient
) -> None:
    session = fake.add_session()
    fake.fail_next("GET", "/sessions/", 503, "Service Unavailable")
    with pytest.raises(ChasterUnavailable, match=r"^Service Unavailable$") as caught:
        await client.get_session(session.session_id)
    assert caught.value.reason is Unavailability.SERVER_ERROR
    assert (caught.value.status, caught.value.may_have_applied) == (503, False)
    assert fake.count_calls("GET", "/sessions/") == 1


CANT_READ = "Chaster sent an answer the bot can't read"
NOT_UNDERSTOOD = "Chaster sent an answer the bot does not understand"


@pytest.mark.parametrize(
    ("body", "reason", "message"),
    [
        pytest.param(
            '{"session": {"sessionId": ', Unavailability.UNREADABLE, CANT_READ, id="cut-off"
        ),
        pytest.param("[1, 2]", Unavailability.NOT_UNDERSTOOD, NOT_UNDERSTOOD, id="not-an-object"),
        pytest.param(
            '{"session": {"lock": 3}}',
            Unavailability.NOT_UNDERSTOOD,
            NOT_UNDERSTOOD,
            id="wrong-shape",
        ),
    ],
)
async def test_unreadable_success_on_a_read(
    fake: FakeChaster, client: ChasterClient, body: str, reason: Unavailability, message: str
) -> None:
    session = fake.add_session()
    fake.answer_next("GET", "/sessions/", 200, body)
    with pytest.raises(ChasterUnavailable, match=f"^{message}$") as caught:
        await client.get_session(session.session_id)
    assert caught.value.reason is reason
    assert caught.value.status == 200
    assert not caught.value.may_have_applied
    # An unreadable answer is still an answer: the read is not sent again.
    assert fake.count_calls("GET", "/sessions/") == 1


async def test_unreadable_success_on_a_write_may_have_applied(
    fake: FakeChaster, client: ChasterClient
) -> None:
    session = fake.add_session()
    fake.answer_next("POST", "/tasks/assign", 200, "<html>ok</html>", apply=True)
    with pytest.raises(ChasterUnavailable, match=f"^{CANT_READ}$") as caught:
        await client.assign_task(session.session_id, TaskDetails(task="x", points=1), Actor.WEARER)
    assert caught.value.reason is Unavailability.UNREADABLE
    assert caught.value.status == 200
    assert caught.value.may_have_applied
    assert fake.count_calls("POST", "/tasks/assign") == 1
    # An empty or JSON body is a plain success.
    fake.answer_next("POST", "/tasks/complete", 200, '{"ok": true}', apply=True)
    await client.complete_task(session.session_id, Actor.WEARER, is_completed=True)
    assert session.current_task is None


async def test_a_429_without_headers_waits_the_default_backoff(
    fake: FakeChaster, client: ChasterClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transport_module, "THROTTLE_BACKOFF_SECONDS", 0.2)
    session = fake.add_session()
    fake.fail_next("POST", "/tasks/assign", 429, "ThrottlerException: Too Many Requests")
    await client.assign_task(session.session_id, TaskDetails(task="x", points=1), Actor.WEARER)
    first, second = await fake.wait_for_call("POST", "/tasks/assign", count=2)
    assert (first.status, second.status) == (429, 201)
    assert second.at - first.at >= 0.2
    assert session.current_task is not None


async def test_a_429_that_does_not_lift_is_reported(
    fake: FakeChaster, client: ChasterClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transport_module, "THROTTLE_BACKOFF_SECONDS", 0.001)
    session = fake.add_session()
    fake.fail_next("GET", "/sessions/", 429, "ThrottlerException: Too Many Requests", times=10)
    with pytest.raises(
        ChasterUnavailable, match=r"^ThrottlerException: Too Many Requests$"
    ) as caught:
        await client.get_session(session.session_id)
    assert caught.value.reason is Unavailability.THROTTLED
    assert (caught.value.status, caught.value.may_have_applied) == (429, False)
    assert fake.count_calls("GET", "/sessions/") == transport_module.MAX_THROTTLE_RETRIES + 1


async def test_a_session_search_whose_cursor_does_not_move_is_not_understood(
    fake: FakeChaster, client: ChasterClient
) -> None:
    session = fake.add_session()
    page = await client.search_sessions_page(fake.slug)
    [found] = page.results
    # Chaster says there is more but gives no cursor to ask for it: reading on would loop.
    raw = found.model_dump(by_alias=True, mode="json") | {"paginationId": None}
    fake.answer_next(
        "POST", "/sessions/search", 200, json.dumps({"count": 2, "hasMore": True, "results": [raw]})
    )
    with pytest.raises(
        ChasterUnavailable, match=r"^Chaster's session search returned no usable cursor$"
    ) as caught:
        await client.search_sessions(fake.slug)
    assert caught.value.reason is Unavailability.NOT_UNDERSTOOD
    assert not caught.value.may_have_applied
    assert found.session_id == session.session_id


# -- lock actions ---------------------------------------------------------------------------


class _PriorityLog(RateLimiter):
    """A limiter that notes the priority of every request it lets through."""

    def __init__(self) -> None:
        super().__init__()
        self.priorities: list[Priority] = []

    @asynccontextmanager
    async def slot(
        self,
        priority: Priority = Priority.PERSON,
        *,
        server: Hashable = None,
        notice: WaitNotice | None = None,
    ) -> AsyncIterator[None]:
        self.priorities.append(priority)
        async with super().slot(priority, server=server, notice=notice):
            yield


@pytest.mark.parametrize(
    ("action", "sent"),
    [
        pytest.param(
            LockAction(LockActionName.ADD_TIME, seconds=3600),
            {"name": "add_time", "params": 3600},
            id="add_time",
        ),
        pytest.param(LockAction(LockActionName.FREEZE), {"name": "freeze"}, id="freeze"),
        pytest.param(
            LockAction(LockActionName.PILLORY, seconds=900, reason="Late again"),
            {"name": "pillory", "params": {"duration": 900, "reason": "Late again"}},
            id="pillory",
        ),
        pytest.param(
            LockAction(LockActionName.PILLORY, seconds=900),
            {"name": "pillory", "params": {"duration": 900}},
            id="pillory-no-reason",
        ),
    ],
)
async def test_lock_action_sends_the_documented_body(
    fake: FakeChaster, action: LockAction, sent: dict[str, Any]
) -> None:
    session = fake.add_session(pillory=True)
    limiter = _PriorityLog()
    written: list[str] = []
    async with ChasterClient(fake.url, SecretStr(fake.token), limiter=limiter) as chaster:
        chaster.on_write(written.append)
        await chaster.apply_lock_action(session.session_id, action)
    [call] = fake.calls
    assert (call.method, call.path, call.status) == (
        "POST",
        f"/api/extensions/sessions/{session.session_id}/action",
        201,
    )
    assert call.json == {"action": sent}
    assert action.body() == sent
    assert limiter.priorities == [Priority.WRITE]
    assert written == [session.session_id]
    [applied] = fake.lock_actions(session.session_id)
    assert applied["type"] == {"add_time": "time_changed", "freeze": "lock_frozen"}.get(
        sent["name"], "pillory_in"
    )


async def test_a_lock_action_is_recognisable_in_the_history(
    fake: FakeChaster, client: ChasterClient
) -> None:
    session = fake.add_session(pillory=True)
    await client.apply_lock_action(
        session.session_id, LockAction(LockActionName.PILLORY, seconds=600)
    )
    [entry] = (await client.search_logs(session.session_id)).results
    assert (entry.type, entry.extension, entry.payload) == (
        "pillory_in",
        SLUG,
        {"duration": 600, "reason": ""},
    )
    assert entry.created_at is not None and entry.created_at.utcoffset() == timedelta(0)
    assert (
        entry.created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        == (session.action_logs[0]["createdAt"])
    )


def test_an_action_log_without_an_offset_is_read_as_utc() -> None:
    entry = ActionLog.model_validate(
        {"_id": "a" * 24, "type": "time_changed", "createdAt": "2026-01-02T03:04:05"}
    )
    assert entry.created_at is not None and entry.created_at.tzinfo is UTC
    assert (entry.extension, entry.payload) == (None, {})


@pytest.mark.parametrize(
    ("name", "seconds", "reason", "message"),
    [
        pytest.param(LockActionName.ADD_TIME, None, None, "add_time needs a positive", id="none"),
        pytest.param(LockActionName.ADD_TIME, 0, None, "add_time needs a positive", id="zero"),
        pytest.param(LockActionName.PILLORY, -5, None, "pillory needs a positive", id="neg"),
        pytest.param(LockActionName.FREEZE, 60, None, "freeze takes no seconds", id="freeze"),
        pytest.param(LockActionName.ADD_TIME, 60, "why", "add_time takes no reason", id="why"),
    ],
)
def test_a_malformed_lock_action_cannot_be_made(
    name: LockActionName, seconds: int | None, reason: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{message}"):
        LockAction(name, seconds=seconds, reason=reason)


async def test_lock_action_refusals_surface_as_errors(
    fake: FakeChaster, client: ChasterClient
) -> None:
    no_pillory = fake.add_session()
    pillory = LockAction(LockActionName.PILLORY, seconds=600)
    with pytest.raises(
        ChasterError, match=r"^The Pillory extension is not enabled on this lock$"
    ) as missing:
        await client.apply_lock_action(no_pillory.session_id, pillory)
    assert type(missing.value) is ChasterError
    assert missing.value.status == fake.status_pillory_missing
    ended = fake.add_session(status="unlocked")
    with pytest.raises(ChasterError, match=r"^The lock is not active$") as inactive:
        await client.apply_lock_action(ended.session_id, LockAction(LockActionName.FREEZE))
    assert type(inactive.value) is ChasterError
    assert inactive.value.status == fake.status_rule
    fake.fail_next("POST", "/action", 422, "You cannot do that right now")
    with pytest.raises(ChasterError, match=r"^You cannot do that right now$") as refused:
        await client.apply_lock_action(
            no_pillory.session_id, LockAction(LockActionName.ADD_TIME, seconds=60)
        )
    assert type(refused.value) is ChasterError
    assert (refused.value.status, refused.value.message) == (422, "You cannot do that right now")
    with pytest.raises(ChasterError, match=r"^Session not found$") as unknown:
        await client.apply_lock_action("NoSuchSession123", LockAction(LockActionName.FREEZE))
    assert (type(unknown.value), unknown.value.status) == (ChasterError, 404)
    assert fake.lock_actions(no_pillory.session_id) == []
    assert fake.count_calls("POST", "/action") == 4


async def test_lock_action_session_id_is_checked(fake: FakeChaster, client: ChasterClient) -> None:
    with pytest.raises(InvalidSessionId, match=r"^not of the form of a Chaster session id$"):
        await client.apply_lock_action("../x", LockAction(LockActionName.FREEZE))
    assert fake.calls == []


async def test_server_error_on_a_lock_action_may_have_applied_and_is_not_resent(
    fake: FakeChaster, client: ChasterClient
) -> None:
    session = fake.add_session()
    fake.answer_next(
        "POST", "/action", 502, "<html>bad</html>", content_type="text/html", apply=True
    )
    with pytest.raises(ChasterUnavailable, match=r"^Bad Gateway$") as caught:
        await client.apply_lock_action(
            session.session_id, LockAction(LockActionName.ADD_TIME, seconds=60)
        )
    assert caught.value.reason is Unavailability.SERVER_ERROR
    assert (caught.value.status, caught.value.may_have_applied) == (502, True)
    assert fake.count_calls("POST", "/action") == 1
    # It did land once: resending would have added the time twice.
    assert [entry["payload"] for entry in fake.lock_actions(session.session_id)] == [
        {"duration": 60}
    ]


async def test_timed_out_lock_action_is_not_resent(fake: FakeChaster) -> None:
    session = fake.add_session()
    fake.hang_next("POST", "/action", apply=True, seconds=1.0)
    async with ChasterClient(fake.url, SecretStr(fake.token), timeout=httpx.Timeout(0.3)) as c:
        with pytest.raises(ChasterUnavailable, match=r"^Chaster did not answer in time$") as caught:
            await c.apply_lock_action(session.session_id, LockAction(LockActionName.FREEZE))
    assert caught.value.reason is Unavailability.TIMEOUT
    assert caught.value.may_have_applied
    assert fake.count_calls("POST", "/action") == 1
    assert session.frozen_at is not None


async def test_unreadable_success_on_a_lock_action_may_have_applied(
    fake: FakeChaster, client: ChasterClient
) -> None:
    session = fake.add_session()
    fake.answer_next("POST", "/action", 201, "<html>ok</html>", apply=True)
    with pytest.raises(ChasterUnavailable, match=f"^{CANT_READ}$") as caught:
        await client.apply_lock_action(session.session_id, LockAction(LockActionName.FREEZE))
    assert caught.value.reason is Unavailability.UNREADABLE
    assert (caught.value.status, caught.value.may_have_applied) == (201, True)
    assert fake.count_calls("POST", "/action") == 1
