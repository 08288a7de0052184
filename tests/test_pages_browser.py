"""Both pages in a real browser (headless Chromium), against the fake Chaster: inside an iframe
of an allowed parent, refused inside any other, readable on a phone, in the browser's
language, and the configuration page's save flow through postMessage as Chaster's modal runs it.

`DOCS_SCREENSHOTS=1` also writes the screenshots the README shows (docs/*.png).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from aiohttp import web
from selenium.webdriver.common.by import By

from tests.browser import Browser, missing
from tests.core_env import COMPLETE, FAIL, KH, START, WEARER, WR, CoreEnv
from tests.pages_env import serve_pages

DOCS = Path(__file__).resolve().parent.parent / "docs"
pytestmark = pytest.mark.skipif(missing() is not None, reason=missing() or "")

# The parent page stands for Chaster's: it frames a page and, like Chaster's modal, records
# what the frame posts to it and can ask it to save.
PARENT = """<!doctype html><html><body>
<iframe id="frame" style="width:100%;height:1400px;border:0"></iframe>
<script>
window.received = [];
window.frameLoaded = false;
window.addEventListener("message", function (event) {
  window.received.push({origin: event.origin, data: event.data});
});
var frame = document.getElementById("frame");
frame.addEventListener("load", function () { window.frameLoaded = true; });
frame.src = decodeURIComponent(location.hash.substring(1));
function askToSave(origin) {
  frame.contentWindow.postMessage(
    JSON.stringify({type: "chaster", event: "partner_configuration_save"}), origin);
}
</script></body></html>"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    opened = Browser()
    try:
        yield opened
    finally:
        opened.quit()


@asynccontextmanager
async def parent_site() -> AsyncIterator[str]:
    """A page on another origin that frames whatever URL its hash names."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PARENT, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def with_token(url: str, name: str, token: str) -> str:
    return url + "#" + quote(json.dumps({name: token}))


def framed(parent: str, url: str) -> str:
    return parent + "/#" + quote(url, safe="")


async def screenshot(browser: Browser, name: str) -> None:
    if os.environ.get("DOCS_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        await browser.run(browser.driver.save_screenshot, str(DOCS / name))


async def text_of(browser: Browser, selector: str) -> str:
    element = await browser.run(browser.driver.find_element, By.CSS_SELECTOR, selector)
    return str(element.text)


async def a_lock_with_history(env: CoreEnv) -> None:
    await env.linked(enable_points=True, points_required=40, points=15)
    for text, action in (("Write 50 lines", COMPLETE), ("Cold shower", FAIL)):
        await env.assign(description=text)
        await env.act(KH, action)
    await env.assign(description="Plank for 5 minutes", duration="5m")
    await env.act(KH, START)


async def test_the_main_page_inside_chasters_frame(env: CoreEnv, browser: Browser) -> None:
    await a_lock_with_history(env)
    env.session.display_remaining_time = False
    async with parent_site() as parent, serve_pages(env, origins=(parent,)) as pages:
        token = env.fake.issue_main_token(env.session.session_id, "wearer")
        url = with_token(pages.at("/chaster/main"), "mainToken", token)
        await browser.run(browser.driver.get, framed(parent, url))
        await browser.until("return window.frameLoaded")
        frame = await browser.run(browser.driver.find_element, By.ID, "frame")
        await browser.run(browser.driver.switch_to.frame, frame)
        try:
            await browser.until("return document.querySelector('#link-code .code')")
            assert await text_of(browser, "#task .task-text") == "Plank for 5 minutes"
            assert await text_of(browser, ".points") == "Points: 20 of 40"
            assert await text_of(browser, "#lock p") == "The lock's timer is hidden."
            servers = await text_of(browser, "#servers li")
            assert "Lock & Key Club" in servers and "Kim (keyholder)" in servers
            recent = await text_of(browser, "#recent")
            assert "Cold shower" in recent and "Write 50 lines" in recent
            code = await text_of(browser, "#link-code .code")
            assert f"/link code:{code}" in await text_of(browser, "#link-code")
        finally:
            await browser.run(browser.driver.switch_to.default_content)
    # The code the browser showed links in Discord.
    await env.core.links.unlink(WR, WEARER)
    outcome = await env.core.link_codes.redeem(WR, code, 0)
    assert outcome.link is not None


async def test_any_other_site_cannot_frame_the_page(env: CoreEnv, browser: Browser) -> None:
    session = env.add_lock()
    async with (
        parent_site() as allowed,
        parent_site() as other,
        serve_pages(env, origins=(allowed,)) as pages,
    ):
        token = env.fake.issue_main_token(session.session_id, "wearer")
        url = with_token(pages.at("/chaster/main"), "mainToken", token)
        await browser.run(browser.driver.get, framed(other, url))
        await browser.until("return window.frameLoaded")
        # Refused by the browser: the page's script never ran, so Chaster was never asked.
        assert env.fake.count_calls("GET", "/auth/sessions/") == 0
        # The same page from the allowed parent does ask.
        await browser.run(browser.driver.get, framed(allowed, url))
        await browser.until("return window.frameLoaded")
        await env.fake.wait_for_call("GET", "/auth/sessions/", timeout=10)


async def test_an_expired_token_says_so(env: CoreEnv, browser: Browser) -> None:
    session = env.add_lock()
    async with serve_pages(env, origins=("https://chaster.app",)) as pages:
        token = env.fake.issue_main_token(session.session_id, "wearer")
        env.fake.expire_token(token)
        await browser.run(
            browser.driver.get, with_token(pages.at("/chaster/main"), "mainToken", token)
        )
        shown = await browser.until(
            "var s = document.querySelector('#status.error'); return s && s.textContent"
        )
        assert "expired" in shown
        await browser.run(browser.driver.get, pages.at("/chaster/main"))
        shown = await browser.until(
            "var s = document.querySelector('#status.error'); return s && s.textContent"
        )
        assert "expired" in shown


async def test_the_keyholder_on_a_phone_in_french(env: CoreEnv) -> None:
    await a_lock_with_history(env)
    await env.core.pause.pause(WR, WEARER, None)
    phone = Browser(language="fr-FR", size=(390, 844))
    try:
        async with serve_pages(env, origins=("https://chaster.app",)) as pages:
            token = env.fake.issue_main_token(env.session.session_id, "keyholder")
            await phone.run(
                phone.driver.get, with_token(pages.at("/chaster/main"), "mainToken", token)
            )
            await phone.until("return document.querySelector('#link-code .code')")
            assert await phone.script("return document.documentElement.lang") == "fr"
            assert await text_of(phone, "#task h2") == "Tâche en cours"
            assert "automatisation en pause" in await text_of(phone, "#servers li")
            # Nothing wider than the phone: no sideways scrolling.
            assert await phone.script(
                "return document.documentElement.scrollWidth <= window.innerWidth"
            )
            await screenshot(phone, "main-page-keyholder-phone.png")
    finally:
        await phone.run(phone.quit)


async def test_the_configuration_page_saves_through_chasters_modal(
    env: CoreEnv, browser: Browser
) -> None:
    session = env.add_lock()
    async with parent_site() as parent, serve_pages(env, origins=(parent,)) as pages:
        token = env.fake.issue_configuration_token(session_id=session.session_id)
        url = with_token(pages.at("/chaster/config"), "partnerConfigurationToken", token)
        await browser.run(browser.driver.get, framed(parent, url))
        await browser.until("return window.frameLoaded")
        capabilities = await browser.until(
            "return window.received.map(m => m.data).find(d => d.includes('capabilities'))"
        )
        assert json.loads(capabilities) == {
            "type": "partner_configuration",
            "event": "capabilities",
            "payload": {"features": {"save": True}},
        }
        frame = await browser.run(browser.driver.find_element, By.ID, "frame")
        await browser.run(browser.driver.switch_to.frame, frame)
        try:
            await _choose(browser, "wearerCanComplete", "no")
            await _type(browser, "deadline", "3h")
            await _choose(browser, "onFail-action", "pillory")
            await _type(browser, "onFail-amount", "1h")
            await _type(browser, "onFail-reason", "Skipped a task")
            # No button of its own inside the modal: Chaster's Save button asks.
            assert await browser.script("return document.getElementById('save') === null")
            await screenshot(browser, "config-page.png")
        finally:
            await browser.run(browser.driver.switch_to.default_content)
        await browser.script("askToSave(arguments[0])", pages.url)
        events = await browser.until(
            "var e = window.received.map(m => JSON.parse(m.data).event);"
            " return e.includes('save_success') && e"
        )
        assert events == ["capabilities", "save_loading", "save_success"]
        assert all(
            message["origin"] == pages.url
            for message in await browser.script("return window.received")
        )
    assert session.config == {
        "version": 1,
        "wearerCanComplete": False,
        "deadlineSeconds": 10800,
        "onFail": {"action": "pillory", "seconds": 3600, "reason": "Skipped a task"},
        "onDeadline": None,
    }


async def test_a_value_the_bot_cannot_use_fails_the_save(env: CoreEnv, browser: Browser) -> None:
    session = env.add_lock()
    async with parent_site() as parent, serve_pages(env, origins=(parent,)) as pages:
        token = env.fake.issue_configuration_token(session_id=session.session_id)
        url = with_token(pages.at("/chaster/config"), "partnerConfigurationToken", token)
        await browser.run(browser.driver.get, framed(parent, url))
        await browser.until("return window.received.length > 0")
        frame = await browser.run(browser.driver.find_element, By.ID, "frame")
        await browser.run(browser.driver.switch_to.frame, frame)
        try:
            await _choose(browser, "onDeadline-action", "add_time")
            await _type(browser, "onDeadline-amount", "forever")
        finally:
            await browser.run(browser.driver.switch_to.default_content)
        await browser.script("askToSave(arguments[0])", pages.url)
        await browser.until(
            "return window.received.some(m => JSON.parse(m.data).event === 'save_failed')"
        )
        await browser.run(browser.driver.switch_to.frame, frame)
        try:
            message = await browser.until(
                "var s = document.querySelector('#status.error'); return s && s.textContent"
            )
            assert "forever" in message
            assert await browser.script(
                "return document.getElementById('onDeadline').classList.contains('invalid')"
            )
        finally:
            await browser.run(browser.driver.switch_to.default_content)
    assert env.fake.count_calls("PUT", "/configurations/") == 0
    assert session.config == {}


async def test_the_main_page_screenshot_for_the_docs(env: CoreEnv, browser: Browser) -> None:
    await a_lock_with_history(env)
    async with serve_pages(env, origins=("https://chaster.app",)) as pages:
        token = env.fake.issue_main_token(env.session.session_id, "wearer")
        await browser.run(browser.driver.set_window_size, 720, 1100)
        await browser.run(
            browser.driver.get, with_token(pages.at("/chaster/main"), "mainToken", token)
        )
        await browser.until("return document.querySelector('#link-code .code')")
        assert await text_of(browser, "h1") == env.session.lock_title
        await screenshot(browser, "main-page.png")


async def _choose(browser: Browser, name: str, value: str) -> None:
    await browser.script(
        "var s = document.querySelector(`[name='${arguments[0]}']`); s.value = arguments[1];",
        name,
        value,
    )


async def _type(browser: Browser, name: str, text: str) -> None:
    element = await browser.run(browser.driver.find_element, By.CSS_SELECTOR, f"[name='{name}']")
    await browser.run(element.clear)
    await browser.run(element.send_keys, text)
