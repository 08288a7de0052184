"""The fake Chaster's extension-page endpoints: the main page's token exchange and the
configuration page's GET/PUT (reference §10.1, §10.2), exercised over loopback HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.clock import FakeClock
from tests.fake_chaster.conftest import DISCONNECTED, assert_nest_error, parse_iso
from tests.fakes.chaster import API_PREFIX, FakeChaster, FakeSession, PageRole

HIDDEN = ("endDate", "maxDate", "minDate", "maxLimitDate")


def auth_path(token: str) -> str:
    return f"/auth/sessions/{token}"


def conf_path(token: str) -> str:
    return f"/configurations/{token}"


async def exchange(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    r = await client.get(auth_path(token), headers={"X-Chaster-Client-Id": "client-id"})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def get_session(client: httpx.AsyncClient, sess: FakeSession) -> dict[str, Any]:
    r = await client.get(f"/sessions/{sess.session_id}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()["session"]
    return body


# ---------------------------------------------------------------- main page: token exchange


async def test_exchange_for_wearer_and_keyholder(
    fake: FakeChaster, client: httpx.AsyncClient
) -> None:
    sess = fake.add_session()
    sess.config = {"difficulty": "hard"}
    parties: list[tuple[PageRole, dict[str, Any] | None]] = [
        ("wearer", sess.wearer),
        ("keyholder", sess.keyholder),
    ]
    for role, user in parties:
        assert user is not None
        token = fake.issue_main_token(sess.session_id, role)
        assert len(token) >= 43  # secrets.token_urlsafe(32)
        body = await exchange(client, token)
        assert list(body) == ["role", "session", "lockForUser", "userId"]
        assert body["role"] == role
        assert body["userId"] == user["_id"]
        assert body["session"] == fake.session_json(sess.session_id)
        assert body["session"]["config"] == {"difficulty": "hard"}
        lock = body["lockForUser"]
        assert lock == {**fake.lock_json(sess.session_id), "role": role}
        assert lock["isAllowedToViewTime"] is True
    # A token can be exchanged again while it lives (the docs suggest exchanging it again).
    again = fake.issue_main_token(sess.session_id, "wearer")
    assert (await exchange(client, again))["role"] == "wearer"
    assert (await exchange(client, again))["role"] == "wearer"
    (call, *_) = await fake.wait_for_call("GET", "/auth/sessions/")
    assert call.status == 200 and call.headers["X-Chaster-Client-Id"] == "client-id"


async def test_keyholder_token_of_a_self_lock_is_refused(fake: FakeChaster) -> None:
    sess = fake.add_session(has_keyholder=False)
    with pytest.raises(ValueError, match="no keyholder"):
        fake.issue_main_token(sess.session_id, "keyholder")
    with pytest.raises(ValueError, match="no keyholder"):
        fake.issue_configuration_token(session_id=sess.session_id, role="keyholder")
    with pytest.raises(ValueError, match="role"):
        fake.issue_main_token(sess.session_id, "visitor")  # type: ignore[arg-type]
    assert fake.issue_main_token(sess.session_id, "wearer")


async def test_hidden_timer_stays_hidden_for_the_wearer_only(
    fake: FakeChaster, client: httpx.AsyncClient
) -> None:
    sess = fake.add_session()
    sess.display_remaining_time = False
    full = fake.lock_json(sess.session_id)
    assert all(full[k] is not None for k in ("endDate", "maxDate", "minDate"))

    wearer = await exchange(client, fake.issue_main_token(sess.session_id, "wearer"))
    seen = wearer["lockForUser"]
    assert all(seen[k] is None for k in HIDDEN)
    assert seen["isAllowedToViewTime"] is False
    assert seen["displayRemainingTime"] is False and seen["role"] == "wearer"
    # Nothing else differs, and the backend's copy (session.lock) still has every date.
    rest = {k: v for k, v in seen.items() if k not in (*HIDDEN, "isAllowedToViewTime", "role")}
    assert rest == {k: v for k, v in full.items() if k not in (*HIDDEN, "isAllowedToViewTime")}
    assert wearer["session"]["lock"]["endDate"] == full["endDate"]

    keyholder = await exchange(client, fake.issue_main_token(sess.session_id, "keyholder"))
    assert keyholder["lockForUser"] == {**full, "role": "keyholder"}
    # The fake's own state was not touched by hiding.
    assert fake.lock_json(sess.session_id)["endDate"] == full["endDate"]


async def test_unknown_and_expired_main_tokens_get_the_same_answer(
    fake: FakeChaster, client: httpx.AsyncClient
) -> None:
    sess = fake.add_session()
    r = await client.get(auth_path("not-a-token"))
    unknown = r.json()
    assert assert_nest_error(r, 404) == "Session not found"
    assert unknown["error"] == "Not Found"

    token = fake.issue_main_token(sess.session_id, "wearer")
    await exchange(client, token)
    fake.advance(12 * 3600 - 5)
    await exchange(client, token)  # the 12 h have not gone by
    fake.advance(10)
    r = await client.get(auth_path(token))
    assert_nest_error(r, 404)
    assert r.json() == unknown

    short = fake.issue_main_token(sess.session_id, "keyholder", ttl=60)
    fake.expire_token(short)
    assert (await client.get(auth_path(short))).json() == unknown

    # A configuration token is no mainToken, and the status is a knob.
    conf = fake.issue_configuration_token(session_id=sess.session_id)
    fake.status_token_invalid = 401
    r = await client.get(auth_path(conf))
    assert assert_nest_error(r, 401) == "Session not found"

    with pytest.raises(KeyError):
        fake.expire_token("not-a-token")


async def test_tokens_follow_a_shared_clock() -> None:
    clock = FakeClock()
    async with (
        FakeChaster(clock=clock.now) as fake,
        httpx.AsyncClient(
            base_url=fake.api_url, headers={"Authorization": f"Bearer {fake.token}"}
        ) as client,
    ):
        sess = fake.add_session()
        main = fake.issue_main_token(sess.session_id, "wearer", ttl=600)
        conf = fake.issue_configuration_token(session_id=None)
        assert (await client.get(auth_path(main))).status_code == 200
        assert (await client.get(conf_path(conf))).status_code == 200
        clock.advance(600)
        assert_nest_error(await client.get(auth_path(main)), 404)
        assert (await client.get(conf_path(conf))).status_code == 200
        clock.advance(3000)
        assert_nest_error(await client.get(conf_path(conf)), 404)
        # expire_token works with a clock that stands still
        live = fake.issue_main_token(sess.session_id, "keyholder")
        fake.expire_token(live)
        assert_nest_error(await client.get(auth_path(live)), 404)


async def test_a_deleted_session_invalidates_its_tokens(
    fake: FakeChaster, client: httpx.AsyncClient
) -> None:
    sess = fake.add_session()
    main = fake.issue_main_token(sess.session_id, "wearer")
    conf = fake.issue_configuration_token(session_id=sess.session_id)
    del fake.sessions[sess.session_id]
    assert_nest_error(await client.get(auth_path(main)), 404)
    assert_nest_error(await client.get(conf_path(conf)), 404)


async def test_new_routes_need_the_bearer_token(fake: FakeChaster) -> None:
    sess = fake.add_session()
    main = fake.issue_main_token(sess.session_id, "wearer")
    conf = fake.issue_configuration_token(session_id=sess.session_id, config={"a": 1})
    async with httpx.AsyncClient(base_url=fake.api_url) as anon:
        r = await anon.get(auth_path(main))
        assert r.status_code == 401
        assert r.json() == {"statusCode": 401, "message": "Unauthorized"}
        r = await anon.get(conf_path(conf), headers={"Authorization": "Bearer wrong"})
        assert r.json() == {"statusCode": 401, "message": "Unauthorized"}
        r = await anon.put(conf_path(conf), json={"config": {"a": 2}})
        assert r.status_code == 401
    assert fake.configuration_of(conf) == {"a": 1}
    assert [(c.method, c.status) for c in fake.calls] == [("GET", 401), ("GET", 401), ("PUT", 401)]
    assert fake.token not in repr(fake.calls)


# ---------------------------------------------------------------- configuration page


async def test_configuration_of_a_running_session(
    fake: FakeChaster, client: httpx.AsyncClient
) -> None:
    sess = fake.add_session()
    sess.config = {"tasksPerDay": 2}
    before_issue = fake.now()
    token = fake.issue_configuration_token(session_id=sess.session_id)
    after_issue = fake.now()
    r = await client.get(conf_path(token))
    assert r.status_code == 200, r.text
    got = r.json()
    assert list(got) == ["config", "role", "user", "sessionId", "extensionSlug", "createdAt"]
    # The fake runs on real time here: the token was made between the two readings.
    created = parse_iso(got["createdAt"])
    assert before_issue.replace(microsecond=before_issue.microsecond // 1000 * 1000) <= created
    assert created <= after_issue
    assert {key: value for key, value in got.items() if key != "createdAt"} == {
        "config": {"tasksPerDay": 2},
        "role": "keyholder",
        "user": sess.keyholder["_id"] if sess.keyholder else None,
        "sessionId": sess.session_id,
        "extensionSlug": fake.slug,
    }
    assert fake.configuration_of(token) == {"tasksPerDay": 2}

    before = parse_iso((await get_session(client, sess))["updatedAt"])
    fake.advance(60)
    new = {"tasksPerDay": 5, "nested": {"list": [1, "x", None]}}
    r = await client.put(conf_path(token), json={"config": new})
    assert r.status_code == 200, r.text
    assert r.json() == {**got, "config": new}
    assert sess.config == new and fake.configuration_of(token) == new
    shown = await get_session(client, sess)
    assert shown["config"] == new
    assert parse_iso(shown["updatedAt"]) > before
    # The config is replaced wholesale, as with PATCH.
    r = await client.put(conf_path(token), json={"config": {}})
    assert r.status_code == 200 and (await get_session(client, sess))["config"] == {}
    (put, *_) = await fake.wait_for_call("PUT", "/configurations/")
    assert put.json == {"config": new} and put.status == 200

    wearer = fake.issue_configuration_token(session_id=sess.session_id, role="wearer")
    got = (await client.get(conf_path(wearer))).json()
    assert got["role"] == "wearer" and got["user"] == sess.wearer["_id"]


async def test_configuration_token_with_config_for_a_session_sets_it(
    fake: FakeChaster, client: httpx.AsyncClient
) -> None:
    sess = fake.add_session()
    token = fake.issue_configuration_token(session_id=sess.session_id, config={"x": 1})
    assert sess.config == {"x": 1}
    assert (await client.get(conf_path(token))).json()["config"] == {"x": 1}


async def test_configuration_of_a_lock_being_created(
    fake: FakeChaster, client: httpx.AsyncClient
) -> None:
    token = fake.issue_configuration_token(session_id=None, role="wearer")
    other = fake.issue_configuration_token(session_id=None, config={"preset": True})
    got = (await client.get(conf_path(token))).json()
    assert got["config"] == {} and got["sessionId"] is None and got["role"] == "wearer"
    assert got["extensionSlug"] == fake.slug and isinstance(got["user"], str)
    assert (await client.get(conf_path(other))).json()["config"] == {"preset": True}

    r = await client.put(conf_path(token), json={"config": {"points": 10}})
    assert r.status_code == 200 and r.json() == {**got, "config": {"points": 10}}
    assert fake.configuration_of(token) == {"points": 10}
    assert fake.configuration_of(other) == {"preset": True}
    assert (await client.get(conf_path(token))).json()["config"] == {"points": 10}
    # The copy handed out is the caller's own.
    fake.configuration_of(token)["points"] = 0
    assert fake.configuration_of(token) == {"points": 10}

    with pytest.raises(KeyError):
        fake.configuration_of("not-a-token")


async def test_bad_configuration_bodies(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    sess = fake.add_session()
    sess.config = {"keep": True}
    token = fake.issue_configuration_token(session_id=sess.session_id)
    path = conf_path(token)
    missing = ["config must be an object", "config should not be empty"]
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"json": {}}, missing),
        ({"json": [{"config": {}}]}, missing),  # not an object: NestJS sees {}
        ({"json": "config"}, missing),
        ({"json": {"config": None}}, missing),
        ({"json": {"config": [1, 2]}}, ["config must be an object"]),
        ({"json": {"config": "x"}}, ["config must be an object"]),
        ({"content": b"config=1", "headers": {"Content-Type": "text/plain"}}, missing),
    ]
    for kwargs, messages in cases:
        r = await client.put(path, **kwargs)
        assert assert_nest_error(r, 400) == messages, kwargs
        assert r.json()["error"] == "Bad Request"
    r = await client.put(path, content=b"{", headers={"Content-Type": "application/json"})
    assert_nest_error(r, 400)
    # Unknown top-level keys pass unless the ValidationPipe forbids them.
    r = await client.put(path, json={"config": {"a": 1}, "extra": 1})
    assert r.status_code == 200
    fake.forbid_unknown_fields = True
    r = await client.put(path, json={"config": {"a": 2}, "extra": 1})
    assert assert_nest_error(r, 400) == ["property extra should not exist"]
    assert sess.config == {"a": 1}
    # A bad body is refused before the token is looked at (as NestJS pipes run first).
    assert assert_nest_error(await client.put(conf_path("nope"), json={}), 400) == missing


async def test_expired_or_unknown_configuration_token(
    fake: FakeChaster, client: httpx.AsyncClient
) -> None:
    sess = fake.add_session()
    sess.config = {"keep": True}
    unknown = await client.get(conf_path("nope"))
    assert assert_nest_error(unknown, 404) == "Configuration not found"

    token = fake.issue_configuration_token(session_id=sess.session_id)
    fake.advance(fake.configuration_token_ttl - 5)
    assert (await client.get(conf_path(token))).status_code == 200
    fake.advance(10)
    r = await client.get(conf_path(token))
    assert r.json() == unknown.json()
    r = await client.put(conf_path(token), json={"config": {"changed": True}})
    assert r.json() == unknown.json()
    assert sess.config == {"keep": True}

    fake.configuration_token_ttl = 10.0
    short = fake.issue_configuration_token(session_id=None)
    fake.advance(11)
    assert_nest_error(await client.get(conf_path(short)), 404)
    long = fake.issue_configuration_token(session_id=None, ttl=100)
    fake.advance(50)
    assert (await client.get(conf_path(long))).status_code == 200
    fake.expire_token(long)
    assert_nest_error(await client.get(conf_path(long)), 404)

    # A mainToken is no configuration token.
    main = fake.issue_main_token(sess.session_id, "keyholder")
    assert_nest_error(await client.get(conf_path(main)), 404)
    with pytest.raises(KeyError):
        fake.configuration_of(main)


async def test_fault_rules_apply_to_the_page_routes(
    fake: FakeChaster, client: httpx.AsyncClient
) -> None:
    sess = fake.add_session()
    main = fake.issue_main_token(sess.session_id, "wearer")
    token = fake.issue_configuration_token(session_id=sess.session_id)

    fake.fail_next("GET", "/auth/sessions/", 503, "Service Unavailable")
    assert assert_nest_error(await client.get(auth_path(main)), 503) == "Service Unavailable"
    await exchange(client, main)  # the rule was used up

    fake.fail_next("PUT", "/configurations/", 500, "Internal server error")
    r = await client.put(conf_path(token), json={"config": {"n": 1}})
    assert assert_nest_error(r, 500) == "Internal server error"
    assert sess.config == {}

    fake.drop_next("PUT", token, apply=False)
    with pytest.raises(httpx.RemoteProtocolError, match=DISCONNECTED):
        await client.put(conf_path(token), json={"config": {"n": 2}})
    assert sess.config == {}

    fake.drop_next("PUT", token, apply=True)
    with pytest.raises(httpx.RemoteProtocolError, match=DISCONNECTED):
        await client.put(conf_path(token), json={"config": {"n": 3}})
    assert sess.config == {"n": 3}

    fake.hang_next("GET", "/configurations/", apply=True, seconds=30)
    with pytest.raises(httpx.ReadTimeout):
        await client.get(conf_path(token), timeout=0.1)
    calls = await fake.wait_for_call("*", "/configurations/", count=4)
    assert [(c.method, c.status) for c in calls] == [
        ("PUT", 500),
        ("PUT", None),
        ("PUT", None),
        ("GET", 200),
    ]
    assert [c.status for c in fake.calls if "/auth/sessions/" in c.path] == [503, 200]


async def test_other_methods_on_the_page_routes_are_404(
    fake: FakeChaster, client: httpx.AsyncClient
) -> None:
    token = fake.issue_configuration_token(session_id=None)
    r = await client.post(conf_path(token), json={"config": {}})
    assert assert_nest_error(r, 404) == f"Cannot POST {API_PREFIX}{conf_path(token)}"
    r = await client.put(auth_path(token), json={})
    assert_nest_error(r, 404)
