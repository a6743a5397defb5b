"""One headless Chromium for the dashboard tests (tests/bridge/web/support.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from .support import TIMEOUT_MS, chromium_path

expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless, launched by Playwright (no browser download).

    Package-scoped, not session-scoped: while Playwright's sync API runs, its event loop
    counts as running in this thread, and every later test's ``asyncio.run`` would fail;
    it must end with this folder's tests."""
    path = chromium_path()
    # As root (containers, CI) Chromium refuses to start with its sandbox on.
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, headless=True, args=args)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page (own storage); fails the test on any script error, CSP violation or
    failed load. The browser's own line for a WebSocket that could not connect (the page
    retrying a bridge that is down) is expected, not a problem."""
    context = browser.new_context()
    opened = context.new_page()
    opened.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    opened.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))

    def console(msg: ConsoleMessage) -> None:
        if msg.type == "error" and not msg.text.startswith("WebSocket connection to"):
            problems.append(f"console {msg.type}: {msg.text}")

    opened.on("console", console)
    try:
        yield opened
    finally:
        context.close()
    assert problems == [], problems
