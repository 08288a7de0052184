"""Photo proof judged in Chaster (bot/core/proofs.py, proof_rules.py): the wearer's photo goes to
Chaster's private files and a standalone peer review; the verdict, by webhook or read from the
review history, completes or fails the task as the extension. Lost answers are settled from the
history, never by creating a second review."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web

from bot.chaster import WebhookEnvelope
from bot.core.errors import ChasterRefused, NotAllowed, Reason, Refused
from bot.core.library import Source
from bot.core.model import EventKind
from bot.core.photos import MAX_PHOTO_BYTES, Photo
from bot.store import Proof, ProofReview, ProofState, Task, TaskState
from tests.core_env import (
    CHANNEL,
    COMPLETE,
    FAIL,
    GUILD,
    HANG_TIMEOUT,
    KH,
    OTHER,
    START,
    WEARER,
    WR,
    CoreEnv,
    EnvFactory,
    refused,
)
from tests.fakes.chaster import Call, make_user
from tests.test_photos import GIF89_BYTES, JPEG_BYTES, PDF_BYTES, PNG_BYTES, TEXT_BYTES, Fetcher
from tests.test_sync import timers_of

HOUR = 3600
NEST_500 = (
    '{"statusCode": 500, "message": "Internal server error", "error": "Internal Server Error"}'
)


# ---------------------------------------------------------------------------------- helpers


def photo(content: bytes = PNG_BYTES, size: int | None = None) -> tuple[Photo, Fetcher]:
    fetch = Fetcher(content)
    return Photo(size=len(content) if size is None else size, fetch=fetch), fetch


async def give(
    env: CoreEnv,
    proof: Proof | None = Proof.KEYHOLDER,
    *,
    duration: str | None = None,
    deadline: str | None = None,
    verification_required: bool = False,
) -> Task:
    return await env.core.tasks.assign(
        KH,
        WEARER,
        description="Kneel for ten minutes",
        points=5,
        verification_required=verification_required,
        duration=duration,
        deadline=deadline,
        proof=proof,
        channel_id=CHANNEL,
    )


async def send(
    env: CoreEnv, content: bytes = PNG_BYTES, *, caller: Any = WR, task_id: int | None = None
) -> ProofReview:
    attached, _ = photo(content)
    return await env.core.proofs.submit(caller, [attached], task_id=task_id)


def _posts(env: CoreEnv, suffix: str) -> list[Call]:
    return [c for c in env.fake.calls if c.method == "POST" and c.path.endswith(suffix)]


def review_posts(env: CoreEnv) -> list[Call]:
    """The review creations Chaster received (not the history searches)."""
    return _posts(env, "/peer-verifications")


def search_posts(env: CoreEnv) -> list[Call]:
    return _posts(env, "/peer-verifications/search")


def upload_posts(env: CoreEnv) -> list[Call]:
    return _posts(env, "/files")


def lock_action_posts(env: CoreEnv) -> list[Call]:
    return _posts(env, "/action")


def reviews(env: CoreEnv) -> list[dict[str, Any]]:
    return env.fake.reviews(env.session.session_id)


def only_review_id(env: CoreEnv) -> str:
    [review] = reviews(env)
    return str(review["_id"])


async def row(env: CoreEnv, proof_id: int) -> ProofReview:
    found = await env.store.get_proof(proof_id)
    assert found is not None
    return found


async def task_now(env: CoreEnv, task: Task) -> Task:
    found = await env.store.get_task(task.id)
    assert found is not None
    return found


async def penalty_1h(env: CoreEnv) -> None:
    await env.core.penalties.set(KH, WEARER, on="fail", action="add_time", amount="1h")


def completes(env: CoreEnv) -> list[dict[str, Any]]:
    return [dict(call.json) for call in env.posts("complete")]


class Hooks:
    """Where the fake Chaster delivers its webhooks: it answers 200 and keeps nothing; the
    fake records each delivery, so a test takes the body from there and hands it to the core
    itself (once, twice, or after something changed)."""

    def __init__(self) -> None:
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=200)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/hook"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def hooks(env: CoreEnv) -> AsyncIterator[Hooks]:
    receiver = Hooks()
    await receiver.start()
    env.fake.webhook_url = receiver.url
    env.fake.webhook_retry_delays = []
    try:
        yield receiver
    finally:
        env.fake.webhook_url = None
        await receiver.stop()


async def verdict_webhook(env: CoreEnv, review_id: str) -> dict[str, Any]:
    """The `peer_verification.ended` body the fake sent for the review."""
    delivery = await env.fake.wait_for_webhook(
        lambda d: (
            d["event"] == "peer_verification.ended"
            and d["body"]["data"]["peerVerificationId"] == review_id
        )
    )
    body: dict[str, Any] = delivery["body"]
    return body


async def deliver(env: CoreEnv, body: dict[str, Any]) -> None:
    await env.core.handle_webhook(WebhookEnvelope.model_validate(body))


async def proof_task(env: CoreEnv, proof: Proof = Proof.KEYHOLDER, **lock: Any) -> Task:
    """WEARER linked by the lock's keyholder, with an open task that needs a photo."""
    await env.linked(**lock)
    task = await give(env, proof)
    env.fake.calls.clear()
    return task


# ---------------------------------------------------------------------------------- assigning


async def test_a_proof_task_is_assigned_without_chasters_own_verification(env: CoreEnv) -> None:
    await env.linked()
    task = await give(env, Proof.COMMUNITY)
    assert task.proof is Proof.COMMUNITY
    assert task.verification_required is False
    [post] = env.posts("assign")
    assert post.json["task"]["verificationRequired"] is False
    assert env.session.current_task is not None
    assert env.session.current_task["verificationRequired"] is False


async def test_proof_with_chasters_verification_is_refused_and_nothing_sent(env: CoreEnv) -> None:
    await env.linked()
    for proof in (Proof.KEYHOLDER, Proof.COMMUNITY):
        with refused(Reason.PROOF_WITH_VERIFICATION):
            await give(env, proof, verification_required=True)
    assert env.fake.calls == []
    assert env.session.current_task is None
    assert await env.count("tasks") == 0


async def test_a_library_entry_gives_its_proof_to_the_task(env: CoreEnv) -> None:
    await env.linked()
    await env.core.library.add(KH, description="Clean the kitchen", points=3, proof=Proof.COMMUNITY)
    task = await env.core.tasks.assign(
        KH, WEARER, description="Clean the kitchen", channel_id=CHANNEL
    )
    assert task.proof is Proof.COMMUNITY
    [post] = env.posts("assign")
    assert post.json["task"]["verificationRequired"] is False


async def test_a_random_draw_needing_chasters_photo_refuses_proof(env: CoreEnv) -> None:
    await env.linked()
    await env.core.library.add(
        KH, description="Photo of the cage", points=3, verification_required=True
    )
    with refused(Reason.PROOF_WITH_VERIFICATION):
        await env.core.library.add(
            KH,
            description="Both kinds",
            points=3,
            verification_required=True,
            proof=Proof.KEYHOLDER,
        )
    env.fake.calls.clear()
    with refused(Reason.PROOF_WITH_VERIFICATION):
        await env.core.tasks.random(
            KH, WEARER, source=Source.LIBRARY, proof=Proof.KEYHOLDER, channel_id=CHANNEL
        )
    assert env.posts("assign") == []
    assert await env.count("tasks") == 0


# ---------------------------------------------------------------------------------- review body


async def test_a_keyholder_review_is_sent_as_chaster_expects(env: CoreEnv) -> None:
    task = await proof_task(env)
    # The community settings are the community's: the keyholder's review takes none.
    await env.core.proof_settings.settings(KH, WEARER, hours=0.5, max_votes=5)
    proof = await send(env)
    assert proof.state is ProofState.OPEN
    assert proof.audience is Proof.KEYHOLDER
    [upload] = upload_posts(env)
    [post] = review_posts(env)
    body = post.json
    assert body["visibility"] == "keyholder"
    assert "delay" not in body and "maxVotes" not in body
    assert body["checks"] == [{"name": "task", "id": f"discord-proof-{proof.id}"}]
    assert body["verificationTypeKey"] == "photo"
    assert body["punishments"] == []
    # The token the upload answered, not stored anywhere.
    [fake_file] = env.fake.files.values()
    assert body["attachmentToken"] == fake_file.attachment_token
    assert fake_file.referenced_by == proof.review_id == only_review_id(env)
    assert proof.file_id == fake_file.file_id
    assert env.feed.kinds()[-1] is EventKind.PROOF_SUBMITTED
    assert (await task_now(env, task)).state is TaskState.ASSIGNED
    assert upload.status == 201


async def test_a_community_review_takes_the_links_proof_settings(env: CoreEnv) -> None:
    await env.linked()
    link = await env.core.proof_settings.settings(KH, WEARER, hours=0.5, max_votes=5)
    assert (link.proof_delay_seconds, link.proof_max_votes) == (1800, 5)
    await give(env, Proof.COMMUNITY)
    env.fake.calls.clear()
    proof = await send(env)
    [post] = review_posts(env)
    assert post.json["visibility"] == "all_members"
    assert post.json["delay"] == 1800
    assert post.json["maxVotes"] == 5
    assert post.json["checks"] == [{"name": "task", "id": f"discord-proof-{proof.id}"}]
    [review] = reviews(env)
    assert proof.ends_at is not None
    # Chaster's times are in milliseconds.
    assert abs(proof.ends_at - (env.clock.now() + timedelta(seconds=1800))) < timedelta(seconds=1)
    assert review["endsAt"] is not None


async def test_a_community_review_without_settings_leaves_chasters_defaults(
    env: CoreEnv,
) -> None:
    await proof_task(env, Proof.COMMUNITY)
    await send(env)
    [post] = review_posts(env)
    assert post.json["visibility"] == "all_members"
    assert "delay" not in post.json and "maxVotes" not in post.json


async def test_the_fail_penalty_is_the_reviews_punishment(env: CoreEnv) -> None:
    await env.linked()
    await penalty_1h(env)
    await give(env)
    env.fake.calls.clear()
    await send(env)
    [post] = review_posts(env)
    assert post.json["punishments"] == [{"name": "add_time", "params": HOUR}]


async def test_no_punishment_while_the_link_is_paused(env: CoreEnv) -> None:
    await env.linked()
    await penalty_1h(env)
    await give(env)
    await env.core.pause.pause(KH, WEARER)
    env.fake.calls.clear()
    await send(env)
    [post] = review_posts(env)
    assert post.json["punishments"] == []


async def test_no_punishment_when_the_keyholder_of_record_does_not_hold_the_lock(
    env: CoreEnv,
) -> None:
    await env.linked()
    await penalty_1h(env)
    await give(env)
    # The lock goes to another keyholder in Chaster; the bot learns it on its next read.
    env.session.keyholder = make_user(role="keyholder", discord_id="999")
    await env.core.sync.sync_session(env.session.session_id)
    link = await env.store.get_open_link(GUILD, WEARER)
    assert link is not None and link.keyholder_is_lock_keyholder is False
    env.fake.calls.clear()
    await send(env)
    [post] = review_posts(env)
    assert post.json["punishments"] == []


# ---------------------------------------------------------------------------------- submitting


async def test_only_the_wearer_sends_the_photo(env: CoreEnv) -> None:
    task = await proof_task(env)
    for caller in (KH, OTHER):
        with refused(Reason.ONLY_WEARER_SENDS_PROOF, NotAllowed):
            await send(env, caller=caller, task_id=task.id)
    assert env.fake.calls == []
    assert await env.count("proof_reviews") == 0


async def test_a_keyholder_sending_their_own_photo_is_told_they_are_no_wearer(
    env: CoreEnv,
) -> None:
    await proof_task(env)
    with refused(Reason.PROOF_NOT_LINKED_WEARER):
        await send(env, caller=KH)
    assert env.fake.calls == []
    assert await env.count("proof_reviews") == 0


async def test_the_wearer_of_a_self_lock_sends_their_photo(env: CoreEnv) -> None:
    await env.linked(keyholder=False)
    task = await env.core.tasks.assign(
        WR,
        WEARER,
        description="Kneel for ten minutes",
        points=5,
        proof=Proof.COMMUNITY,
        channel_id=CHANNEL,
    )
    env.fake.calls.clear()
    await env.core.proofs.may_submit(WR, task.id)
    proof = await send(env, task_id=task.id)
    assert proof.state is ProofState.OPEN
    assert proof.submitted_by == WEARER
    [post] = review_posts(env)
    assert post.json["visibility"] == "all_members"


async def test_may_submit_refuses_what_submit_would_before_anything_is_fetched(
    env: CoreEnv,
) -> None:
    await env.linked()
    plain = await give(env, None)
    with refused(Reason.PROOF_NOT_NEEDED):
        await env.core.proofs.may_submit(WR, plain.id)
    await env.act(KH, FAIL)
    task = await give(env)
    with refused(Reason.ONLY_WEARER_SENDS_PROOF, NotAllowed):
        await env.core.proofs.may_submit(KH, task.id)
    with refused(Reason.TASK_CLOSED, state=TaskState.FAILED):
        await env.core.proofs.may_submit(WR, plain.id)
    await env.core.proofs.may_submit(WR, task.id)
    proof = await send(env)
    with refused(Reason.PROOF_UNDER_REVIEW, at=proof.ends_at):
        await env.core.proofs.may_submit(WR, task.id)
    assert len(upload_posts(env)) == 1


async def test_a_task_without_proof_takes_no_photo(env: CoreEnv) -> None:
    await env.linked()
    task = await give(env, None)
    env.fake.calls.clear()
    with refused(Reason.PROOF_NOT_NEEDED):
        await send(env)
    with refused(Reason.PROOF_NOT_NEEDED):
        await send(env, task_id=task.id)
    assert env.fake.calls == []
    assert env.fake.files == {}
    assert await env.count("proof_reviews") == 0


async def test_a_timed_proof_task_takes_its_photo_once_the_timer_ran_out(env: CoreEnv) -> None:
    await env.linked()
    await give(env, duration="1m")
    env.fake.calls.clear()
    with refused(Reason.START_TIMER_FIRST):
        await send(env)
    started = await env.act(WR, START)
    env.fake.calls.clear()
    env.advance(59)
    with refused(Reason.TIMER_RUNNING, at=started.timer_ends_at):
        await send(env)
    assert env.fake.calls == []
    assert await env.count("proof_reviews") == 0
    env.advance(1)
    assert (await send(env)).state is ProofState.OPEN
    assert len(review_posts(env)) == 1


async def test_the_photo_is_uploaded_exactly_under_the_name_its_content_says(
    env: CoreEnv,
) -> None:
    cases = [(PNG_BYTES, "proof.png"), (JPEG_BYTES, "proof.jpg"), (GIF89_BYTES, "proof.gif")]
    await env.linked()
    for content, name in cases:
        await give(env)
        proof = await send(env, content)
        assert proof.file_id is not None
        assert env.fake.file_bytes(proof.file_id) == content
        assert env.fake.files[proof.file_id].name == name
        # Judged, so that the next task can be given.
        env.fake.judge(str(proof.review_id), verified=True)
        await env.core.proofs.check()
        assert (await env.only_task()).state is TaskState.COMPLETED
    assert len(upload_posts(env)) == 3


async def test_what_is_not_an_image_is_refused_before_anything_is_sent(env: CoreEnv) -> None:
    await proof_task(env)
    for content in (TEXT_BYTES, PDF_BYTES):
        with refused(Reason.PHOTO_NOT_AN_IMAGE):
            await send(env, content)
    assert env.fake.calls == []
    assert await env.count("proof_reviews") == 0


async def test_a_photo_declared_too_large_is_never_fetched(env: CoreEnv) -> None:
    await proof_task(env)
    attached, fetch = photo(PNG_BYTES, size=MAX_PHOTO_BYTES + 1)
    with refused(Reason.PHOTO_TOO_LARGE, limit=15):
        await env.core.proofs.submit(WR, [attached])
    assert fetch.calls == 0
    assert env.fake.calls == []
    assert await env.count("proof_reviews") == 0


async def test_a_photo_discord_cannot_give_is_refused_and_nothing_sent(env: CoreEnv) -> None:
    await proof_task(env)

    async def broken() -> bytes:
        raise OSError("Discord answered 404")

    with refused(Reason.PHOTO_UNREADABLE):
        await env.core.proofs.submit(WR, [Photo(size=1000, fetch=broken)])
    assert env.fake.calls == []
    assert await env.count("proof_reviews") == 0


async def test_a_button_of_a_closed_task_takes_no_photo(env: CoreEnv) -> None:
    old = await proof_task(env)
    await env.act(KH, FAIL)
    await give(env)
    env.fake.calls.clear()
    with refused(Reason.TASK_CLOSED, state=TaskState.FAILED):
        await send(env, task_id=old.id)
    assert env.fake.calls == []
    assert await env.count("proof_reviews") == 0


async def test_a_second_photo_while_one_is_under_review_is_refused(env: CoreEnv) -> None:
    task = await proof_task(env, Proof.COMMUNITY)
    first = await send(env)
    with refused(Reason.PROOF_UNDER_REVIEW, at=first.ends_at):
        await send(env, JPEG_BYTES)
    with refused(Reason.PROOF_UNDER_REVIEW, at=first.ends_at):
        await send(env, JPEG_BYTES, task_id=task.id)
    assert len(reviews(env)) == 1
    assert len(upload_posts(env)) == 1
    assert len(review_posts(env)) == 1
    assert await env.count("proof_reviews") == 1


async def test_two_photos_sent_at_once_make_one_review(env: CoreEnv) -> None:
    await proof_task(env)
    outcomes = await asyncio.gather(send(env), send(env, JPEG_BYTES), return_exceptions=True)
    opened = [o for o in outcomes if isinstance(o, ProofReview)]
    refusals = [o for o in outcomes if isinstance(o, Refused)]
    assert len(opened) == 1 and len(refusals) == 1
    assert refusals[0].reason is Reason.PROOF_UNDER_REVIEW
    assert len(reviews(env)) == 1
    assert len(upload_posts(env)) == 1


async def test_while_under_review_only_the_keyholder_may_fail_it(env: CoreEnv) -> None:
    task = await proof_task(env)
    proof = await send(env)
    await env.allow_wearer_complete()
    for caller in (KH, WR):
        with refused(Reason.PROOF_UNDER_REVIEW, at=proof.ends_at):
            await env.act(caller, COMPLETE)
    with refused(Reason.PROOF_UNDER_REVIEW, at=proof.ends_at):
        await env.act(WR, FAIL)
    assert env.posts("complete") == []
    assert (await task_now(env, task)).state is TaskState.ASSIGNED
    failed = await env.act(KH, FAIL)
    assert failed.state is TaskState.FAILED
    assert completes(env) == [{"actor": "keyholder", "isCompleted": False}]
    assert env.session.current_task is None


async def test_a_proof_task_without_a_photo_cannot_be_completed(env: CoreEnv) -> None:
    task = await proof_task(env)
    await env.allow_wearer_complete()
    for caller in (KH, WR):
        with refused(Reason.PROOF_NEEDED):
            await env.act(caller, COMPLETE)
    assert env.posts("complete") == []
    assert (await task_now(env, task)).state is TaskState.ASSIGNED
    # Failing it needs no photo.
    assert (await env.act(WR, FAIL)).state is TaskState.FAILED


@pytest.mark.parametrize("photo_sent", [True, False], ids=["under-review", "no-photo"])
async def test_a_missed_deadline_does_not_fail_a_task_whose_photo_is_under_review(
    env: CoreEnv, photo_sent: bool
) -> None:
    await env.linked()
    timers_of(env)
    task = await give(env, deadline="1h")
    if photo_sent:
        await send(env)
    env.fake.calls.clear()
    env.advance(HOUR + 1)
    await env.run_due()
    if photo_sent:
        assert env.posts("complete") == []
        assert (await task_now(env, task)).state is TaskState.ASSIGNED
    else:
        # Without a photo on its way the deadline fails it, as any task.
        assert completes(env) == [{"actor": "extension", "isCompleted": False}]
        assert (await task_now(env, task)).state is TaskState.FAILED


# ---------------------------------------------------------------------------------- verdicts


async def test_a_verified_photo_completes_the_task_as_the_extension(
    env: CoreEnv, hooks: Hooks
) -> None:
    task = await proof_task(env)
    proof = await send(env)
    env.fake.judge(str(proof.review_id), verified=True)
    await deliver(env, await verdict_webhook(env, str(proof.review_id)))
    assert completes(env) == [{"actor": "extension", "isCompleted": True}]
    assert env.session.current_task is None
    done = await task_now(env, task)
    assert done.state is TaskState.COMPLETED
    assert done.closed_by is None
    assert env.feed.by()[-1] == (EventKind.COMPLETED, None)
    judged = await row(env, proof.id)
    assert judged.state is ProofState.VERIFIED
    assert (judged.votes_verified, judged.votes_rejected) == (1, 0)
    assert judged.settled_at is not None


async def test_a_rejected_photo_fails_the_task_and_chaster_alone_punishes(
    env: CoreEnv, hooks: Hooks
) -> None:
    await env.linked()
    await penalty_1h(env)
    end = env.session.end_date
    assert end is not None
    task = await give(env)
    proof = await send(env)
    env.fake.calls.clear()
    env.fake.judge(str(proof.review_id), verified=False, reasons=["task_not_done"])
    await deliver(env, await verdict_webhook(env, str(proof.review_id)))
    await env.run_due()
    assert completes(env) == [{"actor": "extension", "isCompleted": False}]
    assert (await task_now(env, task)).state is TaskState.FAILED
    assert env.feed.by()[-1] == (EventKind.FAILED, None)
    # Chaster ran the punishment once; the bot sent none of its own and recorded none.
    [entry] = env.fake.lock_actions(env.session.session_id)
    assert (entry["type"], entry["payload"]) == ("time_changed", {"duration": HOUR})
    assert env.session.end_date == end + timedelta(hours=1)
    assert lock_action_posts(env) == []
    assert await env.count("consequences") == 0
    judged = await row(env, proof.id)
    assert judged.state is ProofState.REJECTED
    assert judged.reasons == ("The task was not done",)


async def test_the_same_verdict_delivered_twice_closes_the_task_once(
    env: CoreEnv, hooks: Hooks
) -> None:
    task = await proof_task(env)
    proof = await send(env)
    env.fake.judge(str(proof.review_id), verified=True)
    body = await verdict_webhook(env, str(proof.review_id))
    await deliver(env, body)
    await deliver(env, body)
    await env.core.proofs.check()
    assert len(env.posts("complete")) == 1
    assert env.feed.kinds().count(EventKind.COMPLETED) == 1
    assert (await task_now(env, task)).state is TaskState.COMPLETED


async def test_a_replayed_verdict_does_not_close_the_next_task(env: CoreEnv, hooks: Hooks) -> None:
    await proof_task(env)
    proof = await send(env)
    env.fake.judge(str(proof.review_id), verified=True)
    body = await verdict_webhook(env, str(proof.review_id))
    await asyncio.gather(deliver(env, body), deliver(env, body))
    assert len(env.posts("complete")) == 1
    # The same task text again: only the settled verdict keeps the replay off it.
    following = await give(env)
    await deliver(env, body)
    await env.core.proofs.check()
    assert len(env.posts("complete")) == 1
    assert (await task_now(env, following)).state is TaskState.ASSIGNED
    assert env.session.current_task is not None


async def test_a_verdict_that_waits_for_chaster_is_carried_by_the_next_check(
    env: CoreEnv, hooks: Hooks
) -> None:
    task = await proof_task(env)
    proof = await send(env)
    env.fake.judge(str(proof.review_id), verified=True)
    body = await verdict_webhook(env, str(proof.review_id))
    env.fake.fail_next("POST", "/tasks/complete", 503, "Service Unavailable")
    await deliver(env, body)
    waiting = await row(env, proof.id)
    assert waiting.state is ProofState.VERIFIED
    assert waiting.settled_at is None
    assert (await task_now(env, task)).state is TaskState.ASSIGNED
    assert env.session.current_task is not None
    await env.core.proofs.check()
    assert [c.status for c in env.posts("complete")] == [503, 201]
    assert (await task_now(env, task)).state is TaskState.COMPLETED
    assert (await row(env, proof.id)).settled_at is not None
    assert env.feed.kinds().count(EventKind.COMPLETED) == 1


async def test_a_task_failed_during_its_review_is_not_punished_twice(
    env: CoreEnv, hooks: Hooks
) -> None:
    """The keyholder fails it while the photo is under review: the bot adds no consequence,
    since the review carries it and Chaster runs it if the photo is rejected."""
    await env.linked()
    await penalty_1h(env)
    end = env.session.end_date
    assert end is not None
    await give(env)
    proof = await send(env)
    await env.act(KH, FAIL)
    await env.run_due()
    assert env.session.end_date == end
    assert await env.count("consequences") == 0
    # The review is still open in Chaster; its rejection runs its punishment, once.
    env.fake.judge(str(proof.review_id), verified=False)
    await deliver(env, await verdict_webhook(env, str(proof.review_id)))
    await env.run_due()
    assert env.session.end_date == end + timedelta(hours=1)
    assert len(env.fake.lock_actions(env.session.session_id)) == 1
    assert (await row(env, proof.id)).settled_at is not None


async def test_a_verdict_after_the_unlink_is_recorded_and_changes_nothing(
    env: CoreEnv, hooks: Hooks
) -> None:
    task = await proof_task(env)
    proof = await send(env)
    await env.core.links.unlink(KH, WEARER)
    env.fake.calls.clear()
    env.fake.judge(str(proof.review_id), verified=False)
    await deliver(env, await verdict_webhook(env, str(proof.review_id)))
    await env.core.proofs.check()
    recorded = await row(env, proof.id)
    assert recorded.state is ProofState.REJECTED
    assert recorded.settled_at is not None
    writes = [c for c in env.fake.calls if c.method != "GET" and not c.path.endswith("/search")]
    assert writes == []
    assert env.session.current_task is not None
    assert (await task_now(env, task)).state is TaskState.ASSIGNED


async def test_a_verdict_for_a_review_the_bot_does_not_know_is_ignored(
    env: CoreEnv, hooks: Hooks
) -> None:
    await proof_task(env)
    # A review of this lock the bot never made (another tool of the same extension).
    uploaded = await env.chaster.upload_file(
        env.session.session_id, PNG_BYTES, filename="proof.png", content_type="image/png"
    )
    foreign = await env.chaster.create_review(
        env.session.session_id,
        {
            "verificationTypeKey": "photo",
            "attachmentToken": uploaded.attachment_token,
            "visibility": "keyholder",
            "checks": [{"name": "task", "id": "someone-else"}],
        },
    )
    env.fake.calls.clear()
    env.fake.judge(foreign.id, verified=True)
    await deliver(env, await verdict_webhook(env, foreign.id))
    assert env.posts("complete") == []
    assert await env.count("proof_reviews") == 0


async def test_a_community_verdict_is_read_from_the_history_without_webhooks(
    env: CoreEnv,
) -> None:
    env.fake.review_ended_webhook = False
    await env.linked()
    await env.core.proof_settings.settings(KH, WEARER, hours=None, max_votes=5)
    task = await give(env, Proof.COMMUNITY)
    proof = await send(env)
    review_id = str(proof.review_id)
    env.fake.vote(review_id, approve=True, count=3)
    await env.core.proofs.check()
    # Still ongoing after three of five votes.
    assert (await row(env, proof.id)).state is ProofState.OPEN
    assert env.posts("complete") == []
    env.fake.vote(review_id, approve=False, reasons=["task_not_visible"], count=1)
    env.fake.vote(review_id, approve=True, count=1)
    assert env.fake.reviews(env.session.session_id)[0]["status"] == "verified"
    await env.core.proofs.check()
    assert completes(env) == [{"actor": "extension", "isCompleted": True}]
    assert (await task_now(env, task)).state is TaskState.COMPLETED
    judged = await row(env, proof.id)
    assert (judged.state, judged.votes_verified, judged.votes_rejected) == (
        ProofState.VERIFIED,
        4,
        1,
    )
    assert env.fake.webhook_deliveries == []


async def test_a_community_review_nobody_voted_on_counts_as_verified(env: CoreEnv) -> None:
    env.fake.review_ended_webhook = False
    await env.linked()
    await env.core.proof_settings.settings(KH, WEARER, hours=0.25, max_votes=None)
    task = await give(env, Proof.COMMUNITY)
    proof = await send(env)
    env.advance(899)
    assert env.fake.end_due_reviews() == []
    await env.core.proofs.check()
    assert (await row(env, proof.id)).state is ProofState.OPEN
    env.advance(1)
    assert env.fake.end_due_reviews() == [proof.review_id]
    await env.core.proofs.check()
    assert completes(env) == [{"actor": "extension", "isCompleted": True}]
    assert (await task_now(env, task)).state is TaskState.COMPLETED
    judged = await row(env, proof.id)
    assert (judged.state, judged.votes_verified, judged.votes_rejected) == (
        ProofState.VERIFIED,
        0,
        0,
    )


async def test_a_community_review_nobody_voted_on_is_verified_by_its_webhook(
    env: CoreEnv, hooks: Hooks
) -> None:
    await env.linked()
    await env.core.proof_settings.settings(KH, WEARER, hours=0.25, max_votes=None)
    task = await give(env, Proof.COMMUNITY)
    proof = await send(env)
    env.advance(900)
    assert env.fake.end_due_reviews() == [proof.review_id]
    body = await verdict_webhook(env, str(proof.review_id))
    assert body["data"]["voteCounts"] == {"verified": 0, "rejected": 0}
    await deliver(env, body)
    assert completes(env) == [{"actor": "extension", "isCompleted": True}]
    assert (await task_now(env, task)).state is TaskState.COMPLETED
    assert (await row(env, proof.id)).state is ProofState.VERIFIED


# ---------------------------------------------------------------------------------- lost answers


async def test_a_creation_answered_500_after_it_landed_is_found_in_the_history(
    env: CoreEnv,
) -> None:
    await proof_task(env)
    env.fake.answer_next("POST", "/peer-verifications", 500, NEST_500, apply=True)
    proof = await send(env)
    review_id = only_review_id(env)
    assert proof.state is ProofState.OPEN
    assert proof.review_id == review_id
    assert (await row(env, proof.id)).review_id == review_id
    assert len(review_posts(env)) == 1
    assert len(search_posts(env)) >= 1
    assert env.feed.kinds()[-1] is EventKind.PROOF_SUBMITTED
    # The found review is this photo's: judging it completes the task.
    env.fake.judge(review_id, verified=True)
    await env.core.proofs.check()
    assert (await env.only_task()).state is TaskState.COMPLETED


async def test_an_older_review_in_the_history_is_not_taken_for_a_lost_one(env: CoreEnv) -> None:
    """The previous task's review is newest in the history when the next creation is lost
    before it landed: its check's id is another photo's, so this one made no review."""
    await env.linked()
    await give(env)
    first = await send(env)
    env.fake.judge(str(first.review_id), verified=True)
    await env.core.proofs.check()
    task = await give(env)
    env.fake.calls.clear()
    env.fake.fail_next("POST", "/peer-verifications", 500, "Internal server error")
    with refused(Reason.PROOF_DID_NOT_LAND):
        await send(env)
    assert len(reviews(env)) == 1
    lost = await env.store.proof_of_task(task.id)
    assert lost is not None
    assert (lost.state, lost.review_id) == (ProofState.FAILED, None)
    assert env.fake.files[str(lost.file_id)].deleted
    assert not env.fake.files[str(first.file_id)].deleted


async def test_a_creation_timing_out_after_it_landed_is_found_in_the_history(
    make_env: EnvFactory,
) -> None:
    env = await make_env(HANG_TIMEOUT)
    await proof_task(env)
    env.fake.hang_next("POST", "/peer-verifications", apply=True, seconds=3.0)
    proof = await send(env)
    assert proof.state is ProofState.OPEN
    assert proof.review_id == only_review_id(env)
    assert len(review_posts(env)) == 1


async def test_a_creation_that_did_not_land_deletes_the_upload(env: CoreEnv) -> None:
    task = await proof_task(env)
    # A 500 may come after the change was made: the bot cannot tell, and reads the history.
    env.fake.fail_next("POST", "/peer-verifications", 500, "Internal server error")
    with refused(Reason.PROOF_DID_NOT_LAND):
        await send(env)
    assert reviews(env) == []
    assert len(review_posts(env)) == 1
    assert len(search_posts(env)) >= 1
    [fake_file] = env.fake.files.values()
    assert fake_file.deleted
    assert await env.store.unsettled_proofs() == []
    failed = await env.store.proof_of_task(task.id)
    assert failed is not None and failed.state is ProofState.FAILED
    assert failed.settled_at is not None
    # Another photo may be sent.
    again = await send(env, JPEG_BYTES)
    assert again.state is ProofState.OPEN
    assert again.id != failed.id
    assert again.review_id == only_review_id(env)
    assert env.fake.file_bytes(str(again.file_id)) == JPEG_BYTES


async def test_an_unreadable_history_leaves_it_unknown_and_nothing_is_resent(
    env: CoreEnv,
) -> None:
    await proof_task(env)
    env.fake.answer_next("POST", "/peer-verifications", 500, NEST_500, apply=True)
    env.fake.fail_next("POST", "/peer-verifications/search", 503, "Service Unavailable", times=2)
    with refused(Reason.PROOF_OUTCOME_UNKNOWN):
        await send(env)
    [unknown] = await env.store.unsettled_proofs()
    assert unknown.state is ProofState.UNKNOWN
    assert unknown.review_id is None
    # A second photo is refused while the history still cannot tell; nothing is sent again.
    with refused(Reason.PROOF_OUTCOME_UNKNOWN):
        await send(env, JPEG_BYTES)
    with refused(Reason.PROOF_UNDER_REVIEW, at=None):
        await env.act(KH, COMPLETE)
    assert len(review_posts(env)) == 1
    assert len(upload_posts(env)) == 1
    # Later, with the history readable, the check settles it.
    await env.core.proofs.check()
    settled = await row(env, unknown.id)
    assert settled.state is ProofState.OPEN
    assert settled.review_id == only_review_id(env)
    assert len(review_posts(env)) == 1


async def test_a_verdict_for_a_creation_still_unknown_settles_it(
    env: CoreEnv, hooks: Hooks
) -> None:
    task = await proof_task(env)
    env.fake.answer_next("POST", "/peer-verifications", 500, NEST_500, apply=True)
    env.fake.fail_next("POST", "/peer-verifications/search", 503, "Service Unavailable")
    with refused(Reason.PROOF_OUTCOME_UNKNOWN):
        await send(env)
    review_id = only_review_id(env)
    env.fake.judge(review_id, verified=True)
    await deliver(env, await verdict_webhook(env, review_id))
    settled = await env.store.proof_of_task(task.id)
    assert settled is not None
    assert (settled.state, settled.review_id) == (ProofState.VERIFIED, review_id)
    assert settled.settled_at is not None
    assert completes(env) == [{"actor": "extension", "isCompleted": True}]
    assert (await task_now(env, task)).state is TaskState.COMPLETED
    assert len(review_posts(env)) == 1


async def test_a_keyholder_who_cannot_review_is_told_and_the_upload_deleted(
    env: CoreEnv,
) -> None:
    task = await proof_task(env)
    env.fake.keyholder_can_review = False
    with refused(Reason.PROOF_KEYHOLDER_CANNOT_REVIEW):
        await send(env)
    assert reviews(env) == []
    [fake_file] = env.fake.files.values()
    assert fake_file.deleted
    assert [c.status for c in review_posts(env)] == [409]
    assert await env.store.unsettled_proofs() == []
    failed = await env.store.proof_of_task(task.id)
    assert failed is not None and failed.state is ProofState.FAILED


@pytest.mark.parametrize(
    ("knob", "reason"),
    [
        ("wearer_suspended_from_reviews", Reason.PROOF_SUSPENDED),
        ("verification_types", Reason.PROOF_KIND_UNKNOWN),
    ],
)
async def test_chasters_refusal_of_the_review_says_why_and_deletes_the_upload(
    env: CoreEnv, knob: str, reason: Reason
) -> None:
    task = await proof_task(env)
    if knob == "verification_types":
        env.fake.verification_types = []
    else:
        env.fake.wearer_suspended_from_reviews = True
    with refused(reason):
        await send(env)
    assert reviews(env) == []
    [fake_file] = env.fake.files.values()
    assert fake_file.deleted
    failed = await env.store.proof_of_task(task.id)
    assert failed is not None and failed.state is ProofState.FAILED


async def test_chaster_unreachable_for_the_upload_creates_nothing(env: CoreEnv) -> None:
    task = await proof_task(env)
    await env.fake.go_offline()
    with refused(Reason.CHASTER_UNAVAILABLE, ChasterRefused):
        await send(env)
    await env.fake.go_online()
    assert env.fake.files == {}
    assert reviews(env) == []
    assert env.fake.calls == []
    assert await env.store.unsettled_proofs() == []
    failed = await env.store.proof_of_task(task.id)
    assert failed is not None and failed.state is ProofState.FAILED
    # Chaster is back: the photo can be sent.
    assert (await send(env)).state is ProofState.OPEN


# ---------------------------------------------------------------------------------- restart


async def _crashed_row(env: CoreEnv, task: Task) -> ProofReview:
    link = await env.store.get_open_link(GUILD, WEARER)
    assert link is not None
    started = await env.store.start_proof(
        task_id=task.id,
        link_id=link.id,
        chaster_session_id=link.chaster_session_id,
        audience=Proof.KEYHOLDER,
        submitted_by=WEARER,
        now=env.clock.now(),
    )
    assert started is not None
    return started


async def test_resume_gives_up_a_photo_whose_upload_a_crash_interrupted(env: CoreEnv) -> None:
    task = await proof_task(env)
    crashed = await _crashed_row(env, task)
    with refused(Reason.PROOF_UNDER_REVIEW, at=None):
        await send(env)
    await env.core.proofs.resume()
    assert (await row(env, crashed.id)).state is ProofState.FAILED
    assert review_posts(env) == []
    # The wearer sends it again.
    assert (await send(env)).state is ProofState.OPEN


async def test_resume_opens_a_photo_whose_review_was_created_before_the_crash(
    env: CoreEnv,
) -> None:
    task = await proof_task(env)
    crashed = await _crashed_row(env, task)
    session_id = env.session.session_id
    uploaded = await env.chaster.upload_file(
        session_id, PNG_BYTES, filename="proof.png", content_type="image/png"
    )
    crashed = await env.store.proof_uploaded(crashed.id, uploaded.file_id, now=env.clock.now())
    created = await env.chaster.create_review(
        session_id,
        {
            "verificationTypeKey": "photo",
            "attachmentToken": uploaded.attachment_token,
            "visibility": "keyholder",
            "checks": [{"name": "task", "id": f"discord-proof-{crashed.id}"}],
            "punishments": [],
        },
    )
    env.fake.calls.clear()
    await env.core.proofs.resume()
    opened = await row(env, crashed.id)
    assert opened.state is ProofState.OPEN
    assert opened.review_id == created.id
    assert review_posts(env) == []
    assert not env.fake.files[uploaded.file_id].deleted
    env.fake.judge(created.id, verified=True)
    await env.core.proofs.check()
    assert (await task_now(env, task)).state is TaskState.COMPLETED


async def test_resume_fails_a_photo_whose_review_was_never_created(env: CoreEnv) -> None:
    task = await proof_task(env)
    crashed = await _crashed_row(env, task)
    uploaded = await env.chaster.upload_file(
        env.session.session_id, PNG_BYTES, filename="proof.png", content_type="image/png"
    )
    await env.store.proof_uploaded(crashed.id, uploaded.file_id, now=env.clock.now())
    env.fake.calls.clear()
    await env.core.proofs.resume()
    assert (await row(env, crashed.id)).state is ProofState.FAILED
    assert env.fake.files[uploaded.file_id].deleted
    assert review_posts(env) == []


# ---------------------------------------------------------------------------------- settings


async def test_proof_settings_out_of_range_are_refused_and_nothing_stored(env: CoreEnv) -> None:
    await env.linked()
    for hours, votes in ((7, None), (0.2, None), (None, 2), (None, 101), (7, 2)):
        with refused(Reason.PROOF_SETTINGS_RANGE):
            await env.core.proof_settings.settings(KH, WEARER, hours=hours, max_votes=votes)
    link = await env.store.get_open_link(GUILD, WEARER)
    assert link is not None
    assert (link.proof_delay_seconds, link.proof_max_votes) == (None, None)
    # The bounds themselves are taken.
    low = await env.core.proof_settings.settings(KH, WEARER, hours=0.25, max_votes=3)
    assert (low.proof_delay_seconds, low.proof_max_votes) == (900, 3)
    high = await env.core.proof_settings.settings(KH, WEARER, hours=6, max_votes=100)
    assert (high.proof_delay_seconds, high.proof_max_votes) == (21600, 100)
    # What is left out keeps its value; a refused change leaves both.
    kept = await env.core.proof_settings.settings(KH, WEARER, hours=None, max_votes=10)
    assert (kept.proof_delay_seconds, kept.proof_max_votes) == (21600, 10)
    with refused(Reason.PROOF_SETTINGS_RANGE):
        await env.core.proof_settings.settings(KH, WEARER, hours=1, max_votes=2)
    link = await env.store.get_open_link(GUILD, WEARER)
    assert link is not None
    assert (link.proof_delay_seconds, link.proof_max_votes) == (21600, 10)


async def test_only_the_keyholder_sets_proof_settings(env: CoreEnv) -> None:
    await env.linked()
    for caller in (WR, OTHER):
        with refused(Reason.ONLY_KEYHOLDER_PROOF_SETTINGS, NotAllowed):
            await env.core.proof_settings.settings(caller, WEARER, hours=1, max_votes=5)
    link = await env.store.get_open_link(GUILD, WEARER)
    assert link is not None
    assert (link.proof_delay_seconds, link.proof_max_votes) == (None, None)
