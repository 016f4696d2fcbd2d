"""The pages of a login in a real headless Chromium, as a person meets them.

What CONTRACT.md promises about the login, consent and level pages (forms, field names,
buttons and where each leads), plus what a browser alone can check: accessible labels, the
page language, security headers, and that single sign-on skips the login form.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
import jwt
import pytest
from playwright.async_api import Page, Request

from idp.accounts.identifiers import format_snils
from idp.context import Context
from tests.support.browser import query
from tests.support.factories import RP, Person, make_person, make_rp
from tests.support.flows import auth_params, redeem
from tests.support.live import LiveServer

if TYPE_CHECKING:
    from tests.e2e.conftest import OpenPage

LOGIN_LABEL = "Телефон, почта или СНИЛС"
PASSWORD_LABEL = "Пароль"
LOGIN_BUTTON = "form button[type=submit]:not([name])"
DENY_BUTTON = "form button[name=decision][value=deny]"
ALLOW_BUTTON = "form button[name=decision][value=allow]"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def callback_rp(ctx: Context, rp_callback: str) -> RP:
    return await make_rp(ctx, redirect_uri=rp_callback, require_consent=False)


def authorization(server: LiveServer, rp: RP) -> tuple[str, dict[str, str], str]:
    """The authorization URL, its parameters and the PKCE verifier."""
    params, verifier = auth_params(rp)
    return f"{server.url}/authorize?{urlencode(params)}", params, verifier


async def press(page: Page, button: str) -> None:
    """Click a submit button and wait for the page the form leads to (so that nothing is
    read from the page being left)."""
    async with page.expect_navigation():
        await page.locator(button).click()


async def log_in(page: Page, login: str, password: str) -> None:
    await page.get_by_label(LOGIN_LABEL, exact=True).fill(login)
    await page.get_by_label(PASSWORD_LABEL, exact=True).fill(password)
    await press(page, LOGIN_BUTTON)


async def back_at(page: Page, rp: RP) -> dict[str, str]:
    """Wait until the browser lands on the RP's callback; return its query."""
    await page.wait_for_url(lambda url: url.startswith(rp.redirect_uri + "?"))
    return query(page.url)


async def pass_through_without_pages(page: Page, url: str) -> None:
    """Go to ``url`` and check the browser met none of our pages (no login, no consent) on
    its way back to the client."""
    documents: list[str] = []

    def note(request: Request) -> None:
        if request.is_navigation_request():
            documents.append(request.url)

    page.on("request", note)
    await page.goto(url)
    page.remove_listener("request", note)
    assert "/authorize?" in documents[0], documents
    assert not [u for u in documents if "/interaction/" in u], documents


async def redeemed_id_token(server: LiveServer, rp: RP, code: str, verifier: str) -> dict[str, Any]:
    """Redeem the code as the RP would; return the ID token's claims. Its signature is
    checked in test_rp_authlib.py; here only who logged in, and when, matters."""
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await redeem(http, rp, code, verifier)
    assert response.status_code == 200, response.text
    claims: dict[str, Any] = jwt.decode(
        response.json()["id_token"], options={"verify_signature": False}
    )
    return claims


# --- the login page -----------------------------------------------------------------------


async def test_login_page_has_one_post_form_with_login_and_password(
    page: Page, server: LiveServer, callback_rp: RP
) -> None:
    url, _, _ = authorization(server, callback_rp)
    await page.goto(url)
    forms = page.locator("form")
    assert await forms.count() == 1
    assert (await forms.get_attribute("method") or "").lower() == "post"
    assert await forms.locator("input[name=login]").count() == 1
    assert await forms.locator("input[name=password]").get_attribute("type") == "password"
    assert await page.locator(DENY_BUTTON).count() == 1


async def test_login_inputs_have_accessible_labels(
    page: Page, server: LiveServer, callback_rp: RP
) -> None:
    url, _, _ = authorization(server, callback_rp)
    await page.goto(url)
    login = page.get_by_label(LOGIN_LABEL, exact=True)
    password = page.get_by_label(PASSWORD_LABEL, exact=True)
    assert await login.get_attribute("name") == "login"
    assert await password.get_attribute("name") == "password"


async def test_login_page_is_russian_when_the_browser_prefers_no_supported_language(
    open_page: OpenPage, server: LiveServer, callback_rp: RP
) -> None:
    page = await open_page(locale="de-DE")
    url, _, _ = authorization(server, callback_rp)
    await page.goto(url)
    assert await page.locator("html").get_attribute("lang") == "ru"


async def test_login_page_is_english_for_an_english_browser(
    open_page: OpenPage, server: LiveServer, callback_rp: RP
) -> None:
    page = await open_page(locale="en-US")
    url, _, _ = authorization(server, callback_rp)
    await page.goto(url)
    assert await page.locator("html").get_attribute("lang") == "en"
    assert await page.get_by_label("Password", exact=True).get_attribute("name") == "password"


async def test_login_page_forbids_framing_and_referrers(
    page: Page, server: LiveServer, callback_rp: RP
) -> None:
    url, _, _ = authorization(server, callback_rp)
    response = await page.goto(url)
    assert response is not None
    assert "/interaction/" in response.url, "goto returns the page after the redirects"
    headers = await response.all_headers()
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer"


async def test_login_page_screenshot_is_a_png(
    page: Page, server: LiveServer, callback_rp: RP, tmp_path: Path
) -> None:
    url, _, _ = authorization(server, callback_rp)
    await page.goto(url)
    shot = tmp_path / "login.png"
    await page.screenshot(path=shot, full_page=True)
    data = shot.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > len(PNG_SIGNATURE)


# --- logging in ---------------------------------------------------------------------------

LOGINS: dict[str, Callable[[Person], str]] = {
    "phone": lambda person: person.phone,
    "email": lambda person: person.email,
    "snils": lambda person: format_snils(person.snils),  # as printed: 123-456-789 64
}


@pytest.mark.parametrize("kind", list(LOGINS))
async def test_logging_in_reaches_the_rp_with_code_state_and_iss(
    kind: str, page: Page, server: LiveServer, callback_rp: RP, person: Person
) -> None:
    url, params, verifier = authorization(server, callback_rp)
    await page.goto(url)
    await log_in(page, LOGINS[kind](person), person.password)
    callback = await back_at(page, callback_rp)
    assert callback["state"] == params["state"]
    assert callback["iss"] == server.url
    claims = await redeemed_id_token(server, callback_rp, callback["code"], verifier)
    assert claims["sub"] == person.account.sub


async def test_wrong_password_and_unknown_login_show_the_same_error(
    page: Page, server: LiveServer, callback_rp: RP, person: Person
) -> None:
    url, _, _ = authorization(server, callback_rp)
    await page.goto(url)
    await log_in(page, person.phone, person.password + "-wrong")
    wrong_password = (await page.get_by_role("alert").inner_text()).strip()
    await log_in(page, "nobody-here@example.ru", person.password)
    unknown_login = (await page.get_by_role("alert").inner_text()).strip()
    assert wrong_password
    assert wrong_password == unknown_login
    assert await page.get_by_label(LOGIN_LABEL).input_value() == "nobody-here@example.ru"
    assert await page.get_by_label(PASSWORD_LABEL, exact=True).count() == 1


async def test_cancel_on_the_login_page_returns_access_denied(
    page: Page, server: LiveServer, callback_rp: RP
) -> None:
    url, params, _ = authorization(server, callback_rp)
    await page.goto(url)
    await press(page, DENY_BUTTON)
    callback = await back_at(page, callback_rp)
    assert callback["error"] == "access_denied"
    assert callback["state"] == params["state"]
    assert callback["iss"] == server.url
    assert "code" not in callback


# --- consent ------------------------------------------------------------------------------


@pytest.fixture
async def consent_rp(ctx: Context, rp_callback: str) -> RP:
    return await make_rp(ctx, redirect_uri=rp_callback, require_consent=True)


async def test_consent_page_has_one_post_form_with_allow_and_deny(
    page: Page, server: LiveServer, consent_rp: RP, person: Person
) -> None:
    url, _, _ = authorization(server, consent_rp)
    await page.goto(url)
    await log_in(page, person.phone, person.password)
    assert await page.locator(ALLOW_BUTTON).count() == 1
    forms = page.locator("form")
    assert await forms.count() == 1
    assert (await forms.get_attribute("method") or "").lower() == "post"
    assert await page.locator(DENY_BUTTON).count() == 1


async def test_denying_consent_returns_access_denied(
    page: Page, server: LiveServer, consent_rp: RP, person: Person
) -> None:
    url, params, _ = authorization(server, consent_rp)
    await page.goto(url)
    await log_in(page, person.phone, person.password)
    assert await page.locator(ALLOW_BUTTON).count() == 1, "the consent page is shown"
    await press(page, DENY_BUTTON)
    callback = await back_at(page, consent_rp)
    assert callback["error"] == "access_denied"
    assert callback["state"] == params["state"]
    assert callback["iss"] == server.url


async def test_allowed_consent_is_remembered_for_the_same_scopes(
    page: Page, server: LiveServer, consent_rp: RP, person: Person
) -> None:
    url, _, _ = authorization(server, consent_rp)
    await page.goto(url)
    await log_in(page, person.phone, person.password)
    await press(page, ALLOW_BUTTON)
    assert "code" in await back_at(page, consent_rp)

    again, params, _ = authorization(server, consent_rp)
    await pass_through_without_pages(page, again)
    callback = await back_at(page, consent_rp)
    assert "code" in callback
    assert callback["state"] == params["state"]


# --- levels -------------------------------------------------------------------------------


async def test_too_low_level_page_explains_and_returns_unmet_requirements(
    page: Page, server: LiveServer, ctx: Context, rp_callback: str
) -> None:
    rp = await make_rp(ctx, redirect_uri=rp_callback, require_consent=False, min_level="standard")
    person = await make_person(ctx, level="simplified")
    url, params, _ = authorization(server, rp)
    await page.goto(url)
    await log_in(page, person.phone, person.password)
    assert await page.locator("input[name=password]").count() == 0
    text = await page.locator("main").inner_text()
    assert "стандартная" in text, "names the level the client requires"
    assert "упрощённая" in text, "names the level the account has"
    assert "повысить уровень" in text, "says how to raise the level"
    await press(page, DENY_BUTTON)
    callback = await back_at(page, rp)
    assert callback["error"] == "unmet_authentication_requirements"
    assert callback["state"] == params["state"]
    assert callback["iss"] == server.url
    assert "code" not in callback


# --- single sign-on -----------------------------------------------------------------------


async def test_second_rp_authorizes_without_a_login_form(
    page: Page, server: LiveServer, ctx: Context, callback_rp: RP, person: Person
) -> None:
    url, _, verifier = authorization(server, callback_rp)
    await page.goto(url)
    await log_in(page, person.phone, person.password)
    code = (await back_at(page, callback_rp))["code"]
    first = await redeemed_id_token(server, callback_rp, code, verifier)

    second_rp = await make_rp(ctx, redirect_uri=callback_rp.redirect_uri, require_consent=False)
    url, params, verifier = authorization(server, second_rp)
    await pass_through_without_pages(page, url)
    callback = await back_at(page, second_rp)
    assert callback["state"] == params["state"]
    second = await redeemed_id_token(server, second_rp, callback["code"], verifier)
    assert second["sub"] == first["sub"] == person.account.sub
    # One login, one session: the same sid and auth_time for both RPs.
    assert second["sid"] == first["sid"]
    assert second["auth_time"] == first["auth_time"]
