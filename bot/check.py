"""`python -m bot check`: the first thing to run on a new set-up.

One line per check, exit status 0 when all pass. Each check is one or a few cheap requests;
nothing is changed anywhere. Once Discord accepts the token, each server the bot is in gets a
line saying whether the bot has, in that server's feed channel, every permission its controls
(buttons, reactions or both) need.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from typing import Any, TextIO

import discord
import httpx

from bot.chaster import ChasterClient, ChasterError
from bot.config import ConfigError, Settings, load_settings
from bot.discord_side.feed_problems import PERMISSION_ORDER, feed_permissions
from bot.store import Database, DatabaseUnavailable, GuildSettings, Store, StoreError

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


async def check_feeds(settings: Settings) -> list[CheckResult]:
    """Per server the bot is in: the feed channel's permissions its controls need."""
    headers = {"Authorization": f"Bot {settings.DISCORD_TOKEN.get_secret_value()}"}
    try:
        async with (
            httpx.AsyncClient(
                base_url=settings.DISCORD_API_URL, headers=headers, timeout=TIMEOUT
            ) as discord_api,
            await Database.open(settings.DATABASE_PATH) as database,
        ):
            me = (await _get(discord_api, "/users/@me"))["id"]
            store = Store(database)
            return [
                await _check_feed(
                    discord_api, me, server, await store.get_guild_settings(int(server["id"]))
                )
                for server in await _get(discord_api, "/users/@me/guilds")
            ]
    except (httpx.HTTPError, _Refused, OSError, StoreError) as error:
        return [CheckResult("feeds", False, f"could not check the feed channels: {error}")]


class _Refused(Exception):
    """Discord answered a check's request with an error."""


async def _get(client: httpx.AsyncClient, path: str) -> Any:
    response = await client.get(path)
    if not response.is_success:
        raise _Refused(f"GET {path}: HTTP {response.status_code}")
    return response.json()


async def _check_feed(
    client: httpx.AsyncClient, me: str, server: dict[str, Any], settings: GuildSettings
) -> CheckResult:
    name = f"feed in {server.get('name')} ({server['id']})"
    controls = settings.controls.value
    if settings.feed_channel_id is None:
        return CheckResult(
            name,
            True,
            f"no feed channel set (/settings feed): task updates go to the channel of each "
            f"command; controls {controls}",
        )
    channel_id = settings.feed_channel_id
    response = await client.get(f"/channels/{channel_id}")
    if response.status_code in (403, 404):
        return CheckResult(
            name, False, f"the feed channel {channel_id} is gone or hidden from the bot"
        )
    if not response.is_success:
        raise _Refused(f"GET /channels/{channel_id}: HTTP {response.status_code}")
    guild = await _get(client, f"/guilds/{server['id']}")
    member = await _get(client, f"/guilds/{server['id']}/members/{me}")
    has = channel_permissions(guild, member, response.json(), me)
    needed = feed_permissions(settings.controls).value
    missing = [
        permission.replace("_", " ").title()
        for permission in PERMISSION_ORDER
        if getattr(discord.Permissions(needed & ~has), permission)
    ]
    if missing:
        return CheckResult(
            name,
            False,
            f"channel {channel_id} lacks {', '.join(missing)} for controls {controls}",
        )
    return CheckResult(name, True, f"channel {channel_id} has all that controls {controls} need")


def channel_permissions(
    guild: dict[str, Any], member: dict[str, Any], channel: dict[str, Any], user_id: str
) -> int:
    """A member's permissions in a channel from Discord's JSON, as Discord computes them: the
    owner and administrators have all; otherwise @everyone's and the member's roles', then the
    channel's overwrites for @everyone, for the member's roles together and for the member."""
    everything = discord.Permissions.all().value
    if str(guild.get("owner_id")) == str(user_id):
        return everything
    roles = {str(role["id"]): int(role["permissions"]) for role in guild.get("roles") or []}
    member_roles = [str(role) for role in member.get("roles") or []]
    perms = roles.get(str(guild["id"]), 0)
    for role in member_roles:
        perms |= roles.get(role, 0)
    if perms & discord.Permissions(administrator=True).value:
        return everything
    overwrites = {str(o["id"]): o for o in channel.get("permission_overwrites") or []}

    def apply(perms: int, overwrite: dict[str, Any] | None) -> int:
        if overwrite is None:
            return perms
        return (perms & ~int(overwrite["deny"])) | int(overwrite["allow"])

    perms = apply(perms, overwrites.get(str(guild["id"])))
    allow = deny = 0
    for role in member_roles:
        overwrite = overwrites.get(role)
        if overwrite is not None and int(overwrite.get("type", 0)) == 0:
            allow |= int(overwrite["allow"])
            deny |= int(overwrite["deny"])
    perms = (perms & ~deny) | allow
    own = overwrites.get(str(user_id))
    if own is not None and int(own.get("type", 1)) == 1:
        perms = apply(perms, own)
    return perms if perms & discord.Permissions(view_channel=True).value else 0


async def run_checks(settings: Settings) -> list[CheckResult]:
    results = list(
        await asyncio.gather(
            check_discord(settings), check_chaster(settings), check_database(settings)
        )
    )
    discord_ok, database_ok = results[0].ok, results[2].ok
    if discord_ok and database_ok:
        results += await check_feeds(settings)
    return results


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
