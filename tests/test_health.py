"""The container health probe: heartbeat file without a web server, /healthz with one."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from bot.config import Settings
from bot.health import STALE_AFTER_SECONDS, Heartbeat, healthcheck, heartbeat_path


def settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        DISCORD_TOKEN="d",
        CHASTER_API_TOKEN="c",
        CHASTER_EXTENSION_SLUG="s",
        DATABASE_PATH=tmp_path / "bot.sqlite3",
        **extra,
    )


def test_heartbeat_freshness_decides(tmp_path: Path) -> None:
    config = settings(tmp_path)
    ok, detail = healthcheck(config)
    assert not ok and "no heartbeat" in detail
    beat = heartbeat_path(config)
    beat.touch()
    assert healthcheck(config)[0]
    old = time.time() - STALE_AFTER_SECONDS - 5
    os.utime(beat, (old, old))
    ok, detail = healthcheck(config)
    assert not ok and "s old" in detail


async def test_heartbeat_is_written_only_while_alive(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat"
    alive = False
    heartbeat = Heartbeat(path, alive=lambda: alive)
    heartbeat.beat()
    assert not path.exists()
    alive = True
    heartbeat.beat()
    assert path.exists()
    # Running, it beats at once; stopped, the file goes: a stopped bot is not healthy.
    path.unlink()
    heartbeat.start()
    await asyncio.sleep(0)  # one turn of the loop: the task's first step is its first beat
    assert path.exists()
    await heartbeat.stop()
    assert not path.exists()


def test_web_probe_is_used_when_the_web_server_is_on(tmp_path: Path) -> None:
    config = settings(tmp_path, WEBHOOK_PORT=9, WEBHOOK_USERNAME="u", WEBHOOK_PASSWORD="p")
    heartbeat_path(config).touch()  # ignored: the web server decides
    ok, detail = healthcheck(config)
    assert not ok and "127.0.0.1:9/healthz" in detail


def test_python_m_bot_healthcheck_exit_status(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "DISCORD_TOKEN": "d",
        "CHASTER_API_TOKEN": "c",
        "CHASTER_EXTENSION_SLUG": "s",
        "DATABASE_PATH": str(tmp_path / "bot.sqlite3"),
    }

    def probe() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", "healthcheck"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    missing = probe()
    assert missing.returncode == 1 and missing.stdout.startswith("unhealthy: no heartbeat")
    (tmp_path / "heartbeat").touch()
    fresh = probe()
    assert fresh.returncode == 0 and fresh.stdout.startswith("healthy: heartbeat")
