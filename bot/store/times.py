"""The one place times cross the storage boundary: stored as fixed-width ISO-8601 UTC text."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


@overload
def to_db(value: datetime) -> str: ...
@overload
def to_db(value: None) -> None: ...
def to_db(value: datetime | None) -> str | None:
    """Render an aware datetime as the stored ISO-8601 UTC text; naive datetimes are refused."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: pass a timezone-aware UTC datetime")
    # Fixed width and always UTC, so stored times also sort and compare correctly as text.
    return value.astimezone(UTC).isoformat(timespec="microseconds")


@overload
def from_db(value: str) -> datetime: ...
@overload
def from_db(value: None) -> None: ...
def from_db(value: str | None) -> datetime | None:
    """Parse stored ISO-8601 text back into an aware UTC datetime."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"stored time {value!r} has no UTC offset")
    return parsed.astimezone(UTC)
