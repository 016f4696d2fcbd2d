"""A relying party on another site POSTs to ``/authorize`` and ``/logout`` (OIDC Core §3.1.2.1,
RP-Initiated Logout §2) in a real Chromium.

The SSO cookie is ``SameSite=Lax``, so the browser leaves it off a cross-site POST. The provider
answers such a POST with a page that posts the same form again from its own origin (by script,
or by its button without JavaScript); the re-post carries the cookie. Here the RP's page is on
``localhost`` and the provider on ``127.0.0.1``: two different sites to the browser.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from playwright.async_api import Browser as Chromium
from playwright.async_api import BrowserContext, Page, Request, Route

from idp.context import Context
from tests.e2e.conftest import client_address
from tests.support.browser import query
from tests.support.factories import RP, Person, make_person, make_rp
from tests.support.flows import auth_params, redeem
from tests.support.live import LiveServer
from tests.support.logout_kit import sessions_of_client

RP_PAGE = "http://localhost:9/rp"  # served by the test through Playwright; never dialled
RP_BUTTON = "#rp-form button"
REPOST_BUTTON = "form#repost button[type=submit]"


@pytest.fixture(params=[True, False], ids=["javascript", "no-javascript"])
def javascript(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
async def context(chromium: Chromium, javascript: bool) -> AsyncIterator[BrowserContext]:
    browser_context = await chromium.new_context(
        locale="ru-RU",
        java_script_enabled=javascript,
        extra_http_headers={"X-Forwarded-For": client_address()},
    )
    yield browser_context
    await browser_context.close()


@pytest.fixture
async def rp(ctx: Context, rp_callback: str) -> RP:
    return await make_rp(
        ctx,
        redirect_uri=rp_callback,
        post_logout_redirect_uris=[rp_callback.replace("/cb", "/bye")],
        require_consent=False,
    )


async def serve_rp_form(context: BrowserContext, action: str, fields: dict[str, str]) -> None:
    """The RP's page on another site: one form that POSTs ``fields`` to ``action``."""
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in fields.items()
    )
    body = (
        "<!doctype html><title>RP</title>"
        f'<form id="rp-form" method="post" action="{html.escape(action)}">{inputs}'
        "<button type=submit>go</button></form>"
    )

    async def fulfil(route: Route) -> None:
        await route.fulfill(status=200, content_type="text/html; charset=utf-8", body=body)

    await context.route(RP_PAGE, fulfil)


async def log_in(page: Page, server: LiveServer, rp: RP, person: Person) -> dict[str, str]:
    params, verifier = auth_params(rp)
    await page.goto(f"{server.url}/authorize?{urlencode(params)}")
    await page.locator("input[name=login]").fill(person.phone)
    await page.locator("input[name=password]").fill(person.password)
    await page.locator("form button[type=submit]:not([name])").click()
    await page.wait_for_url(lambda url: url.startswith(rp.redirect_uri + "?"))
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await redeem(http, rp, query(page.url)["code"], verifier)
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


async def idp_cookies(context: BrowserContext) -> dict[str, str]:
    return {c["name"]: c["value"] for c in await context.cookies() if c["name"].startswith("idp_")}


async def post_from_the_rp(page: Page, javascript: bool) -> None:
    await page.goto(RP_PAGE)
    assert urlsplit(page.url).hostname == "localhost"
    await page.locator(RP_BUTTON).click()
    if not javascript:
        # Without scripts the re-post page waits for the person to go on.
        await page.locator(REPOST_BUTTON).click()


async def test_cross_site_post_authorize_keeps_single_sign_on(
    ctx: Context, server: LiveServer, context: BrowserContext, rp: RP, javascript: bool
) -> None:
    person = await make_person(ctx)
    page = await context.new_page()
    await log_in(page, server, rp, person)
    before = await idp_cookies(context)
    assert {"idp_session", "idp_browser"} <= set(before)

    params, _ = auth_params(rp)
    await serve_rp_form(context, f"{server.url}/authorize", params)
    documents: list[str] = []

    def note(request: Request) -> None:
        if request.is_navigation_request():
            documents.append(request.url)

    page.on("request", note)
    await post_from_the_rp(page, javascript)
    await page.wait_for_url(
        lambda url: url.startswith(rp.redirect_uri + "?") or "/interaction/" in url
    )
    assert not [u for u in documents if "/interaction/" in u], documents  # no new login
    answer = query(page.url)
    assert answer["state"] == params["state"]
    assert answer["code"]
    assert await idp_cookies(context) == before  # the browser's cookies were not replaced


async def test_cross_site_post_logout_ends_the_session(
    ctx: Context, server: LiveServer, context: BrowserContext, rp: RP, javascript: bool
) -> None:
    person = await make_person(ctx)
    page = await context.new_page()
    tokens = await log_in(page, server, rp, person)
    [session] = await sessions_of_client(ctx, rp.client_id)
    assert session.ended_at is None

    goodbye = rp.redirect_uri.replace("/cb", "/bye")
    fields = {
        "id_token_hint": tokens["id_token"],
        "post_logout_redirect_uri": goodbye,
        "state": "bye-state",
    }
    await serve_rp_form(context, f"{server.url}/logout", fields)
    await post_from_the_rp(page, javascript)
    await page.wait_for_url(lambda url: url.startswith(goodbye + "?"))
    assert query(page.url) == {"state": "bye-state"}
    [session] = await sessions_of_client(ctx, rp.client_id)
    assert session.ended_at is not None, "the cross-site POST logout ended nothing"
    assert "idp_session" not in await idp_cookies(context)
