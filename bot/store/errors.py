"""Errors raised by the store.

Every `sqlite3.IntegrityError` (CHECK, NOT NULL, FOREIGN KEY, UNIQUE) leaves the store as a
`ConstraintViolation`, or as a more specific subclass for the unique indexes the core relies on.
"""

from __future__ import annotations

import sqlite3

__all__ = [
    "ConstraintViolation",
    "DatabaseUnavailable",
    "LibraryFull",
    "LinkExists",
    "LinkRequestNotPending",
    "MigrationError",
    "NotFound",
    "OpenTaskExists",
    "StoreError",
]


class StoreError(Exception):
    """Base class for everything the store raises on purpose."""


class MigrationError(StoreError):
    """The migration files are malformed, one failed, or the database is newer than the bot."""


class DatabaseUnavailable(StoreError):
    """The database file cannot be used as it is: not SQLite, damaged, another program's,
    locked by another process, or not writable. Nothing was changed; the message is one line
    that names the file and what to do."""


class NotFound(StoreError):
    """A write addressed a row that does not exist."""


class LinkRequestNotPending(StoreError):
    """The link request was already accepted, expired or cancelled (or has passed its expiry)."""


class ConstraintViolation(StoreError):
    """The database refused a write: a CHECK, NOT NULL, FOREIGN KEY or UNIQUE constraint failed."""


class LinkExists(ConstraintViolation):
    """The wearer already has an open link in this server."""


class OpenTaskExists(ConstraintViolation):
    """The link already has an open task."""


_UNIQUE_PREFIX = "UNIQUE constraint failed: "
# Keyed by the column list SQLite names in the message, which is the indexed columns.
_UNIQUE_ERRORS: dict[str, tuple[type[ConstraintViolation], str]] = {
    "session_links.guild_id, session_links.wearer_id": (
        LinkExists,
        "the wearer already has an open link in this server",
    ),
    "tasks.link_id": (OpenTaskExists, "the link already has an open task"),
}


def constraint_error(exc: sqlite3.IntegrityError) -> ConstraintViolation:
    """Translate an IntegrityError into the matching store error (not raised here)."""
    message = str(exc)
    if message.startswith(_UNIQUE_PREFIX):
        known = _UNIQUE_ERRORS.get(message.removeprefix(_UNIQUE_PREFIX))
        if known is not None:
            cls, text = known
            return cls(text)
    return ConstraintViolation(message)


class LibraryFull(StoreError):
    """A keyholder's library in a server already holds as many entries as it may."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the library already holds {limit} entries")
        self.limit = limit
