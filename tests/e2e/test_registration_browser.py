"""Self-registration in a real headless Chromium, as a person meets it.

From a relying party's authorization request to the login page, "Register", the form, the
SMS code (read from the dev sink), the password (which signs the person in), and on into the
RP with a code without logging in again; the same in English with the live countdown of "send
again"; and once more with JavaScript switched off, where the server alone keeps the pages
usable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import httpx
import pytest
from playwright.async_api import Browser as Chromium
from playwright.async_api import BrowserContext, Locator, Page, expect

from idp.clock import OffsetClock
from idp.context import Context
from tests.e2e.conftest import client_address
from tests.support.browser import query
from tests.support.factories import RP, make_rp, random_phone
from tests.support.flows import auth_params, redeem
from tests.support.live import LiveServer
from tests.support.mailbox import email_link, sms_code

if TYPE_CHECKING:
    from tests.e2e.conftest import OpenPage

PASSWORD = "Violet-Orbit-73"

RU = {
    "register": "Зарегистрироваться",
    "last_name": "Фамилия",
    "first_name": "Имя",
    "middle_name": "Отчество (если есть)",
    "phone": "Мобильный телефон",
    "email": "Электронная почта",
    "continue": "Продолжить",
    "code": "Код из SMS",
    "confirm": "Подтвердить",
    "resend": "Отправить код ещё раз",
    "password": "Новый пароль",
    "repeat": "Повторите пароль",
    "create": "Создать учётную запись",
    "to_login": "Продолжить на сайте",
    "done": "Учётная запись создана",
}
EN = {
    "register": "Register",
    "last_name": "Last name",
    "first_name": "First name",
    "middle_name": "Middle name (if any)",
    "phone": "Mobile phone",
    "email": "E-mail",
    "continue": "Continue",
    "code": "Code from the SMS",
    "confirm": "Confirm",
    "resend": "Send the code again",
    "password": "New password",
    "repeat": "Repeat the password",
    "create": "Create the account",
    "to_login": "Continue to the site",
    "done": "Your account is ready",
}

NewContext = Callable[..., Awaitable[Page]]


@pytest.fixture
async def callback_rp(ctx: Context, rp_callback: str) -> RP:
    return await make_rp(ctx, redirect_uri=rp_callback, require_consent=False)


@pytest.fixture
async def new_page(chromium: Chromium) -> AsyncIterator[NewContext]:
    """A page in a fresh context, with options open_page does not take (JavaScript off)."""
    contexts: list[BrowserContext] = []

    async def open_(locale: str = "ru-RU", *, javascript: bool = True) -> Page:
        context = await chromium.new_context(
            locale=locale,
            java_script_enabled=javascript,
            extra_http_headers={"X-Forwarded-For": client_address()},
        )
        contexts.append(context)
        return await context.new_page()

    yield open_
    for context in contexts:
        await context.close()


async def press(page: Page, target: Locator) -> None:
    """Click and wait for the page it leads to, so nothing is read from the page being left."""
    async with page.expect_navigation():
        await target.click()


def button(page: Page, name: str) -> Locator:
    return page.get_by_role("button", name=name, exact=True)


def field(page: Page, label: str) -> Locator:
    return page.get_by_label(label, exact=True)


async def fill_registration(page: Page, words: dict[str, str], phone: str) -> None:
    names = ("Сидорова", "Анна", "Петровна") if words is RU else ("Smith", "Anna", "")
    await field(page, words["last_name"]).fill(names[0])
    await field(page, words["first_name"]).fill(names[1])
    await field(page, words["middle_name"]).fill(names[2])
    await field(page, words["phone"]).fill(phone)
    await page.locator("#personal_data_consent").check()  # 152-FZ consent, required
    await press(page, button(page, words["continue"]))


async def create_password(page: Page, words: dict[str, str]) -> None:
    await field(page, words["password"]).fill(PASSWORD)
    await field(page, words["repeat"]).fill(PASSWORD)
    await press(page, button(page, words["create"]))
    await expect(page.get_by_role("heading", level=1)).to_have_text(words["done"])


async def reach_rp(page: Page, server: LiveServer, rp: RP, verifier: str, state: str) -> None:
    """Creating the password signed the person in: the login page goes on to the RP."""
    await page.wait_for_url(lambda url: url.startswith(rp.redirect_uri + "?"))
    result = query(page.url)
    assert result["state"] == state
    async with httpx.AsyncClient(base_url=server.url) as http:
        tokens = await redeem(http, rp, result["code"], verifier)
    assert tokens.status_code == 200, tokens.text
    assert tokens.json()["id_token"]


async def start_at_rp(page: Page, server: LiveServer, rp: RP, **extra: str) -> tuple[str, str]:
    params, verifier = auth_params(rp, **extra)
    await page.goto(f"{server.url}/authorize?{urlencode(params)}")
    await page.wait_for_url("**/interaction/*")
    return verifier, params["state"]


async def test_register_from_the_login_page_then_log_in(
    open_page: OpenPage, server: LiveServer, ctx: Context, callback_rp: RP
) -> None:
    page = await open_page()
    words = RU
    verifier, state = await start_at_rp(page, server, callback_rp)
    await press(page, page.get_by_role("link", name=words["register"]))
    assert page.url.startswith(f"{server.url}/register?return=")
    await expect(page.locator("html")).to_have_attribute("lang", "ru")

    # An empty form: the errors are listed, tied to the fields, and the focus is on the first.
    await press(page, button(page, words["continue"]))
    assert page.url == f"{server.url}/register"
    await expect(page.get_by_role("alert").first).to_contain_text("Исправьте ошибки")
    last_name = field(page, words["last_name"])
    await expect(last_name).to_have_attribute("aria-invalid", "true")
    await expect(last_name).to_be_focused()
    await expect(last_name).to_have_accessible_description("Введите фамилию.")
    await expect(field(page, words["phone"])).to_have_attribute("aria-invalid", "true")

    phone = random_phone()
    await fill_registration(page, words, phone)
    assert page.url == f"{server.url}/register/phone"
    await expect(page.get_by_text(phone)).to_be_visible()
    await expect(button(page, words["resend"])).to_be_disabled()
    await expect(page.locator("#resend-wait")).to_contain_text("Новый код можно запросить через")

    code, _ = await sms_code(ctx, phone)
    wrong = "000000" if code != "000000" else "111111"
    await field(page, words["code"]).fill(wrong)
    await press(page, button(page, words["confirm"]))
    code_field = field(page, words["code"])
    await expect(code_field).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#code-error")).to_contain_text("Осталось попыток: 4")
    await code_field.fill(code)
    await press(page, button(page, words["confirm"]))
    assert page.url == f"{server.url}/register/password"
    await expect(page.locator("#password-rules")).to_contain_text("Не короче 8 символов.")

    await create_password(page, words)
    await page.get_by_role("link", name=words["to_login"]).click()
    await reach_rp(page, server, callback_rp, verifier, state)
    assert not any(c["name"] == "idp_registration" for c in await page.context.cookies())


async def test_in_english_with_the_live_countdown(
    open_page: OpenPage,
    server: LiveServer,
    ctx: Context,
    clock: OffsetClock,
    callback_rp: RP,
) -> None:
    page = await open_page("en-US")
    words = EN
    verifier, state = await start_at_rp(page, server, callback_rp)
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await press(page, page.get_by_role("link", name=words["register"]))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Create an account")
    await expect(page.get_by_role("group", name="Phone and e-mail")).to_be_visible()
    phone = random_phone()
    await fill_registration(page, words, phone)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your phone")
    _, first_id = await sms_code(ctx, phone)

    # Move the server's clock close to the end of the cooldown and reload: the script counts
    # the last seconds down in the page and switches the button on by itself (CSP allows it).
    clock.advance(ctx.settings.verification.resend_cooldown - 6)
    await page.reload()
    resend = button(page, words["resend"])
    await expect(resend).to_be_disabled()
    await expect(page.locator("#resend-wait")).to_contain_text("You can ask for a new code in")
    await expect(resend).to_be_enabled(timeout=15000)
    await expect(page.locator("#resend-wait")).to_be_hidden()
    await expect(page.locator("#resend-ready")).to_have_text("You can ask for a new code now.")
    await press(page, resend)
    await expect(page.get_by_role("status").first).to_contain_text("A new code has been sent.")
    await expect(button(page, words["resend"])).to_be_disabled()

    code, _ = await sms_code(ctx, phone, newer_than=first_id)
    await field(page, words["code"]).fill(code)
    await press(page, button(page, words["confirm"]))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Create a password")
    await expect(page.locator("#password-rules")).to_contain_text("At least 8 characters.")
    await create_password(page, words)
    await page.get_by_role("link", name=words["to_login"]).click()
    await reach_rp(page, server, callback_rp, verifier, state)


async def test_without_javascript(
    new_page: NewContext,
    server: LiveServer,
    ctx: Context,
    clock: OffsetClock,
    callback_rp: RP,
) -> None:
    page = await new_page(javascript=False)
    words = RU
    verifier, state = await start_at_rp(page, server, callback_rp)
    await press(page, page.get_by_role("link", name=words["register"]))
    phone = random_phone()
    await fill_registration(page, words, phone)
    _, first_id = await sms_code(ctx, phone)

    # The server shows the seconds left; nothing counts, nothing refreshes by itself.
    resend = button(page, words["resend"])
    await expect(resend).to_be_disabled()
    await expect(page.locator("#resend-wait")).to_contain_text("с.")
    refresh = page.get_by_role("link", name="Обновить страницу")
    await expect(refresh).to_be_visible()
    clock.advance(ctx.settings.verification.resend_cooldown + 1)
    await press(page, refresh)
    await expect(button(page, words["resend"])).to_be_enabled()
    await press(page, button(page, words["resend"]))
    await expect(page.get_by_role("status").first).to_contain_text("Новый код отправлен.")

    code, _ = await sms_code(ctx, phone, newer_than=first_id)
    await field(page, words["code"]).fill(code)
    await press(page, button(page, words["confirm"]))

    # A refused password is explained next to the field, by the server alone.
    await field(page, words["password"]).fill("short")
    await field(page, words["repeat"]).fill("short")
    await press(page, button(page, words["create"]))
    password = field(page, words["password"])
    await expect(password).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#password-error")).to_contain_text("не короче 8 символов")
    await create_password(page, words)
    await page.get_by_role("link", name=words["to_login"]).click()
    await reach_rp(page, server, callback_rp, verifier, state)


async def test_email_link_opened_on_another_device(
    new_page: NewContext, server: LiveServer, ctx: Context
) -> None:
    page = await new_page()
    await page.goto(f"{server.url}/register")
    email = f"reg-{random_phone()[5:]}@example.ru"
    await field(page, RU["last_name"]).fill("Сидорова")
    await field(page, RU["first_name"]).fill("Анна")
    await field(page, RU["email"]).fill(email)
    await page.locator("#personal_data_consent").check()
    await press(page, button(page, RU["continue"]))
    await expect(page.get_by_text(email)).to_be_visible()

    # Pressing "Continue" too early says so.
    await press(page, page.get_by_role("link", name=RU["continue"]))
    await expect(page.get_by_role("alert")).to_contain_text("Адрес ещё не подтверждён")

    link, _ = await email_link(ctx, email)
    phone_app = await new_page(javascript=False)
    await phone_app.goto(link)
    await expect(phone_app.get_by_role("heading", level=1)).to_have_text(
        "Подтверждение адреса почты"
    )
    await press(phone_app, button(phone_app, "Подтвердить адрес"))
    await expect(phone_app.get_by_role("heading", level=1)).to_have_text("Адрес подтверждён")
    cookies = {c["name"] for c in await phone_app.context.cookies()}
    assert "idp_session" not in cookies
    assert "idp_registration" not in cookies

    await press(page, page.get_by_role("link", name=RU["continue"]))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Создание пароля")
    await create_password(page, RU)
    await expect(page.get_by_text("Вернитесь на сайт")).to_be_visible()
