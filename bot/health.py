"""Liveness for container health checks.

With the web server on, `GET /healthz` answers. Without it, the running bot touches a heartbeat
file while it is connected to Discord, and `python -m bot healthcheck` checks how fresh it is.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import httpx

from bot.config import ConfigError, Settings, load_settings
from bot.jobs.background import Background

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 30.0
# Three missed beats: the process is hung or has been disconnected from Discord for long.
STALE_AFTER_SECONDS = 3 * HEARTBEAT_SECONDS


def heartbeat_path(settings: Settings) -> Path:
    """Beside the database, which is on the persistent, writable volume."""
    return settings.DATABASE_PATH.parent / "heartbeat"


class Heartbeat:
    """Touches the heartbeat file every HEARTBEAT_SECONDS while `alive()` says so."""

    def __init__(self, path: Path, alive: Callable[[], bool]) -> None:
        self.path = path
        self._alive = alive
        self._loop = Background("heartbeat", self._run)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        with suppress(FileNotFoundError):
            self.path.unlink()

    def beat(self) -> None:
        """Touch the file if the bot is alive right now."""
        if self._alive():
            try:
                self.path.touch()
            except OSError as error:
                log.warning("cannot write heartbeat %s: %s", self.path, error)

    async def _run(self) -> None:
        while True:
            self.beat()
            await asyncio.sleep(HEARTBEAT_SECONDS)


def healthcheck(settings: Settings) -> tuple[bool, str]:
    """Whether the running bot looks alive, and why."""
    if settings.WEBHOOK_PORT is not None:
        url = f"http://127.0.0.1:{settings.WEBHOOK_PORT}/healthz"
        try:
            response = httpx.get(url, timeout=5.0)
        except httpx.HTTPError as error:
            return False, f"{url}: {type(error).__name__}"
        return response.status_code == 200, f"{url}: HTTP {response.status_code}"
    path = heartbeat_path(settings)
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return False, f"no heartbeat at {path} (starting, or not connected to Discord)"
    return age <= STALE_AFTER_SECONDS, f"heartbeat {age:.0f} s old"


def main() -> int:
    try:
        settings = load_settings()
    except ConfigError as error:
        print(error)
        return 1
    ok, detail = healthcheck(settings)
    print(("healthy: " if ok else "unhealthy: ") + detail)
    return 0 if ok else 1
