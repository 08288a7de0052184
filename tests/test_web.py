"""The webhook endpoint in process: auth, de-duplication and a full queue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from pydantic import SecretStr

from bot import web as web_module
from bot.chaster import WebhookEnvelope
from bot.web import WebServer
from tests.core_env import CoreEnv

AUTH = ("chaster", "webhook-secret")


class GatedHandler:
    """Webhook handling that waits until the test lets it go, and notes what it handled."""

    def __init__(self) -> None:
        self.handled: list[str | None] = []
        self.started = asyncio.Event()
        self.gate = asyncio.Event()

    async def __call__(self, envelope: WebhookEnvelope) -> None:
        self.started.set()
        await self.gate.wait()
        self.handled.append(envelope.request_id)


@dataclass
class Server:
    web: WebServer
    handler: GatedHandler

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web.port}/chaster/webhook"


@pytest.fixture
async def server(env: CoreEnv, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Server]:
    monkeypatch.setattr(web_module, "MAX_QUEUED", 1)
    handler = GatedHandler()
    web = WebServer(
        env.store,
        handler,
        env.clock.now,
        host="127.0.0.1",
        port=0,
        username=AUTH[0],
        password=SecretStr(AUTH[1]),
        is_healthy=lambda: True,
    )
    await web.start()
    yield Server(web, handler)
    handler.gate.set()
    await web.stop()


def body(request_id: str) -> dict[str, object]:
    return {"event": "extension_session.updated", "data": {}, "requestId": request_id}


async def test_a_delivery_refused_while_busy_is_handled_when_retried(
    server: Server, env: CoreEnv
) -> None:
    handler, url = server.handler, server.url
    async with httpx.AsyncClient() as client:
        # The worker holds "a", the queue holds "b": "c" is refused and must not count as seen.
        accepted = await client.post(url, json=body("a"), auth=AUTH)
        assert accepted.json() == {"status": "accepted"}
        await asyncio.wait_for(handler.started.wait(), timeout=5)  # the worker took "a"
        queued = await client.post(url, json=body("b"), auth=AUTH)
        assert queued.json() == {"status": "accepted"}
        busy = await client.post(url, json=body("c"), auth=AUTH)
        assert (busy.status_code, busy.json()) == (503, {"error": "busy"})
        assert not await env.store.webhook_delivery_seen("c")
        # A retry of one still queued is a duplicate.
        again = await client.post(url, json=body("b"), auth=AUTH)
        assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
        handler.gate.set()
        # "a" and "b" are handled and recorded: the queue has room again.
        await asyncio.wait_for(server.web.settled(), timeout=5)
        assert handler.handled == ["a", "b"]
        retried = await client.post(url, json=body("c"), auth=AUTH)
        assert (retried.status_code, retried.json()) == (200, {"status": "accepted"})
        await asyncio.wait_for(server.web.settled(), timeout=5)
        for request_id in ("a", "b"):
            handled_again = await client.post(url, json=body(request_id), auth=AUTH)
            assert handled_again.json() == {"status": "duplicate"}, request_id
    assert handler.handled == ["a", "b", "c"]


@pytest.mark.parametrize(
    "auth",
    [None, ("chaster", "wrong"), ("wrong", "webhook-secret"), ("chaster", "webhook-secret ")],
)
async def test_wrong_credentials_are_refused(server: Server, auth: tuple[str, str] | None) -> None:
    credentials = None if auth is None else httpx.BasicAuth(*auth)
    async with httpx.AsyncClient(auth=credentials) as client:
        response = await client.post(server.url, json=body("x"))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert server.handler.handled == [] and not server.handler.started.is_set()
