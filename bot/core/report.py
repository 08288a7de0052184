"""/stats: a wearer's statistics over a period, with the lock's points against its target."""

from __future__ import annotations

from dataclasses import dataclass

from bot.chaster import ChasterError
from bot.core.errors import Reason, Refused
from bot.core.links import open_link
from bot.core.model import Caller, Clock
from bot.core.occasions import zone_named
from bot.core.policy import Action, require, role_of
from bot.core.settings import ServerSettings
from bot.core.state_view import StateView
from bot.core.stats import MAX_DAYS, MIN_DAYS, Stats, compute
from bot.store import Store

DEFAULT_DAYS = 30


@dataclass(frozen=True)
class StatsReport:
    guild_id: int
    wearer_id: int
    stats: Stats
    # The lock's points and target when Chaster counts points (target None: none set).
    lock_points: int | None
    lock_target: int | None


class Report:
    def __init__(
        self,
        store: Store,
        view: StateView,
        settings: ServerSettings,
        clock: Clock,
        *,
        fresh_seconds: float,
    ) -> None:
        self._store = store
        self._view = view
        self._settings = settings
        self._clock = clock
        self._fresh_seconds = fresh_seconds

    async def stats(
        self, caller: Caller, wearer_id: int, *, days: int = DEFAULT_DAYS, public: bool = False
    ) -> StatsReport:
        """The wearer's statistics over the last `days` local days (wearer and keyholder of
        record; only the wearer may show them to everyone)."""
        if not MIN_DAYS <= days <= MAX_DAYS:
            raise Refused(Reason.STATS_DAYS_RANGE, shortest=MIN_DAYS, longest=MAX_DAYS)
        link = await open_link(self._store, caller.guild_id, wearer_id)
        role = role_of(caller, link)
        require(Action.STATUS, role)
        if public and caller.user_id != link.wearer_id:
            raise Refused(Reason.ONLY_WEARER_MAKES_PUBLIC)
        zone = zone_named((await self._settings.of(caller.guild_id)).timezone)
        tasks = await self._store.wearer_tasks(caller.guild_id, wearer_id)
        stats = compute(tasks, now=self._clock(), days=days, zone=zone)
        points = target = None
        try:
            reading = await self._view.read(link.chaster_session_id, within=self._fresh_seconds)
        except ChasterError:
            # The statistics stand without the lock's points.
            reading = None
        chaster = reading.lock.tasks if reading is not None else None
        if chaster is not None and chaster.enable_points:
            points, target = chaster.points, chaster.points_required or None
        return StatsReport(caller.guild_id, wearer_id, stats, points, target)
