# This file is about look-alike and right-to-left characters: they are the test data.
# ruff: noqa: RUF001

"""Hostile input, checked with generated examples: durations, task text, session ids, webhooks.

Each property says what the bot must do for *any* input of a kind: accept it as it is, or refuse
it with the reason that fits, whose message (in every language of the catalogue) reads cleanly
to the person who sent it, and never fail in some other way. The core runs against a real store
and the fake Chaster (tests/core_env.py); the web server on a real socket.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from bot.chaster import RateLimiter
from bot.chaster.errors import SESSION_ID_PATTERN
from bot.chaster.models import SESSION_ID_REGEX, WebhookEnvelope
from bot.core.durations import (
    MAX_DURATION_SECONDS,
    MIN_DURATION_SECONDS,
    format_duration,
    parse_duration,
)
from bot.core.errors import Reason, Refused, Typed
from bot.core.model import TaskAction
from bot.core.text import (
    BIDI_CONTROLS,
    MAX_DESCRIPTION_LENGTH,
    NO_DESCRIPTION,
    check_description,
    clean_task_text,
    same_task,
)
from bot.discord_side.voice import Voice
from bot.i18n import default_catalogue
from bot.store import TaskState
from bot.web import MAX_BODY_BYTES, WebServer
from tests.core_env import CHANNEL, GUILD, KH, SLUG, WEARER, CoreEnv, refused

EnvFactory = Callable[..., Awaitable[CoreEnv]]

AUTH = ("chaster", "webhook-secret")
# A session id is quoted back in a refusal up to this many characters.
SESSION_ID_QUOTE = 80
LANGUAGES = default_catalogue().languages

# Async properties share one fixture (one fake Chaster, one database) across their examples;
# each example starts by resetting what it checks.
SHARED_FIXTURE = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])

# Hypothesis never generates lone surrogates; JSON can carry them ("\\ud800"), so mix some in.
LONE_SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff"]
any_text = st.lists(st.text(max_size=8) | st.sampled_from(LONE_SURROGATES), max_size=4).map("".join)


def _assert_quotable(message: str) -> None:
    """A refusal quoting the input keeps its backticks paired and carries no hidden characters."""
    assert message.count("`") % 2 == 0, message
    for char in message:
        assert unicodedata.category(char) not in ("Cc", "Cs"), repr(message)
        assert char not in BIDI_CONTROLS, repr(message)


def _assert_reads_cleanly(refusal: Refused) -> None:
    """The refusal's message, in every language, is one a reply can carry as it is."""
    for language in LANGUAGES:
        _assert_quotable(Voice(language).refusal(refusal))


# -- durations ------------------------------------------------------------------------------

# What people might type, and what a hostile client might send instead.
duration_texts = st.one_of(
    st.text(),
    any_text,
    st.text(alphabet="0123456789hms  \t\n+-.,:_", max_size=20),
    st.from_regex(r"\s*[0-9]{0,9}h?[0-9]{0,9}m?[0-9]{0,9}s?\s*", fullmatch=True),
    # Digits that are digits to `str.isdigit` or `int()` but not to people typing minutes.
    st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=8),
)


@given(duration_texts)
@example("9" * 5000)  # int() refuses strings this long
@example("１５")  # fullwidth digits
@example("١٥")  # Arabic-Indic digits
@example("²")  # isdigit() says yes
@example("-15")
@example("+15")
@example("1e3")
@example("15.5")
@example(" 1h 30m ")
@example("0")
@example("")
@example("`15m`")
@example("\x00\u202e15m")
@example("\ud800")
def test_any_duration_text_is_seconds_in_range_or_a_clear_refusal(text: str) -> None:
    try:
        seconds = parse_duration(text)
    except Refused as refusal:
        assert type(refusal) is Refused
        if refusal.reason is Reason.DURATION_OUT_OF_RANGE:
            assert set(refusal.params) == {"input", "duration"}, refusal
        else:
            assert refusal.reason is Reason.DURATION_UNREADABLE, refusal
            assert set(refusal.params) == {"input"}, refusal
        # What the person typed is quoted back as typed (the message cuts and cleans it).
        assert refusal.params["input"] == Typed(text)
        _assert_reads_cleanly(refusal)
    else:
        assert MIN_DURATION_SECONDS <= seconds <= MAX_DURATION_SECONDS


@given(st.integers(MIN_DURATION_SECONDS, MAX_DURATION_SECONDS))
def test_a_formatted_duration_parses_back_to_itself(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@given(st.integers(0, 10**9).filter(lambda s: not MIN_DURATION_SECONDS <= s <= 86_400))
@example(0)
@example(59)
@example(86_401)
@example(999_999)  # the most digits a number of seconds may have
@example(1_000_000)
def test_a_duration_out_of_range_is_refused_whatever_its_form(seconds: int) -> None:
    duration = format_duration(seconds)
    # Hours, minutes and seconds as the bot writes them: read, and out of range.
    text = format_duration(seconds)
    with refused(Reason.DURATION_OUT_OF_RANGE, input=Typed(text), duration=duration):
        parse_duration(text)
    # A bare count of seconds: out of range, or (past six digits) not read as a duration at all.
    text = f"{seconds}s"
    if len(str(seconds)) <= 6:
        with refused(Reason.DURATION_OUT_OF_RANGE, input=Typed(text), duration=duration):
            parse_duration(text)
    else:
        with refused(Reason.DURATION_UNREADABLE, input=Typed(text)) as caught:
            parse_duration(text)
        assert set(caught.value.params) == {"input"}


# -- task text ------------------------------------------------------------------------------

ZWJ = "\u200d"
EMOJI_ZWJ = [
    f"👩{ZWJ}👩{ZWJ}👧{ZWJ}👦",
    f"🏳️{ZWJ}🌈",
    f"🧑🏽{ZWJ}💻",
]
RTL = ["שלום עולם", "כרע על הברכיים", "مرحبا بالعالم", "اكتب ١٠٠ سطر", "Kneel — כרע"]
MENTIONS_AND_MARKDOWN = [
    "@everyone kneel",
    "@here now",
    "<@&3000> look",
    "<@5003> watch",
    "**bold** __under__ *it* ~~strike~~ ||spoiler|| `code` ```block``` > quote",
    "[link](https://example.com) # heading",
]

# Characters that show nothing on their own.
invisible_chars = st.one_of(
    st.characters(categories=["Zs", "Mn", "Me"]),
    st.sampled_from(
        [
            *(" ", "\n", "\t", "\u200b", "\u200c", ZWJ, "\u2060", "\ufeff", "\u00ad"),
            *("\u3164", "\u2800", "\u115f", "\u200e", "\u200f", "\u061c", "\u2028", "\u2029"),
            "\u180e",
        ]
    ),
)
visible_text = st.text(
    alphabet=st.characters(categories=["L", "N", "P", "S"]), min_size=1, max_size=80
)
plain_extras = st.sampled_from([" ", "\n", "\t", ZWJ, "\u200c", "\u200b", "\u200e", "\u200f"])
# Text a person could well type: visible characters, spacing, joiners, RTL, emoji, markdown.
ordinary_descriptions = st.lists(
    st.one_of(
        visible_text,
        plain_extras,
        st.sampled_from(EMOJI_ZWJ + RTL + MENTIONS_AND_MARKDOWN),
    ),
    min_size=1,
    max_size=8,
).map("".join)


def _accepted(text: str) -> str:
    """The stripped text, when it should be accepted (it has a visible character)."""
    stripped = text.strip()
    assert 1 <= len(stripped) <= MAX_DESCRIPTION_LENGTH
    return stripped


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cs") and c not in "\n\t" for c in text)


def _assert_description_refusal(refusal: Refused, typed: str) -> None:
    """`refusal` names the first rule the typed text breaks: no control characters, then no
    direction overrides, then something visible, then 1 to 500 characters long."""
    assert type(refusal) is Refused
    text = typed.strip()
    length = (Reason.DESCRIPTION_LENGTH, {"limit": MAX_DESCRIPTION_LENGTH, "count": len(text)})
    shown = (refusal.reason, refusal.params)
    if _has_control(text):
        assert shown == (Reason.DESCRIPTION_CONTROL, {}), refusal
    elif any(char in BIDI_CONTROLS for char in text):
        assert shown == (Reason.DESCRIPTION_BIDI, {}), refusal
    elif any(char.isascii() and char.isalnum() for char in text):
        assert shown == length, refusal  # visible for sure: only its length can be wrong
    else:
        assert shown in ((Reason.DESCRIPTION_INVISIBLE, {}), length), refusal
    _assert_reads_cleanly(refusal)


@given(st.text(max_size=600) | any_text)
@example("x" * 501)
@example("\u202etpecca")
@example("\x00")
@example("\ud800 text")
@example("\u200b\u200b")
def test_any_description_is_accepted_as_typed_or_refused_clearly(text: str) -> None:
    try:
        accepted = check_description(text)
    except Refused as refusal:
        _assert_description_refusal(refusal, text)
        return
    assert accepted == text.strip()
    assert 1 <= len(accepted) <= MAX_DESCRIPTION_LENGTH
    assert not any(char in BIDI_CONTROLS for char in accepted)
    assert not any(unicodedata.category(c) in ("Cc", "Cs") and c not in "\n\t" for c in accepted)
    # What Chaster sends back for it is stored the same way: the two sides keep matching.
    assert clean_task_text(accepted) == accepted
    assert same_task(accepted, accepted)


@given(ordinary_descriptions.filter(lambda t: 1 <= len(t.strip()) <= MAX_DESCRIPTION_LENGTH))
@example(EMOJI_ZWJ[0])
@example(RTL[0])
@example(RTL[2])
@example("@everyone <@&3000> <@5003> **x** ||x|| `")
def test_emoji_sequences_rtl_letters_mentions_and_markdown_are_kept_unchanged(text: str) -> None:
    if not text.strip().strip("".join({ZWJ, "\u200c", "\u200b", "\u200e", "\u200f"})):
        return  # only spacing and joiners: nothing visible (the next property)
    assert check_description(text) == _accepted(text)


@given(st.text(invisible_chars, min_size=1, max_size=600))
def test_a_description_with_nothing_visible_is_refused(text: str) -> None:
    if text.strip():
        with refused(Reason.DESCRIPTION_INVISIBLE) as caught:
            check_description(text)
        assert caught.value.params == {}
    else:
        with refused(Reason.DESCRIPTION_LENGTH) as caught:
            check_description(text)
        assert caught.value.params == {"limit": MAX_DESCRIPTION_LENGTH, "count": 0}


@given(
    st.text(min_size=0, max_size=40),
    st.sampled_from(sorted(BIDI_CONTROLS)),
    st.text(min_size=0, max_size=40),
)
def test_direction_overrides_and_isolates_are_refused_anywhere(
    before: str, control: str, after: str
) -> None:
    text = f"visible {before}{control}{after} text"
    with pytest.raises(Refused) as caught:
        check_description(text)
    # A control character elsewhere in the text is named first; otherwise the override.
    expected = Reason.DESCRIPTION_CONTROL if _has_control(text) else Reason.DESCRIPTION_BIDI
    assert (caught.value.reason, caught.value.params) == (expected, {})
    _assert_description_refusal(caught.value, text)


@given(st.text(min_size=MAX_DESCRIPTION_LENGTH + 1, max_size=900).filter(lambda t: t.strip()))
@example("x" * (MAX_DESCRIPTION_LENGTH + 1))
@example(f"  {'כ' * MAX_DESCRIPTION_LENGTH}y\n")
def test_a_description_over_the_limit_is_refused(text: str) -> None:
    stripped = text.strip()
    if len(stripped) <= MAX_DESCRIPTION_LENGTH:
        return
    with pytest.raises(Refused) as caught:
        check_description(text)
    _assert_description_refusal(caught.value, text)


@given(st.text(alphabet=st.characters(categories=["L", "N", "P", "S", "Zs"]), max_size=900))
def test_a_description_of_plain_text_is_refused_only_for_its_length(padding: str) -> None:
    text = f"x{padding}x"
    if len(text) <= MAX_DESCRIPTION_LENGTH:
        assert check_description(text) == text
        return
    with refused(Reason.DESCRIPTION_LENGTH) as caught:
        check_description(text)
    assert caught.value.params == {"limit": MAX_DESCRIPTION_LENGTH, "count": len(text)}


@given(st.text(max_size=700) | any_text)
@example("\u202eevil\u202c text")
@example("\x00Kneel\x07 now")
@example("\u200b")
@example("a" * 499 + " b")
def test_task_text_from_chaster_is_cleaned_into_an_acceptable_description(raw: str) -> None:
    cleaned = clean_task_text(raw)
    # The cleaned text is one that could have been typed here, and cleaning again keeps it.
    assert check_description(cleaned) == cleaned
    assert clean_task_text(cleaned) == cleaned
    assert same_task(raw, cleaned)
    assert not any(char in BIDI_CONTROLS for char in cleaned)
    if cleaned != NO_DESCRIPTION:
        kept = [
            c
            for c in raw
            if c in "\n\t"
            or (c not in BIDI_CONTROLS and unicodedata.category(c) not in ("Cc", "Cs"))
        ]
        assert set(cleaned) <= {*kept, " "}


def test_bidi_controls_from_chaster_are_blanked_and_rtl_letters_kept() -> None:
    assert clean_task_text("abc\u202eexe.txt") == "abc exe.txt"
    assert clean_task_text("\u2067שלום\u2069 world") == "שלום  world"
    for text in EMOJI_ZWJ + RTL:
        assert clean_task_text(text) == text


# -- the core: refusals come before Chaster, accepted text reaches it unchanged -------------


@pytest.fixture
async def env(make_env: EnvFactory) -> CoreEnv:
    """The shared environment with WEARER linked by the keyholder. Its rate limiter has room
    for every generated example: pacing is tested elsewhere, and would only slow these."""
    environment = await make_env(limiter=RateLimiter(limit=100_000))
    await environment.linked()
    return environment


hostile_descriptions = st.one_of(
    st.text(max_size=600),
    any_text,
    st.text(invisible_chars, min_size=1, max_size=20),
    st.tuples(st.text(max_size=20), st.sampled_from(sorted(BIDI_CONTROLS))).map("x".join),
    st.text(min_size=501, max_size=600),
)


def _first_refusal(description: str, duration: str | None) -> Refused | None:
    """What the text checks alone say of an assign: the description first, then the duration."""
    try:
        check_description(description)
        if duration is not None and duration.strip():
            parse_duration(duration)
    except Refused as refusal:
        return refusal
    return None


@SHARED_FIXTURE
@given(description=hostile_descriptions, duration=st.none() | duration_texts)
async def test_every_refused_assign_is_refused_before_any_chaster_call(
    env: CoreEnv, description: str, duration: str | None
) -> None:
    env.fake.calls.clear()
    expected = _first_refusal(description, duration)
    if expected is not None:
        with refused(expected.reason, Refused, **expected.params) as caught:
            await env.assign(description=description, points=1, duration=duration)
        assert caught.value.params == expected.params
        assert env.fake.calls == []
        return
    task = await env.assign(description=description, points=1, duration=duration)
    # Accepted: exactly the typed text (trimmed) went to Chaster; clear it for the next example.
    [assign] = env.posts("assign")
    assert assign.json["task"]["task"] == task.description == description.strip()
    await env.act(KH, TaskAction.FAIL)


@SHARED_FIXTURE
@given(ordinary_descriptions.filter(lambda t: 1 <= len(t.strip()) <= MAX_DESCRIPTION_LENGTH))
@example(EMOJI_ZWJ[0])
@example(RTL[2])
async def test_accepted_text_round_trips_through_chaster_and_still_matches(
    env: CoreEnv, description: str
) -> None:
    try:
        check_description(description)
    except Refused:
        return  # nothing visible: covered above
    task = await env.assign(description=description, points=1)
    assert task.description == description.strip()
    # Completing reads Chaster's current task and must recognise it as this one.
    done = await env.act(KH, TaskAction.COMPLETE)
    assert done.id == task.id and done.state is TaskState.COMPLETED


# -- session ids ----------------------------------------------------------------------------

BAD_SESSION_IDS = [
    "/",
    "..",
    "../x",
    "a/../b",
    "%2F",
    "abc%2F..%2Fsearch",
    "a b",
    "sessión",
    "",
    "a" * 65,
    "abc?limit=1",
    "abc#x",
    "abc\x00",
    "\u202eabc",
    "١٢٣",
]


async def _link_refused_without_a_call(env: CoreEnv, session_id: str) -> None:
    """Linking `session_id` is refused as no session id, and Chaster hears nothing of it."""
    await env.core.links.unlink(KH, WEARER)
    env.fake.calls.clear()
    quoted = Typed(session_id, SESSION_ID_QUOTE)
    with refused(Reason.INVALID_SESSION_ID, session_id=quoted) as caught:
        await env.core.links.link(KH, WEARER, session_id, CHANNEL)
    assert caught.value.params == {"session_id": quoted}
    _assert_reads_cleanly(caught.value)
    assert env.fake.calls == []


@SHARED_FIXTURE
@given(st.text(max_size=80).filter(lambda s: not SESSION_ID_PATTERN.fullmatch(s.strip())))
async def test_a_session_id_of_the_wrong_form_never_reaches_chaster(
    env: CoreEnv, session_id: str
) -> None:
    try:
        await _link_refused_without_a_call(env, session_id)
    finally:
        await _relink(env)


@pytest.mark.parametrize("session_id", BAD_SESSION_IDS)
async def test_known_path_tricks_in_a_session_id_never_reach_chaster(
    env: CoreEnv, session_id: str
) -> None:
    await _link_refused_without_a_call(env, session_id)


@SHARED_FIXTURE
@given(st.from_regex(SESSION_ID_PATTERN, fullmatch=True))
async def test_an_accepted_session_id_reaches_exactly_its_own_path(
    env: CoreEnv, session_id: str
) -> None:
    await env.core.links.unlink(KH, WEARER)
    env.fake.calls.clear()
    try:
        quoted = Typed(session_id, SESSION_ID_QUOTE)
        with refused(Reason.NO_SUCH_SESSION, session_id=quoted) as caught:
            await env.core.links.link(KH, WEARER, session_id, CHANNEL)
        assert caught.value.params == {"session_id": quoted}
        assert [(call.method, call.path) for call in env.fake.calls] == [
            ("GET", f"/api/extensions/sessions/{session_id}")
        ]
    finally:
        await _relink(env)


async def _relink(env: CoreEnv) -> None:
    outcome = await env.core.links.link(KH, WEARER, env.session.session_id, CHANNEL)
    assert outcome.link is not None


def test_webhook_and_client_agree_on_the_form_of_a_session_id() -> None:
    assert SESSION_ID_REGEX == f"^{SESSION_ID_PATTERN.pattern}$"


# -- webhook bodies -------------------------------------------------------------------------


@dataclass
class Hook:
    web: WebServer
    env: CoreEnv
    http: httpx.AsyncClient
    records: list[logging.LogRecord]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web.port}/chaster/webhook"

    async def post(self, content: bytes, **headers: str) -> httpx.Response:
        response = await self.http.post(
            self.url,
            content=content,
            auth=AUTH,
            headers={"Content-Type": "application/json", **headers},
        )
        # Whatever was accepted is handled before the next look at the logs.
        await asyncio.wait_for(self.web.settled(), timeout=10)
        return response

    async def post_json(self, value: Any) -> httpx.Response:
        return await self.post(json.dumps(value).encode())

    def assert_clean(self, response: httpx.Response) -> None:
        """A 2xx or a 4xx, and nothing went wrong in the server or its worker."""
        assert response.status_code < 500, response.text
        failures = [
            f"{r.name}: {r.getMessage()}"
            for r in self.records
            if r.levelno >= logging.ERROR or r.exc_info
        ]
        assert failures == []


class _Collect(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
async def hook(env: CoreEnv) -> AsyncIterator[Hook]:
    # On the root logger, so aiohttp's "Error handling request" and the worker's exceptions
    # are both seen, whatever pytest's own log capture is set to.
    records: list[logging.LogRecord] = []
    handler = _Collect(records)
    root = logging.getLogger()
    root.addHandler(handler)
    web = WebServer(
        env.store,
        env.core.handle_webhook,
        env.clock.now,
        host="127.0.0.1",
        port=0,
        username=AUTH[0],
        password=SecretStr(AUTH[1]),
        is_healthy=lambda: True,
    )
    await web.start()
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            yield Hook(web, env, http, records)
    finally:
        await web.stop()
        root.removeHandler(handler)


def action_log_envelope(session_id: str) -> dict[str, Any]:
    """A real `action_log.created` delivery: a task completed inside Chaster."""
    return {
        "event": "action_log.created",
        "sentAt": "2026-01-01T00:00:00.000Z",
        "requestId": "req-action-log",
        "data": {
            "sessionId": session_id,
            "actionLog": {
                "_id": "6123456789abcdef01234567",
                "type": "tasks_task_completed",
                "lock": "6123456789abcdef01234568",
                "role": "user",
                "extension": "tasks",
                "prefix": "default",
                "title": "Task completed",
                "description": "",
                "payload": {"task": {"task": "Kneel", "points": 2}},
                "createdAt": "2026-01-01T00:00:00.000Z",
                "user": {"_id": "6123456789abcdef01234569", "username": "wearer"},
            },
        },
    }


def deleted_envelope(session_id: str) -> dict[str, Any]:
    return {
        "event": "extension_session.deleted",
        "requestId": "req-deleted",
        "data": {"session": {"sessionId": session_id}, "extension": {"slug": SLUG}},
    }


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4)
    ),
    max_leaves=12,
)


def _not(kind: type, *, nullable: bool) -> st.SearchStrategy[Any]:
    """JSON values that are not of `kind` (and not null either, where null is allowed)."""
    return json_values.filter(lambda v: not isinstance(v, kind) and not (nullable and v is None))


# Every field the bot reads, with the JSON type it must have; nullable fields may be null.
ENVELOPE_FIELDS: list[tuple[str, tuple[str, ...], type, bool]] = [
    ("action_log", ("event",), str, False),
    ("action_log", ("requestId",), str, True),
    ("action_log", ("data",), dict, False),
    ("action_log", ("data", "sessionId"), str, False),
    ("action_log", ("data", "actionLog"), dict, False),
    ("action_log", ("data", "actionLog", "_id"), str, False),
    ("action_log", ("data", "actionLog", "type"), str, False),
    ("action_log", ("data", "actionLog", "prefix"), str, True),
    ("action_log", ("data", "actionLog", "title"), str, True),
    ("action_log", ("data", "actionLog", "payload"), dict, True),
    ("action_log", ("data", "actionLog", "user"), dict, True),
    ("deleted", ("data", "session"), dict, False),
    ("deleted", ("data", "session", "sessionId"), str, False),
]


def _replace(body: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(body))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


@pytest.mark.parametrize(
    ("shape", "path", "kind", "nullable"),
    ENVELOPE_FIELDS,
    ids=[f"{shape}:{'.'.join(path)}" for shape, path, _, _ in ENVELOPE_FIELDS],
)
@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_a_wrong_type_in_any_field_of_a_handled_event_is_a_400_at_receipt(
    hook: Hook, shape: str, path: tuple[str, ...], kind: type, nullable: bool, data: st.DataObject
) -> None:
    session_id = hook.env.session.session_id
    real = (
        action_log_envelope(session_id) if shape == "action_log" else deleted_envelope(session_id)
    )
    value = data.draw(_not(kind, nullable=nullable), label=".".join(path))
    response = await hook.post_json(_replace(real, path, value))
    hook.assert_clean(response)
    assert response.status_code == 400, response.text
    # Refused at receipt: the link the body names is untouched.
    assert (await hook.env.store.get_open_link(GUILD, WEARER)) is not None


@pytest.mark.parametrize(
    "bad",
    [
        {"payload": {"task": {"points": 2}}},  # a task object without its text
        {"payload": {"task": {"task": 5}}},
        {"createdAt": "not a date"},
        {"user": {"username": "no id"}},
    ],
    ids=["task-without-text", "task-text-not-a-string", "bad-date", "user-without-id"],
)
async def test_a_malformed_action_log_is_refused_at_receipt_not_in_the_worker(
    hook: Hook, bad: dict[str, Any]
) -> None:
    body = action_log_envelope(hook.env.session.session_id)
    body["data"]["actionLog"].update(bad)
    response = await hook.post_json(body)
    hook.assert_clean(response)
    assert response.status_code == 400


@pytest.mark.parametrize("session_id", ["../x", "", "a/b", "a" * 65])
async def test_a_session_id_of_the_wrong_form_in_a_webhook_is_refused(
    hook: Hook, session_id: str
) -> None:
    for body in (action_log_envelope(session_id), deleted_envelope(session_id)):
        response = await hook.post_json(body)
        hook.assert_clean(response)
        assert response.status_code == 400


@SHARED_FIXTURE
@given(json_values)
@example([])
@example("action_log.created")
@example({"event": "action_log.created", "data": {}})
@example({"event": "extension_session.deleted", "data": {"session": None}})
@example({"event": "action_log.created", "data": {"sessionId": None, "actionLog": {}}})
async def test_any_json_value_gets_a_clean_answer(hook: Hook, value: Any) -> None:
    hook.assert_clean(await hook.post_json(value))


def _has_lone_surrogate(value: Any) -> bool:
    """Whether some string in `value` is not valid Unicode text (it cannot be UTF-8 encoded)."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


@SHARED_FIXTURE
@given(
    event=any_text.filter(lambda e: e not in ("action_log.created", "extension_session.deleted")),
    data=st.dictionaries(any_text, json_values, max_size=4),
    request_id=st.none() | any_text,
)
@example(event="extension_session.updated", data={}, request_id="\ud800")
async def test_an_unhandled_event_is_accepted_and_ignored_unless_its_text_is_broken(
    hook: Hook, event: str, data: dict[str, Any], request_id: str | None
) -> None:
    hook.env.fake.calls.clear()
    body: dict[str, Any] = {"event": event, "data": data, "requestId": request_id}
    response = await hook.post_json(body)
    hook.assert_clean(response)
    assert hook.env.fake.calls == []  # an event the bot does not handle costs no Chaster call
    # Text the store could not hold is refused at the door; anything else is acknowledged.
    # (Judged on what the server decodes: an adjacent high and low surrogate make one character.)
    received = json.loads(json.dumps(body))
    assert response.status_code == (400 if _has_lone_surrogate(received) else 200)


@SHARED_FIXTURE
@given(st.binary(max_size=200))
@example(b"")
@example(b"\xff\xfe\xfd")
@example(b"\xef\xbb\xbf{}")
@example(b'{"event": "x", "data": {}, "requestId": "\xff"}')
@example(b"NaN")
@example(b"1" * 5000)
async def test_any_bytes_get_a_clean_answer(hook: Hook, raw: bytes) -> None:
    hook.assert_clean(await hook.post(raw))


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"event": "x", "data": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_001,
        # Lone surrogates decode to strings that SQLite cannot store (the request id is stored).
        b'{"event": "extension_session.updated", "data": {}, "requestId": "\\ud800"}',
        b'{"event": "\\udfff", "data": {}}',
        b'{"event": "x", "data": {"\\ud800": 1}}',
    ],
    ids=["nested-arrays", "nested-objects", "surrogate-id", "surrogate-event", "surrogate-key"],
)
async def test_bodies_that_break_the_parser_or_the_store_are_a_400(hook: Hook, raw: bytes) -> None:
    response = await hook.post(raw)
    hook.assert_clean(response)
    assert response.status_code == 400


async def test_moderate_nesting_inside_data_is_accepted(hook: Hook) -> None:
    nested: Any = 1
    for _ in range(200):
        nested = [nested]
    response = await hook.post_json({"event": "x.y", "data": {"deep": nested}})
    hook.assert_clean(response)
    assert response.status_code == 200


async def test_the_content_type_is_not_what_decides(hook: Hook) -> None:
    # Basic auth proves the sender; the body is what is checked, whatever it claims to be.
    body = json.dumps({"event": "x.y", "data": {}}).encode()
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "image/png"):
        accepted = await hook.post(body, **{"Content-Type": content_type})
        hook.assert_clean(accepted)
        assert accepted.status_code == 200
        refused = await hook.post(b"event=x&data=1", **{"Content-Type": content_type})
        hook.assert_clean(refused)
        assert refused.status_code == 400


async def test_a_body_over_the_bound_is_a_413_even_compressed(hook: Hook) -> None:
    padding = "x" * (MAX_BODY_BYTES + 1)
    large = json.dumps({"event": "x.y", "data": {"pad": padding}}).encode()
    response = await hook.post(large)
    hook.assert_clean(response)
    assert response.status_code == 413
    # A small gzip body that inflates past the bound is refused the same way.
    bomb = gzip.compress(b" " * (MAX_BODY_BYTES * 8))
    response = await hook.post(bomb, **{"Content-Encoding": "gzip"})
    hook.assert_clean(response)
    assert response.status_code == 413


async def test_real_handled_envelopes_are_still_accepted(hook: Hook) -> None:
    session_id = hook.env.session.session_id
    response = await hook.post_json(action_log_envelope(session_id))
    hook.assert_clean(response)
    assert response.status_code == 200
    response = await hook.post_json(deleted_envelope(session_id))
    hook.assert_clean(response)
    assert response.status_code == 200
    assert (await hook.env.store.get_open_link(GUILD, WEARER)) is None


def test_a_parsed_envelope_exposes_only_its_own_event() -> None:
    created = WebhookEnvelope.model_validate(action_log_envelope("abc"))
    assert created.action_log_created is not None and created.session_deleted is None
    deleted = WebhookEnvelope.model_validate(deleted_envelope("abc"))
    assert deleted.session_deleted is not None and deleted.action_log_created is None
    other = WebhookEnvelope.model_validate({"event": "x", "data": {"sessionId": 1}})
    assert other.action_log_created is None and other.session_deleted is None
