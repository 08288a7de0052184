"""The fake Chaster's private files and standalone peer reviews (reference §10.5, §10.6),
exercised over loopback HTTP."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.fake_chaster.conftest import DISCONNECTED, Receiver, assert_nest_error, parse_iso
from tests.fakes.chaster import API_PREFIX, FILE_MAX_BYTES, FakeChaster, FakeSession, iso

HEX24 = re.compile(r"^[0-9a-f]{24}$")
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32 + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32
GIF89 = b"GIF89a\x01\x00\x01\x00" + b"\x00" * 16 + b";"
GIF87 = b"GIF87a\x01\x00\x01\x00" + b"\x00" * 16 + b";"
TYPE_ERROR = "Validation failed (expected type is image/jpeg, image/png or image/gif)"
LOCKED_MESSAGE = "You cannot modify an unlocked lock."

GENERIC = {
    "name": "generic",
    "id": "cage-on",
    "title": "The cage is on",
    "description": "The cage can be seen, locked.",
    "rejectionReasons": [
        {"slug": "no-cage", "text": "No cage in the photo"},
        {"slug": "blurry", "text": "The photo is blurry"},
    ],
}
GENERIC_CODE = {
    "name": "generic",
    "id": "code",
    "title": "The code is written",
    "description": "",
    "rejectionReasons": [{"slug": "no-code", "text": "The code is missing"}],
}


def files_path(sess: FakeSession | str, file_id: str | None = None) -> str:
    sid = sess if isinstance(sess, str) else sess.session_id
    return f"/sessions/{sid}/files" + (f"/{file_id}" if file_id is not None else "")


def reviews_path(sess: FakeSession | str, suffix: str = "") -> str:
    sid = sess if isinstance(sess, str) else sess.session_id
    return f"/sessions/{sid}/peer-verifications{suffix}"


async def upload(
    client: httpx.AsyncClient,
    sess: FakeSession | str,
    name: str = "proof.jpg",
    content: bytes = JPEG,
    mime: str = "image/jpeg",
    **fields: str,
) -> httpx.Response:
    return await client.post(
        files_path(sess), files={"file": (name, content, mime)}, data=fields or None
    )


async def uploaded(client: httpx.AsyncClient, sess: FakeSession | str) -> dict[str, Any]:
    r = await upload(client, sess)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def review_body(token: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "verificationTypeKey": "photo",
        "attachmentToken": token,
        "visibility": "all_members",
        "checks": [GENERIC],
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


async def post_review(
    client: httpx.AsyncClient, sess: FakeSession, **overrides: Any
) -> httpx.Response:
    token = (await uploaded(client, sess))["attachmentToken"]
    return await client.post(reviews_path(sess), json=review_body(token, **overrides))


async def create_review(
    client: httpx.AsyncClient, sess: FakeSession, **overrides: Any
) -> dict[str, Any]:
    r = await post_review(client, sess, **overrides)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def search(client: httpx.AsyncClient, sess: FakeSession | str, **body: Any) -> dict[str, Any]:
    r = await client.post(reviews_path(sess, "/search"), json=body)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


# ---------------------------------------------------------------- files


@pytest.mark.parametrize(
    ("name", "content", "mime"),
    [
        ("proof.jpg", JPEG, "image/jpeg"),
        ("proof.JPEG", JPEG, "image/jpeg"),
        ("proof.png", PNG, "image/png"),
        ("proof.gif", GIF89, "image/gif"),
        ("old.gif", GIF87, "image/gif"),
    ],
)
async def test_upload_each_type(
    fake: FakeChaster, client: httpx.AsyncClient, name: str, content: bytes, mime: str
) -> None:
    sess = fake.add_session()
    before = fake.now()
    r = await upload(client, sess, name, content, mime)
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"fileId", "attachmentToken", "expiresAt"}
    assert isinstance(body["attachmentToken"], str) and len(body["attachmentToken"]) >= 32
    expires = parse_iso(body["expiresAt"])
    assert ISO_MS.match(body["expiresAt"])
    one_hour = before + timedelta(hours=1)
    assert one_hour - timedelta(seconds=1) <= expires <= one_hour + timedelta(seconds=5)
    assert fake.file_bytes(body["fileId"]) == content
    stored = fake.files[body["fileId"]]
    assert (stored.session_id, stored.name, stored.size) == (sess.session_id, name, len(content))
    assert stored.content_type == mime and not stored.deleted and stored.referenced_by is None
    # A second upload gets other ids and another secret.
    again = (await upload(client, sess, name, content, mime)).json()
    assert again["fileId"] != body["fileId"]
    assert again["attachmentToken"] != body["attachmentToken"]


async def test_upload_with_expires_at(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    sess = fake.add_session()
    wanted = fake.now() + timedelta(minutes=10)
    r = await upload(client, sess, expiresAt=iso(wanted) or "")
    assert r.status_code == 201, r.text
    assert r.json()["expiresAt"] == iso(wanted)
    past = iso(fake.now() - timedelta(seconds=1)) or ""
    assert assert_nest_error(await upload(client, sess, expiresAt=past), 400) == [
        "expiresAt must be in the future"
    ]
    assert assert_nest_error(await upload(client, sess, expiresAt="tomorrow"), 400) == [
        "expiresAt must be a valid ISO 8601 date string"
    ]
    fake.file_max_ttl = 3600
    late = iso(fake.now() + timedelta(hours=2)) or ""
    assert assert_nest_error(await upload(client, sess, expiresAt=late), 400) == [
        "expiresAt is too far in the future"
    ]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("proof.jpg", PNG),  # a PNG that says it is a JPEG
        ("proof.png", JPEG),
        ("proof.gif", b"GIF88a" + b"\x00" * 16),
        ("proof.jpg", b"not an image at all"),
        ("proof.jpg", b""),
        ("proof.bmp", b"BM" + b"\x00" * 32),
        ("proof.webp", b"RIFF\x00\x00\x00\x00WEBPVP8 "),
        ("proof", JPEG),
        ("proof.jpg.exe", JPEG),
    ],
)
async def test_upload_refuses_other_types(
    fake: FakeChaster, client: httpx.AsyncClient, name: str, content: bytes
) -> None:
    sess = fake.add_session()
    r = await upload(client, sess, name, content, "image/jpeg")
    assert assert_nest_error(r, 400) == TYPE_ERROR
    assert fake.files == {}


async def test_decode_check_knob_trusts_the_extension(
    fake: FakeChaster, client: httpx.AsyncClient
) -> None:
    sess = fake.add_session()
    fake.file_decode_check = False
    r = await upload(client, sess, "proof.png", JPEG, "image/png")
    assert r.status_code == 201, r.text
    assert assert_nest_error(await upload(client, sess, "proof.bmp", JPEG), 400) == TYPE_ERROR


async def test_upload_size_limit(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    sess = fake.add_session()
    assert FILE_MAX_BYTES == 15 * 1024 * 1024
    big = JPEG[:4] + b"\x00" * (FILE_MAX_BYTES - 4)
    r = await upload(client, sess, "big.jpg", big + b"\x00")
    assert assert_nest_error(r, 413) == "File too large"
    assert fake.files == {}
    r = await upload(client, sess, "big.jpg", big)
    assert r.status_code == 201, r.text
    assert fake.files[r.json()["fileId"]].size == FILE_MAX_BYTES
    fake.file_max_bytes = 1024
    r = await upload(client, sess, "big.jpg", JPEG + b"\x00" * 1024)
    assert assert_nest_error(r, 413) == "File too large"


async def test_server_refuses_a_body_above_its_own_limit() -> None:
    fake = FakeChaster()
    fake.request_max_bytes = 4096
    async with (
        fake,
        httpx.AsyncClient(
            base_url=fake.api_url, headers={"Authorization": f"Bearer {fake.token}"}
        ) as client,
    ):
        sess = fake.add_session()
        r = await upload(client, sess, "big.jpg", JPEG + b"\x00" * 8192)
        assert assert_nest_error(r, 413) == "request entity too large"
        assert fake.files == {}
        assert [c.status for c in fake.calls] == [413]
        assert (await upload(client, sess)).status_code == 201


async def test_upload_needs_a_locked_lock(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    for status in ("unlocked", "deserted"):
        sess = fake.add_session(status=status)
        assert assert_nest_error(await upload(client, sess), 400) == LOCKED_MESSAGE
    sess = fake.add_session()
    fake.end_lock(sess.session_id)
    assert assert_nest_error(await upload(client, sess), 400) == LOCKED_MESSAGE
    assert fake.files == {}
    assert assert_nest_error(await upload(client, "no-such-session"), 404) == "Session not found"


async def test_upload_file_fields(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    sess = fake.add_session()
    path = files_path(sess)
    two = [("file", ("a.jpg", JPEG, "image/jpeg")), ("file", ("b.jpg", JPEG, "image/jpeg"))]
    assert assert_nest_error(await client.post(path, files=two), 400) == "Unexpected field"
    other = [("file", ("a.jpg", JPEG, "image/jpeg")), ("photo", ("b.jpg", JPEG, "image/jpeg"))]
    assert assert_nest_error(await client.post(path, files=other), 400) == "Unexpected field"
    wrong_name = {"image": ("a.jpg", JPEG, "image/jpeg")}
    assert assert_nest_error(await client.post(path, files=wrong_name), 400) == "Unexpected field"
    # No file at all: a text field called file, a JSON body, an empty form.
    r = await client.post(path, data={"file": "hello"}, files={"x": (None, b"y")})
    assert assert_nest_error(r, 400) == "File is required"
    r = await client.post(path, json={"file": "aGVsbG8="})
    assert assert_nest_error(r, 400) == "File is required"
    r = await client.post(path, content=b"garbage", headers={"Content-Type": "multipart/form-data"})
    assert assert_nest_error(r, 400) == "Multipart: Boundary not found"
    r = await client.post(
        path,
        content=b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n',
        headers={"Content-Type": "multipart/form-data; boundary=xyz"},
    )
    assert assert_nest_error(r, 400) == "Unexpected end of form"
    # Unknown text fields pass unless unknown fields are forbidden.
    r = await upload(client, sess, note="hi")
    assert r.status_code == 201, r.text
    fake.forbid_unknown_fields = True
    assert assert_nest_error(await upload(client, sess, note="hi"), 400) == [
        "property note should not exist"
    ]
    assert len(fake.files) == 1


async def test_read_and_delete_a_file(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    sess = fake.add_session()
    body = (await upload(client, sess, "proof.png", PNG, "image/png")).json()
    r = await client.get(files_path(sess, body["fileId"]))
    assert r.status_code == 200, r.text
    info = r.json()
    assert set(info) == {"fileId", "originalName", "size", "expiresAt", "url"}
    assert (info["fileId"], info["originalName"], info["size"]) == (
        body["fileId"],
        "proof.png",
        len(PNG),
    )
    assert info["expiresAt"] == body["expiresAt"]
    assert info["url"].startswith("https://") and body["attachmentToken"] not in info["url"]
    assert body["attachmentToken"] not in r.text
    r = await client.delete(files_path(sess, body["fileId"]))
    assert r.status_code == 204 and r.content == b""
    assert fake.files[body["fileId"]].deleted
    for r in (
        await client.get(files_path(sess, body["fileId"])),
        await client.delete(files_path(sess, body["fileId"])),
    ):
        assert assert_nest_error(r, 404) == "File not found"
    # The attachment token of a deleted file is no good either.
    r = await client.post(reviews_path(sess), json=review_body(body["attachmentToken"]))
    assert assert_nest_error(r, 403) == "Invalid or expired attachment token"
    assert fake.file_bytes(body["fileId"]) == PNG


async def test_file_404s(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    sess = fake.add_session()
    other = fake.add_session()
    body = await uploaded(client, sess)
    file_id = body["fileId"]
    for r in (
        await client.get(files_path(other, file_id)),
        await client.delete(files_path(other, file_id)),
        await client.get(files_path(sess, "0" * 24)),
        await client.delete(files_path(sess, "0" * 24)),
    ):
        assert assert_nest_error(r, 404) == "File not found"
    assert not fake.files[file_id].deleted
    r = await client.get(files_path("no-such-session", file_id))
    assert assert_nest_error(r, 404) == "Session not found"
    # Another session cannot use the token either.
    r = await client.post(reviews_path(other), json=review_body(body["attachmentToken"]))
    assert assert_nest_error(r, 404) == "File not found"
    # Expired: gone for reads, deletes and reviews.
    fake.advance(3600)
    for r in (
        await client.get(files_path(sess, file_id)),
        await client.delete(files_path(sess, file_id)),
    ):
        assert assert_nest_error(r, 404) == "File not found"
    r = await client.post(reviews_path(sess), json=review_body(body["attachmentToken"]))
    assert assert_nest_error(r, 403) == "Invalid or expired attachment token"


async def test_delete_refused_while_a_review_uses_the_file(
    fake: FakeChaster, client: httpx.AsyncClient
) -> None:
    sess = fake.add_session()
    body = await uploaded(client, sess)
    r = await client.post(reviews_path(sess), json=review_body(body["attachmentToken"]))
    assert r.status_code == 201, r.text
    review_id = r.json()["_id"]
    stored = fake.files[body["fileId"]]
    assert stored.referenced_by == review_id
    r = await client.delete(files_path(sess, body["fileId"]))
    assert assert_nest_error(r, 409) == "The file is used by a peer verification"
    assert not stored.deleted
    # The review keeps its photo: the file no longer expires (a knob).
    fake.advance(7200)
    r = await client.get(files_path(sess, body["fileId"]))
    assert r.status_code == 200 and r.json()["expiresAt"] is None
    fake.vote(review_id, approve=True, count=3)
    fake.advance(21600)
    fake.end_due_reviews()
    assert assert_nest_error(await client.delete(files_path(sess, body["fileId"])), 409)


async def test_file_routes_go_through_the_fault_rules(
    fake: FakeChaster, client: httpx.AsyncClient
) -> None:
    sess = fake.add_session()
    fake.fail_next("POST", "/files", 503, "Service Unavailable")
    assert assert_nest_error(await upload(client, sess), 503) == "Service Unavailable"
    assert fake.files == {}
    fake.drop_next("POST", "/files", apply=True)
    with pytest.raises(httpx.RemoteProtocolError, match=DISCONNECTED):
        await upload(client, sess)
    assert len(fake.files) == 1
    call = fake.calls[-1]
    assert (call.method, call.path) == ("POST", API_PREFIX + files_path(sess))
    assert call.status is None and call.json is None  # the image bytes are not recorded
    assert fake.count_calls("POST", "/files") == 2
    r = await client.post(files_path(sess), headers={"Authorization": "Bearer nope"})
    assert assert_nest_error(r, 401) == "Unauthorized"


# ---------------------------------------------------------------- reviews: creation


async def test_create_community_review(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    sess = fake.add_session()
    before = fake.now()
    punish = [{"name": "add_time", "params": 3600}, {"name": "freeze"}]
    review = await create_review(
        client, sess, checks=[GENERIC, {"name": "task", "id": "t"}], punishments=punish
    )
    assert list(review) == [
        "_id",
        "status",
        "source",
        "verificationType",
        "checks",
        "punishments",
        "createdAt",
        "endsAt",
        "endedAt",
        "nbVerifiedVotes",
        "nbRejectedVotes",
        "rejectionReasons",
        "checkResults",
    ]
    assert HEX24.match(review["_id"]) and review["status"] == "ongoing"
    assert review["verificationType"] == {"key": "photo", "label": "Photo review"}
    assert review["checks"] == [GENERIC, {"name": "task", "id": "t"}]
    assert review["punishments"] == punish
    assert review["source"]["sessionId"] == sess.session_id
    created = parse_iso(review["createdAt"])
    assert created >= before - timedelta(seconds=1)
    assert parse_iso(review["endsAt"]) == created + timedelta(seconds=21600)
    assert review["endedAt"] is None
    assert (review["nbVerifiedVotes"], review["nbRejectedVotes"]) == (0, 0)
    assert review["rejectionReasons"] == []
    generic, task = review["checkResults"]
    assert generic == {
        "checkId": "cage-on",
        "name": "generic",
        "checkIndex": 0,
        "subcheckName": None,
        "nbVerifiedVotes": 0,
        "nbRejectedVotes": 0,
        "rejectionReasons": [
            {"slug": "no-cage", "text": "No cage in the photo", "nbVotes": 0},
            {"slug": "blurry", "text": "The photo is blurry", "nbVotes": 0},
        ],
    }
    assert (task["checkId"], task["name"], task["checkIndex"]) == ("t", "task", 1)
    assert task["subcheckName"] == "task_done" and task["rejectionReasons"]
    assert fake.reviews(sess.session_id) == [review]
    # Nothing is applied at creation.
    assert fake.lock_actions(sess.session_id) == []

    short = await create_review(client, sess, delay=900, maxVotes=3)
    assert parse_iso(short["endsAt"]) == parse_iso(short["createdAt"]) + timedelta(seconds=900)
    assert (await search(client, sess, limit=1))["results"][0]["maxVotes"] == 3


async def test_create_keyholder_review(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    sess = fake.add_session()
    review = await create_review(
        client, sess, visibility="keyholder", checks=[{"name": "chastity_device"}]
    )
    assert review["status"] == "ongoing"
    assert review["endsAt"] is None and review["endedAt"] is None
    assert review["checks"] == [{"name": "chastity_device"}]
    rows = review["checkResults"]
    assert [(r["checkId"], r["name"], r["checkIndex"], r["subcheckName"]) for r in rows] == [
        (None, "chastity_device", 0, "device_visible"),
        (None, "chastity_device", 0, "device_locked"),
    ]
    (row,) = (await search(client, sess))["results"]
    assert row["maxVotes"] is None and row["endsAt"] is None
    # A keyholder review has no deadline.
    fake.advance(10 * 86400)
    assert fake.end_due_reviews() == []


def _check(**overrides: Any) -> dict[str, Any]:
    check = dict(GENERIC)
    check.update(overrides)
    return {k: v for k, v in check.items() if v is not None}


@pytest.mark.parametrize(
    ("overrides", "messages"),
    [
        (
            {"verificationTypeKey": None, "attachmentToken": 5},
            [
                "verificationTypeKey must be a string",
                "verificationTypeKey should not be empty",
                "attachmentToken must be a string",
            ],
        ),
        (
            {"visibility": "friends"},
            ["visibility must be one of the following values: all_members, keyholder"],
        ),
        ({"delay": 899}, ["delay must not be less than 900"]),
        ({"delay": 21601}, ["delay must not be greater than 21600"]),
        ({"delay": "1h"}, ["delay must be an integer number"]),
        ({"maxVotes": 2}, ["maxVotes must not be less than 3"]),
        ({"maxVotes": 101}, ["maxVotes must not be greater than 100"]),
        (
            {"visibility": "keyholder", "delay": 900, "maxVotes": 3},
            [
                "delay is not allowed when visibility is keyholder",
                "maxVotes is not allowed when visibility is keyholder",
            ],
        ),
        ({"checks": []}, ["checks should not be empty"]),
        ({"checks": None}, ["checks must be an array", "checks should not be empty"]),
        (
            {"checks": ["x"]},
            ["each value in nested property checks must be either object or array"],
        ),
        (
            {"checks": [{"name": "selfie"}]},
            [
                "checks.0.name must be one of the following values: "
                "generic, task, chastity_device, bondage"
            ],
        ),
        ({"checks": [_check(id=None)]}, ["checks.0.id must be a string"]),
        (
            {"checks": [_check(title="")]},
            ["checks.0.title must be longer than or equal to 1 characters"],
        ),
        (
            {"checks": [_check(title="x" * 61)]},
            ["checks.0.title must be shorter than or equal to 60 characters"],
        ),
        (
            {"checks": [_check(description="x" * 301)]},
            ["checks.0.description must be shorter than or equal to 300 characters"],
        ),
        ({"checks": [_check(description=None)]}, ["checks.0.description must be a string"]),
        (
            {"checks": [_check(rejectionReasons=[])]},
            ["checks.0.rejectionReasons should not be empty"],
        ),
        (
            {"checks": [_check(rejectionReasons=[{"slug": "a"}])]},
            ["checks.0.rejectionReasons.0.text must be a string"],
        ),
        (
            {"checks": [_check(rejectionReasons=[{"slug": "a", "text": "A"}] * 2)]},
            ["checks.0.rejectionReasons must not contain duplicate slugs"],
        ),
        (
            {"checks": [{"name": "task"}, {"name": "bondage"}]},
            ["checks.0.id must be a string", "checks.1.id must be a string"],
        ),
        ({"checks": [GENERIC, GENERIC]}, ["checks must not contain duplicate ids"]),
        ({"punishments": {"name": "freeze"}}, ["punishments must be an array"]),
        (
            {"punishments": [{"name": "explode"}]},
            [
                "punishments.0.name must be one of the following values: add_time, "
                "remove_time, freeze, unfreeze, toggle_freeze, pillory, set_display_remaining_time"
            ],
        ),
        (
            {"punishments": [{"name": "freeze"}, {"name": "add_time", "params": 0}]},
            ["punishments.1.params must not be less than 1"],
        ),
        (
            {"punishments": [{"name": "pillory", "params": 60}]},
            ["nested property punishments.0.params must be either object or array"],
        ),
    ],
)
async def test_review_validation(
    fake: FakeChaster,
    client: httpx.AsyncClient,
    overrides: dict[str, Any],
    messages: list[str],
) -> None:
    sess = fake.add_session()
    body = await uploaded(client, sess)
    payload = review_body(body["attachmentToken"])
    payload.update(overrides)
    payload = {k: v for k, v in payload.items() if v is not None}
    r = await client.post(reviews_path(sess), json=payload)
    assert assert_nest_error(r, 400) == messages
    assert fake.reviews(sess.session_id) == []
    assert fake.files[body["fileId"]].referenced_by is None


async def test_review_refusals(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    sess = fake.add_session()
    token = (await uploaded(client, sess))["attachmentToken"]
    path = reviews_path(sess)
    # An undeclared kind.
    r = await client.post(path, json=review_body(token, verificationTypeKey="video"))
    assert assert_nest_error(r, 400) == "Unknown verification type: video"
    fake.verification_types.append({"key": "video", "label": "Video", "description": ""})
    # Unknown token.
    r = await client.post(path, json=review_body("not-a-token"))
    assert assert_nest_error(r, 403) == "Invalid or expired attachment token"
    # Suspended wearer.
    fake.wearer_suspended_from_reviews = True
    assert assert_nest_error(await client.post(path, json=review_body(token)), 403) == (
        "You are suspended from peer verifications"
    )
    fake.wearer_suspended_from_reviews = False
    # Used once, then refused.
    r = await client.post(path, json=review_body(token, verificationTypeKey="video"))
    assert r.status_code == 201, r.text
    assert r.json()["verificationType"] == {"key": "video", "label": "Video"}
    r = await client.post(path, json=review_body(token))
    assert assert_nest_error(r, 403) == "Invalid or expired attachment token"
    # Unknown session.
    r = await client.post(reviews_path("no-such-session"), json=review_body(token))
    assert assert_nest_error(r, 404) == "Session not found"
    # A pillory punishment needs the Pillory extension.
    r = await post_review(
        client, sess, punishments=[{"name": "pillory", "params": {"duration": 600}}]
    )
    assert assert_nest_error(r, 400) == "The Pillory extension is not enabled on this lock"
    assert len(fake.reviews(sess.session_id)) == 1


async def test_review_token_expiry(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    sess = fake.add_session()
    fake.attachment_token_ttl = 60
    token = (await uploaded(client, sess))["attachmentToken"]
    fake.advance(61)
    r = await client.post(reviews_path(sess), json=review_body(token))
    assert assert_nest_error(r, 403) == "Invalid or expired attachment token"


async def test_review_needs_an_active_lock(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    sess = fake.add_session()
    token = (await uploaded(client, sess))["attachmentToken"]
    fake.end_lock(sess.session_id)
    r = await client.post(reviews_path(sess), json=review_body(token))
    assert assert_nest_error(r, 400) == LOCKED_MESSAGE


async def test_keyholder_audience_unavailable(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    self_lock = fake.add_session(has_keyholder=False)
    r = await post_review(client, self_lock, visibility="keyholder")
    assert assert_nest_error(r, 409) == "The keyholder cannot review this verification"
    # The community can still review it.
    assert (await create_review(client, self_lock))["status"] == "ongoing"
    sess = fake.add_session()
    fake.keyholder_can_review = False
    r = await post_review(client, sess, visibility="keyholder")
    assert assert_nest_error(r, 409) == "The keyholder cannot review this verification"
    fake.keyholder_can_review = True
    fake.keyholder_rejects_vote_settings = False
    review = await create_review(client, sess, visibility="keyholder", delay=900, maxVotes=5)
    assert review["endsAt"] is None


# ---------------------------------------------------------------- reviews: search


async def test_search_pages_newest_first(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    sess = fake.add_session()
    other = fake.add_session()
    await create_review(client, other)
    ids = [(await create_review(client, sess))["_id"] for _ in range(25)]
    first = await search(client, sess)
    assert len(first["results"]) == 20 and first["hasMore"] is True
    assert isinstance(first["nextCursor"], str)
    second = await search(client, sess, cursor=first["nextCursor"])
    assert len(second["results"]) == 5 and second["hasMore"] is False
    assert "nextCursor" not in second
    seen = [row["_id"] for row in first["results"] + second["results"]]
    assert seen == ids[::-1]
    row = first["results"][0]
    assert row["status"] == "ongoing" and row["maxVotes"] is None
    assert row["voteCounts"] == {"verified": 0, "rejected": 0}
    assert "nbVerifiedVotes" not in row and "nbRejectedVotes" not in row
    cr = row["checkResults"][0]
    assert (cr["approved"], cr["rejected"]) == (0, 0)
    assert cr["rejectionReasons"][0] == {
        "slug": "no-cage",
        "text": "No cage in the photo",
        "count": 0,
    }
    small = await search(client, sess, limit=10)
    assert [r["_id"] for r in small["results"]] == ids[::-1][:10]
    rest = await search(client, sess, limit=10, cursor=small["nextCursor"])
    assert [r["_id"] for r in rest["results"]] == ids[::-1][10:20]
    assert len((await search(client, other))["results"]) == 1
    assert (await search(client, fake.add_session())) == {"results": [], "hasMore": False}


async def test_search_criteria(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    sess = fake.add_session()
    fake.verification_types.append({"key": "cage", "label": "Cage check"})
    verified = await create_review(client, sess, maxVotes=3)
    rejected = await create_review(client, sess, maxVotes=3)
    ongoing = await create_review(client, sess, verificationTypeKey="cage")
    fake.vote(verified["_id"], approve=True, count=3)
    fake.vote(rejected["_id"], approve=False, count=3)

    async def found(**criteria: Any) -> list[str]:
        return [r["_id"] for r in (await search(client, sess, criteria=criteria))["results"]]

    assert await found() == [ongoing["_id"], rejected["_id"], verified["_id"]]
    assert await found(statuses=["verified"]) == [verified["_id"]]
    assert await found(statuses=["ongoing", "rejected"]) == [ongoing["_id"], rejected["_id"]]
    assert await found(verificationTypeKeys=["cage"]) == [ongoing["_id"]]
    assert await found(statuses=["ongoing"], verificationTypeKeys=["photo"]) == []


@pytest.mark.parametrize(
    ("body", "messages"),
    [
        ({"limit": 0}, ["limit must not be less than 1"]),
        ({"limit": 101}, ["limit must not be greater than 100"]),
        ({"limit": "5"}, ["limit must be an integer number"]),
        ({"cursor": "garbage!"}, ["cursor is invalid"]),
        ({"cursor": "cHY6eHl6"}, ["cursor is invalid"]),  # "pv:xyz"
        ({"cursor": 12}, ["cursor must be a string"]),
        (
            {"criteria": {"statuses": ["pending"]}},
            [
                "each value in criteria.statuses must be one of the following values: "
                "ongoing, verified, rejected"
            ],
        ),
        (
            {"criteria": {"verificationTypeKeys": "photo"}},
            ["criteria.verificationTypeKeys must be an array"],
        ),
        ({"criteria": "all"}, ["nested property criteria must be either object or array"]),
    ],
)
async def test_search_validation(
    fake: FakeChaster, client: httpx.AsyncClient, body: dict[str, Any], messages: list[str]
) -> None:
    sess = fake.add_session()
    r = await client.post(reviews_path(sess, "/search"), json=body)
    assert assert_nest_error(r, 400) == messages


async def test_search_unknown_session(client: httpx.AsyncClient) -> None:
    r = await client.post(reviews_path("no-such-session", "/search"), json={})
    assert assert_nest_error(r, 404) == "Session not found"


# ---------------------------------------------------------------- reviews: outcome


async def test_votes_and_the_75_percent_rule(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    sess = fake.add_session()
    just_enough = await create_review(client, sess, maxVotes=4)
    fake.vote(just_enough["_id"], approve=True, count=3)
    assert fake.reviews(sess.session_id)[0]["status"] == "ongoing"
    ended = fake.vote(just_enough["_id"], approve=False, reasons=["blurry"])
    assert ended["status"] == "verified"  # 3 of 4 = 75%
    assert ISO_MS.match(ended["endedAt"])
    assert (ended["nbVerifiedVotes"], ended["nbRejectedVotes"]) == (3, 1)
    assert ended["rejectionReasons"] == [
        {"slug": "blurry", "text": "The photo is blurry", "nbVotes": 1}
    ]

    too_few = await create_review(client, sess, maxVotes=3, checks=[GENERIC, GENERIC_CODE])
    fake.vote(too_few["_id"], approve=True, count=2)
    out = fake.vote(too_few["_id"], approve=False, reasons=["no-code"])
    assert out["status"] == "rejected"  # 2 of 3 < 75%
    cage, code = out["checkResults"]
    # The rejection named a reason of the second check only: the first counts it as approved.
    assert (cage["nbVerifiedVotes"], cage["nbRejectedVotes"]) == (3, 0)
    assert (code["nbVerifiedVotes"], code["nbRejectedVotes"]) == (2, 1)
    assert code["rejectionReasons"] == [
        {"slug": "no-code", "text": "The code is missing", "nbVotes": 1}
    ]
    (row,) = (await search(client, sess, limit=1))["results"]
    assert row["_id"] == too_few["_id"]
    assert row["voteCounts"] == {"verified": 2, "rejected": 1}
    assert [(c["approved"], c["rejected"]) for c in row["checkResults"]] == [(3, 0), (2, 1)]
    assert row["rejectionReasons"] == [
        {"slug": "no-code", "text": "The code is missing", "count": 1}
    ]

    with pytest.raises(ValueError, match="has ended"):
        fake.vote(too_few["_id"], approve=True)
    capped = await create_review(client, sess, maxVotes=3)
    with pytest.raises(ValueError, match="more vote"):
        fake.vote(capped["_id"], approve=True, count=4)
    with pytest.raises(ValueError, match="no rejection reason"):
        fake.vote(capped["_id"], approve=False, reasons=["nope"])
    with pytest.raises(ValueError, match="approving vote"):
        fake.vote(capped["_id"], approve=True, reasons=["blurry"])
    with pytest.raises(ValueError, match="judge"):
        fake.vote((await create_review(client, sess, visibility="keyholder"))["_id"], approve=True)
    with pytest.raises(ValueError, match="vote"):
        fake.judge(capped["_id"], verified=True)
    with pytest.raises(KeyError):
        fake.vote("0" * 24, approve=True)


async def test_deadline(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    sess = fake.add_session()
    silent = await create_review(client, sess, delay=900)
    split = await create_review(client, sess, delay=900)
    later = await create_review(client, sess)  # 6 h
    fake.vote(split["_id"], approve=True)
    fake.vote(split["_id"], approve=False)
    fake.advance(890)
    assert fake.end_due_reviews() == []
    fake.advance(10)
    assert sorted(fake.end_due_reviews()) == sorted([silent["_id"], split["_id"]])
    by_id = {r["_id"]: r for r in fake.reviews(sess.session_id)}
    assert by_id[silent["_id"]]["status"] == "verified"  # no votes at all: verified
    assert by_id[split["_id"]]["status"] == "rejected"  # 1 of 2 < 75%
    assert by_id[later["_id"]]["status"] == "ongoing"
    assert fake.end_due_reviews() == []
    fake.advance(21600)
    assert fake.end_due_reviews() == [later["_id"]]


async def test_auto_end_reviews_knob(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    sess = fake.add_session()
    review = await create_review(client, sess, delay=900)
    fake.advance(900)
    assert (await search(client, sess))["results"][0]["status"] == "ongoing"
    fake.auto_end_reviews = True
    assert (await search(client, sess))["results"][0]["status"] == "verified"
    assert fake.reviews(sess.session_id)[0]["_id"] == review["_id"]


async def test_punishments_applied_once_on_rejection(
    fake: FakeChaster, client: httpx.AsyncClient
) -> None:
    sess = fake.add_session(pillory=True)
    end = sess.end_date
    assert end is not None
    punish = [
        {"name": "add_time", "params": 3600},
        {"name": "freeze"},
        {"name": "pillory", "params": {"duration": 600, "reason": "Bad photo"}},
    ]
    passed = await create_review(client, sess, maxVotes=3, punishments=punish)
    fake.vote(passed["_id"], approve=True, count=3)
    assert (
        sess.end_date == end and sess.frozen_at is None and fake.lock_actions(sess.session_id) == []
    )

    failed = await create_review(client, sess, maxVotes=3, punishments=punish)
    fake.vote(failed["_id"], approve=False, count=3)
    assert sess.end_date == end + timedelta(hours=1)
    assert sess.frozen_at is not None
    assert [p["reason"] for p in sess.pillories] == ["Bad photo"]
    logs = fake.lock_actions(sess.session_id)
    assert [(log["type"], log["payload"]) for log in logs] == [
        ("time_changed", {"duration": 3600}),
        ("lock_frozen", {}),
        ("pillory_in", {"duration": 600, "reason": "Bad photo"}),
    ]
    # The same entries POST /action writes.
    for log in logs:
        assert (log["role"], log["extension"], log["prefix"]) == ("extension", fake.slug, "default")
    r = await client.post(f"/sessions/{sess.session_id}/logs/search", json={"role": "keyholder"})
    assert [e["type"] for e in r.json()["results"]][:3] == [
        "pillory_in",
        "lock_frozen",
        "time_changed",
    ]
    # Nothing runs twice: later sweeps and more time change nothing.
    fake.advance(86400)
    assert fake.end_due_reviews() == []
    assert len(fake.lock_actions(sess.session_id)) == 3
    assert sess.end_date == end + timedelta(hours=1)


async def test_keyholder_judgement(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    sess = fake.add_session()
    end = sess.end_date
    assert end is not None
    ok = await create_review(client, sess, visibility="keyholder", punishments=[{"name": "freeze"}])
    out = fake.judge(ok["_id"], verified=True)
    assert out["status"] == "verified" and out["nbVerifiedVotes"] == 1 and out["endedAt"]
    assert sess.frozen_at is None
    bad = await create_review(
        client,
        sess,
        visibility="keyholder",
        punishments=[{"name": "remove_time", "params": 60}],
    )
    out = fake.judge(bad["_id"], verified=False, reasons=["no-cage"])
    assert out["status"] == "rejected" and out["nbRejectedVotes"] == 1
    assert out["rejectionReasons"] == [
        {"slug": "no-cage", "text": "No cage in the photo", "nbVotes": 1}
    ]
    assert sess.end_date == end - timedelta(seconds=60)
    with pytest.raises(ValueError, match="has ended"):
        fake.judge(bad["_id"], verified=True)


async def test_no_punishment_on_an_ended_lock(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    sess = fake.add_session()
    review = await create_review(
        client, sess, maxVotes=3, punishments=[{"name": "add_time", "params": 60}]
    )
    end = sess.end_date
    fake.end_lock(sess.session_id)
    assert fake.vote(review["_id"], approve=False, count=3)["status"] == "rejected"
    assert sess.end_date == end and fake.lock_actions(sess.session_id) == []


async def test_ended_webhook(
    fake: FakeChaster, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    sess = fake.add_session()
    review = await create_review(
        client,
        sess,
        maxVotes=3,
        checks=[GENERIC, GENERIC_CODE],
        punishments=[{"name": "add_time", "params": 600}],
    )
    fake.vote(review["_id"], approve=True)
    fake.vote(review["_id"], approve=False, reasons=["blurry", "no-code"], count=2)
    hook = await fake.wait_for_webhook(lambda d: d["event"] == "peer_verification.ended")
    assert hook["status"] == 200
    body = hook["body"]
    assert set(body) == {"event", "data", "sentAt", "requestId"}
    ended = fake.reviews(sess.session_id)[0]
    assert body["data"] == {
        "sessionId": sess.session_id,
        "extension": {"slug": fake.slug},
        "lockId": sess.lock_id,
        "peerVerificationId": review["_id"],
        "verificationTypeKey": "photo",
        "status": "rejected",
        "endedAt": ended["endedAt"],
        "voteCounts": {"verified": 1, "rejected": 2},
        "checkResults": [
            {
                "checkId": "cage-on",
                "name": "generic",
                "checkIndex": 0,
                "subcheckName": None,
                "approved": 1,
                "rejected": 2,
                "rejectionReasons": [
                    {"slug": "no-cage", "text": "No cage in the photo", "count": 0},
                    {"slug": "blurry", "text": "The photo is blurry", "count": 2},
                ],
            },
            {
                "checkId": "code",
                "name": "generic",
                "checkIndex": 1,
                "subcheckName": None,
                "approved": 1,
                "rejected": 2,
                "rejectionReasons": [
                    {"slug": "no-code", "text": "The code is missing", "count": 2},
                ],
            },
        ],
    }
    # The punishment's history entry came with its own webhook, as for POST /action.
    (log,) = fake.lock_actions(sess.session_id)
    hooked = await fake.wait_for_webhook(
        lambda d: (
            d["event"] == "action_log.created"
            and d["body"]["data"]["actionLog"]["_id"] == log["_id"]
        )
    )
    assert hooked["body"]["data"]["actionLog"]["payload"] == {"duration": 600}
    assert any(
        b["event"] == "peer_verification.ended" for b in [body for _, body in receiver.requests]
    )

    fake.review_webhook_results_style = "review"
    other = await create_review(client, sess, maxVotes=3)
    fake.vote(other["_id"], approve=True, count=3)
    hook = await fake.wait_for_webhook(
        lambda d: (
            d["event"] == "peer_verification.ended"
            and d["body"]["data"]["peerVerificationId"] == other["_id"]
        )
    )
    assert hook["body"]["data"]["status"] == "verified"
    assert hook["body"]["data"]["checkResults"][0]["nbVerifiedVotes"] == 3


async def test_ended_webhook_can_be_turned_off(
    fake: FakeChaster, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    sess = fake.add_session()
    fake.review_ended_webhook = False
    review = await create_review(client, sess, maxVotes=3)
    fake.vote(review["_id"], approve=True, count=3)
    # A later event is the marker: once it arrived, the (earlier) review event would have been
    # queued too.
    r = await client.post(
        f"/sessions/{sess.session_id}/action", json={"action": {"name": "freeze"}}
    )
    assert r.status_code == 201
    await fake.wait_for_webhook(lambda d: d["event"] == "action_log.created")
    assert [d["event"] for d in fake.webhook_deliveries] == ["action_log.created"]


async def test_drop_next_on_creation(fake: FakeChaster, client: httpx.AsyncClient) -> None:
    sess = fake.add_session()
    token = (await uploaded(client, sess))["attachmentToken"]
    fake.drop_next("POST", "/peer-verifications", apply=False)
    with pytest.raises(httpx.RemoteProtocolError, match=DISCONNECTED):
        await client.post(reviews_path(sess), json=review_body(token))
    assert fake.reviews(sess.session_id) == []
    fake.drop_next("POST", "/peer-verifications", apply=True)
    with pytest.raises(httpx.RemoteProtocolError, match=DISCONNECTED) as dropped:
        await client.post(reviews_path(sess), json=review_body(token))
    assert dropped.value.request.url.path == API_PREFIX + reviews_path(sess)
    # The review exists although its answer was lost; sending again is refused (token used).
    (lost,) = fake.reviews(sess.session_id)
    assert lost["status"] == "ongoing"
    r = await client.post(reviews_path(sess), json=review_body(token))
    assert assert_nest_error(r, 403) == "Invalid or expired attachment token"
    # The history shows it.
    assert [row["_id"] for row in (await search(client, sess))["results"]] == [lost["_id"]]
    assert [c.status for c in fake.calls if reviews_path(sess) in c.path] == [
        None,
        None,
        403,
        200,
    ]
    # Other fault rules work on the review routes too.
    fake.fail_next("POST", "/peer-verifications/search", 503, "Service Unavailable")
    r = await client.post(reviews_path(sess, "/search"), json={})
    assert assert_nest_error(r, 503) == "Service Unavailable"
