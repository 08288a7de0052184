"""Typed views of the private files and standalone peer reviews an extension runs.

The creation answer, a history row and the `peer_verification.ended` webhook name the vote
counts differently (`nbVerifiedVotes` / `voteCounts.verified`, `nbVotes` / `count`); these
views read either, so the rest of the bot sees one shape.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from bot.chaster.base import SESSION_ID_REGEX, ChasterModel

REVIEW_ENDED = "peer_verification.ended"


class ReviewAudience(StrEnum):
    """Who judges a photo: the lock's keyholder, or every member of the community."""

    KEYHOLDER = "keyholder"
    COMMUNITY = "all_members"


class ReviewStatus(StrEnum):
    ONGOING = "ongoing"
    VERIFIED = "verified"
    REJECTED = "rejected"


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class UploadedFile(ChasterModel):
    """The answer to an upload. The attachment token is a secret: it is used once, to create
    the review, and never stored or logged."""

    file_id: str = Field(min_length=1)
    attachment_token: str = Field(min_length=1, repr=False)
    expires_at: datetime | None = None


class RejectionReason(ChasterModel):
    slug: str = ""
    text: str = ""
    votes: int = 0

    @model_validator(mode="before")
    @classmethod
    def _votes(cls, data: Any) -> Any:
        # `nbVotes` in a created review, `count` in the history and the webhook.
        if isinstance(data, dict) and "votes" not in data:
            votes = data.get("count", data.get("nbVotes", 0))
            return {**data, "votes": votes if isinstance(votes, int) else 0}
        return data


class CheckResult(ChasterModel):
    check_id: str | None = None
    rejection_reasons: tuple[RejectionReason, ...] = ()


def _counts(data: dict[str, Any]) -> dict[str, Any]:
    counts = data.get("voteCounts")
    if isinstance(counts, dict):
        return {
            **data,
            "verifiedVotes": counts.get("verified", 0),
            "rejectedVotes": counts.get("rejected", 0),
        }
    return {
        **data,
        "verifiedVotes": data.get("nbVerifiedVotes", 0),
        "rejectedVotes": data.get("nbRejectedVotes", 0),
    }


class _Counted(ChasterModel):
    verified_votes: int = 0
    rejected_votes: int = 0
    check_results: tuple[CheckResult, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _read_counts(cls, data: Any) -> Any:
        return _counts(data) if isinstance(data, dict) else data

    def reasons(self) -> list[str]:
        """The texts of the rejection reasons some vote gave, most voted first."""
        totals: dict[str, int] = {}
        for result in self.check_results:
            for reason in result.rejection_reasons:
                if reason.votes > 0 and reason.text:
                    totals[reason.text] = totals.get(reason.text, 0) + reason.votes
        return sorted(totals, key=lambda text: -totals[text])


class ReviewCheck(ChasterModel):
    name: str = ""
    id: str | None = None


class PeerReview(_Counted):
    """A review as its creation answers it, or as a row of the review history."""

    id: str = Field(alias="_id", min_length=1)
    status: ReviewStatus
    verification_type_key: str | None = None
    checks: tuple[ReviewCheck, ...] | None = None
    created_at: datetime | None = None
    ends_at: datetime | None = None
    ended_at: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _kind(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("verificationType"), dict):
            return {**data, "verificationTypeKey": data["verificationType"].get("key")}
        return data

    @field_validator("created_at", "ends_at", "ended_at")
    @classmethod
    def _times_aware(cls, value: datetime | None) -> datetime | None:
        return _aware(value)

    def check_ids(self) -> set[str]:
        return {check.id for check in self.checks or () if check.id}


class ReviewPage(ChasterModel):
    """One page of `POST .../peer-verifications/search`, newest first."""

    results: tuple[PeerReview, ...]
    has_more: bool = False
    next_cursor: str | None = None


class ReviewEnded(_Counted):
    """`data` of a `peer_verification.ended` webhook: a review's verdict."""

    session_id: str = Field(pattern=SESSION_ID_REGEX)
    peer_verification_id: str = Field(min_length=1)
    verification_type_key: str | None = None
    status: Literal[ReviewStatus.VERIFIED, ReviewStatus.REJECTED]
    ended_at: datetime | None = None

    @field_validator("ended_at")
    @classmethod
    def _time_aware(cls, value: datetime | None) -> datetime | None:
        return _aware(value)
