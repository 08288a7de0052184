"""The extension's pages inside Chaster, served beside the webhook.

- `GET /chaster/main`: the main page Chaster shows the wearer (lock page) and the keyholder
  (keyholder page) in an iframe; `POST /chaster/main/state` is its backend.
- `GET /chaster/config`: the configuration page of Chaster's modal; `POST
  /chaster/config/state` reads and `POST /chaster/config/save` saves.

Pages are self-contained (their script and style come from `/chaster/static/`), in the
browser's language, and may be framed only by Chaster's app. A backend call carries the token
Chaster gave the page in its body, never in a URL; nothing here logs a token or accepts a
session id from the page. Calls are limited per token and per address.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from importlib import resources
from typing import Any

from aiohttp import web

from bot.core.lock_defaults import FieldRefused, LockDefaults
from bot.core.pages import ConfigPage, MainPage, PageError, PageProblem, token_key
from bot.discord_side.voice import Voice
from bot.i18n import ENGLISH, Catalogue

log = logging.getLogger(__name__)

MAIN_PATH = "/chaster/main"
CONFIG_PATH = "/chaster/config"
STATIC_PATH = "/chaster/static/"
MAX_PAGE_BODY = 16 * 1024
# Calls to a page's backend per minute: by one token (a page and its refreshes), and from one
# address, so made-up tokens cannot spend the bot's Chaster budget (behind a reverse proxy,
# every visitor shares the proxy's address: see the README).
PER_TOKEN = 20
PER_ADDRESS = 30
WINDOW_SECONDS = 60.0
_STATIC_TYPES = {".css": "text/css", ".js": "text/javascript"}
_STATIC_FILES = ("pages.css", "common.js", "main.js", "config.js")


class Throttle:
    """At most `limit` calls per key in a sliding window; keys unseen for a window are
    forgotten, so the table stays as small as the traffic."""

    def __init__(self, limit: int, window: float = WINDOW_SECONDS, *, size: int = 10_000):
        self._limit = limit
        self._window = window
        self._size = size
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        hits = self._hits.pop(key, None) or deque()
        while hits and now - hits[0] >= self._window:
            hits.popleft()
        allowed = len(hits) < self._limit
        if allowed:
            hits.append(now)
        self._hits[key] = hits
        while len(self._hits) > self._size:
            self._hits.popitem(last=False)
        return allowed


@dataclass(frozen=True)
class _Asked:
    token: str
    body: dict[str, Any]


class ExtensionPages:
    """The routes of both pages and their backends, added to the bot's web server."""

    def __init__(
        self,
        main: MainPage,
        config: ConfigPage,
        catalogue: Catalogue,
        *,
        frame_ancestors: tuple[str, ...],
    ) -> None:
        self._main = main
        self._config = config
        self._catalogue = catalogue
        self._ancestors = frame_ancestors
        self._per_token = Throttle(PER_TOKEN)
        self._per_address = Throttle(PER_ADDRESS)
        folder = resources.files("bot") / "static"
        self._static = {name: (folder / name).read_bytes() for name in _STATIC_FILES}
        self._template = (folder / "template.html").read_text(encoding="utf-8")

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(MAIN_PATH, self._main_page)
        app.router.add_get(CONFIG_PATH, self._config_page)
        app.router.add_get(STATIC_PATH + "{name}", self._static_file)
        app.router.add_post(MAIN_PATH + "/state", self._main_state)
        app.router.add_post(CONFIG_PATH + "/state", self._config_state)
        app.router.add_post(CONFIG_PATH + "/save", self._config_save)

    # -- pages ------------------------------------------------------------------------------

    @property
    def _csp(self) -> str:
        ancestors = " ".join(self._ancestors) or "'none'"
        return (
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';"
            f" img-src 'self' data:; base-uri 'none'; form-action 'none';"
            f" frame-ancestors {ancestors}"
        )

    def _headers(self, content_type: str) -> dict[str, str]:
        return {
            "Content-Type": content_type,
            "Content-Security-Policy": self._csp,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        }

    async def _main_page(self, request: web.Request) -> web.Response:
        return self._page(request, "main")

    async def _config_page(self, request: web.Request) -> web.Response:
        return self._page(request, "config")

    def _page(self, request: web.Request, page: str) -> web.Response:
        language = self.language(request)
        strings = {
            key: self._catalogue.template(language, key)
            for key in self._catalogue.messages
            if key.startswith(("page.", f"{page}-page."))
        }
        settings = {"page": page, "parentOrigins": list(self._ancestors)}
        html = self._template.format(
            lang=language,
            title=_escape(strings[f"{page}-page.title"]),
            loading=_escape(strings["page.loading"]),
            page=page,
            strings=_json_in_html(strings),
            settings=_json_in_html(settings),
        )
        return web.Response(body=html.encode(), headers=self._headers("text/html; charset=utf-8"))

    async def _static_file(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = self._static.get(name)
        if body is None:
            raise web.HTTPNotFound()
        kind = _STATIC_TYPES[name[name.rindex(".") :]]
        headers = self._headers(f"{kind}; charset=utf-8")
        headers["Cache-Control"] = "public, max-age=300"
        return web.Response(body=body, headers=headers)

    def language(self, request: web.Request) -> str:
        """The first of the browser's languages the catalogue has (English otherwise)."""
        for part in request.headers.get("Accept-Language", "").split(",")[:10]:
            tag = part.split(";")[0].strip().lower()
            base = tag.split("-")[0]
            if base in self._catalogue.languages:
                return base
        return ENGLISH

    # -- backends ---------------------------------------------------------------------------

    async def _main_state(self, request: web.Request) -> web.Response:
        language = self.language(request)
        asked = await self._asked(request, "mainToken", language)
        if isinstance(asked, web.Response):
            return asked
        try:
            return self._json(await self._main.state(asked.token))
        except PageError as error:
            return self._problem(error.problem, language)

    async def _config_state(self, request: web.Request) -> web.Response:
        language = self.language(request)
        asked = await self._asked(request, "partnerConfigurationToken", language)
        if isinstance(asked, web.Response):
            return asked
        try:
            return self._json({"form": await self._config.read(asked.token)})
        except PageError as error:
            return self._problem(error.problem, language)

    async def _config_save(self, request: web.Request) -> web.Response:
        language = self.language(request)
        asked = await self._asked(request, "partnerConfigurationToken", language, form=True)
        if isinstance(asked, web.Response):
            return asked
        try:
            defaults = LockDefaults.from_form(asked.body["form"])
        except FieldRefused as refused:
            return self._json(
                {
                    "error": "invalid",
                    "field": refused.field,
                    "message": self._refusal_text(language, refused),
                },
                status=422,
            )
        try:
            await self._config.save(asked.token, defaults)
        except PageError as error:
            return self._problem(error.problem, language)
        return self._json({"saved": True, "form": defaults.to_form()})

    async def _asked(
        self, request: web.Request, name: str, language: str, *, form: bool = False
    ) -> _Asked | web.Response:
        """The token (and body) of a call within its limits; else the answer to send."""
        if not self._per_address.allow(request.remote or "-"):
            return self._problem("page.too-many", language, status=429)
        try:
            raw = await request.content.read(MAX_PAGE_BODY + 1)
        except ValueError:
            raw = b""
        if len(raw) > MAX_PAGE_BODY:
            return self._problem("page.bad-request", language, status=413)
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            body = None
        if (
            not isinstance(body, dict)
            or "sessionId" in body
            or not isinstance(body.get(name), str)
            or (form and not isinstance(body.get("form"), dict))
        ):
            # A session is only ever the one Chaster says the token belongs to.
            return self._problem("page.bad-request", language, status=400)
        token: str = body[name]
        if not self._per_token.allow(token_key(token)):
            return self._problem("page.too-many", language, status=429)
        return _Asked(token, body)

    def _refusal_text(self, language: str, refused: FieldRefused) -> str:
        # The same words as the slash commands' refusals, without Discord's markdown.
        text = Voice(language, self._catalogue).refusal(refused.refusal)
        return text.replace("`", "").replace("**", "")

    def _problem(
        self, problem: PageProblem | str, language: str, *, status: int | None = None
    ) -> web.Response:
        key = problem.value if isinstance(problem, PageProblem) else problem
        if status is None:
            status = 401 if problem is PageProblem.TOKEN_INVALID else 503
        return self._json(
            {
                "error": key.removeprefix("page."),
                "message": self._catalogue.template(language, key),
            },
            status=status,
        )

    @staticmethod
    def _json(body: Any, *, status: int = 200) -> web.Response:
        return web.json_response(
            body,
            status=status,
            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
        )


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _json_in_html(value: Any) -> str:
    """JSON inside a `<script type="application/json">`: no `<` can close the element."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c").replace("&", "\\u0026")
