"""Settings and fixtures shared by every test: the hypothesis profile, and the core's shared
test environment (tests/core_env.py)."""

from __future__ import annotations

import random
import ssl
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
from hypothesis import settings
from pydantic import SecretStr

from bot.chaster import ChasterClient, RateLimiter
from bot.chaster import transport as transport_module
from bot.config import Settings as BotSettings
from bot.core import build_core
from bot.i18n import default_catalogue
from bot.jobs.timers import Deadlines
from bot.store import Database, Store
from tests.clock import FakeClock
from tests.core_env import SLUG, CoreEnv, EnvFactory, FeedRecorder
from tests.fakes.chaster import FakeChaster

# Property-based tests must give CI the same verdict every run: a fixed walk through the
# examples, no example database carried between runs, no timing flakes on a slow runner.
settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    database=None,
    max_examples=60,
    print_blob=True,
)
settings.load_profile("ci")

NORMAL_TIMEOUT = httpx.Timeout(5.0)
# Building an SSL context (loading the CA bundle) costs ~50 ms per client: build it once.
SSL_CONTEXT = ssl.create_default_context()


# The deployment's default, so the core under test is the one people run.
DEFAULT_FRESH_SECONDS: float = BotSettings.model_fields["CHASTER_FRESH_SECONDS"].default


@pytest.fixture
def fast_transport_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport_module, "TRANSPORT_RETRY_DELAYS", (0.01, 0.01))


@pytest.fixture
async def make_env(tmp_path: Path, fast_transport_retries: None) -> AsyncIterator[EnvFactory]:
    """Build a CoreEnv; `client_timeout` and `limiter` shape its Chaster client. Every env of a
    test shares one fake Chaster, one database and one clock."""
    async with AsyncExitStack() as stack:
        clock = FakeClock()
        fake = await stack.enter_async_context(FakeChaster(slug=SLUG, clock=clock.now))
        db = await stack.enter_async_context(await Database.open(tmp_path / "db.sqlite3"))
        store = Store(db)

        async def make(
            client_timeout: httpx.Timeout = NORMAL_TIMEOUT,
            limiter: RateLimiter | None = None,
            fresh_seconds: float = DEFAULT_FRESH_SECONDS,
        ) -> CoreEnv:
            chaster = await stack.enter_async_context(
                ChasterClient(
                    fake.url,
                    SecretStr(fake.token),
                    timeout=client_timeout,
                    limiter=limiter,
                    transport=httpx.AsyncHTTPTransport(verify=SSL_CONTEXT),
                )
            )
            # Never started: a test runs what is due with `env.run_due()` after moving the clock.
            later = Deadlines(clock.now)
            core = build_core(
                store,
                chaster,
                extension_slug=SLUG,
                languages=default_catalogue().languages,
                fresh_seconds=fresh_seconds,
                later=later.schedule,
                link_code_key=b"test-link-code-key",
                clock=clock.now,
                # Seeded: a draw that a test repeats picks the same.
                rng=random.Random(1234),
            )
            feed = FeedRecorder(core)
            core.events.subscribe(feed)
            return CoreEnv(fake, store, chaster, core, clock, feed, later)

        yield make


@pytest.fixture
async def env(make_env: EnvFactory) -> CoreEnv:
    return await make_env()
