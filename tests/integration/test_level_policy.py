"""A client's level requirements (CONTRACT.md "Pages a browser meets", OpenID Connect Unmet
Authentication Requirements 1.0): no code for an account below them, and tokens never claim
more than the account has (OIDC Core §3.1.2.1 acr_values are voluntary)."""

from __future__ import annotations

import httpx
import jwt
import pytest

from idp.context import Context
from tests.support.browser import Browser, query
from tests.support.factories import RP, Person, make_person, make_rp
from tests.support.flows import auth_params, log_in, login_page, redeem
from tests.support.live import LiveServer


async def submit_login(
    browser: Browser, rp: RP, person: Person, **extra: str
) -> tuple[httpx.Response, dict[str, str]]:
    params, _ = auth_params(rp, **extra)
    page = await login_page(browser, params)
    response = await browser.submit(page, {"login": person.phone, "password": person.password})
    assert response.status_code == 303, response.text[:300]
    return response, params


async def stops_at_unmet_page(browser: Browser, rp: RP, response: httpx.Response) -> httpx.Response:
    location = response.headers["location"]
    assert not location.startswith(rp.redirect_uri), location
    page = await browser.get(location)
    assert page.status_code == 200
    assert 'value="deny"' in page.text
    assert 'name="password"' not in page.text
    assert 'href="/account"' in page.text  # the way to raise the level starts in the console
    return page


def reaches_client_with_code(rp: RP, response: httpx.Response) -> str:
    location = response.headers["location"]
    assert location.startswith(rp.redirect_uri), location
    return query(location)["code"]


async def test_level_below_the_minimum_gets_a_page_not_a_code(
    server: LiveServer, ctx: Context, browser: Browser, person: Person
) -> None:
    strict = await make_rp(ctx, min_level="standard", require_consent=False)
    response, params = await submit_login(browser, strict, person)
    page = await stops_at_unmet_page(browser, strict, response)

    back = await browser.submit(page, {"decision": "deny"})
    assert back.status_code == 303
    answer = query(back.headers["location"])
    assert back.headers["location"].startswith(strict.redirect_uri)
    assert "code" not in answer
    assert answer["error"] in ("access_denied", "unmet_authentication_requirements")
    assert answer["state"] == params["state"]
    assert answer["iss"] == server.url


async def test_allow_on_the_unmet_page_issues_no_code(
    ctx: Context, browser: Browser, person: Person
) -> None:
    strict = await make_rp(ctx, min_level="standard", require_consent=False)
    response, _ = await submit_login(browser, strict, person)
    page = await stops_at_unmet_page(browser, strict, response)
    forced = await browser.submit(page, {"decision": "allow"})
    location = forced.headers.get("location", "")
    assert not (location.startswith(strict.redirect_uri) and "code=" in location)


async def test_level_below_the_minimum_with_prompt_none_is_an_error(
    server: LiveServer, ctx: Context, browser: Browser, rp: RP, person: Person
) -> None:
    await log_in(browser, rp, person)  # a session exists
    strict = await make_rp(ctx, min_level="standard", require_consent=False)
    params, _ = auth_params(strict, prompt="none")
    response = await browser.authorize(params)
    assert response.status_code == 303
    answer = query(response.headers["location"])
    assert answer["error"] == "unmet_authentication_requirements"
    assert answer["state"] == params["state"]
    assert answer["iss"] == server.url


@pytest.mark.parametrize(
    ("level", "method"),
    [("standard", None), ("confirmed", "service_center")],
)
async def test_level_at_or_above_the_minimum_gets_a_code(
    ctx: Context, browser: Browser, level: str, method: str | None
) -> None:
    strict = await make_rp(ctx, min_level="standard", require_consent=False)
    person = await make_person(ctx, level=level, method=method)
    response, _ = await submit_login(browser, strict, person)
    assert reaches_client_with_code(strict, response)


async def test_forbidden_confirmation_method_is_refused(ctx: Context, browser: Browser) -> None:
    picky = await make_rp(ctx, forbidden_confirmation_methods=["post"], require_consent=False)
    by_post = await make_person(ctx, level="confirmed", method="post")
    response, _ = await submit_login(browser, picky, by_post)
    await stops_at_unmet_page(browser, picky, response)


async def test_allowed_confirmation_method_is_accepted(ctx: Context, browser: Browser) -> None:
    picky = await make_rp(ctx, forbidden_confirmation_methods=["post"], require_consent=False)
    by_qes = await make_person(ctx, level="confirmed", method="qes")
    response, _ = await submit_login(browser, picky, by_qes)
    assert reaches_client_with_code(picky, response)


async def test_acr_values_never_raise_the_claimed_level(
    server: LiveServer, browser: Browser, rp: RP, person: Person
) -> None:
    callback, verifier, _ = await log_in(browser, rp, person, acr_values="confirmed")
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await redeem(http, rp, callback["code"], verifier)
    assert response.status_code == 200, response.text
    claims = jwt.decode(response.json()["id_token"], options={"verify_signature": False})
    assert claims["acr"] == "simplified"
    assert claims["assurance_level"] == "simplified"
    assert "confirmation_method" not in claims


async def test_confirmed_account_claims_its_method(
    server: LiveServer, ctx: Context, browser: Browser, rp: RP
) -> None:
    person = await make_person(ctx, level="confirmed", method="qes")
    callback, verifier, _ = await log_in(browser, rp, person)
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await redeem(http, rp, callback["code"], verifier)
    claims = jwt.decode(response.json()["id_token"], options={"verify_signature": False})
    assert claims["acr"] == "confirmed"
    assert claims["confirmation_method"] == "qes"
