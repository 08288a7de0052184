"""Typed rows of links, link requests, tasks, settings and the audit. Times cross the storage
boundary in `times` (re-exported here); the library, votes, automation and photo proof have
their rows in `library_rows`, `automation_rows` and `proof_rows`."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from bot.store.proof_rows import Proof
from bot.store.times import from_db, to_db

__all__ = [
    "AuditEntry",
    "AuditResult",
    "GuildSettings",
    "LinkRequest",
    "LinkRequestState",
    "SessionLink",
    "Task",
    "TaskState",
    "from_db",
    "to_db",
]

AuditResult = Literal["ok", "refused", "error"]
AUDIT_RESULTS: frozenset[str] = frozenset({"ok", "refused", "error"})


class TaskState(StrEnum):
    """Where a task is in its life; the last two are closed."""

    ASSIGNED = "assigned"
    TIMER_RUNNING = "timer_running"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def is_open(self) -> bool:
        """True until the task is completed or failed."""
        return self not in (TaskState.COMPLETED, TaskState.FAILED)

    @property
    def label(self) -> str:
        """The state in words: "timer running"."""
        return self.value.replace("_", " ")


OPEN_TASK_STATES: tuple[TaskState, ...] = tuple(s for s in TaskState if s.is_open)


class Controls(StrEnum):
    """What a task's feed message carries for acting on it."""

    BUTTONS = "buttons"
    REACTIONS = "reactions"
    BOTH = "both"

    @property
    def has_buttons(self) -> bool:
        return self is not Controls.REACTIONS

    @property
    def has_reactions(self) -> bool:
        return self is not Controls.BUTTONS


class LinkRequestState(StrEnum):
    """Where a wearer-consent request for a /link is."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class GuildSettings:
    """Per-server settings; `updated_at` is None when the server still has the defaults."""

    guild_id: int
    feed_channel_id: int | None = None
    wearer_can_complete: bool = False
    updated_at: datetime | None = None
    # 'auto' (the server's preferred locale in Discord) or a catalogue language code.
    language: str = "auto"
    # What new feed messages carry.
    controls: Controls = Controls.BOTH
    # The IANA time zone of schedules that name none.
    timezone: str = "UTC"
    # Days the server keeps its finished tasks and audit log; None keeps them forever.
    retention_days: int | None = None
    # Whether the bot writes, in the lock's Chaster history, who acted in Discord.
    chaster_history: bool = True

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> GuildSettings:
        """Build from a `guild_settings` row."""
        return cls(
            guild_id=row["guild_id"],
            feed_channel_id=row["feed_channel_id"],
            wearer_can_complete=bool(row["wearer_can_complete"]),
            updated_at=from_db(row["updated_at"]),
            language=row["language"],
            controls=Controls(row["controls"]),
            timezone=row["timezone"],
            retention_days=row["retention_days"],
            chaster_history=bool(row["chaster_history"]),
        )


@dataclass(frozen=True, slots=True)
class SessionLink:
    """A Chaster extension session linked to a wearer in one server."""

    id: int
    guild_id: int
    wearer_id: int
    keyholder_id: int
    chaster_session_id: str
    lock_id: str
    created_at: datetime
    closed_at: datetime | None
    closed_by: int | None
    close_reason: str | None
    channel_id: int | None = None
    # Whether the keyholder of record is the lock's keyholder in Chaster (and so acts there as
    # "keyholder"); None until the bot has read the lock.
    keyholder_is_lock_keyholder: bool | None = None
    # The safeword: while paused, no automation of the link does anything.
    paused_at: datetime | None = None
    paused_by: int | None = None
    pause_reason: str | None = None
    # How long before a deadline the wearer is reminded.
    remind_before_seconds: int = 900
    # The Chaster user a keyholder's link code proved the keyholder of record to be.
    keyholder_chaster_id: str | None = None
    # From the lock's configuration page: None means the server's setting decides.
    wearer_can_complete: bool | None = None
    # From the lock's configuration page: the deadline of a task given without one.
    default_deadline_seconds: int | None = None
    # A community review of a photo: how long it runs and how many votes end it (None:
    # Chaster's defaults).
    proof_delay_seconds: int | None = None
    proof_max_votes: int | None = None

    @property
    def is_open(self) -> bool:
        """True until the link is closed."""
        return self.closed_at is None

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> SessionLink:
        """Build from a `session_links` row."""
        return cls(
            id=row["id"],
            guild_id=row["guild_id"],
            wearer_id=row["wearer_id"],
            keyholder_id=row["keyholder_id"],
            chaster_session_id=row["chaster_session_id"],
            lock_id=row["lock_id"],
            created_at=from_db(row["created_at"]),
            closed_at=from_db(row["closed_at"]),
            closed_by=row["closed_by"],
            close_reason=row["close_reason"],
            channel_id=row["channel_id"],
            keyholder_is_lock_keyholder=(
                None
                if row["keyholder_is_lock_keyholder"] is None
                else bool(row["keyholder_is_lock_keyholder"])
            ),
            paused_at=from_db(row["paused_at"]),
            paused_by=row["paused_by"],
            pause_reason=row["pause_reason"],
            remind_before_seconds=row["remind_before_seconds"],
            keyholder_chaster_id=row["keyholder_chaster_id"],
            wearer_can_complete=(
                None if row["wearer_can_complete"] is None else bool(row["wearer_can_complete"])
            ),
            default_deadline_seconds=row["default_deadline_seconds"],
            proof_delay_seconds=row["proof_delay_seconds"],
            proof_max_votes=row["proof_max_votes"],
        )


@dataclass(frozen=True, slots=True)
class LinkRequest:
    """A /link by someone other than the keyholder, waiting for the wearer's consent."""

    id: int
    guild_id: int
    channel_id: int
    message_id: int | None
    wearer_id: int
    requested_by: int
    chaster_session_id: str
    lock_id: str
    created_at: datetime
    expires_at: datetime
    state: LinkRequestState
    resolved_at: datetime | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> LinkRequest:
        """Build from a `link_requests` row."""
        return cls(
            id=row["id"],
            guild_id=row["guild_id"],
            channel_id=row["channel_id"],
            message_id=row["message_id"],
            wearer_id=row["wearer_id"],
            requested_by=row["requested_by"],
            chaster_session_id=row["chaster_session_id"],
            lock_id=row["lock_id"],
            created_at=from_db(row["created_at"]),
            expires_at=from_db(row["expires_at"]),
            state=LinkRequestState(row["state"]),
            resolved_at=from_db(row["resolved_at"]),
        )


@dataclass(frozen=True, slots=True)
class Task:
    """A task assigned to the wearer of a link, with who did what and when."""

    id: int
    link_id: int
    description: str
    points: int
    verification_required: bool
    duration_seconds: int | None
    state: TaskState
    assigned_by: int | None
    assigned_at: datetime
    timer_started_by: int | None
    timer_started_at: datetime | None
    timer_ends_at: datetime | None
    confirmation_requested_by: int | None
    confirmation_requested_at: datetime | None
    closed_by: int | None
    closed_at: datetime | None
    points_total: int | None
    points_required: int | None
    feed_channel_id: int | None
    feed_message_id: int | None
    updated_at: datetime
    timer_notified_at: datetime | None = None
    # What its feed message was posted with; None for messages from before controls existed.
    feed_controls: Controls | None = None
    # None for a task someone typed or one assigned inside Chaster.
    origin: Origin | None = None
    # When it must be done by (moved later by a pause), when the bot found it missed, when
    # the wearer was reminded, and the schedule that gave it.
    deadline_at: datetime | None = None
    deadline_missed_at: datetime | None = None
    reminded_at: datetime | None = None
    schedule_id: int | None = None
    # Who judges the photo it needs in Chaster ("keyholder", "community"); None: no photo.
    proof: Proof | None = None
    # The `updated_at` its feed message shows; None: changed since it was last shown.
    feed_shown_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        """True until the task is completed or failed."""
        return self.state.is_open

    @property
    def missed_deadline(self) -> bool:
        """Failed because its deadline passed."""
        return self.state is TaskState.FAILED and self.deadline_missed_at is not None

    @property
    def controls(self) -> Controls:
        """What its feed message carries: messages from before controls existed have
        reactions only."""
        return self.feed_controls or Controls.REACTIONS

    @property
    def is_timed(self) -> bool:
        """True when the task runs for a fixed duration."""
        return self.duration_seconds is not None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Task:
        """Build from a `tasks` row."""
        return cls(
            id=row["id"],
            link_id=row["link_id"],
            description=row["description"],
            points=row["points"],
            verification_required=bool(row["verification_required"]),
            duration_seconds=row["duration_seconds"],
            state=TaskState(row["state"]),
            assigned_by=row["assigned_by"],
            assigned_at=from_db(row["assigned_at"]),
            timer_started_by=row["timer_started_by"],
            timer_started_at=from_db(row["timer_started_at"]),
            timer_ends_at=from_db(row["timer_ends_at"]),
            confirmation_requested_by=row["confirmation_requested_by"],
            confirmation_requested_at=from_db(row["confirmation_requested_at"]),
            closed_by=row["closed_by"],
            closed_at=from_db(row["closed_at"]),
            points_total=row["points_total"],
            points_required=row["points_required"],
            feed_channel_id=row["feed_channel_id"],
            feed_message_id=row["feed_message_id"],
            updated_at=from_db(row["updated_at"]),
            timer_notified_at=from_db(row["timer_notified_at"]),
            feed_controls=Controls(row["feed_controls"]) if row["feed_controls"] else None,
            origin=Origin(row["origin"]) if row["origin"] else None,
            deadline_at=from_db(row["deadline_at"]),
            deadline_missed_at=from_db(row["deadline_missed_at"]),
            reminded_at=from_db(row["reminded_at"]),
            schedule_id=row["schedule_id"],
            proof=Proof.stored(row["proof"]),
            feed_shown_at=from_db(row["feed_shown_at"]),
        )


class Origin(StrEnum):
    """How a task came to be, when no one typed it."""

    RANDOM_LIBRARY = "random-library"
    RANDOM_LOCK = "random-lock"
    VOTE = "vote"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One attempted action and its outcome."""

    id: int
    at: datetime
    guild_id: int | None
    user_id: int | None
    action: str
    result: AuditResult
    detail: str
    link_id: int | None
    task_id: int | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> AuditEntry:
        """Build from an `audit_log` row."""
        result = row["result"]
        if result not in AUDIT_RESULTS:
            raise ValueError(f"unknown audit result {result!r}")
        return cls(
            id=row["id"],
            at=from_db(row["at"]),
            guild_id=row["guild_id"],
            user_id=row["user_id"],
            action=row["action"],
            result=result,
            detail=row["detail"],
            link_id=row["link_id"],
            task_id=row["task_id"],
        )
