"""Typed views of the Chaster payloads the bot reads. Unknown keys are ignored on purpose:
Chaster adds fields without notice and the bot must keep working."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.chaster.base import SESSION_ID_REGEX, ChasterModel
from bot.chaster.reviews import REVIEW_ENDED, ReviewEnded

TASKS_SLUG = "tasks"
# Action-log types of the Tasks extension (prefix "default").
TASK_ASSIGNED = "tasks_task_assigned"
TASK_VOTE_ENDED = "tasks_vote_ended"
TASK_COMPLETED = "tasks_task_completed"
TASK_FAILED = "tasks_task_failed"
TASK_LOG_TYPES = frozenset({TASK_ASSIGNED, TASK_VOTE_ENDED, TASK_COMPLETED, TASK_FAILED})
# Webhook events the bot acts on; every other event is acknowledged and ignored.
ACTION_LOG_CREATED = "action_log.created"
SESSION_DELETED = "extension_session.deleted"


class Actor(StrEnum):
    """Who Chaster records as having done a Tasks action."""

    WEARER = "wearer"
    KEYHOLDER = "keyholder"
    EXTENSION = "extension"


class LockActionName(StrEnum):
    """The lock actions the bot sends (`POST .../action`); Chaster has more it does not use."""

    ADD_TIME = "add_time"
    FREEZE = "freeze"
    PILLORY = "pillory"


@dataclass(frozen=True)
class LockAction:
    """One lock action: `seconds` for add_time and pillory, `reason` for pillory only."""

    name: LockActionName
    seconds: int | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        # Chaster would refuse these with a 400; a caller's bug is clearer here than as a
        # refusal that looks like Chaster's.
        timed = self.name is not LockActionName.FREEZE
        if timed and (self.seconds is None or self.seconds <= 0):
            raise ValueError(f"{self.name} needs a positive number of seconds")
        if not timed and self.seconds is not None:
            raise ValueError(f"{self.name} takes no seconds")
        if self.reason is not None and self.name is not LockActionName.PILLORY:
            raise ValueError(f"{self.name} takes no reason")

    def body(self) -> dict[str, Any]:
        """The `LockAction` JSON Chaster expects inside `{"action": ...}`."""
        name = str(self.name)
        if self.seconds is None:
            return {"name": name}
        if self.name is LockActionName.ADD_TIME:
            return {"name": name, "params": self.seconds}
        params: dict[str, Any] = {"duration": self.seconds}
        if self.reason is not None:
            params["reason"] = self.reason
        return {"name": name, "params": params}


class ChasterUser(ChasterModel):
    """A Chaster user as seen inside a lock (`UserForPublic`)."""

    id: str = Field(alias="_id")
    username: str | None = None
    discord_id: str | None = None
    discord_username: str | None = None


class TaskDetails(ChasterModel):
    """A task as Chaster stores it: the current task, or one in a log payload."""

    task: str
    points: int = 0
    verification_required: bool = False
    # Seconds; 0 or absent means the task is not timed.
    duration: int | None = None
    # Not documented by Chaster: read only when present (see timer_started).
    timer_started_at: datetime | None = None

    @property
    def is_timed(self) -> bool:
        return bool(self.duration)

    def timer_started(self) -> bool | None:
        """Whether Chaster reports the timer as started; None when it does not say."""
        if "timer_started_at" not in self.model_fields_set:
            return None
        return self.timer_started_at is not None


class _NullMeansDefault(ChasterModel):
    """A payload where Chaster may send null for a missing value: the default applies."""

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


class TasksConfig(_NullMeansDefault):
    """The Tasks extension's configuration on a lock (only what the bot uses)."""

    enable_points: bool = False
    points_required: int = 0
    # The lock's own task list, as Chaster sends it; read through `listed_tasks`.
    tasks: list[Any] = Field(default_factory=list)

    def listed_tasks(self) -> list[TaskDetails]:
        """The lock's task list: text and points, with duration and verification where
        Chaster gives them. An entry the bot cannot read is left out rather than failing
        the whole lock."""
        listed = []
        for raw in self.tasks:
            try:
                task = TaskDetails.model_validate(raw)
            except ValidationError:
                continue
            if task.task.strip():
                listed.append(task)
        return listed


class TasksUserData(_NullMeansDefault):
    """The Tasks extension's live state on a lock."""

    # start = no task, pending = a task is assigned, vote = a vote is running.
    status: Literal["start", "pending", "vote"] | str = "start"
    current_task: TaskDetails | None = None
    points: int = 0
    vote_ends_at: datetime | None = None


class ExtensionParty(ChasterModel):
    """One extension on a lock (`ExtensionPartyForPublic`)."""

    id: str | None = Field(default=None, alias="_id")
    slug: str
    display_name: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    user_data: dict[str, Any] | None = None


class TasksState(BaseModel):
    """The Tasks extension on a lock, parsed: config and live state."""

    model_config = ConfigDict(frozen=True)

    config: TasksConfig
    user_data: TasksUserData

    @property
    def current_task(self) -> TaskDetails | None:
        return self.user_data.current_task

    @property
    def has_open_task(self) -> bool:
        return self.user_data.status != "start" or self.user_data.current_task is not None


class Lock(ChasterModel):
    """A lock as an extension sees it (`LockForPublic`)."""

    id: str = Field(alias="_id")
    status: str
    title: str | None = None
    user: ChasterUser
    keyholder: ChasterUser | None = None
    # None when the lock's timer is hidden from the one reading it (see `SessionAuth`).
    end_date: datetime | None = None
    extensions: list[ExtensionParty] = Field(default_factory=list)

    @property
    def lists_extensions(self) -> bool:
        """Whether the payload lists the lock's extensions: a lock with a session of ours
        always has at least ours, so an empty list means they were left out."""
        return bool(self.extensions)

    @property
    def tasks(self) -> TasksState | None:
        """The Tasks extension's state, or None when the lock does not have it."""
        for party in self.extensions:
            if party.slug == TASKS_SLUG:
                return TasksState(
                    config=TasksConfig.model_validate(party.config),
                    user_data=TasksUserData.model_validate(party.user_data or {}),
                )
        return None


class ExtensionSession(ChasterModel):
    """Your extension's session on a lock (`ExtensionSessionForPartner`)."""

    session_id: str
    slug: str
    lock: Lock
    # What the keyholder (or the wearer of a self-lock) saved on the extension's
    # configuration page.
    config: dict[str, Any] = Field(default_factory=dict)

    @field_validator("config", mode="before")
    @classmethod
    def _config_object(cls, value: Any) -> Any:
        return value if isinstance(value, dict) else {}


class SessionAuth(ChasterModel):
    """Who opened the extension's main page (`GET /auth/sessions/{mainToken}`)."""

    role: Literal["wearer", "keyholder"]
    session: ExtensionSession
    # The lock as that person sees it in Chaster: what it hides from them (a hidden timer) is
    # hidden here too, so it is what the page shows.
    lock_for_user: Lock
    user_id: str


class PartnerConfiguration(ChasterModel):
    """A configuration page's token, read back (`GET /configurations/{token}`)."""

    config: dict[str, Any] = Field(default_factory=dict)
    role: Literal["wearer", "keyholder"] | None = None
    user: str | None = None
    # None while the lock is being created.
    session_id: str | None = None
    extension_slug: str | None = None

    @field_validator("config", mode="before")
    @classmethod
    def _config_object(cls, value: Any) -> Any:
        return value if isinstance(value, dict) else {}


class SearchedSession(ExtensionSession):
    """A session from `sessions/search`, with its pagination cursor."""

    pagination_id: str | None = None


class SessionSearchPage(ChasterModel):
    """One page of `POST /api/extensions/sessions/search`."""

    count: int
    has_more: bool
    results: list[SearchedSession]


class ActionLog(ChasterModel):
    """An entry of a lock's history (`ActionLogForPublic`)."""

    id: str = Field(alias="_id")
    type: str
    lock: str | None = None
    role: str | None = None
    extension: str | None = None
    prefix: str | None = None
    title: str | None = None
    description: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None
    user: ChasterUser | None = None

    @field_validator("payload", mode="before")
    @classmethod
    def _payload_object(cls, value: Any) -> Any:
        return value if value is not None else {}

    @field_validator("created_at")
    @classmethod
    def _created_at_aware(cls, value: datetime | None) -> datetime | None:
        # Chaster writes UTC with a "Z"; should one come without an offset, it is still UTC,
        # and an aware value can be compared with the bot's own clock.
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    def task_details(self) -> TaskDetails | None:
        """The task a Tasks log is about; Chaster sends it as an object or as plain text."""
        task = self.payload.get("task")
        if isinstance(task, str):
            points = self.payload.get("points")
            return TaskDetails(task=task, points=points if isinstance(points, int) else 0)
        if isinstance(task, dict):
            return TaskDetails.model_validate(task)
        return None


class ActionLogPage(ChasterModel):
    """One page of a lock's history."""

    count: int
    has_more: bool
    results: list[ActionLog]


class ActionLogCreated(ChasterModel):
    """`data` of an `action_log.created` webhook: a new entry in a lock's history."""

    session_id: str = Field(pattern=SESSION_ID_REGEX)
    action_log: ActionLog

    @model_validator(mode="after")
    def _task_readable(self) -> ActionLogCreated:
        # The task inside a Tasks log is read later, by the worker; a malformed one is refused
        # now, while the sender can still be told (a ValidationError is a ValueError).
        self.action_log.task_details()
        return self


class DeletedSession(ChasterModel):
    """The session of an `extension_session.deleted` webhook (only what the bot reads)."""

    session_id: str = Field(pattern=SESSION_ID_REGEX)


class SessionDeleted(ChasterModel):
    """`data` of an `extension_session.deleted` webhook: the lock ended or dropped the extension."""

    session: DeletedSession


class WebhookEnvelope(ChasterModel):
    """The body Chaster POSTs to an extension's webhook URL.

    `data` of an event the bot acts on is parsed with the envelope, so a malformed delivery is
    refused on receipt instead of failing later in the worker.
    """

    event: str
    data: dict[str, Any]
    sent_at: datetime | None = None
    request_id: str | None = None
    _payload: ActionLogCreated | SessionDeleted | ReviewEnded | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _parse_data(self) -> WebhookEnvelope:
        if self.event == ACTION_LOG_CREATED:
            self._payload = ActionLogCreated.model_validate(self.data)
        elif self.event == SESSION_DELETED:
            self._payload = SessionDeleted.model_validate(self.data)
        elif self.event == REVIEW_ENDED:
            self._payload = ReviewEnded.model_validate(self.data)
        return self

    @property
    def action_log_created(self) -> ActionLogCreated | None:
        """The parsed `data` when this is an `action_log.created` delivery."""
        return self._payload if isinstance(self._payload, ActionLogCreated) else None

    @property
    def session_deleted(self) -> SessionDeleted | None:
        """The parsed `data` when this is an `extension_session.deleted` delivery."""
        return self._payload if isinstance(self._payload, SessionDeleted) else None

    @property
    def review_ended(self) -> ReviewEnded | None:
        """The parsed `data` when this is a `peer_verification.ended` delivery."""
        return self._payload if isinstance(self._payload, ReviewEnded) else None
