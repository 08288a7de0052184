"""A real browser for the page tests: Debian's Chromium, headless, driven by Selenium through
Debian's ChromeDriver. Nothing is downloaded: both are named by path.

Selenium's calls block, and the servers under test run on the test's event loop, so every
browser call goes through `Browser.run`, in a thread.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
_T = TypeVar("_T")
# The longest a page load or a script may take before the driver gives up on it.
CALL_SECONDS = 20


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            return f"{path} not found: install Debian's chromium and chromium-driver (README)"
    return None


class Browser:
    def __init__(self, language: str = "en-US", size: tuple[int, int] = (1000, 900)) -> None:
        self._profile = tempfile.mkdtemp(prefix="pages-browser-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={self._profile}",
            f"--lang={language}",
            f"--window-size={size[0]},{size[1]}",
        ):
            options.add_argument(flag)
        options.add_experimental_option("prefs", {"intl.accept_languages": language})
        self.driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        # Every call ends on its own: none is ever abandoned while it runs, so two never share
        # the driver's connection at once.
        self.driver.set_page_load_timeout(CALL_SECONDS)
        self.driver.set_script_timeout(CALL_SECONDS)

    async def run(self, call: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.to_thread(call, *args)

    async def script(self, source: str, *args: Any) -> Any:
        return await self.run(self.driver.execute_script, source, *args)

    async def until(self, source: str, *args: Any, within: float = 10.0) -> Any:
        """Wait until a script returns something truthy in the current frame; return it.

        The deadline is checked between calls rather than cancelling one: a cancelled call
        would go on in its thread beside the next."""
        deadline = time.monotonic() + within
        while True:
            value = await self.script(source, *args)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"still false after {within} s: {source}")
            await asyncio.sleep(0.05)

    def quit(self) -> None:
        self.driver.quit()
        shutil.rmtree(self._profile, ignore_errors=True)
