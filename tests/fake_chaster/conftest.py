"""What the fake Chaster's own tests share: the fake, an HTTP client with its bearer token, and
a webhook receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from aiohttp import web

from tests.fakes.chaster import API_PREFIX, FakeChaster

# httpx's words when the server closes the connection before answering.
DISCONNECTED = r"^Server disconnected without sending a response\.$"


@pytest.fixture
async def fake() -> AsyncIterator[FakeChaster]:
    async with FakeChaster() as f:
        yield f


@pytest.fixture
async def client(fake: FakeChaster) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=fake.url + API_PREFIX,
        headers={"Authorization": f"Bearer {fake.token}"},
        timeout=5.0,
    ) as c:
        yield c


class Receiver:
    """Tiny webhook receiver: answers with queued statuses (then 200), records requests."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.requests: list[tuple[dict[str, str], Any]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.json()))
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def receiver(fake: FakeChaster) -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    fake.webhook_url = r.url
    fake.webhook_auth = ("hookuser", "hookpass")
    fake.webhook_retry_delays = [0.01, 0.01, 0.01, 0.01]
    try:
        yield r
    finally:
        await fake.stop()  # cancel pending deliveries before the receiver goes away
        await r.stop()


def assert_nest_error(r: httpx.Response, status: int) -> Any:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["statusCode"] == status
    assert isinstance(body["message"], str | list)
    return body["message"]


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
