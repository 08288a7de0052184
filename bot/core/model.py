"""The core's vocabulary: who asks, what they can do to a task, and the events that follow."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from bot.chaster.state import TasksSnapshot
from bot.core.errors import Refused
from bot.store import Consequence, LinkRequest, Penalty, Schedule, SessionLink, Task, Vote

Clock = Callable[[], datetime]
# Run an action (named, for the log) once its time has come: the jobs' deadline heap, which
# outlives no process, so whatever it runs is also found again from the store at start-up.
Later = Callable[[datetime, str, Callable[[], Awaitable[object]]], None]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Caller:
    """The person asking, in the server where they asked."""

    user_id: int
    guild_id: int
    can_manage_guild: bool = False


class TaskAction(StrEnum):
    """What a person can do to an open task."""

    START = "start"
    COMPLETE = "complete"
    FAIL = "fail"
    # The keyholder's answer to a wearer's "done": confirm completes it, reject reopens it.
    CONFIRM = "confirm"
    REJECT = "reject"


class CloseReason(StrEnum):
    """Why a link was closed, as the store records it."""

    UNLINKED = "unlinked"
    LOCK_ENDED = "lock-ended"
    SESSION_GONE = "session-gone"


class EventKind(StrEnum):
    ASSIGNED = "assigned"
    TIMER_STARTED = "timer_started"
    TIMER_FINISHED = "timer_finished"
    CONFIRMATION_REQUESTED = "confirmation_requested"
    CONFIRMATION_REJECTED = "confirmation_rejected"
    COMPLETED = "completed"
    # Also a missed deadline: the task says so (`Task.missed_deadline`).
    FAILED = "failed"
    DEADLINE_REMINDER = "deadline_reminder"
    # The wearer's photo is under review in Chaster.
    PROOF_SUBMITTED = "proof_submitted"


@dataclass(frozen=True)
class TaskEvent:
    """Something happened to a task; `channel_id` is the feed channel it belongs in.

    `by_user_id` is the Discord user who did it, or None when it happened inside Chaster or
    the bot did it on its own (a timer running out).
    """

    kind: EventKind
    task: Task
    link: SessionLink
    channel_id: int | None
    by_user_id: int | None
    # False for a task closed because the lock lost its Tasks extension: nobody failed it,
    # so no consequence follows.
    counts_as_failure: bool = True


class LinkEventKind(StrEnum):
    REQUESTED = "requested"
    REQUEST_EXPIRED = "request_expired"
    REQUEST_DECLINED = "request_declined"
    LOCK_ENDED = "lock_ended"
    PAUSED = "paused"
    RESUMED = "resumed"


@dataclass(frozen=True)
class LinkEvent:
    """Something happened to a link or a link request; `by_user_id` paused or resumed it."""

    kind: LinkEventKind
    link: SessionLink | None = None
    request: LinkRequest | None = None
    channel_id: int | None = None
    by_user_id: int | None = None


class VoteEventKind(StrEnum):
    STARTED = "vote_started"
    ENDED = "vote_ended"


@dataclass(frozen=True)
class VoteEvent:
    """A vote began or ended; once ended, `vote.outcome` says what came of it and `task` is
    the task assigned, if any."""

    kind: VoteEventKind
    vote: Vote
    task: Task | None = None

    @property
    def channel_id(self) -> int:
        """Where the vote's poll is."""
        return self.vote.channel_id


class AutomationEventKind(StrEnum):
    SCHEDULE_ADDED = "schedule_added"
    # An occasion of a schedule that assigned nothing: the wearer had an open task, the bot
    # was down too long, Chaster or the library refused, or a crash came in between.
    OCCASION_SKIPPED = "occasion_skipped"
    OCCASIONS_MISSED = "occasions_missed"
    OCCASION_FAILED = "occasion_failed"
    OCCASION_INTERRUPTED = "occasion_interrupted"
    CONSEQUENCE_APPLIED = "consequence_applied"
    CONSEQUENCE_REFUSED = "consequence_refused"
    # Whether it reached the lock could not be told: it is not applied again.
    CONSEQUENCE_UNKNOWN = "consequence_unknown"


@dataclass(frozen=True)
class AutomationEvent:
    """Something the bot did (or could not do) on its own for a link.

    `count` and `at` describe missed occasions (how many, the first one); `refusal` says why
    an occasion or a consequence failed.
    """

    kind: AutomationEventKind
    link: SessionLink
    channel_id: int | None
    schedule: Schedule | None = None
    consequence: Consequence | None = None
    task: Task | None = None
    refusal: Refused | None = None
    count: int = 0
    at: datetime | None = None


Event = TaskEvent | LinkEvent | VoteEvent | AutomationEvent


@dataclass(frozen=True)
class LinkOutcome:
    """The result of /link: a link made at once, or a request waiting for the wearer's ✅."""

    link: SessionLink | None
    request: LinkRequest | None
    lock_title: str | None


@dataclass(frozen=True)
class TaskStatus:
    """What /task status shows: the link, its open (or latest) task, and Chaster's view.

    `chaster_problem` says why Chaster's side is missing when `chaster` is None; `read_at` is
    when the Chaster state shown was read (it may come from a recent reading).
    """

    link: SessionLink
    task: Task | None
    chaster: TasksSnapshot | None
    chaster_problem: Refused | None
    read_at: datetime | None = None
    # The link's consequences (some may come from the lock's configuration page).
    penalties: tuple[Penalty, ...] = ()
