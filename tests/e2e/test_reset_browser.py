"""A forgotten password in a real headless Chromium: from an RP's login page to "Forgot your
password?", the code (read from the dev sink) with the new password, back to the login page
and into the RP with the new password."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

import httpx
import pytest
from playwright.async_api import Locator, Page, expect

from idp.context import Context
from tests.support.browser import query
from tests.support.factories import RP, Person, make_rp
from tests.support.flows import auth_params, redeem
from tests.support.live import LiveServer
from tests.support.mailbox import sms_code

if TYPE_CHECKING:
    from tests.e2e.conftest import OpenPage

NEW_PASSWORD = "Violet-Orbit-73"


@pytest.fixture
async def callback_rp(ctx: Context, rp_callback: str) -> RP:
    return await make_rp(ctx, redirect_uri=rp_callback, require_consent=False)


async def press(page: Page, target: Locator) -> None:
    async with page.expect_navigation():
        await target.click()


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        (
            "ru-RU",
            {
                "forgot": "Забыли пароль?",
                "login": "Телефон, почта или СНИЛС",
                "send": "Получить код",
                "code": "Код",
                "password": "Новый пароль",
                "repeat": "Повторите пароль",
                "submit": "Сменить пароль",
                "done": "Пароль изменён",
                "to_login": "Перейти ко входу",
                "login_password": "Пароль",
            },
        ),
        (
            "en-US",
            {
                "forgot": "Forgot your password?",
                "login": "Phone, e-mail or SNILS",
                "send": "Send me a code",
                "code": "Code",
                "password": "New password",
                "repeat": "Repeat the password",
                "submit": "Set the new password",
                "done": "Your password has been changed",
                "to_login": "Go to log in",
                "login_password": "Password",
            },
        ),
    ],
)
async def test_reset_from_the_login_page_then_log_in(
    open_page: OpenPage,
    server: LiveServer,
    ctx: Context,
    person: Person,
    callback_rp: RP,
    locale: str,
    words: dict[str, str],
) -> None:
    page = await open_page(locale)
    params, verifier = auth_params(callback_rp)
    await page.goto(f"{server.url}/authorize?{urlencode(params)}")
    await page.wait_for_url("**/interaction/*")
    login_url = page.url

    await press(page, page.get_by_role("link", name=words["forgot"]))
    await page.get_by_label(words["login"], exact=True).fill(person.phone)
    await press(page, page.get_by_role("button", name=words["send"], exact=True))

    code, _ = await sms_code(ctx, person.phone)
    await page.get_by_label(words["code"], exact=True).fill(code)
    await page.get_by_label(words["password"], exact=True).fill(NEW_PASSWORD)
    await page.get_by_label(words["repeat"], exact=True).fill(NEW_PASSWORD)
    await press(page, page.get_by_role("button", name=words["submit"], exact=True))
    await expect(page.get_by_role("heading", level=1)).to_have_text(words["done"])
    assert not any(c["name"] == "idp_session" for c in await page.context.cookies())

    await press(page, page.get_by_role("link", name=words["to_login"]))
    assert page.url == login_url
    await page.get_by_label(words["login"], exact=True).fill(person.phone)
    await page.get_by_label(words["login_password"], exact=True).fill(NEW_PASSWORD)
    await page.locator("form button[type=submit]:not([name])").click()
    await page.wait_for_url(lambda url: url.startswith(callback_rp.redirect_uri + "?"))
    result = query(page.url)
    assert result["state"] == params["state"]
    async with httpx.AsyncClient(base_url=server.url) as http:
        tokens = await redeem(http, callback_rp, result["code"], verifier)
    assert tokens.status_code == 200, tokens.text
