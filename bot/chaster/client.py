"""The one way the bot talks to Chaster: typed calls on the Extensions API.

What the calls raise is in `bot.chaster.errors`; how requests are sent, paced and retried, in
`bot.chaster.transport`; how they are recorded for the audit log, in `bot.chaster.calls`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from pydantic import SecretStr, ValidationError

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
from bot.chaster.reviews import PeerReview, ReviewPage, ReviewStatus, UploadedFile
from bot.chaster.transport import Transport

log = logging.getLogger(__name__)

SEARCH_PAGE_SIZE = 100

_M = TypeVar(
    "_M",
    ExtensionSession,
    SessionSearchPage,
    ActionLogPage,
    SessionAuth,
    PartnerConfiguration,
    UploadedFile,
    PeerReview,
    ReviewPage,
)
# What the log and the audit show instead of a page token in a path.
_TOKEN_SHOWN = "<token>"  # noqa: S105 (a placeholder, not a secret)


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
        self._transport = Transport(
            base_url, token, timeout=timeout, limiter=limiter, transport=transport
        )
        self.limiter = self._transport.limiter

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
        await self._transport.aclose()

    def on_write(self, listener: Callable[[str], None]) -> None:
        """Call `listener` with the session id after every write to a session, whatever its
        outcome: a reading sent before it may no longer be Chaster's state."""
        self._transport.on_write(listener)

    # -- sessions ---------------------------------------------------------------------------

    async def get_session(self, session_id: str, *, background: bool = False) -> ExtensionSession:
        """`GET /api/extensions/sessions/{id}`."""
        path = f"/api/extensions/sessions/{checked_session_id(session_id)}"
        body, http_status = await self._transport.read("GET", path, background=background)
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
        body, http_status = await self._transport.read(
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
        body, http_status = await self._transport.read(
            "POST", path, json={"role": "keyholder", "limit": limit}, background=background
        )
        return _parse(ActionLogPage, body, http_status)

    # -- the extension's pages -------------------------------------------------------------

    async def session_auth(self, main_token: str) -> SessionAuth:
        """`GET /api/extensions/auth/sessions/{mainToken}`: who opened the main page, and the
        session and lock they see. The token never reaches a log."""
        path = "/api/extensions/auth/sessions/"
        body, http_status = await self._transport.read(
            "GET", path + checked_page_token(main_token), shown_path=path + _TOKEN_SHOWN
        )
        return _parse(SessionAuth, body, http_status)

    async def get_configuration(self, token: str) -> PartnerConfiguration:
        """`GET /api/extensions/configurations/{token}`: what the configuration page edits."""
        path = "/api/extensions/configurations/"
        body, http_status = await self._transport.read(
            "GET", path + checked_page_token(token), shown_path=path + _TOKEN_SHOWN
        )
        return _parse(PartnerConfiguration, body, http_status)

    async def save_configuration(self, token: str, config: dict[str, Any]) -> None:
        """`PUT /api/extensions/configurations/{token}`: save what the page's user chose."""
        path = "/api/extensions/configurations/"
        await self._transport.request(
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
        await self._transport.post_write(session_id, path, {"action": action.body()})

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
        await self._transport.post_write(session_id, path, body, priority=Priority.BACKGROUND)

    # -- private files and peer reviews -----------------------------------------------------

    async def upload_file(
        self, session_id: str, content: bytes, *, filename: str, content_type: str
    ) -> UploadedFile:
        """`POST .../files`: keep an image privately for a review. Neither the bytes nor the
        answer's attachment token reach a log."""
        path = f"/api/extensions/sessions/{checked_session_id(session_id)}/files"
        body, http_status = await self._transport.write_answered(
            "POST", path, files={"file": (filename, content, content_type)}
        )
        return _parse(UploadedFile, body, http_status)

    async def delete_file(self, session_id: str, file_id: str) -> None:
        """`DELETE .../files/{fileId}`: an upload no review uses. A file Chaster no longer
        has (404) is as good as deleted."""
        path = (
            f"/api/extensions/sessions/{checked_session_id(session_id)}/files/"
            f"{checked_session_id(file_id)}"
        )
        try:
            await self._transport.request("DELETE", path, json=None, priority=Priority.WRITE)
        except ChasterError as error:
            if error.status != 404:
                raise

    async def create_review(self, session_id: str, body: dict[str, Any]) -> PeerReview:
        """`POST .../peer-verifications`: a standalone peer review of an uploaded photo. No
        idempotency key: after a lost answer, look in `search_reviews` before sending again."""
        path = f"/api/extensions/sessions/{checked_session_id(session_id)}/peer-verifications"
        answer, http_status = await self._transport.write_answered("POST", path, json=body)
        return _parse(PeerReview, answer, http_status)

    async def search_reviews(
        self,
        session_id: str,
        *,
        statuses: tuple[ReviewStatus, ...] = (),
        kind: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
        background: bool = False,
    ) -> ReviewPage:
        """One page of `POST .../peer-verifications/search`, newest first."""
        path = (
            f"/api/extensions/sessions/{checked_session_id(session_id)}/peer-verifications/search"
        )
        criteria: dict[str, Any] = {}
        if statuses:
            criteria["statuses"] = [str(status) for status in statuses]
        if kind is not None:
            criteria["verificationTypeKeys"] = [kind]
        payload: dict[str, Any] = {"limit": limit}
        if criteria:
            payload["criteria"] = criteria
        if cursor is not None:
            payload["cursor"] = cursor
        body, http_status = await self._transport.read(
            "POST", path, json=payload, background=background
        )
        return _parse(ReviewPage, body, http_status)

    async def _post_task_action(self, session_id: str, action: str, body: dict[str, Any]) -> None:
        path = f"/api/extensions/sessions/{checked_session_id(session_id)}/tasks/{action}"
        await self._transport.post_write(session_id, path, body)


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
