"""Headers on the pages a browser meets (RFC 9700 §4.16 clickjacking, §4.2.4 referrer leaks),
303 after a credential POST (§4.12), and the request body limit."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import httpx
import pytest

from idp.context import Context
from tests.support.browser import Browser
from tests.support.factories import RP, Person, make_rp
from tests.support.flows import auth_params, login_page
from tests.support.live import LiveServer


def assert_page_headers(response: httpx.Response) -> None:
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "no-store" in response.headers["cache-control"]


async def test_login_page_headers(browser: Browser, rp: RP) -> None:
    params, _ = auth_params(rp)
    assert_page_headers(await login_page(browser, params))


async def test_error_page_headers(browser: Browser, rp: RP) -> None:
    params, _ = auth_params(rp, redirect_uri="https://evil.example/cb")
    response = await browser.authorize(params)
    assert response.status_code == 400
    assert_page_headers(response)


async def test_failed_login_page_headers(browser: Browser, rp: RP, person: Person) -> None:
    params, _ = auth_params(rp)
    page = await login_page(browser, params)
    response = await browser.submit(
        page,
        {"login": person.phone, "password": "Wrong-Password-1"},
        headers={"X-Forwarded-For": f"198.51.100.{secrets.randbelow(254) + 1}"},
    )
    assert response.status_code == 400
    assert_page_headers(response)


async def test_consent_page_headers(ctx: Context, browser: Browser, person: Person) -> None:
    asking = await make_rp(ctx, require_consent=True)
    params, _ = auth_params(asking)
    page = await login_page(browser, params)
    response = await browser.submit(page, {"login": person.phone, "password": person.password})
    assert response.status_code == 303
    consent = await browser.get(response.headers["location"])
    assert consent.status_code == 200
    assert 'value="allow"' in consent.text
    assert_page_headers(consent)


async def test_login_post_answers_303(browser: Browser, rp: RP, person: Person) -> None:
    params, _ = auth_params(rp)
    page = await login_page(browser, params)
    response = await browser.submit(page, {"login": person.phone, "password": person.password})
    assert response.status_code == 303
    assert response.headers["location"].startswith(rp.redirect_uri)


async def test_authorize_post_answers_303(browser: Browser, rp: RP) -> None:
    params, _ = auth_params(rp)
    response = await browser.http.post("/authorize", data=params)
    assert response.status_code == 303


@pytest.fixture
async def http(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        yield client


@pytest.mark.parametrize("path", ["/token", "/introspect", "/revoke", "/userinfo", "/authorize"])
async def test_body_over_64_kib_is_413(http: httpx.AsyncClient, path: str) -> None:
    body = b"x=" + b"a" * (64 * 1024)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    response = await http.post(path, content=body, headers=headers)
    assert response.status_code == 413, response.text


async def test_chunked_body_over_64_kib_is_413(http: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"x="
        for _ in range(20):
            yield b"a" * 4096

    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    response = await http.post("/token", content=chunks(), headers=headers)
    assert response.status_code == 413, response.text


async def test_body_at_the_limit_is_parsed(http: httpx.AsyncClient) -> None:
    body = b"x=" + b"a" * (64 * 1024 - 2)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    response = await http.post("/token", content=body, headers=headers)
    assert response.status_code == 400, response.text


@pytest.mark.parametrize("token", [None, "0" * 64])
async def test_login_without_a_valid_csrf_token_is_refused(
    browser: Browser, rp: RP, person: Person, token: str | None
) -> None:
    params, _ = auth_params(rp)
    page = await login_page(browser, params)
    action = page.text.split('<form method="post" action="', 1)[1].split('"', 1)[0]
    data = {"login": person.phone, "password": person.password}
    if token is not None:
        data["csrf_token"] = token
    response = await browser.http.post(action, data=data)
    assert response.status_code == 403
    assert "location" not in response.headers


async def test_metrics_do_not_exist_without_a_scraper_token(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.get("/metrics")).status_code == 404
