"""Fixtures for end-to-end tests: one headless Chromium per run, a fresh browser context per
test, and a tiny real HTTP server standing in for a relying party's callback.

Chromium is Debian's (``scripts/ensure-chromium``); Playwright only drives it and never
downloads a browser of its own.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

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
async def chromium() -> AsyncIterator[Chromium]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


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
