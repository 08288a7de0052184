"""The one way the bot talks to Chaster: typed calls on the Extensions API.

What the calls raise is in `bot.chaster.errors`; how they are recorded for the audit log, in
`bot.chaster.calls`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from pydantic import SecretStr, ValidationError

from bot.chaster.calls import current_server, current_wait_notice, note_call
from bot.chaster.errors import (
    ChasterError,
    ChasterUnavailable,
    Unavailability,
    checked_page_token,
    checked_session_id,
)
from bot.chaster.models import (
    ActionLogPage,
    Actor,
    ExtensionSession,
    LockAction,
    PartnerConfiguration,
    SearchedSession,
    SessionAuth,
    SessionSearchPage,
    TaskDetails,
)
from bot.chaster.ratelimit import Priority, RateLimiter

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# How often a 429 is retried before the caller sees it.
MAX_THROTTLE_RETRIES = 5
# A 429 without a usable X-RateLimit-Reset waits this long, doubling on each further 429
# (1 + 2 + 4 + 8 + 16 s at most): long enough for a per-minute window to move on, and the
# pause holds every request, so nothing spins against the limit meanwhile.
THROTTLE_BACKOFF_SECONDS = 1.0
# Delays before retrying a request that never reached Chaster (or a GET that failed).
TRANSPORT_RETRY_DELAYS = (0.5, 1.5)
SEARCH_PAGE_SIZE = 100
USER_AGENT = "chaster-tasks-discord-bot"

_M = TypeVar(
    "_M", ExtensionSession, SessionSearchPage, ActionLogPage, SessionAuth, PartnerConfiguration
)
# What the log and the audit show instead of a page token in a path.
_TOKEN_SHOWN = "<token>"  # noqa: S105 (a placeholder, not a secret)


# Errors raised before a request leaves this machine: safe to retry whatever the method.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class ChasterClient:
    """Typed access to the Chaster Extensions API with Bearer auth, pacing and error mapping."""

    def __init__(
        self,
        base_url: str,
        token: SecretStr,
        *,
        timeout: httpx.Timeout | None = None,
        limiter: RateLimiter | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.limiter = limiter or RateLimiter()
        # Told the session id after every write to it, whatever its outcome.
        self._write_listeners: list[Callable[[str], None]] = []
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            # Read at construction, not at import, so a test can shorten it for a whole bot.
            timeout=timeout or DEFAULT_TIMEOUT,
            transport=transport,
            headers={
                "Authorization": f"Bearer {token.get_secret_value()}",
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
            },
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- sessions ---------------------------------------------------------------------------

    async def get_session(self, session_id: str, *, background: bool = False) -> ExtensionSession:
        """`GET /api/extensions/sessions/{id}`."""
        path = f"/api/extensions/sessions/{checked_session_id(session_id)}"
        body, http_status = await self._json("GET", path, background=background)
        return _parse(ExtensionSession, body.get("session"), http_status)

    async def search_sessions_page(
        self,
        extension_slug: str,
        *,
        status: str = "locked",
        limit: int = SEARCH_PAGE_SIZE,
        pagination_last_id: str | None = None,
        background: bool = False,
    ) -> SessionSearchPage:
        """One page of `POST /api/extensions/sessions/search`."""
        payload: dict[str, Any] = {
            "extensionSlug": extension_slug,
            "status": status,
            "limit": limit,
        }
        if pagination_last_id is not None:
            payload["paginationLastId"] = pagination_last_id
        body, http_status = await self._json(
            "POST", "/api/extensions/sessions/search", json=payload, background=background
        )
        return _parse(SessionSearchPage, body, http_status)

    async def iter_pages(
        self, extension_slug: str, *, status: str = "locked", background: bool = False
    ) -> AsyncGenerator[SessionSearchPage, None]:
        """Every page of the search; each request is sent when the next page is asked for."""
        last_id: str | None = None
        while True:
            page = await self.search_sessions_page(
                extension_slug, status=status, pagination_last_id=last_id, background=background
            )
            yield page
            if not page.has_more or not page.results:
                return
            next_id = page.results[-1].pagination_id
            if next_id is None or next_id == last_id:
                # A cursor that does not move would loop forever.
                raise ChasterUnavailable(
                    "Chaster's session search returned no usable cursor",
                    reason=Unavailability.NOT_UNDERSTOOD,
                    may_have_applied=False,
                )
            last_id = next_id

    async def iter_sessions(
        self, extension_slug: str, *, status: str = "locked", background: bool = False
    ) -> AsyncIterator[SearchedSession]:
        """Every session matching the search, page after page."""
        async for page in self.iter_pages(extension_slug, status=status, background=background):
            for session in page.results:
                yield session

    async def search_sessions(
        self, extension_slug: str, *, status: str = "locked", background: bool = False
    ) -> list[SearchedSession]:
        """All sessions matching the search (all pages)."""
        return [
            session
            async for session in self.iter_sessions(
                extension_slug, status=status, background=background
            )
        ]

    async def search_logs(
        self, session_id: str, *, limit: int = 15, background: bool = False
    ) -> ActionLogPage:
        """The lock's newest history entries (`POST .../logs/search`), as the keyholder sees it."""
        path = f"/api/extensions/sessions/{checked_session_id(session_id)}/logs/search"
        body, http_status = await self._json(
            "POST", path, json={"role": "keyholder", "limit": limit}, background=background
        )
        return _parse(ActionLogPage, body, http_status)

    # -- the extension's pages -------------------------------------------------------------

    async def session_auth(self, main_token: str) -> SessionAuth:
        """`GET /api/extensions/auth/sessions/{mainToken}`: who opened the main page, and the
        session and lock they see. The token never reaches a log."""
        path = "/api/extensions/auth/sessions/"
        body, http_status = await self._json(
            "GET", path + checked_page_token(main_token), shown_path=path + _TOKEN_SHOWN
        )
        return _parse(SessionAuth, body, http_status)

    async def get_configuration(self, token: str) -> PartnerConfiguration:
        """`GET /api/extensions/configurations/{token}`: what the configuration page edits."""
        path = "/api/extensions/configurations/"
        body, http_status = await self._json(
            "GET", path + checked_page_token(token), shown_path=path + _TOKEN_SHOWN
        )
        return _parse(PartnerConfiguration, body, http_status)

    async def save_configuration(self, token: str, config: dict[str, Any]) -> None:
        """`PUT /api/extensions/configurations/{token}`: save what the page's user chose."""
        path = "/api/extensions/configurations/"
        await self._request(
            "PUT",
            path + checked_page_token(token),
            json={"config": config},
            priority=Priority.PERSON,
            shown_path=path + _TOKEN_SHOWN,
        )

    # -- tasks ------------------------------------------------------------------------------

    async def assign_task(self, session_id: str, task: TaskDetails, actor: Actor) -> None:
        """`POST .../tasks/assign`: give the wearer `task` as their current task."""
        body: dict[str, Any] = {
            "task": task.model_dump(by_alias=True, exclude_none=True),
            "actor": str(actor),
        }
        await self._post_task_action(session_id, "assign", body)

    async def start_task_timer(self, session_id: str, actor: Actor) -> None:
        """`POST .../tasks/start-timer` for the current (timed) task."""
        await self._post_task_action(session_id, "start-timer", {"actor": str(actor)})

    async def complete_task(self, session_id: str, actor: Actor, *, is_completed: bool) -> None:
        """`POST .../tasks/complete`: the current task succeeded (True) or failed (False)."""
        await self._post_task_action(
            session_id, "complete", {"actor": str(actor), "isCompleted": is_completed}
        )

    # -- lock actions -----------------------------------------------------------------------

    async def apply_lock_action(self, session_id: str, action: LockAction) -> None:
        """`POST .../action`: add time, freeze or pillory the lock. Chaster has no idempotency
        key: a ChasterUnavailable with may_have_applied means check the history, not resend."""
        path = f"/api/extensions/sessions/{checked_session_id(session_id)}/action"
        await self._post_write(session_id, path, {"action": action.body()})

    async def add_custom_log(
        self, session_id: str, *, title: str, description: str, icon: str, color: str
    ) -> None:
        """`POST .../logs/custom`: an entry in the lock's history, as the extension. Background
        priority: it comes after every request a person waits for."""
        path = f"/api/extensions/sessions/{checked_session_id(session_id)}/logs/custom"
        body = {
            "title": title,
            "description": description,
            "role": "extension",
            "icon": icon,
            "color": color,
        }
        await self._post_write(session_id, path, body, priority=Priority.BACKGROUND)

    # -- writes -----------------------------------------------------------------------------

    def on_write(self, listener: Callable[[str], None]) -> None:
        """Call `listener` with the session id after every write to a session, whatever its
        outcome: a reading sent before it may no longer be Chaster's state."""
        self._write_listeners.append(listener)

    async def _post_task_action(self, session_id: str, action: str, body: dict[str, Any]) -> None:
        path = f"/api/extensions/sessions/{checked_session_id(session_id)}/tasks/{action}"
        await self._post_write(session_id, path, body)

    async def _post_write(
        self,
        session_id: str,
        path: str,
        body: dict[str, Any],
        *,
        priority: Priority = Priority.WRITE,
    ) -> None:
        """POST a write to a session whose success is an empty 201."""
        try:
            response = await self._request("POST", path, json=body, priority=priority)
        finally:
            for listener in self._write_listeners:
                listener(session_id)
        # Chaster answers these with an empty 201. A body that is not JSON is not Chaster's
        # answer (a cut-off reply, a proxy's page): whether the action landed is unknown.
        if response.content.strip():
            try:
                response.json()
            except ValueError:
                raise ChasterUnavailable(
                    "Chaster sent an answer the bot can't read",
                    reason=Unavailability.UNREADABLE,
                    may_have_applied=True,
                    status=response.status_code,
                ) from None

    # -- transport --------------------------------------------------------------------------

    async def _json(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        background: bool = False,
        shown_path: str | None = None,
    ) -> tuple[dict[str, Any], int]:
        """The JSON object a read answered with, and the answer's HTTP status."""
        priority = Priority.BACKGROUND if background else Priority.PERSON
        response = await self._request(
            method, path, json=json, priority=priority, shown_path=shown_path
        )
        # Only reads come here (a search is a POST that changes nothing).
        try:
            body = response.json()
        except ValueError:
            raise ChasterUnavailable(
                "Chaster sent an answer the bot can't read",
                reason=Unavailability.UNREADABLE,
                may_have_applied=False,
                status=response.status_code,
            ) from None
        if not isinstance(body, dict):
            raise ChasterUnavailable(
                "Chaster sent an answer the bot does not understand",
                reason=Unavailability.NOT_UNDERSTOOD,
                may_have_applied=False,
                status=response.status_code,
            )
        return body, response.status_code

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any,
        priority: Priority,
        shown_path: str | None = None,
    ) -> httpx.Response:
        """Send one request, paced and retried; `shown_path` is what logs show of a path that
        holds a secret."""
        url, path = path, shown_path or path
        server, notice = current_server(), current_wait_notice()
        throttled = 0
        transport_failures = 0
        while True:
            started = time.monotonic()
            try:
                async with self.limiter.slot(priority, server=server, notice=notice):
                    response = await self._http.request(method, url, json=json)
                    # Read the headers before the slot is released, so it cools for the
                    # window the server just reported.
                    self.limiter.observe(response.headers)
            except httpx.TransportError as error:
                retry = self._may_retry(method, error, transport_failures)
                log.warning(
                    "chaster %s %s failed after %.0f ms: %s%s",
                    method,
                    path,
                    (time.monotonic() - started) * 1000,
                    type(error).__name__,
                    ", retrying" if retry else "",
                )
                note_call(method, path, type(error).__name__, started)
                if not retry:
                    raise _unavailable(method, error) from None
                await asyncio.sleep(TRANSPORT_RETRY_DELAYS[transport_failures])
                transport_failures += 1
                continue
            note_call(method, path, str(response.status_code), started)
            log.debug(
                "chaster %s %s -> %d in %.0f ms",
                method,
                path,
                response.status_code,
                (time.monotonic() - started) * 1000,
            )
            if response.status_code == httpx.codes.TOO_MANY_REQUESTS:
                # A throttled request was not processed, so sending it again is safe.
                if throttled >= MAX_THROTTLE_RETRIES:
                    throttled_error = _api_error(response)
                    raise ChasterUnavailable(
                        throttled_error.message,
                        reason=Unavailability.THROTTLED,
                        may_have_applied=False,
                        status=throttled_error.status,
                    )
                wait = self.limiter.seconds_until_reset(response.headers)
                if wait is None or wait <= 0:
                    wait = THROTTLE_BACKOFF_SECONDS * 2.0**throttled
                self.limiter.pause_for(wait)
                throttled += 1
                log.warning("chaster rate limit hit on %s %s; waiting", method, path)
                continue
            if response.is_success:
                return response
            failure = _api_error(response)
            if response.is_server_error:
                # A gateway's 502/504 or Chaster's own 500 can come after the change was made:
                # a write's outcome is unknown, not refused.
                raise ChasterUnavailable(
                    failure.message,
                    reason=Unavailability.SERVER_ERROR,
                    may_have_applied=method != "GET",
                    status=failure.status,
                )
            raise failure

    @staticmethod
    def _may_retry(method: str, error: httpx.TransportError, failures: int) -> bool:
        if failures >= len(TRANSPORT_RETRY_DELAYS):
            return False
        # A POST that may have reached Chaster (an assign might have landed) is never repeated.
        return method == "GET" or isinstance(error, _NOT_SENT)


def _unavailable(method: str, error: httpx.TransportError) -> ChasterUnavailable:
    if isinstance(error, httpx.TimeoutException):
        message, reason = "Chaster did not answer in time", Unavailability.TIMEOUT
    else:
        message, reason = "Chaster could not be reached", Unavailability.UNREACHABLE
    return ChasterUnavailable(
        message,
        reason=reason,
        may_have_applied=method != "GET" and not isinstance(error, _NOT_SENT),
    )


def _api_error(response: httpx.Response) -> ChasterError:
    message: str | list[str] = response.reason_phrase or f"HTTP {response.status_code}"
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        raw = body.get("message")
        if isinstance(raw, str) and raw:
            message = raw
        elif isinstance(raw, list) and raw:
            message = [str(part) for part in raw]
    return ChasterError(response.status_code, message)


def _parse(model: type[_M], body: Any, status: int) -> _M:
    try:
        return model.model_validate(body)
    except ValidationError as error:
        log.warning("unexpected Chaster payload for %s: %s", model.__name__, error)
        raise ChasterUnavailable(
            "Chaster sent an answer the bot does not understand",
            reason=Unavailability.NOT_UNDERSTOOD,
            may_have_applied=False,
            status=status,
        ) from None
