"""The webhook endpoint in process: auth, de-duplication and a full queue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from bot import web as web_module
from bot.chaster import ChasterClient, WebhookEnvelope
from bot.store import Database, Store
from bot.tasks.service import TaskService
from bot.web import WebServer
from tests.fakes.chaster import FakeChaster

AUTH = ("chaster", "webhook-secret")


class Recorder(TaskService):
    """The real service, but webhook handling waits until the test lets it go."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.handled: list[str | None] = []
        self.started = asyncio.Event()
        self.gate = asyncio.Event()

    async def handle_webhook(self, envelope: WebhookEnvelope) -> None:
        self.started.set()
        await self.gate.wait()
        self.handled.append(envelope.request_id)


@pytest.fixture
async def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[WebServer]:
    monkeypatch.setattr(web_module, "MAX_QUEUED", 1)
    async with (
        FakeChaster() as fake,
        await Database.open(tmp_path / "bot.sqlite3") as database,
        ChasterClient(fake.url, SecretStr(fake.token)) as chaster,
    ):
        service = Recorder(Store(database), chaster, "slug")
        web = WebServer(
            service,
            host="127.0.0.1",
            port=0,
            username=AUTH[0],
            password=SecretStr(AUTH[1]),
            is_healthy=lambda: True,
        )
        await web.start()
        yield web
        service.gate.set()
        await web.stop()


def body(request_id: str) -> dict[str, object]:
    return {"event": "extension_session.updated", "data": {}, "requestId": request_id}


async def test_a_delivery_refused_while_busy_is_handled_when_retried(server: WebServer) -> None:
    service = server.service
    assert isinstance(service, Recorder)
    url = f"http://127.0.0.1:{server.port}/chaster/webhook"
    async with httpx.AsyncClient() as client:
        # The worker holds "a", the queue holds "b": "c" is refused and must not count as seen.
        assert (await client.post(url, json=body("a"), auth=AUTH)).status_code == 200
        await asyncio.wait_for(service.started.wait(), timeout=5)  # the worker took "a"
        assert (await client.post(url, json=body("b"), auth=AUTH)).status_code == 200
        assert (await client.post(url, json=body("c"), auth=AUTH)).status_code == 503
        # A retry of one still queued is a duplicate.
        again = await client.post(url, json=body("b"), auth=AUTH)
        assert again.json() == {"status": "duplicate"}
        service.gate.set()
        await asyncio.wait_for(server._queue.join(), timeout=5)
        retried = await client.post(url, json=body("c"), auth=AUTH)
        assert retried.json() == {"status": "accepted"}
        await asyncio.wait_for(server._queue.join(), timeout=5)
        handled_again = await client.post(url, json=body("a"), auth=AUTH)
        assert handled_again.json() == {"status": "duplicate"}
    assert service.handled == ["a", "b", "c"]


@pytest.mark.parametrize(
    "auth",
    [None, ("chaster", "wrong"), ("wrong", "webhook-secret"), ("chaster", "webhook-secret ")],
)
async def test_wrong_credentials_are_refused(
    server: WebServer, auth: tuple[str, str] | None
) -> None:
    url = f"http://127.0.0.1:{server.port}/chaster/webhook"
    async with httpx.AsyncClient() as client:
        response = await client.post(url, json=body("x"), auth=auth)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
