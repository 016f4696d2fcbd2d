"""Authorization codes at the token endpoint: single use with revocation on reuse, 60 s
lifetime, bound to client, redirect URI and PKCE verifier (RFC 6749 §4.1.2 and §4.1.3,
RFC 7636 §4.6, RFC 9700 §2.1.1 and §4.2.4, FAPI 2.0 §5.3.2.1)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

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


def assert_invalid_grant(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_grant"


async def introspect(http: httpx.AsyncClient, rp: RP, token: str) -> dict[str, object]:
    assert rp.client_secret is not None
    response = await http.post(
        "/introspect", data={"token": token}, auth=(rp.client_id, rp.client_secret)
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_code_is_single_use(
    http: httpx.AsyncClient, browser: Browser, rp: RP, person: Person
) -> None:
    callback, verifier, _ = await log_in(browser, rp, person)
    assert (await redeem(http, rp, callback["code"], verifier)).status_code == 200
    assert_invalid_grant(await redeem(http, rp, callback["code"], verifier))


async def test_code_reuse_revokes_the_access_token(
    http: httpx.AsyncClient, browser: Browser, rp: RP, person: Person
) -> None:
    callback, verifier, _ = await log_in(browser, rp, person)
    tokens = (await redeem(http, rp, callback["code"], verifier)).json()
    assert (await introspect(http, rp, tokens["access_token"]))["active"] is True
    assert_invalid_grant(await redeem(http, rp, callback["code"], verifier))
    assert (await introspect(http, rp, tokens["access_token"]))["active"] is False
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await http.get("/userinfo", headers=headers)).status_code == 401


async def test_code_reuse_revokes_the_refresh_token(
    http: httpx.AsyncClient, browser: Browser, rp: RP, person: Person
) -> None:
    callback, verifier, _ = await log_in(browser, rp, person)
    tokens = (await redeem(http, rp, callback["code"], verifier)).json()
    assert_invalid_grant(await redeem(http, rp, callback["code"], verifier))
    assert (await introspect(http, rp, tokens["refresh_token"]))["active"] is False
    assert rp.client_secret is not None
    response = await http.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(rp.client_id, rp.client_secret),
    )
    assert_invalid_grant(response)


async def test_code_expires_after_sixty_seconds(
    http: httpx.AsyncClient, browser: Browser, rp: RP, person: Person, clock: OffsetClock
) -> None:
    callback, verifier, _ = await log_in(browser, rp, person)
    clock.advance(61)
    assert_invalid_grant(await redeem(http, rp, callback["code"], verifier))


async def test_code_is_bound_to_its_client(
    ctx: Context, http: httpx.AsyncClient, browser: Browser, rp: RP, person: Person
) -> None:
    callback, verifier, _ = await log_in(browser, rp, person)
    other = await make_rp(ctx, require_consent=False)
    assert_invalid_grant(await redeem(http, other, callback["code"], verifier))


async def test_code_is_bound_to_its_redirect_uri(
    ctx: Context, http: httpx.AsyncClient, browser: Browser, person: Person
) -> None:
    rp = await make_rp(ctx, require_consent=False)
    callback, verifier, _ = await log_in(browser, rp, person)
    response = await redeem(
        http, rp, callback["code"], verifier, redirect_uri="https://rp.example/cb/"
    )
    assert_invalid_grant(response)


async def test_code_needs_the_redirect_uri(
    http: httpx.AsyncClient, browser: Browser, rp: RP, person: Person
) -> None:
    callback, verifier, _ = await log_in(browser, rp, person)
    assert rp.client_secret is not None
    response = await http.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": callback["code"],
            "code_verifier": verifier,
        },
        auth=(rp.client_id, rp.client_secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] in ("invalid_request", "invalid_grant")


@pytest.mark.parametrize(
    "verifier",
    [
        pytest.param(None, id="missing"),
        pytest.param(secrets.token_urlsafe(48), id="wrong"),
        pytest.param("short", id="too-short"),
        pytest.param("a" * 129, id="too-long"),
    ],
)
async def test_wrong_or_missing_verifier_is_invalid_grant(
    http: httpx.AsyncClient, browser: Browser, rp: RP, person: Person, verifier: str | None
) -> None:
    callback, _, _ = await log_in(browser, rp, person)
    assert_invalid_grant(await redeem(http, rp, callback["code"], verifier))


async def test_challenge_itself_is_not_a_verifier(
    http: httpx.AsyncClient, browser: Browser, rp: RP, person: Person
) -> None:
    callback, _, params = await log_in(browser, rp, person)
    assert_invalid_grant(await redeem(http, rp, callback["code"], params["code_challenge"]))


async def test_unknown_code_is_invalid_grant(http: httpx.AsyncClient, rp: RP) -> None:
    assert_invalid_grant(await redeem(http, rp, secrets.token_urlsafe(32), "x" * 43))


async def test_concurrent_redemptions_give_exactly_one_token(
    ctx: Context, http: httpx.AsyncClient, browser: Browser, rp: RP, person: Person
) -> None:
    callback, verifier, _ = await log_in(browser, rp, person)
    # Let the server's signing-key cache go stale, as it does every key_cache_ttl in service:
    # the winner must then load keys while the losers wait on its row lock.
    await asyncio.sleep(ctx.settings.key_cache_ttl + 0.1)
    responses = await asyncio.gather(
        *(redeem(http, rp, callback["code"], verifier) for _ in range(20))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [400] * 19, statuses
    assert all(r.json()["error"] == "invalid_grant" for r in responses if r.status_code == 400)
