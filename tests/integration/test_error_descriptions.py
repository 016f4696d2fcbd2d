"""An ``error_description`` never carries what the request sent (RFC 6749 §4.1.2.1, §5.2): it
says what was wrong, in the characters the RFC allows (%x20-21 / %x23-5B / %x5D-7E), so a
hostile value cannot reach the client's error page, its logs or a header."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.browser import Browser, query
from tests.support.factories import RP
from tests.support.flows import auth_params
from tests.support.live import LiveServer

ALLOWED = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")
# What an attacker would like to see echoed: quotes and backslashes that break out of a header
# or a JSON string, non-ASCII look-alikes and direction overrides, markup, control characters.
HOSTILE = ['x"y', "x\\y", "паспорт", "x\u202ey", "<b>bold</b>", "é", "x\x1by"]
MARKERS = ['"', "\\", "паспорт", "\u202e", "<b>", "é", "\x1b"]


def assert_clean(description: str | None, value: str) -> None:
    if description is None:
        return
    assert ALLOWED.fullmatch(description), description
    assert value not in description
    assert not any(marker in description for marker in MARKERS if marker in value)


@pytest.fixture
async def http(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        yield client


@pytest.mark.parametrize("value", HOSTILE)
async def test_an_unknown_scope_is_not_echoed(browser: Browser, rp: RP, value: str) -> None:
    params, _ = auth_params(rp, scope=f"openid {value}")
    response = await browser.authorize(params)
    assert response.status_code == 303
    answer = query(response.headers["location"])
    assert answer["error"] in ("invalid_scope", "invalid_request")  # control characters
    assert_clean(answer.get("error_description"), value)


@pytest.mark.parametrize("value", HOSTILE)
async def test_an_unknown_grant_type_is_not_echoed(
    http: httpx.AsyncClient, rp: RP, value: str
) -> None:
    assert rp.client_secret is not None
    response = await http.post(
        "/token", data={"grant_type": value}, auth=(rp.client_id, rp.client_secret)
    )
    body = response.json()
    assert body["error"] in ("unsupported_grant_type", "invalid_request")
    assert_clean(body.get("error_description"), value)


@pytest.mark.parametrize("value", HOSTILE)
async def test_an_unknown_parameter_name_is_not_echoed(
    http: httpx.AsyncClient, rp: RP, value: str
) -> None:
    assert rp.client_secret is not None
    content = f"grant_type=x&{value}=1&{value}=2".encode()
    response = await http.post(
        "/token",
        content=content,
        headers={"content-type": "application/x-www-form-urlencoded"},
        auth=(rp.client_id, rp.client_secret),
    )
    assert_clean(response.json().get("error_description"), value)


@pytest.mark.parametrize("value", HOSTILE)
async def test_a_bearer_challenge_is_clean(http: httpx.AsyncClient, value: str) -> None:
    response = await http.get("/userinfo", headers={"Authorization": f"Bearer {value}".encode()})
    assert response.status_code in (400, 401)  # HTTP/1.1 itself refuses control characters
    challenge = response.headers.get("www-authenticate", "")
    described = re.search(r'error_description="([^"]*)"', challenge)
    assert_clean(described.group(1) if described else None, value)
    if response.headers.get("content-type", "").startswith("application/json"):
        assert_clean(json.loads(response.content).get("error_description"), value)
