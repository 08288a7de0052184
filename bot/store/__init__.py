"""Storage: SQLite (small reads and writes on the event loop's thread, the rest through
aiosqlite's threads), numbered migrations, typed rows, one `Store` repository.

async with await Database.open(path) as db:
    store = Store(db)
"""

from __future__ import annotations

from ._chaster_logs import ChasterLog
from ._link_codes import LinkCode, LockProof
from .automation_rows import (
    Consequence,
    ConsequenceState,
    Every,
    LinkDefaults,
    NotifyPrefs,
    Occasion,
    OccasionState,
    Penalty,
    PenaltyAction,
    PenaltyDefault,
    PenaltyOn,
    Schedule,
)
from .database import Database
from .errors import (
    ConstraintViolation,
    DatabaseUnavailable,
    LibraryFull,
    LinkExists,
    LinkRequestNotPending,
    MigrationError,
    NotFound,
    OpenTaskExists,
    StoreError,
)
from .library_rows import LibraryEntry, Vote, VoteOption, VoteOutcome, VoteState
from .proof_rows import Proof, ProofReview, ProofState
from .repository import TASK_TRANSITION_FIELDS, Store
from .rows import (
    OPEN_TASK_STATES,
    AuditEntry,
    AuditResult,
    Controls,
    GuildSettings,
    LinkRequest,
    LinkRequestState,
    Origin,
    SessionLink,
    Task,
    TaskState,
    from_db,
    to_db,
)
from .schema import Migration, load_migrations

__all__ = [
    "OPEN_TASK_STATES",
    "TASK_TRANSITION_FIELDS",
    "AuditEntry",
    "AuditResult",
    "ChasterLog",
    "Consequence",
    "ConsequenceState",
    "ConstraintViolation",
    "Controls",
    "Database",
    "DatabaseUnavailable",
    "Every",
    "GuildSettings",
    "LibraryEntry",
    "LibraryFull",
    "LinkCode",
    "LinkDefaults",
    "LinkExists",
    "LinkRequest",
    "LinkRequestNotPending",
    "LinkRequestState",
    "LockProof",
    "Migration",
    "MigrationError",
    "NotFound",
    "NotifyPrefs",
    "Occasion",
    "OccasionState",
    "OpenTaskExists",
    "Origin",
    "Penalty",
    "PenaltyAction",
    "PenaltyDefault",
    "PenaltyOn",
    "Proof",
    "ProofReview",
    "ProofState",
    "Schedule",
    "SessionLink",
    "Store",
    "StoreError",
    "Task",
    "TaskState",
    "Vote",
    "VoteOption",
    "VoteOutcome",
    "VoteState",
    "from_db",
    "load_migrations",
    "to_db",
]
