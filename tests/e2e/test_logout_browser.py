"""Front-Channel Logout 1.0 in a real headless Chromium (conformance
``oidcc-frontchannel-rp-initiated-logout``): the logout page loads one iframe per RP with
``iss`` and ``sid``, then moves on to the ``post_logout_redirect_uri`` by itself, with or
without JavaScript (``<meta http-equiv="refresh">``)."""

from __future__ import annotations

import html
import re
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from playwright.async_api import Browser as Chromium
from playwright.async_api import BrowserContext, Page

from idp.context import Context
from idp.settings import Settings
from tests.e2e.conftest import client_address
from tests.support.browser import query
from tests.support.factories import Person, make_person
from tests.support.flows import auth_params, redeem
from tests.support.live import LiveServer
from tests.support.logout_kit import LiveRP, RPFarm, sessions_of_client, unverified, wait_until

STATE = "fc-state"
_IFRAME = re.compile(r'<iframe src="([^"]+)"')
_REFRESH = re.compile(r'<meta http-equiv="refresh" content="(\d+);url=([^"]+)">')


@pytest.fixture
async def farm(ctx: Context, server: LiveServer) -> AsyncIterator[RPFarm]:
    rps = RPFarm(ctx, server.url)
    yield rps
    await rps.close()


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


async def log_in_at(page: Page, server: LiveServer, live: LiveRP, person: Person) -> dict[str, Any]:
    """Authorize in the browser (logging in if asked) and redeem the code: the token response."""
    params, verifier = auth_params(live.rp)
    await page.goto(f"{server.url}/authorize?{urlencode(params)}")
    if "/interaction/" in page.url:
        await page.locator("input[name=login]").fill(person.phone)
        await page.locator("input[name=password]").fill(person.password)
        await page.locator("form button[type=submit]:not([name])").click()
    await page.wait_for_url(lambda url: url.startswith(live.rp.redirect_uri + "?"))
    callback = query(page.url)
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await redeem(http, live.rp, callback["code"], verifier)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def logout_url(server: LiveServer, live: LiveRP, id_token: str) -> str:
    params = {
        "id_token_hint": id_token,
        "post_logout_redirect_uri": live.post_logout_uri,
        "state": STATE,
    }
    return f"{server.url}/logout?{urlencode(params)}"


async def test_oidcc_frontchannel_logout_discovery_endpoint_verification(
    server: LiveServer,
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        metadata = (await http.get("/.well-known/openid-configuration")).json()
    assert metadata["frontchannel_logout_supported"] is True
    assert metadata["frontchannel_logout_session_supported"] is True
    assert metadata["end_session_endpoint"] == f"{metadata['issuer']}/logout"


async def test_oidcc_frontchannel_rp_initiated_logout(
    ctx: Context,
    settings: Settings,
    server: LiveServer,
    farm: RPFarm,
    context: BrowserContext,
) -> None:
    tax = await farm.add(name="Налоговая служба", backchannel=False, frontchannel=True)
    pension = await farm.add(name="Пенсионный фонд", backchannel=False, frontchannel=True)
    person = await make_person(ctx)
    page = await context.new_page()
    tokens = await log_in_at(page, server, tax, person)
    await log_in_at(page, server, pension, person)  # single sign-on
    [session] = await sessions_of_client(ctx, tax.client_id)
    assert unverified(tokens["id_token"])[1]["sid"] == session.sid

    started = time.monotonic()
    response = await page.goto(logout_url(server, tax, tokens["id_token"]))
    assert response is not None
    assert response.status == 200
    body = await response.text()

    frames = [html.unescape(src) for src in _IFRAME.findall(body)]
    assert len(frames) == 2, frames
    by_origin = {"{0.scheme}://{0.netloc}".format(urlsplit(src)): src for src in frames}
    assert set(by_origin) == {tax.url, pension.url}
    for live in (tax, pension):
        src = by_origin[live.url]
        assert urlsplit(src).path == "/frontchannel"
        assert query(src) == {"iss": settings.issuer, "sid": session.sid}
    refresh = _REFRESH.search(body)
    assert refresh is not None, body[:500]
    destination = f"{tax.post_logout_uri}?{urlencode({'state': STATE})}"
    assert html.unescape(refresh.group(2)) == destination

    await wait_until(
        lambda: bool(tax.fake.frontchannel_hits and pension.fake.frontchannel_hits),
        "both RPs' front-channel logout pages to be loaded",
    )
    for live in (tax, pension):
        assert live.fake.frontchannel_hits == [{"iss": settings.issuer, "sid": session.sid}]

    wait = settings.logout.frontchannel_wait
    await page.wait_for_url(destination, timeout=(wait + 10) * 1000)
    assert time.monotonic() - started >= wait - 0.5  # the iframes had their time
    assert not [c for c in await context.cookies() if c["name"] == "idp_session"]


async def test_frontchannel_logout_page_moves_on_when_an_rp_page_never_loads(
    ctx: Context,
    settings: Settings,
    server: LiveServer,
    farm: RPFarm,
    context: BrowserContext,
    javascript: bool,
) -> None:
    """security-anchors §3d: a bounded wait, then on to the post-logout redirect, even when one
    RP's page hangs. ``<meta http-equiv="refresh">`` only starts counting once the page has
    loaded, and a hanging iframe holds that back for good, so this needs a script; without
    JavaScript the page still offers the way on as a link."""
    tax = await farm.add(name="Налоговая служба", backchannel=False, frontchannel=True)
    stuck = await farm.add(
        name="Зависший сайт", backchannel=False, frontchannel=True, frontchannel_hangs=True
    )
    person = await make_person(ctx)
    page = await context.new_page()
    tokens = await log_in_at(page, server, tax, person)
    await log_in_at(page, server, stuck, person)

    await page.goto(logout_url(server, tax, tokens["id_token"]), wait_until="commit")
    await wait_until(lambda: bool(stuck.fake.frontchannel_hits), "the stuck RP's page request")
    await wait_until(lambda: bool(tax.fake.frontchannel_hits), "the other RP's page")

    destination = f"{tax.post_logout_uri}?{urlencode({'state': STATE})}"
    wait = settings.logout.frontchannel_wait
    if not javascript:
        await page.locator(f'a[href="{destination}"]').click()
    await page.wait_for_url(destination, wait_until="commit", timeout=(wait + 5) * 1000)
