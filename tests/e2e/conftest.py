"""Fixtures for end-to-end tests: one headless Chromium per run, a fresh browser context per
test, and a tiny real HTTP server standing in for a relying party's callback.

Chromium is Debian's (``scripts/ensure-chromium``); Playwright only drives it and never
downloads a browser of its own.

When a test that uses the browser fails, every page still open is saved (a full-page PNG and
its HTML) to ``var/test-artifacts/`` (or ``$IDP_TEST_ARTIFACTS``), and the failure report
lists the files.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import threading
from collections.abc import AsyncIterator, Generator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple, Protocol

import pytest
from playwright.async_api import Browser as Chromium
from playwright.async_api import BrowserContext, Page, async_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class _Ok(BaseHTTPRequestHandler):
    """Answers every GET with 200 "ok", like an RP's callback page would."""

    def do_GET(self) -> None:
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def rp_callback() -> Iterator[str]:
    """``http://127.0.0.1:PORT/cb``: a redirect URI the browser can really land on."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True, name="rp-callback")
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/cb"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
async def chromium(request: pytest.FixtureRequest) -> AsyncIterator[Chromium]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # The failure hook below drives this browser on the loop that owns it.
        request.config.stash[_LIVE_BROWSER] = (browser, asyncio.get_running_loop())
        yield browser
        del request.config.stash[_LIVE_BROWSER]
        await browser.close()


# --- pages saved when a browser test fails ----------------------------------------------

ARTIFACTS_ENV = "IDP_TEST_ARTIFACTS"
_LIVE_BROWSER = pytest.StashKey[tuple[Chromium, asyncio.AbstractEventLoop]]()
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_CAPTURE_TIMEOUT = 15.0


def artifacts_dir(config: pytest.Config) -> Path:
    """``$IDP_TEST_ARTIFACTS``, else ``var/test-artifacts`` under the project (git ignores it)."""
    configured = os.environ.get(ARTIFACTS_ENV)
    return Path(configured) if configured else config.rootpath / "var" / "test-artifacts"


def artifact_stem(nodeid: str) -> str:
    """A file name for a test id: ``tests/e2e/test_x.py::test_y[a-b]`` becomes
    ``tests_e2e_test_x.py_test_y_a-b``."""
    return _UNSAFE.sub("_", nodeid).strip("_")[:180]


class _Shot(NamedTuple):
    name: str
    url: str
    html: str | None  # None: not saved, for the reason in ``problem``
    problem: str = ""


async def _capture(browser: Chromium, directory: Path, stem: str) -> list[_Shot]:
    """Screenshot every open page to ``<stem>[-n].png`` and read its HTML."""
    pages = [page for context in browser.contexts for page in context.pages]
    shots: list[_Shot] = []
    for number, page in enumerate(pages, start=1):
        name = stem if len(pages) == 1 else f"{stem}-{number}"
        try:
            await page.screenshot(
                path=directory / f"{name}.png", full_page=True, timeout=_CAPTURE_TIMEOUT * 1000
            )
            html = await asyncio.wait_for(page.content(), _CAPTURE_TIMEOUT)
        except Exception as exc:  # the report says what could not be saved, and goes on
            shots.append(_Shot(name, page.url, None, f"{type(exc).__name__}: {exc}"))
            continue
        shots.append(_Shot(name, page.url, html))
    return shots


def save_pages(browser: Chromium, loop: asyncio.AbstractEventLoop, nodeid: str, to: Path) -> str:
    """Save the open pages of a failed test; the lines for its report."""
    to.mkdir(parents=True, exist_ok=True)
    lines = []
    for shot in loop.run_until_complete(_capture(browser, to, artifact_stem(nodeid))):
        if shot.html is None:
            lines.append(f"{shot.url}: not saved ({shot.problem})")
            continue
        (to / f"{shot.name}.html").write_text(shot.html, encoding="utf-8")
        lines.append(f"{shot.url}\n  {to / shot.name}.png\n  {to / shot.name}.html")
    return "\n".join(lines)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed browser test: save each open page before the fixtures close them, and name
    the files in the report. The test's coroutine has returned, so the event loop that owns
    the browser is idle and can run the capture."""
    report = yield
    live = item.config.stash.get(_LIVE_BROWSER, None)
    uses_browser = "chromium" in getattr(item, "fixturenames", ())
    if report.when != "call" or not report.failed or live is None or not uses_browser:
        return report
    browser, loop = live
    if loop.is_closed() or loop.is_running() or not browser.is_connected():
        return report
    lines = save_pages(browser, loop, item.nodeid, artifacts_dir(item.config))
    if lines:
        report.sections.append(("browser pages saved", lines))
    return report


def client_address() -> str:
    """A documentation-range address (RFC 3849) per browser context: the test server trusts
    X-Forwarded-For, so failed logins in one test never throttle another."""
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"


class OpenPage(Protocol):
    async def __call__(self, locale: str = "ru-RU") -> Page: ...


@pytest.fixture
async def open_page(chromium: Chromium) -> AsyncIterator[OpenPage]:
    """Opens pages in fresh contexts (no cookies: no single sign-on from an earlier test)."""
    contexts: list[BrowserContext] = []

    async def open_(locale: str = "ru-RU") -> Page:
        context = await chromium.new_context(
            locale=locale, extra_http_headers={"X-Forwarded-For": client_address()}
        )
        contexts.append(context)
        return await context.new_page()

    yield open_
    for context in contexts:
        await context.close()


@pytest.fixture
async def page(open_page: OpenPage) -> Page:
    return await open_page()
