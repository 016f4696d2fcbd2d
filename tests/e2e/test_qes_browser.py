"""Confirming an account with a qualified e-signature in a real headless Chromium, against the
suite's server (dev mode: its development CA is trusted and signs), in Russian and English:
a standard account logs in to the console, opens ``/account/confirm``, gets the text to sign,
has the development certificate sign it, submits it and sees the account confirmed; the
session the page's answer rotated carries on, and a code flow at a client that admits
confirmed accounts only gets ``acr=confirmed`` and ``confirmation_method=qes``. A signature
by another person's certificate is refused with the reason in words."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import jwt
import pytest
from playwright.async_api import Browser as Chromium
from playwright.async_api import BrowserContext, Page, expect

from idp.context import Context
from idp.settings import Settings
from idp.signatures.dev.ca import DevCA
from idp.signatures.dev.pki import make_person as make_certificate
from idp.signatures.dev.pki import sign_cms
from idp.web.i18n import Translator
from tests.e2e.conftest import client_address
from tests.support.browser import query
from tests.support.factories import Person, make_person, make_rp, random_snils
from tests.support.flows import auth_params, redeem
from tests.support.live import LiveServer

PAGE = "/account/confirm"


@dataclass(frozen=True)
class Texts:
    lang: str
    locale: str

    @property
    def t(self) -> Translator:
        return Translator(self.lang)


LANGUAGES = [Texts("ru", "ru-RU"), Texts("en", "en-US")]


@pytest.fixture
async def contexts(chromium: Chromium) -> AsyncIterator[list[BrowserContext]]:
    opened: list[BrowserContext] = []
    yield opened
    for context in opened:
        await context.close()


async def new_page(chromium: Chromium, contexts: list[BrowserContext], texts: Texts) -> Page:
    context = await chromium.new_context(
        locale=texts.locale, extra_http_headers={"X-Forwarded-For": client_address()}
    )
    contexts.append(context)
    return await context.new_page()


async def open_confirm_page(page: Page, server: LiveServer, person: Person, texts: Texts) -> None:
    """The console's own login, coming back to the confirmation page."""
    t = texts.t
    await page.goto(f"{server.url}{PAGE}")
    await page.wait_for_url("**/account/login?return=%2Faccount%2Fconfirm")
    main = page.locator("main")
    await main.get_by_label(t("login_field"), exact=True).fill(person.phone)
    await main.get_by_label(t("password_field"), exact=True).fill(person.password)
    async with page.expect_navigation():
        await main.locator("form button[type=submit]").first.click()
    assert page.url == f"{server.url}{PAGE}"
    await expect(page.locator("#level")).to_have_text(t("level_standard"))


async def get_challenge(page: Page, texts: Texts) -> str:
    await page.get_by_role("button", name=texts.t("qes_get_challenge")).click()
    text = page.locator("#challenge-text")
    await expect(text).to_contain_text("idp qes confirm")
    return await text.inner_text()


@pytest.mark.parametrize("texts", LANGUAGES, ids=[t.lang for t in LANGUAGES])
async def test_a_person_confirms_with_the_development_certificate(
    chromium: Chromium,
    contexts: list[BrowserContext],
    server: LiveServer,
    ctx: Context,
    rp_callback: str,
    texts: Texts,
) -> None:
    t = texts.t
    person = await make_person(ctx, level="standard")
    page = await new_page(chromium, contexts, texts)
    await open_confirm_page(page, server, person, texts)

    await get_challenge(page, texts)
    await page.get_by_role("button", name=t("qes_dev_sign")).click()
    await expect(page.locator("#signature")).not_to_have_value("")
    await page.get_by_role("button", name=t("qes_submit")).click()
    await expect(page.locator("#qes-result")).to_have_text(t("qes_msg.confirmed"))
    await expect(page.locator("#level")).to_have_text(t("qes_msg.level-confirmed"))
    await expect(page.locator("#qes-app")).to_be_hidden()

    # The cookie the answer rotated is the browser's session now.
    await page.reload()
    await expect(page.locator("#level")).to_have_text(t("level_confirmed"))
    await expect(page.locator("#qes-state")).to_have_text(t("qes_already_confirmed"))
    await expect(page.locator("main")).to_contain_text(t("console_method_qes"))

    # Single sign-on at a client that admits confirmed accounts only.
    rp = await make_rp(ctx, redirect_uri=rp_callback, min_level="confirmed", require_consent=False)
    params, verifier = auth_params(rp)
    await page.goto(f"{server.url}/authorize?{urlencode(params)}")
    await page.wait_for_url(lambda url: url.startswith(rp_callback + "?"))
    async with httpx.AsyncClient(base_url=server.url) as http:
        tokens = await redeem(http, rp, query(page.url)["code"], verifier)
    assert tokens.status_code == 200, tokens.text
    claims = jwt.decode(tokens.json()["id_token"], options={"verify_signature": False})
    assert claims["acr"] == "confirmed"
    assert claims["assurance_level"] == "confirmed"
    assert claims["confirmation_method"] == "qes"


@pytest.mark.parametrize("texts", LANGUAGES, ids=[t.lang for t in LANGUAGES])
async def test_another_persons_signature_is_refused_with_the_reason(
    chromium: Chromium,
    contexts: list[BrowserContext],
    server: LiveServer,
    ctx: Context,
    settings: Settings,
    texts: Texts,
) -> None:
    t = texts.t
    person = await make_person(ctx, level="standard")
    page = await new_page(chromium, contexts, texts)
    await open_confirm_page(page, server, person, texts)

    content = await get_challenge(page, texts)
    # Someone else's certificate from the same (trusted) CA signs the very text shown.
    ca = DevCA.load_or_create(settings.var_dir, settings.issuer)
    other = ca.sign(content.encode(), random_snils(), "Сидорова", "Анна Павловна")
    await page.locator("#signature").fill(base64.b64encode(other).decode())
    await page.get_by_role("button", name=t("qes_submit")).click()
    expected = " ".join((t("qes_msg.identity-mismatch-snils"), t("qes_msg.identity-mismatch-name")))
    await expect(page.locator("#qes-result .error")).to_have_text(expected)
    await expect(page.locator("#level")).to_have_text(t("level_standard"))

    await page.reload()
    await expect(page.locator("#level")).to_have_text(t("level_standard"))


@pytest.mark.parametrize("texts", LANGUAGES, ids=[t.lang for t in LANGUAGES])
async def test_an_organizations_certificate_is_refused_with_the_reason(
    chromium: Chromium,
    contexts: list[BrowserContext],
    server: LiveServer,
    ctx: Context,
    settings: Settings,
    texts: Texts,
) -> None:
    t = texts.t
    person = await make_person(ctx, level="standard")
    page = await new_page(chromium, contexts, texts)
    await open_confirm_page(page, server, person, texts)

    content = await get_challenge(page, texts)
    # The person's own SNILS and names, but as the head of an organization (OGRN, its INN).
    ca = DevCA.load_or_create(settings.var_dir, settings.issuer)
    head = make_certificate(
        ca.root,
        "p256",
        snils=person.snils,
        surname="Петров",
        given_names="Иван Сергеевич",
        ogrn="1027700132195",
        innle="7707083893",
        organization="ООО Ромашка",
        crl_url=ca.crl_url,
    )
    signature = sign_cms(content.encode(), head)
    await page.locator("#signature").fill(base64.b64encode(signature).decode())
    await page.get_by_role("button", name=t("qes_submit")).click()
    await expect(page.locator("#qes-result .error")).to_have_text(
        t("qes_msg.organization-certificate")
    )
    await expect(page.locator("#level")).to_have_text(t("level_standard"))
