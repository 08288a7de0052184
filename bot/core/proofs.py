"""Photo proof judged in Chaster: the wearer's photo goes to Chaster's private files and a
standalone peer review; the verdict completes or fails the task.

Each photo is recorded before Chaster is asked anything, and each step after it, so whatever
comes in between (a crash, a lost answer) is settled from Chaster's review history instead of
creating a second review: creation has no idempotency key. The photo's bytes are only ever in
memory, on their way from Discord to Chaster.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.chaster import ChasterClient, ChasterError, ChasterUnavailable
from bot.chaster.reviews import ReviewEnded, ReviewStatus
from bot.core.actions import TaskActions
from bot.core.chaster_errors import chaster_failed, trouble
from bot.core.errors import Consequence, Person, Reason, Refused
from bot.core.links import open_link
from bot.core.model import Caller, EventKind
from bot.core.photos import Photo, checked_image, one_photo
from bot.core.policy import Action, Role, require, role_of
from bot.core.proof_rules import (
    punishes,
    review_body,
    review_refusal,
)
from bot.core.review_history import CannotTell, Verdict, find_review
from bot.core.shared import Part, Shared
from bot.store import PenaltyOn, ProofReview, ProofState, SessionLink, Store, Task, TaskState

log = logging.getLogger(__name__)

# Errors that leave a verdict to carry over later (the task is still open in Chaster).
_TRY_AGAIN = (Reason.CHASTER_UNAVAILABLE, Reason.CLOSE_OUTCOME_UNKNOWN)


class Proofs(Part):
    def __init__(
        self,
        store: Store,
        chaster: ChasterClient,
        shared: Shared,
        *,
        actions: TaskActions,
        kind: str,
    ) -> None:
        super().__init__(store, chaster, shared)
        self._actions = actions
        # The verification kind declared for the extension in Chaster's developer interface.
        self._kind = kind

    # -- sending a photo ----------------------------------------------------------------------

    async def submit(
        self, caller: Caller, photos: Sequence[Photo], *, task_id: int | None = None
    ) -> ProofReview:
        """The wearer's photo for their open task (`task_id`: the task a button belongs to)."""
        async with self._audit.action(caller, "task.proof") as audit:
            photo = one_photo(photos)
            link, task = await self._task_for(caller, task_id)
            audit.link_id, audit.task_id = link.id, task.id
            async with self._guards.of(link.guild_id, link.wearer_id):
                task = await self._still_open(task)
                await self._require_ready(link, task)
                try:
                    content = await photo.fetch()
                except OSError:
                    raise Refused(Reason.PHOTO_UNREADABLE) from None
                kind = checked_image(content)
                assert task.proof is not None
                proof = await self._store.start_proof(
                    task_id=task.id,
                    link_id=link.id,
                    chaster_session_id=link.chaster_session_id,
                    audience=task.proof,
                    submitted_by=caller.user_id,
                    now=self._clock(),
                )
                if proof is None:
                    raise Refused(Reason.PROOF_UNDER_REVIEW, at=None)
                try:
                    uploaded = await self._chaster.upload_file(
                        link.chaster_session_id,
                        content,
                        filename=kind.filename,
                        content_type=kind.content_type,
                    )
                except ChasterError as error:
                    # An upload that landed without an answer is never referenced, and
                    # Chaster removes it after its hour.
                    await self._store.proof_failed(proof.id, now=self._clock())
                    raise review_refusal(error) from None
                finally:
                    del content
                proof = await self._store.proof_uploaded(
                    proof.id, uploaded.file_id, now=self._clock()
                )
                penalty = await self._store.get_penalty(link.id, PenaltyOn.FAIL)
                body = review_body(
                    proof,
                    link,
                    kind=self._kind,
                    attachment_token=uploaded.attachment_token,
                    punishment=penalty if punishes(link) else None,
                )
                try:
                    review = await self._chaster.create_review(link.chaster_session_id, body)
                except ChasterUnavailable as error:
                    if not error.may_have_applied:
                        await self._abandon(proof)
                        raise chaster_failed(error, Consequence.NO_PHOTO_SENT) from None
                    proof = await self._settle_lost(proof)
                    if proof.state is ProofState.FAILED:
                        raise Refused(Reason.PROOF_DID_NOT_LAND, trouble=trouble(error)) from None
                    if proof.state is ProofState.UNKNOWN:
                        raise Refused(Reason.PROOF_OUTCOME_UNKNOWN) from None
                    if proof.state.is_verdict:
                        # Judged already: its verdict has been carried to the task.
                        return proof
                except ChasterError as error:
                    await self._abandon(proof)
                    raise review_refusal(error) from None
                else:
                    proof = await self._store.proof_opened(
                        proof.id, review.id, ends_at=review.ends_at
                    )
                await self._events.task_event(EventKind.PROOF_SUBMITTED, task, link, caller.user_id)
                return proof

    async def may_submit(self, caller: Caller, task_id: int) -> None:
        """Refused unless the caller could send a photo for the task now, without asking
        Chaster: before the upload form opens, so nobody picks a photo only to be refused."""
        _, task = await self._task_for(caller, task_id)
        task = await self._still_open(task)
        if task.proof is None:
            raise Refused(Reason.PROOF_NOT_NEEDED)
        existing = await self._store.proof_of_task(task.id)
        if existing is not None and existing.state.is_pending:
            raise Refused(Reason.PROOF_UNDER_REVIEW, at=existing.ends_at)

    async def _task_for(self, caller: Caller, task_id: int | None) -> tuple[SessionLink, Task]:
        """The caller's link as a wearer and its open task, or the task a button names."""
        if task_id is None:
            # /task proof names no wearer: the caller sends their own task's photo.
            try:
                link = await open_link(self._store, caller.guild_id, caller.user_id)
            except Refused as refusal:
                if refusal.reason is not Reason.NOT_LINKED_USE_LINK:
                    raise
                raise Refused(Reason.PROOF_NOT_LINKED_WEARER) from None
            require(Action.PROOF, _sender_role(caller, link))
            task = await self._store.get_open_task(link.id)
            if task is None:
                raise Refused(Reason.NO_OPEN_TASK, wearer=Person(caller.user_id))
            return link, task
        found = await self._store.get_task(task_id)
        if found is None:
            raise Refused(Reason.TASK_GONE)
        task_link = await self._store.get_link(found.link_id)
        if task_link is None or task_link.guild_id != caller.guild_id:
            raise Refused(Reason.TASK_FROM_OTHER_SERVER)
        require(Action.PROOF, _sender_role(caller, task_link))
        if not task_link.is_open:
            raise Refused(Reason.WEARER_UNLINKED)
        return task_link, found

    async def _still_open(self, task: Task) -> Task:
        current = await self._store.get_task(task.id)
        if current is None:
            raise Refused(Reason.TASK_GONE)
        if not current.state.is_open:
            raise Refused(Reason.TASK_CLOSED, state=current.state)
        return current

    async def _require_ready(self, link: SessionLink, task: Task) -> None:
        """Refused unless the task takes a photo now: it needs one, has none under review,
        and its timer (if any) has run out."""
        if task.proof is None:
            raise Refused(Reason.PROOF_NOT_NEEDED)
        existing = await self._store.proof_of_task(task.id)
        if existing is not None and existing.state in (ProofState.CREATING, ProofState.UNKNOWN):
            # A creation whose answer was lost: the history may tell by now.
            existing = await self._settle_lost(existing)
        if existing is not None and existing.state is ProofState.UNKNOWN:
            raise Refused(Reason.PROOF_OUTCOME_UNKNOWN)
        if existing is not None and existing.state.is_pending:
            raise Refused(Reason.PROOF_UNDER_REVIEW, at=existing.ends_at)
        if task.is_timed:
            if task.state is TaskState.ASSIGNED:
                raise Refused(Reason.START_TIMER_FIRST)
            if task.timer_ends_at is not None and task.timer_ends_at > self._clock():
                raise Refused(Reason.TIMER_RUNNING, at=task.timer_ends_at)

    async def _abandon(self, proof: ProofReview) -> None:
        """No review came of the photo: delete its upload (a review must not find it later)
        and let the wearer send another."""
        if proof.file_id is not None:
            try:
                await self._chaster.delete_file(proof.chaster_session_id, proof.file_id)
            except ChasterError as error:
                log.warning(
                    "proof %d: its unused upload stays until it expires: %s", proof.id, error.text
                )
        await self._store.proof_failed(proof.id, now=self._clock())

    async def _settle_lost(self, proof: ProofReview) -> ProofReview:
        """After a creation without an answer: find its review in Chaster's history (the
        caller holds the wearer's mutex). Found: open (or already ended); surely absent: failed
        and its upload deleted; otherwise unknown, and nothing is sent again."""
        try:
            review = await find_review(self._chaster, self._store, proof, kind=self._kind)
        except (ChasterError, CannotTell) as error:
            log.warning("proof %d: whether its review was created is unknown: %s", proof.id, error)
            return await self._store.proof_unknown(proof.id)
        if review is None:
            await self._abandon(proof)
            failed = await self._store.get_proof(proof.id)
            assert failed is not None
            return failed
        opened = await self._store.proof_opened(proof.id, review.id, ends_at=review.ends_at)
        if review.status is ReviewStatus.ONGOING:
            return opened
        judged = await self._record(
            opened, Verdict.of_review(review, review.ended_at or self._clock())
        )
        await self._carry(judged)
        return judged

    # -- the verdict ----------------------------------------------------------------------------

    async def on_verdict(self, ended: ReviewEnded) -> None:
        """`peer_verification.ended`: record the verdict once and carry it to the task. A
        verdict for a lock that ended or a link that was removed is recorded, nothing more."""
        proof = await self._store.proof_by_review(ended.peer_verification_id)
        if proof is None:
            # Perhaps a creation whose answer was lost, or one still being recorded.
            await self.check(session_id=ended.session_id)
            proof = await self._store.proof_by_review(ended.peer_verification_id)
        if proof is None:
            log.info("review %s is none of this bot's photos", ended.peer_verification_id)
            return
        verdict = Verdict.of_review(ended, ended.ended_at or self._clock())
        await self._judged(proof, verdict)

    async def _judged(self, proof: ProofReview, verdict: Verdict) -> None:
        link = await self._store.get_link(proof.link_id)
        if link is None:
            return
        async with self._guards.of(link.guild_id, link.wearer_id):
            current = await self._store.get_proof(proof.id)
            if current is None or current.settled_at is not None:
                return
            if not current.state.is_verdict:
                current = await self._record(current, verdict)
            await self._carry(current)

    async def _record(self, proof: ProofReview, verdict: Verdict) -> ProofReview:
        recorded = await self._store.record_verdict(
            proof.id,
            verified=verdict.verified,
            ended_at=verdict.ended_at,
            votes_verified=verdict.votes_verified,
            votes_rejected=verdict.votes_rejected,
            reasons=verdict.reasons,
        )
        if recorded is not None:
            return recorded
        again = await self._store.get_proof(proof.id)
        assert again is not None
        return again

    async def _carry(self, proof: ProofReview) -> None:
        """Complete or fail the task as the verdict says (the caller holds the wearer's
        mutex). Chaster already ran the punishments of a rejection: the bot adds none."""
        task = await self._store.get_task(proof.task_id)
        link = await self._store.get_link(proof.link_id)
        if task is None or link is None or not link.is_open or not task.state.is_open:
            await self._store.proof_settled(proof.id, now=self._clock())
            return
        verified = proof.state is ProofState.VERIFIED
        try:
            closed = await self._actions.close_for_verdict(link, task, completed=verified)
        except Refused as refusal:
            if refusal.reason in _TRY_AGAIN:
                log.warning("proof %d: the verdict waits for Chaster: %s", proof.id, refusal)
                return
            # Not Chaster's current task any more: the sync has recorded how it ended.
            log.info("proof %d: its task ended otherwise: %s", proof.id, refusal)
            await self._store.proof_settled(proof.id, now=self._clock())
            return
        await self._store.proof_settled(proof.id, now=self._clock())
        kind = EventKind.COMPLETED if verified else EventKind.FAILED
        await self._events.task_event(kind, closed, link, None, counts_as_failure=False)

    # -- without webhooks, and after a restart ------------------------------------------------

    async def check(self, *, session_id: str | None = None) -> int:
        """Settle what is unsettled: verdicts not yet carried, lost creations, and reviews
        that ended without a webhook (read from the history). Returns the requests made."""
        requests = 0
        for proof in await self._store.unsettled_proofs():
            if session_id is not None and proof.chaster_session_id != session_id:
                continue
            if proof.state is ProofState.UPLOADING:
                continue
            link = await self._store.get_link(proof.link_id)
            if link is None:
                continue
            try:
                requests += await self._check_one(proof, link)
            except ChasterError as error:
                log.info("proof %d not checked: %s", proof.id, error.text)
        return requests

    async def _check_one(self, proof: ProofReview, link: SessionLink) -> int:
        async with self._guards.of(link.guild_id, link.wearer_id):
            current = await self._store.get_proof(proof.id)
            if current is None or current.settled_at is not None:
                return 0
            if current.state.is_verdict:
                await self._carry(current)
                return 0
            if current.state in (ProofState.CREATING, ProofState.UNKNOWN):
                await self._settle_lost(current)
                return 1
            if current.state is not ProofState.OPEN or current.review_id is None:
                return 0
            page = await self._chaster.search_reviews(
                current.chaster_session_id, kind=self._kind, background=True
            )
            review = next((r for r in page.results if r.id == current.review_id), None)
        if review is not None and review.status is not ReviewStatus.ONGOING:
            await self._judged(current, Verdict.of_review(review, review.ended_at or self._clock()))
        return 1

    async def resume(self) -> None:
        """At start-up: a photo whose upload a crash interrupted is given up (its upload, if
        any, was never referenced and expires); the rest is settled as `check` does."""
        for proof in await self._store.unsettled_proofs():
            if proof.state is ProofState.UPLOADING:
                await self._store.proof_failed(proof.id, now=self._clock())
        await self.check()

    async def of_task(self, task: Task) -> ProofReview | None:
        """What the task's feed message shows of its photo."""
        return None if task.proof is None else await self._store.proof_of_task(task.id)


def _sender_role(caller: Caller, link: SessionLink) -> Role:
    """The caller's role for sending a photo: the wearer of a self-lock, who is also their
    own keyholder of record, sends theirs as the wearer."""
    if caller.guild_id == link.guild_id and caller.user_id == link.wearer_id:
        return Role.WEARER
    return role_of(caller, link)
