"""`python -m bot`: read settings, set up logging, run the bot until stopped.

`python -m bot check` tests the settings against Discord and Chaster; `python -m bot healthcheck`
is the container's health probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys

import discord

from bot import check, health
from bot.bootstrap import create_app
from bot.config import ConfigError, Settings, load_settings
from bot.store import DatabaseUnavailable, MigrationError

log = logging.getLogger("bot")


# Libraries whose chatter is kept to warnings; httpx would log every URL, page tokens included.
QUIET_LOGGERS = ("discord.http", "discord.gateway", "httpx", "httpcore", "aiosqlite")


def configure_logging(level: int) -> None:
    """One line per event on stderr; discord.py's own chatter kept to warnings."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


async def set_aside_start_up_objects(bot: discord.Client) -> None:
    """Once connected, keep what start-up built out of the garbage collector's full passes.

    By then the process holds its long-lived objects (discord.py's caches of servers and
    members, the catalogue, the state view): at 10,000 links each full collection walked them
    all and paused the bot for tens of milliseconds, a pause every command in flight waited
    through. Frozen, they are left out of every later pass; what start-up left as garbage is
    collected first.
    """
    await bot.wait_until_ready()
    gc.collect()
    gc.freeze()
    log.debug("%d start-up objects set aside from garbage collection", gc.get_freeze_count())


async def run(settings: Settings) -> None:
    """Run until the gateway closes or SIGTERM/SIGINT arrives, then shut down cleanly."""
    async with create_app(settings) as app:
        settling = asyncio.create_task(set_aside_start_up_objects(app.bot), name="gc-freeze")
        loop = asyncio.get_running_loop()
        # The loop keeps only weak references to tasks: hold the shutdown task here.
        closing: set[asyncio.Task[None]] = set()

        def shut_down() -> None:
            if not closing:
                closing.add(asyncio.create_task(app.close(), name="shutdown"))

        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, shut_down)
        await app.run()
        settling.cancel()
        for task in closing:
            await task


USAGE = "usage: python -m bot [run | check | healthcheck]"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "run"
    if command in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    if command == "check":
        return check.main()
    if command == "healthcheck":
        return health.main()
    if command != "run" or len(args) > 1:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"chaster-tasks-bot: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    try:
        asyncio.run(run(settings))
    except (DatabaseUnavailable, MigrationError) as error:
        # The message already says which file and what to do; a traceback would bury it.
        print(f"chaster-tasks-bot: {error}", file=sys.stderr)
        return 1
    except discord.LoginFailure:
        log.error("Discord refused DISCORD_TOKEN; check the bot token")
        return 1
    except discord.PrivilegedIntentsRequired:
        log.error("Discord refused a gateway intent the bot asked for")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
