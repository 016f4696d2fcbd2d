"""The account console in a real headless Chromium, with JavaScript switched off: register,
land in the console, change the password after re-authenticating, end the session of another
device (its relying party receives the back-channel logout), withdraw a consent, and read the
recent sign-ins; the same pages in English."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from playwright.async_api import Browser as Chromium
from playwright.async_api import BrowserContext, Locator, Page, expect
from sqlalchemy import select, update

from idp.context import Context
from idp.db.models import Account, BrowserSession, Consent, Contact
from tests.e2e.conftest import client_address
from tests.support.browser import query
from tests.support.factories import RP, Person, make_person, make_rp, random_phone
from tests.support.flows import auth_params, redeem
from tests.support.live import LiveServer
from tests.support.logout_kit import LiveRP, RPFarm, sessions_of_client, wait_until
from tests.support.mailbox import sms_code

PASSWORD = "Violet-Orbit-73"
NEW_PASSWORD = "Cobalt-Meadow-94"


@pytest.fixture
async def farm(ctx: Context, server: LiveServer) -> AsyncIterator[RPFarm]:
    rps = RPFarm(ctx, server.url)
    yield rps
    await rps.close()


@pytest.fixture
async def contexts(chromium: Chromium) -> AsyncIterator[list[BrowserContext]]:
    opened: list[BrowserContext] = []
    yield opened
    for context in opened:
        await context.close()


async def no_js_page(
    chromium: Chromium, contexts: list[BrowserContext], locale: str = "ru-RU"
) -> Page:
    context = await chromium.new_context(
        locale=locale,
        java_script_enabled=False,
        extra_http_headers={"X-Forwarded-For": client_address()},
    )
    contexts.append(context)
    return await context.new_page()


@asynccontextmanager
async def screenshots_on_failure(
    contexts: list[BrowserContext], where: Path
) -> AsyncIterator[None]:
    """On failure, a full-page screenshot of every open page under ``where/screenshots`` (kept
    with pytest's temporary directories), named by context and page."""
    try:
        yield
    except BaseException:
        folder = where / "screenshots"
        folder.mkdir(exist_ok=True)
        for i, context in enumerate(contexts):
            for j, page in enumerate(context.pages):
                await page.screenshot(path=folder / f"context{i}-page{j}.png", full_page=True)
        raise


async def press(page: Page, target: Locator) -> None:
    """Click and wait for the page it leads to."""
    async with page.expect_navigation():
        await target.click()


def button(page: Page, name: str) -> Locator:
    return page.get_by_role("button", name=name, exact=True)


def field(page: Page, label: str) -> Locator:
    return page.get_by_label(label, exact=True)


def nav(page: Page, name: str) -> Locator:
    return page.get_by_role("navigation").get_by_role("link", name=name, exact=True)


async def register(page: Page, server: LiveServer, ctx: Context, phone: str) -> None:
    await page.goto(f"{server.url}/register")
    await field(page, "Фамилия").fill("Сидорова")
    await field(page, "Имя").fill("Анна")
    await field(page, "Мобильный телефон").fill(phone)
    await page.locator("#personal_data_consent").check()  # 152-FZ consent, required
    await press(page, button(page, "Продолжить"))
    code, _ = await sms_code(ctx, phone)
    await field(page, "Код из SMS").fill(code)
    await press(page, button(page, "Подтвердить"))
    await field(page, "Новый пароль").fill(PASSWORD)
    await field(page, "Повторите пароль").fill(PASSWORD)
    await press(page, button(page, "Создать учётную запись"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Учётная запись создана")


async def log_in_at_rp(page: Page, server: LiveServer, rp: RP, login: str, password: str) -> None:
    """Authorize at ``rp`` in this browser (logging in, allowing if asked); redeem the code."""
    params, verifier = auth_params(rp)
    await page.goto(f"{server.url}/authorize?{urlencode(params)}")
    if "/interaction/" in page.url and await page.locator("input[name=login]").count():
        await page.locator("input[name=login]").fill(login)
        await page.locator("input[name=password]").fill(password)
        await page.locator("form button[type=submit]:not([name])").click()
        await page.wait_for_load_state()
    if "/interaction/" in page.url:
        await button(page, "Разрешить").click()
    await page.wait_for_url(lambda url: url.startswith(rp.redirect_uri + "?"))
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await redeem(http, rp, query(page.url)["code"], verifier)
    assert response.status_code == 200, response.text


async def age_logins(ctx: Context, account_id: object, seconds: int) -> None:
    """Make the account's logins older than the re-authentication window."""
    async with ctx.db.transaction() as session:
        await session.execute(
            update(BrowserSession)
            .where(BrowserSession.account_id == account_id)
            .values(auth_time=ctx.clock.now() - timedelta(seconds=seconds))
        )


async def test_register_then_manage_the_account_without_javascript(
    chromium: Chromium,
    contexts: list[BrowserContext],
    server: LiveServer,
    ctx: Context,
    farm: RPFarm,
    rp_callback: str,
    tmp_path: Path,
) -> None:
    async with screenshots_on_failure(contexts, tmp_path):
        page = await no_js_page(chromium, contexts)
        phone = random_phone()
        await register(page, server, ctx, phone)

        # Signed in by creating the password: the link leads straight into the console.
        await press(page, page.get_by_role("link", name="Перейти в личный кабинет"))
        assert page.url == f"{server.url}/account"
        await expect(page.get_by_role("heading", level=1)).to_have_text("Личный кабинет")
        await expect(page.locator("#level")).to_have_text("упрощённая")
        await expect(page.get_by_text("Следующий уровень — «стандартная»")).to_be_visible()
        async with ctx.db.read() as session:
            account_id = (
                await session.scalars(
                    select(Contact.account_id).where(Contact.value_lookup == phone)
                )
            ).one()
            account = await session.get(Account, account_id)
            assert account is not None
            assert account.first_name == "Анна"

        # The password, after the login has aged: the console asks for it again first.
        await age_logins(ctx, account_id, ctx.settings.console.reauth_within + 60)
        await press(page, nav(page, "Пароль"))
        await expect(page.get_by_role("heading", level=1)).to_have_text("Подтвердите, что это вы")
        await field(page, "Пароль").fill("Not-The-One-1")
        await press(page, button(page, "Продолжить"))
        await expect(page.get_by_role("alert")).to_have_text("Неверный пароль.")
        await field(page, "Пароль").fill(PASSWORD)
        await press(page, button(page, "Продолжить"))
        await expect(page.get_by_role("heading", level=1)).to_have_text("Смена пароля")
        await field(page, "Текущий пароль").fill(PASSWORD)
        await field(page, "Новый пароль").fill(NEW_PASSWORD)
        await field(page, "Повторите пароль").fill(NEW_PASSWORD)
        await press(page, button(page, "Сменить пароль"))
        await expect(page.get_by_role("status")).to_contain_text("Пароль изменён")

        # Another device signs in to an RP with the new password; the console ends that session.
        tax: LiveRP = await farm.add(name="Налоговая служба")
        other = await no_js_page(chromium, contexts)
        await log_in_at_rp(other, server, tax.rp, phone, NEW_PASSWORD)
        [phone_session] = await sessions_of_client(ctx, tax.client_id)
        await press(page, nav(page, "Сеансы и сайты"))
        row = page.locator(f"#session-{phone_session.id}")
        await expect(row).to_contain_text("Налоговая служба")
        await press(page, row.get_by_role("button", name="Завершить этот сеанс"))
        await expect(page.get_by_role("status")).to_contain_text("Сеанс завершён")
        await expect(page.locator(f"#session-{phone_session.id}")).to_have_count(0)
        await wait_until(lambda: len(tax.fake.received) == 1, "the RP's back-channel logout")
        assert tax.fake.problems == []
        assert tax.fake.received[0].claims["sid"] == phone_session.sid

        # A site that asked for consent, then the consent withdrawn in the console.
        mail = await make_rp(
            ctx, name="Почта России", redirect_uri=rp_callback, require_consent=True
        )
        await log_in_at_rp(page, server, mail, phone, NEW_PASSWORD)
        await page.goto(f"{server.url}/account/consents")
        entry = page.locator(f"#consent-{mail.client_id}")
        await expect(entry).to_contain_text("Почта России")
        await press(
            page, entry.get_by_role("button", name="Отозвать разрешение у сайта Почта России")
        )
        await expect(page.get_by_role("status")).to_contain_text("Разрешение отозвано")
        await expect(page.locator(f"#consent-{mail.client_id}")).to_have_count(0)
        async with ctx.db.read() as session:
            assert await session.get(Consent, (account_id, mail.client_id)) is None

        # Recent sign-ins: the registration's own sign-in, on this device, is among them.
        await press(page, nav(page, "Последние входы"))
        await expect(page.locator("table.sign-ins tbody tr").first).to_be_visible()
        await expect(page.locator("table.sign-ins")).to_contain_text("Chrome on Linux")


async def test_console_in_english_from_the_login_page(
    chromium: Chromium,
    contexts: list[BrowserContext],
    server: LiveServer,
    ctx: Context,
    tmp_path: Path,
) -> None:
    async with screenshots_on_failure(contexts, tmp_path):
        person: Person = await make_person(ctx)
        page = await no_js_page(chromium, contexts, locale="en-US")
        await page.goto(f"{server.url}/account/sessions")
        assert page.url == f"{server.url}/account/login?return=%2Faccount%2Fsessions"
        await expect(page.get_by_role("heading", level=1)).to_have_text("Log in to your account")
        await field(page, "Phone, e-mail or SNILS").fill(person.phone)
        await field(page, "Password").fill(person.password)
        await press(page, button(page, "Log in"))
        assert page.url == f"{server.url}/account/sessions"
        await expect(page.get_by_role("heading", level=1)).to_have_text("Sessions and sites")
        await expect(page.get_by_text("this device")).to_be_visible()
        await press(page, nav(page, "Overview"))
        await expect(page.locator("#level")).to_have_text("simplified")
        await press(page, button(page, "Log out"))
        await expect(page.get_by_role("heading", level=1)).to_have_text("You are logged out")
        await press(page, page.get_by_role("link", name="Go to your account"))
        assert page.url.startswith(f"{server.url}/account/login")
