"""The soak's world: two Discord servers and their people, the fakes, and the bot as a process.

The fakes run in the driver's process on 127.0.0.1; the bot is `python -m bot`, as deployed,
with its settings in the environment, so it can be killed with SIGKILL or stopped with SIGTERM
and started again on the same database.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.harness import BenchDiscord, BotProcess
from tests.fakes.chaster import FakeChaster
from tests.fakes.discord import FakeUser

SLUG = "discord-tasks-bot"
GUILD_A, CHANNEL_A = 1000, 2000
GUILD_B, CHANNEL_B = 3000, 4000
# Secrets of this run: none may appear in any log, message or request body.
DISCORD_TOKEN = "soak-discord-token-0f9e8d7c"  # noqa: S105 (the fake Discord's)
CHASTER_TOKEN = "soak-chaster-token-6b5a4c3d"  # noqa: S105 (the fake Chaster's)
WEBHOOK_USER = "chaster"
WEBHOOK_PASSWORD = "soak-webhook-password-1a2b3c"  # noqa: S105
SECRETS = (DISCORD_TOKEN, CHASTER_TOKEN, WEBHOOK_PASSWORD)
# Short enough that a lost webhook is made up for within the convergence wait.
POLL_SECONDS = 15
# Chaster's documented limit: the bot must stay inside it on its own.
RATE_LIMIT, RATE_WINDOW = 100, 60.0
# Chaster retries a failed webhook after 1, 2, 3 and 4 minutes; compressed for the soak.
WEBHOOK_RETRY_DELAYS = [2.0, 5.0, 10.0, 20.0]
READY_TIMEOUT = 60.0


@dataclass(frozen=True)
class Pair:
    """A wearer, their keyholder (the lock's own, so a link is made at once) and their lock."""

    wearer: FakeUser
    keyholder: FakeUser
    guild: int
    channel: int
    session_id: str


@dataclass
class Life:
    """One run of the bot process: its pid, when it was up, and its memory."""

    pid: int
    started: float
    ready: float | None = None
    ended: float | None = None
    rss_mb_ready: float | None = None
    rss_mb_last: float | None = None
    how_ended: str = ""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def people(
    servers: tuple[tuple[int, int, int], ...], wearers_each: int
) -> tuple[list[FakeUser], list[Pair]]:
    """Keyholders and their wearers: `servers` is (guild, channel, keyholders) per server."""
    keyholders: list[FakeUser] = []
    pairs: list[Pair] = []
    for guild, channel, count in servers:
        for _ in range(count):
            keyholder = FakeUser(5001 + len(keyholders), f"keyholder{len(keyholders) + 1}")
            keyholders.append(keyholder)
            for _ in range(wearers_each):
                n = len(pairs)
                wearer = FakeUser(6001 + n, f"wearer{n + 1}")
                pairs.append(Pair(wearer, keyholder, guild, channel, f"soak-session-{n + 1:03d}"))
    return keyholders, pairs


@dataclass
class World:
    discord: BenchDiscord
    chaster: FakeChaster
    folder: Path
    keyholders: list[FakeUser]
    pairs: list[Pair]
    port: int = field(default_factory=free_port)
    bot: BotProcess | None = None
    lives: list[Life] = field(default_factory=list)
    # (start, end) of every moment the bot could not answer: a restart or a gateway drop.
    disruptions: list[tuple[float, float | None]] = field(default_factory=list)

    @property
    def database(self) -> Path:
        return self.folder / "bot.sqlite3"

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/chaster/webhook"

    @property
    def log_path(self) -> Path:
        return self.folder / "ours.log"

    def environment(self) -> dict[str, str]:
        return {
            "PATH": "/usr/bin:/bin",
            "DISCORD_TOKEN": DISCORD_TOKEN,
            "CHASTER_API_TOKEN": CHASTER_TOKEN,
            "CHASTER_EXTENSION_SLUG": SLUG,
            "CHASTER_API_URL": self.chaster.url,
            "DISCORD_API_URL": self.discord.api_url,
            "DISCORD_GATEWAY_URL": self.discord.gateway_url,
            "DATABASE_PATH": str(self.database),
            # No DISCORD_GUILD_ID: commands are global, as for a bot in several servers.
            "CHASTER_POLL_SECONDS": str(POLL_SECONDS),
            "WEBHOOK_PORT": str(self.port),
            "WEBHOOK_HOST": "127.0.0.1",
            "WEBHOOK_USERNAME": WEBHOOK_USER,
            "WEBHOOK_PASSWORD": WEBHOOK_PASSWORD,
            "LOG_LEVEL": "INFO",
        }

    def pair_of(self, wearer_id: int) -> Pair | None:
        return next((p for p in self.pairs if p.wearer.id == wearer_id), None)

    def guild_of_channel(self, channel_id: int) -> int | None:
        return {CHANNEL_A: GUILD_A, CHANNEL_B: GUILD_B}.get(channel_id)

    # -- the bot process ---------------------------------------------------------------------

    @property
    def up(self) -> bool:
        """Running, connected, and not in a disruption."""
        return (
            self.bot is not None
            and self.bot.alive()
            and not (self.disruptions and self.disruptions[-1][1] is None)
        )

    def disrupted_between(self, start: float, end: float) -> bool:
        return any(
            began <= end and (ended is None or ended >= start) for began, ended in self.disruptions
        )

    async def start_bot(self) -> None:
        identified = self.discord.identify_count
        self.bot = BotProcess("ours", self.folder, self.environment())
        await self.bot.start()
        life = Life(pid=self.bot.pid, started=time.monotonic())
        self.lives.append(life)
        await self.discord.wait_identified(count=identified + 1, timeout=READY_TIMEOUT)
        await self._wait_healthy()
        life.ready = time.monotonic()
        life.rss_mb_ready = self.bot.memory_mb().get("VmRSS")

    async def _wait_healthy(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.TransportError):
                    response = await client.get(f"http://127.0.0.1:{self.port}/healthz")
                    if response.status_code == 200:
                        return
                await asyncio.sleep(0.05)  # polling a socket that is not up yet
        raise RuntimeError(f"the bot never became healthy; log:\n{self.log_tail()}")

    def sample_memory(self) -> None:
        if self.bot is not None and self.bot.alive() and self.lives:
            with contextlib.suppress(OSError):
                self.lives[-1].rss_mb_last = self.bot.memory_mb().get("VmRSS")

    async def end_life(self, how: str) -> int | None:
        """SIGKILL ("sigkill") or SIGTERM ("sigterm"); the bot is down until `start_bot`."""
        assert self.bot is not None
        self.sample_memory()
        self.disruptions.append((time.monotonic(), None))
        if how == "sigkill":
            status = await self.bot.kill()
        else:
            status = await self.bot.stop()
        life = self.lives[-1]
        life.ended, life.how_ended = time.monotonic(), how
        self.bot = None
        return status

    async def restart(self) -> None:
        await self.start_bot()
        self.end_disruption()

    def begin_disruption(self) -> None:
        self.disruptions.append((time.monotonic(), None))

    def end_disruption(self) -> None:
        if self.disruptions and self.disruptions[-1][1] is None:
            began, _ = self.disruptions[-1]
            self.disruptions[-1] = (began, time.monotonic())

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def members_of(guild: int, pairs: list[Pair]) -> list[FakeUser]:
    here = [p for p in pairs if p.guild == guild]
    return [*dict.fromkeys(p.keyholder for p in here), *(p.wearer for p in here)]


def make_fakes(pairs: list[Pair]) -> tuple[BenchDiscord, FakeChaster]:
    """The fake Discord (server A its own, server B joined once the bot is up) and the fake
    Chaster with a session per pair, enforcing Chaster's documented rate limit."""
    discord = BenchDiscord(
        guild_id=GUILD_A,
        channel_ids=(CHANNEL_A,),
        members=members_of(GUILD_A, pairs),
        token=DISCORD_TOKEN,
    )
    chaster = FakeChaster(
        token=CHASTER_TOKEN,
        slug=SLUG,
        rate_limit=RATE_LIMIT,
        rate_window=RATE_WINDOW,
        reset_header_format="epoch_ms",
    )
    chaster.webhook_retry_delays = list(WEBHOOK_RETRY_DELAYS)
    for pair in pairs:
        chaster.add_session(
            session_id=pair.session_id,
            wearer_discord_id=str(pair.wearer.id),
            keyholder_discord_id=str(pair.keyholder.id),
        )
    return discord, chaster
