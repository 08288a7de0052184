"""The core: every rule of the bot, with no Discord in it and no words.

Commands, reactions, webhooks, polling and timers all end in one of its parts. Each part is
given what it needs (the store, the Chaster client, the clock, the shared mutexes, the event
bus, the audit) and reaches through no other.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from bot.chaster import ChasterClient
from bot.core.actions import TaskActions
from bot.core.audit import Audit
from bot.core.events import EventBus
from bot.core.guards import WearerGuards
from bot.core.links import Links
from bot.core.locks import Locks
from bot.core.model import Clock, utc_now
from bot.core.settings import ServerSettings
from bot.core.shared import Shared
from bot.core.sync import Sync
from bot.core.tasks import Tasks
from bot.store import Store


@dataclass(frozen=True)
class Core:
    """The parts, as the Discord side and the jobs use them."""

    links: Links
    tasks: Tasks
    actions: TaskActions
    sync: Sync
    settings: ServerSettings
    events: EventBus
    clock: Clock


def build_core(
    store: Store,
    chaster: ChasterClient,
    *,
    extension_slug: str,
    languages: Collection[str],
    clock: Clock = utc_now,
) -> Core:
    """Wire the parts together around one store, one Chaster client and one clock."""
    events = EventBus()
    audit = Audit(store, clock)
    shared = Shared(audit=audit, guards=WearerGuards(), events=events, clock=clock)
    locks = Locks(store, chaster)
    settings = ServerSettings(store, audit, languages=languages)
    sync = Sync(store, chaster, shared, locks=locks, settings=settings)
    return Core(
        links=Links(store, chaster, shared, extension_slug=extension_slug),
        tasks=Tasks(store, chaster, shared, locks=locks, settings=settings),
        actions=TaskActions(store, chaster, shared, locks=locks, sync=sync, settings=settings),
        sync=sync,
        settings=settings,
        events=events,
        clock=clock,
    )
