"""Token introspection (RFC 7662) and revocation (RFC 7009): authenticated callers only, and a
client sees and revokes only its own tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from idp.context import Context
from tests.support.browser import Browser
from tests.support.factories import RP, Person, make_rp
from tests.support.flows import log_in, redeem
from tests.support.live import LiveServer


@pytest.fixture
async def http(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        yield client


@pytest.fixture
async def tokens(
    http: httpx.AsyncClient, browser: Browser, rp: RP, person: Person
) -> dict[str, Any]:
    callback, verifier, _ = await log_in(browser, rp, person)
    response = await redeem(http, rp, callback["code"], verifier)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def creds(rp: RP) -> tuple[str, str]:
    assert rp.client_secret is not None
    return rp.client_id, rp.client_secret


async def introspect(http: httpx.AsyncClient, rp: RP, token: str) -> dict[str, Any]:
    response = await http.post("/introspect", data={"token": token}, auth=creds(rp))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


async def revoke(http: httpx.AsyncClient, rp: RP, token: str, **extra: str) -> httpx.Response:
    return await http.post("/revoke", data={"token": token, **extra}, auth=creds(rp))


@pytest.mark.parametrize("path", ["/introspect", "/revoke"])
async def test_client_authentication_is_required(
    http: httpx.AsyncClient, tokens: dict[str, Any], path: str
) -> None:
    response = await http.post(path, data={"token": tokens["access_token"]})
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert "www-authenticate" in response.headers


@pytest.mark.parametrize("path", ["/introspect", "/revoke"])
async def test_wrong_secret_is_401(
    http: httpx.AsyncClient, rp: RP, tokens: dict[str, Any], path: str
) -> None:
    response = await http.post(
        path, data={"token": tokens["access_token"]}, auth=(rp.client_id, "wrong")
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"


async def test_public_client_cannot_introspect(
    ctx: Context, http: httpx.AsyncClient, browser: Browser, person: Person
) -> None:
    # RFC 7662 §2.1: the endpoint MUST require authorization; discovery lists no "none" method
    # for introspection, and a public client_id proves nothing about the caller.
    public = await make_rp(ctx, auth_method="none", require_consent=False)
    callback, verifier, _ = await log_in(browser, public, person)
    issued = await redeem(http, public, callback["code"], verifier)
    assert issued.status_code == 200, issued.text
    response = await http.post(
        "/introspect",
        data={"token": issued.json()["access_token"], "client_id": public.client_id},
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"


async def test_own_tokens_are_active(
    http: httpx.AsyncClient, rp: RP, tokens: dict[str, Any]
) -> None:
    access = await introspect(http, rp, tokens["access_token"])
    assert access["active"] is True
    assert access["client_id"] == rp.client_id
    refresh = await introspect(http, rp, tokens["refresh_token"])
    assert refresh["active"] is True
    assert refresh["sub"] == access["sub"]


@pytest.mark.parametrize("kind", ["access_token", "refresh_token"])
async def test_other_clients_token_is_inactive(
    ctx: Context, http: httpx.AsyncClient, tokens: dict[str, Any], kind: str
) -> None:
    other = await make_rp(ctx, require_consent=False)
    assert await introspect(http, other, tokens[kind]) == {"active": False}


@pytest.mark.parametrize("token", ["unknown", "a.b.c", "x" * 2000])
async def test_unknown_token_is_inactive(http: httpx.AsyncClient, rp: RP, token: str) -> None:
    assert await introspect(http, rp, token) == {"active": False}


@pytest.mark.parametrize("token", ["unknown", "a.b.c"])
async def test_revoking_an_unknown_token_is_200(
    http: httpx.AsyncClient, rp: RP, token: str
) -> None:
    response = await revoke(http, rp, token)
    assert response.status_code == 200, response.text


async def test_revoked_access_token_is_inactive(
    http: httpx.AsyncClient, rp: RP, tokens: dict[str, Any]
) -> None:
    response = await revoke(http, rp, tokens["access_token"], token_type_hint="access_token")
    assert response.status_code == 200, response.text
    assert (await introspect(http, rp, tokens["access_token"]))["active"] is False
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await http.get("/userinfo", headers=headers)).status_code == 401


async def test_revoking_twice_is_200(
    http: httpx.AsyncClient, rp: RP, tokens: dict[str, Any]
) -> None:
    assert (await revoke(http, rp, tokens["access_token"])).status_code == 200
    assert (await revoke(http, rp, tokens["access_token"])).status_code == 200


async def test_revoked_refresh_token_takes_the_access_token_along(
    http: httpx.AsyncClient, rp: RP, tokens: dict[str, Any]
) -> None:
    response = await revoke(http, rp, tokens["refresh_token"], token_type_hint="refresh_token")
    assert response.status_code == 200, response.text
    assert (await introspect(http, rp, tokens["refresh_token"]))["active"] is False
    assert (await introspect(http, rp, tokens["access_token"]))["active"] is False


@pytest.mark.parametrize("kind", ["access_token", "refresh_token"])
async def test_other_client_cannot_revoke(
    ctx: Context, http: httpx.AsyncClient, rp: RP, tokens: dict[str, Any], kind: str
) -> None:
    other = await make_rp(ctx, require_consent=False)
    response = await revoke(http, other, tokens[kind])
    assert response.status_code in (200, 400), response.text
    assert (await introspect(http, rp, tokens[kind]))["active"] is True
