"""What the core's parts share: the audit, the per-wearer mutexes, the event bus, the clock."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.audit import Audit
from bot.core.events import EventBus
from bot.core.guards import WearerGuards
from bot.core.model import Clock


@dataclass(frozen=True)
class Shared:
    audit: Audit
    guards: WearerGuards
    events: EventBus
    clock: Clock
