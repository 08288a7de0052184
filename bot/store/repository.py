"""`Store`, the repository: every query the bot runs, as typed async methods.

Its methods live in mixins, one private module per area: `_settings` (guild settings),
`_links` (session links), `_link_codes` (linking by code), `_link_requests` (link requests),
`_tasks` (tasks, timers and feed messages), `_library` (task libraries), `_votes` (votes),
`_schedules` (schedules and their occasions), `_automation` (pause, deadlines, penalties,
consequences, DM preferences), `_proofs` (photo proof and its reviews), `_retention`
(pruning), `_chaster_logs` (entries in locks' history) and `_records` (webhook deliveries and
the audit log), over the helpers in `_queries`.
"""

from __future__ import annotations

from ._automation import AutomationMixin
from ._chaster_logs import ChasterLogsMixin
from ._library import LibraryMixin
from ._link_codes import LinkCodesMixin
from ._link_requests import LinkRequestsMixin
from ._links import LinksMixin
from ._proofs import ProofsMixin
from ._records import RecordsMixin
from ._retention import RetentionMixin
from ._schedules import SchedulesMixin
from ._settings import GuildSettingsMixin, SettingsCache
from ._tasks import TASK_TRANSITION_FIELDS, TasksMixin
from ._votes import VotesMixin
from .database import Database

__all__ = ["TASK_TRANSITION_FIELDS", "Store"]


class Store(
    GuildSettingsMixin,
    LinkRequestsMixin,
    LinksMixin,
    LinkCodesMixin,
    TasksMixin,
    LibraryMixin,
    VotesMixin,
    SchedulesMixin,
    AutomationMixin,
    ProofsMixin,
    RetentionMixin,
    ChasterLogsMixin,
    RecordsMixin,
):
    """The repository the core receives: each method is one committed unit of work.

    Times are aware datetimes (naive ones raise ValueError); `now` always comes from the caller.
    Constraint failures raise `ConstraintViolation` or a subclass (`LinkExists`, `OpenTaskExists`).
    """

    def __init__(self, db: Database) -> None:
        """Use an open, migrated database. One `Store` per database: each caches the settings
        it reads and writes, and would not see another's writes."""
        self._db = db
        self._settings_cache = SettingsCache()

    @property
    def db(self) -> Database:
        """The database this store reads and writes."""
        return self._db
