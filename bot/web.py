"""The bot's web server: Chaster's extension webhooks, a health check, and the extension's
own pages inside Chaster (`bot.web_pages`).

Chaster only offers HTTP Basic auth for webhooks (no signature), so the credentials are
required and compared in constant time. A delivery is acknowledged as soon as it is recorded;
the work happens afterwards, because Chaster gives up on a slow endpoint after 10 seconds. A
delivery counts as seen once it has been handled, so Chaster's retry of one that never was (a
crash, a 503) is handled then; retries of one in the queue or already handled are ignored.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

from aiohttp import web
from pydantic import SecretStr, ValidationError

from bot.chaster import WebhookEnvelope
from bot.core.model import Clock
from bot.store import Store
from bot.web_pages import ExtensionPages

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/chaster/webhook"
HEALTH_PATH = "/healthz"
# Real deliveries carry one session with its lock (about 20 KB); anything far larger is not
# from Chaster.
MAX_BODY_BYTES = 512 * 1024
# Deliveries waiting to be worked on; past this, new ones get a 503 and Chaster retries later.
MAX_QUEUED = 1000


class WebServer:
    """`POST /chaster/webhook` (Basic auth), `GET /healthz` and the extension's pages."""

    def __init__(
        self,
        store: Store,
        handle_webhook: Callable[[WebhookEnvelope], Awaitable[None]],
        clock: Clock,
        *,
        host: str,
        port: int,
        username: str,
        password: SecretStr,
        is_healthy: Callable[[], bool],
        pages: ExtensionPages | None = None,
    ) -> None:
        self._store = store
        self._handle_webhook = handle_webhook
        self._clock = clock
        self.host = host
        self.port = port
        self._expected = (username.encode(), password.get_secret_value().encode())
        self._is_healthy = is_healthy
        self._pages = pages
        self._queue: asyncio.Queue[WebhookEnvelope] = asyncio.Queue(MAX_QUEUED)
        # Request ids accepted but not handled yet; handled ones are in the store.
        self._queued: set[str] = set()
        self._worker: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post(WEBHOOK_PATH, self._webhook)
        app.router.add_get(HEALTH_PATH, self._health)
        if self._pages is not None:
            self._pages.add_routes(app)
        # A page's request still waiting on Chaster at shutdown gets 2 s, not aiohttp's 60.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        # Port 0 asks the OS for a free port; report the one actually bound.
        self.port = int(self._runner.addresses[0][1])
        self._worker = asyncio.create_task(self._work(), name="webhook-worker")
        log.info("web server listening on %s:%d", self.host, self.port)

    async def settled(self) -> None:
        """Wait until every delivery accepted so far has been handled and recorded."""
        await self._queue.join()

    async def stop(self, within: float = 10.0) -> None:
        """Stop accepting, then finish the deliveries already acknowledged, for at most
        `within` seconds (one not finished is delivered again by Chaster: it was not recorded
        as handled)."""
        started = time.monotonic()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        worker, self._worker = self._worker, None
        if worker is not None:
            with suppress(TimeoutError):
                left = max(0.0, within - (time.monotonic() - started))
                await asyncio.wait_for(self._queue.join(), timeout=left)
            worker.cancel()
            with suppress(asyncio.CancelledError):
                await worker

    async def _health(self, request: web.Request) -> web.Response:
        healthy = self._is_healthy()
        return web.json_response(
            {"status": "ok" if healthy else "starting"}, status=200 if healthy else 503
        )

    async def _webhook(self, request: web.Request) -> web.Response:
        if not self._authorised(request.headers.get("Authorization", "")):
            return web.json_response(
                {"error": "unauthorized"},
                status=401,
                headers={"WWW-Authenticate": 'Basic realm="chaster-webhook"'},
            )
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.json_response({"error": "body too large"}, status=413)
        try:
            envelope = WebhookEnvelope.model_validate(_decode_json(raw))
        except (ValueError, ValidationError):
            return web.json_response({"error": "not a Chaster webhook body"}, status=400)
        request_id = envelope.request_id
        if request_id is not None and (
            request_id in self._queued or await self._store.webhook_delivery_seen(request_id)
        ):
            log.info("webhook %s delivered again; ignored", request_id)
            return web.json_response({"status": "duplicate"})
        try:
            self._queue.put_nowait(envelope)
        except asyncio.QueueFull:
            log.warning("webhook queue full; asking Chaster to retry %s", request_id)
            return web.json_response({"error": "busy"}, status=503)
        if request_id is not None:
            self._queued.add(request_id)
        log.debug("webhook %s (%s) accepted", request_id, envelope.event)
        return web.json_response({"status": "accepted"})

    def _authorised(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            return False
        username, sep, password = decoded.partition(b":")
        expected_user, expected_password = self._expected
        # Both compared every time, so the timing tells nothing about which one was wrong.
        user_ok = hmac.compare_digest(username, expected_user)
        password_ok = hmac.compare_digest(password, expected_password)
        return bool(sep) and user_ok and password_ok

    async def _work(self) -> None:
        while True:
            envelope = await self._queue.get()
            try:
                await self._handle_webhook(envelope)
                # Recorded only once handled: a delivery lost to a crash or a refusal (503)
                # is handled when Chaster sends it again.
                if envelope.request_id is not None:
                    await self._store.record_webhook_delivery(
                        envelope.request_id, event=envelope.event, now=self._clock()
                    )
            except Exception:
                log.exception("webhook %s (%s) failed", envelope.request_id, envelope.event)
            finally:
                if envelope.request_id is not None:
                    self._queued.discard(envelope.request_id)
                self._queue.task_done()


def _decode_json(raw: bytes) -> Any:
    """The JSON value in a webhook body; ValueError for anything the bot could not store or log.

    Deep nesting exhausts the parser's recursion (RecursionError is not a ValueError), and a lone
    UTF-16 surrogate escape (`"\\ud800"`) decodes to a string that SQLite cannot encode.
    """
    try:
        value = json.loads(raw)
        # Encoding again finds lone surrogates anywhere, keys included.
        json.dumps(value, ensure_ascii=False).encode()
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except UnicodeEncodeError:
        raise ValueError("JSON with a lone surrogate") from None
    return value
