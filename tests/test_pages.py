"""The backend of the extension's pages over HTTP: what each role sees, the link code, the
headers that keep the page inside Chaster, and every bad or abusive request."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bot.__main__ import QUIET_LOGGERS
from bot.core.link_codes import CodeResult
from bot.core.pages import EXCHANGE_CACHE_SECONDS
from bot.web_pages import PER_ADDRESS, PER_TOKEN
from tests.core_env import CHANNEL, COMPLETE, FAIL, GUILD, KH, START, WEARER, WR, CoreEnv
from tests.fakes.chaster import FakeSession
from tests.pages_env import Pages, serve_pages

ORIGIN = "https://chaster.app"


@pytest.fixture
async def pages(env: CoreEnv) -> AsyncIterator[Pages]:
    async with serve_pages(env, origins=(ORIGIN,)) as served:
        yield served


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


async def state(
    http: httpx.AsyncClient, pages: Pages, token: str, language: str = "en"
) -> httpx.Response:
    return await http.post(
        pages.at("/chaster/main/state"),
        json={"mainToken": token},
        headers={"Accept-Language": language},
    )


def auth_calls(env: CoreEnv) -> int:
    return env.fake.count_calls("GET", "/auth/sessions/")


async def test_the_page_is_self_contained_and_framed_only_by_chaster(
    http: httpx.AsyncClient, pages: Pages
) -> None:
    response = await http.get(pages.at("/chaster/main"), headers={"Accept-Language": "fr-CA,en"})
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert f"frame-ancestors {ORIGIN}" in policy
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    html = response.text
    assert '<html lang="fr">' in html
    assert "Chargement…" in html
    # Nothing from anywhere else: no absolute URL at all.
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    for asset in ("static/pages.css", "static/main.js"):
        assert asset in html
        served = await http.get(pages.at(f"/chaster/{asset}"))
        assert served.status_code == 200
        assert "http://" not in served.text and "https://" not in served.text
    assert (await http.get(pages.at("/chaster/static/../web.py"))).status_code == 404


async def test_the_wearer_sees_their_task_as_chaster_shows_it_and_a_code(
    env: CoreEnv, http: httpx.AsyncClient, pages: Pages
) -> None:
    await env.linked(enable_points=True, points_required=50, points=10)
    env.session.display_remaining_time = False
    await env.assign(description="Kneel for 10 minutes", duration="10m")
    await env.act(KH, START)
    token = env.fake.issue_main_token(env.session.session_id, "wearer")
    response = await state(http, pages, token)
    assert response.status_code == 200
    body = response.json()
    assert body["role"] == "wearer"
    assert body["task"]["text"] == "Kneel for 10 minutes"
    assert body["task"]["timerEndsAt"] is not None
    assert body["lock"]["endsAt"] is None  # the lock hides its timer from the wearer
    assert body["points"] == {"earned": 10, "required": 50}
    assert body["servers"] == [
        {"name": "Lock & Key Club", "keyholder": "Kim (keyholder)", "selfManaged": False}
    ]
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{3}-[2-9A-HJKMNP-Z]{3}", body["linkCode"])
    assert "sessionId" not in response.text and env.session.session_id not in response.text


async def test_the_keyholder_sees_the_timer_and_the_pause(
    env: CoreEnv, http: httpx.AsyncClient, pages: Pages
) -> None:
    await env.linked()
    env.session.display_remaining_time = False
    await env.core.pause.pause(WR, WEARER, "Rest")
    token = env.fake.issue_main_token(env.session.session_id, "keyholder")
    body = (await state(http, pages, token)).json()
    assert body["role"] == "keyholder"
    assert body["lock"]["endsAt"] is not None
    assert body["servers"][0]["paused"] is True
    assert body["task"] is None


async def test_recent_tasks_are_listed_newest_first(
    env: CoreEnv, http: httpx.AsyncClient, pages: Pages
) -> None:
    await env.linked()
    for n in range(7):
        await env.assign(description=f"Task {n}")
        await env.act(KH, COMPLETE if n % 2 else FAIL)
    token = env.fake.issue_main_token(env.session.session_id, "wearer")
    recent = (await state(http, pages, token)).json()["recent"]
    assert [(item["text"], item["outcome"]) for item in recent] == [
        ("Task 6", "failed"),
        ("Task 5", "completed"),
        ("Task 4", "failed"),
        ("Task 3", "completed"),
        ("Task 2", "failed"),
    ]


async def test_the_code_on_the_page_links_in_discord(
    env: CoreEnv, http: httpx.AsyncClient, pages: Pages
) -> None:
    session = env.add_lock()
    token = env.fake.issue_main_token(session.session_id, "wearer")
    code = (await state(http, pages, token)).json()["linkCode"]
    outcome = await env.core.link_codes.redeem(WR, code, CHANNEL)
    assert outcome.result is CodeResult.LINKED
    assert await env.store.get_open_link(GUILD, WEARER) is not None


async def test_an_exchange_is_reused_for_a_while(
    env: CoreEnv, http: httpx.AsyncClient, pages: Pages
) -> None:
    session = env.add_lock()
    token = env.fake.issue_main_token(session.session_id, "wearer")
    for _ in range(3):
        assert (await state(http, pages, token)).status_code == 200
    assert auth_calls(env) == 1
    env.advance(EXCHANGE_CACHE_SECONDS)
    assert (await state(http, pages, token)).status_code == 200
    assert auth_calls(env) == 2


@pytest.mark.parametrize("language", ["en", "de-DE", "es", "fr"])
async def test_an_expired_or_unknown_token_gets_a_clear_answer(
    env: CoreEnv, http: httpx.AsyncClient, pages: Pages, language: str
) -> None:
    session = env.add_lock()
    expired = env.fake.issue_main_token(session.session_id, "wearer")
    env.fake.expire_token(expired)
    words = {"en": "expired", "de-DE": "abgelaufen", "es": "caducado", "fr": "expiré"}[language]
    for token in (expired, "not-a-token-chaster-gave", "x" * 600, "../../sessions/abc"):
        response = await state(http, pages, token, language)
        assert response.status_code == 401, token
        assert response.json()["error"] == "token-invalid"
        assert words in response.json()["message"]
    # The last two never reached Chaster: they cannot be tokens.
    assert auth_calls(env) == 2
    assert await env.count("link_codes") == 0


@pytest.mark.parametrize(
    "body",
    [
        {"mainToken": "placeholder", "sessionId": "abc"},
        {"sessionId": "abc"},
        {"mainToken": 42},
        ["mainToken"],
        "mainToken",
    ],
)
async def test_a_session_id_or_a_malformed_body_is_refused(
    env: CoreEnv, http: httpx.AsyncClient, pages: Pages, body: Any
) -> None:
    session = env.add_lock()
    token = env.fake.issue_main_token(session.session_id, "wearer")
    if isinstance(body, dict) and body.get("mainToken") == "placeholder":
        body = {**body, "mainToken": token}
    response = await http.post(pages.at("/chaster/main/state"), json=body)
    assert response.status_code == 400
    assert response.json()["error"] == "bad-request"
    assert auth_calls(env) == 0


async def test_a_token_in_the_url_is_not_read(
    env: CoreEnv, http: httpx.AsyncClient, pages: Pages
) -> None:
    session = env.add_lock()
    token = env.fake.issue_main_token(session.session_id, "wearer")
    response = await http.post(pages.at(f"/chaster/main/state?mainToken={token}"), json={})
    assert response.status_code == 400
    assert auth_calls(env) == 0


async def test_a_huge_body_is_refused(http: httpx.AsyncClient, pages: Pages) -> None:
    response = await http.post(
        pages.at("/chaster/main/state"), content=b'{"mainToken": "' + b"a" * 40_000 + b'"}'
    )
    assert response.status_code == 413


async def test_calls_are_limited_per_token(
    env: CoreEnv, http: httpx.AsyncClient, pages: Pages
) -> None:
    session = env.add_lock()
    token = env.fake.issue_main_token(session.session_id, "wearer")
    answers = [(await state(http, pages, token)).status_code for _ in range(PER_TOKEN + 2)]
    assert answers == [200] * PER_TOKEN + [429, 429]
    other = env.fake.issue_main_token(session.session_id, "keyholder")
    assert (await state(http, pages, other)).status_code == 200


async def test_calls_are_limited_per_address(
    env: CoreEnv, http: httpx.AsyncClient, pages: Pages
) -> None:
    # Not of a token's form: refused without asking Chaster, but counted all the same.
    answers = [(await state(http, pages, f"bad{n}")).status_code for n in range(PER_ADDRESS + 1)]
    assert answers[-1] == 429
    assert set(answers[:-1]) == {401}


async def test_chaster_down_is_said_so(env: CoreEnv, http: httpx.AsyncClient, pages: Pages) -> None:
    session = env.add_lock()
    token = env.fake.issue_main_token(session.session_id, "wearer")
    env.fake.fail_next("GET", "/auth/sessions/", 503, "Service Unavailable", times=5)
    response = await state(http, pages, token)
    assert response.status_code == 503
    assert response.json()["error"] == "chaster-unavailable"


async def test_no_token_reaches_the_log(
    env: CoreEnv,
    http: httpx.AsyncClient,
    pages: Pages,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As the bot logs: everything of its own, the HTTP libraries' warnings only.
    caplog.set_level(logging.DEBUG)
    for name in QUIET_LOGGERS:
        quiet = logging.getLogger(name)
        monkeypatch.setattr(quiet, "level", quiet.level)  # put back after the test
        quiet.setLevel(logging.WARNING)
    session = env.add_lock()
    token = env.fake.issue_main_token(session.session_id, "wearer")
    configuration = env.fake.issue_configuration_token(session_id=session.session_id)
    env.fake.fail_next("GET", "/auth/sessions/", 503, "Service Unavailable", times=5)
    await state(http, pages, token)
    await state(http, pages, token)
    await http.post(
        pages.at("/chaster/config/state"), json={"partnerConfigurationToken": configuration}
    )
    assert caplog.records
    assert token not in caplog.text and configuration not in caplog.text


# -- the configuration page ---------------------------------------------------------------


def config_token(env: CoreEnv, session: FakeSession) -> str:
    return env.fake.issue_configuration_token(session_id=session.session_id)


async def test_the_configuration_is_read_checked_and_saved(
    env: CoreEnv, http: httpx.AsyncClient, pages: Pages
) -> None:
    session = env.add_lock()
    token = config_token(env, session)
    read = await http.post(
        pages.at("/chaster/config/state"), json={"partnerConfigurationToken": token}
    )
    assert read.status_code == 200
    assert read.json()["form"]["wearerCanComplete"] == "server"
    chosen = {
        "wearerCanComplete": "yes",
        "deadline": "90m",
        "onFail": {"action": "add_time", "amount": "2h", "reason": ""},
        "onDeadline": {"action": "none", "amount": "", "reason": ""},
    }
    saved = await http.post(
        pages.at("/chaster/config/save"), json={"partnerConfigurationToken": token, "form": chosen}
    )
    assert saved.status_code == 200
    assert session.config["deadlineSeconds"] == 5400
    assert session.config["onFail"] == {"action": "add_time", "seconds": 7200, "reason": None}
    again = await http.post(
        pages.at("/chaster/config/state"), json={"partnerConfigurationToken": token}
    )
    assert again.json()["form"]["deadlineSeconds"] == 5400


async def test_a_value_the_bot_cannot_use_is_never_saved(
    env: CoreEnv, http: httpx.AsyncClient, pages: Pages
) -> None:
    session = env.add_lock()
    token = config_token(env, session)
    chosen = {
        "wearerCanComplete": "server",
        "deadline": "",
        "onFail": {"action": "freeze", "amount": "1h", "reason": ""},
        "onDeadline": {"action": "none"},
    }
    response = await http.post(
        pages.at("/chaster/config/save"),
        json={"partnerConfigurationToken": token, "form": chosen},
        headers={"Accept-Language": "de"},
    )
    assert response.status_code == 422
    assert response.json()["field"] == "onFail"
    assert "`" not in response.json()["message"]
    assert env.fake.count_calls("PUT", "/configurations/") == 0
    assert session.config == {}


async def test_an_expired_configuration_token_saves_nothing(
    env: CoreEnv, http: httpx.AsyncClient, pages: Pages
) -> None:
    session = env.add_lock()
    token = config_token(env, session)
    env.fake.expire_token(token)
    form = {"wearerCanComplete": "no"}
    response = await http.post(
        pages.at("/chaster/config/save"), json={"partnerConfigurationToken": token, "form": form}
    )
    assert response.status_code == 401
    assert session.config == {}


async def test_a_lock_being_created_gets_its_defaults_saved_too(
    env: CoreEnv, http: httpx.AsyncClient, pages: Pages
) -> None:
    token = env.fake.issue_configuration_token(session_id=None, role="wearer")
    form = {"wearerCanComplete": "yes", "deadline": "1d"}
    response = await http.post(
        pages.at("/chaster/config/save"), json={"partnerConfigurationToken": token, "form": form}
    )
    assert response.status_code == 200
    assert env.fake.configuration_of(token)["deadlineSeconds"] == 86400
    assert response.json()["form"]["wearerCanComplete"] == "yes"
