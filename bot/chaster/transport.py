"""How the bot's requests reach Chaster: Bearer auth, pacing by the rate limiter, retries of
what is safe to send again, and Chaster's answers mapped to the errors in
`bot.chaster.errors`. The typed calls are in `bot.chaster.client`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import SecretStr

from bot.chaster.calls import current_server, current_wait_notice, note_call
from bot.chaster.errors import ChasterError, ChasterUnavailable, Unavailability
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
USER_AGENT = "chaster-tasks-discord-bot"
# Multipart parts by field name: (file name, content, content type).
Files = dict[str, tuple[str, bytes, str]]


# Errors raised before a request leaves this machine: safe to retry whatever the method.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class Transport:
    """One HTTP client to Chaster, paced by one rate limiter."""

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

    async def aclose(self) -> None:
        await self._http.aclose()

    def on_write(self, listener: Callable[[str], None]) -> None:
        """Call `listener` with the session id after every write to a session, whatever its
        outcome: a reading sent before it may no longer be Chaster's state."""
        self._write_listeners.append(listener)

    async def post_write(
        self,
        session_id: str,
        path: str,
        body: dict[str, Any],
        *,
        priority: Priority = Priority.WRITE,
    ) -> None:
        """POST a write to a session whose success is an empty 201."""
        try:
            response = await self.request("POST", path, json=body, priority=priority)
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

    async def read(
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
        response = await self.request(
            method, path, json=json, priority=priority, shown_path=shown_path
        )
        # Only reads come here (a search is a POST that changes nothing).
        return _json_object(response, may_have_applied=False), response.status_code

    async def write_answered(
        self, method: str, path: str, *, json: Any = None, files: Files | None = None
    ) -> tuple[dict[str, Any], int]:
        """A write whose success carries a JSON object (an upload, a new review). An answer
        that cannot be read leaves unknown whether the write landed."""
        response = await self.request(method, path, json=json, files=files, priority=Priority.WRITE)
        return _json_object(response, may_have_applied=True), response.status_code

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any,
        priority: Priority,
        shown_path: str | None = None,
        files: Files | None = None,
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
                    response = await self._http.request(method, url, json=json, files=files)
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


def _json_object(response: httpx.Response, *, may_have_applied: bool) -> dict[str, Any]:
    """The JSON object Chaster answered with; ChasterUnavailable for anything else."""
    try:
        body = response.json()
    except ValueError:
        raise ChasterUnavailable(
            "Chaster sent an answer the bot can't read",
            reason=Unavailability.UNREADABLE,
            may_have_applied=may_have_applied,
            status=response.status_code,
        ) from None
    if not isinstance(body, dict):
        raise ChasterUnavailable(
            "Chaster sent an answer the bot does not understand",
            reason=Unavailability.NOT_UNDERSTOOD,
            may_have_applied=may_have_applied,
            status=response.status_code,
        )
    return body


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
