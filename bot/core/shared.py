"""What the core's parts share: the audit, the per-wearer mutexes, the event bus, the clock;
and the base of the parts that act on a store and Chaster with them."""

from __future__ import annotations

from dataclasses import dataclass

from bot.chaster import ChasterClient
from bot.core.audit import Audit
from bot.core.events import EventBus
from bot.core.guards import WearerGuards
from bot.core.model import Clock
from bot.store import Store


@dataclass(frozen=True)
class Shared:
    audit: Audit
    guards: WearerGuards
    events: EventBus
    clock: Clock


class Part:
    """A part of the core that works on the store and Chaster, with what the parts share."""

    def __init__(self, store: Store, chaster: ChasterClient, shared: Shared) -> None:
        self._store = store
        self._chaster = chaster
        self._audit = shared.audit
        self._guards = shared.guards
        self._events = shared.events
        self._clock = shared.clock
