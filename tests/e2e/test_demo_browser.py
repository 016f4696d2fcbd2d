"""The whole first hour in a real headless Chromium: ``make run``'s start page, "Try a login",
the demo relying party's code flow with PKCE against this server, the ID token's claims and the
userinfo response, a refresh, and RP-initiated logout back to ``/demo`` — with JavaScript and
without it (every step is a link or a form)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser as Chromium
from playwright.async_api import BrowserContext, Page, expect

from idp.clock import OffsetClock
from idp.settings import Settings
from tests.e2e.conftest import client_address
from tests.support.dev_server import dev_server
from tests.support.factories import Person
from tests.support.live import LiveServer

LOGIN_BUTTON = "form button[type=submit]:not([name])"


@pytest.fixture(scope="module")
def dev(settings: Settings, clock: OffsetClock, migrated: str) -> Iterator[LiveServer]:
    with dev_server(settings, clock) as live:
        yield live


@pytest.fixture(params=[True, False], ids=["javascript", "no-javascript"])
async def context(
    chromium: Chromium, request: pytest.FixtureRequest
) -> AsyncIterator[BrowserContext]:
    browser_context = await chromium.new_context(
        locale="en-GB",
        java_script_enabled=bool(request.param),
        extra_http_headers={"X-Forwarded-For": client_address()},
    )
    yield browser_context
    await browser_context.close()


async def _json_of(page: Page, selector: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(await page.locator(selector).inner_text())
    return data


async def _journey(page: Page, dev: LiveServer, person: Person) -> None:
    await page.goto(f"{dev.url}/")
    await expect(page.locator("h1")).to_have_text("idp is running")
    await page.get_by_role("link", name="Try a login").click()

    # The provider's own login page, reached through the demo's authorization request.
    await page.wait_for_url(f"{dev.url}/interaction/**")
    await page.fill("input[name=login]", person.phone)
    await page.fill("input[name=password]", person.password)
    await page.click(LOGIN_BUTTON)
    # The consent page: the demo asks, as a real service would.
    await page.click("button[name=decision][value=allow]")

    await page.wait_for_url(f"{dev.url}/demo")
    await expect(page.locator("#demo-status")).to_have_text(
        "You are logged in to the demo service."
    )
    claims = await _json_of(page, "#id-token-claims")
    assert claims["iss"] == dev.url
    assert claims["aud"] == "idp-demo"
    assert claims["sub"] == person.account.sub
    assert "nonce" in claims
    assert "sid" in claims
    userinfo = await _json_of(page, "#userinfo")
    assert userinfo["sub"] == person.account.sub
    assert userinfo["phone_number"] == person.phone
    before = await page.locator("#access-token").inner_text()
    await expect(page.locator("#refreshes")).to_have_text("0")

    await page.get_by_role("button", name="Refresh the tokens").click()
    await page.wait_for_url(f"{dev.url}/demo")
    await expect(page.locator("#refreshes")).to_have_text("1")
    after = await page.locator("#access-token").inner_text()
    assert after != before  # new tokens, shown
    assert (await _json_of(page, "#userinfo"))["sub"] == person.account.sub  # and they work

    await page.get_by_role("button", name="Log out").click()
    # RP-initiated logout with id_token_hint: no question asked, then back to the demo.
    await page.wait_for_url(f"{dev.url}/demo", timeout=15_000)
    await expect(page.locator("#demo-status")).to_have_text(
        "You are not logged in to the demo service."
    )
    # The provider's session ended too: logging in again asks for the password.
    await page.get_by_role("link", name="Log in with idp").click()
    await page.wait_for_url(f"{dev.url}/interaction/**")
    await expect(page.locator("input[name=password]")).to_be_visible()


async def test_start_page_try_a_login_refresh_and_logout(
    context: BrowserContext, dev: LiveServer, person: Person, tmp_path: Path
) -> None:
    page = await context.new_page()
    try:
        await _journey(page, dev, person)
    except BaseException:
        await page.screenshot(path=tmp_path / "demo-failure.png", full_page=True)
        raise


async def test_the_start_page_is_in_russian_for_a_russian_browser(
    chromium: Chromium, dev: LiveServer
) -> None:
    context = await chromium.new_context(locale="ru-RU")
    try:
        page = await context.new_page()
        await page.goto(f"{dev.url}/")
        await expect(page.locator("h1")).to_have_text("idp работает")
        await page.get_by_role("link", name="Попробовать вход").click()
        await page.wait_for_url(f"{dev.url}/interaction/**")
        assert await page.locator("html").get_attribute("lang") == "ru"
    finally:
        await context.close()
