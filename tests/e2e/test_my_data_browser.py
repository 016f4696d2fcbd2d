"""The "My data" page in a real headless Chromium against the suite's server, whose workers run
the registry checks against the session's registry simulator: a person fills in their data,
saves it and watches the page update itself until the checks pass and the account is standard
(Russian, from registration; English, from the login page); a passport the ministry reports
invalid (the page says why and what to do, the level stays); a foreign citizen without a SNILS
(the page says why the level stays); refused fields shown beside each field. Without
JavaScript the same progress is reached with the page's "Refresh" link."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from playwright.async_api import Browser as Chromium
from playwright.async_api import BrowserContext, Locator, Page, expect

from idp.context import Context
from idp.web.i18n import Translator
from tests.e2e.conftest import client_address
from tests.support.factories import Person, make_person, random_phone, random_snils
from tests.support.live import LiveServer
from tests.support.mailbox import sms_code
from tests.support.my_data_kit import INVALID_PASSPORT, foreign_form, random_inn, random_passport

PASSWORD = "Violet-Orbit-73"
# The checks run in the server's workers against the simulator without latency: seconds.
SETTLED_MS = 45_000


@dataclass(frozen=True)
class Texts:
    """What a person reads on the pages, in one language."""

    lang: str
    locale: str

    @property
    def t(self) -> Translator:
        return Translator(self.lang)


RU = Texts("ru", "ru-RU")
EN = Texts("en", "en-US")


@pytest.fixture
async def contexts(chromium: Chromium) -> AsyncIterator[list[BrowserContext]]:
    opened: list[BrowserContext] = []
    yield opened
    for context in opened:
        await context.close()


async def new_page(
    chromium: Chromium, contexts: list[BrowserContext], texts: Texts, *, javascript: bool = True
) -> Page:
    context = await chromium.new_context(
        locale=texts.locale,
        java_script_enabled=javascript,
        extra_http_headers={"X-Forwarded-For": client_address()},
    )
    contexts.append(context)
    return await context.new_page()


async def press(page: Page, target: Locator) -> None:
    """Click and wait for the page it leads to."""
    async with page.expect_navigation():
        await target.click()


def field(page: Page, label: str) -> Locator:
    return page.locator("main").get_by_label(label, exact=True)


async def log_in(page: Page, server: LiveServer, person: Person, texts: Texts) -> None:
    """The console's own login page, coming back to "My data"."""
    await page.goto(f"{server.url}/account/personal-data")
    await page.wait_for_url("**/account/login?return=%2Faccount%2Fpersonal-data")
    await field(page, texts.t("login_field")).fill(person.phone)
    await field(page, texts.t("password_field")).fill(person.password)
    await press(page, page.locator("main form button[type=submit]").first)
    assert page.url == f"{server.url}/account/personal-data"


async def register(page: Page, server: LiveServer, ctx: Context) -> None:
    """A new person registers in Russian and lands in the console, signed in."""
    phone = random_phone()
    await page.goto(f"{server.url}/register")
    await field(page, "Фамилия").fill("Сидорова")
    await field(page, "Имя").fill("Анна")
    await field(page, "Мобильный телефон").fill(phone)
    await page.locator("#personal_data_consent").check()
    await press(page, page.get_by_role("button", name="Продолжить", exact=True))
    code, _ = await sms_code(ctx, phone)
    await field(page, "Код из SMS").fill(code)
    await press(page, page.get_by_role("button", name="Подтвердить", exact=True))
    await field(page, "Новый пароль").fill(PASSWORD)
    await field(page, "Повторите пароль").fill(PASSWORD)
    await press(page, page.get_by_role("button", name="Создать учётную запись", exact=True))
    await press(page, page.get_by_role("link", name="Перейти в личный кабинет"))
    assert page.url == f"{server.url}/account"


async def fill_russian(
    page: Page,
    texts: Texts,
    *,
    last: str,
    first: str,
    middle: str,
    sex: str,
    snils: str,
    passport: tuple[str, str],
) -> None:
    t = texts.t
    await field(page, t("last_name_field")).fill(last)
    await field(page, t("first_name_field")).fill(first)
    await field(page, t("middle_name_field")).fill(middle)
    await page.locator("main").get_by_label(t(f"my_data_sex_{sex}"), exact=True).check()
    await field(page, t("my_data_birth_date")).fill("1987-09-30")
    await field(page, t("my_data_birth_place")).fill("г. Тверь")
    await field(page, t("my_data_citizenship")).select_option("RUS")
    await field(page, t("my_data_document_kind")).select_option("ru_passport")
    await field(page, t("my_data_document_series")).fill(passport[0])
    await field(page, t("my_data_document_number")).fill(passport[1])
    await field(page, t("my_data_document_issued_on")).fill("2007-10-15")
    await field(page, t("my_data_document_issuer_code")).fill("690-001")
    await field(page, t("my_data_document_issuer")).fill("ОВД Центрального района г. Твери")
    await field(page, t("my_data_snils")).fill(snils)
    await field(page, t("my_data_inn")).fill(random_inn())


async def save(page: Page, texts: Texts) -> None:
    await press(page, page.get_by_role("button", name=texts.t("my_data_save_button")))


async def watch_the_checks_pass(page: Page, texts: Texts) -> None:
    """The page updates itself (no reload: a mark left on the window survives) until every
    check has passed and the level is standard."""
    t = texts.t
    await expect(page.get_by_role("status")).to_have_text(t("my_data_done_saved"))
    await expect(page.locator("#level")).to_have_text(t("level_simplified"))
    await expect(page.locator("#refresh-link")).to_be_visible()
    await page.evaluate("() => { window.notReloaded = true; }")
    await expect(page.locator("#level")).to_have_text(t("level_standard"), timeout=SETTLED_MS)
    for kind in ("person", "document", "inn"):
        check = page.locator(f"#check-{kind}")
        await expect(check).to_have_attribute("data-state", "succeeded")
        await expect(check).to_contain_text(t(f"kind.{kind}"))
        await expect(check).to_contain_text(t("state.succeeded"))
    await expect(page.locator("#progress-summary")).to_have_text(t("my_data_all_succeeded"))
    await expect(page.locator("#history")).to_contain_text(
        t(
            "my_data_history_entry",
            from_level=t("level_simplified"),
            to_level=t("level_standard"),
        )
    )
    await expect(page.locator("#refresh-link")).to_have_count(0)
    assert await page.evaluate("() => window.notReloaded === true")
    assert await page.locator("#progress").get_attribute("aria-live") == "polite"


async def test_a_new_person_becomes_standard_on_my_data_in_russian(
    chromium: Chromium, contexts: list[BrowserContext], server: LiveServer, ctx: Context
) -> None:
    page = await new_page(chromium, contexts, RU)
    await register(page, server, ctx)
    await expect(page.locator("#level")).to_have_text("упрощённая")
    # The overview's "next level" leads to the page; so does the navigation.
    await press(page, page.get_by_role("link", name="Заполнить личные данные"))
    assert page.url == f"{server.url}/account/personal-data"
    await expect(page.get_by_role("heading", level=1)).to_have_text("Мои данные")
    nav = page.get_by_role("navigation", name="Личный кабинет")
    await expect(nav.get_by_role("link", name="Мои данные")).to_have_attribute(
        "aria-current", "page"
    )
    await expect(page.locator("#progress-summary")).to_have_text(RU.t("my_data_no_data"))
    # The registration's names are there already.
    await expect(field(page, "Фамилия")).to_have_value("Сидорова")
    await fill_russian(
        page,
        RU,
        last="Сидорова",
        first="Анна",
        middle="Викторовна",
        sex="female",
        snils=random_snils(),
        passport=random_passport(),
    )
    await save(page, RU)
    await watch_the_checks_pass(page, RU)
    await expect(page.locator("#history")).to_contain_text("проверки в реестрах пройдены")
    # The overview says so too, and offers the next level.
    await press(page, page.get_by_role("link", name="Обзор", exact=True))
    await expect(page.locator("#level")).to_have_text("стандартная")


async def test_a_person_becomes_standard_on_my_data_in_english(
    chromium: Chromium, contexts: list[BrowserContext], server: LiveServer, ctx: Context
) -> None:
    person = await make_person(ctx)
    page = await new_page(chromium, contexts, EN)
    await log_in(page, server, person, EN)
    await expect(page.get_by_role("heading", level=1)).to_have_text("My data")
    await fill_russian(
        page,
        EN,
        last="Петров",
        first="Иван",
        middle="Сергеевич",
        sex="male",
        snils=person.snils,
        passport=random_passport(),
    )
    await save(page, EN)
    await watch_the_checks_pass(page, EN)
    await expect(page.locator("#history")).to_contain_text("the registry checks passed")


@pytest.mark.parametrize("texts", [RU, EN], ids=["ru", "en"])
async def test_a_passport_reported_invalid_says_why_and_the_level_stays(
    chromium: Chromium,
    contexts: list[BrowserContext],
    server: LiveServer,
    ctx: Context,
    texts: Texts,
) -> None:
    t = texts.t
    person = await make_person(ctx)
    page = await new_page(chromium, contexts, texts)
    await log_in(page, server, person, texts)
    await fill_russian(
        page,
        texts,
        last="Петров",
        first="Иван",
        middle="Сергеевич",
        sex="male",
        snils=person.snils,
        passport=INVALID_PASSPORT,
    )
    await save(page, texts)
    document = page.locator("#check-document")
    await expect(document).to_have_attribute("data-state", "failed", timeout=SETTLED_MS)
    await expect(document.locator(".check-state")).to_have_text(t("state.failed"))
    await expect(document.locator(".check-reason")).to_have_text(t("reason.document_invalid.title"))
    await expect(document.locator(".check-advice")).to_have_text(
        t("reason.document_invalid.advice")
    )
    assert t.has("reason.document_invalid.title")
    await expect(page.locator("#progress-summary")).to_have_text(
        t("my_data_some_failed"), timeout=SETTLED_MS
    )
    await expect(page.locator("#level")).to_have_text(t("level_simplified"))


@pytest.mark.parametrize("texts", [RU, EN], ids=["ru", "en"])
async def test_a_foreign_citizen_without_snils_is_told_why_the_level_stays(
    chromium: Chromium,
    contexts: list[BrowserContext],
    server: LiveServer,
    ctx: Context,
    texts: Texts,
) -> None:
    t = texts.t
    person = await make_person(ctx)
    page = await new_page(chromium, contexts, texts)
    await log_in(page, server, person, texts)
    data = foreign_form()
    await field(page, t("last_name_field")).fill(data["last_name"])
    await field(page, t("first_name_field")).fill(data["first_name"])
    await field(page, t("middle_name_field")).fill("")
    await page.locator("main").get_by_label(t("my_data_sex_female"), exact=True).check()
    await field(page, t("my_data_birth_date")).fill(data["birth_date"])
    await field(page, t("my_data_birth_place")).fill(data["birth_place"])
    await field(page, t("my_data_citizenship")).select_option(label=t("country_DEU"))
    await field(page, t("my_data_document_kind")).select_option("foreign_passport")
    await field(page, t("my_data_document_number")).fill(data["document_number"])
    await field(page, t("my_data_document_issued_on")).fill(data["document_issued_on"])
    await field(page, t("my_data_document_issuer")).fill(data["document_issuer"])
    await field(page, t("my_data_snils")).fill("")
    await save(page, texts)
    await expect(page.get_by_role("status")).to_have_text(t("my_data_done_saved_unchecked"))
    await expect(page.locator("#progress-summary")).to_have_text(
        t("my_data_none_because_foreign_without_snils")
    )
    await expect(page.locator("#level")).to_have_text(t("level_simplified"))
    await expect(page.locator("#refresh-link")).to_have_count(0)
    await expect(field(page, t("my_data_citizenship"))).to_have_value("DEU")


@pytest.mark.parametrize("texts", [RU, EN], ids=["ru", "en"])
async def test_refused_fields_are_shown_beside_each_field_without_javascript(
    chromium: Chromium,
    contexts: list[BrowserContext],
    server: LiveServer,
    ctx: Context,
    texts: Texts,
) -> None:
    t = texts.t
    person = await make_person(ctx)
    page = await new_page(chromium, contexts, texts, javascript=False)
    await log_in(page, server, person, texts)
    await fill_russian(
        page,
        texts,
        last="Petrov",  # Latin letters with a Russian passport
        first="Иван",
        middle="",
        sex="male",
        snils="123-456-789 00",  # a wrong check number
        passport=("45A6", "000001"),
    )
    await field(page, t("my_data_birth_date")).fill("2999-01-01")
    await save(page, texts)
    summary = page.locator(".error-summary")
    await expect(summary).to_be_visible()
    await expect(page).to_have_title(re.compile(f"^{t('error_title_prefix')} {t('my_data_title')}"))
    for name, code in (
        ("last_name", "name_ru"),
        ("birth_date", "birth_future"),
        ("document_series", "ru_series"),
        ("snils", "snils_check"),
    ):
        box = page.locator(f"main #{name}")
        await expect(box).to_have_attribute("aria-invalid", "true")
        await expect(box).to_have_attribute("aria-describedby", re.compile(rf"\b{name}-error\b"))
        await expect(page.locator(f"#{name}-error")).to_have_text(t(f"my_data_code_{code}"))
    # What was typed stays, right or wrong; nothing was saved.
    await expect(field(page, t("my_data_snils"))).to_have_value("123-456-789 00")
    await expect(field(page, t("first_name_field"))).to_have_value("Иван")
    await expect(field(page, t("first_name_field"))).not_to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#progress-summary")).to_have_text(t("my_data_no_data"))


async def test_without_javascript_the_refresh_link_shows_the_progress(
    chromium: Chromium, contexts: list[BrowserContext], server: LiveServer, ctx: Context
) -> None:
    person = await make_person(ctx)
    page = await new_page(chromium, contexts, RU, javascript=False)
    await log_in(page, server, person, RU)
    await fill_russian(
        page,
        RU,
        last="Петров",
        first="Иван",
        middle="Сергеевич",
        sex="male",
        snils=person.snils,
        passport=random_passport(),
    )
    await save(page, RU)
    deadline = time.monotonic() + SETTLED_MS / 1000
    while await page.locator("#refresh-link").count():
        assert time.monotonic() < deadline, "the checks did not settle"
        await press(page, page.locator("#refresh-link"))
    await expect(page.locator("#level")).to_have_text("стандартная")
    await expect(page.locator("#progress-summary")).to_have_text(RU.t("my_data_all_succeeded"))
