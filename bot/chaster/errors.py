"""What a Chaster call can fail with, and the check that keeps bad session ids out of URLs."""

from __future__ import annotations

import re
from enum import StrEnum

# Chaster session ids are short URL-safe ids ("LuV23MTfUFvxu3j-BASHc"). Anything else is refused
# before it can reach a URL path, so `../` or `/` can never redirect a request.
SESSION_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


class ChasterError(Exception):
    """Chaster answered with an error, or could not be reached.

    `status` is the HTTP status (None when there was no answer); `message` is Chaster's own
    message, a string or a list of strings (validation errors).
    """

    def __init__(self, status: int | None, message: str | list[str]) -> None:
        self.status = status
        self.message = message
        super().__init__(self.text)

    @property
    def text(self) -> str:
        """Chaster's message as one readable line."""
        if isinstance(self.message, list):
            return "; ".join(str(part) for part in self.message)
        return self.message


class Unavailability(StrEnum):
    """Why there was no usable answer."""

    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    # A body that is not JSON.
    UNREADABLE = "unreadable"
    # JSON, but not of the shape Chaster documents.
    NOT_UNDERSTOOD = "not-understood"
    THROTTLED = "throttled"
    SERVER_ERROR = "server-error"


class ChasterUnavailable(ChasterError):
    """No usable answer: network failure, timeout, a server error (5xx), a rate limit that did
    not lift, or a success whose body can't be read.

    `reason` says which; `message` is Chaster's own (for a 5xx or 429) or a description for
    the log. `status` is the HTTP status when there was one. `may_have_applied` is true when a
    write may have taken effect in Chaster (a POST that timed out after being sent, or answered
    5xx or unreadably): the caller must check Chaster's state instead of repeating it.
    """

    def __init__(
        self,
        message: str | list[str],
        *,
        reason: Unavailability,
        may_have_applied: bool,
        status: int | None = None,
    ) -> None:
        super().__init__(status, message)
        self.reason = reason
        self.may_have_applied = may_have_applied


class InvalidSessionId(ValueError):
    """A session id that is not of Chaster's form."""


class InvalidPageToken(ValueError):
    """A main-page or configuration-page token that is not of a form Chaster issues."""


# Chaster's page tokens are opaque; anything outside URL-safe characters, or absurdly long, is
# not one and never reaches a URL.
PAGE_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9._~-]{8,512}")


def checked_page_token(token: str) -> str:
    """Return `token` if it could be a Chaster page token, else raise."""
    if not PAGE_TOKEN_PATTERN.fullmatch(token):
        raise InvalidPageToken("not of the form of a Chaster page token")
    return token


def checked_session_id(session_id: str) -> str:
    """Return `session_id` if it has the form of a Chaster session id, else raise."""
    if not SESSION_ID_PATTERN.fullmatch(session_id):
        raise InvalidSessionId("not of the form of a Chaster session id")
    return session_id
