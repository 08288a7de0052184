"""Rules of the fake Chaster server (tests/fakes/chaster.py), exercised over loopback HTTP."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from datetime import timedelta
from typing import Any, Literal

import httpx
import pytest

from tests.fake_chaster.conftest import DISCONNECTED, Receiver, assert_nest_error, parse_iso
from tests.fakes.chaster import API_PREFIX, FakeChaster, FakeSession, iso

# Key order of the real captured payload (reference/fixtures/webhook-extension_session.created.json)
SESSION_KEYS = [
    "slug",
    "displayName",
    "summary",
    "subtitle",
    "icon",
    "_id",
    "config",
    "mode",
    "regularity",
    "userData",
    "nbActionsRemaining",
    "nextActionDate",
    "isPartner",
    "textConfig",
    "createdAt",
    "updatedAt",
    "sessionId",
    "data",
    "metadata",
    "lock",
]
LOCK_KEYS = [
    "_id",
    "startDate",
    "endDate",
    "minDate",
    "maxDate",
    "maxLimitDate",
    "displayRemainingTime",
    "limitLockTime",
    "status",
    "combination",
    "sharedLock",
    "createdAt",
    "updatedAt",
    "unlockedAt",
    "archivedAt",
    "frozenAt",
    "keyholderArchivedAt",
    "totalDuration",
    "allowSessionOffer",
    "isTestLock",
    "offerToken",
    "hideTimeLogs",
    "trusted",
    "user",
    "keyholder",
    "isAllowedToViewTime",
    "canBeUnlocked",
    "canBeUnlockedByMaxLimitDate",
    "isFrozen",
    "extensions",
    "title",
    "lastVerificationPicture",
    "reasonsPreventingUnlocking",
    "extensionsAllowUnlocking",
]
USER_KEYS = [
    "_id",
    "username",
    "isPremium",
    "isFindom",
    "isAdmin",
    "isModerator",
    "isTeamMember",
    "metadata",
    "isDisabled",
    "isSuspended",
    "joinedAt",
    "isNewMember",
    "age",
    "avatarUrl",
    "description",
    "discordId",
    "discordUsername",
    "fullLocation",
    "gender",
    "lastSeen",
    "location",
    "online",
    "role",
    "features",
    "isSuspendedOrDisabled",
]
PARTY_KEYS = SESSION_KEYS[:16]
TASKS_CONFIG_KEYS = [
    "tasks",
    "voteEnabled",
    "voteDuration",
    "startVoteAfterLastVote",
    "enablePoints",
    "pointsRequired",
    "allowWearerToEditTasks",
    "allowWearerToConfigureTasks",
    "preventWearerFromAssigningTasks",
    "allowWearerToChooseTasks",
    "actionsOnAbandonedTask",
]
TASKS_USERDATA_KEYS = [
    "status",
    "voteStartedAt",
    "voteEndsAt",
    "currentTask",
    "userTasks",
    "currentTaskVote",
    "points",
]
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
HEX24 = re.compile(r"^[0-9a-f]{24}$")
NANOID = re.compile(r"^[A-Za-z0-9_-]{21}$")


def sess_path(sess: FakeSession | str, suffix: str = "") -> str:
    sid = sess if isinstance(sess, str) else sess.session_id
    return f"/sessions/{sid}{suffix}"


def assign_body(
    text: str = "Do 10 push-ups", points: Any = 5, actor: str = "extension", **extra: Any
) -> dict[str, Any]:
    return {"task": {"task": text, "points": points, **extra}, "actor": actor}


def tasks_party(session_json: dict[str, Any]) -> dict[str, Any]:
    parties = [e for e in session_json["lock"]["extensions"] if e["slug"] == "tasks"]
    assert len(parties) == 1
    party: dict[str, Any] = parties[0]
    return party


async def get_session(client: httpx.AsyncClient, sess: FakeSession) -> dict[str, Any]:
    r = await client.get(sess_path(sess))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()["session"]
    return body


# ---------------------------------------------------------------- auth, 404, shape


async def test_requires_bearer_token(fake: FakeChaster) -> None:
    sess = fake.add_session()
    async with httpx.AsyncClient(base_url=fake.url + API_PREFIX) as anon:
        r = await anon.get(sess_path(sess))
        assert r.status_code == 401
        assert r.json() == {"statusCode": 401, "message": "Unauthorized"}
        r = await anon.get(sess_path(sess), headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401
        r = await anon.get(sess_path(sess), headers={"Authorization": fake.token})
        assert r.status_code == 401
        r = await anon.get(sess_path(sess), headers={"Authorization": f"Bearer {fake.token}"})
        assert r.status_code == 200
    assert [c.status for c in fake.calls] == [401, 401, 401, 200]
    # Every Authorization header that was sent is kept only as "<redacted>".
    assert [c.headers.get("Authorization") for c in fake.calls] == [None] + ["<redacted>"] * 3
    assert fake.token not in repr(fake.calls)


async def test_unknown_session_and_route_404(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    msg = assert_nest_error(await client.get(sess_path("nope")), 404)
    assert "not found" in msg.lower()
    r = await client.post(sess_path("nope", "/tasks/assign"), json=assign_body())
    assert assert_nest_error(r, 404) == msg
    r = await client.get("/does/not/exist")
    assert assert_nest_error(r, 404) == "Cannot GET /api/extensions/does/not/exist"
    assert r.json()["error"] == "Not Found"
    # a session of another extension is not ours
    other = fake.add_session(slug="someone-else")
    assert_nest_error(await client.get(sess_path(other)), 404)


async def test_session_json_mimics_real_payload(
    fake: FakeChaster, client: httpx.AsyncClient
) -> None:
    sess = fake.add_session(has_keyholder=False, wearer_discord_id="123456789012345678")
    got = await get_session(client, sess)
    assert list(got) == SESSION_KEYS
    assert list(got["lock"]) == LOCK_KEYS
    assert list(got["lock"]["user"]) == USER_KEYS
    assert [list(e) for e in got["lock"]["extensions"]] == [PARTY_KEYS, PARTY_KEYS]
    assert list(tasks_party(got)["config"]) == TASKS_CONFIG_KEYS
    assert list(tasks_party(got)["userData"]) == TASKS_USERDATA_KEYS
    assert got["lock"]["keyholder"] is None
    assert got["lock"]["user"]["discordId"] == "123456789012345678"
    assert got["slug"] == fake.slug and got["isPartner"] is True
    assert any(e["slug"] == fake.slug for e in got["lock"]["extensions"])
    assert NANOID.match(got["sessionId"]) and HEX24.match(got["lock"]["_id"])
    assert HEX24.match(got["lock"]["user"]["_id"])
    assert ISO_MS.match(got["createdAt"]) and ISO_MS.match(got["lock"]["startDate"])
    ud = tasks_party(got)["userData"]
    assert ud["status"] == "start" and ud["currentTask"] is None and ud["points"] == 0

    with_kh = fake.add_session(keyholder_discord_id="42")
    got = await get_session(client, with_kh)
    assert got["lock"]["keyholder"]["discordId"] == "42"
    assert list(got["lock"]["keyholder"]) == USER_KEYS


# ---------------------------------------------------------------- search


async def test_search_paginates_without_duplicates(
    fake: FakeChaster, client: httpx.AsyncClient
) -> None:
    ids = {fake.add_session().session_id for _ in range(40)}
    seen: list[str] = []
    last: str | None = None
    pages = []
    while True:
        body: dict[str, Any] = {"extensionSlug": fake.slug, "limit": 15}
        if last is not None:
            body["paginationLastId"] = last
        r = await client.post("/sessions/search", json=body)
        assert r.status_code == 200, r.text
        page = r.json()
        assert page["count"] == 40
        pages.append((len(page["results"]), page["hasMore"]))
        seen += [s["sessionId"] for s in page["results"]]
        assert page["results"], page
        assert all("paginationId" in s and "lock" in s for s in page["results"])
        if not page["hasMore"]:
            break
        last = page["results"][-1]["paginationId"]
    assert pages == [(15, True), (15, True), (10, False)]
    assert len(seen) == len(set(seen)) == 40 and set(seen) == ids
    # default limit is 15
    r = await client.post("/sessions/search", json={"extensionSlug": fake.slug})
    assert len(r.json()["results"]) == 15


@pytest.mark.parametrize("order", ["newest", "oldest"])
async def test_search_order_is_a_knob_and_the_cursor_follows_it(
    fake: FakeChaster, client: httpx.AsyncClient, order: Literal["newest", "oldest"]
) -> None:
    created = [fake.add_session().session_id for _ in range(5)]
    fake.search_order = order
    seen: list[str] = []
    body: dict[str, Any] = {"extensionSlug": fake.slug, "limit": 2}
    while True:
        page = (await client.post("/sessions/search", json=body)).json()
        seen += [s["sessionId"] for s in page["results"]]
        if not page["hasMore"]:
            break
        body["paginationLastId"] = page["results"][-1]["paginationId"]
    assert seen == (created[::-1] if order == "newest" else created)


async def test_search_can_leave_out_the_locks_extensions(
    fake: FakeChaster, client: httpx.AsyncClient
) -> None:
    fake.add_session()
    r = await client.post("/sessions/search", json={"extensionSlug": fake.slug})
    assert r.json()["results"][0]["lock"]["extensions"]
    fake.search_omits_extensions = True
    r = await client.post("/sessions/search", json={"extensionSlug": fake.slug})
    assert "extensions" not in r.json()["results"][0]["lock"]


async def test_search_filters_by_slug_and_status(
    fake: FakeChaster, client: httpx.AsyncClient
) -> None:
    locked = fake.add_session()
    unlocked = fake.add_session(status="unlocked")
    deserted = fake.add_session(status="deserted")
    fake.add_session(slug="other-extension")

    async def ids(**body: Any) -> set[str]:
        r = await client.post("/sessions/search", json={"extensionSlug": fake.slug, **body})
        assert r.status_code == 200, r.text
        return {s["sessionId"] for s in r.json()["results"]}

    assert await ids() == {locked.session_id}
    assert await ids(status="unlocked") == {unlocked.session_id}
    assert await ids(status="deserted") == {deserted.session_id}
    assert await ids(status="all") == {s.session_id for s in (locked, unlocked, deserted)}

    msg = assert_nest_error(await client.post("/sessions/search", json={}), 400)
    assert isinstance(msg, list) and any("extensionSlug" in m for m in msg)
    r = await client.post("/sessions/search", json={"extensionSlug": fake.slug, "limit": 101})
    assert assert_nest_error(r, 400) == ["limit must not be greater than 100"]
    r = await client.post("/sessions/search", json={"extensionSlug": fake.slug, "status": "x"})
    assert assert_nest_error(r, 400)[0].startswith("status must be one of")


# ---------------------------------------------------------------- assign


async def test_assign_then_conflict(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    sess = fake.add_session()
    r = await client.post(sess_path(sess, "/tasks/assign"), json=assign_body())
    assert r.status_code == 201 and r.content == b""
    ud = tasks_party(await get_session(client, sess))["userData"]
    assert ud["status"] == "pending"
    task = ud["currentTask"]
    assert task["task"] == "Do 10 push-ups" and task["points"] == 5
    assert task["verificationRequired"] is False and task["duration"] == 0
    assert task["timerStartedAt"] is None and "_fakeUnknownKey" in task
    (log,) = sess.action_logs
    assert log["type"] == "tasks_task_assigned" and log["prefix"] == "default"
    assert log["role"] == "extension" and log["extension"] == fake.slug
    assert log["payload"] == {"task": {"task": "Do 10 push-ups", "points": 5}}
    assert log["lock"] == sess.lock_id and HEX24.match(log["_id"])

    r = await client.post(sess_path(sess, "/tasks/assign"), json=assign_body("another"))
    assert_nest_error(r, fake.status_task_conflict)
    assert sess.current_task is not None and sess.current_task["task"] == "Do 10 push-ups"

    voting = fake.add_session()
    fake.start_vote_in_app(voting.session_id)
    fake.status_task_conflict = 409
    r = await client.post(sess_path(voting, "/tasks/assign"), json=assign_body())
    assert_nest_error(r, 409)
    assert voting.status == "vote"


async def test_assign_validation_lists_messages(
    fake: FakeChaster, client: httpx.AsyncClient
) -> None:
    sess = fake.add_session()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"actor": "extension"}, "task should not be empty"),
        (assign_body(""), "task.task should not be empty"),
        (assign_body(points=-1), "task.points must not be less than 0"),
        (assign_body(points="5"), "task.points must be a number"),
        (assign_body(duration=30), "task.duration must not be less than 60"),
        (assign_body(duration=86401), "task.duration must not be greater than 86400"),
        (assign_body(verificationRequired="yes"), "task.verificationRequired must be a boolean"),
        (assign_body(actor="robot"), "actor must be one of the following values"),
        ({"task": {"task": "x", "points": 1}}, "actor should not be empty"),
    ]
    for body, expected in cases:
        r = await client.post(sess_path(sess, "/tasks/assign"), json=body)
        msg = assert_nest_error(r, 400)
        assert isinstance(msg, list), msg
        assert any(m.startswith(expected) for m in msg), (body, msg)
        assert r.json()["error"] == "Bad Request"
    # boundaries are accepted
    r = await client.post(sess_path(sess, "/tasks/assign"), json=assign_body(duration=60))
    assert r.status_code == 201
    assert sess.action_logs[-1]["type"] == "tasks_task_assigned" and len(sess.action_logs) == 1
    # a body that is not sent as JSON reaches validation as {}
    other = fake.add_session()
    r = await client.post(sess_path(other, "/tasks/assign"), content=json.dumps(assign_body()))
    assert_nest_error(r, 400)
    fake.status_invalid = 422
    r = await client.post(sess_path(other, "/tasks/assign"), json={"actor": "extension"})
    assert_nest_error(r, 422)


async def test_assign_without_tasks_extension(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    sess = fake.add_session(tasks_extension=False)
    got = await get_session(client, sess)
    # Only the extension itself is on the lock, no Tasks extension.
    assert [e["slug"] for e in got["lock"]["extensions"]] == [fake.slug]
    r = await client.post(sess_path(sess, "/tasks/assign"), json=assign_body())
    assert "Tasks extension" in assert_nest_error(r, 404)
    fake.status_tasks_missing = 400
    r = await client.post(
        sess_path(sess, "/tasks/complete"), json={"actor": "extension", "isCompleted": True}
    )
    assert_nest_error(r, 400)
    assert sess.action_logs == []


async def test_keyholder_actor_on_self_lock(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    self_lock = fake.add_session(has_keyholder=False)
    r = await client.post(
        sess_path(self_lock, "/tasks/assign"), json=assign_body(actor="keyholder")
    )
    assert "keyholder" in assert_nest_error(r, fake.status_rule).lower()
    assert self_lock.current_task is None
    r = await client.post(sess_path(self_lock, "/tasks/assign"), json=assign_body(actor="wearer"))
    assert r.status_code == 201
    assert self_lock.action_logs[-1]["role"] == "user"
    assert self_lock.action_logs[-1]["user"]["_id"] == self_lock.wearer["_id"]

    kh_lock = fake.add_session()
    r = await client.post(sess_path(kh_lock, "/tasks/assign"), json=assign_body(actor="keyholder"))
    assert r.status_code == 201
    assert kh_lock.action_logs[-1]["role"] == "keyholder"


# ---------------------------------------------------------------- start-timer / complete


async def test_start_timer_rules(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    sess = fake.add_session()
    start = sess_path(sess, "/tasks/start-timer")
    assert_nest_error(await client.post(start, json={"actor": "extension"}), fake.status_rule)
    await client.post(sess_path(sess, "/tasks/assign"), json=assign_body())
    msg = assert_nest_error(await client.post(start, json={"actor": "extension"}), 400)
    assert "timed" in msg
    await client.post(
        sess_path(sess, "/tasks/complete"), json={"actor": "extension", "isCompleted": True}
    )

    await client.post(sess_path(sess, "/tasks/assign"), json=assign_body(duration=120))
    assert isinstance(assert_nest_error(await client.post(start, json={}), 400), list)
    r = await client.post(start, json={"actor": "wearer"})
    assert r.status_code == 201 and r.content == b""
    assert sess.timer_started_at is not None
    ud = tasks_party(await get_session(client, sess))["userData"]
    assert ISO_MS.match(ud["currentTask"]["timerStartedAt"])
    assert_nest_error(await client.post(start, json={"actor": "extension"}), 400)
    assert sess.action_logs[-1]["type"] == "tasks_task_assigned"  # timer start logs nothing


async def test_complete_rules(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    sess = fake.add_session()
    done = {"actor": "extension", "isCompleted": True}
    complete = sess_path(sess, "/tasks/complete")
    assert "No task" in assert_nest_error(await client.post(complete, json=done), 400)
    msg = assert_nest_error(await client.post(complete, json={"actor": "extension"}), 400)
    assert msg == ["isCompleted must be a boolean value"]

    # verification-required tasks cannot be completed (nor failed) through the API
    await client.post(sess_path(sess, "/tasks/assign"), json=assign_body(verificationRequired=True))
    assert "verification" in assert_nest_error(await client.post(complete, json=done), 400)
    r = await client.post(complete, json={"actor": "extension", "isCompleted": False})
    assert_nest_error(r, 400)
    fake.finish_in_app(sess.session_id, completed=True)  # wearer uploads the photo in the app
    assert sess.status == "start" and sess.action_logs[-1]["extension"] is None

    # timed task: start + elapse on the fake clock
    await client.post(sess_path(sess, "/tasks/assign"), json=assign_body(duration=60))
    assert "not been started" in assert_nest_error(await client.post(complete, json=done), 400)
    await client.post(sess_path(sess, "/tasks/start-timer"), json={"actor": "extension"})
    fake.advance(59)
    assert "not finished" in assert_nest_error(await client.post(complete, json=done), 400)
    fake.advance(1.5)
    r = await client.post(complete, json=done)
    assert r.status_code == 201 and r.content == b""
    ud = tasks_party(await get_session(client, sess))["userData"]
    assert ud["status"] == "start" and ud["currentTask"] is None
    assert sess.action_logs[-1]["type"] == "tasks_task_completed"

    # failing an unfinished timed task is allowed (abandon)
    await client.post(sess_path(sess, "/tasks/assign"), json=assign_body(duration=600))
    r = await client.post(complete, json={"actor": "extension", "isCompleted": False})
    assert r.status_code == 201
    assert sess.action_logs[-1]["type"] == "tasks_task_failed" and sess.current_task is None


async def test_points_and_payload_styles(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    sess = fake.add_session(enable_points=True, points_required=20, points=3)
    complete = sess_path(sess, "/tasks/complete")
    await client.post(sess_path(sess, "/tasks/assign"), json=assign_body(points=10))
    await client.post(complete, json={"actor": "keyholder", "isCompleted": True})
    got = await get_session(client, sess)
    assert tasks_party(got)["userData"]["points"] == 13
    assert tasks_party(got)["config"]["enablePoints"] is True
    assert tasks_party(got)["config"]["pointsRequired"] == 20
    log = sess.action_logs[-1]
    assert log["payload"] == {"task": {"task": "Do 10 push-ups", "points": 10}, "points": 10}
    assert log["role"] == "keyholder"

    await client.post(sess_path(sess, "/tasks/assign"), json=assign_body(points=10))
    await client.post(complete, json={"actor": "extension", "isCompleted": False})
    assert sess.points == 13
    assert sess.action_logs[-1]["payload"]["points"] == 0

    no_points = fake.add_session(enable_points=False)
    fake.task_payload_style = "string"
    await client.post(sess_path(no_points, "/tasks/assign"), json=assign_body(points=10))
    assert no_points.action_logs[-1]["payload"] == {"task": "Do 10 push-ups", "points": 10}
    await client.post(
        sess_path(no_points, "/tasks/complete"), json={"actor": "extension", "isCompleted": True}
    )
    assert no_points.points == 0

    fake.expose_timer_fields = False
    fake.assign_in_app(no_points.session_id, "In-app task", 2)
    got = await get_session(client, no_points)
    assert tasks_party(got)["userData"]["currentTask"] == {"task": "In-app task", "points": 2}


# ---------------------------------------------------------------- lock actions


async def lock_action(
    client: httpx.AsyncClient, sess: FakeSession | str, name: str, params: Any = None
) -> httpx.Response:
    action: dict[str, Any] = {"name": name}
    if params is not None:
        action["params"] = params
    return await client.post(sess_path(sess, "/action"), json={"action": action})


async def test_end_date_is_stored_and_served(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    sess = fake.add_session()
    assert sess.end_date == sess.created_at + timedelta(days=1)
    lock = (await get_session(client, sess))["lock"]
    assert parse_iso(lock["endDate"]) - parse_iso(lock["startDate"]) == timedelta(days=1)
    assert (lock["frozenAt"], lock["isFrozen"], lock["displayRemainingTime"]) == (None, False, True)
    sess.end_date = None
    assert (await get_session(client, sess))["lock"]["endDate"] is None


async def test_add_and_remove_time(
    fake: FakeChaster, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    sess = fake.add_session()
    end = sess.end_date
    assert end is not None
    r = await lock_action(client, sess, "add_time", 3600)
    assert r.status_code == 201 and r.content == b""
    assert sess.end_date == end + timedelta(hours=1)
    lock = (await get_session(client, sess))["lock"]
    assert lock["endDate"] == iso(sess.end_date)
    r = await lock_action(client, sess, "remove_time", 600)
    assert r.status_code == 201
    assert sess.end_date == end + timedelta(seconds=3000)
    added, removed = fake.lock_actions(sess.session_id)
    assert [(log["type"], log["payload"], log["title"]) for log in (added, removed)] == [
        ("time_changed", {"duration": 3600}, "%USER% added time"),
        ("time_changed", {"duration": -600}, "%USER% removed time"),
    ]
    for log in (added, removed):
        assert (log["role"], log["extension"], log["prefix"]) == ("extension", fake.slug, "default")
        assert log["user"] is None and ISO_MS.match(log["createdAt"])
    hook = await fake.wait_for_webhook(
        lambda d: d["body"]["data"]["actionLog"]["_id"] == removed["_id"]
    )
    assert hook["event"] == "action_log.created"
    assert hook["body"]["data"] == {"sessionId": sess.session_id, "actionLog": removed}


async def test_freeze_unfreeze_and_toggle(
    fake: FakeChaster, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    sess = fake.add_session()
    r = await lock_action(client, sess, "freeze")
    assert r.status_code == 201 and r.content == b""
    assert sess.frozen_at is not None and abs(fake.now() - sess.frozen_at) < timedelta(seconds=5)
    lock = (await get_session(client, sess))["lock"]
    assert lock["isFrozen"] is True and ISO_MS.match(lock["frozenAt"])
    # Already frozen: accepted, nothing changes, nothing is logged.
    frozen_at = sess.frozen_at
    assert (await lock_action(client, sess, "freeze")).status_code == 201
    assert sess.frozen_at == frozen_at and len(fake.lock_actions(sess.session_id)) == 1
    assert (await lock_action(client, sess, "unfreeze")).status_code == 201
    lock = (await get_session(client, sess))["lock"]
    assert (lock["isFrozen"], lock["frozenAt"]) == (False, None)
    assert (await lock_action(client, sess, "unfreeze")).status_code == 201
    assert (await lock_action(client, sess, "toggle_freeze")).status_code == 201
    assert sess.frozen_at is not None
    assert (await lock_action(client, sess, "toggle_freeze")).status_code == 201
    assert sess.frozen_at is None
    logs = fake.lock_actions(sess.session_id)
    assert [(log["type"], log["title"]) for log in logs] == [
        ("lock_frozen", "%USER% froze the lock"),
        ("lock_unfrozen", "%USER% unfroze the lock"),
        ("lock_frozen", "%USER% froze the lock"),
        ("lock_unfrozen", "%USER% unfroze the lock"),
    ]
    assert {(log["role"], log["extension"], log["prefix"]) for log in logs} == {
        ("extension", fake.slug, "default")
    }
    await fake.wait_for_webhook(lambda d: d["body"]["data"]["actionLog"]["_id"] == logs[-1]["_id"])
    hooked = [d["body"]["data"]["actionLog"]["type"] for d in fake.webhook_deliveries]
    assert sorted(hooked) == sorted(log["type"] for log in logs)


async def test_pillory(fake: FakeChaster, client: httpx.AsyncClient, receiver: Receiver) -> None:
    sess = fake.add_session(pillory=True)
    got = await get_session(client, sess)
    assert [e["slug"] for e in got["lock"]["extensions"]] == [fake.slug, "tasks", "pillory"]
    assert [list(e) for e in got["lock"]["extensions"]] == [PARTY_KEYS] * 3
    r = await lock_action(client, sess, "pillory", {"duration": 900, "reason": "Late"})
    assert r.status_code == 201 and r.content == b""
    assert (await lock_action(client, sess, "pillory", {"duration": 60})).status_code == 201
    assert [(p["duration"], p["reason"]) for p in sess.pillories] == [(900, "Late"), (60, "")]
    assert all(ISO_MS.match(p["createdAt"]) for p in sess.pillories)
    first, second = fake.lock_actions(sess.session_id)
    assert (first["type"], first["payload"]) == ("pillory_in", {"duration": 900, "reason": "Late"})
    assert second["payload"] == {"duration": 60, "reason": ""}
    assert (first["role"], first["extension"], first["prefix"]) == (
        "extension",
        fake.slug,
        "default",
    )
    hook = await fake.wait_for_webhook(
        lambda d: d["body"]["data"]["actionLog"]["_id"] == second["_id"]
    )
    assert hook["body"]["data"]["actionLog"]["type"] == "pillory_in"


async def test_pillory_needs_the_pillory_extension(
    fake: FakeChaster, client: httpx.AsyncClient
) -> None:
    sess = fake.add_session()
    got = await get_session(client, sess)
    assert [e["slug"] for e in got["lock"]["extensions"]] == [fake.slug, "tasks"]
    r = await lock_action(client, sess, "pillory", {"duration": 60})
    assert assert_nest_error(r, 400) == "The Pillory extension is not enabled on this lock"
    fake.status_pillory_missing = 404
    r = await lock_action(client, sess, "pillory", {"duration": 60})
    assert assert_nest_error(r, 404) == "The Pillory extension is not enabled on this lock"
    assert sess.pillories == [] and sess.action_logs == []


async def test_set_display_remaining_time(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    sess = fake.add_session()
    assert (await lock_action(client, sess, "set_display_remaining_time", False)).status_code == 201
    assert (await get_session(client, sess))["lock"]["displayRemainingTime"] is False
    assert (await lock_action(client, sess, "set_display_remaining_time", True)).status_code == 201
    assert (await get_session(client, sess))["lock"]["displayRemainingTime"] is True
    assert sess.action_logs == []


async def test_lock_action_validation(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    sess = fake.add_session(pillory=True)
    path = sess_path(sess, "/action")
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "action should not be empty"),
        ({"action": "freeze"}, "nested property action must be either object or array"),
        ({"action": {}}, "action.name must be one of the following values: add_time, "),
        ({"action": {"name": "unlock"}}, "action.name must be one of the following values"),
        ({"action": {"name": "add_time"}}, "action.params must be an integer number"),
        ({"action": {"name": "add_time", "params": "60"}}, "action.params must be an integer"),
        ({"action": {"name": "add_time", "params": 1.5}}, "action.params must be an integer"),
        ({"action": {"name": "add_time", "params": True}}, "action.params must be an integer"),
        ({"action": {"name": "add_time", "params": 0}}, "action.params must not be less than 1"),
        ({"action": {"name": "remove_time", "params": -60}}, "action.params must not be less"),
        ({"action": {"name": "pillory", "params": 60}}, "nested property action.params must"),
        ({"action": {"name": "pillory", "params": {}}}, "action.params.duration must be an"),
        (
            {"action": {"name": "pillory", "params": {"duration": 0}}},
            "action.params.duration must not be less than 1",
        ),
        (
            {"action": {"name": "pillory", "params": {"duration": 60, "reason": 3}}},
            "action.params.reason must be a string",
        ),
        (
            {"action": {"name": "set_display_remaining_time", "params": "no"}},
            "action.params must be a boolean value",
        ),
        (
            {"action": {"name": "set_display_remaining_time"}},
            "action.params must be a boolean value",
        ),
    ]
    for body, expected in cases:
        r = await client.post(path, json=body)
        msg = assert_nest_error(r, 400)
        assert isinstance(msg, list), msg
        assert any(m.startswith(expected) for m in msg), (body, msg)
        assert r.json()["error"] == "Bad Request"
    assert sess.action_logs == [] and sess.frozen_at is None and sess.pillories == []
    # An integral float is an integer to class-validator.
    assert (await lock_action(client, sess, "add_time", 60.0)).status_code == 201
    fake.status_invalid = 422
    assert_nest_error(await client.post(path, json={}), 422)
    fake.forbid_unknown_fields = True
    r = await client.post(path, json={"action": {"name": "freeze", "extra": 1}, "more": 2})
    assert assert_nest_error(r, 422) == [
        "property action.extra should not exist",
        "property more should not exist",
    ]


async def test_lock_action_refused_on_an_inactive_lock_or_unknown_session(
    fake: FakeChaster, client: httpx.AsyncClient
) -> None:
    for status in ("unlocked", "deserted"):
        ended = fake.add_session(status=status, pillory=True)
        r = await lock_action(client, ended, "add_time", 60)
        assert assert_nest_error(r, fake.status_rule) == "The lock is not active"
        assert ended.action_logs == []
    live = fake.add_session()
    fake.end_lock(live.session_id)
    r = await lock_action(client, live, "freeze")
    assert assert_nest_error(r, fake.status_rule) == "The lock is not active"
    assert live.frozen_at is None
    assert assert_nest_error(await lock_action(client, "nope", "freeze"), 404) == (
        "Session not found"
    )
    other = fake.add_session(slug="someone-else")
    assert_nest_error(await lock_action(client, other, "freeze"), 404)


async def test_lock_actions_lists_only_lock_actions_oldest_first(
    fake: FakeChaster, client: httpx.AsyncClient
) -> None:
    sess = fake.add_session()
    await lock_action(client, sess, "add_time", 60)
    await client.post(sess_path(sess, "/tasks/assign"), json=assign_body())
    await lock_action(client, sess, "freeze")
    assert [log["type"] for log in sess.action_logs] == [
        "time_changed",
        "tasks_task_assigned",
        "lock_frozen",
    ]
    assert [log["type"] for log in fake.lock_actions(sess.session_id)] == [
        "time_changed",
        "lock_frozen",
    ]


async def test_fault_rules_apply_to_lock_actions(
    fake: FakeChaster, client: httpx.AsyncClient
) -> None:
    sess = fake.add_session()
    fake.fail_next("POST", "/action", 503, "Service Unavailable")
    assert assert_nest_error(await lock_action(client, sess, "freeze"), 503) == (
        "Service Unavailable"
    )
    assert sess.frozen_at is None and sess.action_logs == []
    fake.drop_next("POST", "/action", apply=True)
    with pytest.raises(httpx.RemoteProtocolError, match=DISCONNECTED):
        await lock_action(client, sess, "add_time", 60)
    assert len(fake.lock_actions(sess.session_id)) == 1
    fake.drop_next("POST", "/action", apply=False)
    with pytest.raises(httpx.RemoteProtocolError, match=DISCONNECTED):
        await lock_action(client, sess, "add_time", 60)
    assert len(fake.lock_actions(sess.session_id)) == 1
    fake.hang_next("POST", "/action", apply=True, seconds=30)
    with pytest.raises(httpx.ReadTimeout):
        await client.post(
            sess_path(sess, "/action"), json={"action": {"name": "freeze"}}, timeout=0.1
        )
    assert sess.frozen_at is not None
    assert [c.status for c in fake.calls] == [503, None, None, 201]


# ---------------------------------------------------------------- knobs


async def test_fail_next_leaves_state_untouched(
    fake: FakeChaster, client: httpx.AsyncClient
) -> None:
    sess = fake.add_session()
    fake.fail_next("POST", "/tasks/assign", 503, "Service Unavailable", times=2)
    for _ in range(2):
        r = await client.post(sess_path(sess, "/tasks/assign"), json=assign_body())
        assert assert_nest_error(r, 503) == "Service Unavailable"
        assert r.json()["error"] == "Service Unavailable"
    assert sess.current_task is None and sess.action_logs == []
    r = await client.post(sess_path(sess, "/tasks/assign"), json=assign_body())
    assert r.status_code == 201
    fake.fail_next("GET", "/sessions/", 422, ["a", "b"])
    assert assert_nest_error(await client.get(sess_path(sess)), 422) == ["a", "b"]
    assert fake.count_calls("POST", "/tasks/assign") == 3
    assert fake.count_calls("*", sess.session_id) == 4


async def test_drop_and_hang(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    applied = fake.add_session()
    fake.drop_next("POST", "/tasks/assign", apply=True)
    with pytest.raises(httpx.RemoteProtocolError, match=DISCONNECTED) as dropped:
        await client.post(sess_path(applied, "/tasks/assign"), json=assign_body())
    assert dropped.value.request.url.path == API_PREFIX + sess_path(applied, "/tasks/assign")
    assert applied.status == "pending"
    (call,) = await fake.wait_for_call("POST", "/tasks/assign")
    assert call.status is None

    lost = fake.add_session()
    fake.drop_next("POST", lost.session_id, apply=False)
    with pytest.raises(httpx.RemoteProtocolError, match=DISCONNECTED) as dropped:
        await client.post(sess_path(lost, "/tasks/assign"), json=assign_body())
    assert dropped.value.request.url.path == API_PREFIX + sess_path(lost, "/tasks/assign")
    assert lost.status == "start" and lost.action_logs == []

    hung = fake.add_session()
    fake.hang_next("POST", hung.session_id, apply=True, seconds=30)
    with pytest.raises(httpx.ReadTimeout) as timed_out:
        await client.post(sess_path(hung, "/tasks/assign"), json=assign_body(), timeout=0.1)
    # The request went out and no answer came (not a connect or write timeout).
    assert timed_out.value.request.url.path == API_PREFIX + sess_path(hung, "/tasks/assign")
    assert hung.status == "pending"


async def test_latency_and_wait_for_call(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    sess = fake.add_session()
    fake.latency = 0.1
    t0 = time.monotonic()
    task = asyncio.create_task(client.get(sess_path(sess)))
    calls = await fake.wait_for_call("GET", sess.session_id)
    assert len(calls) == 1 and calls[0].json is None
    r = await task
    assert r.status_code == 200 and time.monotonic() - t0 >= 0.1
    expected = (
        r"^timed out after 0\.05s waiting for 2 x GET \*sessions\*; got 1\. "
        rf"Last calls: \['GET {API_PREFIX}/sessions/{sess.session_id} -> 200'\]$"
    )
    with pytest.raises(TimeoutError, match=expected):
        await fake.wait_for_call("GET", "sessions", count=2, timeout=0.05)


async def test_rate_limit(client: httpx.AsyncClient, fake: FakeChaster) -> None:
    sess = fake.add_session()
    fake.rate_limit = 3
    fake.rate_window = 60.0
    before = time.time()
    remaining = []
    for _ in range(3):
        r = await client.get(sess_path(sess))
        assert r.status_code == 200
        assert r.headers["X-RateLimit-Limit"] == "3"
        remaining.append(r.headers["X-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    reset = int(r.headers["X-RateLimit-Reset"])
    assert before + 59 <= reset <= time.time() + 61
    r = await client.post(sess_path(sess, "/tasks/assign"), json=assign_body())
    assert r.status_code == 429
    assert r.json() == {"statusCode": 429, "message": "ThrottlerException: Too Many Requests"}
    assert r.headers["X-RateLimit-Remaining"] == "0"
    assert fake.throttled == 1 and sess.current_task is None

    fake.reset_header_format = "seconds"
    r = await client.get(sess_path(sess))
    assert r.status_code == 429 and 0 < int(r.headers["X-RateLimit-Reset"]) <= 60
    fake.reset_header_format = "iso"
    r = await client.get(sess_path(sess))
    assert ISO_MS.match(r.headers["X-RateLimit-Reset"])
    fake.reset_header_format = "epoch_ms"
    r = await client.get(sess_path(sess))
    assert int(r.headers["X-RateLimit-Reset"]) > before * 1000
    assert fake.throttled == 4

    # the window slides: with a short window, requests are accepted again once it has passed
    fake.rate_window = 0.05
    await asyncio.sleep(0.06)
    r = await client.get(sess_path(sess))
    assert r.status_code == 200 and r.headers["X-RateLimit-Remaining"] == "2"


# ---------------------------------------------------------------- webhooks


async def test_webhook_basic_auth_and_retry(
    fake: FakeChaster, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    sess = fake.add_session()
    receiver.statuses = [500]
    r = await client.post(sess_path(sess, "/tasks/assign"), json=assign_body())
    assert r.status_code == 201
    ok = await fake.wait_for_webhook(lambda d: d["status"] == 200)
    assert ok["attempt"] == 2
    first, second = fake.webhook_deliveries
    assert first["status"] == 500 and first["attempt"] == 1
    assert first["body"]["requestId"] == second["body"]["requestId"]

    assert len(receiver.requests) == 2
    headers, body = receiver.requests[1]
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"hookuser:hookpass").decode()
    assert headers["Content-Type"] == "application/json"
    assert set(body) == {"event", "data", "sentAt", "requestId"}
    assert body["event"] == "action_log.created" and NANOID.match(body["requestId"])
    assert ISO_MS.match(body["sentAt"])
    assert body["data"]["sessionId"] == sess.session_id
    assert body["data"]["actionLog"]["type"] == "tasks_task_assigned"
    assert body["data"]["actionLog"]["_id"] == sess.action_logs[0]["_id"]


async def test_webhook_gives_up_after_retries(
    fake: FakeChaster, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    sess = fake.add_session()
    fake.webhook_retry_delays = [0.01, 0.01]
    receiver.statuses = [500, 502, 503, 200]
    fake.assign_in_app(sess.session_id, "in app")
    last = await fake.wait_for_webhook(lambda d: d["attempt"] == 3)
    assert last["status"] == 503
    await asyncio.sleep(0.05)
    assert len(fake.webhook_deliveries) == 3


async def test_in_app_events_and_end_lock_webhooks(
    fake: FakeChaster, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    sess = fake.add_session(enable_points=True)
    fake.assign_in_app(sess.session_id, "Photo task", 4, verification_required=True)
    d = await fake.wait_for_webhook(
        lambda d: d["body"]["data"]["actionLog"]["type"] == "tasks_task_assigned"
    )
    log = d["body"]["data"]["actionLog"]
    assert log["role"] == "user" and log["extension"] is None
    fake.finish_in_app(sess.session_id, completed=True)
    await fake.wait_for_webhook(
        lambda d: d["body"]["data"]["actionLog"]["type"] == "tasks_task_completed"
    )
    assert sess.points == 4

    fake.end_lock(sess.session_id)
    d = await fake.wait_for_webhook(lambda d: d["event"] == "extension_session.deleted")
    data = d["body"]["data"]
    assert data["session"]["sessionId"] == sess.session_id
    assert data["session"]["lock"]["status"] == "unlocked"
    assert data["extension"] == {"slug": fake.slug}
    r = await client.post(sess_path(sess, "/tasks/assign"), json=assign_body())
    assert_nest_error(r, fake.status_rule)

    # manual replay with the same requestId
    sent = await fake.send_webhook("action_log.created", {"sessionId": "x"}, request_id="dup")
    again = await fake.send_webhook("action_log.created", {"sessionId": "x"}, request_id="dup")
    assert sent["requestId"] == again["requestId"] == "dup"
    assert [b["requestId"] for _, b in receiver.requests].count("dup") == 2


async def test_no_webhooks_without_url(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    sess = fake.add_session()
    await client.post(sess_path(sess, "/tasks/assign"), json=assign_body())
    fake.end_lock(sess.session_id)
    assert fake.webhook_deliveries == []
    with pytest.raises(RuntimeError, match=r"^webhook_url is not set$") as caught:
        await fake.send_webhook("action_log.created", {})
    assert type(caught.value) is RuntimeError


async def test_logs_search_and_patch(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    sess = fake.add_session()
    for i in range(3):
        fake.assign_in_app(sess.session_id, f"t{i}")
        fake.finish_in_app(sess.session_id, completed=False)
    r = await client.post(sess_path(sess, "/logs/search"), json={"role": "keyholder", "limit": 4})
    page = r.json()
    assert r.status_code == 200 and page["count"] == 6 and page["hasMore"] is True
    assert [x["type"] for x in page["results"][:2]] == ["tasks_task_failed", "tasks_task_assigned"]
    r = await client.post(
        sess_path(sess, "/logs/search"),
        json={"role": "keyholder", "limit": 4, "lastId": page["results"][-1]["_id"]},
    )
    assert len(r.json()["results"]) == 2 and r.json()["hasMore"] is False
    assert_nest_error(await client.post(sess_path(sess, "/logs/search"), json={}), 400)

    r = await client.patch(sess_path(sess), json={"data": {"k": 1}})
    assert r.status_code == 200
    assert (await get_session(client, sess))["data"] == {"k": 1}


def test_cli_arguments() -> None:
    from tests.fakes.chaster import _parse_args

    args = _parse_args([])
    assert (args.host, args.port, args.rate_limit, args.webhook_url) == (
        "127.0.0.1",
        8081,
        None,
        None,
    )
    args = _parse_args(["--port", "0", "--seed-sessions", "5", "--rate-limit", "100"])
    assert (args.port, args.seed_sessions, args.rate_limit, args.rate_window) == (0, 5, 100, 60.0)


async def test_answer_next_sends_exactly_the_body(
    fake: FakeChaster, client: httpx.AsyncClient
) -> None:
    sess = fake.add_session()
    fake.answer_next("GET", "/sessions/", 200, '{"session": {"sessionId": ')
    r = await client.get(sess_path(sess))
    assert (r.status_code, r.text) == (200, '{"session": {"sessionId": ')
    with pytest.raises(
        json.JSONDecodeError, match=r"^Expecting value: line 1 column 27 \(char 26\)$"
    ):
        r.json()
    fake.answer_next(
        "POST", "/tasks/assign", 502, "<html>Bad Gateway</html>", content_type="text/html"
    )
    r = await client.post(sess_path(sess, "/tasks/assign"), json=assign_body())
    assert (r.status_code, r.headers["content-type"]) == (502, "text/html")
    assert sess.current_task is None
    fake.answer_next("POST", "/tasks/assign", 200, "not json", apply=True)
    r = await client.post(sess_path(sess, "/tasks/assign"), json=assign_body())
    assert (r.status_code, r.text) == (200, "not json")
    assert sess.current_task is not None
    assert [c.status for c in fake.calls] == [200, 502, 200]
    # Spent: the next request gets the normal answer.
    assert (await client.get(sess_path(sess))).status_code == 200


async def test_injected_429_has_no_rate_limit_headers(
    fake: FakeChaster, client: httpx.AsyncClient
) -> None:
    sess = fake.add_session()
    fake.fail_next("GET", "/sessions/", 429, "ThrottlerException: Too Many Requests")
    r = await client.get(sess_path(sess))
    assert_nest_error(r, 429)
    assert not [h for h in r.headers if h.lower().startswith(("x-ratelimit", "retry-after"))]


async def test_tasks_extension_removed_and_added_back(
    fake: FakeChaster, client: httpx.AsyncClient
) -> None:
    sess = fake.add_session(enable_points=True, points=7)
    r = await client.post(sess_path(sess, "/tasks/assign"), json=assign_body())
    assert r.status_code == 201
    fake.remove_tasks_extension(sess.session_id)
    got = await get_session(client, sess)
    assert [e["slug"] for e in got["lock"]["extensions"]] == [fake.slug]
    for action, body in (
        ("/tasks/assign", assign_body()),
        ("/tasks/start-timer", {"actor": "extension"}),
        ("/tasks/complete", {"actor": "extension", "isCompleted": True}),
    ):
        r = await client.post(sess_path(sess, action), json=body)
        assert "Tasks extension" in assert_nest_error(r, 404)
    fake.add_tasks_extension(sess.session_id)
    user_data = tasks_party(await get_session(client, sess))["userData"]
    assert (user_data["status"], user_data["currentTask"], user_data["points"]) == (
        "start",
        None,
        0,
    )


async def test_offline_refuses_connections_and_keeps_state(
    fake: FakeChaster, client: httpx.AsyncClient
) -> None:
    sess = fake.add_session()
    assert (await client.get(sess_path(sess))).status_code == 200
    port = fake.port
    await fake.go_offline()
    with pytest.raises(httpx.ConnectError, match=r"^All connection attempts failed$") as refused:
        await client.get(sess_path(sess))
    assert refused.value.request.url.port == port
    await fake.go_online()
    assert fake.port == port
    assert (await client.get(sess_path(sess))).status_code == 200
    assert fake.count_calls("GET", sess.session_id) == 2
