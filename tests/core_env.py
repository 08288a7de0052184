"""The shared environment of the core's tests: the real core, built as the bot builds it, on a
real SQLite file and a real Chaster client talking to the fake Chaster over loopback.

Every rule is checked from the outside: what a part returns or refuses, what Chaster received
(`fake.calls`, the actor in each body), what the store holds, which events were emitted and
what the audit log says. The fixtures that build it are in tests/conftest.py.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from bot.chaster import ChasterClient
from bot.core import Core
from bot.core.errors import Reason, Refused
from bot.core.model import (
    AutomationEvent,
    Caller,
    Event,
    EventKind,
    LinkEvent,
    TaskAction,
    TaskEvent,
)
from bot.jobs.timers import Deadlines
from bot.store import Controls, SessionLink, Store, Task
from tests.clock import FakeClock
from tests.fakes.chaster import Call, FakeChaster, FakeSession

SLUG = "discord-tasks-bot"
# Short enough that a hung Chaster call times out quickly.
HANG_TIMEOUT = httpx.Timeout(0.3)
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


class FeedRecorder:
    """Records every event and, like the real feed, attaches a message to each new task."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.events: list[TaskEvent] = []
        self.link_events: list[LinkEvent] = []
        self.message_ids: dict[int, int] = {}
        self.changed = asyncio.Event()
        self._ids = itertools.count(600_000_000_000_000_001)

    async def __call__(self, event: Event) -> None:
        self.changed.set()
        if isinstance(event, LinkEvent):
            self.link_events.append(event)
            return
        self.events.append(event)
        if event.kind is EventKind.ASSIGNED and event.channel_id is not None:
            message_id = next(self._ids)
            self.message_ids[event.task.id] = message_id
            await self.core.tasks.attach_feed_message(
                event.task.id, event.channel_id, message_id, Controls.BOTH
            )

    def kinds(self) -> list[EventKind]:
        return [event.kind for event in self.events]

    def by(self) -> list[tuple[EventKind, int | None]]:
        """Each task event with who caused it (None: Chaster or the bot itself)."""
        return [(event.kind, event.by_user_id) for event in self.events]


@dataclass
class CoreEnv:
    fake: FakeChaster
    store: Store
    chaster: ChasterClient
    core: Core
    clock: FakeClock
    feed: FeedRecorder
    # What the core left for later (a schedule's next occasion, a consequence to apply).
    later: Deadlines
    sessions: list[FakeSession] = field(default_factory=list)

    async def run_due(self) -> int:
        """Run what has come due by the fake clock, as the deployment's timers would; how
        many ran."""
        return await self.later.run_due()

    def advance(self, seconds: float) -> None:
        """Time passes for the core and Chaster alike (they share the clock)."""
        self.clock.advance(seconds)

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
        outcome = await self.core.links.link(by, WEARER, session.session_id, CHANNEL)
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
        return await self.core.tasks.assign(
            caller,
            WEARER,
            description=description,
            points=points,
            verification_required=verification_required,
            duration=duration,
            channel_id=channel_id,
        )

    async def act(self, caller: Caller, action: TaskAction) -> Task:
        return await self.core.actions.act(caller, WEARER, action)

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
        return await self.store.db.read(
            lambda conn: int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        )

    async def audit(self) -> list[tuple[str, str]]:
        """(action, result) of every audit entry, oldest first."""
        return [(e.action, e.result) for e in reversed(await self.store.audit_entries())]

    async def allow_wearer_complete(self, allowed: bool = True) -> None:
        await self.core.settings.set_wearer_can_complete(MANAGER, allowed)

    async def forget_lock_facts(self) -> None:
        """Make the link look like one that has not read its lock yet: whether its keyholder
        of record holds the lock in Chaster is unknown."""
        await self.store.db.write_one("UPDATE session_links SET keyholder_is_lock_keyholder = NULL")


# Builds a CoreEnv (the `make_env` fixture): `make_env(client_timeout, limiter)`.
EnvFactory = Callable[..., Awaitable[CoreEnv]]


@contextmanager
def refused(
    reason: Reason, error: type[Refused] = Refused, **params: object
) -> Iterator[pytest.ExceptionInfo[Refused]]:
    """Expect exactly `error` with `reason` (and, when given, these parameters)."""
    with pytest.raises(error) as caught:
        yield caught
    assert type(caught.value) is error, f"{type(caught.value).__name__} is not {error.__name__}"
    assert caught.value.reason is reason, f"{caught.value} is not {reason}"
    for name, value in params.items():
        assert caught.value.params.get(name) == value, f"{name}: {caught.value.params.get(name)!r}"


def automation_events(env: CoreEnv) -> list[AutomationEvent]:
    """The events the bot emitted about what it did on its own (schedules, consequences)."""
    found: list[Event] = list(env.feed.events)
    return [event for event in found if isinstance(event, AutomationEvent)]
