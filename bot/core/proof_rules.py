"""The rules of photo proof that other parts ask about: what a task under review allows, and
what Chaster is sent to review a photo."""

from __future__ import annotations

import re
from typing import Any

from bot.chaster import ChasterError, ChasterUnavailable
from bot.chaster.reviews import ReviewAudience
from bot.core.chaster_errors import chaster_failed, chaster_refused
from bot.core.errors import Consequence, Reason, Refused
from bot.core.locks import keyholder_of_record_holds, lock_action
from bot.core.model import TaskAction
from bot.core.policy import Role
from bot.store import Penalty, Proof, ProofReview, SessionLink, Store, Task

# A community review's bounds, as Chaster takes them (and /proof settings offers them).
MIN_DELAY_SECONDS = 900
MAX_DELAY_SECONDS = 21600
MIN_MAX_VOTES = 3
MAX_MAX_VOTES = 100

_AUDIENCE = {Proof.KEYHOLDER: ReviewAudience.KEYHOLDER, Proof.COMMUNITY: ReviewAudience.COMMUNITY}


async def require_open_to(store: Store, task: Task, action: TaskAction, role: Role) -> None:
    """Refused when a task that needs a photo cannot take `action` from Discord: nobody
    completes it but the verdict, and while its photo is under review only the keyholder may
    still fail it."""
    if task.proof is None or action is TaskAction.START:
        return
    proof = await store.proof_of_task(task.id)
    if proof is not None and proof.state.is_pending:
        if action is TaskAction.FAIL and role is Role.KEYHOLDER:
            return
        raise Refused(Reason.PROOF_UNDER_REVIEW, at=proof.ends_at)
    if action in (TaskAction.COMPLETE, TaskAction.CONFIRM):
        raise Refused(Reason.PROOF_NEEDED)


async def under_review(store: Store, task: Task) -> ProofReview | None:
    """The task's photo while it is on its way to Chaster or judged there."""
    if task.proof is None:
        return None
    proof = await store.proof_of_task(task.id)
    return proof if proof is not None and proof.state.is_pending else None


def marker(proof: ProofReview) -> str:
    """The id of the review's check: Chaster's review history shows it, which tells this
    photo's review apart from any other when the answer to its creation was lost."""
    return f"discord-proof-{proof.id}"


def review_body(
    proof: ProofReview,
    link: SessionLink,
    *,
    kind: str,
    attachment_token: str,
    punishment: Penalty | None,
) -> dict[str, Any]:
    """`POST .../peer-verifications` for the photo: Chaster's own task checks, and as
    punishments the link's consequence for a failed task (Chaster runs it on rejection)."""
    punishments = []
    if punishment is not None:
        action = lock_action(punishment.action, punishment.seconds, punishment.reason)
        punishments.append(action.body())
    body: dict[str, Any] = {
        "verificationTypeKey": kind,
        "attachmentToken": attachment_token,
        "visibility": _AUDIENCE[proof.audience].value,
        "checks": [{"name": "task", "id": marker(proof)}],
        "punishments": punishments,
    }
    if proof.audience is Proof.COMMUNITY:
        if link.proof_delay_seconds is not None:
            body["delay"] = link.proof_delay_seconds
        if link.proof_max_votes is not None:
            body["maxVotes"] = link.proof_max_votes
    return body


def punishes(link: SessionLink) -> bool:
    """Whether a rejected photo may change the lock: as for any consequence, only for a
    keyholder of record who holds it in Chaster, and never while the link is paused."""
    return keyholder_of_record_holds(link) and not link.is_paused


# Chaster's 400 for a verification kind the extension never declared.
KIND_UNKNOWN = re.compile(r"verification.?type", re.IGNORECASE)


def review_refusal(error: ChasterError) -> Refused:
    """Chaster's refusal of an upload or a review, in the words that say what to do."""
    if isinstance(error, ChasterUnavailable):
        return chaster_failed(error, Consequence.NO_PHOTO_SENT)
    if error.status == 409:
        return Refused(Reason.PROOF_KEYHOLDER_CANNOT_REVIEW)
    if error.status == 403 and "suspend" in error.text.lower():
        return Refused(Reason.PROOF_SUSPENDED)
    if error.status == 400 and KIND_UNKNOWN.search(error.text):
        return Refused(Reason.PROOF_KIND_UNKNOWN)
    return chaster_refused(error)
