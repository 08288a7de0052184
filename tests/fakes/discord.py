"""A fake Discord (REST + gateway) on 127.0.0.1 for end-to-end tests of the real discord.py client.

Only aiohttp is used; nothing here imports discord.py. Every payload shape lives in this module,
so a discord.py upgrade that needs a new key is fixed in one place (``user_payload`` and friends).

Point the client at the fake by setting ``discord.http.Route.BASE = fake.api_url`` and
``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)``.

What the fake models beyond answering routes, because real Discord does:

* the gateway echoes the bot's own actions (MESSAGE_CREATE/UPDATE/DELETE for messages it posts,
  MESSAGE_REACTION_* for reactions it adds or removes); turn off with ``echo_events = False``;
* gateway events are filtered by the intents sent in IDENTIFY, and guild message content is blanked
  for sessions without the message-content intent (``enforce_intents = False`` turns both off);
* REST calls check the bot's permissions in the channel, as Discord computes them from its roles
  and the channel's overwrites (``set_channel_overwrites``; 403 50001 without View Channel,
  403 50013 otherwise), message limits (2000 chars, 10 embeds, 6000 embed chars: 400 50035) and
  empty messages (400 50006);
* interactions: 3 s deadline for the first callback (404 10062), a second callback is 400 40060,
  followups/@original before the callback are 404 10015, the first followup after a deferred
  ("thinking") response edits the loading message instead of creating a new one;
* ``send_slash`` refuses commands that were never synced, unknown options, and users who lack the
  command's ``default_member_permissions`` (Discord would not let them invoke it);
  ``send_autocomplete`` may leave required options out, as Discord does while one types, and its
  answer keeps to 25 choices of 1-100 characters;
* components: messages keep Discord's classic layout (5 rows of 1-5 buttons or one select, custom
  ids of 1-100 characters, labels of at most 80); ``send_component`` presses only a component
  the message shows; a modal (callback 9) has a title of 1-45 characters and 1-5 fields;
  ``send_user_command`` runs a member context-menu command and ``send_modal_submit`` submits
  the modal an interaction opened (text inputs, checkboxes, file uploads), refusing what
  Discord's client would (a required input left empty, a value outside its length limits, too
  few or too many files); a press or a submission nobody answers stays unanswered, as in
  Discord ("This interaction failed");
* files users send: ``user_attachment`` stores bytes on the fake's CDN and returns the
  attachment object Discord resolves (content type guessed from the extension), for an
  ATTACHMENT option (``attachment_option(..., attachment=...)``) or a modal's file upload
  (type 19 in a Label: 0-10 ``min_values``, 1-10 ``max_values``); ``Attachment.read()`` gets
  the bytes back;
* direct messages: ``user.send()`` opens a DM channel (``POST /users/@me/channels``, no
  permission checks there) and its messages are stored like channel messages (``dm_messages``);
  a user who does not accept DMs from server members (``close_dms``, ``open_dms`` undoes it)
  still gets a DM channel, but a message to it is 403 50007 "Cannot send messages to this user";
* ``GET /users/@me/guilds`` lists the fake's server and those of ``join_other_server``;
* polls: a message's ``poll`` keeps Discord's limits (1-10 answers of at most 55 characters, a
  question of 300, 1-768 whole hours); ``vote`` casts a member's vote, ``finalize_poll`` ends it
  as Discord's own expiry does, and ``POST /channels/{c}/polls/{m}/expire`` lets its author end
  it early, once; the counts are read from the message;
* one server in full; ``join_other_server`` adds another by id with one channel, so commands
  synced globally can come from there (a channel is in one server; guild commands stay in theirs);
* languages: each interaction carries its user's ``FakeUser.locale`` and the server's
  ``preferred_locale`` (``set_preferred_locale`` changes it and sends GUILD_UPDATE); synced
  commands' ``name_localizations``/``description_localizations`` must use Discord's locales and
  lengths (400 50035 otherwise).

Typical fixture (see tests/test_fake_discord.py)::

    async with FakeDiscord(members=[ALICE]) as fake:
        monkeypatch.setattr(discord.http.Route, "BASE", fake.api_url)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY",
                            yarl.URL(fake.gateway_url))
        task = asyncio.create_task(bot.start("fake-token"))   # guild_ready_timeout=0.05
        ...
        handle = await fake.send_slash("ping", user=ALICE)
        assert (await handle.final_message())["content"] == "pong"
        await bot.close()
        await task                      # re-raises parser crashes
        assert fake.unhandled == []

discord.py facts worth knowing: a non-initial IDENTIFY (after op 9 INVALID_SESSION) waits 5 s in
``Client.before_identify_hook``; a fresh process identifies at once. ``channel.send()`` results are
only cached (for ``on_reaction_add``) through the MESSAGE_CREATE echo.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import re
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, TypeVar

from aiohttp import WSMsgType, web

JSON = dict[str, Any]
Reply = tuple[int, Any]
T = TypeVar("T")

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1_420_070_400_000
ATTACHMENT_SIZE_LIMIT = 8 * 1024 * 1024

# --- permissions (bit values from the Discord docs) -------------------------------------------
CREATE_INSTANT_INVITE = 1 << 0
KICK_MEMBERS = 1 << 1
BAN_MEMBERS = 1 << 2
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
SEND_POLLS = 1 << 49
MANAGE_ROLES = 1 << 28
#: ``discord.Permissions.all().value`` in discord.py 2.7.1.
ALL_PERMISSIONS = 8866461766385663
#: What a fresh server gives @everyone (``discord.Permissions(1071698660929)``).
DEFAULT_EVERYONE_PERMISSIONS = 1071698660929
#: The bot's own role: @everyone plus Manage Messages (needed to remove other users' reactions)
#: and Send Polls (needed for a message with a poll), as the README's invite link grants.
DEFAULT_BOT_PERMISSIONS = DEFAULT_EVERYONE_PERMISSIONS | MANAGE_MESSAGES | SEND_POLLS

# --- gateway intents -------------------------------------------------------------------------
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_MODERATION = 1 << 2
INTENT_GUILD_VOICE_STATES = 1 << 7
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_GUILD_MESSAGE_REACTIONS = 1 << 10
INTENT_GUILD_MESSAGE_TYPING = 1 << 11
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_DIRECT_MESSAGE_REACTIONS = 1 << 13
INTENT_DIRECT_MESSAGE_TYPING = 1 << 14
INTENT_MESSAGE_CONTENT = 1 << 15
INTENT_GUILD_MESSAGE_POLLS = 1 << 24
INTENT_DIRECT_MESSAGE_POLLS = 1 << 25

# event -> (intent needed for guild events, intent needed for DM events)
_EVENT_INTENTS: dict[str, tuple[int, int]] = {
    **{
        e: (INTENT_GUILDS, INTENT_GUILDS)
        for e in (
            "GUILD_UPDATE",
            "GUILD_DELETE",
            "GUILD_ROLE_CREATE",
            "GUILD_ROLE_UPDATE",
            "GUILD_ROLE_DELETE",
            "CHANNEL_CREATE",
            "CHANNEL_UPDATE",
            "CHANNEL_DELETE",
            "THREAD_CREATE",
            "THREAD_UPDATE",
            "THREAD_DELETE",
        )
    },
    **{
        e: (INTENT_GUILD_MEMBERS, INTENT_GUILD_MEMBERS)
        for e in ("GUILD_MEMBER_ADD", "GUILD_MEMBER_UPDATE", "GUILD_MEMBER_REMOVE")
    },
    **{
        e: (INTENT_GUILD_MODERATION, INTENT_GUILD_MODERATION)
        for e in ("GUILD_BAN_ADD", "GUILD_BAN_REMOVE")
    },
    "PRESENCE_UPDATE": (INTENT_GUILD_PRESENCES, INTENT_GUILD_PRESENCES),
    "VOICE_STATE_UPDATE": (INTENT_GUILD_VOICE_STATES, INTENT_GUILD_VOICE_STATES),
    **{
        e: (INTENT_GUILD_MESSAGES, INTENT_DIRECT_MESSAGES)
        for e in ("MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE", "MESSAGE_DELETE_BULK")
    },
    **{
        e: (INTENT_GUILD_MESSAGE_REACTIONS, INTENT_DIRECT_MESSAGE_REACTIONS)
        for e in (
            "MESSAGE_REACTION_ADD",
            "MESSAGE_REACTION_REMOVE",
            "MESSAGE_REACTION_REMOVE_ALL",
            "MESSAGE_REACTION_REMOVE_EMOJI",
        )
    },
    "TYPING_START": (INTENT_GUILD_MESSAGE_TYPING, INTENT_DIRECT_MESSAGE_TYPING),
    **{
        e: (INTENT_GUILD_MESSAGE_POLLS, INTENT_DIRECT_MESSAGE_POLLS)
        for e in ("MESSAGE_POLL_VOTE_ADD", "MESSAGE_POLL_VOTE_REMOVE")
    },
}

# --- interaction constants -------------------------------------------------------------------
INTERACTION_PING = 1
INTERACTION_APPLICATION_COMMAND = 2
INTERACTION_MESSAGE_COMPONENT = 3
INTERACTION_AUTOCOMPLETE = 4
INTERACTION_MODAL_SUBMIT = 5

CALLBACK_PONG = 1
CALLBACK_CHANNEL_MESSAGE = 4
CALLBACK_DEFERRED_CHANNEL_MESSAGE = 5
CALLBACK_DEFERRED_UPDATE_MESSAGE = 6
CALLBACK_UPDATE_MESSAGE = 7
CALLBACK_AUTOCOMPLETE_RESULT = 8
CALLBACK_MODAL = 9

_ALLOWED_CALLBACKS: dict[int, frozenset[int]] = {
    INTERACTION_PING: frozenset({CALLBACK_PONG}),
    INTERACTION_APPLICATION_COMMAND: frozenset(
        {CALLBACK_CHANNEL_MESSAGE, CALLBACK_DEFERRED_CHANNEL_MESSAGE, CALLBACK_MODAL}
    ),
    INTERACTION_MESSAGE_COMPONENT: frozenset(
        {
            CALLBACK_CHANNEL_MESSAGE,
            CALLBACK_DEFERRED_CHANNEL_MESSAGE,
            CALLBACK_DEFERRED_UPDATE_MESSAGE,
            CALLBACK_UPDATE_MESSAGE,
            CALLBACK_MODAL,
        }
    ),
    INTERACTION_AUTOCOMPLETE: frozenset({CALLBACK_AUTOCOMPLETE_RESULT}),
    INTERACTION_MODAL_SUBMIT: frozenset(
        {
            CALLBACK_CHANNEL_MESSAGE,
            CALLBACK_DEFERRED_CHANNEL_MESSAGE,
            CALLBACK_DEFERRED_UPDATE_MESSAGE,
            CALLBACK_UPDATE_MESSAGE,
        }
    ),
}

MESSAGE_FLAG_SUPPRESS_EMBEDS = 1 << 2
MESSAGE_FLAG_EPHEMERAL = 1 << 6
MESSAGE_FLAG_LOADING = 1 << 7
MESSAGE_FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12

# option types
OPTION_SUB_COMMAND = 1
OPTION_SUB_COMMAND_GROUP = 2
OPTION_STRING = 3
OPTION_INTEGER = 4
OPTION_BOOLEAN = 5
OPTION_USER = 6
OPTION_CHANNEL = 7
OPTION_ROLE = 8
OPTION_MENTIONABLE = 9
OPTION_NUMBER = 10
OPTION_ATTACHMENT = 11
_SNOWFLAKE_OPTION_TYPES = frozenset(
    {OPTION_USER, OPTION_CHANNEL, OPTION_ROLE, OPTION_MENTIONABLE, OPTION_ATTACHMENT}
)

# Discord error codes the fake answers with
UNKNOWN_CHANNEL = 10003
UNKNOWN_GUILD = 10004
UNKNOWN_MEMBER = 10007
UNKNOWN_MESSAGE = 10008
UNKNOWN_USER = 10013
UNKNOWN_EMOJI = 10014
UNKNOWN_WEBHOOK = 10015
UNKNOWN_INTERACTION = 10062
MISSING_ACCESS = 50001
CANNOT_EDIT_OTHERS_MESSAGE = 50005
EMPTY_MESSAGE = 50006
CANNOT_MESSAGE_USER = 50007
MISSING_PERMISSIONS = 50013
INVALID_FORM_BODY = 50035
ALREADY_ACKNOWLEDGED = 40060

_RETRIED_STATUSES = frozenset({500, 502, 504, 524})


# =============================================================================================
# small helpers
# =============================================================================================


class _Snowflakes:
    """Real-looking, strictly increasing snowflakes (``created_at`` is the current time)."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        candidate = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last = max(candidate, self._last + 1)
        return self._last


def snowflake_time(snowflake: int) -> str:
    """ISO timestamp encoded in a snowflake, in Discord's format."""
    ms = (snowflake >> 22) + DISCORD_EPOCH_MS
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).isoformat()


def _now_iso() -> str:
    return dt.datetime.now(tz=dt.UTC).isoformat()


_JOINED_AT = "2024-01-01T00:00:00+00:00"


def error_body(code: int, message: str) -> JSON:
    return {"message": message, "code": code}


def validate_autocomplete_result(data: JSON) -> JSON | None:
    """Discord's rules for an autocomplete answer: at most 25 choices, each with a name of
    1-100 characters and a string value of at most 100 (as the API answers 50035)."""
    errors: dict[str, tuple[str, str]] = {}
    choices = data.get("choices")
    if not isinstance(choices, list):
        errors["choices"] = ("BASE_TYPE_REQUIRED", "This field is required")
        return invalid_form_body(errors)
    if len(choices) > 25:
        errors["choices"] = ("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    for number, choice in enumerate(choices):
        name = choice.get("name") if isinstance(choice, dict) else None
        value = choice.get("value") if isinstance(choice, dict) else None
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            errors[f"choices.{number}.name"] = (
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            )
        if isinstance(value, str) and len(value) > 100:
            errors[f"choices.{number}.value"] = (
                "BASE_TYPE_MAX_LENGTH",
                "Must be 100 or fewer in length.",
            )
    return invalid_form_body(errors) if errors else None


def invalid_form_body(errors: dict[str, tuple[str, str]]) -> JSON:
    """``errors`` maps a dotted path (``embeds.0.title``) to (error code, message)."""
    tree: JSON = {}
    for path, (code, message) in errors.items():
        node = tree
        for part in path.split("."):
            node = node.setdefault(part, {})
        node.setdefault("_errors", []).append({"code": code, "message": message})
    return {"message": "Invalid Form Body", "code": INVALID_FORM_BODY, "errors": tree}


def _json_response(status: int, payload: Any) -> web.Response:
    if status == 204 or payload is None:
        return web.Response(status=204)
    # Exactly "application/json": discord.py's json_or_text compares with ==, and aiohttp's
    # web.json_response would add "; charset=utf-8".
    return web.Response(
        status=status,
        body=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )


# =============================================================================================
# model objects
# =============================================================================================


@dataclass(frozen=True)
class FakeUser:
    id: int
    name: str
    bot: bool = False
    #: ids of guild roles (must be among the ``roles`` given to ``FakeDiscord``)
    roles: tuple[int, ...] = ()
    global_name: str | None = None
    nick: str | None = None
    #: the language of the user's Discord client, sent as each interaction's ``locale``
    locale: str = "en-US"


@dataclass(frozen=True)
class FakeRole:
    id: int
    name: str
    permissions: int = 0
    position: int = 1


@dataclass
class RecordedCall:
    method: str
    #: path after /api/v10, URL-decoded (``/channels/1/messages/2/reactions/👍/@me``)
    path: str
    query: dict[str, str]
    #: parsed JSON body, or the parsed ``payload_json`` of a multipart body, else None
    json: Any
    #: time.monotonic() when the fake processed it (after ``rest_latency``)
    at: float
    status: int = 0
    #: the JSON the fake answered (None for 204)
    response: Any = None
    #: an interaction callback that arrived after ``interaction_deadline``
    late: bool = False
    #: multipart files as (filename, content)
    files: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass
class _Failure:
    method: str
    pattern: re.Pattern[str]
    status: int
    body: JSON
    times: int
    headers: dict[str, str]


# =============================================================================================
# payload builders (all wire shapes live here)
# =============================================================================================


def user_payload(u: FakeUser) -> JSON:
    return {
        "id": str(u.id),
        "username": u.name,
        "discriminator": "0",
        "global_name": u.global_name,
        "avatar": None,
        "bot": u.bot,
        "public_flags": 0,
    }


def member_payload(u: FakeUser, *, permissions: int | None = None, with_user: bool = True) -> JSON:
    """A guild member. ``permissions`` is only present in interaction payloads."""
    data: JSON = {
        "roles": [str(r) for r in u.roles],
        "nick": u.nick,
        "avatar": None,
        "flags": 0,
        "joined_at": _JOINED_AT,
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "communication_disabled_until": None,
    }
    if with_user:
        data["user"] = user_payload(u)
    if permissions is not None:
        data["permissions"] = str(permissions)
    return data


def role_payload(role: FakeRole) -> JSON:
    return {
        "id": str(role.id),
        "name": role.name,
        "permissions": str(role.permissions),
        "position": role.position,
        "color": 0,
        "hoist": False,
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def channel_payload(
    channel_id: int, *, guild_id: int | None, name: str, position: int = 0, type: int = 0
) -> JSON:
    data: JSON = {
        "id": str(channel_id),
        "type": type,
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "nsfw": False,
        "topic": None,
        "parent_id": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "flags": 0,
    }
    if guild_id is not None:
        data["guild_id"] = str(guild_id)
    return data


def dm_channel_payload(channel_id: int, recipient: FakeUser) -> JSON:
    return {
        "id": str(channel_id),
        "type": 1,
        "last_message_id": None,
        "recipients": [user_payload(recipient)],
        "flags": 0,
    }


_CUSTOM_EMOJI = re.compile(r"<?a?:?(?P<name>[\w~-]+):(?P<id>\d+)>?")


def emoji_payload(emoji: str) -> JSON:
    """``"👍"`` -> unicode emoji; ``"name:123"`` or ``"<:name:123>"`` -> custom emoji."""
    m = _CUSTOM_EMOJI.fullmatch(emoji)
    if m:
        return {"id": m["id"], "name": m["name"], "animated": emoji.startswith("<a:")}
    return {"id": None, "name": emoji}


def emoji_key(emoji: JSON | str) -> str:
    """How ``FakeDiscord.reactions`` names an emoji: the unicode string, or ``name:id``."""
    if isinstance(emoji, str):
        emoji = emoji_payload(emoji)
    if emoji.get("id"):
        return f"{emoji['name']}:{emoji['id']}"
    return str(emoji["name"])


def _valid_emoji(key: str) -> bool:
    # Custom emoji are "name:id"; unicode emoji always contain a non-ASCII character, so
    # ":thumbsup:" or "thumbsup" is rejected, as Discord does (10014 Unknown Emoji).
    return bool(_CUSTOM_EMOJI.fullmatch(key)) or any(ord(c) > 127 for c in key)


def reaction_add(
    *,
    user: FakeUser,
    channel_id: int,
    message_id: int,
    guild_id: int | None,
    emoji: str,
    message_author_id: int | None = None,
    burst: bool = False,
) -> JSON:
    """MESSAGE_REACTION_ADD. ``type`` is required by discord.py 2.7 (KeyError without it)."""
    data: JSON = {
        "user_id": str(user.id),
        "channel_id": str(channel_id),
        "message_id": str(message_id),
        "emoji": emoji_payload(emoji),
        "type": 1 if burst else 0,
        "burst": burst,
        "burst_colors": [],
    }
    if guild_id is not None:
        data["guild_id"] = str(guild_id)
        data["member"] = member_payload(user)
    if message_author_id is not None:
        data["message_author_id"] = str(message_author_id)
    return data


def reaction_remove(
    *,
    user: FakeUser | int,
    channel_id: int,
    message_id: int,
    guild_id: int | None,
    emoji: str,
    burst: bool = False,
) -> JSON:
    """MESSAGE_REACTION_REMOVE (same as ADD without ``member``)."""
    user_id = user.id if isinstance(user, FakeUser) else user
    data: JSON = {
        "user_id": str(user_id),
        "channel_id": str(channel_id),
        "message_id": str(message_id),
        "emoji": emoji_payload(emoji),
        "type": 1 if burst else 0,
        "burst": burst,
    }
    if guild_id is not None:
        data["guild_id"] = str(guild_id)
    return data


def message_payload(
    *,
    message_id: int,
    channel_id: int,
    guild_id: int | None,
    author: FakeUser,
    content: str = "",
    embeds: list[JSON] | None = None,
    components: list[JSON] | None = None,
    attachments: list[JSON] | None = None,
    flags: int = 0,
    type: int = 0,
    tts: bool = False,
    mentions: list[JSON] | None = None,
    mention_roles: list[str] | None = None,
    mention_everyone: bool = False,
) -> JSON:
    """A message object as REST returns it (gateway MESSAGE_CREATE adds ``member``)."""
    data: JSON = {
        "id": str(message_id),
        "channel_id": str(channel_id),
        "type": type,
        "content": content,
        "author": user_payload(author),
        "embeds": embeds or [],
        "components": components or [],
        "attachments": attachments or [],
        "mentions": mentions or [],
        "mention_roles": mention_roles or [],
        "mention_everyone": mention_everyone,
        "pinned": False,
        "tts": tts,
        "flags": flags,
        "timestamp": snowflake_time(message_id),
        "edited_timestamp": None,
    }
    if guild_id is not None:
        data["guild_id"] = str(guild_id)
    return data


def option(name: str, value: Any, type: int) -> JSON:
    """A slash-command option. Snowflake types (6, 7, 8, 9, 11) take an id or a FakeUser."""
    if isinstance(value, FakeUser):
        return user_option(name, value) if type == OPTION_USER else _with_user(name, value, type)
    if type in _SNOWFLAKE_OPTION_TYPES:
        value = str(value)
    return {"name": name, "type": type, "value": value}


def _with_user(name: str, user: FakeUser, type: int) -> JSON:
    opt = user_option(name, user)
    opt["type"] = type
    return opt


def user_option(name: str, user: FakeUser) -> JSON:
    """A user option carrying its user, so ``send_slash`` can fill ``data.resolved`` even for a
    user the fake does not know (then it resolves to a ``discord.User``, not a ``Member``)."""
    return {"name": name, "type": OPTION_USER, "value": str(user.id), "_user": user}


def channel_option(name: str, channel_id: int) -> JSON:
    return option(name, channel_id, OPTION_CHANNEL)


def role_option(name: str, role_id: int) -> JSON:
    return option(name, role_id, OPTION_ROLE)


def attachment_option(
    name: str,
    *,
    attachment_id: int | None = None,
    filename: str | None = None,
    size: int = 0,
    url: str = "",
    attachment: JSON | None = None,
) -> JSON:
    """An ATTACHMENT option. Pass ``attachment`` (from ``FakeDiscord.user_attachment``) for a
    file the bot can download; ``attachment_id``/``filename`` describe one it cannot (its url
    points nowhere unless ``url`` is given)."""
    if attachment is not None:
        if attachment_id is not None or filename is not None:
            raise TypeError("give either attachment or attachment_id/filename, not both")
        att = dict(attachment)
    else:
        if attachment_id is None or filename is None:
            raise TypeError("attachment_option needs attachment, or attachment_id and filename")
        att = {
            "id": str(attachment_id),
            "filename": filename,
            "size": size,
            "url": url or f"https://cdn.invalid/{attachment_id}/{filename}",
            "proxy_url": url or f"https://cdn.invalid/{attachment_id}/{filename}",
        }
    return {
        "name": name,
        "type": OPTION_ATTACHMENT,
        "value": str(att["id"]),
        "_attachment": att,
    }


#: What Discord puts in an uploaded file's ``content_type``: it guesses from the filename's
#: extension (text types get a charset, as Discord's own answers carry); unknown ones get none.
_CONTENT_TYPES: dict[str, str] = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "txt": "text/plain; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json; charset=utf-8",
    "pdf": "application/pdf",
    "zip": "application/zip",
    "mp3": "audio/mpeg",
    "mp4": "video/mp4",
}


def guess_content_type(filename: str) -> str | None:
    """The ``content_type`` Discord gives an upload named ``filename`` (None when unknown)."""
    _, dot, extension = filename.rpartition(".")
    return _CONTENT_TYPES.get(extension.lower()) if dot else None


def interaction_payload(
    *,
    interaction_id: int,
    application_id: int,
    token: str,
    type: int,
    data: JSON | None,
    guild_id: int,
    channel: JSON,
    member: JSON,
    app_permissions: int,
    message: JSON | None = None,
    locale: str = "en-US",
    guild_locale: str = "en-US",
) -> JSON:
    """INTERACTION_CREATE. ``attachment_size_limit`` is required by discord.py 2.7."""
    payload: JSON = {
        "id": str(interaction_id),
        "application_id": str(application_id),
        "type": type,
        "token": token,
        "version": 1,
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        "guild_id": str(guild_id),
        "guild": {"id": str(guild_id), "locale": guild_locale, "features": []},
        "channel_id": channel["id"],
        "channel": channel,
        "member": member,
        "app_permissions": str(app_permissions),
        "locale": locale,
        "guild_locale": guild_locale,
        "entitlements": [],
        "entitlement_sku_ids": [],
        "context": 0,
        "authorizing_integration_owners": {"0": str(guild_id)},
    }
    if data is not None:
        payload["data"] = data
    if message is not None:
        payload["message"] = message
    return payload


# The locales Discord accepts as keys of `name_localizations` and `description_localizations`.
DISCORD_LOCALES = frozenset(
    [
        "id",
        "da",
        "de",
        "en-GB",
        "en-US",
        "es-ES",
        "es-419",
        "fr",
        "hr",
        "it",
        "lt",
        "hu",
        "nl",
        "no",
        "pl",
        "pt-BR",
        "ro",
        "fi",
        "sv-SE",
        "vi",
        "tr",
        "cs",
        "el",
        "bg",
        "ru",
        "uk",
        "hi",
        "th",
        "zh-CN",
        "ja",
        "zh-TW",
        "ko",
    ]
)


def _check_localizations(where: str, item: JSON, errors: dict[str, tuple[str, str]]) -> None:
    """Discord's rules for a command's, option's or choice's localizations: known locales only,
    names 1-32 and descriptions 1-100 characters; nested options and choices likewise."""
    for field_name, limit in (("name_localizations", 32), ("description_localizations", 100)):
        if "choices" in where and field_name == "name_localizations":
            limit = 100  # a choice's name is what users read
        localized = item.get(field_name)
        if localized is None:
            continue
        if not isinstance(localized, dict):
            errors[f"{where}.{field_name}"] = ("DICT_TYPE_CONVERT", "Must be a dict")
            continue
        for locale, text in localized.items():
            if locale not in DISCORD_LOCALES:
                errors[f"{where}.{field_name}.{locale}"] = ("LOCALE_INVALID", "Invalid locale")
            elif not isinstance(text, str) or not 1 <= len(text) <= limit:
                errors[f"{where}.{field_name}.{locale}"] = (
                    "BASE_TYPE_BAD_LENGTH",
                    f"Must be between 1 and {limit} in length.",
                )
    for number, option in enumerate(item.get("options") or []):
        _check_localizations(f"{where}.options.{number}", option, errors)
    for number, choice in enumerate(item.get("choices") or []):
        _check_localizations(f"{where}.choices.{number}", choice, errors)


# Component types (classic layout, and those a modal may hold).
COMPONENT_ACTION_ROW = 1
COMPONENT_BUTTON = 2
COMPONENT_TEXT_INPUT = 4
COMPONENT_LABEL = 18
COMPONENT_FILE_UPLOAD = 19
COMPONENT_STRING_SELECT = 3
COMPONENT_CHECKBOX = 23
_SELECTS = frozenset({3, 5, 6, 7, 8})
_BUTTON_STYLES_WITHOUT_ID = frozenset({5, 6})  # link and premium buttons


def _check_length(
    errors: dict[str, tuple[str, str]], path: str, value: Any, low: int, high: int
) -> None:
    text = "" if value is None else str(value)
    if not low <= len(text) <= high:
        errors[path] = ("BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")


def _check_rows(components: list[JSON], errors: dict[str, tuple[str, str]]) -> None:
    """Discord's classic layout: at most 5 action rows, each with 1-5 buttons or one select;
    custom ids of 1-100 characters, button labels of at most 80. (Components V2 layouts,
    top-level types other than an action row, are not checked here.)"""
    if len(components) > 5:
        errors["components"] = ("BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    for r, row in enumerate(components):
        if row.get("type") != COMPONENT_ACTION_ROW:
            continue
        items = row.get("components") or []
        path = f"components.{r}.components"
        if not 1 <= len(items) <= 5:
            errors[path] = ("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
        if any(item.get("type") in _SELECTS for item in items) and len(items) > 1:
            errors[path] = (
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            )
        for c, item in enumerate(items):
            if item.get("type") == COMPONENT_BUTTON:
                if item.get("style") not in _BUTTON_STYLES_WITHOUT_ID:
                    _check_length(errors, f"{path}.{c}.custom_id", item.get("custom_id"), 1, 100)
                if item.get("label") is not None:
                    _check_length(errors, f"{path}.{c}.label", item.get("label"), 0, 80)
            elif item.get("type") in _SELECTS:
                _check_length(errors, f"{path}.{c}.custom_id", item.get("custom_id"), 1, 100)
                if len(item.get("options") or []) > 25:
                    errors[f"{path}.{c}.options"] = (
                        "BASE_TYPE_MAX_LENGTH",
                        "Must be 25 or fewer in length.",
                    )


def _check_text_input(
    item: JSON, path: str, errors: dict[str, tuple[str, str]], *, labelled: bool
) -> None:
    _check_length(errors, f"{path}.custom_id", item.get("custom_id"), 1, 100)
    if item.get("style") not in (1, 2):
        errors[f"{path}.style"] = ("BASE_TYPE_CHOICES", "Value must be one of (1, 2).")
    if labelled:
        # In a Label the label is the Label's; the text input's own is deprecated.
        if item.get("label"):
            errors[f"{path}.label"] = ("BASE_TYPE_MAX_LENGTH", "Must be 0 or fewer in length.")
    else:
        _check_length(errors, f"{path}.label", item.get("label"), 1, 45)
    if item.get("placeholder") is not None:
        _check_length(errors, f"{path}.placeholder", item.get("placeholder"), 0, 100)
    if item.get("value") is not None:
        _check_length(errors, f"{path}.value", item.get("value"), 0, 4000)
    low, high = item.get("min_length"), item.get("max_length")
    if low is not None and not 0 <= int(low) <= 4000:
        errors[f"{path}.min_length"] = ("NUMBER_TYPE_MAX", "int value should be <= 4000.")
    if high is not None and not 1 <= int(high) <= 4000:
        errors[f"{path}.max_length"] = ("NUMBER_TYPE_MAX", "int value should be <= 4000.")


def _check_file_upload(item: JSON, path: str, errors: dict[str, tuple[str, str]]) -> None:
    """A file upload (type 19, only inside a Label): a custom id of 1-100 characters,
    ``min_values`` 0-10 (default 1), ``max_values`` 1-10 (default 1), min <= max. A null
    count is its default (discord.py sends ``null`` for counts it was not given)."""
    _check_length(errors, f"{path}.custom_id", item.get("custom_id"), 1, 100)
    counts: dict[str, int] = {}
    for key, low, high in (("min_values", 0, 10), ("max_values", 1, 10)):
        raw = item.get(key)
        if raw is None:
            counts[key] = 1
        elif isinstance(raw, bool) or not isinstance(raw, int):
            errors[f"{path}.{key}"] = ("NUMBER_TYPE_COERCE", f'Value "{raw}" is not int.')
        elif raw < low:
            errors[f"{path}.{key}"] = (
                "NUMBER_TYPE_MIN",
                f"int value should be greater than or equal to {low}.",
            )
        elif raw > high:
            errors[f"{path}.{key}"] = (
                "NUMBER_TYPE_MAX",
                f"int value should be less than or equal to {high}.",
            )
        else:
            counts[key] = raw
    if len(counts) == 2 and counts["min_values"] > counts["max_values"]:
        # Discord's exact code for this is not documented; it is refused as 50035.
        errors[f"{path}.min_values"] = (
            "NUMBER_TYPE_MAX",
            f"int value should be less than or equal to max_values ({counts['max_values']}).",
        )
    required = item.get("required")
    if required is not None and not isinstance(required, bool):
        errors[f"{path}.required"] = ("BOOLEAN_TYPE_CONVERT", "Must be either true or false.")


def _custom_ids(components: list[JSON]) -> set[str]:
    """Every custom id in a component tree (rows, containers, sections, accessories)."""
    found: set[str] = set()
    for item in components:
        if isinstance(item.get("custom_id"), str):
            found.add(item["custom_id"])
        for key in ("components", "accessory", "component"):
            nested = item.get(key)
            if isinstance(nested, dict):
                nested = [nested]
            if isinstance(nested, list):
                found |= _custom_ids(nested)
    return found


def validate_modal(data: JSON) -> JSON | None:
    """Discord's rules for a modal (callback 9): a custom id of 1-100 characters, a title of
    1-45, and 1-5 fields, each an action row holding one text input or a Label holding one
    component (a text input, a select, a checkbox, a file upload...)."""
    errors: dict[str, tuple[str, str]] = {}
    _check_length(errors, "custom_id", data.get("custom_id"), 1, 100)
    _check_length(errors, "title", data.get("title"), 1, 45)
    fields = data.get("components") or []
    if not 1 <= len(fields) <= 5:
        errors["components"] = ("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
    for n, field_ in enumerate(fields):
        path = f"components.{n}"
        if field_.get("type") == COMPONENT_ACTION_ROW:
            items = field_.get("components") or []
            if len(items) != 1 or items[0].get("type") != COMPONENT_TEXT_INPUT:
                errors[f"{path}.components"] = (
                    "COMPONENT_TYPE_INVALID",
                    "An action row in a modal holds exactly one text input",
                )
            else:
                _check_text_input(items[0], f"{path}.components.0", errors, labelled=False)
        elif field_.get("type") == COMPONENT_LABEL:
            _check_length(errors, f"{path}.label", field_.get("label"), 1, 45)
            if field_.get("description") is not None:
                _check_length(errors, f"{path}.description", field_.get("description"), 0, 100)
            inner = field_.get("component") or {}
            if inner.get("type") == COMPONENT_TEXT_INPUT:
                _check_text_input(inner, f"{path}.component", errors, labelled=True)
            elif inner.get("type") == COMPONENT_FILE_UPLOAD:
                _check_file_upload(inner, f"{path}.component", errors)
            else:
                _check_length(errors, f"{path}.component.custom_id", inner.get("custom_id"), 1, 100)
        else:
            errors[f"{path}.type"] = ("COMPONENT_TYPE_INVALID", "Invalid component type in a modal")
    return invalid_form_body(errors) if errors else None


POLL_ANSWER_LIMIT = 55
POLL_QUESTION_LIMIT = 300
POLL_MAX_ANSWERS = 10
POLL_MAX_HOURS = 768
#: Discord's code for ending a poll that has already ended (not documented; a guess).
POLL_ALREADY_EXPIRED = 520004


def _check_poll(poll: JSON, errors: dict[str, tuple[str, str]]) -> None:
    """Discord's rules for a poll: a question of 1-300 characters, 1-10 answers of 1-55, a
    duration of 1 to 768 whole hours."""
    _check_length(errors, "poll.question.text", (poll.get("question") or {}).get("text"), 1, 300)
    answers = poll.get("answers") or []
    if not 1 <= len(answers) <= POLL_MAX_ANSWERS:
        errors["poll.answers"] = ("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 10 in length.")
    for n, answer in enumerate(answers):
        text = (answer.get("poll_media") or {}).get("text")
        _check_length(errors, f"poll.answers.{n}.poll_media.text", text, 1, POLL_ANSWER_LIMIT)
    hours = poll.get("duration", 24)
    if not isinstance(hours, int | float) or hours != int(hours) or not 1 <= hours <= 768:
        errors["poll.duration"] = ("NUMBER_TYPE_MAX", "Must be a whole number from 1 to 768.")


def validate_message_body(body: JSON, *, has_files: bool, creating: bool) -> JSON | None:
    """Discord's message limits. Returns an error body or None."""
    errors: dict[str, tuple[str, str]] = {}
    content = body.get("content")
    if isinstance(content, str) and len(content) > 2000:
        errors["content"] = ("BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
    embeds = body.get("embeds") or []
    if len(embeds) > 10:
        errors["embeds"] = ("BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    total = 0

    def check(path: str, value: Any, limit: int, *, required: bool = False) -> int:
        text = "" if value is None else str(value)
        if required and not text:
            errors[path] = ("BASE_TYPE_REQUIRED", "This field is required")
        if len(text) > limit:
            errors[path] = ("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
        return len(text)

    for i, embed in enumerate(embeds):
        p = f"embeds.{i}"
        total += check(f"{p}.title", embed.get("title"), 256)
        total += check(f"{p}.description", embed.get("description"), 4096)
        total += check(f"{p}.footer.text", (embed.get("footer") or {}).get("text"), 2048)
        total += check(f"{p}.author.name", (embed.get("author") or {}).get("name"), 256)
        fields = embed.get("fields") or []
        if len(fields) > 25:
            errors[f"{p}.fields"] = ("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        for j, f in enumerate(fields):
            total += check(f"{p}.fields.{j}.name", f.get("name"), 256, required=True)
            total += check(f"{p}.fields.{j}.value", f.get("value"), 1024, required=True)
    if total > 6000:
        errors["embeds"] = ("MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
    _check_rows(list(body.get("components") or []), errors)
    if body.get("poll") is not None:
        _check_poll(body["poll"], errors)
    if errors:
        return invalid_form_body(errors)
    if creating and not (
        content
        or embeds
        or has_files
        or body.get("components")
        or body.get("sticker_ids")
        or body.get("poll")
    ):
        return error_body(EMPTY_MESSAGE, "Cannot send an empty message")
    return None


# =============================================================================================
# interactions
# =============================================================================================


class InteractionHandle:
    """One dispatched interaction and everything the bot answered to it."""

    def __init__(
        self,
        fake: FakeDiscord,
        *,
        interaction_id: int,
        token: str,
        type: int,
        payload: JSON,
        channel_id: int,
        guild_id: int,
        user: FakeUser,
        message_id: int | None = None,
    ) -> None:
        self._fake = fake
        self.id = interaction_id
        self.token = token
        self.type = type
        #: the INTERACTION_CREATE ``d`` that was dispatched
        self.payload = payload
        self.channel_id = channel_id
        self.guild_id = guild_id
        self.user = user
        self.dispatched_at = 0.0
        #: callback type the fake accepted (None until then)
        self.response_type: int | None = None
        #: id of the original response message (for components: the message clicked)
        self.original_message_id: int | None = message_id
        self.followup_ids: list[int] = []
        self.loading = False
        self._responses: list[JSON] = []

    def __repr__(self) -> str:
        return f"<InteractionHandle id={self.id} type={self.type} response={self.response_type}>"

    def _record(
        self,
        kind: str,
        body: Any,
        at: float,
        *,
        status: int = 200,
        late: bool = False,
        message_id: int | None = None,
    ) -> None:
        self._responses.append(
            {
                "kind": kind,
                "body": body,
                "at": at,
                "status": status,
                "late": late,
                "message_id": message_id,
            }
        )

    def responses(self) -> list[JSON]:
        """Every callback / followup / original-or-followup edit or delete, in order.

        Each entry: ``{"kind", "body", "at", "status", "late", "message_id"}`` where kind is one of
        callback, followup, edit_original, delete_original, edit_message, delete_message."""
        return [dict(r) for r in self._responses]

    def _first_callback(self) -> JSON | None:
        return next((r for r in self._responses if r["kind"] == "callback"), None)

    async def first_response(self, timeout: float = 5.0) -> JSON:  # noqa: ASYNC109
        """The first callback body ``{"type", "data"}`` plus ``at``, ``status`` and ``late``
        (a late callback is returned too, with ``late: True`` and ``status: 404``)."""
        entry = await self._fake.wait_until(
            self._first_callback, timeout, f"a callback for interaction {self.id}"
        )
        body = entry["body"] if isinstance(entry["body"], dict) else {}
        return {**body, "at": entry["at"], "status": entry["status"], "late": entry["late"]}

    def _final(self) -> JSON | None:
        cb = self._first_callback()
        if cb is None:
            return None
        if cb["status"] != 200:
            raise AssertionError(
                f"interaction {self.id}: the first callback was rejected "
                f"(status {cb['status']}, late={cb['late']}): {cb['body']!r}"
            )
        ctype = cb["body"].get("type")
        if ctype in (CALLBACK_CHANNEL_MESSAGE, CALLBACK_UPDATE_MESSAGE):
            return {**(cb["body"].get("data") or {}), "at": cb["at"]}
        if ctype in (CALLBACK_DEFERRED_CHANNEL_MESSAGE, CALLBACK_DEFERRED_UPDATE_MESSAGE):
            for r in self._responses:
                if r["kind"] in ("followup", "edit_original") and r["status"] == 200:
                    return {**(r["body"] or {}), "at": r["at"]}
            return None
        raise AssertionError(f"interaction {self.id}: callback type {ctype} carries no message")

    async def final_message(self, timeout: float = 5.0) -> JSON:  # noqa: ASYNC109
        """What the user ends up seeing, as the body the bot sent (plus ``at``): the type 4/7
        callback data, or after a defer (5/6) the first followup or @original edit."""
        return await self._fake.wait_until(
            self._final, timeout, f"the final message of interaction {self.id}"
        )

    def original_message(self) -> JSON | None:
        """The stored message JSON of the original response (None if none or deleted)."""
        if self.original_message_id is None:
            return None
        return self._fake._find_message(self.original_message_id)

    def followups(self) -> list[JSON]:
        """Stored message JSON of followups that created a message (deleted ones left out)."""
        out = []
        for mid in self.followup_ids:
            msg = self._fake._find_message(mid)
            if msg is not None:
                out.append(msg)
        return out


# =============================================================================================
# gateway sessions
# =============================================================================================


class _Connection:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.server_closed = False
        self.session: _Session | None = None

    async def send(self, payload: JSON) -> None:
        if self.ws.closed:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.send_str(json.dumps(payload))


class _Session:
    def __init__(self, session_id: str, intents: int) -> None:
        self.session_id = session_id
        self.intents = intents
        self.seq = 0
        self.conn: _Connection | None = None
        self.frames: list[JSON] = []
        self.resumable = True
        self.lock = asyncio.Lock()

    async def send_dispatch(self, event: str, data: JSON) -> None:
        async with self.lock:
            self.seq += 1
            frame = {"op": 0, "t": event, "s": self.seq, "d": data}
            self.frames.append(frame)
            del self.frames[:-1000]
            if self.conn is not None:
                await self.conn.send(frame)


# =============================================================================================
# the fake
# =============================================================================================


_Handler = Callable[[RecordedCall, "re.Match[str]"], Awaitable[Reply]]


class FakeDiscord:
    """Fake Discord REST API + gateway. Use as ``async with FakeDiscord() as fake:``."""

    def __init__(
        self,
        *,
        guild_id: int = 1000,
        channel_ids: Sequence[int] = (2000, 2001),
        bot_user_id: int = 9000,
        application_id: int = 9001,
        owner_id: int = 8000,
        members: Sequence[FakeUser] = (),
        roles: Sequence[FakeRole] = (),
        bot_name: str = "testbot",
        bot_role_id: int | None = None,
        bot_permissions: int = DEFAULT_BOT_PERMISSIONS,
        everyone_permissions: int = DEFAULT_EVERYONE_PERMISSIONS,
        guild_name: str = "Test Guild",
        token: str | None = None,
        preferred_locale: str = "en-US",
    ) -> None:
        self.guild_id = guild_id
        self.guild_name = guild_name
        #: the server's language (Server Settings > Community > Server Primary Language)
        self.preferred_locale = preferred_locale
        self.application_id = application_id
        self.owner_id = owner_id
        #: if set, REST calls and IDENTIFY must carry this token (401 / close 4004 otherwise)
        self.token = token
        self.bot_role_id = bot_role_id if bot_role_id is not None else guild_id + 1
        self.bot_user = FakeUser(bot_user_id, bot_name, bot=True, roles=(self.bot_role_id,))
        self.everyone_permissions = everyone_permissions
        self.roles: dict[int, FakeRole] = {
            guild_id: FakeRole(guild_id, "@everyone", everyone_permissions, position=0),
            self.bot_role_id: FakeRole(self.bot_role_id, bot_name, bot_permissions, position=1),
        }
        for role in roles:
            self.roles[role.id] = role
        #: guild members by id (the bot is always one)
        self.members: dict[int, FakeUser] = {self.bot_user.id: self.bot_user}
        for m in members:
            self.members[m.id] = m
        #: every user the fake knows (members, message authors, reactors)
        self.users: dict[int, FakeUser] = dict(self.members)
        self.users.setdefault(owner_id, FakeUser(owner_id, "owner"))
        #: guild text channels: id -> channel JSON
        self.channels: dict[int, JSON] = {
            cid: channel_payload(cid, guild_id=guild_id, name=f"channel-{cid}", position=i)
            for i, cid in enumerate(channel_ids)
        }
        #: DM channels the bot opened: id -> channel JSON
        self.dm_channels: dict[int, JSON] = {}
        #: users who accept no DMs from the bot (``close_dms``/``open_dms``)
        self.closed_dms: set[int] = set()
        #: text channels of other servers the bot is in, known only by id: channel id -> server
        #: id (see ``add_other_server_channel``)
        self.other_server_channels: dict[int, int] = {}
        #: the GUILD_CREATE of each other server, sent again on every IDENTIFY
        self.other_servers: dict[int, JSON] = {}
        #: the other servers' text channels: id -> channel JSON (for the REST routes)
        self._other_channels: dict[int, JSON] = {}

        # knobs
        self.rest_latency = 0.0
        self.interaction_deadline = 3.0
        self.echo_events = True
        self.enforce_intents = True
        self.enforce_permissions = True
        self.enforce_command_permissions = True

        # records
        self.calls: list[RecordedCall] = []
        self.unhandled: list[RecordedCall] = []
        self.commands: list[JSON] = []
        self.global_commands: list[JSON] = []
        self.guild_commands: dict[int, list[JSON]] = {}
        #: visible (non-ephemeral) messages by id, kept up to date; includes interaction responses
        #: and user messages dispatched through ``post_message``/``dispatch("MESSAGE_CREATE")``
        self.messages: dict[int, JSON] = {}
        #: ephemeral interaction messages by id
        self.ephemeral_messages: dict[int, JSON] = {}
        #: message id -> [(emoji key, user id)] currently present (see ``emoji_key``)
        self.reactions: dict[int, list[tuple[str, int]]] = {}
        # message id -> user id -> the answer they voted for
        self.poll_votes: dict[int, dict[int, int]] = {}
        self.interactions: dict[int, InteractionHandle] = {}
        self.identified = asyncio.Event()
        self.identify_count = 0
        self.resume_count = 0
        #: IDENTIFY ``d`` payloads received, in order
        self.identify_payloads: list[JSON] = []

        self._snowflakes = _Snowflakes()
        self._cond = asyncio.Condition()
        self._failures: list[_Failure] = []
        self._sessions: dict[str, _Session] = {}
        self._connections: set[_Connection] = set()
        self._attachments: dict[int, bytes] = {}
        #: the content type the CDN answers with, for attachments that have one
        self._attachment_types: dict[int, str] = {}
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._token_counter = itertools.count(1)
        self._routes: list[tuple[str, re.Pattern[str], _Handler]] = self._build_routes()

    # ----------------------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self._port}/gateway"

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("GET", "/gateway", self._handle_gateway)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._handle_rest)
        app.router.add_route("GET", "/attachments/{cid}/{aid}/{name}", self._handle_cdn)
        app.router.add_route("*", "/{tail:.*}", self._handle_rest)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        for conn in list(self._connections):
            conn.server_closed = True
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001, message=b"fake discord stopping")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ----------------------------------------------------------------------------- waiting

    async def _notify(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    async def wait_until(
        self,
        probe: Callable[[], T | None],
        timeout: float = 5.0,  # noqa: ASYNC109
        what: str = "a condition",
    ) -> T:
        """Wait (on the fake's condition, no polling) until ``probe()`` returns something other
        than None (or False) and return it. Re-checked after every REST call, IDENTIFY/RESUME
        and interaction response. Raises AssertionError listing the calls on timeout."""
        result: list[T] = []

        def ready() -> bool:
            value = probe()
            if value is None or value is False:
                return False
            result.append(value)
            return True

        try:
            async with asyncio.timeout(timeout), self._cond:
                await self._cond.wait_for(ready)
        except TimeoutError:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}; REST calls so far:\n"
                + self.describe_calls()
            ) from None
        return result[0]

    def describe_calls(self) -> str:
        return "\n".join(
            f"  {c.method} {c.path} -> {c.status}{' (late)' if c.late else ''}" for c in self.calls
        )

    def find_calls(
        self,
        method: str,
        path_pattern: str,
        predicate: Callable[[RecordedCall], bool] | None = None,
    ) -> list[RecordedCall]:
        rx = re.compile(path_pattern)
        return [
            c
            for c in self.calls
            if c.method == method.upper()
            and rx.fullmatch(c.path)
            and (predicate is None or predicate(c))
        ]

    async def wait_for_call(
        self,
        method: str,
        path_pattern: str,
        *,
        predicate: Callable[[RecordedCall], bool] | None = None,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> RecordedCall:
        """Wait until ``count`` calls matched (``re.fullmatch`` on the path); return the
        ``count``-th."""

        def probe() -> RecordedCall | None:
            found = self.find_calls(method, path_pattern, predicate)
            return found[count - 1] if len(found) >= count else None

        return await self.wait_until(probe, timeout, f"{count}x {method} {path_pattern}")

    async def wait_identified(self, count: int = 1, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until ``count`` IDENTIFYs in total have been answered (restart tests)."""
        await self.wait_until(lambda: self.identify_count >= count, timeout, f"{count} IDENTIFY")

    async def wait_resumed(self, count: int = 1, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until ``count`` RESUMEs in total have been answered with RESUMED."""
        await self.wait_until(lambda: self.resume_count >= count, timeout, f"{count} RESUME")

    # ----------------------------------------------------------------------------- failures

    def fail(
        self,
        method: str,
        path_pattern: str,
        status: int,
        code: int,
        message: str = "Injected failure",
        *,
        times: int = 1,
        retry_after: float = 0.0,
    ) -> None:
        """The next ``times`` matching calls get ``status`` with a Discord error body.

        A 429 carries ``retry_after`` and a ``Via`` header, so discord.py honours it (sleeps and
        retries). 500/502/504/524 are refused: discord.py retries those for ~25 s."""
        if status in _RETRIED_STATUSES:
            raise ValueError(f"status {status} makes discord.py retry for ~25 s; use 503")
        body = error_body(code, message)
        headers: dict[str, str] = {}
        if status == 429:
            body.update({"retry_after": retry_after, "global": False})
            headers = {"Via": "1.1 google", "Retry-After": str(retry_after)}
        self._failures.append(
            _Failure(method.upper(), re.compile(path_pattern), status, body, times, headers)
        )

    def _take_failure(self, method: str, path: str) -> _Failure | None:
        for failure in self._failures:
            if failure.method == method and failure.pattern.fullmatch(path):
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                return failure
        return None

    # ----------------------------------------------------------------------------- permissions

    def member_permissions(self, user: FakeUser) -> int:
        """Guild-level permissions of a member (owner and administrators get everything)."""
        if user.id == self.owner_id:
            return ALL_PERMISSIONS
        perms = self.roles[self.guild_id].permissions
        for rid in user.roles:
            role = self.roles.get(rid)
            if role is not None:
                perms |= role.permissions
        return ALL_PERMISSIONS if perms & ADMINISTRATOR else perms

    @property
    def bot_permissions(self) -> int:
        return self.member_permissions(self.bot_user)

    async def set_preferred_locale(self, locale: str) -> None:
        """Change the server's language and tell the gateway (GUILD_UPDATE)."""
        self.preferred_locale = locale
        data = self.guild_payload(intents=0)
        for key in ("members", "channels", "threads", "presences", "voice_states", "joined_at"):
            data.pop(key, None)
        await self._broadcast("GUILD_UPDATE", data)

    async def set_role_permissions(self, role_id: int, permissions: int) -> None:
        """Change a role's permissions (e.g. ``fake.bot_role_id``) and tell the gateway."""
        old = self.roles[role_id]
        role = FakeRole(old.id, old.name, permissions, old.position)
        self.roles[role_id] = role
        await self._broadcast(
            "GUILD_ROLE_UPDATE", {"guild_id": str(self.guild_id), "role": role_payload(role)}
        )

    def channel_permissions(self, user: FakeUser, channel_id: int) -> int:
        """A member's permissions in one of the server's channels, as Discord computes them: the
        server-level ones, then the channel's overwrites for @everyone, for the member's roles
        (all allows and denies together) and for the member; none at all without View Channel.
        """
        perms = self.member_permissions(user)
        channel = self.channels.get(channel_id)
        if perms & ADMINISTRATOR or channel is None:
            return perms
        overwrites = {int(o["id"]): o for o in channel.get("permission_overwrites") or []}

        def apply(perms: int, allow: int, deny: int) -> int:
            return (perms & ~deny) | allow

        everyone = overwrites.get(self.guild_id)
        if everyone is not None:
            perms = apply(perms, int(everyone["allow"]), int(everyone["deny"]))
        allow = deny = 0
        for role_id in user.roles:
            role = overwrites.get(role_id)
            if role is not None and role.get("type", 0) == 0:
                allow, deny = allow | int(role["allow"]), deny | int(role["deny"])
        perms = apply(perms, allow, deny)
        own = overwrites.get(user.id)
        if own is not None and own.get("type") == 1:
            perms = apply(perms, int(own["allow"]), int(own["deny"]))
        return perms if perms & VIEW_CHANNEL else 0

    async def set_channel_overwrites(self, channel_id: int, overwrites: list[JSON]) -> None:
        """Give a channel permission overwrites (``{"id", "type": 0 role / 1 member, "allow",
        "deny"}``) and tell the gateway (CHANNEL_UPDATE)."""
        channel = self.channels[channel_id]
        channel["permission_overwrites"] = [
            {**o, "allow": str(o["allow"]), "deny": str(o["deny"])} for o in overwrites
        ]
        await self._broadcast("CHANNEL_UPDATE", {**channel, "guild_id": str(self.guild_id)})

    def _require(self, channel_id: int, needed: int) -> Reply | None:
        if not self.enforce_permissions or channel_id in self.dm_channels:
            return None
        perms = self.channel_permissions(self.bot_user, channel_id)
        if not perms & VIEW_CHANNEL:
            return 403, error_body(MISSING_ACCESS, "Missing Access")
        if perms & needed != needed:
            return 403, error_body(MISSING_PERMISSIONS, "Missing Permissions")
        return None

    # ----------------------------------------------------------------------------- guild state

    def _all_members_payload(self) -> list[JSON]:
        return [member_payload(u) for u in self.members.values()]

    def guild_payload(self, *, intents: int | None = None) -> JSON:
        """GUILD_CREATE. Without the members intent only the bot's own member is included (as
        Discord does); ``member_count`` is always the full count, so no chunking is needed."""
        if intents is None or intents & INTENT_GUILD_MEMBERS:
            members = self._all_members_payload()
        else:
            members = [member_payload(self.bot_user)]
        return {
            "id": str(self.guild_id),
            "name": self.guild_name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "unavailable": False,
            "large": False,
            "member_count": len(self.members),
            "joined_at": _JOINED_AT,
            "features": [],
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": self.preferred_locale,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "roles": [role_payload(r) for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "channels": list(self.channels.values()),
            "threads": [],
            "members": members,
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def ready_payload(self, session_id: str, shard: list[int] | None = None) -> JSON:
        return {
            "v": 10,
            "user": {**user_payload(self.bot_user), "verified": True, "mfa_enabled": False},
            "guilds": [
                {"id": str(guild_id), "unavailable": True}
                for guild_id in (self.guild_id, *self.other_servers)
            ],
            "session_id": session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "shard": shard or [0, 1],
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "geo_ordered_rtc_regions": [],
            "_trace": ["fake-discord"],
        }

    def _user(self, user_id: int) -> FakeUser:
        return self.users.get(user_id) or FakeUser(user_id, f"user{user_id}")

    def _remember_user(self, data: JSON | None) -> None:
        if not data or "id" not in data:
            return
        uid = int(data["id"])
        if uid not in self.users:
            self.users[uid] = FakeUser(
                uid,
                str(data.get("username", f"user{uid}")),
                bot=bool(data.get("bot", False)),
                global_name=data.get("global_name"),
            )

    def _channel_guild(self, channel_id: int) -> int | None:
        if channel_id in self.channels:
            return self.guild_id
        return self.other_server_channels.get(channel_id)

    # ----------------------------------------------------------------------------- messages

    def channel_messages(self, channel_id: int, *, author_id: int | None = None) -> list[JSON]:
        """Visible messages in a channel, oldest first (optionally only one author's)."""
        return [
            m
            for mid, m in sorted(self.messages.items())
            if int(m["channel_id"]) == channel_id
            and (author_id is None or int(m["author"]["id"]) == author_id)
        ]

    def bot_messages(self, channel_id: int) -> list[JSON]:
        return self.channel_messages(channel_id, author_id=self.bot_user.id)

    def dm_channel_id(self, user_id: int) -> int | None:
        """The id of the DM channel the bot opened with a user, if it did."""
        for cid, ch in self.dm_channels.items():
            if int(ch["recipients"][0]["id"]) == user_id:
                return cid
        return None

    def dm_messages(self, user_id: int) -> list[JSON]:
        """Messages the bot sent to a user's DM channel, oldest first (none if never opened)."""
        cid = self.dm_channel_id(user_id)
        return [] if cid is None else self.bot_messages(cid)

    def close_dms(self, user_id: int) -> None:
        """The user stops accepting DMs from the bot (server members' DMs off, or blocked it):
        opening the DM channel still works, sending to it is 403 50007, and nothing is stored."""
        self.closed_dms.add(user_id)

    def open_dms(self, user_id: int) -> None:
        """Undo ``close_dms``: the bot can message the user again."""
        self.closed_dms.discard(user_id)

    def _dm_refused(self, channel_id: int) -> Reply | None:
        channel = self.dm_channels.get(channel_id)
        if channel is None or int(channel["recipients"][0]["id"]) not in self.closed_dms:
            return None
        return 403, error_body(CANNOT_MESSAGE_USER, "Cannot send messages to this user")

    def _find_message(self, message_id: int) -> JSON | None:
        return self.messages.get(message_id) or self.ephemeral_messages.get(message_id)

    def _mentions(self, content: str, allowed: JSON | None) -> tuple[list[JSON], list[str], bool]:
        parse = None if allowed is None else set(allowed.get("parse") or [])
        allowed_users = {int(u) for u in (allowed or {}).get("users") or []}
        allowed_roles = {int(r) for r in (allowed or {}).get("roles") or []}
        users: list[JSON] = []
        for uid in dict.fromkeys(int(x) for x in re.findall(r"<@!?(\d+)>", content)):
            if parse is None or "users" in parse or uid in allowed_users:
                u = self._user(uid)
                payload = user_payload(u)
                if uid in self.members:
                    payload["member"] = member_payload(u, with_user=False)
                users.append(payload)
        roles = [
            r
            for r in dict.fromkeys(re.findall(r"<@&(\d+)>", content))
            if parse is None or "roles" in parse or int(r) in allowed_roles
        ]
        everyone = ("@everyone" in content or "@here" in content) and (
            parse is None or "everyone" in parse
        )
        return users, roles, everyone

    def _new_message(
        self,
        *,
        channel_id: int,
        author: FakeUser,
        body: JSON,
        files: list[tuple[str, bytes]],
        flags: int | None = None,
        type: int = 0,
        extra: JSON | None = None,
    ) -> JSON:
        mid = self._snowflakes.next()
        content = str(body.get("content") or "")
        mentions, mention_roles, everyone = self._mentions(content, body.get("allowed_mentions"))
        msg = message_payload(
            message_id=mid,
            channel_id=channel_id,
            guild_id=self._channel_guild(channel_id),
            author=author,
            content=content,
            embeds=list(body.get("embeds") or []),
            components=list(body.get("components") or []),
            attachments=self._attachments_for(channel_id, body, files, []),
            flags=int(body.get("flags") or 0) if flags is None else flags,
            type=type,
            tts=bool(body.get("tts", False)),
            mentions=mentions,
            mention_roles=mention_roles,
            mention_everyone=everyone,
        )
        if body.get("nonce") is not None:
            msg["nonce"] = body["nonce"]
        if body.get("poll") is not None:
            msg["poll"] = self._new_poll(body["poll"])
        if extra:
            msg.update(extra)
        return msg

    def _new_poll(self, poll: JSON) -> JSON:
        """A poll as Discord stores it: answers numbered from 1, an expiry, no results yet."""
        expiry = dt.datetime.now(dt.UTC) + dt.timedelta(hours=float(poll.get("duration", 24)))
        return {
            "question": {"text": poll["question"]["text"]},
            "answers": [
                {"answer_id": n, "poll_media": {"text": answer["poll_media"]["text"]}}
                for n, answer in enumerate(poll["answers"], start=1)
            ],
            "expiry": expiry.isoformat(),
            "allow_multiselect": bool(poll.get("allow_multiselect", False)),
            "layout_type": int(poll.get("layout_type", 1)),
            "results": {"is_finalized": False, "answer_counts": []},
        }

    async def vote(self, *, user: FakeUser, message_id: int, answer_id: int) -> None:
        """`user` votes for an answer (replacing their vote, single choice), as people do in
        Discord's client: only on a poll still running, for one of its answers."""
        msg = self.messages[message_id]
        poll = msg["poll"]
        if poll["results"]["is_finalized"]:
            raise ValueError(f"the poll of message {message_id} has ended")
        if answer_id not in {a["answer_id"] for a in poll["answers"]}:
            raise ValueError(f"the poll of message {message_id} has no answer {answer_id}")
        self.poll_votes.setdefault(message_id, {})[user.id] = answer_id
        self._count_votes(msg)
        data: JSON = {
            "user_id": str(user.id),
            "channel_id": msg["channel_id"],
            "message_id": msg["id"],
            "answer_id": answer_id,
        }
        if "guild_id" in msg:
            data["guild_id"] = msg["guild_id"]
        await self._broadcast("MESSAGE_POLL_VOTE_ADD", data)

    def _count_votes(self, msg: JSON) -> None:
        counts: dict[int, int] = {}
        for answer_id in self.poll_votes.get(int(msg["id"]), {}).values():
            counts[answer_id] = counts.get(answer_id, 0) + 1
        msg["poll"]["results"]["answer_counts"] = [
            {"id": answer_id, "count": count, "me_voted": False}
            for answer_id, count in sorted(counts.items())
        ]

    async def finalize_poll(self, message_id: int) -> JSON:
        """The poll ends (its time ran out, or its author ended it): the counts are final, and
        the gateway hears of it (MESSAGE_UPDATE)."""
        msg = self.messages[message_id]
        self._count_votes(msg)
        msg["poll"]["results"]["is_finalized"] = True
        await self._announce_update(msg)
        return msg

    def _attachments_for(
        self,
        channel_id: int,
        body: JSON,
        files: list[tuple[str, bytes]],
        existing: list[JSON],
    ) -> list[JSON]:
        kept: list[JSON] = []
        if "attachments" in body and existing:
            keep_ids = {str(a.get("id")) for a in body.get("attachments") or []}
            kept = [a for a in existing if a["id"] in keep_ids]
        elif existing:
            kept = list(existing)
        for filename, content in files:
            aid = self._snowflakes.next()
            self._attachments[aid] = content
            url = f"{self.base_url}/attachments/{channel_id}/{aid}/{filename}"
            kept.append(
                {
                    "id": str(aid),
                    "filename": filename,
                    "size": len(content),
                    "url": url,
                    "proxy_url": url,
                    "content_type": "application/octet-stream",
                }
            )
        return kept

    def _apply_edit(self, msg: JSON, body: JSON, files: list[tuple[str, bytes]]) -> None:
        for key in ("content", "embeds", "components"):
            if key in body:
                msg[key] = body[key] if body[key] is not None else ([] if key != "content" else "")
        if "content" in body or "allowed_mentions" in body:
            mentions, roles, everyone = self._mentions(
                str(msg.get("content") or ""), body.get("allowed_mentions")
            )
            msg.update(mentions=mentions, mention_roles=roles, mention_everyone=everyone)
        if "flags" in body and body["flags"] is not None:
            # only SUPPRESS_EMBEDS can be toggled on edit
            msg["flags"] = (int(msg["flags"]) & ~MESSAGE_FLAG_SUPPRESS_EMBEDS) | (
                int(body["flags"]) & MESSAGE_FLAG_SUPPRESS_EMBEDS
            )
        if "attachments" in body or files:
            msg["attachments"] = self._attachments_for(
                int(msg["channel_id"]), body, files, list(msg.get("attachments") or [])
            )
        msg["edited_timestamp"] = _now_iso()

    def _gateway_message(self, msg: JSON) -> JSON:
        data = dict(msg)
        author_id = int(msg["author"]["id"])
        if "guild_id" in msg and author_id in self.members:
            data["member"] = member_payload(self.members[author_id], with_user=False)
        return data

    def _sync_reactions(self, message_id: int) -> None:
        msg = self._find_message(message_id)
        if msg is None:
            return
        summary: dict[str, JSON] = {}
        for key, uid in self.reactions.get(message_id, []):
            entry = summary.setdefault(
                key,
                {
                    "count": 0,
                    "count_details": {"burst": 0, "normal": 0},
                    "me": False,
                    "me_burst": False,
                    "burst_colors": [],
                    "emoji": emoji_payload(key),
                },
            )
            entry["count"] += 1
            entry["count_details"]["normal"] += 1
            entry["me"] = entry["me"] or uid == self.bot_user.id
        if summary:
            msg["reactions"] = list(summary.values())
        else:
            msg.pop("reactions", None)

    # ----------------------------------------------------------------------------- gateway out

    async def dispatch(self, event: str, data: JSON) -> None:
        """Send ``{"op": 0, "t": event, "d": data}`` (with the session's next ``s``) to every
        session. Also updates the fake's state for MESSAGE_CREATE/DELETE and MESSAGE_REACTION_*,
        so a reaction dispatched here can later be removed by the bot."""
        self._apply_event(event, data)
        await self._broadcast(event, data)

    async def _broadcast(self, event: str, data: JSON) -> None:
        for session in list(self._sessions.values()):
            if not session.resumable:
                continue
            if self.enforce_intents and not self._intent_allows(event, data, session.intents):
                continue
            await session.send_dispatch(event, self._censor(event, data, session.intents))

    async def _echo(self, event: str, data: JSON) -> None:
        if self.echo_events:
            await self._broadcast(event, data)

    @staticmethod
    def _intent_allows(event: str, data: JSON, intents: int) -> bool:
        needed = _EVENT_INTENTS.get(event)
        if needed is None:
            return True
        bit = needed[0] if data.get("guild_id") else needed[1]
        return bool(intents & bit)

    def _censor(self, event: str, data: JSON, intents: int) -> JSON:
        if (
            not self.enforce_intents
            or event not in ("MESSAGE_CREATE", "MESSAGE_UPDATE")
            or intents & INTENT_MESSAGE_CONTENT
            or not data.get("guild_id")
        ):
            return data
        author_id = int((data.get("author") or {}).get("id", 0))
        mentioned = any(int(m["id"]) == self.bot_user.id for m in data.get("mentions") or [])
        if author_id == self.bot_user.id or mentioned:
            return data
        censored = dict(data, content="", embeds=[], attachments=[], components=[])
        censored.pop("poll", None)
        return censored

    def _apply_event(self, event: str, data: JSON) -> None:
        if event == "MESSAGE_CREATE":
            self._remember_user(data.get("author"))
            stored = {k: v for k, v in data.items() if k != "member"}
            self.messages.setdefault(int(data["id"]), stored)
        elif event == "MESSAGE_DELETE":
            self.messages.pop(int(data["id"]), None)
            self.reactions.pop(int(data["id"]), None)
        elif event in ("MESSAGE_REACTION_ADD", "MESSAGE_REACTION_REMOVE"):
            mid = int(data["message_id"])
            entry = (emoji_key(data["emoji"]), int(data["user_id"]))
            present = self.reactions.setdefault(mid, [])
            if event == "MESSAGE_REACTION_ADD":
                self._remember_user((data.get("member") or {}).get("user"))
                if entry not in present:
                    present.append(entry)
            elif entry in present:
                present.remove(entry)
            self._sync_reactions(mid)
        elif event == "MESSAGE_REACTION_REMOVE_ALL":
            self.reactions.pop(int(data["message_id"]), None)
            self._sync_reactions(int(data["message_id"]))
        elif event == "MESSAGE_REACTION_REMOVE_EMOJI":
            mid = int(data["message_id"])
            key = emoji_key(data["emoji"])
            self.reactions[mid] = [r for r in self.reactions.get(mid, []) if r[0] != key]
            self._sync_reactions(mid)

    async def disconnect_clients(self, code: int = 4000, *, invalidate: bool = False) -> None:
        """Close every gateway socket. With a resumable code (default 4000) discord.py reconnects
        and RESUMEs; ``invalidate=True`` makes that RESUME fail (op 9) so it re-IDENTIFYs."""
        if invalidate:
            for session in self._sessions.values():
                session.resumable = False
        for conn in list(self._connections):
            conn.server_closed = True
            with contextlib.suppress(Exception):
                await conn.ws.close(code=code, message=b"fake disconnect")

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT to every connected client."""
        for conn in list(self._connections):
            await conn.send({"op": 7, "d": None})

    # convenience for tests ---------------------------------------------------------------------

    async def post_message(
        self,
        *,
        user: FakeUser,
        channel_id: int,
        content: str,
        embeds: list[JSON] | None = None,
    ) -> JSON:
        """A user posts a message: stored in ``messages`` and dispatched as MESSAGE_CREATE."""
        self.users.setdefault(user.id, user)
        msg = self._new_message(
            channel_id=channel_id,
            author=user,
            body={"content": content, "embeds": embeds or []},
            files=[],
        )
        self.messages[int(msg["id"])] = msg
        await self._broadcast("MESSAGE_CREATE", self._gateway_message(msg))
        return msg

    async def delete_message(self, message_id: int) -> None:
        """A moderator deletes a message (MESSAGE_DELETE)."""
        msg = self._drop_message(message_id)
        if msg is None:
            raise KeyError(f"unknown message {message_id}")
        data: JSON = {"id": msg["id"], "channel_id": msg["channel_id"]}
        if "guild_id" in msg:
            data["guild_id"] = msg["guild_id"]
        await self._broadcast("MESSAGE_DELETE", data)

    async def add_reaction(self, *, user: FakeUser, message_id: int, emoji: str) -> None:
        """A user reacts to a known message (MESSAGE_REACTION_ADD with the right ids)."""
        msg = self._find_message(message_id)
        if msg is None:
            raise KeyError(f"unknown message {message_id}")
        self.users.setdefault(user.id, user)
        await self.dispatch(
            "MESSAGE_REACTION_ADD",
            reaction_add(
                user=user,
                channel_id=int(msg["channel_id"]),
                message_id=message_id,
                guild_id=self._channel_guild(int(msg["channel_id"])),
                emoji=emoji,
                message_author_id=int(msg["author"]["id"]),
            ),
        )

    async def remove_reaction(self, *, user: FakeUser, message_id: int, emoji: str) -> None:
        msg = self._find_message(message_id)
        if msg is None:
            raise KeyError(f"unknown message {message_id}")
        await self.dispatch(
            "MESSAGE_REACTION_REMOVE",
            reaction_remove(
                user=user,
                channel_id=int(msg["channel_id"]),
                message_id=message_id,
                guild_id=self._channel_guild(int(msg["channel_id"])),
                emoji=emoji,
            ),
        )

    # ----------------------------------------------------------------------------- interactions

    def _find_command(self, name: str, guild_id: int, kind: int = 1) -> tuple[JSON, bool]:
        """The synced command `name` of `kind` (1 slash, 2 user menu), and whether it is the
        server's own rather than global."""
        for cmd in self.guild_commands.get(guild_id, []):
            if cmd["name"] == name and cmd.get("type", 1) == kind:
                return cmd, True
        for cmd in self.global_commands:
            if cmd["name"] == name and cmd.get("type", 1) == kind:
                return cmd, False
        known = [c["name"] for c in self.global_commands] + [
            c["name"] for c in self.guild_commands.get(guild_id, [])
        ]
        raise LookupError(f"/{name} was never synced to Discord (synced: {known})")

    def _check_options(
        self, where: str, schema: list[JSON], given: list[JSON], *, partial: bool = False
    ) -> None:
        """Options must exist with their type; required ones must be there unless `partial`
        (autocomplete, which Discord sends while the command is still being typed)."""
        by_name = {o["name"]: o for o in schema}
        for opt in given:
            spec = by_name.get(opt["name"])
            if spec is None:
                raise ValueError(f"{where}: unknown option {opt['name']!r} (has {list(by_name)})")
            if int(spec["type"]) != int(opt["type"]):
                raise ValueError(
                    f"{where}: option {opt['name']!r} is type {spec['type']}, got {opt['type']}"
                )
        names = {o["name"] for o in given}
        missing = [o["name"] for o in schema if o.get("required") and o["name"] not in names]
        if missing and not partial:
            raise ValueError(f"{where}: required options missing: {missing}")

    def _resolve(
        self, options: list[JSON], resolved: JSON, member_perms: int, guild_id: int | None = None
    ) -> list[JSON]:
        out: list[JSON] = []
        for raw in options:
            opt = {k: v for k, v in raw.items() if not k.startswith("_")}
            t = int(opt["type"])
            if t in (OPTION_SUB_COMMAND, OPTION_SUB_COMMAND_GROUP):
                opt["options"] = self._resolve(
                    opt.get("options") or [], resolved, member_perms, guild_id
                )
            elif t in _SNOWFLAKE_OPTION_TYPES:
                self._resolve_one(raw, int(opt["value"]), t, resolved, member_perms, guild_id)
            out.append(opt)
        return out

    def _resolve_one(
        self,
        raw: JSON,
        sid: int,
        t: int,
        resolved: JSON,
        member_perms: int,
        guild_id: int | None = None,
    ) -> None:
        key = str(sid)
        if t == OPTION_ATTACHMENT:
            resolved.setdefault("attachments", {})[key] = raw["_attachment"]
            return
        user: FakeUser | None = raw.get("_user") or self.users.get(sid)
        if t in (OPTION_USER, OPTION_MENTIONABLE) and user is not None:
            resolved.setdefault("users", {})[key] = user_payload(user)
            if guild_id in self.other_servers:
                elsewhere = self._other_server_member(guild_id, sid)
                if elsewhere is not None:
                    resolved.setdefault("members", {})[key] = {
                        k: v for k, v in elsewhere.items() if k != "user"
                    } | {"permissions": str(self.member_permissions(user))}
                return
            member = self.members.get(sid)
            if member is not None:
                resolved.setdefault("members", {})[key] = member_payload(
                    member, permissions=self.member_permissions(member), with_user=False
                )
            return
        if t in (OPTION_ROLE, OPTION_MENTIONABLE) and sid in self.roles:
            resolved.setdefault("roles", {})[key] = role_payload(self.roles[sid])
            return
        if t == OPTION_CHANNEL and (sid in self.channels or sid in self.other_server_channels):
            server = self._channel_server(sid)
            ch = self.channels.get(sid) or channel_payload(
                sid, guild_id=server, name=f"channel-{sid}"
            )
            resolved.setdefault("channels", {})[key] = {
                "id": ch["id"],
                "type": ch["type"],
                "name": ch["name"],
                "position": ch["position"],
                "parent_id": ch.get("parent_id"),
                "guild_id": str(server),
                "permissions": str(member_perms),
                "flags": 0,
            }
            return
        raise ValueError(f"option {raw['name']!r}: id {sid} is not a known user/role/channel")

    async def join_other_server(
        self, guild_id: int, channel_id: int, *, members: Sequence[FakeUser] = ()
    ) -> None:
        """The bot joins another server (GUILD_CREATE, and again on every later IDENTIFY) that
        has one text channel and `members`, so commands synced globally can be run there,
        reactions can carry its id, and the bot can post, edit and delete messages in its
        channel and look up its members. Permissions there are the main server's."""
        if guild_id == self.guild_id or channel_id in self.channels:
            raise ValueError(f"server {guild_id} or channel {channel_id} is the fake's own")
        self.other_server_channels[channel_id] = guild_id
        channel = channel_payload(channel_id, guild_id=guild_id, name=f"channel-{channel_id}")
        self._other_channels[channel_id] = channel
        for member in members:
            self.users.setdefault(member.id, member)
        everyone = FakeRole(guild_id, "@everyone", self.everyone_permissions, position=0)
        guild: JSON = {
            **self.guild_payload(),
            "id": str(guild_id),
            "name": f"Server {guild_id}",
            "member_count": 1 + len(members),
            "roles": [role_payload(everyone)],
            "channels": [channel],
            "members": [member_payload(self.bot_user), *(member_payload(m) for m in members)],
        }
        self.other_servers[guild_id] = guild
        await self._broadcast("GUILD_CREATE", guild)

    def _other_server_member(self, guild_id: int, user_id: int) -> JSON | None:
        guild = self.other_servers.get(guild_id)
        members = guild["members"] if guild is not None else []
        return next((m for m in members if int(m["user"]["id"]) == user_id), None)

    def _first_channel(self, guild_id: int) -> int:
        if guild_id == self.guild_id:
            return next(iter(self.channels))
        for channel_id, server in self.other_server_channels.items():
            if server == guild_id:
                return channel_id
        raise LookupError(f"the bot is in no server {guild_id}; see join_other_server")

    def _channel_server(self, channel_id: int) -> int:
        if channel_id in self.channels:
            return self.guild_id
        if channel_id in self.other_server_channels:
            return self.other_server_channels[channel_id]
        raise LookupError(f"unknown channel {channel_id}")

    def _channel_for_interaction(self, channel_id: int, perms: int, guild_id: int) -> JSON:
        server = self._channel_server(channel_id)
        if server != guild_id:
            # A channel belongs to one server; an interaction says which one it came from.
            raise ValueError(f"channel {channel_id} is in server {server}, not {guild_id}")
        ch = self.channels.get(channel_id) or channel_payload(
            channel_id, guild_id=guild_id, name=f"channel-{channel_id}"
        )
        return {
            "id": ch["id"],
            "type": ch["type"],
            "name": ch["name"],
            "position": ch["position"],
            "guild_id": str(guild_id),
            "parent_id": ch.get("parent_id"),
            "nsfw": False,
            "flags": 0,
            "permissions": str(perms),
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "topic": None,
        }

    async def _send_interaction(
        self,
        *,
        type: int,
        data: JSON | None,
        user: FakeUser,
        channel_id: int | None,
        permissions: int | None,
        guild_id: int | None,
        message: JSON | None = None,
    ) -> InteractionHandle:
        self.users.setdefault(user.id, user)
        gid = guild_id if guild_id is not None else self.guild_id
        cid = channel_id if channel_id is not None else self._first_channel(gid)
        perms = self.member_permissions(user) if permissions is None else permissions
        iid = self._snowflakes.next()
        token = f"fake-interaction-token-{next(self._token_counter)}-{iid}"
        payload = interaction_payload(
            interaction_id=iid,
            application_id=self.application_id,
            token=token,
            type=type,
            data=data,
            guild_id=gid,
            channel=self._channel_for_interaction(cid, perms, gid),
            member=member_payload(user, permissions=perms),
            app_permissions=self.bot_permissions,
            message=message,
            locale=user.locale,
            guild_locale=self.preferred_locale,
        )
        handle = InteractionHandle(
            self,
            interaction_id=iid,
            token=token,
            type=type,
            payload=payload,
            channel_id=cid,
            guild_id=gid,
            user=user,
            message_id=int(message["id"]) if message is not None else None,
        )
        self.interactions[iid] = handle
        handle.dispatched_at = time.monotonic()
        await self._broadcast("INTERACTION_CREATE", payload)
        return handle

    def _command_data(
        self,
        name: str,
        *,
        user: FakeUser,
        options: list[JSON] | None,
        subcommand: str | None,
        guild_id: int,
        perms: int,
        focused: str | None = None,
    ) -> JSON:
        cmd, is_guild = self._find_command(name, guild_id)
        required = cmd.get("default_member_permissions")
        if (
            self.enforce_command_permissions
            and required is not None
            and perms & int(required) != int(required)
            and not perms & ADMINISTRATOR
        ):
            raise PermissionError(
                f"Discord would not let {user.name} run /{name}: needs permissions {required}"
            )
        given = [dict(o) for o in options or []]
        if focused is not None:
            for o in given:
                if o["name"] == focused:
                    o["focused"] = True
        schema: list[JSON] = list(cmd.get("options") or [])
        where = f"/{name}"
        top: list[JSON] = given
        if subcommand:
            parts = subcommand.split()
            nested = given
            for depth, part in reversed(list(enumerate(parts))):
                kind = OPTION_SUB_COMMAND if depth == len(parts) - 1 else OPTION_SUB_COMMAND_GROUP
                nested = [{"name": part, "type": kind, "options": nested}]
            top = nested
            for part in parts:
                spec = next(
                    (o for o in schema if o["name"] == part and int(o["type"]) in (1, 2)), None
                )
                if spec is None:
                    raise ValueError(f"{where}: no subcommand {part!r}")
                schema = list(spec.get("options") or [])
                where += f" {part}"
        elif any(int(o["type"]) in (1, 2) for o in schema):
            raise ValueError(f"{where} needs a subcommand")
        self._check_options(where, schema, given, partial=focused is not None)
        resolved: JSON = {}
        data: JSON = {
            "id": cmd["id"],
            "name": name,
            "type": 1,
            "options": self._resolve(top, resolved, perms, guild_id),
            "resolved": resolved,
        }
        if is_guild:
            data["guild_id"] = str(guild_id)
        return data

    async def send_slash(
        self,
        name: str,
        *,
        user: FakeUser,
        options: list[JSON] | None = None,
        subcommand: str | None = None,
        channel_id: int | None = None,
        permissions: int | None = None,
        guild_id: int | None = None,
    ) -> InteractionHandle:
        """Dispatch a slash command as ``user``. ``subcommand`` may be ``"sub"`` or
        ``"group sub"``. ``permissions`` defaults to what the user's roles give (owner: all)."""
        gid = guild_id if guild_id is not None else self.guild_id
        perms = self.member_permissions(user) if permissions is None else permissions
        data = self._command_data(
            name,
            user=user,
            options=options,
            subcommand=subcommand,
            guild_id=gid,
            perms=perms,
        )
        return await self._send_interaction(
            type=INTERACTION_APPLICATION_COMMAND,
            data=data,
            user=user,
            channel_id=channel_id,
            permissions=perms,
            guild_id=gid,
        )

    async def send_autocomplete(
        self,
        name: str,
        *,
        user: FakeUser,
        focused: str,
        options: list[JSON],
        subcommand: str | None = None,
        channel_id: int | None = None,
        permissions: int | None = None,
    ) -> InteractionHandle:
        """Autocomplete (interaction type 4) with ``focused`` marked; answer is callback 8."""
        perms = self.member_permissions(user) if permissions is None else permissions
        data = self._command_data(
            name,
            user=user,
            options=options,
            subcommand=subcommand,
            guild_id=self.guild_id,
            perms=perms,
            focused=focused,
        )
        return await self._send_interaction(
            type=INTERACTION_AUTOCOMPLETE,
            data=data,
            user=user,
            channel_id=channel_id,
            permissions=perms,
            guild_id=None,
        )

    async def send_user_command(
        self,
        name: str,
        *,
        user: FakeUser,
        target: FakeUser,
        channel_id: int | None = None,
        permissions: int | None = None,
    ) -> InteractionHandle:
        """A member context-menu command (Apps -> `name` on `target`): an application command
        of type 2 with `target_id` and the target resolved."""
        cmd, is_guild = self._find_command(name, self.guild_id, kind=2)
        perms = self.member_permissions(user) if permissions is None else permissions
        resolved: JSON = {}
        self._resolve([user_option("target", target)], resolved, perms)
        data: JSON = {
            "id": cmd["id"],
            "name": name,
            "type": 2,
            "target_id": str(target.id),
            "resolved": resolved,
        }
        if is_guild:
            data["guild_id"] = str(self.guild_id)
        return await self._send_interaction(
            type=INTERACTION_APPLICATION_COMMAND,
            data=data,
            user=user,
            channel_id=channel_id,
            permissions=perms,
            guild_id=None,
        )

    def user_attachment(
        self,
        content: bytes,
        filename: str,
        *,
        content_type: str | None = None,
        channel_id: int | None = None,
    ) -> JSON:
        """A file a user uploads (to a slash command's ATTACHMENT option, see
        ``attachment_option(attachment=...)``, or to a modal's file upload, see
        ``send_modal_submit``): the attachment object as Discord puts it in
        ``data.resolved.attachments``. Its ``url``/``proxy_url`` are on the fake's CDN, so
        ``discord.Attachment.read()`` returns exactly ``content``. ``content_type`` is guessed
        from the filename's extension as Discord does (``image/png`` for ``.png``...; left out
        when unknown) unless given. ``channel_id`` (default: the server's first channel) only
        shapes the url. Discord's client uploads nothing over ``ATTACHMENT_SIZE_LIMIT``."""
        if len(content) > ATTACHMENT_SIZE_LIMIT:
            raise ValueError(
                f"{filename!r} is {len(content)} bytes; Discord's client uploads at most "
                f"{ATTACHMENT_SIZE_LIMIT}"
            )
        cid = channel_id if channel_id is not None else self._first_channel(self.guild_id)
        aid = self._snowflakes.next()
        self._attachments[aid] = bytes(content)
        kind = content_type if content_type is not None else guess_content_type(filename)
        url = f"{self.base_url}/attachments/{cid}/{aid}/{urllib.parse.quote(filename, safe='')}"
        attachment: JSON = {
            "id": str(aid),
            "filename": filename,
            "size": len(content),
            "url": url,
            "proxy_url": url,
            # What users upload to an interaction lives only as long as it (Discord's
            # "ephemeral-attachments").
            "ephemeral": True,
        }
        if kind:
            attachment["content_type"] = kind
            self._attachment_types[aid] = kind
        return attachment

    async def send_modal_submit(
        self, opened_by: InteractionHandle, values: dict[str, str | bool | list[JSON]]
    ) -> InteractionHandle:
        """Submit the modal the bot opened in answer to `opened_by`, with `values` by the
        inputs' custom ids: text for a text input, True or False for a checkbox (unticked when
        left out), a list of attachment objects (``user_attachment``) for a file upload (none
        when left out). As in Discord's client: only an opened modal can be submitted, every
        required text input needs a value, each value keeps its input's length limits, and a
        file upload takes at most ``max_values`` files and, when required, at least
        ``min_values`` (when not required: none, or ``min_values`` to ``max_values``). Uploads
        are sent as Discord does: ``{type: 19, custom_id, values: [ids]}`` in their Label, the
        attachments in ``data.resolved.attachments`` (discord.py's ``FileUpload.values``)."""
        opened = next(
            (
                r
                for r in opened_by.responses()
                if r["kind"] == "callback" and r["status"] == 200 and r["body"].get("type") == 9
            ),
            None,
        )
        if opened is None:
            raise ValueError(f"interaction {opened_by.id} opened no modal")
        modal: JSON = opened["body"]["data"]
        submitted: list[JSON] = []
        uploaded: JSON = {}
        for field_ in modal["components"]:
            inner = (
                field_["components"][0]
                if field_["type"] == COMPONENT_ACTION_ROW
                else field_["component"]
            )
            custom_id = inner["custom_id"]
            if inner.get("type") == COMPONENT_CHECKBOX and field_["type"] == COMPONENT_LABEL:
                ticked = values.get(custom_id, bool(inner.get("default")))
                if not isinstance(ticked, bool):
                    raise ValueError(f"checkbox {custom_id!r} is ticked or not, not {ticked!r}")
                submitted.append(
                    {
                        "type": COMPONENT_LABEL,
                        "component": {
                            "type": COMPONENT_CHECKBOX,
                            "custom_id": custom_id,
                            "value": ticked,
                        },
                    }
                )
                continue
            if inner.get("type") == COMPONENT_FILE_UPLOAD and field_["type"] == COMPONENT_LABEL:
                files = values.get(custom_id, [])
                if not isinstance(files, list) or not all(
                    isinstance(f, dict) and "id" in f for f in files
                ):
                    raise ValueError(
                        f"file upload {custom_id!r} takes a list of attachments "
                        f"(user_attachment), not {files!r}"
                    )
                low = 1 if inner.get("min_values") is None else int(inner["min_values"])
                high = 1 if inner.get("max_values") is None else int(inner["max_values"])
                required = inner.get("required", True) is not False
                if len(files) > high:
                    raise ValueError(
                        f"file upload {custom_id!r} takes at most {high} files in the client, "
                        f"not {len(files)}"
                    )
                if (required or files) and len(files) < low:
                    raise ValueError(
                        f"Discord's client will not submit {custom_id!r} with fewer than "
                        f"{low} files (got {len(files)})"
                    )
                for f in files:
                    uploaded[str(f["id"])] = dict(f)
                submitted.append(
                    {
                        "type": COMPONENT_LABEL,
                        "component": {
                            "type": COMPONENT_FILE_UPLOAD,
                            "custom_id": custom_id,
                            "values": [str(f["id"]) for f in files],
                        },
                    }
                )
                continue
            if inner.get("type") == COMPONENT_STRING_SELECT and field_["type"] == COMPONENT_LABEL:
                offered = [str(o.get("value")) for o in inner.get("options") or []]
                chosen = values.get(custom_id)
                if chosen is None:
                    # Left as it was: the options marked default.
                    chosen = [
                        str(o.get("value")) for o in inner.get("options") or [] if o.get("default")
                    ]
                if not isinstance(chosen, list) or not all(isinstance(v, str) for v in chosen):
                    raise ValueError(f"select {custom_id!r} takes a list of option values")
                if any(v not in offered for v in chosen):
                    raise ValueError(f"select {custom_id!r} offers only {offered}")
                low = 1 if inner.get("min_values") is None else int(inner["min_values"])
                high = 1 if inner.get("max_values") is None else int(inner["max_values"])
                required = inner.get("required", True) is not False
                if len(chosen) > high or ((required or chosen) and len(chosen) < low):
                    raise ValueError(
                        f"select {custom_id!r} takes {low}-{high} values in the client"
                    )
                submitted.append(
                    {
                        "type": COMPONENT_LABEL,
                        "component": {
                            "type": COMPONENT_STRING_SELECT,
                            "custom_id": custom_id,
                            "values": chosen,
                        },
                    }
                )
                continue
            if inner.get("type") != COMPONENT_TEXT_INPUT:
                raise NotImplementedError(
                    "the fake submits text inputs, checkboxes, string selects and file uploads only"
                )
            value = values.get(custom_id, "")
            if not isinstance(value, str):
                raise ValueError(f"text input {custom_id!r} takes text, not {value!r}")
            low, high = int(inner.get("min_length") or 0), int(inner.get("max_length") or 4000)
            if inner.get("required", True) and not value:
                raise ValueError(f"Discord's client will not submit without {custom_id!r}")
            if value and not low <= len(value) <= high:
                raise ValueError(f"{custom_id!r} must be {low}-{high} characters in the client")
            text_input: JSON = {
                "type": COMPONENT_TEXT_INPUT,
                "custom_id": custom_id,
                "value": value,
            }
            if field_["type"] == COMPONENT_ACTION_ROW:
                submitted.append({"type": COMPONENT_ACTION_ROW, "components": [text_input]})
            else:
                submitted.append({"type": COMPONENT_LABEL, "component": text_input})
        data: JSON = {"custom_id": modal["custom_id"], "components": submitted}
        if uploaded:
            data["resolved"] = {"attachments": uploaded}
        return await self._send_interaction(
            type=INTERACTION_MODAL_SUBMIT,
            data=data,
            user=opened_by.user,
            channel_id=opened_by.channel_id,
            permissions=None,
            guild_id=opened_by.guild_id,
        )

    async def send_component(
        self,
        *,
        message_id: int,
        custom_id: str,
        user: FakeUser,
        component_type: int = 2,
        values: list[str] | None = None,
        permissions: int | None = None,
    ) -> InteractionHandle:
        """A button click (``component_type`` 2) or select (3, with ``values``) on a stored
        message."""
        msg = self._find_message(message_id)
        if msg is None:
            raise KeyError(f"unknown message {message_id}")
        if custom_id not in _custom_ids(msg.get("components") or []):
            # Discord's client only sends presses on components the message shows.
            raise ValueError(f"message {message_id} has no component {custom_id!r}")
        data: JSON = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = values
            data["resolved"] = {}
        return await self._send_interaction(
            type=INTERACTION_MESSAGE_COMPONENT,
            data=data,
            user=user,
            channel_id=int(msg["channel_id"]),
            permissions=permissions,
            guild_id=None,
            message=msg,
        )

    def _interaction_message(
        self,
        handle: InteractionHandle,
        body: JSON,
        files: list[tuple[str, bytes]],
        *,
        flags: int,
        type: int,
    ) -> JSON:
        user = handle.user
        metadata: JSON = {
            "id": str(handle.id),
            "type": handle.type,
            "user": user_payload(user),
            "authorizing_integration_owners": {"0": str(handle.guild_id)},
        }
        extra: JSON = {
            "webhook_id": str(self.application_id),
            "application_id": str(self.application_id),
            "interaction_metadata": metadata,
        }
        if handle.type == INTERACTION_APPLICATION_COMMAND:
            extra["interaction"] = {
                "id": str(handle.id),
                "type": handle.type,
                "name": handle.payload.get("data", {}).get("name", ""),
                "user": user_payload(user),
                "member": member_payload(user, with_user=False),
            }
        msg = self._new_message(
            channel_id=handle.channel_id,
            author=self.bot_user,
            body=body,
            files=files,
            flags=flags,
            type=type,
            extra=extra,
        )
        self._store(msg)
        return msg

    def _store(self, msg: JSON) -> None:
        mid = int(msg["id"])
        if int(msg["flags"]) & MESSAGE_FLAG_EPHEMERAL:
            self.ephemeral_messages[mid] = msg
        else:
            self.messages[mid] = msg

    async def _announce_new(self, msg: JSON) -> None:
        if not int(msg["flags"]) & MESSAGE_FLAG_EPHEMERAL:
            await self._echo("MESSAGE_CREATE", self._gateway_message(msg))

    async def _announce_update(self, msg: JSON) -> None:
        if not int(msg["flags"]) & MESSAGE_FLAG_EPHEMERAL:
            await self._echo("MESSAGE_UPDATE", self._gateway_message(msg))

    async def _announce_delete(self, msg: JSON) -> None:
        if not int(msg["flags"]) & MESSAGE_FLAG_EPHEMERAL:
            data: JSON = {"id": msg["id"], "channel_id": msg["channel_id"]}
            if "guild_id" in msg:
                data["guild_id"] = msg["guild_id"]
            await self._echo("MESSAGE_DELETE", data)

    def _drop_message(self, message_id: int) -> JSON | None:
        msg = self.messages.pop(message_id, None) or self.ephemeral_messages.pop(message_id, None)
        self.reactions.pop(message_id, None)
        return msg

    # ----------------------------------------------------------------------------- REST plumbing

    async def _read_body(self, request: web.Request) -> tuple[Any, list[tuple[str, bytes]]]:
        ctype = request.content_type
        files: list[tuple[str, bytes]] = []
        if ctype.startswith("multipart/"):
            body: Any = None
            form = await request.post()
            for name, value in form.items():
                if isinstance(value, web.FileField):
                    files.append((value.filename, value.file.read()))
                elif name == "payload_json":
                    raw = value.encode() if isinstance(value, str) else bytes(value)
                    body = json.loads(raw)
            return body, files
        raw_body = await request.read()
        if not raw_body:
            return None, files
        try:
            return json.loads(raw_body), files
        except ValueError:
            return raw_body.decode(errors="replace"), files

    async def _handle_rest(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        known_prefix = path.startswith(API_PREFIX + "/")
        if known_prefix:
            path = path[len(API_PREFIX) :]
        try:
            body, files = await self._read_body(request)
        except ValueError as exc:  # unparsable payload_json: Discord answers 400, never 500
            body, files = None, []
            bad_body: Reply | None = (400, error_body(INVALID_FORM_BODY, f"Bad body: {exc}"))
        else:
            bad_body = None
        if self.rest_latency:
            await asyncio.sleep(self.rest_latency)
        call = RecordedCall(
            method=request.method,
            path=path,
            query=dict(request.query),
            json=body,
            at=time.monotonic(),
            files=files,
        )
        headers: dict[str, str] = {}
        failure = self._take_failure(call.method, call.path)
        unhandled = False
        status: int
        payload: Any
        if failure is not None:
            status, payload = failure.status, dict(failure.body)
            headers = failure.headers
        elif self.token is not None and not self._authorized(request, path):
            status, payload = 401, error_body(0, "401: Unauthorized")
        elif bad_body is not None:
            status, payload = bad_body
        else:
            handler, match = self._match(call.method, path) if known_prefix else (None, None)
            if handler is None or match is None:
                unhandled = True
                status, payload = 404, error_body(0, "Unknown route")
            else:
                try:
                    status, payload = await handler(call, match)
                except Exception as exc:  # a bug in the fake: surface it via `unhandled`
                    unhandled = True
                    status, payload = 400, error_body(0, f"fake discord crashed: {exc!r}")
        call.status = status
        call.response = payload
        async with self._cond:
            self.calls.append(call)
            if unhandled:
                self.unhandled.append(call)
            self._cond.notify_all()
        response = _json_response(status, payload)
        response.headers.update(headers)
        return response

    def _authorized(self, request: web.Request, path: str) -> bool:
        if path.startswith(("/interactions/", "/webhooks/")):
            return True
        return request.headers.get("Authorization") == f"Bot {self.token}"

    def _match(self, method: str, path: str) -> tuple[_Handler | None, re.Match[str] | None]:
        for route_method, rx, handler in self._routes:
            if route_method != method:
                continue
            m = rx.fullmatch(path)
            if m is not None:
                return handler, m
        return None, None

    def _build_routes(self) -> list[tuple[str, re.Pattern[str], _Handler]]:
        c = r"/channels/(?P<channel>\d+)"
        m = c + r"/messages/(?P<message>\d+)"
        r = m + r"/reactions"
        e = r + r"/(?P<emoji>[^/]+)"
        app = r"/applications/(?P<app>\d+)"
        g = r"/guilds/(?P<guild>\d+)"
        wh = r"/webhooks/(?P<app>\d+)/(?P<token>[^/]+)"
        table: list[tuple[str, str, _Handler]] = [
            ("GET", r"/users/@me", self._get_me),
            ("GET", r"/users/@me/guilds", self._get_my_guilds),
            ("GET", r"/users/(?P<user>\d+)", self._get_user),
            ("POST", r"/users/@me/channels", self._create_dm),
            ("GET", r"/oauth2/applications/@me", self._get_app),
            ("GET", r"/applications/@me", self._get_app),
            ("GET", r"/gateway", self._get_gateway),
            ("GET", r"/gateway/bot", self._get_gateway_bot),
            ("PUT", app + r"/commands", self._put_commands),
            ("GET", app + r"/commands", self._get_commands),
            ("PUT", app + g + r"/commands", self._put_commands),
            ("GET", app + g + r"/commands", self._get_commands),
            ("GET", c, self._get_channel),
            ("POST", c + r"/typing", self._typing),
            ("GET", c + r"/messages", self._get_history),
            ("POST", c + r"/messages", self._create_message),
            ("GET", m, self._get_message),
            ("PATCH", m, self._edit_message),
            ("DELETE", m, self._delete_message),
            ("PUT", e + r"/@me", self._add_own_reaction),
            ("DELETE", e + r"/@me", self._remove_user_reaction),
            ("DELETE", e + r"/(?P<user>\d+)", self._remove_user_reaction),
            ("GET", e, self._get_reactions),
            ("DELETE", e, self._clear_emoji),
            ("DELETE", r, self._clear_reactions),
            ("POST", c + r"/polls/(?P<message>\d+)/expire", self._expire_poll),
            ("POST", r"/interactions/(?P<id>\d+)/(?P<token>[^/]+)/callback", self._callback),
            ("POST", wh, self._followup),
            ("GET", wh + r"/messages/(?P<message>@original|\d+)", self._get_webhook_message),
            ("PATCH", wh + r"/messages/(?P<message>@original|\d+)", self._edit_webhook_message),
            ("DELETE", wh + r"/messages/(?P<message>@original|\d+)", self._delete_webhook_msg),
            ("GET", g, self._get_guild),
            ("GET", g + r"/channels", self._get_guild_channels),
            ("GET", g + r"/roles", self._get_guild_roles),
            ("GET", g + r"/members/(?P<user>\d+)", self._get_member),
        ]
        return [(method, re.compile(rx), h) for method, rx, h in table]

    async def _handle_cdn(self, request: web.Request) -> web.StreamResponse:
        aid = int(request.match_info["aid"])
        content = self._attachments.get(aid)
        if content is None:
            return web.Response(status=404)
        content_type = self._attachment_types.get(aid, "application/octet-stream")
        return web.Response(body=content, headers={"Content-Type": content_type})

    # ----------------------------------------------------------------------------- REST: misc

    async def _get_me(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        return 200, {**user_payload(self.bot_user), "verified": True, "mfa_enabled": False}

    async def _get_my_guilds(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        """The servers the bot is in (partial guilds, with the bot's permissions there)."""
        servers = [(self.guild_id, self.guild_name, self.bot_permissions)]
        servers += [
            (guild_id, f"Server {guild_id}", self.everyone_permissions)
            for guild_id in dict.fromkeys(self.other_server_channels.values())
        ]
        return 200, [
            {
                "id": str(guild_id),
                "name": name,
                "icon": None,
                "owner": False,
                "permissions": str(permissions),
                "features": [],
            }
            for guild_id, name, permissions in servers
        ]

    async def _get_user(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        uid = int(m["user"])
        if uid not in self.users:
            return 404, error_body(UNKNOWN_USER, "Unknown User")
        return 200, user_payload(self.users[uid])

    async def _create_dm(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        uid = int((call.json or {}).get("recipient_id", 0))
        if uid not in self.users:
            return 400, invalid_form_body({"recipient_id": ("NUMBER_TYPE_COERCE", "bad id")})
        existing = self.dm_channel_id(uid)
        if existing is not None:
            return 200, self.dm_channels[existing]
        cid = self._snowflakes.next()
        self.dm_channels[cid] = dm_channel_payload(cid, self.users[uid])
        return 200, self.dm_channels[cid]

    async def _get_app(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        owner = self.users[self.owner_id]
        return 200, {
            "id": str(self.application_id),
            "name": self.bot_user.name,
            "description": "",
            "icon": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "owner": user_payload(owner),
            "team": None,
            "verify_key": "0" * 64,
            "flags": 0,
            "summary": "",
            "bot": user_payload(self.bot_user),
            "tags": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "approximate_guild_count": 1,
        }

    async def _get_gateway(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        return 200, {"url": self.gateway_url}

    async def _get_gateway_bot(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        return 200, {
            "url": self.gateway_url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 1000,
                "reset_after": 86_400_000,
                "max_concurrency": 1,
            },
        }

    def _check_app(self, m: re.Match[str]) -> Reply | None:
        if int(m["app"]) != self.application_id:
            return 403, error_body(MISSING_ACCESS, "Missing Access")
        guild = m.groupdict().get("guild")
        if guild is not None and int(guild) != self.guild_id:
            return 403, error_body(MISSING_ACCESS, "Missing Access")
        return None

    async def _put_commands(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        bad = self._check_app(m)
        if bad:
            return bad
        body = call.json
        if not isinstance(body, list):
            return 400, invalid_form_body({"_root": ("LIST_TYPE_CONVERT", "Must be an array")})
        guild = m.groupdict().get("guild")
        previous = self.guild_commands.get(int(guild), []) if guild else self.global_commands
        old_ids = {(c["name"], c.get("type", 1)): c["id"] for c in previous}
        errors: dict[str, tuple[str, str]] = {}
        out: list[JSON] = []
        for i, cmd in enumerate(body):
            ctype = int(cmd.get("type", 1))
            name = str(cmd.get("name", ""))
            if ctype == 1 and (not re.fullmatch(r"[-_\w]{1,32}", name) or name != name.lower()):
                errors[f"{i}.name"] = ("APPLICATION_COMMAND_INVALID_NAME", "Invalid name")
            if ctype == 1 and not 1 <= len(str(cmd.get("description", ""))) <= 100:
                errors[f"{i}.description"] = ("BASE_TYPE_BAD_LENGTH", "Must be 1-100 long")
            _check_localizations(f"{i}", cmd, errors)
            entry: JSON = {
                **cmd,
                "id": old_ids.get((name, ctype)) or str(self._snowflakes.next()),
                "application_id": str(self.application_id),
                "version": str(self._snowflakes.next()),
                "type": ctype,
                "name": name,
                "description": cmd.get("description", ""),
                "default_member_permissions": cmd.get("default_member_permissions"),
                "nsfw": cmd.get("nsfw", False),
            }
            if guild:
                entry["guild_id"] = guild
            out.append(entry)
        if errors:
            return 400, invalid_form_body(errors)
        if guild:
            self.guild_commands[int(guild)] = out
        else:
            self.global_commands = out
        self.commands = out
        return 200, out

    async def _get_commands(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        bad = self._check_app(m)
        if bad:
            return bad
        guild = m.groupdict().get("guild")
        return 200, self.guild_commands.get(int(guild), []) if guild else self.global_commands

    async def _get_guild(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        if int(m["guild"]) != self.guild_id:
            return 404, error_body(UNKNOWN_GUILD, "Unknown Guild")
        data = self.guild_payload(intents=0)
        for key in ("members", "channels", "threads", "presences", "voice_states", "joined_at"):
            data.pop(key, None)
        return 200, data

    async def _get_guild_channels(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        if int(m["guild"]) != self.guild_id:
            return 404, error_body(UNKNOWN_GUILD, "Unknown Guild")
        return 200, list(self.channels.values())

    async def _get_guild_roles(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        if int(m["guild"]) != self.guild_id:
            return 404, error_body(UNKNOWN_GUILD, "Unknown Guild")
        return 200, [role_payload(r) for r in self.roles.values()]

    async def _get_member(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        if int(m["guild"]) in self.other_servers:
            found = self._other_server_member(int(m["guild"]), int(m["user"]))
            if found is None:
                return 404, error_body(UNKNOWN_MEMBER, "Unknown Member")
            return 200, found
        if int(m["guild"]) != self.guild_id:
            return 404, error_body(UNKNOWN_GUILD, "Unknown Guild")
        user_id = int(m["user"])
        member = self.bot_user if user_id == self.bot_user.id else self.members.get(user_id)
        if member is None:
            return 404, error_body(UNKNOWN_MEMBER, "Unknown Member")
        return 200, member_payload(member)

    # ----------------------------------------------------------------------------- REST: channels

    def _channel(self, m: re.Match[str]) -> tuple[int, JSON | None]:
        cid = int(m["channel"])
        return cid, (
            self.channels.get(cid) or self.dm_channels.get(cid) or self._other_channels.get(cid)
        )

    def _channel_message(self, m: re.Match[str]) -> tuple[int, int, JSON | None, Reply | None]:
        cid, channel = self._channel(m)
        if channel is None:
            return cid, 0, None, (404, error_body(UNKNOWN_CHANNEL, "Unknown Channel"))
        mid = int(m["message"])
        msg = self.messages.get(mid)
        if msg is None or int(msg["channel_id"]) != cid:
            return cid, mid, None, (404, error_body(UNKNOWN_MESSAGE, "Unknown Message"))
        return cid, mid, msg, None

    async def _get_channel(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        cid, channel = self._channel(m)
        if channel is None:
            return 404, error_body(UNKNOWN_CHANNEL, "Unknown Channel")
        return self._require(cid, 0) or (200, channel)

    async def _typing(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        cid, channel = self._channel(m)
        if channel is None:
            return 404, error_body(UNKNOWN_CHANNEL, "Unknown Channel")
        return self._require(cid, SEND_MESSAGES) or (204, None)

    async def _get_history(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        cid, channel = self._channel(m)
        if channel is None:
            return 404, error_body(UNKNOWN_CHANNEL, "Unknown Channel")
        denied = self._require(cid, READ_MESSAGE_HISTORY)
        if denied:
            return denied
        limit = int(call.query.get("limit", 50))
        msgs = self.channel_messages(cid)
        if "before" in call.query:
            msgs = [x for x in msgs if int(x["id"]) < int(call.query["before"])]
        if "after" in call.query:
            msgs = [x for x in msgs if int(x["id"]) > int(call.query["after"])][:limit]
            return 200, list(reversed(msgs))
        return 200, list(reversed(msgs))[:limit]

    async def _create_message(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        cid, channel = self._channel(m)
        if channel is None:
            return 404, error_body(UNKNOWN_CHANNEL, "Unknown Channel")
        refused = self._dm_refused(cid)
        if refused:
            return refused
        body: JSON = call.json if isinstance(call.json, dict) else {}
        needed = SEND_MESSAGES | (ATTACH_FILES if call.files else 0)
        if isinstance(call.json, dict) and call.json.get("poll") is not None:
            needed |= SEND_POLLS
        denied = self._require(cid, needed)
        if denied:
            return denied
        invalid = validate_message_body(body, has_files=bool(call.files), creating=True)
        if invalid:
            return 400, invalid
        extra: JSON = {}
        mtype = 0
        ref = body.get("message_reference")
        if ref and ref.get("message_id"):
            referenced = self.messages.get(int(ref["message_id"]))
            if referenced is None and ref.get("fail_if_not_exists", True):
                return 400, invalid_form_body(
                    {"message_reference": ("MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")}
                )
            mtype = 19
            extra["message_reference"] = {
                "type": 0,
                "message_id": str(ref["message_id"]),
                "channel_id": str(ref.get("channel_id", cid)),
                **({"guild_id": str(ref["guild_id"])} if ref.get("guild_id") else {}),
            }
            if referenced is not None:
                extra["referenced_message"] = {
                    k: v for k, v in referenced.items() if k != "referenced_message"
                }
        flags = int(body.get("flags") or 0) & (
            MESSAGE_FLAG_SUPPRESS_EMBEDS | MESSAGE_FLAG_SUPPRESS_NOTIFICATIONS
        )
        msg = self._new_message(
            channel_id=cid,
            author=self.bot_user,
            body=body,
            files=call.files,
            flags=flags,
            type=mtype,
            extra=extra,
        )
        self.messages[int(msg["id"])] = msg
        await self._echo("MESSAGE_CREATE", self._gateway_message(msg))
        return 200, msg

    async def _expire_poll(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        """Only the poll's author may end it early; a poll that has ended cannot end again."""
        _, _, msg, err = self._channel_message(m)
        if err or msg is None:
            return err or (404, None)
        if "poll" not in msg:
            return 400, error_body(INVALID_FORM_BODY, "This message has no poll")
        if int(msg["author"]["id"]) != self.bot_user.id:
            return 403, error_body(MISSING_PERMISSIONS, "Missing Permissions")
        if msg["poll"]["results"]["is_finalized"]:
            return 400, error_body(POLL_ALREADY_EXPIRED, "This poll has already ended")
        return 200, await self.finalize_poll(int(msg["id"]))

    async def _get_message(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        cid, _, msg, err = self._channel_message(m)
        if err:
            return err
        return self._require(cid, READ_MESSAGE_HISTORY) or (200, msg)

    async def _edit_message(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        _, _, msg, err = self._channel_message(m)
        if err or msg is None:
            return err or (404, error_body(UNKNOWN_MESSAGE, "Unknown Message"))
        if int(msg["author"]["id"]) != self.bot_user.id:
            return 403, error_body(
                CANNOT_EDIT_OTHERS_MESSAGE, "Cannot edit a message authored by another user"
            )
        body: JSON = call.json if isinstance(call.json, dict) else {}
        invalid = validate_message_body(body, has_files=bool(call.files), creating=False)
        if invalid:
            return 400, invalid
        self._apply_edit(msg, body, call.files)
        await self._echo("MESSAGE_UPDATE", self._gateway_message(msg))
        return 200, msg

    async def _delete_message(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        cid, mid, msg, err = self._channel_message(m)
        if err or msg is None:
            return err or (404, error_body(UNKNOWN_MESSAGE, "Unknown Message"))
        if int(msg["author"]["id"]) != self.bot_user.id:
            denied = self._require(cid, MANAGE_MESSAGES)
            if denied:
                return denied
        self._drop_message(mid)
        await self._announce_delete(msg)
        return 204, None

    # ----------------------------------------------------------------------------- REST: reactions

    def _reaction_event(self, msg: JSON, key: str, user: FakeUser, *, add: bool) -> JSON:
        cid = int(msg["channel_id"])
        gid = self._channel_guild(cid)
        if add:
            return reaction_add(
                user=user,
                channel_id=cid,
                message_id=int(msg["id"]),
                guild_id=gid,
                emoji=key,
                message_author_id=int(msg["author"]["id"]),
            )
        return reaction_remove(
            user=user, channel_id=cid, message_id=int(msg["id"]), guild_id=gid, emoji=key
        )

    async def _add_own_reaction(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        cid, mid, msg, err = self._channel_message(m)
        if err or msg is None:
            return err or (404, error_body(UNKNOWN_MESSAGE, "Unknown Message"))
        key = emoji_key(m["emoji"])
        if not _valid_emoji(key):
            return 400, error_body(UNKNOWN_EMOJI, "Unknown Emoji")
        present = self.reactions.setdefault(mid, [])
        new_emoji = all(k != key for k, _ in present)
        denied = self._require(cid, READ_MESSAGE_HISTORY | (ADD_REACTIONS if new_emoji else 0))
        if denied:
            return denied
        entry = (key, self.bot_user.id)
        if entry in present:
            return 204, None
        present.append(entry)
        self._sync_reactions(mid)
        event = self._reaction_event(msg, key, self.bot_user, add=True)
        await self._echo("MESSAGE_REACTION_ADD", event)
        return 204, None

    async def _remove_user_reaction(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        cid, mid, msg, err = self._channel_message(m)
        if err or msg is None:
            return err or (404, error_body(UNKNOWN_MESSAGE, "Unknown Message"))
        key = emoji_key(m["emoji"])
        if not _valid_emoji(key):
            return 400, error_body(UNKNOWN_EMOJI, "Unknown Emoji")
        user_id = int(m["user"]) if m.groupdict().get("user") else self.bot_user.id
        if user_id != self.bot_user.id:
            denied = self._require(cid, MANAGE_MESSAGES)
            if denied:
                return denied
        entry = (key, user_id)
        present = self.reactions.get(mid, [])
        if entry in present:
            present.remove(entry)
            self._sync_reactions(mid)
            event = self._reaction_event(msg, key, self._user(user_id), add=False)
            await self._echo("MESSAGE_REACTION_REMOVE", event)
        return 204, None

    async def _get_reactions(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        cid, mid, _, err = self._channel_message(m)
        if err:
            return err
        denied = self._require(cid, READ_MESSAGE_HISTORY)
        if denied:
            return denied
        key = emoji_key(m["emoji"])
        limit = int(call.query.get("limit", 25))
        after = int(call.query.get("after", 0))
        ids = sorted(uid for k, uid in self.reactions.get(mid, []) if k == key and uid > after)
        return 200, [user_payload(self._user(uid)) for uid in ids[:limit]]

    async def _clear_emoji(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        cid, mid, msg, err = self._channel_message(m)
        if err or msg is None:
            return err or (404, error_body(UNKNOWN_MESSAGE, "Unknown Message"))
        denied = self._require(cid, MANAGE_MESSAGES)
        if denied:
            return denied
        key = emoji_key(m["emoji"])
        self.reactions[mid] = [r for r in self.reactions.get(mid, []) if r[0] != key]
        self._sync_reactions(mid)
        data: JSON = {
            "channel_id": msg["channel_id"],
            "message_id": msg["id"],
            "emoji": emoji_payload(key),
        }
        if "guild_id" in msg:
            data["guild_id"] = msg["guild_id"]
        await self._echo("MESSAGE_REACTION_REMOVE_EMOJI", data)
        return 204, None

    async def _clear_reactions(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        cid, mid, msg, err = self._channel_message(m)
        if err or msg is None:
            return err or (404, error_body(UNKNOWN_MESSAGE, "Unknown Message"))
        denied = self._require(cid, MANAGE_MESSAGES)
        if denied:
            return denied
        self.reactions.pop(mid, None)
        self._sync_reactions(mid)
        data: JSON = {"channel_id": msg["channel_id"], "message_id": msg["id"]}
        if "guild_id" in msg:
            data["guild_id"] = msg["guild_id"]
        await self._echo("MESSAGE_REACTION_REMOVE_ALL", data)
        return 204, None

    # ------------------------------------------------------------------------ REST: interactions

    async def _callback(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        handle = self.interactions.get(int(m["id"]))
        unknown = 404, error_body(UNKNOWN_INTERACTION, "Unknown interaction")
        if handle is None or handle.token != m["token"]:
            return unknown
        body: JSON = call.json if isinstance(call.json, dict) else {}
        if call.at - handle.dispatched_at > self.interaction_deadline:
            call.late = True
            handle._record("callback", body, call.at, status=404, late=True)
            return unknown
        if handle.response_type is not None:
            handle._record("callback", body, call.at, status=400)
            return 400, error_body(
                ALREADY_ACKNOWLEDGED, "Interaction has already been acknowledged."
            )
        rtype = int(body.get("type", 0))
        if rtype not in _ALLOWED_CALLBACKS.get(handle.type, frozenset()):
            handle._record("callback", body, call.at, status=400)
            return 400, invalid_form_body(
                {"type": ("INTERACTION_RESPONSE_TYPE_INVALID", f"bad type {rtype}")}
            )
        data: JSON = body.get("data") or {}
        if rtype in (CALLBACK_CHANNEL_MESSAGE, CALLBACK_UPDATE_MESSAGE):
            invalid = validate_message_body(
                data, has_files=bool(call.files), creating=rtype == CALLBACK_CHANNEL_MESSAGE
            )
            if invalid:
                handle._record("callback", body, call.at, status=400)
                return 400, invalid
        if rtype == CALLBACK_MODAL:
            invalid = validate_modal(data)
            if invalid:
                handle._record("callback", body, call.at, status=400)
                return 400, invalid
        if rtype == CALLBACK_AUTOCOMPLETE_RESULT:
            invalid = validate_autocomplete_result(data)
            if invalid:
                handle._record("callback", body, call.at, status=400)
                return 400, invalid
        interaction: JSON = {"id": str(handle.id), "type": handle.type}
        response: JSON = {"interaction": interaction}
        msg: JSON | None = None
        if rtype in (CALLBACK_CHANNEL_MESSAGE, CALLBACK_DEFERRED_CHANNEL_MESSAGE):
            ephemeral = int(data.get("flags") or 0) & MESSAGE_FLAG_EPHEMERAL
            loading = rtype == CALLBACK_DEFERRED_CHANNEL_MESSAGE
            flags = (int(data.get("flags") or 0) & ~MESSAGE_FLAG_LOADING) | ephemeral
            if loading:
                flags = ephemeral | MESSAGE_FLAG_LOADING
            msg = self._interaction_message(
                handle,
                {} if loading else data,
                [] if loading else call.files,
                flags=flags,
                type=20 if handle.type == INTERACTION_APPLICATION_COMMAND else 0,
            )
            handle.original_message_id = int(msg["id"])
            handle.loading = loading
            interaction.update(
                response_message_id=msg["id"],
                response_message_loading=loading,
                response_message_ephemeral=bool(ephemeral),
            )
            await self._announce_new(msg)
        elif rtype == CALLBACK_UPDATE_MESSAGE and handle.original_message_id is not None:
            msg = self._find_message(handle.original_message_id)
            if msg is not None:
                self._apply_edit(msg, data, call.files)
                await self._announce_update(msg)
        handle.response_type = rtype
        handle._record("callback", body, call.at, message_id=handle.original_message_id)
        if msg is not None:
            response["resource"] = {"type": rtype, "message": msg}
        elif rtype in (CALLBACK_AUTOCOMPLETE_RESULT, CALLBACK_MODAL):
            response["resource"] = {"type": rtype}
        return 200, response

    def _webhook_handle(self, m: re.Match[str]) -> InteractionHandle | None:
        if int(m["app"]) != self.application_id:
            return None
        token = m["token"]
        return next((h for h in self.interactions.values() if h.token == token), None)

    async def _followup(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        handle = self._webhook_handle(m)
        if handle is None or handle.response_type is None:
            # Discord only accepts followups once the interaction was acknowledged
            return 404, error_body(UNKNOWN_WEBHOOK, "Unknown Webhook")
        body: JSON = call.json if isinstance(call.json, dict) else {}
        invalid = validate_message_body(body, has_files=bool(call.files), creating=True)
        if invalid:
            handle._record("followup", body, call.at, status=400)
            return 400, invalid
        original = (
            self._find_message(handle.original_message_id)
            if handle.original_message_id is not None
            else None
        )
        if (
            handle.response_type == CALLBACK_DEFERRED_CHANNEL_MESSAGE
            and handle.loading
            and original is not None
        ):
            # the first followup after "thinking" replaces the loading message
            handle.loading = False
            original["flags"] = int(original["flags"]) & ~MESSAGE_FLAG_LOADING
            self._apply_edit(original, body, call.files)
            original["edited_timestamp"] = None
            handle._record("followup", body, call.at, message_id=int(original["id"]))
            await self._announce_update(original)
            return 200, original
        flags = int(body.get("flags") or 0) & (
            MESSAGE_FLAG_EPHEMERAL | MESSAGE_FLAG_SUPPRESS_EMBEDS
        )
        msg = self._interaction_message(handle, body, call.files, flags=flags, type=0)
        handle.followup_ids.append(int(msg["id"]))
        handle._record("followup", body, call.at, message_id=int(msg["id"]))
        await self._announce_new(msg)
        return 200, msg

    def _webhook_target(
        self, m: re.Match[str]
    ) -> tuple[InteractionHandle | None, JSON | None, Reply | None]:
        handle = self._webhook_handle(m)
        if handle is None:
            return None, None, (404, error_body(UNKNOWN_WEBHOOK, "Unknown Webhook"))
        if m["message"] == "@original":
            if handle.response_type is None:
                return handle, None, (404, error_body(UNKNOWN_WEBHOOK, "Unknown Webhook"))
            mid = handle.original_message_id
        else:
            mid = int(m["message"])
            if mid not in handle.followup_ids and mid != handle.original_message_id:
                return handle, None, (404, error_body(UNKNOWN_MESSAGE, "Unknown Message"))
        msg = self._find_message(mid) if mid is not None else None
        if msg is None:
            return handle, None, (404, error_body(UNKNOWN_MESSAGE, "Unknown Message"))
        return handle, msg, None

    async def _get_webhook_message(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        _, msg, err = self._webhook_target(m)
        return err or (200, msg)

    async def _edit_webhook_message(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        handle, msg, err = self._webhook_target(m)
        kind = "edit_original" if m["message"] == "@original" else "edit_message"
        body: JSON = call.json if isinstance(call.json, dict) else {}
        if handle is None or msg is None:
            if handle is not None and err is not None:
                handle._record(kind, body, call.at, status=err[0])
            return err or (404, None)
        invalid = validate_message_body(body, has_files=bool(call.files), creating=False)
        if invalid:
            handle._record(kind, body, call.at, status=400)
            return 400, invalid
        if int(msg["id"]) == handle.original_message_id and handle.loading:
            handle.loading = False
            msg["flags"] = int(msg["flags"]) & ~MESSAGE_FLAG_LOADING
        self._apply_edit(msg, body, call.files)
        handle._record(kind, body, call.at, message_id=int(msg["id"]))
        await self._announce_update(msg)
        return 200, msg

    async def _delete_webhook_msg(self, call: RecordedCall, m: re.Match[str]) -> Reply:
        handle, msg, err = self._webhook_target(m)
        kind = "delete_original" if m["message"] == "@original" else "delete_message"
        if handle is None or msg is None:
            if handle is not None and err is not None:
                handle._record(kind, None, call.at, status=err[0])
            return err or (404, None)
        self._drop_message(int(msg["id"]))
        handle._record(kind, None, call.at, message_id=int(msg["id"]))
        await self._announce_delete(msg)
        return 204, None

    # ----------------------------------------------------------------------------- gateway in

    async def _handle_gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=None, autoping=True)
        if not ws.can_prepare(request).ok:
            return _json_response(200, {"url": self.gateway_url})
        await ws.prepare(request)
        conn = _Connection(ws)
        self._connections.add(conn)
        try:
            await conn.send({"op": 10, "d": {"heartbeat_interval": 41250}})
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                await self._on_gateway_frame(conn, json.loads(msg.data))
        finally:
            self._connections.discard(conn)
            session = conn.session
            if session is not None and session.conn is conn:
                session.conn = None
                # A client that closes cleanly (1000/1001) ends its session, as on Discord.
                if not conn.server_closed and ws.close_code in (1000, 1001):
                    session.resumable = False
        return ws

    async def _on_gateway_frame(self, conn: _Connection, frame: JSON) -> None:
        op = frame.get("op")
        d = frame.get("d")
        if op == 1:
            await conn.send({"op": 11})
        elif op == 2 and isinstance(d, dict):
            await self._identify(conn, d)
        elif op == 6 and isinstance(d, dict):
            await self._resume(conn, d)
        elif op == 8 and isinstance(d, dict) and conn.session is not None:
            await self._request_members(conn.session, d)

    async def _identify(self, conn: _Connection, d: JSON) -> None:
        if self.token is not None and d.get("token") != self.token:
            conn.server_closed = True
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        session = _Session(uuid.uuid4().hex, int(d.get("intents", 0)))
        session.conn = conn
        conn.session = session
        self._sessions[session.session_id] = session
        await session.send_dispatch("READY", self.ready_payload(session.session_id, d.get("shard")))
        await session.send_dispatch("GUILD_CREATE", self.guild_payload(intents=session.intents))
        for guild in self.other_servers.values():
            await session.send_dispatch("GUILD_CREATE", guild)
        async with self._cond:
            self.identify_payloads.append(d)
            self.identify_count += 1
            self.identified.set()
            self._cond.notify_all()

    async def _resume(self, conn: _Connection, d: JSON) -> None:
        session = self._sessions.get(str(d.get("session_id")))
        if session is None or not session.resumable:
            await conn.send({"op": 9, "d": False})
            return
        async with session.lock:
            session.conn = conn
            conn.session = session
            seq = int(d.get("seq") or 0)
            for frame in session.frames:
                if frame["s"] > seq:
                    await conn.send(frame)
        await session.send_dispatch("RESUMED", {"_trace": ["fake-discord"]})
        async with self._cond:
            self.resume_count += 1
            self._cond.notify_all()

    async def _request_members(self, session: _Session, d: JSON) -> None:
        query = str(d.get("query") or "").lower()
        user_ids = {int(u) for u in d.get("user_ids") or []}
        limit = int(d.get("limit") or 0) or len(self.members)
        found = [
            u
            for u in self.members.values()
            if (u.id in user_ids) or (not user_ids and u.name.lower().startswith(query))
        ][:limit]
        data: JSON = {
            "guild_id": str(self.guild_id),
            "members": [member_payload(u) for u in found],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [str(u) for u in user_ids - {u.id for u in found}],
        }
        if d.get("nonce") is not None:
            data["nonce"] = d["nonce"]
        await session.send_dispatch("GUILD_MEMBERS_CHUNK", data)


def snowflake_ids(messages: Iterable[JSON]) -> list[int]:
    """Message ids as ints (handy for asserting order)."""
    return [int(m["id"]) for m in messages]
