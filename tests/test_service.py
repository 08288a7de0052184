"""The task service against a real Store (SQLite file) and a real ChasterClient on FakeChaster.

Every rule is checked from the outside: what the service returns or refuses, what Chaster
received (`fake.calls`, the actor in each body), what the store holds, which events were
emitted and what the audit log says.
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bot.chaster import ChasterClient
from bot.chaster import client as client_module
from bot.store import Database, LinkRequestState, SessionLink, Store, Task, TaskState
from bot.tasks.durations import format_duration, parse_duration
from bot.tasks.errors import ChasterRefused, NotAllowed, Refused
from bot.tasks.service import (
    LINK_REQUEST_TTL,
    Caller,
    Event,
    EventKind,
    LinkEvent,
    TaskAction,
    TaskEvent,
    TaskService,
)
from tests.fakes.chaster import Call, FakeChaster, FakeSession

SLUG = "discord-tasks-bot"
GUILD = 900_000_000_000_000_001
OTHER_GUILD = 900_000_000_000_000_002
WEARER = 100_000_000_000_000_001
KEYHOLDER = 200_000_000_000_000_001
STRANGER = 300_000_000_000_000_001
ADMIN = 400_000_000_000_000_001
CHANNEL = 500_000_000_000_000_001
FEED_CHANNEL = 500_000_000_000_000_002

KH = Caller(KEYHOLDER, GUILD)
WR = Caller(WEARER, GUILD)
OTHER = Caller(STRANGER, GUILD)
MANAGER = Caller(ADMIN, GUILD, can_manage_guild=True)

START = TaskAction.START
COMPLETE = TaskAction.COMPLETE
FAIL = TaskAction.FAIL

HANG_TIMEOUT = httpx.Timeout(0.3)
NORMAL_TIMEOUT = httpx.Timeout(5.0)
# Building an SSL context (loading the CA bundle) costs ~50 ms per client: build it once.
SSL_CONTEXT = ssl.create_default_context()


# Everyone who is neither the wearer nor the keyholder here: a stranger, a server admin, and the
# wearer and keyholder themselves seen from another server.
OUTSIDERS = pytest.mark.parametrize(
    ("caller", "error"),
    [
        (OTHER, NotAllowed),
        (MANAGER, NotAllowed),
        (Caller(KEYHOLDER, OTHER_GUILD), Refused),
        (Caller(WEARER, OTHER_GUILD), Refused),
    ],
    ids=["stranger", "admin", "keyholder-elsewhere", "wearer-elsewhere"],
)


class Clock:
    """The service's clock: it only moves when a test advances it."""

    def __init__(self) -> None:
        self.current = datetime.now(UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class Feed:
    """Records every event and, like the real feed, attaches a message to each new task."""

    def __init__(self, service: TaskService) -> None:
        self.service = service
        self.events: list[TaskEvent] = []
        self.link_events: list[LinkEvent] = []
        self.message_ids: dict[int, int] = {}
        self._ids = itertools.count(600_000_000_000_000_001)

    async def __call__(self, event: Event) -> None:
        if isinstance(event, LinkEvent):
            self.link_events.append(event)
            return
        self.events.append(event)
        if event.kind is EventKind.ASSIGNED:
            assert event.channel_id is not None
            message_id = next(self._ids)
            self.message_ids[event.task.id] = message_id
            await self.service.attach_feed_message(event.task.id, event.channel_id, message_id)

    def kinds(self) -> list[EventKind]:
        return [event.kind for event in self.events]


@dataclass
class Env:
    fake: FakeChaster
    store: Store
    chaster: ChasterClient
    service: TaskService
    clock: Clock
    feed: Feed
    sessions: list[FakeSession] = field(default_factory=list)

    def advance(self, seconds: float) -> None:
        """Move the service clock and Chaster's clock together."""
        self.clock.advance(seconds)
        self.fake.advance(seconds)

    def posts(self, action: str) -> list[Call]:
        """POSTs Chaster received for one task action (assign, start-timer, complete)."""
        return [
            call
            for call in self.fake.calls
            if call.method == "POST" and call.path.endswith(f"/tasks/{action}")
        ]

    def actors(self, action: str) -> list[str]:
        return [str(call.json["actor"]) for call in self.posts(action)]

    def add_lock(self, *, keyholder: bool = True, **options: Any) -> FakeSession:
        """A locked Chaster session of WEARER with the Tasks extension (KEYHOLDER holds it)."""
        options.setdefault("wearer_discord_id", str(WEARER))
        session = self.fake.add_session(
            keyholder_discord_id=str(KEYHOLDER) if keyholder else None,
            has_keyholder=keyholder,
            **options,
        )
        self.sessions.append(session)
        return session

    async def linked(self, *, keyholder: bool = True, **options: Any) -> SessionLink:
        """Link WEARER at once (by the Chaster keyholder, or by the wearer on a self-lock)."""
        session = self.add_lock(keyholder=keyholder, **options)
        by = KH if keyholder else WR
        outcome = await self.service.link(by, WEARER, session.session_id, CHANNEL)
        assert outcome.link is not None
        self.fake.calls.clear()
        return outcome.link

    @property
    def session(self) -> FakeSession:
        return self.sessions[-1]

    async def assign(
        self,
        caller: Caller = KH,
        *,
        description: str = "Write 100 lines",
        points: int = 5,
        verification_required: bool = False,
        duration: str | None = None,
        channel_id: int = CHANNEL,
    ) -> Task:
        return await self.service.assign(
            caller,
            WEARER,
            description=description,
            points=points,
            verification_required=verification_required,
            duration=duration,
            channel_id=channel_id,
        )

    async def act(self, caller: Caller, action: TaskAction) -> Task:
        return await self.service.act(caller, WEARER, action)

    async def open_task(self) -> Task | None:
        link = await self.store.get_open_link(GUILD, WEARER)
        assert link is not None
        return await self.store.get_open_task(link.id)

    async def only_task(self) -> Task:
        link = await self.store.get_open_link(GUILD, WEARER)
        assert link is not None
        task = await self.store.latest_task(link.id)
        assert task is not None
        return task

    async def count(self, table: str) -> int:
        async with (
            self.store.db.reading() as conn,
            conn.execute(f"SELECT COUNT(*) FROM {table}") as cursor,
        ):
            row = await cursor.fetchone()
        assert row is not None
        return int(row[0])

    async def audit(self) -> list[tuple[str, str]]:
        """(action, result) of every audit entry, oldest first."""
        return [(e.action, e.result) for e in reversed(await self.store.audit_entries())]

    async def allow_wearer_complete(self, allowed: bool = True) -> None:
        await self.service.set_wearer_can_complete(MANAGER, allowed)


EnvFactory = Callable[..., Awaitable[Env]]


@pytest.fixture(autouse=True)
def fast_transport_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "TRANSPORT_RETRY_DELAYS", (0.01, 0.01))


@pytest.fixture
async def make_env(tmp_path: Path) -> AsyncIterator[EnvFactory]:
    async with AsyncExitStack() as stack:
        fake = await stack.enter_async_context(FakeChaster(slug=SLUG))
        db = await stack.enter_async_context(await Database.open(tmp_path / "db.sqlite3"))
        store = Store(db)

        async def make(client_timeout: httpx.Timeout = NORMAL_TIMEOUT) -> Env:
            chaster = await stack.enter_async_context(
                ChasterClient(
                    fake.url,
                    SecretStr(fake.token),
                    timeout=client_timeout,
                    transport=httpx.AsyncHTTPTransport(verify=SSL_CONTEXT),
                )
            )
            clock = Clock()
            service = TaskService(store, chaster, SLUG, clock=clock.now)
            feed = Feed(service)
            service.subscribe(feed)
            return Env(fake, store, chaster, service, clock, feed)

        yield make


@pytest.fixture
async def env(make_env: EnvFactory) -> Env:
    return await make_env()


# ---------------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("1h30m", 5400),
        ("2h", 7200),
        ("45", 2700),
        ("1", 60),
        ("60s", 60),
        ("1m30s", 90),
        ("0h1m", 60),
        ("24h", 86_400),
        ("1440", 86_400),
        ("23h59m60s", 86_400),
        (" 1h 30m ", 5400),
        ("1H30M", 5400),
    ],
)
def test_parse_duration_accepts(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "0",
        "59s",
        "0m59s",
        "1441",
        "24h1s",
        "25h",
        "1.5h",
        "-5",
        "+5",
        "soon",
        "15x",
        "m",
        "h30",
        "30s1m",
        "1m30",
        "2 hours",
        "1h-30m",
    ],
)
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(Refused):
        parse_duration(text)


def test_parse_duration_out_of_range_message_says_why() -> None:
    with pytest.raises(Refused) as caught:
        parse_duration("25h")
    assert "between 1 minute and 24 hours" in caught.value.message
    assert "25h" in caught.value.message


# Once a bug: str.isdigit() accepts '²' (int() refuses it) and int() refuses >4300 digits.
@pytest.mark.parametrize(
    "text",
    ["²", "1" * 5000, "9" * 5000 + "h"],
    ids=["superscript", "5000-digits", "5000-digit-hours"],
)
def test_parse_duration_refuses_odd_digit_strings(text: str) -> None:
    with pytest.raises(Refused):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (59, "59s"),
        (60, "1m"),
        (90, "1m 30s"),
        (3600, "1h"),
        (3661, "1h 1m 1s"),
        (5400, "1h 30m"),
        (86_400, "24h"),
    ],
)
def test_format_duration(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [60, 61, 90, 599, 3600, 3601, 5400, 86_399, 86_400])
def test_format_duration_reads_back(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


# ---------------------------------------------------------------------------------- /link


async def test_keyholder_links_at_once(env: Env) -> None:
    session = env.add_lock()
    outcome = await env.service.link(KH, WEARER, f"  {session.session_id} ", CHANNEL)
    assert outcome.request is None
    assert outcome.link is not None
    assert outcome.lock_title == "Keyholder lock"
    link = outcome.link
    assert (link.guild_id, link.wearer_id, link.keyholder_id) == (GUILD, WEARER, KEYHOLDER)
    assert link.chaster_session_id == session.session_id
    assert link.lock_id == session.lock_id
    assert await env.store.get_open_link(GUILD, WEARER) == link
    assert [(c.method, c.path) for c in env.fake.calls] == [
        ("GET", f"/api/extensions/sessions/{session.session_id}")
    ]
    assert await env.store.pending_link_requests() == []


async def test_link_without_session_id_searches_every_page_of_locked_sessions(env: Env) -> None:
    for n in range(120):
        env.fake.add_session(wearer_discord_id=str(WEARER + 1 + n))
    env.fake.add_session(wearer_discord_id=str(WEARER), status="unlocked")
    mine = env.add_lock()  # created last: on the second page
    outcome = await env.service.link(KH, WEARER, None, CHANNEL)
    assert outcome.link is not None
    assert outcome.link.chaster_session_id == mine.session_id
    assert outcome.link.keyholder_id == KEYHOLDER
    searches = [c for c in env.fake.calls if c.path.endswith("/sessions/search")]
    assert len(searches) >= 2
    for call in searches:
        assert call.method == "POST"
        assert call.json["status"] == "locked"
        assert call.json["extensionSlug"] == SLUG


async def test_link_search_finds_nothing(env: Env) -> None:
    env.fake.add_session(wearer_discord_id=str(STRANGER))
    env.fake.add_session(wearer_discord_id=str(WEARER), status="deserted")
    with pytest.raises(Refused) as caught:
        await env.service.link(KH, WEARER, None, CHANNEL)
    assert not isinstance(caught.value, NotAllowed)
    assert await env.store.get_open_link(GUILD, WEARER) is None


async def test_link_search_with_several_sessions_asks_for_the_id(env: Env) -> None:
    first, second = env.add_lock(), env.add_lock()
    with pytest.raises(Refused) as caught:
        await env.service.link(KH, WEARER, None, CHANNEL)
    assert first.session_id in caught.value.message
    assert second.session_id in caught.value.message
    assert await env.store.get_open_link(GUILD, WEARER) is None


async def test_link_refuses_a_lock_of_someone_else(env: Env) -> None:
    session = env.add_lock(wearer_discord_id=str(STRANGER))
    with pytest.raises(Refused):
        await env.service.link(KH, WEARER, session.session_id, CHANNEL)
    assert await env.store.get_open_link(GUILD, WEARER) is None
    assert await env.store.pending_link_requests() == []


async def test_link_accepts_a_lock_whose_wearer_has_no_discord(env: Env) -> None:
    session = env.add_lock(wearer_discord_id=None)
    outcome = await env.service.link(KH, WEARER, session.session_id, CHANNEL)
    assert outcome.link is not None


async def test_link_refuses_a_lock_without_tasks(env: Env) -> None:
    session = env.add_lock(tasks_extension=False)
    with pytest.raises(Refused) as caught:
        await env.service.link(KH, WEARER, session.session_id, CHANNEL)
    assert "Tasks extension" in caught.value.message
    assert await env.store.get_open_link(GUILD, WEARER) is None
    assert await env.store.pending_link_requests() == []


@pytest.mark.parametrize("bad_id", ["../x", "a/b", "x" * 65, "abc def", "abc?x=1", "%2e%2e", "   "])
async def test_link_refuses_a_malformed_session_id_without_calling_chaster(
    env: Env, bad_id: str
) -> None:
    env.add_lock()
    with pytest.raises(Refused):
        await env.service.link(KH, WEARER, bad_id, CHANNEL)
    assert env.fake.calls == []
    assert await env.store.get_open_link(GUILD, WEARER) is None
    assert await env.audit() == [("link", "refused")]


async def test_link_refuses_an_unknown_session(env: Env) -> None:
    with pytest.raises(Refused) as caught:
        await env.service.link(KH, WEARER, "NoSuchSession123", CHANNEL)
    assert "NoSuchSession123" in caught.value.message
    assert await env.store.get_open_link(GUILD, WEARER) is None


async def test_link_reports_chaster_errors_in_chasters_words(env: Env) -> None:
    session = env.add_lock()
    env.fake.fail_next("GET", "/sessions/", 500, "The hamsters are tired")
    with pytest.raises(ChasterRefused) as caught:
        await env.service.link(KH, WEARER, session.session_id, CHANNEL)
    assert "The hamsters are tired" in caught.value.message
    assert caught.value.status == 500
    assert await env.store.get_open_link(GUILD, WEARER) is None


async def test_one_link_per_wearer_per_server(env: Env) -> None:
    first = await env.linked()
    again = env.add_lock()
    with pytest.raises(Refused):
        await env.service.link(KH, WEARER, again.session_id, CHANNEL)
    assert env.fake.calls == []
    assert await env.store.open_links(GUILD) == [first]
    # Another server links the same wearer independently.
    elsewhere = await env.service.link(
        Caller(KEYHOLDER, OTHER_GUILD), WEARER, again.session_id, CHANNEL
    )
    assert elsewhere.link is not None
    assert elsewhere.link.guild_id == OTHER_GUILD
    assert await env.store.open_links(GUILD) == [first]


async def test_wearer_links_own_self_lock_at_once(env: Env) -> None:
    session = env.add_lock(keyholder=False)
    outcome = await env.service.link(WR, WEARER, session.session_id, CHANNEL)
    assert outcome.request is None
    assert outcome.link is not None
    assert outcome.link.keyholder_id == WEARER


async def test_wearer_cannot_link_self_when_the_lock_has_a_keyholder(env: Env) -> None:
    session = env.add_lock()
    with pytest.raises(Refused):
        await env.service.link(WR, WEARER, session.session_id, CHANNEL)
    assert await env.store.get_open_link(GUILD, WEARER) is None
    assert await env.store.pending_link_requests() == []


async def test_link_by_someone_else_needs_the_wearers_consent(env: Env) -> None:
    session = env.add_lock()
    outcome = await env.service.link(OTHER, WEARER, session.session_id, CHANNEL)
    assert outcome.link is None
    request = outcome.request
    assert request is not None
    assert request.state is LinkRequestState.PENDING
    assert (request.guild_id, request.channel_id) == (GUILD, CHANNEL)
    assert (request.wearer_id, request.requested_by) == (WEARER, STRANGER)
    assert request.expires_at == env.clock.now() + LINK_REQUEST_TTL
    assert await env.store.get_open_link(GUILD, WEARER) is None

    # The consent message carries the request; the wearer's ✅ on it confirms.
    await env.service.attach_link_request_message(request.id, 4242)
    found = await env.service.link_request_for_message(4242)
    assert found is not None and found.id == request.id
    env.advance(14 * 60 + 59)
    link = await env.service.confirm_link(WR, found)
    assert link.keyholder_id == STRANGER
    assert link.chaster_session_id == session.session_id
    assert await env.store.get_open_link(GUILD, WEARER) == link
    accepted = await env.store.get_link_request(request.id)
    assert accepted is not None and accepted.state is LinkRequestState.ACCEPTED
    assert await env.audit() == [("link", "ok"), ("link.confirm", "ok")]


@pytest.mark.parametrize(
    "caller",
    [OTHER, KH, Caller(WEARER, OTHER_GUILD), Caller(ADMIN, GUILD, can_manage_guild=True)],
    ids=["requester", "chaster-keyholder", "wearer-in-other-server", "admin"],
)
async def test_only_the_wearer_confirms_a_link_request(env: Env, caller: Caller) -> None:
    session = env.add_lock()
    outcome = await env.service.link(OTHER, WEARER, session.session_id, CHANNEL)
    assert outcome.request is not None
    with pytest.raises(NotAllowed):
        await env.service.confirm_link(caller, outcome.request)
    assert await env.store.get_open_link(GUILD, WEARER) is None
    pending = await env.store.get_link_request(outcome.request.id)
    assert pending is not None and pending.state is LinkRequestState.PENDING


async def test_an_expired_link_request_is_refused_and_marked_expired(env: Env) -> None:
    session = env.add_lock()
    outcome = await env.service.link(OTHER, WEARER, session.session_id, CHANNEL)
    assert outcome.request is not None
    env.advance(15 * 60 + 1)
    with pytest.raises(Refused) as caught:
        await env.service.confirm_link(WR, outcome.request)
    assert "expired" in caught.value.message
    assert await env.store.get_open_link(GUILD, WEARER) is None
    expired = await env.store.get_link_request(outcome.request.id)
    assert expired is not None and expired.state is LinkRequestState.EXPIRED


async def test_a_double_confirm_makes_one_link(env: Env) -> None:
    session = env.add_lock()
    outcome = await env.service.link(OTHER, WEARER, session.session_id, CHANNEL)
    assert outcome.request is not None
    await env.service.confirm_link(WR, outcome.request)
    with pytest.raises(Refused):
        await env.service.confirm_link(WR, outcome.request)
    assert await env.count("session_links") == 1


async def test_concurrent_confirms_make_one_link(env: Env) -> None:
    session = env.add_lock()
    outcome = await env.service.link(OTHER, WEARER, session.session_id, CHANNEL)
    assert outcome.request is not None
    results = await asyncio.gather(
        env.service.confirm_link(WR, outcome.request),
        env.service.confirm_link(WR, outcome.request),
        return_exceptions=True,
    )
    assert sum(isinstance(r, SessionLink) for r in results) == 1
    assert sum(isinstance(r, Refused) for r in results) == 1
    assert await env.count("session_links") == 1


async def test_confirm_is_refused_when_the_wearer_got_linked_meanwhile(env: Env) -> None:
    session = env.add_lock()
    outcome = await env.service.link(OTHER, WEARER, session.session_id, CHANNEL)
    assert outcome.request is not None
    direct = await env.service.link(KH, WEARER, session.session_id, CHANNEL)
    assert direct.link is not None
    with pytest.raises(Refused):
        await env.service.confirm_link(WR, outcome.request)
    assert await env.store.open_links(GUILD) == [direct.link]


# ---------------------------------------------------------------------------------- /unlink


@pytest.mark.parametrize("caller", [KH, WR, MANAGER], ids=["keyholder", "wearer", "manager"])
async def test_keyholder_wearer_or_manager_unlinks(env: Env, caller: Caller) -> None:
    link = await env.linked()
    closed = await env.service.unlink(caller, WEARER)
    assert closed.id == link.id
    assert closed.closed_by == caller.user_id
    assert not closed.is_open
    assert await env.store.get_open_link(GUILD, WEARER) is None
    assert env.fake.calls == []


@pytest.mark.parametrize(
    ("caller", "error"),
    [
        (OTHER, NotAllowed),
        (Caller(KEYHOLDER, OTHER_GUILD, can_manage_guild=True), Refused),
        (Caller(WEARER, OTHER_GUILD), Refused),
    ],
    ids=["stranger", "keyholder-managing-elsewhere", "wearer-elsewhere"],
)
async def test_nobody_else_unlinks(env: Env, caller: Caller, error: type[Refused]) -> None:
    link = await env.linked()
    with pytest.raises(error):
        await env.service.unlink(caller, WEARER)
    assert await env.store.get_open_link(GUILD, WEARER) == link
    assert (await env.audit())[-1] == ("unlink", "refused")


# ---------------------------------------------------------------------------------- assign


async def test_keyholder_assigns(env: Env) -> None:
    link = await env.linked()
    task = await env.assign(description="  Write 100 lines  ", points=5)
    assert task.description == "Write 100 lines"
    assert (task.points, task.verification_required, task.duration_seconds) == (5, False, None)
    assert task.state is TaskState.ASSIGNED
    assert task.link_id == link.id
    assert task.assigned_by == KEYHOLDER
    assert task.assigned_at == env.clock.now()
    [call] = env.posts("assign")
    assert call.json == {
        "task": {"task": "Write 100 lines", "points": 5, "verificationRequired": False},
        "actor": "keyholder",
    }
    assert env.session.current_task is not None
    assert env.session.current_task["task"] == "Write 100 lines"
    [event] = env.feed.events
    assert event.kind is EventKind.ASSIGNED
    assert event.channel_id == CHANNEL
    assert event.task.id == task.id
    assert event.link.id == link.id
    assert event.by_user_id == KEYHOLDER


async def test_assign_a_timed_photo_task(env: Env) -> None:
    await env.linked()
    task = await env.assign(points=0, verification_required=True, duration="1h30m")
    assert (task.points, task.verification_required, task.duration_seconds) == (0, True, 5400)
    [call] = env.posts("assign")
    assert call.json["task"] == {
        "task": "Write 100 lines",
        "points": 0,
        "verificationRequired": True,
        "duration": 5400,
    }


async def test_assign_accepts_the_boundaries(env: Env) -> None:
    await env.linked()
    text = "x" * 500
    task = await env.assign(description=f"\n {text} \t", points=0, duration="1440")
    assert task.description == text
    assert task.duration_seconds == 86_400


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({"description": ""}, id="empty"),
        pytest.param({"description": " \n\t "}, id="blank"),
        pytest.param({"description": "x" * 501}, id="501-chars"),
        pytest.param({"points": -1}, id="negative-points"),
        pytest.param({"duration": "59s"}, id="too-short"),
        pytest.param({"duration": "0"}, id="zero"),
        pytest.param({"duration": "1441"}, id="too-long-minutes"),
        pytest.param({"duration": "24h1s"}, id="too-long"),
        pytest.param({"duration": "soon"}, id="unreadable"),
    ],
)
async def test_invalid_assign_is_refused_without_calling_chaster(
    env: Env, bad: dict[str, Any]
) -> None:
    await env.linked()
    with pytest.raises(Refused) as caught:
        await env.assign(**bad)
    assert not isinstance(caught.value, NotAllowed | ChasterRefused)
    assert env.fake.calls == []
    assert await env.count("tasks") == 0
    assert env.feed.events == []
    assert await env.audit() == [("link", "ok"), ("task.assign", "refused")]


async def test_assign_with_an_unreadable_unicode_duration_is_refused(env: Env) -> None:
    await env.linked()
    with pytest.raises(Refused):
        await env.assign(duration="²")
    assert env.fake.calls == []
    assert await env.audit() == [("link", "ok"), ("task.assign", "refused")]


@pytest.mark.parametrize(
    "text", ["\x00Write 100 lines", "Write\x00", "Ring \x07 bell", "Esc \x1b[31m red"]
)
async def test_control_characters_are_refused_before_chaster(env: Env, text: str) -> None:
    # Once a bug: a leading NUL passed the 1..500 check, Chaster got the task, then the store's
    # CHECK (SQLite length() stops at NUL) failed: a task in Chaster the bot never recorded.
    await env.linked()
    with pytest.raises(Refused):
        await env.assign(description=text)
    assert env.fake.calls == []
    assert await env.count("tasks") == 0
    assert await env.audit() == [("link", "ok"), ("task.assign", "refused")]


async def test_line_breaks_and_tabs_are_fine_in_a_description(env: Env) -> None:
    await env.linked()
    task = await env.assign(description="Line one\n\tLine two")
    assert task.description == "Line one\n\tLine two"
    assert env.posts("assign")[0].json["task"]["task"] == "Line one\n\tLine two"


@pytest.mark.parametrize(
    ("caller", "error"),
    [(WR, NotAllowed), (OTHER, NotAllowed), (MANAGER, NotAllowed)],
    ids=["wearer", "stranger", "admin"],
)
async def test_only_the_keyholder_of_record_assigns(
    env: Env, caller: Caller, error: type[Refused]
) -> None:
    await env.linked()
    with pytest.raises(error):
        await env.assign(caller)
    assert env.posts("assign") == []
    assert await env.count("tasks") == 0
    assert env.session.current_task is None


async def test_assign_is_refused_while_a_task_is_open(env: Env) -> None:
    await env.linked()
    await env.assign(description="Cold shower")
    with pytest.raises(Refused) as caught:
        await env.assign(description="Another one")
    assert "Cold shower" in caught.value.message
    assert len(env.posts("assign")) == 1
    assert await env.count("tasks") == 1


async def test_assign_is_refused_while_the_bot_still_records_an_open_task(env: Env) -> None:
    # The task ended inside Chaster, but the bot has not heard of it yet: its record decides.
    await env.linked()
    await env.assign(description="Cold shower")
    env.fake.finish_in_app(env.session.session_id, completed=True)
    env.fake.calls.clear()
    with pytest.raises(Refused) as caught:
        await env.assign(description="Another one")
    assert "Cold shower" in caught.value.message
    assert env.posts("assign") == []
    assert await env.count("tasks") == 1


async def forget_lock_facts(env: Env) -> None:
    """Make the link look like one from an older version, which has not read the lock yet."""
    await env.store.db.write_one("UPDATE session_links SET keyholder_is_lock_keyholder = NULL")


async def test_assign_while_chaster_shows_a_task_gets_chasters_refusal(env: Env) -> None:
    await env.linked()
    env.fake.assign_in_app(env.session.session_id, "Picked in Chaster", 3)
    reads = env.fake.count_calls("GET", "/sessions/")
    with pytest.raises(ChasterRefused):
        await env.assign()
    # One request, no read first: Chaster's own conflict answer is what the user sees.
    assert len(env.posts("assign")) == 1
    assert env.fake.count_calls("GET", "/sessions/") == reads
    assert await env.count("tasks") == 0


async def test_assign_during_a_vote_gets_chasters_refusal(env: Env) -> None:
    await env.linked()
    env.fake.start_vote_in_app(env.session.session_id)
    with pytest.raises(ChasterRefused):
        await env.assign()
    assert await env.count("tasks") == 0


async def test_old_link_reads_chaster_first_and_names_the_task(env: Env) -> None:
    await env.linked()
    await forget_lock_facts(env)
    env.fake.assign_in_app(env.session.session_id, "Picked in Chaster", 3)
    with pytest.raises(Refused) as caught:
        await env.assign()
    assert "Picked in Chaster" in caught.value.message
    assert env.posts("assign") == []
    assert await env.count("tasks") == 0


async def test_old_link_reads_chaster_first_and_sees_a_vote(env: Env) -> None:
    await env.linked()
    await forget_lock_facts(env)
    env.fake.start_vote_in_app(env.session.session_id)
    with pytest.raises(Refused) as caught:
        await env.assign()
    assert "vote" in caught.value.message
    assert env.posts("assign") == []


async def test_old_link_learns_the_lock_facts_once(env: Env) -> None:
    await env.linked()
    await forget_lock_facts(env)
    await env.assign()
    # One read before the assign, none after: the fact is kept.
    assert env.fake.count_calls("GET", "/sessions/") == 1
    assert env.actors("assign") == ["keyholder"]
    link = await env.store.get_open_link(GUILD, WEARER)
    assert link is not None and link.keyholder_is_lock_keyholder is True


@pytest.mark.parametrize(
    ("status", "message"),
    [(400, "A task is already assigned"), (422, ["task.task is odd", "actor is odd"])],
)
async def test_assign_reports_chaster_errors_in_chasters_words(
    env: Env, status: int, message: str | list[str]
) -> None:
    await env.linked()
    env.fake.fail_next("POST", "/tasks/assign", status, message)
    with pytest.raises(ChasterRefused) as caught:
        await env.assign()
    parts = message if isinstance(message, list) else [message]
    for part in parts:
        assert part in caught.value.message
    assert caught.value.status == status
    assert await env.count("tasks") == 0
    assert env.feed.events == []


async def test_assign_reports_a_failed_session_read_in_chasters_words(env: Env) -> None:
    await env.linked()
    await forget_lock_facts(env)
    env.fake.fail_next("GET", "/sessions/", 503, "Maintenance until noon")
    with pytest.raises(ChasterRefused) as caught:
        await env.assign()
    assert "Maintenance until noon" in caught.value.message
    assert env.posts("assign") == []
    assert await env.count("tasks") == 0


async def test_a_lost_assign_that_landed_is_recorded_once(make_env: EnvFactory) -> None:
    env = await make_env(HANG_TIMEOUT)
    await env.linked()
    env.fake.hang_next("POST", "/tasks/assign", apply=True, seconds=3.0)
    task = await env.assign(description="Kneel for ten minutes")
    assert task.state is TaskState.ASSIGNED
    assert task.description == "Kneel for ten minutes"
    assert len(env.posts("assign")) == 1
    assert await env.count("tasks") == 1
    assert env.feed.kinds() == [EventKind.ASSIGNED]
    assert (await env.audit())[-1] == ("task.assign", "ok")


async def test_a_lost_assign_that_did_not_land_stores_nothing(make_env: EnvFactory) -> None:
    env = await make_env(HANG_TIMEOUT)
    await env.linked()
    env.fake.hang_next("POST", "/tasks/assign", apply=False, seconds=3.0)
    with pytest.raises(Refused):
        await env.assign(description="Kneel for ten minutes")
    assert len(env.posts("assign")) == 1
    assert env.session.current_task is None
    assert await env.count("tasks") == 0
    assert env.feed.events == []


# ---------------------------------------------------------------------------------- permissions


@pytest.mark.parametrize(
    ("caller", "actor"),
    [(KH, "keyholder"), (WR, "wearer"), (OTHER, None), (MANAGER, None)],
    ids=["keyholder", "wearer", "stranger", "admin"],
)
async def test_who_starts_the_timer(env: Env, caller: Caller, actor: str | None) -> None:
    await env.linked()
    await env.assign(duration="2m")
    env.fake.calls.clear()
    if actor is None:
        with pytest.raises(NotAllowed):
            await env.act(caller, START)
        assert env.posts("start-timer") == []
        assert env.session.timer_started_at is None
        assert (await env.only_task()).state is TaskState.ASSIGNED
        return
    task = await env.act(caller, START)
    assert task.state is TaskState.TIMER_RUNNING
    assert task.timer_started_by == caller.user_id
    assert task.timer_started_at == env.clock.now()
    assert task.timer_ends_at == env.clock.now() + timedelta(minutes=2)
    assert env.actors("start-timer") == [actor]
    assert env.session.timer_started_at is not None
    event = env.feed.events[-1]
    assert event.kind is EventKind.TIMER_STARTED
    assert event.by_user_id == caller.user_id
    assert event.channel_id == CHANNEL


@pytest.mark.parametrize(
    ("caller", "wearer_can_complete", "actor"),
    [
        (KH, False, "keyholder"),
        (KH, True, "keyholder"),
        (WR, True, "wearer"),
        (OTHER, True, None),
        (OTHER, False, None),
        (MANAGER, True, None),
    ],
    ids=[
        "keyholder",
        "keyholder-setting-on",
        "wearer-setting-on",
        "stranger-on",
        "stranger",
        "admin",
    ],
)
async def test_who_completes(
    env: Env, caller: Caller, wearer_can_complete: bool, actor: str | None
) -> None:
    await env.allow_wearer_complete(wearer_can_complete)
    await env.linked()
    await env.assign(points=5)
    env.fake.calls.clear()
    if actor is None:
        with pytest.raises(NotAllowed):
            await env.act(caller, COMPLETE)
        assert env.fake.calls == []
        assert (await env.only_task()).state is TaskState.ASSIGNED
        return
    task = await env.act(caller, COMPLETE)
    assert task.state is TaskState.COMPLETED
    assert task.closed_by == caller.user_id
    assert task.closed_at == env.clock.now()
    [call] = env.posts("complete")
    assert call.json == {"actor": actor, "isCompleted": True}
    assert env.session.current_task is None
    event = env.feed.events[-1]
    assert event.kind is EventKind.COMPLETED
    assert event.by_user_id == caller.user_id


async def test_wearer_complete_asks_the_keyholder_when_the_setting_is_off(env: Env) -> None:
    await env.linked()
    await env.assign()
    env.fake.calls.clear()
    waiting = await env.act(WR, COMPLETE)
    assert waiting.state is TaskState.AWAITING_CONFIRMATION
    assert waiting.confirmation_requested_by == WEARER
    assert waiting.confirmation_requested_at == env.clock.now()
    assert env.fake.calls == []
    assert env.session.current_task is not None
    event = env.feed.events[-1]
    assert event.kind is EventKind.CONFIRMATION_REQUESTED
    assert event.by_user_id == WEARER

    with pytest.raises(Refused):  # asking twice changes nothing
        await env.act(WR, COMPLETE)
    assert env.fake.calls == []

    done = await env.act(KH, COMPLETE)
    assert done.state is TaskState.COMPLETED
    assert done.closed_by == KEYHOLDER
    assert env.actors("complete") == ["keyholder"]
    assert env.feed.kinds() == [
        EventKind.ASSIGNED,
        EventKind.CONFIRMATION_REQUESTED,
        EventKind.COMPLETED,
    ]


async def test_a_task_awaiting_confirmation_can_still_be_failed(env: Env) -> None:
    await env.linked()
    await env.assign()
    await env.act(WR, COMPLETE)
    failed = await env.act(KH, FAIL)
    assert failed.state is TaskState.FAILED
    [call] = env.posts("complete")
    assert call.json == {"actor": "keyholder", "isCompleted": False}


@pytest.mark.parametrize(
    ("caller", "actor"),
    [(KH, "keyholder"), (WR, "wearer"), (OTHER, None), (MANAGER, None)],
    ids=["keyholder", "wearer", "stranger", "admin"],
)
async def test_who_fails(env: Env, caller: Caller, actor: str | None) -> None:
    await env.linked()
    await env.assign()
    env.fake.calls.clear()
    if actor is None:
        with pytest.raises(NotAllowed):
            await env.act(caller, FAIL)
        assert env.fake.calls == []
        assert (await env.only_task()).state is TaskState.ASSIGNED
        return
    task = await env.act(caller, FAIL)
    assert task.state is TaskState.FAILED
    assert task.closed_by == caller.user_id
    [call] = env.posts("complete")
    assert call.json == {"actor": actor, "isCompleted": False}
    assert env.session.current_task is None
    assert env.feed.events[-1].kind is EventKind.FAILED
    assert env.feed.events[-1].by_user_id == caller.user_id


@pytest.mark.parametrize("caller", [KH, WR], ids=["keyholder", "wearer"])
async def test_keyholder_and_wearer_see_the_status(env: Env, caller: Caller) -> None:
    link = await env.linked(enable_points=True, points_required=40, points=7)
    task = await env.assign(description="Plank")
    status = await env.service.status(caller, WEARER)
    assert status.link == link
    assert status.task is not None
    assert (status.task.id, status.task.state) == (task.id, TaskState.ASSIGNED)
    assert status.chaster_error is None
    assert status.chaster is not None
    assert status.chaster.current_task is not None
    assert status.chaster.current_task.task == "Plank"
    assert status.chaster.user_data.points == 7
    assert status.chaster.config.points_required == 40


async def test_status_shows_chaster_trouble_instead_of_failing(env: Env) -> None:
    await env.linked()
    env.fake.fail_next("GET", "/sessions/", 500, "Mongo went away")
    status = await env.service.status(KH, WEARER)
    assert status.chaster is None
    assert status.chaster_error is not None and "Mongo went away" in status.chaster_error


@OUTSIDERS
async def test_nobody_else_sees_the_status(env: Env, caller: Caller, error: type[Refused]) -> None:
    await env.linked()
    with pytest.raises(error):
        await env.service.status(caller, WEARER)
    assert env.fake.calls == []


async def test_self_lock_actions_use_actor_extension(env: Env) -> None:
    link = await env.linked(keyholder=False)
    assert link.keyholder_id == WEARER
    await env.assign(WR, duration="1m")
    await env.act(WR, START)
    env.advance(60)
    done = await env.act(WR, COMPLETE)  # their own keyholder: no confirmation step
    assert done.state is TaskState.COMPLETED
    await env.assign(WR)
    await env.act(WR, FAIL)
    assert env.actors("assign") == ["extension", "extension"]
    assert env.actors("start-timer") == ["extension"]
    assert [c.json for c in env.posts("complete")] == [
        {"actor": "extension", "isCompleted": True},
        {"actor": "extension", "isCompleted": False},
    ]


async def test_self_lock_with_a_keyholder_of_record_from_discord(env: Env) -> None:
    session = env.add_lock(keyholder=False)
    outcome = await env.service.link(KH, WEARER, session.session_id, CHANNEL)
    assert outcome.request is not None  # KH holds no key in Chaster: the wearer must consent
    link = await env.service.confirm_link(WR, outcome.request)
    assert link.keyholder_id == KEYHOLDER
    env.fake.calls.clear()
    with pytest.raises(NotAllowed):
        await env.assign(WR)
    await env.assign(KH, duration="1m")
    await env.act(WR, START)
    env.advance(60)
    await env.act(KH, COMPLETE)
    assert env.actors("assign") == ["extension"]
    assert env.actors("start-timer") == ["wearer"]
    assert env.actors("complete") == ["extension"]


async def test_a_keyholder_the_wearer_accepted_acts_as_the_extension(env: Env) -> None:
    # The lock has its own keyholder in Chaster (KEYHOLDER); the wearer lets someone else
    # manage tasks here. Chaster must not show that person's actions in KEYHOLDER's name.
    session = env.add_lock()
    outcome = await env.service.link(OTHER, WEARER, session.session_id, CHANNEL)
    assert outcome.request is not None
    link = await env.service.confirm_link(WR, outcome.request)
    assert link.keyholder_id == STRANGER and link.keyholder_is_lock_keyholder is False
    env.fake.calls.clear()
    await env.assign(OTHER, duration="1m")
    await env.act(OTHER, START)
    env.advance(60)
    await env.act(OTHER, COMPLETE)
    assert env.actors("assign") == ["extension"]
    assert env.actors("start-timer") == ["extension"]
    assert env.actors("complete") == ["extension"]


async def test_the_actor_follows_the_locks_keyholder_in_chaster(env: Env) -> None:
    # The lock changes hands in Chaster: the keyholder of record stops acting as "keyholder"
    # from the first read that shows it, and the fact is kept for later assigns.
    await env.linked()
    await env.assign()
    await env.act(KH, COMPLETE)
    env.session.keyholder = None  # now a self-lock
    await env.service.sync_session(env.session.session_id)
    await env.assign(description="After the handover")
    assert env.actors("assign") == ["keyholder", "extension"]
    link = await env.store.get_open_link(GUILD, WEARER)
    assert link is not None and link.keyholder_is_lock_keyholder is False


@pytest.mark.parametrize("guest", [KEYHOLDER, WEARER, STRANGER], ids=["kh", "wearer", "stranger"])
async def test_links_are_invisible_from_other_servers(env: Env, guest: int) -> None:
    link = await env.linked()
    task = await env.assign()
    env.fake.calls.clear()
    elsewhere = Caller(guest, OTHER_GUILD, can_manage_guild=True)
    with pytest.raises(Refused):
        await env.assign(elsewhere, description="Sneaky")
    for action in (START, COMPLETE, FAIL):
        with pytest.raises(Refused):
            await env.act(elsewhere, action)
        with pytest.raises(NotAllowed):
            await env.service.act_on_message(elsewhere, task, action)
    with pytest.raises(Refused):
        await env.service.status(elsewhere, WEARER)
    with pytest.raises(Refused):
        await env.service.unlink(elsewhere, WEARER)
    assert env.fake.calls == []
    assert await env.store.get_open_link(GUILD, WEARER) == link
    assert await env.store.get_task(task.id) == await env.only_task()
    assert (await env.only_task()).state is TaskState.ASSIGNED
    assert await env.store.audit_entries(guild_id=OTHER_GUILD) != []
    assert all(e.result == "refused" for e in await env.store.audit_entries(guild_id=OTHER_GUILD))


# ---------------------------------------------------------------------------------- task rules


async def test_complete_before_the_timer_ends_is_refused_with_the_end_time(env: Env) -> None:
    await env.allow_wearer_complete()
    await env.linked()
    await env.assign(duration="10m")
    started = await env.act(KH, START)
    assert started.timer_ends_at is not None
    env.advance(599)
    for caller in (KH, WR):
        with pytest.raises(Refused) as caught:
            await env.act(caller, COMPLETE)
        assert caught.value.at == started.timer_ends_at
    assert env.posts("complete") == []
    assert (await env.only_task()).state is TaskState.TIMER_RUNNING
    env.advance(1)
    done = await env.act(KH, COMPLETE)
    assert done.state is TaskState.COMPLETED
    assert len(env.posts("complete")) == 1


async def test_wearer_confirmation_request_also_waits_for_the_timer(env: Env) -> None:
    await env.linked()
    await env.assign(duration="5m")
    started = await env.act(WR, START)
    with pytest.raises(Refused) as caught:
        await env.act(WR, COMPLETE)
    assert caught.value.at == started.timer_ends_at
    assert (await env.only_task()).state is TaskState.TIMER_RUNNING


@pytest.mark.parametrize("caller", [KH, WR], ids=["keyholder", "wearer"])
async def test_a_photo_task_cannot_be_completed_here(env: Env, caller: Caller) -> None:
    await env.allow_wearer_complete()
    await env.linked()
    await env.assign(verification_required=True)
    env.fake.calls.clear()
    with pytest.raises(Refused):
        await env.act(caller, COMPLETE)
    assert env.fake.calls == []
    assert (await env.only_task()).state is TaskState.ASSIGNED


async def test_start_on_an_untimed_task_is_refused(env: Env) -> None:
    await env.linked()
    await env.assign()
    env.fake.calls.clear()
    for caller in (KH, WR):
        with pytest.raises(Refused):
            await env.act(caller, START)
    assert env.fake.calls == []
    assert (await env.only_task()).state is TaskState.ASSIGNED


async def test_start_twice_is_refused(env: Env) -> None:
    await env.linked()
    await env.assign(duration="15m")
    started = await env.act(WR, START)
    env.advance(30)
    for caller in (KH, WR):
        with pytest.raises(Refused) as caught:
            await env.act(caller, START)
        assert caught.value.at == started.timer_ends_at
    assert len(env.posts("start-timer")) == 1
    assert await env.only_task() == started


@pytest.mark.parametrize("caller", [KH, WR], ids=["keyholder", "wearer"])
async def test_complete_a_timed_task_that_was_not_started_is_refused(
    env: Env, caller: Caller
) -> None:
    await env.allow_wearer_complete()
    await env.linked()
    await env.assign(duration="1m")
    env.advance(3600)
    env.fake.calls.clear()
    with pytest.raises(Refused):
        await env.act(caller, COMPLETE)
    assert env.fake.calls == []
    assert (await env.only_task()).state is TaskState.ASSIGNED


async def test_no_open_task(env: Env) -> None:
    await env.linked()
    for caller in (KH, WR):
        with pytest.raises(Refused) as caught:
            await env.act(caller, FAIL)
        assert not isinstance(caught.value, NotAllowed)
    with pytest.raises(NotAllowed):
        await env.act(OTHER, FAIL)
    assert env.fake.calls == []


@pytest.mark.parametrize(
    ("action", "path", "status"),
    [
        (START, "start-timer", 400),
        (COMPLETE, "complete", 403),
        (FAIL, "complete", 500),
    ],
    ids=["start", "complete", "fail"],
)
async def test_chaster_errors_leave_the_task_unchanged(
    env: Env, action: TaskAction, path: str, status: int
) -> None:
    await env.linked()
    await env.assign(duration="1m")
    if action is not START:
        await env.act(KH, START)
        env.advance(60)
    before = await env.only_task()
    events = len(env.feed.events)
    env.fake.fail_next("POST", f"/tasks/{path}", status, "Chaster is grumpy today")
    with pytest.raises(ChasterRefused) as caught:
        await env.act(KH, action)
    assert "Chaster is grumpy today" in caught.value.message
    assert caught.value.status == status
    assert await env.only_task() == before
    assert len(env.feed.events) == events
    assert (await env.audit())[-1] == (f"task.{action}", "refused")


async def test_a_failed_lock_read_before_completing_leaves_the_task_unchanged(env: Env) -> None:
    await env.linked()
    await env.assign()
    await forget_lock_facts(env)
    before = await env.only_task()
    env.fake.fail_next("GET", "/sessions/", 502, "Bad gateway, try later")
    with pytest.raises(ChasterRefused) as caught:
        await env.act(KH, COMPLETE)
    assert "Bad gateway, try later" in caught.value.message
    assert env.posts("complete") == []
    assert await env.only_task() == before


async def test_a_lost_complete_that_landed_is_recorded(make_env: EnvFactory) -> None:
    env = await make_env(HANG_TIMEOUT)
    await env.linked()
    await env.assign()
    env.fake.hang_next("POST", "/tasks/complete", apply=True, seconds=3.0)
    done = await env.act(KH, COMPLETE)
    assert done.state is TaskState.COMPLETED
    assert done.closed_by == KEYHOLDER
    assert len(env.posts("complete")) == 1
    assert env.feed.kinds()[-1] is EventKind.COMPLETED


async def test_a_lost_fail_that_landed_is_recorded(make_env: EnvFactory) -> None:
    env = await make_env(HANG_TIMEOUT)
    await env.linked()
    await env.assign()
    env.fake.hang_next("POST", "/tasks/complete", apply=True, seconds=3.0)
    failed = await env.act(WR, FAIL)
    assert failed.state is TaskState.FAILED
    assert len(env.posts("complete")) == 1


async def test_a_lost_complete_that_did_not_land_changes_nothing(make_env: EnvFactory) -> None:
    env = await make_env(HANG_TIMEOUT)
    await env.linked()
    await env.assign()
    before = await env.only_task()
    env.fake.hang_next("POST", "/tasks/complete", apply=False, seconds=3.0)
    with pytest.raises(Refused):
        await env.act(KH, COMPLETE)
    assert len(env.posts("complete")) == 1
    assert env.session.current_task is not None
    assert await env.only_task() == before
    assert env.feed.kinds() == [EventKind.ASSIGNED]


async def test_a_lost_start_timer_that_landed_is_recorded(make_env: EnvFactory) -> None:
    # Once a bug: the lost answer was refused, the retry was refused by Chaster ("already
    # started") and complete said "start the timer first": the task could only be failed.
    env = await make_env(HANG_TIMEOUT)
    await env.linked()
    await env.assign(duration="1m")
    env.fake.hang_next("POST", "/tasks/start-timer", apply=True, seconds=3.0)
    started = await env.act(KH, START)
    assert started.state is TaskState.TIMER_RUNNING
    assert env.session.timer_started_at is not None
    assert env.feed.kinds()[-1] is EventKind.TIMER_STARTED
    env.advance(60)
    done = await env.act(KH, COMPLETE)
    assert done.state is TaskState.COMPLETED


async def test_a_lost_start_timer_that_did_not_land_is_sent_again(make_env: EnvFactory) -> None:
    env = await make_env(HANG_TIMEOUT)
    await env.linked()
    await env.assign(duration="1m")
    env.fake.hang_next("POST", "/tasks/start-timer", apply=False, seconds=3.0)
    started = await env.act(WR, START)
    assert started.state is TaskState.TIMER_RUNNING
    assert env.session.timer_started_at is not None
    assert [c.status for c in env.posts("start-timer")] == [None, 201]
    assert env.actors("start-timer") == ["wearer", "wearer"]


async def test_a_resent_start_timer_refused_for_another_reason_changes_nothing(
    make_env: EnvFactory,
) -> None:
    env = await make_env(HANG_TIMEOUT)
    await env.linked()
    await env.assign(duration="1m")
    env.fake.hang_next("POST", "/tasks/start-timer", apply=False, seconds=3.0)
    env.fake.fail_next("POST", "/tasks/start-timer", 403, "This token may not act on this lock")
    with pytest.raises(Refused) as caught:
        await env.act(KH, START)
    assert "This token may not act on this lock" in caught.value.message
    assert env.session.timer_started_at is None
    assert (await env.only_task()).state is TaskState.ASSIGNED


async def test_a_lost_start_timer_with_chaster_gone_quiet_is_refused(make_env: EnvFactory) -> None:
    env = await make_env(HANG_TIMEOUT)
    await env.linked()
    await env.assign(duration="1m")
    env.fake.hang_next("POST", "/tasks/start-timer", apply=False, seconds=3.0, times=2)
    with pytest.raises(Refused):
        await env.act(KH, START)
    assert env.session.timer_started_at is None
    assert (await env.only_task()).state is TaskState.ASSIGNED
    assert env.feed.kinds() == [EventKind.ASSIGNED]


# ---------------------------------------------------------------------------------- events


async def test_assigned_event_goes_to_the_feed_channel_when_set(env: Env) -> None:
    await env.service.set_feed_channel(MANAGER, FEED_CHANNEL)
    await env.linked()
    task = await env.assign(channel_id=CHANNEL, duration="1m")
    [event] = env.feed.events
    assert event.kind is EventKind.ASSIGNED
    assert event.channel_id == FEED_CHANNEL
    # Later events follow the task's feed message.
    await env.act(WR, START)
    assert env.feed.events[-1].kind is EventKind.TIMER_STARTED
    assert env.feed.events[-1].channel_id == FEED_CHANNEL
    assert env.feed.events[-1].task.id == task.id


async def test_assigned_event_goes_to_the_command_channel_without_a_feed(env: Env) -> None:
    await env.linked()
    await env.assign(channel_id=CHANNEL + 7)
    [event] = env.feed.events
    assert event.channel_id == CHANNEL + 7


async def test_completed_event_carries_chaster_points(env: Env) -> None:
    await env.linked(enable_points=True, points_required=50, points=10)
    await env.assign(points=5)
    done = await env.act(KH, COMPLETE)
    assert (done.points_total, done.points_required) == (15, 50)
    event = env.feed.events[-1]
    assert event.kind is EventKind.COMPLETED
    assert (event.task.points_total, event.task.points_required) == (15, 50)
    assert event.by_user_id == KEYHOLDER


async def test_completed_event_without_chaster_points(env: Env) -> None:
    await env.linked(enable_points=False)
    await env.assign(points=5)
    done = await env.act(KH, COMPLETE)
    assert (done.points_total, done.points_required) == (None, None)
    assert env.feed.events[-1].task.points_total is None


async def test_every_step_emits_its_event(env: Env) -> None:
    await env.linked()
    await env.assign(duration="1m")
    await env.act(KH, START)
    env.advance(60)
    await env.act(WR, COMPLETE)
    await env.act(KH, COMPLETE)
    await env.assign()
    await env.act(WR, FAIL)
    assert env.feed.kinds() == [
        EventKind.ASSIGNED,
        EventKind.TIMER_STARTED,
        EventKind.CONFIRMATION_REQUESTED,
        EventKind.COMPLETED,
        EventKind.ASSIGNED,
        EventKind.FAILED,
    ]
    assert [e.by_user_id for e in env.feed.events] == [
        KEYHOLDER,
        KEYHOLDER,
        WEARER,
        KEYHOLDER,
        KEYHOLDER,
        WEARER,
    ]
    assert all(e.channel_id == CHANNEL for e in env.feed.events)
    assert [e.task.state for e in env.feed.events] == [
        TaskState.ASSIGNED,
        TaskState.TIMER_RUNNING,
        TaskState.AWAITING_CONFIRMATION,
        TaskState.COMPLETED,
        TaskState.ASSIGNED,
        TaskState.FAILED,
    ]


async def test_a_failing_subscriber_does_not_fail_the_action(env: Env) -> None:
    seen: list[EventKind] = []

    async def broken(event: Event) -> None:
        raise RuntimeError("Discord is down")

    async def after(event: Event) -> None:
        if isinstance(event, TaskEvent):
            seen.append(event.kind)

    env.service.subscribe(broken)
    env.service.subscribe(after)
    await env.linked()
    task = await env.assign()
    assert task.state is TaskState.ASSIGNED
    done = await env.act(KH, COMPLETE)
    assert done.state is TaskState.COMPLETED
    assert seen == [EventKind.ASSIGNED, EventKind.COMPLETED]
    assert await env.audit() == [("link", "ok"), ("task.assign", "ok"), ("task.complete", "ok")]


# ---------------------------------------------------------------------------------- settings


async def test_settings_need_manage_server(env: Env) -> None:
    for caller in (KH, WR, OTHER):
        with pytest.raises(NotAllowed):
            await env.service.set_feed_channel(caller, FEED_CHANNEL)
        with pytest.raises(NotAllowed):
            await env.service.set_wearer_can_complete(caller, True)
    settings = await env.store.get_guild_settings(GUILD)
    assert settings.feed_channel_id is None
    assert settings.wearer_can_complete is False
    assert settings.updated_at is None
    assert {result for _, result in await env.audit()} == {"refused"}


async def test_a_manager_changes_the_settings_of_their_server_only(env: Env) -> None:
    await env.service.set_feed_channel(MANAGER, FEED_CHANNEL)
    await env.service.set_wearer_can_complete(MANAGER, True)
    settings = await env.store.get_guild_settings(GUILD)
    assert settings.feed_channel_id == FEED_CHANNEL
    assert settings.wearer_can_complete is True
    other = await env.store.get_guild_settings(OTHER_GUILD)
    assert (other.feed_channel_id, other.wearer_can_complete) == (None, False)
    assert await env.audit() == [("settings.feed", "ok"), ("settings.wearer-complete", "ok")]


async def test_wearer_complete_setting_of_another_server_does_not_apply(env: Env) -> None:
    await env.service.set_wearer_can_complete(Caller(ADMIN, OTHER_GUILD, True), True)
    await env.linked()
    await env.assign()
    waiting = await env.act(WR, COMPLETE)
    assert waiting.state is TaskState.AWAITING_CONFIRMATION
    assert env.posts("complete") == []


# ---------------------------------------------------------------------------------- reactions


async def test_reactions_find_the_task_and_follow_the_same_rules(env: Env) -> None:
    await env.linked()
    task = await env.assign()
    message_id = env.feed.message_ids[task.id]
    found = await env.service.task_for_message(message_id)
    assert found is not None
    assert found.id == task.id
    assert found.feed_message_id == message_id
    assert found.feed_channel_id == CHANNEL
    assert await env.service.task_for_message(message_id + 1) is None
    env.fake.calls.clear()

    with pytest.raises(NotAllowed):
        await env.service.act_on_message(OTHER, found, COMPLETE)
    with pytest.raises(NotAllowed):
        await env.service.act_on_message(Caller(KEYHOLDER, OTHER_GUILD), found, COMPLETE)
    with pytest.raises(Refused):
        await env.service.act_on_message(KH, found, START)  # untimed
    waiting = await env.service.act_on_message(WR, found, COMPLETE)
    assert waiting.state is TaskState.AWAITING_CONFIRMATION
    assert env.fake.calls == []
    done = await env.service.act_on_message(KH, found, COMPLETE)  # a stale copy is fine
    assert done.state is TaskState.COMPLETED
    assert env.actors("complete") == ["keyholder"]
    with pytest.raises(Refused):
        await env.service.act_on_message(KH, found, FAIL)
    assert len(env.posts("complete")) == 1
    assert [action for action, _ in await env.audit()][-6:] == [
        "reaction.complete",
        "reaction.complete",
        "reaction.start",
        "reaction.complete",
        "reaction.complete",
        "reaction.fail",
    ]


async def test_reactions_on_a_timed_task(env: Env) -> None:
    await env.linked()
    task = await env.assign(duration="1m")
    started = await env.service.act_on_message(WR, task, START)
    assert started.state is TaskState.TIMER_RUNNING
    with pytest.raises(Refused) as caught:
        await env.service.act_on_message(KH, task, COMPLETE)
    assert caught.value.at == started.timer_ends_at
    env.advance(60)
    done = await env.service.act_on_message(KH, task, COMPLETE)
    assert done.state is TaskState.COMPLETED
    assert env.actors("start-timer") == ["wearer"]
    assert env.actors("complete") == ["keyholder"]


async def test_reaction_after_unlink_is_refused(env: Env) -> None:
    await env.linked()
    task = await env.assign()
    await env.service.unlink(KH, WEARER)
    env.fake.calls.clear()
    with pytest.raises(Refused):
        await env.service.act_on_message(KH, task, FAIL)
    assert env.fake.calls == []


async def test_two_concurrent_completes_complete_once(env: Env) -> None:
    await env.linked()
    task = await env.assign()
    results = await asyncio.gather(
        env.service.act_on_message(KH, task, COMPLETE),
        env.service.act_on_message(KH, task, COMPLETE),
        return_exceptions=True,
    )
    done = [r for r in results if isinstance(r, Task)]
    refused = [r for r in results if isinstance(r, Refused)]
    assert len(done) == 1 and len(refused) == 1, results
    assert done[0].state is TaskState.COMPLETED
    assert len(env.posts("complete")) == 1
    assert env.feed.kinds().count(EventKind.COMPLETED) == 1


async def test_a_command_and_a_reaction_at_once_close_the_task_once(env: Env) -> None:
    await env.linked()
    task = await env.assign()
    results = await asyncio.gather(
        env.act(KH, COMPLETE),
        env.service.act_on_message(WR, task, FAIL),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Task) for r in results) == 1, results
    assert sum(isinstance(r, Refused) for r in results) == 1, results
    assert len(env.posts("complete")) == 1
    closed = await env.only_task()
    assert not closed.is_open


async def test_two_concurrent_assigns_assign_once(env: Env) -> None:
    await env.linked()
    results = await asyncio.gather(
        env.assign(description="One"), env.assign(description="Two"), return_exceptions=True
    )
    assert sum(isinstance(r, Task) for r in results) == 1, results
    assert sum(isinstance(r, Refused) for r in results) == 1, results
    assert len(env.posts("assign")) == 1
    assert await env.count("tasks") == 1


async def test_keyholders_in_two_servers_assigning_at_once_make_one_task(env: Env) -> None:
    # One lock linked in two servers, each with its own keyholder of record (the second by
    # the wearer's consent): Chaster holds one current task, so only one assign can win.
    await env.linked()
    elsewhere = Caller(STRANGER, OTHER_GUILD)
    outcome = await env.service.link(elsewhere, WEARER, env.session.session_id, CHANNEL)
    assert outcome.request is not None
    await env.service.confirm_link(Caller(WEARER, OTHER_GUILD), outcome.request)
    env.fake.latency = 0.05

    async def assign_as(caller: Caller, text: str) -> Task:
        return await env.service.assign(
            caller, WEARER, description=text, points=1, channel_id=CHANNEL
        )

    results = await asyncio.gather(
        assign_as(KH, "Hold a plank"), assign_as(elsewhere, "Run a lap"), return_exceptions=True
    )

    [won] = [r for r in results if isinstance(r, Task)]
    [lost] = [r for r in results if isinstance(r, BaseException)]
    assert isinstance(lost, Refused), lost
    assert "task" in lost.message, lost
    assert await env.count("tasks") == 1
    current = env.session.current_task
    assert current is not None and current["task"] == won.description


# ---------------------------------------------------------------------------------- audit


async def test_every_attempt_is_audited(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    link = await env.linked()
    with pytest.raises(NotAllowed):
        await env.assign(WR)
    task = await env.assign()
    env.fake.fail_next("POST", "/tasks/complete", 500, "Chaster tripped")
    with pytest.raises(ChasterRefused):
        await env.act(KH, COMPLETE)

    async def broken(link_id: int) -> Task | None:
        raise RuntimeError("disk gone")

    with monkeypatch.context() as patch:
        patch.setattr(env.store, "get_open_task", broken)
        with pytest.raises(RuntimeError):
            await env.act(WR, FAIL)
    await env.service.status(WR, WEARER)
    with pytest.raises(NotAllowed):
        await env.service.status(OTHER, WEARER)

    entries = list(reversed(await env.store.audit_entries()))
    assert [(e.action, e.result, e.user_id) for e in entries] == [
        ("link", "ok", KEYHOLDER),
        ("task.assign", "refused", WEARER),
        ("task.assign", "ok", KEYHOLDER),
        ("task.complete", "refused", KEYHOLDER),
        ("task.fail", "error", WEARER),
        ("task.status", "ok", WEARER),
        ("task.status", "refused", STRANGER),
    ]
    assert all(e.guild_id == GUILD for e in entries)
    assert all(e.link_id == link.id for e in entries)
    assert entries[2].task_id == task.id
    assert entries[3].task_id == task.id
    assert "Chaster tripped" in entries[3].detail
    assert "RuntimeError" in entries[4].detail
    assert all(e.at == env.clock.now() for e in entries)


async def test_link_requests_and_confirmations_are_audited(env: Env) -> None:
    session = env.add_lock()
    outcome = await env.service.link(OTHER, WEARER, session.session_id, CHANNEL)
    assert outcome.request is not None
    with pytest.raises(NotAllowed):
        await env.service.confirm_link(OTHER, outcome.request)
    link = await env.service.confirm_link(WR, outcome.request)
    with pytest.raises(Refused):
        await env.service.confirm_link(WR, outcome.request)
    with pytest.raises(NotAllowed):
        await env.service.unlink(Caller(ADMIN, GUILD), WEARER)
    await env.service.unlink(WR, WEARER)
    entries = list(reversed(await env.store.audit_entries()))
    assert [(e.action, e.result) for e in entries] == [
        ("link", "ok"),
        ("link.confirm", "refused"),
        ("link.confirm", "ok"),
        ("link.confirm", "refused"),
        ("unlink", "refused"),
        ("unlink", "ok"),
    ]
    assert session.session_id in entries[0].detail
    assert entries[2].link_id == link.id
    assert entries[5].link_id == link.id
