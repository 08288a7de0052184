"""The bot's web server with the extension's pages, on the core's test environment: the real
core, store and Chaster client against the fake Chaster; only Discord's names are given."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from pydantic import SecretStr

from bot.core.pages import ConfigPage, MainPage
from bot.i18n import default_catalogue
from bot.web import WebServer
from bot.web_pages import ExtensionPages
from tests.core_env import CoreEnv

SERVER_NAMES = {900_000_000_000_000_001: "Lock & Key Club", 900_000_000_000_000_002: "Other"}
MEMBER_NAMES = {200_000_000_000_000_001: "Kim (keyholder)", 100_000_000_000_000_001: "Alex"}


class Names:
    """What Discord would say of servers and members."""

    async def server_name(self, guild_id: int) -> str | None:
        return SERVER_NAMES.get(guild_id)

    async def member_name(self, guild_id: int, user_id: int) -> str | None:
        return MEMBER_NAMES.get(user_id)


@dataclass
class Pages:
    web: WebServer
    url: str

    def at(self, path: str) -> str:
        return self.url + path


@asynccontextmanager
async def serve_pages(env: CoreEnv, *, origins: tuple[str, ...]) -> AsyncIterator[Pages]:
    pages = ExtensionPages(
        MainPage(env.store, env.chaster, env.core.link_codes, env.clock.now, Names()),
        ConfigPage(env.chaster),
        default_catalogue(),
        frame_ancestors=origins,
    )
    web = WebServer(
        env.store,
        env.core.handle_webhook,
        env.clock.now,
        host="127.0.0.1",
        port=0,
        username="chaster",
        password=SecretStr("webhook-secret"),
        is_healthy=lambda: True,
        pages=pages,
    )
    await web.start()
    try:
        yield Pages(web, f"http://127.0.0.1:{web.port}")
    finally:
        await web.stop()
