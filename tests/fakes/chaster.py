"""In-process fake of Chaster's Extensions API (the parts a Tasks bot needs).

Behaviour follows the team's Chaster API reference (``reference/chaster-api.md``, kept beside
the repository, not in it). Where the reference marks something as a guess ([INFER]) the fake
exposes a knob (status codes, payload shapes, ...).

Served routes (all under ``/api/extensions``, all need ``Authorization: Bearer <token>``):

- ``POST /sessions/search``
- ``GET /sessions/{sessionId}`` and ``PATCH /sessions/{sessionId}``
- ``POST /sessions/{sessionId}/tasks/assign|start-timer|complete``
- ``POST /sessions/{sessionId}/action`` (lock actions: time, freeze, pillory, timer display)
- ``POST /sessions/{sessionId}/logs/search`` and ``POST /sessions/{sessionId}/logs/custom``
- ``POST /sessions/{sessionId}/files`` (multipart upload of a private image),
  ``GET /sessions/{sessionId}/files/{fileId}`` and ``DELETE /sessions/{sessionId}/files/{fileId}``
- ``POST /sessions/{sessionId}/peer-verifications`` (a standalone peer review) and
  ``POST /sessions/{sessionId}/peer-verifications/search`` (the session's reviews, newest first)
- ``GET /auth/sessions/{mainToken}`` (the main page's token exchange)
- ``GET /configurations/{token}`` and ``PUT /configurations/{token}`` (the configuration page)

The tokens Chaster hands its extension pages (in the iframe URL's hash) are issued here by test
helpers: ``issue_main_token``, ``issue_configuration_token``; ``configuration_of`` and
``expire_token`` go with them.

Peer reviews are decided by test helpers too: ``vote`` (community), ``judge`` (keyholder) and
``end_due_reviews`` (the community deadline); ``reviews`` and ``file_bytes`` inspect the state.
A rejected review's punishments are run by the fake itself, as Chaster does, through the code
path of ``POST /action``; then ``peer_verification.ended`` is sent.

Outgoing webhooks (Chaster -> bot) are POSTed to ``webhook_url`` when it is set.

Run standalone with ``python -m tests.fakes.chaster --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import email.message
import http
import itertools
import json
import math
import os
import secrets
import string
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Literal, cast

import aiohttp
from aiohttp import web
from aiohttp.multipart import content_disposition_filename, parse_content_disposition

__all__ = [
    "ACTORS",
    "API_PREFIX",
    "FILE_MAX_BYTES",
    "LOCK_ACTIONS",
    "LOCK_ACTION_LOG_TYPES",
    "MAIN_TOKEN_TTL",
    "REVIEW_CHECK_FAMILIES",
    "Call",
    "FakeChaster",
    "FakeFile",
    "FakeReview",
    "FakeSession",
    "PageRole",
    "iso",
    "nanoid",
    "object_id",
]

API_PREFIX = "/api/extensions"
ACTORS: tuple[str, ...] = ("wearer", "keyholder", "extension")
ACTOR_ROLE: dict[str, str] = {"wearer": "user", "keyholder": "keyholder", "extension": "extension"}
SEARCH_STATUSES: tuple[str, ...] = ("locked", "unlocked", "deserted", "all")
LOG_ROLES: tuple[str, ...] = ("keyholder", "wearer", "visitor")
TIMED_MIN = 60
TIMED_MAX = 86400
LOCK_ACTIONS: tuple[str, ...] = (
    "add_time",
    "remove_time",
    "freeze",
    "unfreeze",
    "toggle_freeze",
    "pillory",
    "set_display_remaining_time",
)
# The history entries the lock actions write (the reference's guess, [INFER]).
LOCK_ACTION_LOG_TYPES: tuple[str, ...] = (
    "time_changed",
    "lock_frozen",
    "lock_unfrozen",
    "pillory_in",
)
PILLORY_SLUG = "pillory"

# Private files (reference §10.5).
FILE_MAX_BYTES = 15 * 1024 * 1024  # "Limit 15 MiB (413 above)" [DOC]
FILE_DEFAULT_TTL = 3600.0  # expiresAt defaults to one hour [DOC]
FILE_URL_TTL = 120.0  # the private url is "valid at most 120 s" [DOC]
# Magic bytes of the accepted types, and the filename extensions that go with each.
FILE_MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}
FILE_EXTENSIONS: dict[str, str] = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
}
UNLOCKED_LOCK_MESSAGE = "You cannot modify an unlocked lock."  # [DOC]

# Standalone peer reviews (reference §10.6).
REVIEW_VISIBILITIES: tuple[str, ...] = ("all_members", "keyholder")
REVIEW_STATUSES: tuple[str, ...] = ("ongoing", "verified", "rejected")
REVIEW_CHECK_FAMILIES: tuple[str, ...] = ("task", "chastity_device", "bondage")
REVIEW_CHECK_NAMES: tuple[str, ...] = ("generic", *REVIEW_CHECK_FAMILIES)
REVIEW_DELAY_MIN = 900
REVIEW_DELAY_MAX = 21600
REVIEW_DELAY_DEFAULT = 21600
REVIEW_MAX_VOTES_MIN = 3
REVIEW_MAX_VOTES_MAX = 100
REVIEW_APPROVAL_RATIO = 0.75  # verified when at least 75% of the votes approve [DOC]
REVIEW_SEARCH_DEFAULT_LIMIT = 20
REVIEW_SEARCH_MAX_LIMIT = 100
_REVIEW_COUNT_NAMES = ("nbVerifiedVotes", "nbRejectedVotes", "nbVotes")

ResetFormat = Literal["epoch_s", "epoch_ms", "iso", "seconds"]
PageRole = Literal["wearer", "keyholder"]
PAGE_ROLES: tuple[str, ...] = ("wearer", "keyholder")
# What a wearer's lockForUser hides while the timer is hidden (the reference's example is
# endDate; the other dates would give it away).
HIDDEN_TIMER_FIELDS: tuple[str, ...] = ("endDate", "maxDate", "minDate", "maxLimitDate")
MAIN_TOKEN_TTL = 12 * 3600.0  # "The token expires 12 h after the page was opened" [DOC]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_NANOID_ALPHABET = string.ascii_letters + string.digits + "_-"
_OID_PROCESS = os.urandom(5).hex()
_oid_counter = itertools.count(int.from_bytes(os.urandom(3), "big"))
_oid_last_ts = 0


def nanoid(size: int = 21) -> str:
    """Random URL-safe id like Chaster's sessionId / requestId (``LuV23MTfUFvxu3j-BASHc``)."""
    return "".join(secrets.choice(_NANOID_ALPHABET) for _ in range(size))


def object_id() -> str:
    """24-hex MongoDB-style ObjectId, strictly increasing within this process."""
    global _oid_last_ts
    ts = max(int(time.time()), _oid_last_ts)
    count = next(_oid_counter)
    if count & 0xFFFFFF == 0 and _oid_last_ts:  # counter wrapped: bump the timestamp
        ts = max(ts, _oid_last_ts + 1)
    _oid_last_ts = ts
    return f"{ts & 0xFFFFFFFF:08x}{_OID_PROCESS}{count & 0xFFFFFF:06x}"


def iso(dt: datetime | None) -> str | None:
    """ISO-8601 UTC with milliseconds, as Chaster writes it: ``2025-02-19T18:54:54.423Z``."""
    if dt is None:
        return None
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _iso(dt: datetime) -> str:
    out = iso(dt)
    assert out is not None
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    # class-validator's IsInt is Number.isInteger(): 60.0 counts as an integer in JSON.
    return _is_number(value) and float(value).is_integer()


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class ApiError(Exception):
    """Raised by route handlers; rendered as a NestJS error body."""

    def __init__(self, status: int, message: str | list[str], *, error: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.error = error


@dataclass
class Call:
    method: str
    path: str
    json: Any
    headers: dict[str, str]
    at: float
    query: dict[str, str] = field(default_factory=dict)
    status: int | None = None  # status the fake answered with (None: connection dropped)


@dataclass
class FakeSession:
    """Mutable state of one extension session (our extension on one lock)."""

    session_id: str
    slug: str
    lock_id: str
    wearer: dict[str, Any]
    keyholder: dict[str, Any] | None
    tasks_extension: bool = True
    # Tasks extension userData
    status: str = "start"  # "start" | "pending" | "vote"
    current_task: dict[str, Any] | None = None  # {task, points, verificationRequired, duration}
    timer_started_at: datetime | None = None
    points: float = 0
    vote_started_at: datetime | None = None
    vote_ends_at: datetime | None = None
    current_task_vote: str | None = None
    user_tasks: list[dict[str, Any]] = field(default_factory=list)
    # Tasks extension config
    enable_points: bool = False
    points_required: int = 0
    tasks_config: dict[str, Any] = field(default_factory=dict)  # extra/overridden config keys
    # lock
    lock_status: str = "locked"  # "locked" | "unlocked" | "deserted"
    lock_title: str = "Self-lock"
    end_date: datetime | None = None  # add_session sets it to one day after the start
    frozen_at: datetime | None = None
    display_remaining_time: bool = True
    # The Pillory extension on the lock, and the pillories the lock actions put the wearer in:
    # each {"duration", "reason", "createdAt"}.
    pillory_extension: bool = False
    pillories: list[dict[str, Any]] = field(default_factory=list)
    action_logs: list[dict[str, Any]] = field(default_factory=list)
    # our extension party
    party_id: str = field(default_factory=object_id)
    combination: str = field(default_factory=object_id)
    tasks_party_id: str = field(default_factory=object_id)
    pillory_party_id: str = field(default_factory=object_id)
    config: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(
        default_factory=lambda: {
            "reasonsPreventingUnlocking": [],
            "homeActions": [],
            "penalties": [],
        }
    )
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    unlocked_at: datetime | None = None

    @property
    def pagination_id(self) -> str:
        return self.party_id


@dataclass
class FakeFile:
    """A private file uploaded to a session (``POST .../files``)."""

    file_id: str
    session_id: str
    name: str  # the original filename
    content: bytes
    size: int
    content_type: str  # what the magic bytes say: image/jpeg, image/png or image/gif
    created_at: datetime
    expires_at: datetime | None  # None: kept while a review references it
    attachment_token: str
    token_expires_at: datetime
    deleted: bool = False
    referenced_by: str | None = None  # the id of the review that used the attachment token


@dataclass
class FakeReview:
    """A standalone peer review (``POST .../peer-verifications``) and its votes."""

    review_id: str
    session_id: str
    verification_type: dict[str, str]  # {key, label}
    visibility: str  # "all_members" | "keyholder"
    delay: int | None  # None for the keyholder audience
    max_votes: int | None
    checks: list[dict[str, Any]]
    punishments: list[dict[str, Any]]
    file_id: str
    created_at: datetime
    ends_at: datetime | None  # None for the keyholder audience (no timeout)
    # One row per check (per subcheck of a built-in family): {checkId, name, checkIndex,
    # subcheckName, verified, rejected, reasons: [{slug, text, votes}]}.
    results: list[dict[str, Any]]
    status: str = "ongoing"  # "ongoing" | "verified" | "rejected"
    ended_at: datetime | None = None
    nb_verified: int = 0
    nb_rejected: int = 0
    punished: bool = False  # the punishments were run (once, on rejection)


@dataclass
class _PageToken:
    """A token Chaster gives one of the extension's pages: a mainToken or a configuration token."""

    kind: Literal["main", "configuration"]
    role: PageRole
    user_id: str
    session_id: str | None  # None: a configuration token of a lock being created
    created_at: datetime
    expires_at: datetime
    config: dict[str, Any] = field(default_factory=dict)  # only used without a session


@dataclass
class _Rule:
    kind: Literal["fail", "drop", "hang", "raw"]
    method: str
    path_contains: str
    remaining: int
    status: int = 500
    message: str | list[str] = ""
    apply: bool = False
    seconds: float = 0.0
    body: str = ""
    content_type: str = "application/json"

    def matches(self, method: str, path: str) -> bool:
        return (self.method == "*" or self.method.upper() == method) and self.path_contains in path


def make_user(
    *, role: str = "wearer", discord_id: str | None = None, username: str | None = None
) -> dict[str, Any]:
    """A UserForPublic with the keys (and order) of the real fixture."""
    user_id = object_id()
    name = username or f"{role}_{user_id[-6:]}"
    return {
        "_id": user_id,
        "username": name,
        "isPremium": False,
        "isFindom": False,
        "isAdmin": False,
        "isModerator": False,
        "isTeamMember": False,
        "metadata": {"locktober2023Points": 0, "locktober2024Points": 0},
        "isDisabled": False,
        "isSuspended": False,
        "joinedAt": "2024-01",
        "isNewMember": False,
        "age": 30,
        "avatarUrl": "https://cdn01.chaster.app/app/uploads/avatars/example.jpg",
        "description": "",
        "discordId": discord_id,
        "discordUsername": name if discord_id is not None else None,
        "fullLocation": "",
        "gender": "Other",
        "lastSeen": None,
        "location": "",
        "online": True,
        "role": role,
        "features": [],
        "isSuspendedOrDisabled": False,
    }


@dataclass
class _Part:
    """One part of a multipart/form-data body."""

    name: str | None
    filename: str | None  # None: a text field
    content_type: str | None
    data: bytes


def _parse_multipart(raw: bytes, content_type: str) -> list[_Part]:
    """The parts of a multipart/form-data body ([] when the body is not multipart at all).

    Errors carry busboy's words (what multer, and so NestJS's FileInterceptor, answer with).
    """
    msg = email.message.Message()
    msg["content-type"] = content_type
    if msg.get_content_type() != "multipart/form-data":
        return []
    boundary = msg.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise ApiError(400, "Multipart: Boundary not found")
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    chunks = (b"\r\n" + raw).split(delimiter)
    parts: list[_Part] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):  # the closing delimiter
            return parts
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep or not head.startswith(b"\r\n"):
            break
        headers: dict[str, str] = {}
        for line in head[2:].split(b"\r\n"):
            key, colon, value = line.decode("utf-8", "replace").partition(":")
            if not colon:
                raise ApiError(400, "Malformed part header")
            headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition")
        if disposition is None:
            raise ApiError(400, "Malformed part header")
        _, params = parse_content_disposition(disposition)
        parts.append(
            _Part(
                name=params.get("name"),
                filename=content_disposition_filename(params, "filename"),
                content_type=headers.get("content-type"),
                data=data,
            )
        )
    raise ApiError(400, "Unexpected end of form")


def _sniff_image(content: bytes) -> str | None:
    """The image type the content's magic bytes announce (None: not JPEG, PNG or GIF)."""
    for content_type, magics in FILE_MAGIC.items():
        if any(content.startswith(magic) for magic in magics):
            return content_type
    return None


def _parse_time(value: Any) -> datetime | None:
    """An ISO-8601 time (UTC when it names no zone), or None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _encode_review_cursor(review_id: str) -> str:
    return base64.urlsafe_b64encode(f"pv:{review_id}".encode()).decode("ascii").rstrip("=")


def _decode_review_cursor(cursor: str) -> str | None:
    """The review id a cursor points after (None: not one of ours)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return None
    prefix, _, review_id = raw.partition(":")
    if prefix != "pv" or len(review_id) != 24 or any(c not in string.hexdigits for c in review_id):
        return None
    return review_id.lower()


class FakeChaster:
    """A fake Chaster Extensions API server on loopback (aiohttp)."""

    def __init__(
        self,
        *,
        token: str = "chaster-test-token",
        slug: str = "discord-tasks-bot",
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit: int | None = None,
        rate_window: float = 60.0,
        reset_header_format: ResetFormat = "epoch_s",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.token = token
        self.slug = slug
        self.host = host
        self.port = port
        self.url = ""
        self.display_name = "Discord Tasks Bot"

        self.sessions: dict[str, FakeSession] = {}
        self.calls: list[Call] = []

        # rate limiting (sliding window over every /api request that was not itself throttled)
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.reset_header_format: ResetFormat = reset_header_format
        self.throttled = 0
        self._rl_hits: deque[float] = deque()

        # knobs
        self.latency: float = 0.0
        self.status_tasks_missing: int = 404
        self.status_task_conflict: int = 400
        self.status_invalid: int = 400
        self.status_rule: int = 400
        # Pillory asked of a lock without the Pillory extension: Chaster refuses it, with a
        # status nobody has seen ([INFER]); 400 is a guess.
        self.status_pillory_missing: int = 400
        self.task_payload_style: Literal["object", "string"] = "object"
        self.expose_timer_fields: bool = True
        self.forbid_unknown_fields: bool = False  # ValidationPipe forbidNonWhitelisted
        self.max_task_length: int | None = None  # real limit unknown
        self.allow_fail_verification_task: bool = False
        self.search_max_limit: int = 100
        self.search_status: int = 200  # POST .../search answers 200 (NestJS default would be 201)
        # Newest first is what the API reference expects of a cursor on ObjectIds; a guess.
        self.search_order: Literal["newest", "oldest"] = "newest"
        # Chaster's generated client says a search result is a full session; should a result
        # ever come without the lock's extensions, this shows it.
        self.search_omits_extensions: bool = False
        # The extension pages' tokens. An unknown or expired token gets this status (the docs
        # don't say which: [INFER]), the same answer for both.
        self.status_token_invalid: int = 404
        # How long a configuration token lives (the docs say nothing of it: [INFER]).
        self.configuration_token_ttl: float = 3600.0
        self._page_tokens: dict[str, _PageToken] = {}

        # Private files (§10.5).
        self.files: dict[str, FakeFile] = {}
        self.file_max_bytes: int = FILE_MAX_BYTES
        # The most a request body may carry before the server itself refuses it (413, before
        # any route runs); above file_max_bytes so that an oversized file reaches the route.
        self.request_max_bytes: int = 4 * FILE_MAX_BYTES
        self.file_default_ttl: float = FILE_DEFAULT_TTL
        # The latest expiresAt an upload may ask for, in seconds from now: the docs give no
        # maximum ([INFER]); None accepts any future time.
        self.file_max_ttl: float | None = None
        # "The content must decode": True checks the magic bytes against the filename's
        # extension (no real decoding); False checks the extension only.
        self.file_decode_check: bool = True
        # How long the private url of GET .../files/{id} claims to be valid.
        self.file_url_ttl: float = FILE_URL_TTL
        # How long an attachment token can be used: the docs don't say ([INFER]); None: as long
        # as the file was to live when it was uploaded.
        self.attachment_token_ttl: float | None = None
        # GET .../files/{id} may answer expiresAt null: a guess ([INFER]) is that a file a review
        # uses no longer expires (the review keeps its photo). False: it expires as uploaded.
        self.file_kept_by_review: bool = True
        # DELETE of a file a review uses (409 [DOC]); the message is a guess.
        self.status_file_referenced: int = 409

        # Standalone peer reviews (§10.6). The kinds declared in the developer interface.
        self.verification_types: list[dict[str, Any]] = [
            {
                "key": "photo",
                "label": "Photo review",
                "description": "A photo that proves the task.",
            }
        ]
        # The wearer is suspended from peer verifications (403 on creation [DOC]).
        self.wearer_suspended_from_reviews: bool = False
        # Whether the lock's keyholder can review (409 for the keyholder audience when not, or
        # when the lock has no keyholder [DOC]; what makes one unable is not said).
        self.keyholder_can_review: bool = True
        # delay/maxVotes sent with the keyholder audience: the docs don't say ([INFER]); True
        # refuses them (400), False ignores them.
        self.keyholder_rejects_vote_settings: bool = True
        # Length limits of a generic check's rejection reasons (the docs give none: [INFER]).
        self.rejection_reason_slug_max: int = 40
        self.rejection_reason_text_max: int = 300
        # A pillory punishment on a lock without the Pillory extension: refused on creation
        # (status_pillory_missing), as POST /action would refuse it later ([INFER]).
        self.review_checks_pillory: bool = True
        # What the built-in check families stand for: one checkResults row per subcheck, each
        # with its own rejection reasons. The names and reasons are guesses ([INFER]).
        self.builtin_checks: dict[str, list[dict[str, Any]]] = {
            "task": [
                {
                    "name": "task_done",
                    "rejectionReasons": [
                        {"slug": "task_not_done", "text": "The task was not done"},
                        {"slug": "task_not_visible", "text": "The task cannot be seen"},
                    ],
                }
            ],
            "chastity_device": [
                {
                    "name": "device_visible",
                    "rejectionReasons": [
                        {"slug": "device_not_visible", "text": "The device cannot be seen"}
                    ],
                },
                {
                    "name": "device_locked",
                    "rejectionReasons": [
                        {"slug": "device_not_locked", "text": "The device is not locked"}
                    ],
                },
            ],
            "bondage": [
                {
                    "name": "bondage_visible",
                    "rejectionReasons": [
                        {"slug": "bondage_not_visible", "text": "The bondage cannot be seen"}
                    ],
                }
            ],
        }
        # The review's "source" ([INFER]: the docs show "source:{...}" only).
        self.review_source_style: Literal["extension", "empty"] = "extension"
        # Send peer_verification.ended when a review ends.
        self.review_ended_webhook: bool = True
        # The webhook's checkResults: with the history rows' names (approved/rejected/count,
        # like its voteCounts) or the created review's (nbVerifiedVotes/.../nbVotes) ([INFER]).
        self.review_webhook_results_style: Literal["history", "review"] = "history"
        # End the community reviews whose deadline passed before each API request is handled
        # (for a bot in its own process that cannot call end_due_reviews).
        self.auto_end_reviews: bool = False
        self._reviews: dict[str, FakeReview] = {}

        # outgoing webhooks
        self.webhook_url: str | None = None
        self.webhook_auth: tuple[str, str] | None = None
        self.webhook_timeout: float = 10.0
        self.webhook_retry_delays: list[float] = [60, 120, 180, 240]
        self.webhook_deliveries: list[dict[str, Any]] = []
        # Lose the next `lose_webhooks` webhooks on the way (never delivered, never retried),
        # as when Chaster's sender drops one; the envelopes lost are kept in `lost_webhooks`.
        self.lose_webhooks: int = 0
        self.lost_webhooks: list[dict[str, Any]] = []

        # Shared with the bot under test when given (a FakeClock's `now`); otherwise real time
        # plus what `advance` added, for a bot running in its own process.
        self._clock = clock
        self._offset = 0.0
        self._rules: list[_Rule] = []
        self._cond = asyncio.Condition()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("FakeChaster already started")
        self._closing = asyncio.Event()
        self._cond = asyncio.Condition()
        await self._listen()

    async def _listen(self) -> None:
        app = web.Application(
            middlewares=[self._middleware], client_max_size=self.request_max_bytes
        )
        p = API_PREFIX
        app.router.add_post(f"{p}/sessions/search", self._h_search)
        app.router.add_get(f"{p}/sessions/{{session_id}}", self._h_get_session)
        app.router.add_patch(f"{p}/sessions/{{session_id}}", self._h_patch_session)
        app.router.add_post(f"{p}/sessions/{{session_id}}/tasks/assign", self._h_assign)
        app.router.add_post(f"{p}/sessions/{{session_id}}/tasks/start-timer", self._h_start_timer)
        app.router.add_post(f"{p}/sessions/{{session_id}}/tasks/complete", self._h_complete)
        app.router.add_post(f"{p}/sessions/{{session_id}}/action", self._h_lock_action)
        app.router.add_post(f"{p}/sessions/{{session_id}}/logs/search", self._h_logs_search)
        app.router.add_post(f"{p}/sessions/{{session_id}}/logs/custom", self._h_logs_custom)
        app.router.add_post(f"{p}/sessions/{{session_id}}/files", self._h_upload_file)
        app.router.add_get(f"{p}/sessions/{{session_id}}/files/{{file_id}}", self._h_get_file)
        app.router.add_delete(f"{p}/sessions/{{session_id}}/files/{{file_id}}", self._h_delete_file)
        pv = f"{p}/sessions/{{session_id}}/peer-verifications"
        app.router.add_post(pv, self._h_create_review)
        app.router.add_post(f"{pv}/search", self._h_search_reviews)
        app.router.add_get(f"{p}/auth/sessions/{{main_token}}", self._h_auth_session)
        app.router.add_get(f"{p}/configurations/{{token}}", self._h_get_configuration)
        app.router.add_put(f"{p}/configurations/{{token}}", self._h_put_configuration)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        addr = runner.addresses[0]
        self.port = int(addr[1])
        host = self.host if ":" not in self.host else f"[{self.host}]"
        self.url = f"http://{host}:{self.port}"

    async def stop(self) -> None:
        self._closing.set()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    async def __aenter__(self) -> FakeChaster:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def api_url(self) -> str:
        return self.url + API_PREFIX

    # ------------------------------------------------------------------ clock

    def now(self) -> datetime:
        if self._clock is not None:
            return self._clock()
        return datetime.now(UTC) + timedelta(seconds=self._offset)

    def advance(self, seconds: float) -> None:
        """Move this fake's own time; with a shared clock, advance that clock instead."""
        if self._clock is not None:
            raise RuntimeError("this fake shares a clock: advance the clock")
        self._offset += seconds

    # ------------------------------------------------------------------ calls

    def _matching_calls(self, method: str, path_contains: str) -> list[Call]:
        m = method.upper()
        return [c for c in self.calls if (m == "*" or c.method == m) and path_contains in c.path]

    def count_calls(self, method: str, path_contains: str) -> int:
        return len(self._matching_calls(method, path_contains))

    async def wait_for_call(
        self,
        method: str,
        path_contains: str,
        *,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[Call]:
        """Wait until ``count`` matching calls were handled; returns all matching calls.

        A call is recorded once the fake has applied its effect (before any ``latency``).
        """
        try:
            async with asyncio.timeout(timeout), self._cond:
                await self._cond.wait_for(
                    lambda: len(self._matching_calls(method, path_contains)) >= count
                )
        except TimeoutError:
            seen = [f"{c.method} {c.path} -> {c.status}" for c in self.calls[-20:]]
            raise TimeoutError(
                f"timed out after {timeout}s waiting for {count} x {method} *{path_contains}*; "
                f"got {self.count_calls(method, path_contains)}. Last calls: {seen}"
            ) from None
        return self._matching_calls(method, path_contains)

    async def _notify(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    # ------------------------------------------------------------------ knobs

    def fail_next(
        self,
        method: str,
        path_contains: str,
        status: int,
        message: str | list[str],
        *,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` matching requests with a NestJS error; state untouched."""
        self._rules.append(_Rule("fail", method, path_contains, times, status, message))

    def drop_next(self, method: str, path_contains: str, *, apply: bool, times: int = 1) -> None:
        """Close the connection without answering (after applying the change if ``apply``)."""
        self._rules.append(_Rule("drop", method, path_contains, times, apply=apply))

    def hang_next(
        self, method: str, path_contains: str, *, apply: bool, seconds: float, times: int = 1
    ) -> None:
        """Delay the answer by ``seconds``.

        apply=True: apply the change, wait, then send the normal response.
        apply=False: wait, then close the connection without applying anything.
        """
        self._rules.append(
            _Rule("hang", method, path_contains, times, apply=apply, seconds=seconds)
        )

    def answer_next(
        self,
        method: str,
        path_contains: str,
        status: int,
        body: str,
        *,
        content_type: str = "application/json",
        apply: bool = False,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` matching requests with exactly ``body`` (no rate headers).

        For answers that are not Chaster's own: a 200 whose JSON is cut off, or a proxy's HTML
        502 page. apply=True: the change is made first, as when a gateway loses Chaster's answer.
        """
        self._rules.append(
            _Rule(
                "raw",
                method,
                path_contains,
                times,
                status,
                apply=apply,
                body=body,
                content_type=content_type,
            )
        )

    async def go_offline(self) -> None:
        """Stop listening (connections are refused) but keep every session and recorded call."""
        if self._runner is None:
            raise RuntimeError("FakeChaster is not listening")
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def go_online(self) -> None:
        """Listen again on the same port after ``go_offline``."""
        if self._runner is not None:
            raise RuntimeError("FakeChaster is already listening")
        await self._listen()

    def _take_rule(self, method: str, path: str) -> _Rule | None:
        for rule in self._rules:
            if rule.remaining > 0 and rule.matches(method, path):
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self._rules.remove(rule)
                return rule
        return None

    # ------------------------------------------------------------------ sessions

    def add_session(
        self,
        *,
        session_id: str | None = None,
        wearer_discord_id: str | None = None,
        keyholder_discord_id: str | None = None,
        has_keyholder: bool = True,
        tasks_extension: bool = True,
        enable_points: bool = False,
        points_required: int = 0,
        points: int = 0,
        status: str = "locked",
        slug: str | None = None,
        user_tasks: list[dict[str, Any]] | None = None,
        pillory: bool = False,
        notify: bool = False,
    ) -> FakeSession:
        """Create a session. ``pillory=True`` puts the Pillory extension on the lock;
        ``notify=True`` also sends ``extension_session.created``."""
        if status not in ("locked", "unlocked", "deserted"):
            raise ValueError(f"bad lock status {status!r}")
        sid = session_id or nanoid()
        if sid in self.sessions:
            raise ValueError(f"session {sid} already exists")
        now = self.now()
        keyholder = (
            make_user(role="keyholder", discord_id=keyholder_discord_id) if has_keyholder else None
        )
        sess = FakeSession(
            session_id=sid,
            slug=slug or self.slug,
            lock_id=object_id(),
            wearer=make_user(role="wearer", discord_id=wearer_discord_id),
            keyholder=keyholder,
            tasks_extension=tasks_extension,
            points=points,
            enable_points=enable_points,
            points_required=points_required,
            lock_status=status,
            lock_title="Keyholder lock" if has_keyholder else "Self-lock",
            end_date=now + timedelta(days=1),
            pillory_extension=pillory,
            user_tasks=[dict(t) for t in user_tasks]
            if user_tasks is not None
            else [{"task": "Write 100 lines", "points": 5}, {"task": "Cold shower", "points": 10}],
            created_at=now,
            updated_at=now,
            unlocked_at=now if status != "locked" else None,
        )
        self.sessions[sid] = sess
        if notify:
            self._queue_webhook(
                "extension_session.created",
                {"session": self.session_json(sid), "extension": {"slug": sess.slug}},
            )
        return sess

    def _touch(self, sess: FakeSession) -> None:
        sess.updated_at = self.now()

    def _current_task_json(self, sess: FakeSession) -> dict[str, Any] | None:
        task = sess.current_task
        if task is None:
            return None
        out: dict[str, Any] = {"task": task["task"], "points": task["points"]}
        if self.expose_timer_fields:
            out["verificationRequired"] = bool(task.get("verificationRequired", False))
            out["duration"] = int(task.get("duration", 0) or 0)
            out["timerStartedAt"] = iso(sess.timer_started_at)
            out["_fakeUnknownKey"] = {"note": "clients must ignore unknown keys"}
        return out

    def _party_json(self, sess: FakeSession) -> dict[str, Any]:
        created = _iso(sess.created_at)
        return {
            "slug": sess.slug,
            "displayName": self.display_name if sess.slug == self.slug else sess.slug,
            "summary": "Drive the Tasks extension from Discord.",
            "subtitle": "Tasks from Discord",
            "icon": "puzzle-piece",
            "_id": sess.party_id,
            "config": sess.config,
            "mode": "unlimited",
            "regularity": 3600,
            "userData": None,
            "nbActionsRemaining": -1,
            "nextActionDate": None,
            "isPartner": True,
            "textConfig": "",
            "createdAt": created,
            "updatedAt": _iso(sess.updated_at),
        }

    def _tasks_party_json(self, sess: FakeSession) -> dict[str, Any]:
        config: dict[str, Any] = {
            "tasks": [dict(t) for t in sess.user_tasks],
            "voteEnabled": False,
            "voteDuration": 43200,
            "startVoteAfterLastVote": False,
            "enablePoints": sess.enable_points,
            "pointsRequired": sess.points_required,
            "allowWearerToEditTasks": False,
            "allowWearerToConfigureTasks": False,
            "preventWearerFromAssigningTasks": False,
            "allowWearerToChooseTasks": False,
            "actionsOnAbandonedTask": [],
        }
        config.update(sess.tasks_config)
        text = "\n".join(f"- {t.get('task', '')}" for t in sess.user_tasks) or "- "
        return {
            "slug": "tasks",
            "displayName": "Tasks",
            "summary": (
                "Spice up your session by receiving tasks. Configure the tasks you want to do, "
                "and receive a random task, or ask other users to vote."
            ),
            "subtitle": "Receive tasks and earn points to be unlocked",
            "icon": "tasks",
            "_id": sess.tasks_party_id,
            "config": config,
            "mode": "non_cumulative",
            "regularity": 3600,
            "userData": {
                "status": sess.status,
                "voteStartedAt": iso(sess.vote_started_at),
                "voteEndsAt": iso(sess.vote_ends_at),
                "currentTask": self._current_task_json(sess),
                "userTasks": [dict(t) for t in sess.user_tasks],
                "currentTaskVote": sess.current_task_vote,
                "points": sess.points,
            },
            "nbActionsRemaining": 1,
            "nextActionDate": None,
            "isPartner": False,
            "textConfig": text,
            "createdAt": _iso(sess.created_at),
            "updatedAt": _iso(sess.updated_at),
        }

    def _pillory_party_json(self, sess: FakeSession) -> dict[str, Any]:
        # As in the real fixture (webhook-extension_session.created.json).
        return {
            "slug": PILLORY_SLUG,
            "displayName": "Pillory",
            "summary": (
                "When you receive a penalty, be displayed publicly for a specified period of "
                "time. Other users will be able to add time to your lock."
            ),
            "subtitle": "Be displayed publicly when you receive a penalty",
            "icon": "user-friends",
            "_id": sess.pillory_party_id,
            "config": {"timeToAdd": 3600, "limitToLoggedUsers": True},
            "mode": "unlimited",
            "regularity": 3600,
            "userData": None,
            "nbActionsRemaining": -1,
            "nextActionDate": None,
            "isPartner": False,
            "textConfig": "1 hour added per vote",
            "createdAt": _iso(sess.created_at),
            "updatedAt": _iso(sess.updated_at),
        }

    def lock_json(self, session_id: str) -> dict[str, Any]:
        """LockForPublic, keys in the order of the real fixture."""
        sess = self.sessions[session_id]
        start = sess.created_at
        extensions = [self._party_json(sess)]
        if sess.tasks_extension:
            extensions.append(self._tasks_party_json(sess))
        if sess.pillory_extension:
            extensions.append(self._pillory_party_json(sess))
        return {
            "_id": sess.lock_id,
            "startDate": _iso(start),
            "endDate": iso(sess.end_date),
            "minDate": _iso(start + timedelta(hours=12)),
            "maxDate": _iso(start + timedelta(days=1)),
            "maxLimitDate": None,
            "displayRemainingTime": sess.display_remaining_time,
            "limitLockTime": False,
            "status": sess.lock_status,
            "combination": sess.combination,
            "sharedLock": None,
            "createdAt": _iso(start),
            "updatedAt": _iso(sess.updated_at),
            "unlockedAt": iso(sess.unlocked_at),
            "archivedAt": None,
            "frozenAt": iso(sess.frozen_at),
            "keyholderArchivedAt": None,
            "totalDuration": max(0, int((self.now() - start).total_seconds())),
            "allowSessionOffer": False,
            "isTestLock": True,
            "offerToken": None,
            "hideTimeLogs": False,
            "trusted": False,
            "user": sess.wearer,
            "keyholder": sess.keyholder,
            "isAllowedToViewTime": True,
            "canBeUnlocked": False,
            "canBeUnlockedByMaxLimitDate": False,
            "isFrozen": sess.frozen_at is not None,
            "extensions": extensions,
            "title": sess.lock_title,
            "lastVerificationPicture": None,
            "reasonsPreventingUnlocking": [],
            "extensionsAllowUnlocking": True,
        }

    def session_json(self, session_id: str) -> dict[str, Any]:
        """ExtensionSessionForPartner as Chaster would send it."""
        sess = self.sessions[session_id]
        out = self._party_json(sess)
        out["sessionId"] = sess.session_id
        out["data"] = sess.data
        out["metadata"] = sess.metadata
        out["lock"] = self.lock_json(session_id)
        copied: dict[str, Any] = json.loads(json.dumps(out))  # deep copy: callers may mutate
        return copied

    def lock_for_user_json(self, session_id: str, role: PageRole) -> dict[str, Any]:
        """The lock as the wearer or the keyholder sees it (``lockForUser`` of the exchange).

        The wearer of a lock whose timer is hidden gets no dates that would tell the time left;
        the keyholder sees everything. ``role`` is added to the lock.
        """
        lock: dict[str, Any] = json.loads(json.dumps(self.lock_json(session_id)))
        if role == "wearer" and not self.sessions[session_id].display_remaining_time:
            for key in HIDDEN_TIMER_FIELDS:
                lock[key] = None
            lock["isAllowedToViewTime"] = False
        lock["role"] = role
        return lock

    # ------------------------------------------------------------------ extension pages' tokens

    def _page_user_id(self, session_id: str, role: str) -> str:
        if role not in PAGE_ROLES:
            raise ValueError(f"role must be one of {PAGE_ROLES}, not {role!r}")
        sess = self.sessions[session_id]
        if role == "wearer":
            return str(sess.wearer["_id"])
        if sess.keyholder is None:
            raise ValueError(f"session {session_id} has no keyholder")
        return str(sess.keyholder["_id"])

    def _new_page_token(
        self,
        kind: Literal["main", "configuration"],
        *,
        session_id: str | None,
        role: PageRole,
        user_id: str,
        ttl: float,
        config: dict[str, Any] | None = None,
    ) -> str:
        token = secrets.token_urlsafe(32)
        now = self.now()
        self._page_tokens[token] = _PageToken(
            kind=kind,
            role=role,
            user_id=user_id,
            session_id=session_id,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
            config=dict(config) if config is not None else {},
        )
        return token

    def issue_main_token(
        self, session_id: str, role: PageRole, *, ttl: float = MAIN_TOKEN_TTL
    ) -> str:
        """The ``mainToken`` Chaster puts in the main page's URL for this session's wearer or
        keyholder; it can be exchanged for ``ttl`` seconds (12 h, as documented)."""
        user_id = self._page_user_id(session_id, role)
        return self._new_page_token(
            "main", session_id=session_id, role=role, user_id=user_id, ttl=ttl
        )

    def issue_configuration_token(
        self,
        *,
        session_id: str | None,
        role: PageRole = "keyholder",
        config: dict[str, Any] | None = None,
        ttl: float | None = None,
    ) -> str:
        """A ``partnerConfigurationToken`` for the configuration page.

        With ``session_id`` it edits that session's ``config`` (``config`` given here replaces it
        at once). With ``session_id=None`` a lock is being created: the config lives with the
        token, starting as ``config`` (or ``{}``), and the user is a new id. ``ttl`` defaults to
        ``configuration_token_ttl``.
        """
        if session_id is None:
            if role not in PAGE_ROLES:
                raise ValueError(f"role must be one of {PAGE_ROLES}, not {role!r}")
            user_id = object_id()
        else:
            user_id = self._page_user_id(session_id, role)
            if config is not None:
                self.sessions[session_id].config = dict(config)
                config = None
        return self._new_page_token(
            "configuration",
            session_id=session_id,
            role=role,
            user_id=user_id,
            ttl=self.configuration_token_ttl if ttl is None else ttl,
            config=config,
        )

    def configuration_of(self, token: str) -> dict[str, Any]:
        """The config stored for a configuration token (its session's, when it has one)."""
        entry = self._page_tokens.get(token)
        if entry is None or entry.kind != "configuration":
            raise KeyError(f"no configuration token {token!r}")
        copied: dict[str, Any] = json.loads(json.dumps(self._token_config(entry)))
        return copied

    def _token_config(self, entry: _PageToken) -> dict[str, Any]:
        if entry.session_id is None:
            return entry.config
        return self.sessions[entry.session_id].config

    def expire_token(self, token: str) -> None:
        """Make a main or configuration token expire now."""
        entry = self._page_tokens.get(token)
        if entry is None:
            raise KeyError(f"no such token {token!r}")
        entry.expires_at = self.now()

    def _live_token(
        self, token: str, kind: Literal["main", "configuration"], message: str
    ) -> _PageToken:
        """The token if it is live; otherwise the same error for unknown and expired."""
        entry = self._page_tokens.get(token)
        if (
            entry is None
            or entry.kind != kind
            or self.now() >= entry.expires_at
            or (entry.session_id is not None and entry.session_id not in self.sessions)
        ):
            raise ApiError(self.status_token_invalid, message)
        return entry

    # ------------------------------------------------------------------ action logs

    def _task_payload(self, task: dict[str, Any], points: float | None) -> dict[str, Any]:
        payload: dict[str, Any]
        if self.task_payload_style == "string":
            payload = {"task": task["task"], "points": task["points"]}
        else:
            payload = {"task": {"task": task["task"], "points": task["points"]}}
        if points is not None:
            payload["points"] = points
        return payload

    def add_log(
        self,
        session_id: str,
        type_: str,
        payload: dict[str, Any],
        *,
        role: str,
        extension: str | None,
        title: str,
        description: str = "",
        icon: str | None = None,
        color: str | None = None,
        prefix: str = "default",
    ) -> dict[str, Any]:
        """Append an ActionLogForPublic and send ``action_log.created`` (if webhooks are on)."""
        sess = self.sessions[session_id]
        user: dict[str, Any] | None
        if role == "user":
            user = sess.wearer
        elif role == "keyholder":
            user = sess.keyholder
        else:
            user = None
        log: dict[str, Any] = {
            "_id": object_id(),
            "type": type_,
            "lock": sess.lock_id,
            "role": role,
            "extension": extension,
            "createdAt": _iso(self.now()),
            "title": title,
            "description": description,
            "color": color,
            "icon": icon,
            "payload": payload,
            "prefix": prefix,
            "user": user,
        }
        sess.action_logs.append(log)
        self._touch(sess)
        self._queue_webhook(
            "action_log.created",
            {"sessionId": sess.session_id, "actionLog": json.loads(json.dumps(log))},
        )
        return log

    def lock_actions(self, session_id: str) -> list[dict[str, Any]]:
        """The session's history entries written by lock actions, oldest first."""
        return [
            log
            for log in self.sessions[session_id].action_logs
            if log["type"] in LOCK_ACTION_LOG_TYPES
        ]

    # ------------------------------------------------------------------ task state changes

    def _do_assign(
        self,
        sess: FakeSession,
        task: dict[str, Any],
        *,
        role: str,
        extension: str | None,
        log_type: str = "tasks_task_assigned",
    ) -> None:
        sess.current_task = {
            "task": task["task"],
            "points": task["points"],
            "verificationRequired": bool(task.get("verificationRequired") or False),
            "duration": int(task.get("duration") or 0),
        }
        sess.status = "pending"
        sess.timer_started_at = None
        sess.vote_started_at = None
        sess.vote_ends_at = None
        sess.current_task_vote = None
        title = (
            "The vote for a task has ended"
            if log_type == "tasks_vote_ended"
            else ("%USER% assigned a task")
        )
        self.add_log(
            sess.session_id,
            log_type,
            self._task_payload(sess.current_task, None),
            role=role,
            extension=extension,
            title=title,
            description=str(task["task"]),
            icon="fa-tasks",
        )

    def _do_finish(
        self, sess: FakeSession, *, completed: bool, role: str, extension: str | None
    ) -> None:
        task = sess.current_task
        assert task is not None
        awarded: float = task["points"] if completed and sess.enable_points else 0
        sess.points += awarded
        sess.current_task = None
        sess.timer_started_at = None
        sess.status = "start"
        if completed:
            self.add_log(
                sess.session_id,
                "tasks_task_completed",
                self._task_payload(task, awarded),
                role=role,
                extension=extension,
                title="%USER% completed a task",
                description=str(task["task"]),
                icon="fa-check",
                color="#43a047",
            )
        else:
            self.add_log(
                sess.session_id,
                "tasks_task_failed",
                self._task_payload(task, 0),
                role=role,
                extension=extension,
                title="%USER% failed a task",
                description=str(task["task"]),
                icon="fa-times",
                color="#e53935",
            )

    # ------------------------------------------------------------------ lock changes

    def _change_time(self, sess: FakeSession, seconds: int) -> None:
        if sess.end_date is not None:
            sess.end_date += timedelta(seconds=seconds)
        self.add_log(
            sess.session_id,
            "time_changed",
            {"duration": seconds},
            role="extension",
            extension=self.slug,
            title="%USER% added time" if seconds > 0 else "%USER% removed time",
            icon="fa-clock",
        )

    def _set_frozen(self, sess: FakeSession, frozen: bool) -> None:
        sess.frozen_at = self.now() if frozen else None
        self.add_log(
            sess.session_id,
            "lock_frozen" if frozen else "lock_unfrozen",
            {},
            role="extension",
            extension=self.slug,
            title="%USER% froze the lock" if frozen else "%USER% unfroze the lock",
            icon="fa-snowflake",
        )

    def _pillory(self, sess: FakeSession, seconds: int, reason: str) -> None:
        sess.pillories.append(
            {"duration": seconds, "reason": reason, "createdAt": _iso(self.now())}
        )
        self.add_log(
            sess.session_id,
            "pillory_in",
            {"duration": seconds, "reason": reason},
            role="extension",
            extension=self.slug,
            title="%USER% sent the wearer to the pillory",
            description=reason,
            icon="fa-user-friends",
        )

    # ------------------------------------------------------------------ in-app events

    def assign_in_app(
        self,
        session_id: str,
        task: str,
        points: int = 0,
        *,
        verification_required: bool = False,
        duration: int = 0,
        role: str = "user",
    ) -> None:
        """A task assigned inside Chaster (wearer random pick, keyholder...)."""
        sess = self.sessions[session_id]
        if role not in ("user", "keyholder"):
            raise ValueError("role must be 'user' or 'keyholder'")
        if sess.status != "start":
            raise ValueError(f"cannot assign in app: tasks status is {sess.status!r}")
        self._do_assign(
            sess,
            {
                "task": task,
                "points": points,
                "verificationRequired": verification_required,
                "duration": duration,
            },
            role=role,
            extension=None,
        )

    def start_timer_in_app(self, session_id: str) -> None:
        """The wearer pressed "start timer" in the Tasks UI."""
        sess = self.sessions[session_id]
        if sess.current_task is None:
            raise ValueError("no current task")
        sess.timer_started_at = self.now()
        self._touch(sess)

    def finish_in_app(self, session_id: str, *, completed: bool, role: str = "user") -> None:
        """Task completed / abandoned inside Chaster (e.g. verification photo approved)."""
        sess = self.sessions[session_id]
        if role not in ("user", "keyholder"):
            raise ValueError("role must be 'user' or 'keyholder'")
        if sess.current_task is None:
            raise ValueError("no current task")
        self._do_finish(sess, completed=completed, role=role, extension=None)

    def start_vote_in_app(self, session_id: str, duration: int = 43200) -> None:
        """The wearer asked the community to vote for a task: status becomes ``vote``."""
        sess = self.sessions[session_id]
        if sess.status != "start":
            raise ValueError(f"cannot start a vote: tasks status is {sess.status!r}")
        now = self.now()
        sess.status = "vote"
        sess.vote_started_at = now
        sess.vote_ends_at = now + timedelta(seconds=duration)
        sess.current_task_vote = object_id()
        self._touch(sess)

    def end_vote_in_app(self, session_id: str, task: str, points: int = 0) -> None:
        """The vote ended; the winning task becomes the current task (``tasks_vote_ended``)."""
        sess = self.sessions[session_id]
        if sess.status != "vote":
            raise ValueError("no vote running")
        self._do_assign(
            sess,
            {"task": task, "points": points},
            role="user",
            extension=None,
            log_type="tasks_vote_ended",
        )

    def end_lock(
        self, session_id: str, *, status: Literal["unlocked", "deserted"] = "unlocked"
    ) -> None:
        """Lock unlocked/ended: ``unlocked`` action log, then ``extension_session.deleted``."""
        sess = self.sessions[session_id]
        sess.lock_status = status
        sess.unlocked_at = self.now()
        self.add_log(
            session_id,
            status,
            {},
            role="user",
            extension=None,
            title="%USER% unlocked the lock" if status == "unlocked" else "The lock was deserted",
            description="",
            icon="fa-unlock",
        )
        self._queue_webhook(
            "extension_session.deleted",
            {
                "session": {"sessionId": sess.session_id, "lock": self.lock_json(session_id)},
                "extension": {"slug": sess.slug},
            },
        )

    def notify_session_updated(self, session_id: str) -> None:
        """Send ``extension_session.updated`` with the current session."""
        sess = self.sessions[session_id]
        self._queue_webhook(
            "extension_session.updated",
            {"session": self.session_json(session_id), "extension": {"slug": sess.slug}},
        )

    def remove_tasks_extension(self, session_id: str) -> None:
        """The Tasks extension is taken off the lock: its state (current task, points) is gone."""
        sess = self.sessions[session_id]
        sess.tasks_extension = False
        sess.status = "start"
        sess.current_task = None
        sess.timer_started_at = None
        sess.points = 0
        sess.vote_started_at = sess.vote_ends_at = None
        sess.current_task_vote = None
        sess.tasks_party_id = object_id()
        self._touch(sess)

    def add_tasks_extension(self, session_id: str) -> None:
        """The Tasks extension is put (back) on the lock, starting with no task."""
        sess = self.sessions[session_id]
        sess.tasks_extension = True
        self._touch(sess)

    # ------------------------------------------------------------------ private files

    def file_bytes(self, file_id: str) -> bytes:
        """The bytes uploaded as ``file_id`` (still there after it expired or was deleted)."""
        return self.files[file_id].content

    def _live_file(self, sess: FakeSession, file_id: str) -> FakeFile:
        """The session's file; 404 alike for unknown, expired, deleted and foreign files."""
        f = self.files.get(file_id)
        if (
            f is None
            or f.session_id != sess.session_id
            or f.deleted
            or (f.expires_at is not None and self.now() >= f.expires_at)
        ):
            raise ApiError(404, "File not found")
        return f

    def _file_json(self, f: FakeFile) -> dict[str, Any]:
        valid_until = int((self.now() + timedelta(seconds=self.file_url_ttl)).timestamp())
        # A private, signed url on a name that never resolves: nothing may fetch or show it.
        url = (
            f"https://private-files.chaster.invalid/{f.session_id}/{f.file_id}"
            f"?expires={valid_until}&signature={secrets.token_urlsafe(24)}"
        )
        return {
            "fileId": f.file_id,
            "originalName": f.name,
            "size": f.size,
            "expiresAt": iso(f.expires_at),
            "url": url,
        }

    # ------------------------------------------------------------------ peer reviews

    def reviews(self, session_id: str) -> list[dict[str, Any]]:
        """The session's peer reviews, oldest first, shaped as the creation answer."""
        return [self._review_json(r) for r in self._reviews.values() if r.session_id == session_id]

    def _review(self, review_id: str) -> FakeReview:
        review = self._reviews.get(review_id)
        if review is None:
            raise KeyError(f"no review {review_id!r}")
        if review.status != "ongoing":
            raise ValueError(f"review {review_id} has ended ({review.status})")
        return review

    def _check_vote_reasons(
        self, review: FakeReview, approve: bool, reasons: Sequence[str]
    ) -> None:
        if approve and reasons:
            raise ValueError("an approving vote gives no rejection reasons")
        known = {reason["slug"] for row in review.results for reason in row["reasons"]}
        unknown = [slug for slug in reasons if slug not in known]
        if unknown:
            raise ValueError(f"no rejection reason {unknown} in this review's checks")

    def _cast(self, review: FakeReview, approve: bool, reasons: Sequence[str]) -> None:
        """One vote. A rejection naming reasons rejects the checks those reasons belong to and
        approves the others; a rejection naming none rejects every check ([INFER])."""
        if approve:
            review.nb_verified += 1
        else:
            review.nb_rejected += 1
        wanted = set(reasons)
        for row in review.results:
            hit = wanted & {reason["slug"] for reason in row["reasons"]}
            if approve or (wanted and not hit):
                row["verified"] += 1
                continue
            row["rejected"] += 1
            for reason in row["reasons"]:
                if reason["slug"] in wanted:
                    reason["votes"] += 1

    @staticmethod
    def _verdict(review: FakeReview) -> str:
        total = review.nb_verified + review.nb_rejected
        if total == 0:  # "no votes at all by the deadline counts as verified" [DOC]
            return "verified"
        return "verified" if review.nb_verified >= REVIEW_APPROVAL_RATIO * total else "rejected"

    def vote(
        self,
        review_id: str,
        *,
        approve: bool,
        reasons: Sequence[str] = (),
        count: int = 1,
    ) -> dict[str, Any]:
        """``count`` community members vote on a community review (``reasons``: slugs of the
        review's rejection reasons). Reaching ``maxVotes`` ends it (75% rule). Returns the
        review as the creation answer shows it."""
        review = self._review(review_id)
        if review.visibility != "all_members":
            raise ValueError("the keyholder decides this review: use judge()")
        if count < 1:
            raise ValueError("count must be at least 1")
        cast_so_far = review.nb_verified + review.nb_rejected
        if review.max_votes is not None and cast_so_far + count > review.max_votes:
            raise ValueError(
                f"review {review_id} takes {review.max_votes - cast_so_far} more vote(s) at most"
            )
        self._check_vote_reasons(review, approve, reasons)
        for _ in range(count):
            self._cast(review, approve, reasons)
        if review.max_votes is not None and cast_so_far + count >= review.max_votes:
            self._end_review(review, self._verdict(review))
        return self._review_json(review)

    def judge(
        self, review_id: str, *, verified: bool, reasons: Sequence[str] = ()
    ) -> dict[str, Any]:
        """The keyholder decides a keyholder review (one vote); it ends at once."""
        review = self._review(review_id)
        if review.visibility != "keyholder":
            raise ValueError("the community decides this review: use vote()")
        self._check_vote_reasons(review, verified, reasons)
        self._cast(review, verified, reasons)
        self._end_review(review, "verified" if verified else "rejected")
        return self._review_json(review)

    def end_due_reviews(self) -> list[str]:
        """End every community review whose ``endsAt`` has passed; returns their ids."""
        now = self.now()
        due = [
            r
            for r in self._reviews.values()
            if r.status == "ongoing" and r.ends_at is not None and r.ends_at <= now
        ]
        for review in due:
            self._end_review(review, self._verdict(review))
        return [r.review_id for r in due]

    def _end_review(self, review: FakeReview, status: str) -> None:
        review.status = status
        review.ended_at = self.now()
        sess = self.sessions.get(review.session_id)
        if sess is None:
            return
        if status == "rejected" and not review.punished:
            review.punished = True
            # Chaster runs the punishments itself, as POST /action would (same history entries
            # and webhooks). A lock that is no longer active gets none ([INFER]).
            for action in review.punishments:
                with contextlib.suppress(ApiError):
                    self._apply_lock_action(sess, action)
        self._touch(sess)
        if self.review_ended_webhook:
            history = self.review_webhook_results_style == "history"
            self._queue_webhook(
                "peer_verification.ended",
                {
                    "sessionId": sess.session_id,
                    "extension": {"slug": sess.slug},
                    "lockId": sess.lock_id,
                    "peerVerificationId": review.review_id,
                    "verificationTypeKey": review.verification_type["key"],
                    "status": review.status,
                    "endedAt": iso(review.ended_at),
                    "voteCounts": {"verified": review.nb_verified, "rejected": review.nb_rejected},
                    "checkResults": self._check_results_json(review, history=history),
                },
            )

    def _review_rows(self, checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for index, check in enumerate(checks):
            subchecks: list[dict[str, Any]]
            if check["name"] == "generic":
                subchecks = [{"name": None, "rejectionReasons": check["rejectionReasons"]}]
            else:
                subchecks = self.builtin_checks.get(check["name"]) or [
                    {"name": None, "rejectionReasons": []}
                ]
            for sub in subchecks:
                rows.append(
                    {
                        "checkId": check.get("id"),
                        "name": check["name"],
                        "checkIndex": index,
                        "subcheckName": sub["name"],
                        "verified": 0,
                        "rejected": 0,
                        "reasons": [
                            {"slug": r["slug"], "text": r["text"], "votes": 0}
                            for r in sub["rejectionReasons"]
                        ],
                    }
                )
        return rows

    @staticmethod
    def _check_results_json(review: FakeReview, *, history: bool) -> list[dict[str, Any]]:
        """checkResults: a created review names the counts nbVerifiedVotes/nbRejectedVotes and
        nbVotes; a history row (search) names them approved/rejected and count [DOC]."""
        ok, ko, votes = ("approved", "rejected", "count") if history else _REVIEW_COUNT_NAMES
        return [
            {
                "checkId": row["checkId"],
                "name": row["name"],
                "checkIndex": row["checkIndex"],
                "subcheckName": row["subcheckName"],
                ok: row["verified"],
                ko: row["rejected"],
                "rejectionReasons": [
                    {"slug": r["slug"], "text": r["text"], votes: r["votes"]}
                    for r in row["reasons"]
                ],
            }
            for row in review.results
        ]

    @staticmethod
    def _rejection_reasons_json(review: FakeReview, *, history: bool) -> list[dict[str, Any]]:
        """The review's top-level rejectionReasons: every reason some vote gave, its votes
        summed over the checks ([INFER]: the docs name the key only)."""
        votes_key = "count" if history else "nbVotes"
        totals: dict[str, dict[str, Any]] = {}
        for row in review.results:
            for reason in row["reasons"]:
                if reason["votes"] <= 0:
                    continue
                entry = totals.setdefault(
                    reason["slug"], {"slug": reason["slug"], "text": reason["text"], votes_key: 0}
                )
                entry[votes_key] += reason["votes"]
        return list(totals.values())

    def _review_source_json(self, review: FakeReview) -> dict[str, Any]:
        if self.review_source_style == "empty":
            return {}
        sess = self.sessions.get(review.session_id)
        return {
            "type": "extension",
            "extension": {"slug": sess.slug if sess is not None else self.slug},
            "sessionId": review.session_id,
        }

    def _review_json(self, review: FakeReview) -> dict[str, Any]:
        """A review as ``POST .../peer-verifications`` answers it (the keys the docs list)."""
        return self._review_out(review, history=False)

    def _review_history_json(self, review: FakeReview) -> dict[str, Any]:
        """A review as a row of ``POST .../peer-verifications/search``."""
        return self._review_out(review, history=True)

    def _review_out(self, review: FakeReview, *, history: bool) -> dict[str, Any]:
        # The history names its counts differently and adds the vote cap.
        counts: dict[str, Any] = (
            {
                "maxVotes": review.max_votes,
                "voteCounts": {"verified": review.nb_verified, "rejected": review.nb_rejected},
            }
            if history
            else {"nbVerifiedVotes": review.nb_verified, "nbRejectedVotes": review.nb_rejected}
        )
        out: dict[str, Any] = {
            "_id": review.review_id,
            "status": review.status,
            "source": self._review_source_json(review),
            "verificationType": dict(review.verification_type),
            "checks": review.checks,
            "punishments": review.punishments,
            "createdAt": _iso(review.created_at),
            "endsAt": iso(review.ends_at),
            "endedAt": iso(review.ended_at),
            **counts,
            "rejectionReasons": self._rejection_reasons_json(review, history=history),
            "checkResults": self._check_results_json(review, history=history),
        }
        copied: dict[str, Any] = json.loads(json.dumps(out))
        return copied

    # ------------------------------------------------------------------ webhooks

    def _envelope(self, event: str, data: dict[str, Any], request_id: str | None) -> dict[str, Any]:
        return {
            "event": event,
            "data": data,
            "sentAt": _iso(self.now()),
            "requestId": request_id or nanoid(),
        }

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _queue_webhook(self, event: str, data: dict[str, Any]) -> None:
        if not self.webhook_url or self._closing.is_set():
            return
        asyncio.get_running_loop()  # webhooks need a running loop (RuntimeError otherwise)
        body = self._envelope(event, data, None)
        if self.lose_webhooks > 0:
            self.lose_webhooks -= 1
            self.lost_webhooks.append(body)
            return
        self._spawn(self._deliver(body, self.webhook_url, self.webhook_auth, first_attempt=1))

    async def send_webhook(
        self,
        event: str,
        data: dict[str, Any],
        *,
        request_id: str | None = None,
        wait: bool = True,
    ) -> dict[str, Any]:
        """Send a webhook by hand (e.g. replay a requestId). Returns the envelope.

        wait=True: the first attempt is awaited; retries (if it failed) continue in background.
        """
        if not self.webhook_url:
            raise RuntimeError("webhook_url is not set")
        body = self._envelope(event, data, request_id)
        url, auth = self.webhook_url, self.webhook_auth
        if not wait:
            self._spawn(self._deliver(body, url, auth, first_attempt=1))
            return body
        ok = await self._attempt(body, url, auth, attempt=1)
        if not ok:
            self._spawn(self._deliver(body, url, auth, first_attempt=2))
        return body

    async def _deliver(
        self,
        body: dict[str, Any],
        url: str,
        auth: tuple[str, str] | None,
        *,
        first_attempt: int,
    ) -> None:
        attempt = first_attempt
        delays = list(self.webhook_retry_delays)
        if attempt > 1:  # continuing after a failed first attempt
            if attempt - 2 >= len(delays):
                return
            await asyncio.sleep(delays[attempt - 2])
        while True:
            if await self._attempt(body, url, auth, attempt=attempt):
                return
            if attempt - 1 >= len(delays):
                return
            await asyncio.sleep(delays[attempt - 1])
            attempt += 1

    async def _attempt(
        self, body: dict[str, Any], url: str, auth: tuple[str, str] | None, *, attempt: int
    ) -> bool:
        if self._client is None:
            self._client = aiohttp.ClientSession()
        headers = {"Content-Type": "application/json"}
        if auth is not None:
            raw = f"{auth[0]}:{auth[1]}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode("ascii")
        status: int | None = None
        error: str | None = None
        try:
            async with self._client.post(
                url,
                data=json.dumps(body).encode(),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
            ) as resp:
                await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        self.webhook_deliveries.append(
            {
                "body": body,
                "status": status,
                "attempt": attempt,
                "error": error,
                "event": body["event"],
                "requestId": body["requestId"],
                "at": time.monotonic(),
            }
        )
        await self._notify()
        return status is not None and 200 <= status < 300

    async def wait_for_webhook(
        self,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """First delivery attempt record (past or future) matching ``predicate``."""

        def find() -> dict[str, Any] | None:
            for d in self.webhook_deliveries:
                if predicate is None or predicate(d):
                    return d
            return None

        try:
            async with asyncio.timeout(timeout), self._cond:
                await self._cond.wait_for(lambda: find() is not None)
        except TimeoutError:
            seen = [(d["event"], d["status"], d["attempt"]) for d in self.webhook_deliveries]
            raise TimeoutError(
                f"timed out after {timeout}s waiting for a matching webhook delivery; "
                f"deliveries so far (event, status, attempt): {seen}"
            ) from None
        found = find()
        assert found is not None
        return found

    # ------------------------------------------------------------------ HTTP plumbing

    @staticmethod
    def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
        h = {"Content-Type": "application/json"}
        if headers:
            h.update(headers)
        return web.Response(status=status, body=json.dumps(body).encode(), headers=h)

    @classmethod
    def _error(
        cls, status: int, message: str | list[str], error: str | None = None
    ) -> web.Response:
        body: dict[str, Any] = {"statusCode": status, "message": message}
        if status not in (401, 429):
            body["error"] = error or _reason(status)
        return cls._json(status, body)

    def _rate_headers(self) -> tuple[bool, dict[str, str]]:
        limit = self.rate_limit
        if limit is None:
            return True, {}
        now_m = time.monotonic()
        hits = self._rl_hits
        while hits and hits[0] <= now_m - self.rate_window:
            hits.popleft()
        allowed = len(hits) < limit
        if allowed:
            hits.append(now_m)
        oldest = hits[0] if hits else now_m
        reset_in = max(0.0, oldest + self.rate_window - now_m)
        reset_wall = time.time() + reset_in
        fmt = self.reset_header_format
        if fmt == "epoch_s":
            reset = str(math.ceil(reset_wall))
        elif fmt == "epoch_ms":
            reset = str(math.ceil(reset_wall * 1000))
        elif fmt == "iso":
            reset = _iso(datetime.fromtimestamp(reset_wall, UTC))
        else:
            reset = str(math.ceil(reset_in))
        return allowed, {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - len(hits))),
            "X-RateLimit-Reset": reset,
        }

    def _authorized(self, request: web.Request) -> bool:
        value = request.headers.get("Authorization", "")
        scheme, _, token = value.partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(
            token.strip().encode(), self.token.encode()
        )

    async def _sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    async def _dispatch(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            if self.auto_end_reviews:
                self.end_due_reviews()
            return await handler(request)
        except ApiError as exc:
            return self._error(exc.status, exc.message, exc.error)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        arrived = time.monotonic()
        too_large = False
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            too_large, raw = True, b""
        parsed: Any = None
        parse_error: str | None = None
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError as exc:
                parse_error = str(exc)
        headers = {
            k: ("<redacted>" if k.lower() == "authorization" else v)
            for k, v in request.headers.items()
        }
        call = Call(
            method=request.method,
            path=request.path,
            json=parsed,
            headers=headers,
            at=arrived,
            query=dict(request.query),
        )
        if too_large:  # refused by the server before any route (as by a body-size limit)
            resp: web.StreamResponse | None = self._error(413, "request entity too large")
            delay = 0.0
        else:
            resp, delay = await self._process(request, handler, parse_error)
        # Recorded once the effect (if any) is applied, before the answer is delayed.
        call.status = None if resp is None else resp.status
        await self._record(call)
        if request.path.startswith("/api/"):
            await self._sleep(delay + self.latency)
        if resp is None:  # lose the response on purpose
            self._abort(request)
            return web.Response(status=500)  # never reaches the client
        return resp

    async def _record(self, call: Call) -> None:
        self.calls.append(call)
        await self._notify()

    async def _process(
        self,
        request: web.Request,
        handler: Handler,
        parse_error: str | None,
    ) -> tuple[web.StreamResponse | None, float]:
        """Decide the answer. Returns (response or None to drop the connection, extra delay)."""
        path = request.path
        method = request.method
        if not path.startswith("/api/"):
            return self._error(404, f"Cannot {method} {path}"), 0.0

        allowed, rl_headers = self._rate_headers()

        def with_headers(
            resp: web.StreamResponse, delay: float = 0.0
        ) -> tuple[web.StreamResponse, float]:
            resp.headers.update(rl_headers)
            return resp, delay

        if not allowed:
            self.throttled += 1
            return with_headers(self._error(429, "ThrottlerException: Too Many Requests"))
        if request.match_info.http_exception is not None:
            return with_headers(self._error(404, f"Cannot {method} {path}"))
        if not self._authorized(request):
            return with_headers(self._error(401, "Unauthorized"))
        if parse_error is not None and self._is_json(request):
            return with_headers(self._error(400, f"Unexpected token in JSON: {parse_error}"))

        rule = self._take_rule(method, path)
        if rule is None:
            return with_headers(await self._dispatch(request, handler))
        if rule.kind == "fail":
            return with_headers(self._error(rule.status, rule.message))
        if rule.kind == "raw":
            if rule.apply:
                await self._dispatch(request, handler)
            raw = web.Response(
                status=rule.status,
                body=rule.body.encode(),
                headers={"Content-Type": rule.content_type},
            )
            return raw, 0.0
        if rule.kind == "drop":
            if rule.apply:
                await self._dispatch(request, handler)
            return None, 0.0
        # hang: apply (or not), wait, then answer (apply=True) or drop (apply=False)
        if rule.apply:
            return with_headers(await self._dispatch(request, handler), rule.seconds)
        return None, rule.seconds

    @staticmethod
    def _abort(request: web.Request) -> None:
        transport = request.transport
        if transport is not None:
            transport.abort()

    @staticmethod
    def _is_json(request: web.Request) -> bool:
        ctype = request.content_type
        return ctype == "application/json" or ctype.endswith("+json")

    @classmethod
    async def _body(cls, request: web.Request) -> dict[str, Any]:
        # NestJS only parses JSON bodies; anything else reaches the validator as {}.
        # (request.read() is cached by aiohttp; the middleware already rejected bad JSON.)
        raw = await request.read()
        if not raw or not cls._is_json(request):
            return {}
        body = json.loads(raw)
        return body if isinstance(body, dict) else {}

    def _session_for(self, request: web.Request) -> FakeSession:
        sid = request.match_info["session_id"]
        sess = self.sessions.get(sid)
        if sess is None or sess.slug != self.slug:
            raise ApiError(404, "Session not found")
        return sess

    # ------------------------------------------------------------------ validation

    @staticmethod
    def _validate_actor(body: dict[str, Any], errors: list[str]) -> None:
        actor = body.get("actor")
        if actor not in ACTORS:
            errors.append("actor must be one of the following values: " + ", ".join(ACTORS))
        if actor is None or actor == "":
            errors.append("actor should not be empty")

    def _unknown(
        self, obj: dict[str, Any], allowed: tuple[str, ...], errors: list[str], prefix: str = ""
    ) -> None:
        if self.forbid_unknown_fields:
            errors.extend(f"property {prefix}{k} should not exist" for k in obj if k not in allowed)

    def _validate_lock_action(
        self, action: dict[str, Any], errors: list[str], prefix: str = "action"
    ) -> None:
        name = action.get("name")
        params: Any = action.get("params")
        if name not in LOCK_ACTIONS:
            errors.append(
                f"{prefix}.name must be one of the following values: " + ", ".join(LOCK_ACTIONS)
            )
        elif name in ("add_time", "remove_time"):
            self._validate_seconds(params, f"{prefix}.params", errors)
        elif name == "pillory":
            if not isinstance(params, dict):
                errors.append(f"nested property {prefix}.params must be either object or array")
            else:
                self._validate_seconds(params.get("duration"), f"{prefix}.params.duration", errors)
                reason = params.get("reason")
                if reason is not None and not isinstance(reason, str):
                    errors.append(f"{prefix}.params.reason must be a string")
                self._unknown(params, ("duration", "reason"), errors, f"{prefix}.params.")
        elif name == "set_display_remaining_time" and not isinstance(params, bool):
            errors.append(f"{prefix}.params must be a boolean value")
        self._unknown(action, ("name", "params"), errors, f"{prefix}.")

    @staticmethod
    def _validate_seconds(value: Any, key: str, errors: list[str]) -> None:
        if not _is_int(value):
            errors.append(f"{key} must be an integer number")
        elif value < 1:
            errors.append(f"{key} must not be less than 1")

    def _raise_invalid(self, errors: list[str]) -> None:
        if errors:
            raise ApiError(self.status_invalid, errors)

    def _check_actor_allowed(self, sess: FakeSession, actor: str) -> None:
        if sess.lock_status != "locked":
            raise ApiError(self.status_rule, "The lock is not active")
        if not sess.tasks_extension:
            raise ApiError(self.status_tasks_missing, "Tasks extension is not enabled on this lock")
        if actor == "keyholder" and sess.keyholder is None:
            raise ApiError(self.status_rule, "This lock has no keyholder")

    # ------------------------------------------------------------------ route handlers

    async def _h_get_session(self, request: web.Request) -> web.StreamResponse:
        sess = self._session_for(request)
        return self._json(200, {"session": self.session_json(sess.session_id)})

    async def _h_patch_session(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        errors: list[str] = []
        for key in ("config", "metadata", "data"):
            if key in body and not isinstance(body[key], dict):
                errors.append(f"{key} must be an object")
        self._unknown(body, ("config", "metadata", "data"), errors)
        self._raise_invalid(errors)
        sess = self._session_for(request)
        if "config" in body:
            sess.config = body["config"]
        if "metadata" in body:
            sess.metadata = body["metadata"]
        if "data" in body:
            sess.data = body["data"]
        self._touch(sess)
        return web.Response(status=200)

    async def _h_search(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        errors: list[str] = []
        status = body.get("status", "locked")
        if status is None:
            status = "locked"
        if status not in SEARCH_STATUSES:
            errors.append(
                "status must be one of the following values: " + ", ".join(SEARCH_STATUSES)
            )
        slug = body.get("extensionSlug")
        if not isinstance(slug, str):
            errors.append("extensionSlug must be a string")
        if slug is None or slug == "":
            errors.append("extensionSlug should not be empty")
        limit = body.get("limit", 15)
        if limit is None:
            limit = 15
        if not _is_int(limit):
            errors.append("limit must be an integer number")
        elif limit < 1:
            errors.append("limit must not be less than 1")
        elif limit > self.search_max_limit:
            errors.append(f"limit must not be greater than {self.search_max_limit}")
        last_id = body.get("paginationLastId")
        if last_id is not None and not isinstance(last_id, str):
            errors.append("paginationLastId must be a string")
        self._unknown(body, ("status", "extensionSlug", "limit", "paginationLastId"), errors)
        self._raise_invalid(errors)

        newest_first = self.search_order == "newest"
        matching = sorted(
            (
                s
                for s in self.sessions.values()
                if s.slug == slug and (status == "all" or s.lock_status == status)
            ),
            key=lambda s: s.pagination_id,
            reverse=newest_first,
        )
        page_from = [
            s
            for s in matching
            if not last_id
            or (s.pagination_id < last_id if newest_first else s.pagination_id > last_id)
        ]
        n = int(limit)
        page = page_from[:n]
        results = []
        for s in page:
            item = self.session_json(s.session_id)
            item["paginationId"] = s.pagination_id
            if self.search_omits_extensions:
                del item["lock"]["extensions"]
            results.append(item)
        return self._json(
            self.search_status,
            {"count": len(matching), "hasMore": len(page_from) > n, "results": results},
        )

    async def _h_assign(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        errors: list[str] = []
        task = body.get("task")
        if not isinstance(task, dict):
            errors.append("nested property task must be either object or array")
            if task is None:
                errors.append("task should not be empty")
        else:
            text = task.get("task")
            if not isinstance(text, str):
                errors.append("task.task must be a string")
            elif text == "":
                errors.append("task.task should not be empty")
            elif self.max_task_length is not None and len(text) > self.max_task_length:
                errors.append(
                    f"task.task must be shorter than or equal to {self.max_task_length} characters"
                )
            pts: Any = task.get("points")
            if not _is_number(pts):
                errors.append(
                    "task.points must be a number conforming to the specified constraints"
                )
            elif pts < 0:
                errors.append("task.points must not be less than 0")
            vr = task.get("verificationRequired")
            if vr is not None and not isinstance(vr, bool):
                errors.append("task.verificationRequired must be a boolean value")
            dur: Any = task.get("duration")
            if dur is not None:
                if not _is_int(dur):
                    errors.append("task.duration must be an integer number")
                elif dur < 0:
                    errors.append("task.duration must not be less than 0")
                elif 0 < dur < TIMED_MIN:
                    errors.append(f"task.duration must not be less than {TIMED_MIN}")
                elif dur > TIMED_MAX:
                    errors.append(f"task.duration must not be greater than {TIMED_MAX}")
            self._unknown(
                task, ("task", "points", "verificationRequired", "duration"), errors, "task."
            )
        self._validate_actor(body, errors)
        self._unknown(body, ("task", "actor"), errors)
        self._raise_invalid(errors)

        sess = self._session_for(request)
        actor = str(body["actor"])
        self._check_actor_allowed(sess, actor)
        if sess.status == "pending":
            raise ApiError(self.status_task_conflict, "A task is already assigned")
        if sess.status == "vote":
            raise ApiError(self.status_task_conflict, "A task vote is in progress")
        assert isinstance(task, dict)
        self._do_assign(sess, task, role=ACTOR_ROLE[actor], extension=self.slug)
        return web.Response(status=201)

    async def _h_start_timer(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        errors: list[str] = []
        self._validate_actor(body, errors)
        self._unknown(body, ("actor",), errors)
        self._raise_invalid(errors)
        sess = self._session_for(request)
        self._check_actor_allowed(sess, str(body["actor"]))
        task = sess.current_task
        if task is None:
            raise ApiError(self.status_rule, "No task is currently assigned")
        if int(task.get("duration") or 0) <= 0:
            raise ApiError(self.status_rule, "The current task is not a timed task")
        if sess.timer_started_at is not None:
            raise ApiError(self.status_rule, "The task timer has already been started")
        sess.timer_started_at = self.now()
        self._touch(sess)
        return web.Response(status=201)

    async def _h_complete(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        errors: list[str] = []
        self._validate_actor(body, errors)
        if not isinstance(body.get("isCompleted"), bool):
            errors.append("isCompleted must be a boolean value")
        self._unknown(body, ("actor", "isCompleted"), errors)
        self._raise_invalid(errors)
        sess = self._session_for(request)
        actor = str(body["actor"])
        completed = bool(body["isCompleted"])
        self._check_actor_allowed(sess, actor)
        task = sess.current_task
        if task is None:
            raise ApiError(self.status_rule, "No task is currently assigned")
        if task.get("verificationRequired") and (
            completed or not self.allow_fail_verification_task
        ):
            raise ApiError(
                self.status_rule,
                "Tasks that require a verification picture cannot be completed through the API",
            )
        duration = int(task.get("duration") or 0)
        if completed and duration > 0:
            if sess.timer_started_at is None:
                raise ApiError(self.status_rule, "The task timer has not been started")
            if self.now() < sess.timer_started_at + timedelta(seconds=duration):
                raise ApiError(self.status_rule, "The task timer is not finished yet")
        self._do_finish(sess, completed=completed, role=ACTOR_ROLE[actor], extension=self.slug)
        return web.Response(status=201)

    async def _h_lock_action(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        errors: list[str] = []
        action = body.get("action")
        if not isinstance(action, dict):
            errors.append("nested property action must be either object or array")
            if action is None:
                errors.append("action should not be empty")
        else:
            self._validate_lock_action(action, errors)
        self._unknown(body, ("action",), errors)
        self._raise_invalid(errors)
        assert isinstance(action, dict)
        sess = self._session_for(request)
        self._apply_lock_action(sess, action)
        return web.Response(status=201)

    def _apply_lock_action(self, sess: FakeSession, action: dict[str, Any]) -> None:
        """Run a validated lock action on the lock: ``POST /action``, and the punishments of a
        rejected peer review (Chaster runs those itself)."""
        if sess.lock_status != "locked":
            raise ApiError(self.status_rule, "The lock is not active")
        name = str(action["name"])
        params: Any = action.get("params")
        if name == "pillory" and not sess.pillory_extension:
            raise ApiError(
                self.status_pillory_missing, "The Pillory extension is not enabled on this lock"
            )
        if name in ("add_time", "remove_time"):
            self._change_time(sess, int(params) if name == "add_time" else -int(params))
        elif name in ("freeze", "unfreeze", "toggle_freeze"):
            frozen = sess.frozen_at is not None
            wanted = {"freeze": True, "unfreeze": False}.get(name, not frozen)
            # Asking for the state the lock is already in changes nothing and logs nothing.
            if wanted != frozen:
                self._set_frozen(sess, wanted)
        elif name == "pillory":
            reason = params.get("reason")
            self._pillory(sess, int(params["duration"]), reason if isinstance(reason, str) else "")
        else:
            sess.display_remaining_time = bool(params)
            self._touch(sess)

    async def _h_logs_search(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        errors: list[str] = []
        role = body.get("role")
        if role not in LOG_ROLES:
            errors.append("role must be one of the following values: " + ", ".join(LOG_ROLES))
        limit = body.get("limit", 15)
        if limit is None:
            limit = 15
        if not _is_int(limit):
            errors.append("limit must be an integer number")
        elif limit < 1:
            errors.append("limit must not be less than 1")
        elif limit > 100:
            errors.append("limit must not be greater than 100")
        last_id = body.get("lastId")
        if last_id is not None and not isinstance(last_id, str):
            errors.append("lastId must be a string")
        only_ext = body.get("showOnlyExtensionActions")
        if only_ext is not None and not isinstance(only_ext, bool):
            errors.append("showOnlyExtensionActions must be a boolean value")
        self._unknown(body, ("role", "limit", "lastId", "showOnlyExtensionActions"), errors)
        self._raise_invalid(errors)
        sess = self._session_for(request)
        logs = [
            log
            for log in reversed(sess.action_logs)  # newest first
            if not only_ext or log["extension"] == self.slug
        ]
        after = [log for log in logs if not last_id or log["_id"] < last_id]
        n = int(limit)
        return self._json(
            self.search_status,
            {
                "results": json.loads(json.dumps(after[:n])),
                "count": len(logs),
                "hasMore": len(after) > n,
            },
        )

    async def _h_logs_custom(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        errors: list[str] = []
        for key in ("title", "description"):
            if not isinstance(body.get(key), str):
                errors.append(f"{key} must be a string")
        role = body.get("role")
        if role is not None and role not in ("wearer", "user", "keyholder", "extension"):
            errors.append(
                "role must be one of the following values: wearer, user, keyholder, extension"
            )
        for key in ("icon", "color"):
            if body.get(key) is not None and not isinstance(body.get(key), str):
                errors.append(f"{key} must be a string")
        self._unknown(body, ("title", "description", "role", "icon", "color"), errors)
        self._raise_invalid(errors)
        sess = self._session_for(request)
        log_role = {"wearer": "user", None: "extension"}.get(role, role)
        icon = body.get("icon")
        self.add_log(
            sess.session_id,
            "custom",
            {},
            role=str(log_role),
            extension=self.slug,
            title=str(body["title"]),
            description=str(body["description"]),
            icon=f"fa-{icon}" if icon else None,
            color=cast("str | None", body.get("color")),
            prefix=self.slug,
        )
        return web.Response(status=201)

    async def _h_auth_session(self, request: web.Request) -> web.StreamResponse:
        entry = self._live_token(request.match_info["main_token"], "main", "Session not found")
        sid = entry.session_id
        assert sid is not None
        return self._json(
            200,
            {
                "role": entry.role,
                "session": self.session_json(sid),
                "lockForUser": self.lock_for_user_json(sid, entry.role),
                "userId": entry.user_id,
            },
        )

    def _configuration_json(self, entry: _PageToken) -> dict[str, Any]:
        out: dict[str, Any] = {
            "config": self._token_config(entry),
            "role": entry.role,
            "user": entry.user_id,
            "sessionId": entry.session_id,
            "extensionSlug": self.slug,
            "createdAt": _iso(entry.created_at),
        }
        copied: dict[str, Any] = json.loads(json.dumps(out))
        return copied

    async def _h_get_configuration(self, request: web.Request) -> web.StreamResponse:
        entry = self._live_token(
            request.match_info["token"], "configuration", "Configuration not found"
        )
        return self._json(200, self._configuration_json(entry))

    async def _h_put_configuration(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        errors: list[str] = []
        config = body.get("config")
        if not isinstance(config, dict):
            errors.append("config must be an object")
            if config is None:
                errors.append("config should not be empty")
        self._unknown(body, ("config",), errors)
        self._raise_invalid(errors)
        assert isinstance(config, dict)
        entry = self._live_token(
            request.match_info["token"], "configuration", "Configuration not found"
        )
        if entry.session_id is None:
            entry.config = config
        else:
            # As PATCH /sessions/{id} with {config}: replaced wholesale (no webhook sent).
            sess = self.sessions[entry.session_id]
            sess.config = config
            self._touch(sess)
        return self._json(200, self._configuration_json(entry))

    # ------------------------------------------------------------------ private files (routes)

    async def _h_upload_file(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()  # cached by aiohttp: the middleware read it already
        parts = _parse_multipart(raw, request.headers.get("Content-Type", ""))
        # As multer's single("file"): parts are taken in order, the first offence answers.
        upload: _Part | None = None
        fields: dict[str, list[str]] = {}
        for part in parts:
            if part.filename is None:
                fields.setdefault(part.name or "", []).append(part.data.decode("utf-8", "replace"))
                continue
            if part.name != "file" or upload is not None:
                raise ApiError(400, "Unexpected field")
            if len(part.data) > self.file_max_bytes:
                raise ApiError(413, "File too large")
            upload = part
        if upload is None:
            raise ApiError(400, "File is required")
        errors: list[str] = []
        self._unknown(dict.fromkeys(fields), ("expiresAt",), errors)
        self._raise_invalid(errors)
        name = upload.filename or ""
        declared = FILE_EXTENSIONS.get(os.path.splitext(name.lower())[1])
        sniffed = _sniff_image(upload.data)
        if declared is None or (self.file_decode_check and sniffed != declared):
            raise ApiError(
                400, "Validation failed (expected type is image/jpeg, image/png or image/gif)"
            )
        now = self.now()
        expires_at = now + timedelta(seconds=self.file_default_ttl)
        if "expiresAt" in fields:
            values = fields["expiresAt"]
            wanted = _parse_time(values[0]) if len(values) == 1 else None
            if wanted is None:
                raise ApiError(400, ["expiresAt must be a valid ISO 8601 date string"])
            if wanted <= now:
                raise ApiError(400, ["expiresAt must be in the future"])
            if self.file_max_ttl is not None and wanted > now + timedelta(
                seconds=self.file_max_ttl
            ):
                raise ApiError(400, ["expiresAt is too far in the future"])
            expires_at = wanted
        sess = self._session_for(request)
        if sess.lock_status != "locked":
            raise ApiError(400, UNLOCKED_LOCK_MESSAGE)
        token_expires_at = (
            expires_at
            if self.attachment_token_ttl is None
            else now + timedelta(seconds=self.attachment_token_ttl)
        )
        f = FakeFile(
            file_id=secrets.token_hex(12),
            session_id=sess.session_id,
            name=name,
            content=upload.data,
            size=len(upload.data),
            content_type=sniffed or declared,
            created_at=now,
            expires_at=expires_at,
            attachment_token=secrets.token_urlsafe(32),
            token_expires_at=token_expires_at,
        )
        self.files[f.file_id] = f
        return self._json(
            201,
            {
                "fileId": f.file_id,
                "attachmentToken": f.attachment_token,
                "expiresAt": iso(expires_at),
            },
        )

    async def _h_get_file(self, request: web.Request) -> web.StreamResponse:
        sess = self._session_for(request)
        f = self._live_file(sess, request.match_info["file_id"])
        return self._json(200, self._file_json(f))

    async def _h_delete_file(self, request: web.Request) -> web.StreamResponse:
        sess = self._session_for(request)
        f = self._live_file(sess, request.match_info["file_id"])
        if f.referenced_by is not None:
            raise ApiError(self.status_file_referenced, "The file is used by a peer verification")
        f.deleted = True
        return web.Response(status=204)

    # ------------------------------------------------------------------ peer reviews (routes)

    @staticmethod
    def _validate_length(
        value: Any, key: str, low: int, high: int, errors: list[str], *, required: bool = True
    ) -> None:
        if value is None and not required:
            return
        if not isinstance(value, str):
            errors.append(f"{key} must be a string")
        elif len(value) < low:
            errors.append(f"{key} must be longer than or equal to {low} characters")
        elif len(value) > high:
            errors.append(f"{key} must be shorter than or equal to {high} characters")

    def _validate_reasons(self, reasons: Any, at: str, errors: list[str]) -> None:
        key = f"{at}.rejectionReasons"
        if not isinstance(reasons, list):
            errors.append(f"{key} must be an array")
            return
        if not reasons:
            errors.append(f"{key} should not be empty")
            return
        slugs: list[str] = []
        for j, reason in enumerate(reasons):
            if not isinstance(reason, dict):
                errors.append(f"each value in nested property {key} must be either object or array")
                continue
            self._validate_length(
                reason.get("slug"), f"{key}.{j}.slug", 1, self.rejection_reason_slug_max, errors
            )
            self._validate_length(
                reason.get("text"), f"{key}.{j}.text", 1, self.rejection_reason_text_max, errors
            )
            if isinstance(reason.get("slug"), str):
                slugs.append(reason["slug"])
            self._unknown(reason, ("slug", "text"), errors, f"{key}.{j}.")
        if len(slugs) != len(set(slugs)):  # [INFER]
            errors.append(f"{key} must not contain duplicate slugs")

    def _validate_checks(self, checks: Any, errors: list[str]) -> None:
        if not isinstance(checks, list):
            errors.append("checks must be an array")
            if checks is None:
                errors.append("checks should not be empty")
            return
        if not checks:
            errors.append("checks should not be empty")
            return
        ids: list[str] = []
        for i, check in enumerate(checks):
            at = f"checks.{i}"
            if not isinstance(check, dict):
                errors.append("each value in nested property checks must be either object or array")
                continue
            name = check.get("name")
            if name not in REVIEW_CHECK_NAMES:
                errors.append(
                    f"{at}.name must be one of the following values: "
                    + ", ".join(REVIEW_CHECK_NAMES)
                )
                continue
            check_id = check.get("id")
            # "a single built-in entry may omit id" [DOC]: a generic check, or one of several
            # checks, needs one.
            if name == "generic" or check_id is not None or len(checks) > 1:
                if not isinstance(check_id, str):
                    errors.append(f"{at}.id must be a string")
                elif check_id == "":
                    errors.append(f"{at}.id should not be empty")
                else:
                    ids.append(check_id)
            if name == "generic":
                self._validate_length(check.get("title"), f"{at}.title", 1, 60, errors)
                self._validate_length(check.get("description"), f"{at}.description", 0, 300, errors)
                self._validate_reasons(check.get("rejectionReasons"), at, errors)
                allowed: tuple[str, ...] = (
                    "name",
                    "id",
                    "title",
                    "description",
                    "rejectionReasons",
                )
            else:
                allowed = ("name", "id")
            self._unknown(check, allowed, errors, f"{at}.")
        if len(ids) != len(set(ids)):  # [INFER]
            errors.append("checks must not contain duplicate ids")

    def _validate_review_int(
        self, value: Any, key: str, low: int, high: int, errors: list[str]
    ) -> None:
        if not _is_int(value):
            errors.append(f"{key} must be an integer number")
        elif value < low:
            errors.append(f"{key} must not be less than {low}")
        elif value > high:
            errors.append(f"{key} must not be greater than {high}")

    async def _h_create_review(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        errors: list[str] = []
        for key in ("verificationTypeKey", "attachmentToken"):
            value = body.get(key)
            if not isinstance(value, str):
                errors.append(f"{key} must be a string")
            if value is None or value == "":
                errors.append(f"{key} should not be empty")
        visibility = body.get("visibility")
        if visibility not in REVIEW_VISIBILITIES:
            errors.append(
                "visibility must be one of the following values: " + ", ".join(REVIEW_VISIBILITIES)
            )
        delay: Any = body.get("delay")
        max_votes: Any = body.get("maxVotes")
        if visibility == "keyholder":
            if self.keyholder_rejects_vote_settings:
                for key, value in (("delay", delay), ("maxVotes", max_votes)):
                    if value is not None:
                        errors.append(f"{key} is not allowed when visibility is keyholder")
            delay = max_votes = None
        else:
            if delay is None:
                delay = REVIEW_DELAY_DEFAULT
            self._validate_review_int(delay, "delay", REVIEW_DELAY_MIN, REVIEW_DELAY_MAX, errors)
            if max_votes is not None:
                self._validate_review_int(
                    max_votes, "maxVotes", REVIEW_MAX_VOTES_MIN, REVIEW_MAX_VOTES_MAX, errors
                )
        checks = body.get("checks")
        self._validate_checks(checks, errors)
        punishments = body.get("punishments")
        if punishments is None:
            punishments = []
        if not isinstance(punishments, list):
            errors.append("punishments must be an array")
        else:
            for i, action in enumerate(punishments):
                if isinstance(action, dict):
                    self._validate_lock_action(action, errors, f"punishments.{i}")
                else:
                    errors.append(
                        "each value in nested property punishments must be either object or array"
                    )
        self._unknown(
            body,
            (
                "verificationTypeKey",
                "attachmentToken",
                "visibility",
                "delay",
                "maxVotes",
                "checks",
                "punishments",
            ),
            errors,
        )
        self._raise_invalid(errors)
        assert isinstance(checks, list) and isinstance(punishments, list)

        sess = self._session_for(request)
        if sess.lock_status != "locked":
            raise ApiError(400, UNLOCKED_LOCK_MESSAGE)
        key = str(body["verificationTypeKey"])
        kind = next((t for t in self.verification_types if t.get("key") == key), None)
        if kind is None:
            raise ApiError(400, f"Unknown verification type: {key}")
        if self.wearer_suspended_from_reviews:
            raise ApiError(403, "You are suspended from peer verifications")
        token = str(body["attachmentToken"])
        f = next(
            (
                f
                for f in self.files.values()
                if secrets.compare_digest(f.attachment_token.encode(), token.encode())
            ),
            None,
        )
        if f is None:
            raise ApiError(403, "Invalid or expired attachment token")
        if f.session_id != sess.session_id:
            raise ApiError(404, "File not found")
        now = self.now()
        if (
            f.deleted
            or f.referenced_by is not None
            or now >= f.token_expires_at
            or (f.expires_at is not None and now >= f.expires_at)
        ):
            raise ApiError(403, "Invalid or expired attachment token")
        if visibility == "keyholder" and (sess.keyholder is None or not self.keyholder_can_review):
            raise ApiError(409, "The keyholder cannot review this verification")
        if (
            self.review_checks_pillory
            and not sess.pillory_extension
            and any(p.get("name") == "pillory" for p in punishments)
        ):
            raise ApiError(
                self.status_pillory_missing, "The Pillory extension is not enabled on this lock"
            )

        stored_checks: list[dict[str, Any]] = json.loads(json.dumps(checks))
        review = FakeReview(
            review_id=object_id(),
            session_id=sess.session_id,
            verification_type={"key": key, "label": str(kind.get("label", key))},
            visibility=str(visibility),
            delay=None if delay is None else int(delay),
            max_votes=None if max_votes is None else int(max_votes),
            checks=stored_checks,
            punishments=json.loads(json.dumps(punishments)),
            file_id=f.file_id,
            created_at=now,
            ends_at=None if delay is None else now + timedelta(seconds=int(delay)),
            results=self._review_rows(stored_checks),
        )
        self._reviews[review.review_id] = review
        f.referenced_by = review.review_id
        if self.file_kept_by_review:
            f.expires_at = None
        return self._json(201, self._review_json(review))

    async def _h_search_reviews(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        errors: list[str] = []
        statuses: list[str] | None = None
        kinds: list[str] | None = None
        criteria = body.get("criteria")
        if criteria is not None and not isinstance(criteria, dict):
            errors.append("nested property criteria must be either object or array")
        elif isinstance(criteria, dict):
            raw_statuses = criteria.get("statuses")
            if raw_statuses is not None:
                if not isinstance(raw_statuses, list):
                    errors.append("criteria.statuses must be an array")
                elif any(s not in REVIEW_STATUSES for s in raw_statuses):
                    errors.append(
                        "each value in criteria.statuses must be one of the following values: "
                        + ", ".join(REVIEW_STATUSES)
                    )
                else:
                    statuses = raw_statuses
            raw_kinds = criteria.get("verificationTypeKeys")
            if raw_kinds is not None:
                if not isinstance(raw_kinds, list):
                    errors.append("criteria.verificationTypeKeys must be an array")
                elif any(not isinstance(k, str) for k in raw_kinds):
                    errors.append("each value in criteria.verificationTypeKeys must be a string")
                else:
                    kinds = raw_kinds
            self._unknown(criteria, ("statuses", "verificationTypeKeys"), errors, "criteria.")
        limit = body.get("limit")
        if limit is None:
            limit = REVIEW_SEARCH_DEFAULT_LIMIT
        self._validate_review_int(limit, "limit", 1, REVIEW_SEARCH_MAX_LIMIT, errors)
        cursor = body.get("cursor")
        before: str | None = None
        if cursor is not None:
            if not isinstance(cursor, str):
                errors.append("cursor must be a string")
            else:
                before = _decode_review_cursor(cursor)
                if before is None:
                    errors.append("cursor is invalid")
        self._unknown(body, ("criteria", "limit", "cursor"), errors)
        self._raise_invalid(errors)
        sess = self._session_for(request)
        matching = sorted(
            (
                r
                for r in self._reviews.values()
                if r.session_id == sess.session_id
                and (statuses is None or r.status in statuses)
                and (kinds is None or r.verification_type["key"] in kinds)
            ),
            key=lambda r: r.review_id,
            reverse=True,  # newest first [DOC]
        )
        after = [r for r in matching if before is None or r.review_id < before]
        n = int(limit)
        page = after[:n]
        out: dict[str, Any] = {
            "results": [self._review_history_json(r) for r in page],
            "hasMore": len(after) > n,
        }
        if len(after) > n:
            out["nextCursor"] = _encode_review_cursor(page[-1].review_id)
        return self._json(200, out)


# ---------------------------------------------------------------------- CLI


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.chaster",
        description="Run the fake Chaster Extensions API until Ctrl-C.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="chaster-test-token")
    parser.add_argument("--slug", default="discord-tasks-bot")
    parser.add_argument("--seed-sessions", type=int, default=3, metavar="N")
    parser.add_argument("--webhook-url", default=None)
    parser.add_argument("--webhook-user", default=None)
    parser.add_argument("--webhook-password", default=None)
    parser.add_argument("--rate-limit", type=int, default=None, help="requests per window")
    parser.add_argument("--rate-window", type=float, default=60.0, help="seconds")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeChaster(
        token=args.token,
        slug=args.slug,
        host=args.host,
        port=args.port,
        rate_limit=args.rate_limit,
        rate_window=args.rate_window,
    )
    fake.webhook_url = args.webhook_url
    if args.webhook_user is not None:
        fake.webhook_auth = (args.webhook_user, args.webhook_password or "")
    await fake.start()
    try:
        print(f"Fake Chaster listening on {fake.url}  (API base {fake.api_url})")
        print(f"token={fake.token} slug={fake.slug}")
        for i in range(args.seed_sessions):
            sess = fake.add_session(
                wearer_discord_id=str(100000000000000001 + i),
                keyholder_discord_id=str(200000000000000001 + i),
                enable_points=True,
                points_required=50,
            )
            print(f"session {i + 1}: sessionId={sess.session_id} lock={sess.lock_id}")
        print("Ctrl-C to stop.", flush=True)
        await asyncio.Event().wait()
    finally:
        await fake.stop()


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
