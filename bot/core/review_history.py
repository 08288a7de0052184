"""Chaster's review history, read for photo proof: finding the review a lost creation made,
and the verdict a review reports.

Creation has no idempotency key, so after a lost answer the review is looked for before
anything is sent again. The bot's check id (`proof_rules.marker`) names it exactly; when
Chaster's rows name no checks, only a single review nobody here knows will do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.chaster import ChasterClient
from bot.chaster.reviews import PeerReview, ReviewEnded, ReviewStatus
from bot.core.proof_rules import marker
from bot.store import ProofReview, Store

# Clocks differ: a review created just after the request was sent may be stamped a little
# before it by Chaster.
CLOCK_ALLOWANCE = timedelta(minutes=2)
# How far back the history is read for a lost creation (pages of 20, newest first).
HISTORY_PAGES = 3


class CannotTell(Exception):
    """The history does not say whether a lost creation made a review."""


@dataclass(frozen=True)
class Verdict:
    verified: bool
    ended_at: datetime
    votes_verified: int
    votes_rejected: int
    reasons: tuple[str, ...]

    @classmethod
    def of_review(cls, review: PeerReview | ReviewEnded, ended_at: datetime) -> Verdict:
        """The verdict a history row or a `peer_verification.ended` webhook reports."""
        return cls(
            verified=review.status is ReviewStatus.VERIFIED,
            ended_at=ended_at,
            votes_verified=review.verified_votes,
            votes_rejected=review.rejected_votes,
            reasons=tuple(review.reasons()),
        )


async def find_review(
    chaster: ChasterClient, store: Store, proof: ProofReview, *, kind: str
) -> PeerReview | None:
    """The photo's review in the history: by its check's id; when Chaster's rows name no
    checks, the one review of this kind nobody here knows, created since it was sent."""
    since = (proof.sent_at or proof.submitted_at) - CLOCK_ALLOWANCE
    known = await store.review_ids_of_session(proof.chaster_session_id)
    strangers: list[PeerReview] = []
    names_checks = False
    cursor: str | None = None
    for _ in range(HISTORY_PAGES):
        page = await chaster.search_reviews(proof.chaster_session_id, kind=kind, cursor=cursor)
        for review in page.results:
            if review.checks is not None:
                names_checks = True
                if marker(proof) in review.check_ids():
                    return review
            if review.created_at is not None and review.created_at < since:
                return _only(strangers, names_checks)
            if review.id not in known:
                strangers.append(review)
        if not page.has_more or page.next_cursor is None:
            return _only(strangers, names_checks)
        cursor = page.next_cursor
    # The history goes further back than the bot reads.
    raise CannotTell


def _only(strangers: list[PeerReview], names_checks: bool) -> PeerReview | None:
    if names_checks:
        # Every row names its checks, and none is this photo's: it made no review.
        return None
    if len(strangers) > 1:
        # Several reviews could be this photo's.
        raise CannotTell
    return strangers[0] if strangers else None
