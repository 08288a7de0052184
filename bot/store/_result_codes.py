"""SQLite's result codes, read from an exception: shared by opening and migrating."""

from __future__ import annotations

import sqlite3

# Primary result codes (https://sqlite.org/rescode.html); extended codes keep them in the low byte.
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26


def _error_code(exc: BaseException) -> int:
    return int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF


def _is_busy(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.Error) and _error_code(exc) in (_SQLITE_BUSY, _SQLITE_LOCKED)
