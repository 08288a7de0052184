"""The composition root: build every part from the settings, start them in order, stop them.

    settings -> Chaster client, database, store -> core -> Discord bot, timers, poller,
    web server, heartbeat

Nothing else constructs a part or owns its lifecycle; tests build a whole deployment here too,
with their own clock.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bot.chaster import ChasterClient
from bot.config import Settings
from bot.core import Core, build_core
from bot.core.model import Clock, utc_now
from bot.core.pages import ConfigPage, MainPage
from bot.discord_side.client import SHUTDOWN_GRACE_SECONDS, TasksBot, point_discord_at
from bot.discord_side.polls import end_vote
from bot.health import Heartbeat, heartbeat_path
from bot.i18n import default_catalogue
from bot.jobs.poller import Poller
from bot.jobs.timers import Deadlines, Timers
from bot.store import Database, Store
from bot.web import WebServer
from bot.web_pages import ExtensionPages

log = logging.getLogger(__name__)


class App:
    """One deployment: every part, and the order they start and stop in."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store,
        core: Core,
        bot: TasksBot,
        timers: Timers,
        poller: Poller,
        web: WebServer | None,
        heartbeat: Heartbeat,
    ) -> None:
        self.settings = settings
        self.store = store
        self.core = core
        self.bot = bot
        self.timers = timers
        self.poller = poller
        self.web = web
        self.heartbeat = heartbeat
        self._closed = False

    async def run(self) -> None:
        """Log in to Discord (cogs and commands), start the jobs, stay connected until
        `close`."""
        await self.bot.login(self.settings.DISCORD_TOKEN.get_secret_value())
        await self._start_jobs()
        await self.bot.connect()

    async def _start_jobs(self) -> None:
        # Deadlines first (overdue ones fire at once), then what a crash left half done, then
        # the first poll round, which catches up with what changed in Chaster meanwhile.
        await self.timers.start()
        await self.core.sync.resume()
        self.poller.start()
        if self.web is not None:
            await self.web.start()
        self.heartbeat.start()

    async def close(self) -> None:
        """Stop taking work, finish what was accepted, then disconnect (once)."""
        if self._closed:
            return
        self._closed = True
        # One budget for finishing accepted work, shared by the parts in turn: waiting for
        # each in full made a stop with Chaster stuck take twice the grace, past which a
        # container manager kills the process.
        deadline = time.monotonic() + SHUTDOWN_GRACE_SECONDS

        def left() -> float:
            return max(0.0, deadline - time.monotonic())

        await self.heartbeat.stop()
        if self.web is not None:
            await self.web.stop(within=left())
        await self.poller.stop()
        await self.timers.stop()
        self.bot.grace_seconds = left()
        await self.bot.close()


@asynccontextmanager
async def create_app(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    **bot_options: Any,
) -> AsyncIterator[App]:
    """Build the whole deployment; close every part on exit."""
    point_discord_at(settings)
    # The slash commands' language choices are read from the same catalogue when cogs load.
    catalogue = default_catalogue()
    async with (
        ChasterClient(settings.CHASTER_API_URL, settings.CHASTER_API_TOKEN) as chaster,
        await Database.open(settings.DATABASE_PATH) as database,
    ):
        store = Store(database)
        deadlines = Deadlines(clock)
        core = build_core(
            store,
            chaster,
            extension_slug=settings.CHASTER_EXTENSION_SLUG,
            languages=catalogue.languages,
            fresh_seconds=settings.CHASTER_FRESH_SECONDS,
            later=deadlines.schedule,
            link_code_key=link_code_key(settings),
            proof_kind=settings.CHASTER_PROOF_KIND,
            clock=clock,
        )
        timers = Timers(
            store,
            clock,
            deadlines,
            finish_timer=core.sync.finish_timer,
            expire_request=core.links.expire_request,
            # Reads the poll in Discord: the bot exists by the time a vote can end.
            end_vote=lambda vote_id: end_vote(bot, vote_id),
            task_deadlines=core.deadlines,
            schedules=core.schedules,
            consequences=core.consequences,
            proofs=core.proofs,
            retention=core.retention,
            chaster_history=core.chaster_history,
        )
        # Before the feed subscribes (when the cogs load): a deadline is saved first.
        core.events.subscribe(timers.on_event)
        bot = TasksBot(settings, core, catalogue, **bot_options)
        web = None
        if settings.WEBHOOK_PORT is not None:
            if not (settings.WEBHOOK_USERNAME and settings.WEBHOOK_PASSWORD):
                raise ValueError("the settings check requires webhook credentials with a port")
            web = WebServer(
                store,
                core.handle_webhook,
                clock,
                host=settings.WEBHOOK_HOST,
                port=settings.WEBHOOK_PORT,
                username=settings.WEBHOOK_USERNAME,
                password=settings.WEBHOOK_PASSWORD,
                is_healthy=bot.is_healthy,
                pages=ExtensionPages(
                    MainPage(store, chaster, core.link_codes, clock, bot),
                    ConfigPage(chaster),
                    catalogue,
                    frame_ancestors=settings.chaster_app_origins,
                ),
            )
        app = App(
            settings,
            store=store,
            core=core,
            bot=bot,
            timers=timers,
            poller=Poller(core.sweep.run, chaster.limiter, settings.CHASTER_POLL_SECONDS),
            web=web,
            heartbeat=Heartbeat(heartbeat_path(settings), alive=bot.is_healthy),
        )
        async with bot:
            try:
                yield app
            finally:
                await app.close()


def link_code_key(settings: Settings) -> bytes:
    """The key of the link codes' hashes: from a secret the deployment already keeps, so a
    copy of the database alone gives no working code."""
    secret = settings.CHASTER_API_TOKEN.get_secret_value().encode()
    return hashlib.sha256(b"link-codes\0" + secret).digest()
