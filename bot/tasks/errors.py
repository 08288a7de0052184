"""Errors a user can cause, with a message written for that user."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime


class Refused(Exception):
    """The action is not allowed or not possible; the message says why, for the person who asked.

    A message may name a moment as `{at}`: the chat side renders it in each reader's own time
    zone (the service does not know how Discord shows times).
    """

    def __init__(self, message: str, *, at: datetime | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.at = at

    def render(self, format_time: Callable[[datetime], str]) -> str:
        """The message with `{at}` filled in by `format_time`."""
        if self.at is None:
            return self.message.replace("{at}", "").strip()
        return self.message.replace("{at}", format_time(self.at))

    def __str__(self) -> str:
        return self.render(lambda moment: moment.isoformat(timespec="seconds"))


class NotAllowed(Refused):
    """The person has no role that allows this action (not the wearer, keyholder or an admin)."""


class ChasterRefused(Refused):
    """Chaster rejected the call or failed to answer it; `chaster_message` and `status` keep
    Chaster's own words and HTTP status, and `message` (default "Chaster said: ...") is for
    the person who asked."""

    def __init__(
        self, chaster_message: str, status: int | None, *, message: str | None = None
    ) -> None:
        super().__init__(message or f"Chaster said: {chaster_message}")
        self.chaster_message = chaster_message
        self.status = status
