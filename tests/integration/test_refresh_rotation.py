"""Refresh tokens: rotation with reuse detection (RFC 9700 §4.14.2), scope that may narrow but
never widen (RFC 6749 §6), and revocation (RFC 7009 §2.1)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from idp.clock import OffsetClock
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
    callback, verifier, _ = await log_in(browser, rp, person, scope="openid profile")
    response = await redeem(http, rp, callback["code"], verifier)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
async def offline_tokens(
    http: httpx.AsyncClient, browser: Browser, rp: RP, person: Person
) -> dict[str, Any]:
    """Tokens with offline_access: their own lifetimes are all that limits them (a session-bound
    refresh token dies with the SSO session first)."""
    callback, verifier, _ = await log_in(
        browser, rp, person, scope="openid profile offline_access", prompt="consent"
    )
    response = await redeem(http, rp, callback["code"], verifier)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "offline_access" in body["scope"].split()
    return body


async def refresh(
    http: httpx.AsyncClient, rp: RP, token: str, scope: str | None = None
) -> httpx.Response:
    assert rp.client_secret is not None
    data = {"grant_type": "refresh_token", "refresh_token": token}
    if scope is not None:
        data["scope"] = scope
    return await http.post("/token", data=data, auth=(rp.client_id, rp.client_secret))


def assert_error(response: httpx.Response, error: str) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error"] == error


async def test_refresh_rotates_the_token(
    http: httpx.AsyncClient, rp: RP, tokens: dict[str, Any]
) -> None:
    response = await refresh(http, rp, tokens["refresh_token"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["refresh_token"] != tokens["refresh_token"]
    assert body["access_token"] != tokens["access_token"]
    assert response.headers["cache-control"] == "no-store"
    assert (await refresh(http, rp, body["refresh_token"])).status_code == 200


async def test_replayed_token_kills_the_whole_grant(
    http: httpx.AsyncClient, rp: RP, tokens: dict[str, Any]
) -> None:
    second = (await refresh(http, rp, tokens["refresh_token"])).json()
    assert_error(await refresh(http, rp, tokens["refresh_token"]), "invalid_grant")
    assert_error(await refresh(http, rp, second["refresh_token"]), "invalid_grant")
    headers = {"Authorization": f"Bearer {second['access_token']}"}
    assert (await http.get("/userinfo", headers=headers)).status_code == 401


async def test_wider_scope_is_invalid_scope(
    http: httpx.AsyncClient, rp: RP, tokens: dict[str, Any]
) -> None:
    response = await refresh(http, rp, tokens["refresh_token"], scope="openid profile email")
    assert_error(response, "invalid_scope")


async def test_refused_wider_scope_does_not_spend_the_token(
    http: httpx.AsyncClient, rp: RP, tokens: dict[str, Any]
) -> None:
    assert_error(
        await refresh(http, rp, tokens["refresh_token"], scope="openid email"), "invalid_scope"
    )
    assert (await refresh(http, rp, tokens["refresh_token"])).status_code == 200


async def test_narrower_scope_is_granted(
    http: httpx.AsyncClient, rp: RP, tokens: dict[str, Any]
) -> None:
    response = await refresh(http, rp, tokens["refresh_token"], scope="openid")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"] == "openid"
    # The narrowing applies to this access token; the grant keeps its original scope.
    again = await refresh(http, rp, body["refresh_token"], scope="openid profile")
    assert again.status_code == 200, again.text


async def test_other_client_cannot_refresh(
    ctx: Context, http: httpx.AsyncClient, tokens: dict[str, Any]
) -> None:
    other = await make_rp(ctx, require_consent=False)
    assert_error(await refresh(http, other, tokens["refresh_token"]), "invalid_grant")


async def test_concurrent_refreshes_give_exactly_one_token(
    ctx: Context, http: httpx.AsyncClient, rp: RP, tokens: dict[str, Any]
) -> None:
    # Let the server's signing-key cache go stale, as it does every key_cache_ttl in service:
    # the winner must then load keys while the losers wait on its row lock.
    await asyncio.sleep(ctx.settings.key_cache_ttl + 0.1)
    responses = await asyncio.gather(
        *(refresh(http, rp, tokens["refresh_token"]) for _ in range(20))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [400] * 19, statuses
    assert all(r.json()["error"] == "invalid_grant" for r in responses if r.status_code == 400)


async def test_refresh_after_revocation_fails(
    http: httpx.AsyncClient, rp: RP, tokens: dict[str, Any]
) -> None:
    assert rp.client_secret is not None
    revoked = await http.post(
        "/revoke",
        data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
        auth=(rp.client_id, rp.client_secret),
    )
    assert revoked.status_code == 200
    assert_error(await refresh(http, rp, tokens["refresh_token"]), "invalid_grant")


async def test_idle_refresh_token_expires(
    ctx: Context,
    clock: OffsetClock,
    http: httpx.AsyncClient,
    rp: RP,
    offline_tokens: dict[str, Any],
) -> None:
    clock.advance(ctx.settings.tokens.refresh_token_idle_ttl + 1)
    assert_error(await refresh(http, rp, offline_tokens["refresh_token"]), "invalid_grant")


async def test_rotation_does_not_extend_the_absolute_lifetime(
    ctx: Context,
    clock: OffsetClock,
    http: httpx.AsyncClient,
    rp: RP,
    offline_tokens: dict[str, Any],
) -> None:
    limits = ctx.settings.tokens
    step = limits.refresh_token_idle_ttl - 60
    current, elapsed = offline_tokens["refresh_token"], 0
    while elapsed + step < limits.refresh_token_ttl:
        clock.advance(step)
        elapsed += step
        response = await refresh(http, rp, current)
        assert response.status_code == 200, response.text
        current = response.json()["refresh_token"]
    clock.advance(limits.refresh_token_ttl - elapsed + 1)
    assert_error(await refresh(http, rp, current), "invalid_grant")
