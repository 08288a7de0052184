"""`python -m bot check`: the first thing to run on a new set-up.

One line per check, exit status 0 when all pass. Each check is a single cheap request; nothing is
changed anywhere.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from typing import TextIO

import httpx

from bot.chaster import ChasterClient, ChasterError
from bot.config import ConfigError, Settings, load_settings
from bot.store import Database, DatabaseUnavailable, StoreError

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


async def check_discord(settings: Settings) -> CheckResult:
    """Discord accepts the bot token (`GET /users/@me`)."""
    headers = {"Authorization": f"Bot {settings.DISCORD_TOKEN.get_secret_value()}"}
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            response = await client.get(f"{settings.DISCORD_API_URL}/users/@me", headers=headers)
    except httpx.HTTPError as error:
        return CheckResult("discord", False, f"cannot reach Discord ({type(error).__name__})")
    if response.status_code == 401:
        return CheckResult("discord", False, "Discord refused DISCORD_TOKEN (401)")
    if not response.is_success:
        return CheckResult("discord", False, f"Discord answered HTTP {response.status_code}")
    user = response.json()
    return CheckResult("discord", True, f"logged in as {user.get('username')} ({user.get('id')})")


async def check_chaster(settings: Settings) -> CheckResult:
    """Chaster accepts the token and knows the extension slug (one search request)."""
    async with ChasterClient(settings.CHASTER_API_URL, settings.CHASTER_API_TOKEN) as chaster:
        try:
            page = await chaster.search_sessions_page(settings.CHASTER_EXTENSION_SLUG, limit=1)
        except ChasterError as error:
            if error.status == 401:
                return CheckResult("chaster", False, "Chaster refused CHASTER_API_TOKEN (401)")
            status = f"HTTP {error.status}: " if error.status else ""
            return CheckResult("chaster", False, f"{status}{error.text}")
    return CheckResult(
        "chaster",
        True,
        f"token accepted; {page.count} locked session(s) use "
        f"extension '{settings.CHASTER_EXTENSION_SLUG}'",
    )


async def check_database(settings: Settings) -> CheckResult:
    """The database opens (created if missing) and its schema is current."""
    try:
        async with await Database.open(settings.DATABASE_PATH) as database:
            version = database.schema_version
    except DatabaseUnavailable as error:
        # Its message already names the file.
        return CheckResult("database", False, str(error))
    except (OSError, StoreError) as error:
        return CheckResult("database", False, f"{settings.DATABASE_PATH}: {error}")
    return CheckResult("database", True, f"{settings.DATABASE_PATH} at schema version {version}")


async def run_checks(settings: Settings) -> list[CheckResult]:
    return list(
        await asyncio.gather(
            check_discord(settings), check_chaster(settings), check_database(settings)
        )
    )


def main(out: TextIO = sys.stdout) -> int:
    try:
        settings = load_settings()
    except ConfigError as error:
        print(CheckResult("settings", False, str(error)).line(), file=out)
        return 1
    print(CheckResult("settings", True, "all required settings present").line(), file=out)
    results = asyncio.run(run_checks(settings))
    for result in results:
        print(result.line(), file=out)
    return 0 if all(result.ok for result in results) else 1
