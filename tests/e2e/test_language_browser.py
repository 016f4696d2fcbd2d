"""Switching the language in a real Chromium: the switcher keeps the page and the interaction,
the choice outlives the page, and an RP's ui_locales still decides within its interaction."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

import pytest
from playwright.async_api import Page, expect

from idp.context import Context
from tests.support.browser import query
from tests.support.factories import RP, Person, make_rp
from tests.support.flows import auth_params
from tests.support.live import LiveServer

if TYPE_CHECKING:
    from tests.e2e.conftest import OpenPage


@pytest.fixture
async def callback_rp(ctx: Context, rp_callback: str) -> RP:
    return await make_rp(ctx, redirect_uri=rp_callback, require_consent=False)


async def follow(page: Page, name: str) -> None:
    async with page.expect_navigation():
        await page.get_by_role("link", name=name, exact=True).click()


async def test_switching_the_language_during_a_login(
    open_page: OpenPage, server: LiveServer, callback_rp: RP, person: Person
) -> None:
    page = await open_page("ru-RU")
    params, _ = auth_params(callback_rp)
    await page.goto(f"{server.url}/authorize?{urlencode(params)}")
    await expect(page.locator("html")).to_have_attribute("lang", "ru")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Вход")
    login_url = page.url
    switcher = page.get_by_role("navigation", name="Язык")
    await expect(switcher.get_by_text("Русский")).to_have_attribute("aria-current", "true")

    # To English: the same login page of the same interaction, now in English.
    await follow(page, "English")
    assert page.url == login_url
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    await page.get_by_label("Phone, e-mail or SNILS", exact=True).fill(person.phone)
    await page.get_by_label("Password", exact=True).fill(person.password)
    async with page.expect_navigation():
        await page.get_by_role("button", name="Log in", exact=True).click()
    await page.wait_for_url(lambda url: url.startswith(callback_rp.redirect_uri + "?"))
    assert "code" in query(page.url)

    # The choice stays with the browser, over its Russian Accept-Language.
    await page.goto(f"{server.url}/register")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Create an account")
    await follow(page, "Русский")
    assert page.url == f"{server.url}/register"
    await expect(page.get_by_role("heading", level=1)).to_have_text("Регистрация")


async def test_ui_locales_decides_inside_its_interaction(
    open_page: OpenPage, server: LiveServer, callback_rp: RP
) -> None:
    page = await open_page("ru-RU")
    await page.goto(f"{server.url}/lang?to=ru&next=/register")
    params, _ = auth_params(callback_rp, ui_locales="en")
    await page.goto(f"{server.url}/authorize?{urlencode(params)}")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    # Switching here would change nothing: the page offers no switcher.
    await expect(page.get_by_role("navigation")).to_have_count(0)


async def test_an_error_page_in_russian_offers_a_way_back(
    open_page: OpenPage, server: LiveServer
) -> None:
    page = await open_page("ru-RU")
    await page.goto(f"{server.url}/authorize?client_id=unknown&redirect_uri=https://x.example/")
    await expect(page.locator("html")).to_have_attribute("lang", "ru")
    await expect(page.get_by_role("alert")).to_contain_text("не зарегистрирован")
    await expect(page.get_by_role("link", name="Перейти в личный кабинет")).to_have_attribute(
        "href", "/account"
    )
