"""Refusals: what a user caused that the bot will not or cannot do, as a code with parameters.

The core never words a refusal. It raises `Refused(Reason.X, name=value, ...)`; the Discord
side renders the reason from the message catalogue, in the reader's language. Parameter values
are plain data: numbers, Chaster's own text, times, and the small wrappers below for what the
renderer must show in a particular way (a person, a channel, something the person typed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.store import LinkRequestState, TaskState


class Reason(StrEnum):
    """Why an action was refused; each value is the refusal's key in the message catalogue."""

    # links
    ALREADY_LINKED = "refusal.already-linked"
    YOU_ARE_ALREADY_LINKED = "refusal.you-are-already-linked"
    NOT_LINKED = "refusal.not-linked"
    NOT_LINKED_USE_LINK = "refusal.not-linked-use-link"
    LOCK_OF_SOMEONE_ELSE = "refusal.lock-of-someone-else"
    LOCK_WITHOUT_TASKS = "refusal.lock-without-tasks"
    WEARER_NOT_ON_DISCORD = "refusal.wearer-not-on-discord"
    LOCK_HAS_KEYHOLDER = "refusal.lock-has-keyholder"
    INVALID_SESSION_ID = "refusal.invalid-session-id"
    NO_SUCH_SESSION = "refusal.no-such-session"
    NO_LOCKED_SESSION = "refusal.no-locked-session"
    SEVERAL_SESSIONS = "refusal.several-sessions"
    BOTS_DONT_WEAR_LOCKS = "refusal.bots-dont-wear-locks"
    ONLY_NAMED_WEARER_ACCEPTS = "refusal.only-named-wearer-accepts"
    ONLY_NAMED_WEARER_ANSWERS = "refusal.only-named-wearer-answers"
    LINK_REQUEST_RESOLVED = "refusal.link-request-resolved"
    LINK_REQUEST_EXPIRED = "refusal.link-request-expired"
    LINK_REQUEST_NOT_PENDING = "refusal.link-request-not-pending"
    LINK_REQUEST_NOT_POSTABLE = "refusal.link-request-not-postable"
    ONLY_INVOLVED_UNLINK = "refusal.only-involved-unlink"
    # linking by code
    LINK_NEEDS_WEARER_OR_CODE = "refusal.link-needs-wearer-or-code"
    LINK_CODE_WITH_OTHERS = "refusal.link-code-with-others"
    LINK_CODE_UNKNOWN = "refusal.link-code-unknown"
    LINK_CODE_USED = "refusal.link-code-used"
    LINK_CODE_EXPIRED = "refusal.link-code-expired"
    LINK_CODE_TOO_MANY = "refusal.link-code-too-many"
    LINK_CODE_STALE = "refusal.link-code-stale"
    LOCK_LINKED_TO_SOMEONE_ELSE = "refusal.lock-linked-to-someone-else"
    LOCK_ENDED = "refusal.lock-ended"
    # the configuration page
    CONFIG_NOT_UNDERSTOOD = "refusal.config-not-understood"
    # settings
    NEEDS_MANAGE_SERVER = "refusal.needs-manage-server"
    FEED_CHANNEL_UNUSABLE = "refusal.feed-channel-unusable"
    UNKNOWN_LANGUAGE = "refusal.unknown-language"
    UNKNOWN_CONTROLS = "refusal.unknown-controls"
    RETENTION_INVALID = "refusal.retention-invalid"
    STATS_DAYS_RANGE = "refusal.stats-days-range"
    ONLY_WEARER_MAKES_PUBLIC = "refusal.only-wearer-makes-public"
    # tasks
    NEGATIVE_POINTS = "refusal.negative-points"
    POINTS_NOT_A_NUMBER = "refusal.points-not-a-number"
    DESCRIPTION_CONTROL = "refusal.description-control"
    DESCRIPTION_BIDI = "refusal.description-bidi"
    DESCRIPTION_INVISIBLE = "refusal.description-invisible"
    DESCRIPTION_LENGTH = "refusal.description-length"
    DURATION_UNREADABLE = "refusal.duration-unreadable"
    DURATION_OUT_OF_RANGE = "refusal.duration-out-of-range"
    ONLY_KEYHOLDER_ASSIGNS = "refusal.only-keyholder-assigns"
    OPEN_TASK_EXISTS = "refusal.open-task-exists"
    ONLY_INVOLVED_ACT_ON_THEIR_TASKS = "refusal.only-involved-act-on-their-tasks"
    ONLY_INVOLVED_ACT_ON_THIS_TASK = "refusal.only-involved-act-on-this-task"
    ONLY_INVOLVED_SEE_STATUS = "refusal.only-involved-see-status"
    NO_OPEN_TASK = "refusal.no-open-task"
    TASK_FROM_OTHER_SERVER = "refusal.task-from-other-server"
    TASK_GONE = "refusal.task-gone"
    WEARER_UNLINKED = "refusal.wearer-unlinked"
    TASK_CLOSED = "refusal.task-closed"
    NOT_TIMED = "refusal.not-timed"
    TIMER_ALREADY_STARTED = "refusal.timer-already-started"
    TIMER_RUNNING = "refusal.timer-running"
    START_TIMER_FIRST = "refusal.start-timer-first"
    NEEDS_PHOTO = "refusal.needs-photo"
    ALREADY_AWAITING_CONFIRMATION = "refusal.already-awaiting-confirmation"
    ONLY_KEYHOLDER_JUDGES = "refusal.only-keyholder-judges"
    NOT_AWAITING_CONFIRMATION = "refusal.not-awaiting-confirmation"
    TASK_CHANGED = "refusal.task-changed"
    NOT_CURRENT_IN_CHASTER = "refusal.not-current-in-chaster"
    VOTE_RUNNING = "refusal.vote-running"
    CHASTER_HAS_TASK = "refusal.chaster-has-task"
    POINTS_NEEDED = "refusal.points-needed"
    # photo proof
    PROOF_WITH_VERIFICATION = "refusal.proof-with-verification"
    PROOF_NEEDED = "refusal.proof-needed"
    PROOF_NOT_NEEDED = "refusal.proof-not-needed"
    PROOF_UNDER_REVIEW = "refusal.proof-under-review"
    PROOF_OUTCOME_UNKNOWN = "refusal.proof-outcome-unknown"
    PROOF_DID_NOT_LAND = "refusal.proof-did-not-land"
    PROOF_KEYHOLDER_CANNOT_REVIEW = "refusal.proof-keyholder-cannot-review"
    PROOF_KIND_UNKNOWN = "refusal.proof-kind-unknown"
    PROOF_SUSPENDED = "refusal.proof-suspended"
    PROOF_SETTINGS_RANGE = "refusal.proof-settings-range"
    ONLY_WEARER_SENDS_PROOF = "refusal.only-wearer-sends-proof"
    PROOF_NOT_LINKED_WEARER = "refusal.proof-not-linked-wearer"
    ONLY_KEYHOLDER_PROOF_SETTINGS = "refusal.only-keyholder-proof-settings"
    PHOTO_MISSING = "refusal.photo-missing"
    PHOTO_SEVERAL = "refusal.photo-several"
    PHOTO_TOO_LARGE = "refusal.photo-too-large"
    PHOTO_NOT_AN_IMAGE = "refusal.photo-not-an-image"
    PHOTO_UNREADABLE = "refusal.photo-unreadable"
    # the library, draws and votes
    TAG_INVALID = "refusal.tag-invalid"
    LIBRARY_FULL = "refusal.library-full"
    LIBRARY_HAS_IT = "refusal.library-has-it"
    NO_SUCH_ENTRY = "refusal.no-such-entry"
    NO_ENTRY_NAMED = "refusal.no-entry-named"
    ONLY_KEYHOLDER_IMPORTS = "refusal.only-keyholder-imports"
    NOTHING_IN_LIBRARY = "refusal.nothing-in-library"
    NOTHING_IN_LOCK_LIST = "refusal.nothing-in-lock-list"
    NOTHING_TO_DRAW = "refusal.nothing-to-draw"
    VOTE_OPTIONS_RANGE = "refusal.vote-options-range"
    VOTE_HOURS_RANGE = "refusal.vote-hours-range"
    VOTE_ALREADY_OPEN = "refusal.vote-already-open"
    NOT_ENOUGH_TO_VOTE = "refusal.not-enough-to-vote"
    NO_OPEN_VOTE = "refusal.no-open-vote"
    VOTE_NOT_POSTABLE = "refusal.vote-not-postable"
    # automation: schedules, deadlines, consequences, pause
    EVERY_UNREADABLE = "refusal.every-unreadable"
    AT_UNREADABLE = "refusal.at-unreadable"
    UNKNOWN_TIMEZONE = "refusal.unknown-timezone"
    UNKNOWN_TIMEZONE_NO_GUESS = "refusal.unknown-timezone-no-guess"
    SPAN_OUT_OF_RANGE = "refusal.span-out-of-range"
    SCHEDULE_NEEDS_ONE_SOURCE = "refusal.schedule-needs-one-source"
    ONLY_KEYHOLDER_SCHEDULES = "refusal.only-keyholder-schedules"
    NO_SUCH_SCHEDULE = "refusal.no-such-schedule"
    SCHEDULES_FULL = "refusal.schedules-full"
    ONLY_KEYHOLDER_PENALTIES = "refusal.only-keyholder-penalties"
    ONLY_LOCK_KEYHOLDER_PENALTIES = "refusal.only-lock-keyholder-penalties"
    UNKNOWN_PENALTY = "refusal.unknown-penalty"
    PENALTY_NEEDS_AMOUNT = "refusal.penalty-needs-amount"
    PENALTY_TAKES_NO_AMOUNT = "refusal.penalty-takes-no-amount"
    PENALTY_REASON_PILLORY_ONLY = "refusal.penalty-reason-pillory-only"
    PILLORY_MISSING = "refusal.pillory-missing"
    NAME_THE_WEARER = "refusal.name-the-wearer"
    ONLY_INVOLVED_PAUSE = "refusal.only-involved-pause"
    ALREADY_PAUSED = "refusal.already-paused"
    NOT_PAUSED = "refusal.not-paused"
    ONLY_WEARER_RESUMES = "refusal.only-wearer-resumes"
    # Chaster's side
    NO_TASKS_EXTENSION = "refusal.no-tasks-extension"
    NO_TASKS_EXTENSION_TRY_AGAIN = "refusal.no-tasks-extension-try-again"
    NO_TASKS_EXTENSION_ASSIGN_NEW = "refusal.no-tasks-extension-assign-new"
    NO_TASKS_EXTENSION_TASK_FAILED = "refusal.no-tasks-extension-task-failed"
    SESSION_GONE = "refusal.session-gone"
    CHASTER_SAID = "refusal.chaster-said"
    CHASTER_TOKEN_REFUSED = "refusal.chaster-token-refused"  # noqa: S105 (a key, not a secret)
    CHASTER_UNAVAILABLE = "refusal.chaster-unavailable"
    ASSIGN_OUTCOME_UNKNOWN = "refusal.assign-outcome-unknown"
    ASSIGN_DID_NOT_LAND = "refusal.assign-did-not-land"
    TIMER_OUTCOME_UNKNOWN = "refusal.timer-outcome-unknown"
    CLOSE_OUTCOME_UNKNOWN = "refusal.close-outcome-unknown"
    STATUS_CHASTER_UNAVAILABLE = "refusal.status-chaster-unavailable"
    # Why a consequence's outcome is unknown: the history that would tell could not be read.
    CONSEQUENCE_HISTORY_UNREADABLE = "refusal.consequence-history-unreadable"


class Trouble(StrEnum):
    """Why Chaster gave no usable answer: the start of a sentence in a refusal."""

    TOKEN_REFUSED = "trouble.token-refused"  # noqa: S105 (a key, not a secret)
    THROTTLED = "trouble.throttled"
    SERVER_ERROR = "trouble.server-error"
    SAID = "trouble.said"
    TIMEOUT = "trouble.timeout"
    UNREACHABLE = "trouble.unreachable"
    UNREADABLE = "trouble.unreadable"
    NOT_UNDERSTOOD = "trouble.not-understood"


class Consequence(StrEnum):
    """What a failed Chaster call left undone, for the person who asked."""

    NOTHING_CHANGED = "consequence.nothing-changed"
    NOTHING_LINKED = "consequence.nothing-linked"
    NOTHING_ASSIGNED = "consequence.nothing-assigned"
    TIMER_NOT_STARTED = "consequence.timer-not-started"
    NO_PHOTO_SENT = "consequence.no-photo-sent"


@dataclass(frozen=True)
class Person:
    """A Discord user named in a message: shown, never notified by the refusal itself."""

    user_id: int


@dataclass(frozen=True)
class Channel:
    """A Discord channel named in a message."""

    channel_id: int


@dataclass(frozen=True)
class Typed:
    """Something the person typed, quoted back cut to `limit` characters."""

    text: str
    limit: int = 40


@dataclass(frozen=True)
class TaskText:
    """A task's stored text, shown as it is (or, for a task without one, as the catalogue's
    placeholder)."""

    text: str


@dataclass(frozen=True)
class Codes:
    """Identifiers (session ids) listed in a message."""

    values: tuple[str, ...]


@dataclass(frozen=True)
class Permissions:
    """Discord permissions named in a message (by discord.py's attribute names)."""

    names: tuple[str, ...]


@dataclass(frozen=True)
class Phrase:
    """A fragment of a sentence with its own parameters, rendered in the same language."""

    key: Trouble | Consequence
    params: dict[str, Param]


# A task or link request state is shown by its name in the catalogue.
Param = (
    str
    | int
    | datetime
    | None
    | TaskState
    | LinkRequestState
    | Person
    | Channel
    | Typed
    | TaskText
    | Codes
    | Permissions
    | Phrase
)


class Refused(Exception):
    """The action is not allowed or not possible: `reason` says why, `params` fill it in."""

    def __init__(self, reason: Reason, **params: Param) -> None:
        self.reason = reason
        self.params = params
        super().__init__(reason)

    def __str__(self) -> str:
        """For logs and the audit: the code with its parameters, never a sentence."""
        shown = " ".join(f"{name}={_plain(value)}" for name, value in self.params.items())
        return f"{self.reason.value} {shown}".strip()


class NotAllowed(Refused):
    """The person has no role that allows this action (see `bot.core.policy`)."""


class ChasterRefused(Refused):
    """Chaster rejected the call or failed to answer it; `chaster_message` and `status` keep
    Chaster's own words and HTTP status."""

    def __init__(
        self,
        reason: Reason,
        *,
        chaster_message: str,
        chaster_status: int | None,
        **params: Param,
    ) -> None:
        super().__init__(reason, **params)
        self.chaster_message = chaster_message
        self.status = chaster_status


def _plain(value: Param) -> str:
    if isinstance(value, Person):
        return str(value.user_id)
    if isinstance(value, Channel):
        return str(value.channel_id)
    if isinstance(value, Typed):
        return repr(value.text[: value.limit])
    if isinstance(value, TaskText):
        return repr(value.text)
    if isinstance(value, Codes):
        return ",".join(value.values)
    if isinstance(value, Permissions):
        return ",".join(value.names)
    if isinstance(value, Phrase):
        inner = " ".join(f"{name}={_plain(item)}" for name, item in value.params.items())
        return f"({value.key.value} {inner})".replace(" )", ")")
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, StrEnum):
        return value.value
    return str(value)
