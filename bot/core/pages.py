"""The backend of the extension's own pages inside Chaster: what the main page shows to the
lock's wearer or keyholder, and what the configuration page reads and saves.

The page sends only the token Chaster gave it; the session is always the one Chaster says the
token belongs to, never one the page names. An exchange is cached for a short while (a page
reloaded, a refresh) so a page costs Chaster one request, not one per look.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from bot.chaster import ChasterClient, ChasterError, ChasterUnavailable
from bot.chaster.errors import InvalidPageToken
from bot.chaster.models import Lock, SessionAuth
from bot.chaster.state import LockState
from bot.core.link_codes import CODE_TTL, LinkCodes
from bot.core.lock_defaults import LockDefaults
from bot.core.model import Clock
from bot.store import SessionLink, Store, Task, TaskState

# How long one exchange of a main-page token is reused.
EXCHANGE_CACHE_SECONDS = 30.0
EXCHANGE_CACHE_SIZE = 1000
RECENT_TASKS = 5


class PageProblem(StrEnum):
    """Why a page cannot show what was asked; each is a message key of the page."""

    TOKEN_INVALID = "page.token-invalid"  # noqa: S105 (a key, not a secret)
    CHASTER_UNAVAILABLE = "page.chaster-unavailable"


class PageError(Exception):
    def __init__(self, problem: PageProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


class Directory(Protocol):
    """Names from Discord, for the page: a server's, and a member's there."""

    async def server_name(self, guild_id: int) -> str | None: ...

    async def member_name(self, guild_id: int, user_id: int) -> str | None: ...


def token_key(token: str) -> str:
    """What the bot keeps of a token: a hash, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class _Cached:
    auth: SessionAuth
    at: datetime


class MainPage:
    def __init__(
        self,
        store: Store,
        chaster: ChasterClient,
        codes: LinkCodes,
        clock: Clock,
        directory: Directory,
    ) -> None:
        self._store = store
        self._chaster = chaster
        self._codes = codes
        self._clock = clock
        self._directory = directory
        self._cache: OrderedDict[str, _Cached] = OrderedDict()

    async def exchange(self, token: str) -> SessionAuth:
        """Who the token belongs to, from Chaster (or from a recent exchange)."""
        key = token_key(token)
        cached = self._cache.get(key)
        now = self._clock()
        if cached is not None and (now - cached.at).total_seconds() < EXCHANGE_CACHE_SECONDS:
            return cached.auth
        try:
            auth = await self._chaster.session_auth(token)
        except (InvalidPageToken, ChasterError) as error:
            raise page_error(error) from None
        self._cache[key] = _Cached(auth, now)
        self._cache.move_to_end(key)
        while len(self._cache) > EXCHANGE_CACHE_SIZE:
            self._cache.popitem(last=False)
        return auth

    async def state(self, token: str) -> dict[str, Any]:
        """Everything the main page shows, as JSON; a new link code each time."""
        auth = await self.exchange(token)
        session = auth.session
        links = await self._store.open_links_for_session(session.session_id)
        tasks = await self._store.session_tasks(session.session_id, limit=RECENT_TASKS + 1)
        open_task = next((task for task in tasks if task.is_open), None)
        code = await self._codes.issue(session, auth.role, auth.user_id)
        return {
            "role": auth.role,
            "lock": _lock(auth.lock_for_user),
            "task": _current_task(auth.lock_for_user, open_task.deadline_at if open_task else None),
            "points": _points(auth.lock_for_user),
            "servers": [await self._server(link, auth.role == "keyholder") for link in links],
            "recent": [_recent(task) for task in tasks if not task.is_open][:RECENT_TASKS],
            "linkCode": code,
            "linkCodeExpiresAt": _iso(self._clock() + CODE_TTL),
        }

    async def _server(self, link: SessionLink, for_keyholder: bool) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "name": await self._directory.server_name(link.guild_id),
            "keyholder": None
            if link.keyholder_id == link.wearer_id
            else await self._directory.member_name(link.guild_id, link.keyholder_id),
            "selfManaged": link.keyholder_id == link.wearer_id,
        }
        if for_keyholder:
            shown["paused"] = link.is_paused
            shown["pausedAt"] = _iso(link.paused_at) if link.paused_at else None
        return shown


class ConfigPage:
    """Reads and saves the defaults of a lock's links (`config` in Chaster)."""

    def __init__(self, chaster: ChasterClient) -> None:
        self._chaster = chaster

    async def read(self, token: str) -> dict[str, Any]:
        """The form as the page shows it, from what was saved (or nothing yet)."""
        try:
            configuration = await self._chaster.get_configuration(token)
        except (InvalidPageToken, ChasterError) as error:
            raise page_error(error) from None
        return LockDefaults.from_config(configuration.config).to_form()

    async def save(self, token: str, defaults: LockDefaults) -> None:
        """Save checked defaults; Chaster keeps them as the session's config."""
        try:
            await self._chaster.save_configuration(token, defaults.to_config())
        except (InvalidPageToken, ChasterError) as error:
            raise page_error(error) from None


def page_error(error: InvalidPageToken | ChasterError) -> PageError:
    """What a page says of a token Chaster refused, or of Chaster not answering."""
    if isinstance(error, InvalidPageToken) or (
        not isinstance(error, ChasterUnavailable) and error.status in (400, 401, 403, 404, 410)
    ):
        return PageError(PageProblem.TOKEN_INVALID)
    return PageError(PageProblem.CHASTER_UNAVAILABLE)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _lock(lock: Lock) -> dict[str, Any]:
    return {
        "title": lock.title,
        # None when the lock hides its timer from this person.
        "endsAt": _iso(lock.end_date) if lock.end_date else None,
        "ended": LockState.of(lock).ended,
    }


def _current_task(lock: Lock, deadline_at: datetime | None) -> dict[str, Any] | None:
    tasks = lock.tasks
    current = tasks.current_task if tasks is not None else None
    if current is None:
        return None
    started = current.timer_started_at
    return {
        "text": current.task,
        "points": current.points,
        "verificationRequired": current.verification_required,
        "duration": current.duration or None,
        "timerEndsAt": _iso(started + timedelta(seconds=current.duration))
        if started is not None and current.duration
        else None,
        "deadlineAt": _iso(deadline_at) if deadline_at else None,
    }


def _points(lock: Lock) -> dict[str, Any] | None:
    tasks = lock.tasks
    if tasks is None:
        return None
    return {
        "earned": tasks.user_data.points,
        "required": tasks.config.points_required if tasks.config.enable_points else None,
    }


def _recent(task: Task) -> dict[str, Any]:
    return {
        "text": task.description,
        "points": task.points,
        "outcome": "completed" if task.state is TaskState.COMPLETED else "failed",
        "at": _iso(task.closed_at or task.updated_at),
    }
