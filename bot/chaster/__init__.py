"""Chaster Extensions API: client, payload models and rate limiting."""

from bot.chaster.client import ChasterClient
from bot.chaster.errors import (
    ChasterError,
    ChasterUnavailable,
    InvalidSessionId,
    Unavailability,
    checked_session_id,
)
from bot.chaster.models import (
    ActionLog,
    ActionLogPage,
    Actor,
    ChasterUser,
    ExtensionSession,
    Lock,
    LockAction,
    LockActionName,
    SearchedSession,
    SessionSearchPage,
    TaskDetails,
    TasksState,
    WebhookEnvelope,
)
from bot.chaster.ratelimit import Priority, RateLimiter

__all__ = [
    "ActionLog",
    "ActionLogPage",
    "Actor",
    "ChasterClient",
    "ChasterError",
    "ChasterUnavailable",
    "ChasterUser",
    "ExtensionSession",
    "InvalidSessionId",
    "Lock",
    "LockAction",
    "LockActionName",
    "Priority",
    "RateLimiter",
    "SearchedSession",
    "SessionSearchPage",
    "TaskDetails",
    "TasksState",
    "Unavailability",
    "WebhookEnvelope",
    "checked_session_id",
]
