"""The core: every rule of the bot, with no Discord in it and no words.

Commands, reactions, webhooks, polling and timers all end in one of its parts. Each part is
given what it needs (the store, the Chaster client, the clock, the shared mutexes, the event
bus, the audit) and reaches through no other.
"""

from __future__ import annotations

import random
from collections.abc import Collection
from dataclasses import dataclass

from bot.chaster import ChasterClient, WebhookEnvelope
from bot.core.actions import TaskActions
from bot.core.audit import Audit
from bot.core.chaster_history import ChasterHistory
from bot.core.consequences import Consequences
from bot.core.deadlines import TaskDeadlines
from bot.core.events import EventBus
from bot.core.guards import WearerGuards
from bot.core.library import Library
from bot.core.link_codes import LinkCodes
from bot.core.links import Links
from bot.core.locks import Locks
from bot.core.model import Clock, Later, utc_now
from bot.core.notify import Notify
from bot.core.pause import Pause
from bot.core.penalties import Penalties
from bot.core.proof_settings import ProofSettings
from bot.core.proofs import Proofs
from bot.core.record import Record
from bot.core.report import Report
from bot.core.retention import Retention
from bot.core.schedules import Schedules
from bot.core.settings import ServerSettings
from bot.core.shared import Shared
from bot.core.state_view import StateView
from bot.core.sweep import Sweep
from bot.core.sync import Sync
from bot.core.tasks import Tasks
from bot.core.votes import Votes
from bot.store import Store


@dataclass(frozen=True)
class Core:
    """The parts, as the Discord side and the jobs use them."""

    links: Links
    link_codes: LinkCodes
    tasks: Tasks
    library: Library
    votes: Votes
    actions: TaskActions
    proofs: Proofs
    proof_settings: ProofSettings
    schedules: Schedules
    deadlines: TaskDeadlines
    penalties: Penalties
    consequences: Consequences
    pause: Pause
    notify: Notify
    record: Record
    report: Report
    chaster_history: ChasterHistory
    retention: Retention
    sync: Sync
    sweep: Sweep
    view: StateView
    settings: ServerSettings
    events: EventBus
    clock: Clock

    async def handle_webhook(self, envelope: WebhookEnvelope) -> None:
        """One Chaster webhook delivery (authenticated, parsed, de-duplicated by request id):
        a review's verdict goes to photo proof, everything else to the sync."""
        if (ended := envelope.review_ended) is not None:
            await self.proofs.on_verdict(ended)
        else:
            await self.sync.handle_webhook(envelope)


def build_core(
    store: Store,
    chaster: ChasterClient,
    *,
    extension_slug: str,
    languages: Collection[str],
    fresh_seconds: float,
    later: Later,
    link_code_key: bytes,
    proof_kind: str = "photo",
    clock: Clock = utc_now,
    rng: random.Random | None = None,
) -> Core:
    """Wire the parts together around one store, one Chaster client and one clock.

    `fresh_seconds` is how old a Chaster state /task status may show; `later` runs what the
    parts leave for later (a schedule's next occasion, a consequence to try again);
    `link_code_key` keys the hashes of link codes; `proof_kind` is the verification kind
    declared for the extension in Chaster (photo proof); `rng` draws the random tasks (a fresh,
    unseeded one unless given).
    """
    events = EventBus()
    audit = Audit(store, clock)
    shared = Shared(audit=audit, guards=WearerGuards(), events=events, clock=clock)
    view = StateView(chaster, clock)
    locks = Locks(store, view)
    settings = ServerSettings(store, audit, languages=languages)
    sync = Sync(store, chaster, shared, locks=locks, settings=settings, view=view)
    library = Library(store, chaster, shared, locks=locks, view=view)
    draws = rng or random.Random()  # noqa: S311 (drawing tasks, not secrets)
    tasks = Tasks(
        store,
        chaster,
        shared,
        locks=locks,
        settings=settings,
        view=view,
        library=library,
        fresh_seconds=fresh_seconds,
        rng=draws,
    )
    actions = TaskActions(store, chaster, shared, locks=locks, sync=sync, settings=settings)
    proofs = Proofs(store, chaster, shared, actions=actions, kind=proof_kind)
    consequences = Consequences(
        store,
        chaster,
        shared,
        locks=locks,
        settings=settings,
        extension_slug=extension_slug,
        later=later,
    )
    # First of the subscribers: a consequence is recorded before anything else hears of it.
    events.subscribe(consequences.on_event)
    return Core(
        links=Links(store, chaster, shared, extension_slug=extension_slug),
        link_codes=LinkCodes(store, chaster, shared, key=link_code_key),
        tasks=tasks,
        library=library,
        votes=Votes(
            store,
            chaster,
            shared,
            library=library,
            locks=locks,
            tasks=tasks,
            settings=settings,
            rng=draws,
        ),
        actions=actions,
        proofs=proofs,
        proof_settings=ProofSettings(store, chaster, shared),
        schedules=Schedules(
            store,
            chaster,
            shared,
            tasks=tasks,
            library=library,
            locks=locks,
            settings=settings,
            later=later,
        ),
        deadlines=TaskDeadlines(store, chaster, shared, actions=actions),
        penalties=Penalties(store, chaster, shared, locks=locks),
        consequences=consequences,
        pause=Pause(store, chaster, shared, settings=settings),
        notify=Notify(store, audit, clock),
        record=Record(store, audit),
        report=Report(store, view, settings, clock, fresh_seconds=fresh_seconds),
        chaster_history=ChasterHistory(store, chaster, settings, clock, later),
        retention=Retention(store, clock, later),
        sync=sync,
        sweep=Sweep(
            store, chaster, view, sync, extension_slug=extension_slug, reviews=proofs.check
        ),
        view=view,
        settings=settings,
        events=events,
        clock=clock,
    )
