"""Refresh tokens and the SSO session, as OIDC Core §11 and Keycloak have it: without
``offline_access`` a refresh token lives as long as the session (and keeps it alive); with it,
asked for with ``prompt=consent``, it outlives the session until a credential changes."""

from __future__ import annotations

from typing import Any

import httpx

from idp.clock import OffsetClock
from idp.context import Context
from tests.support.browser import Browser
from tests.support.factories import RP, Person, make_rp
from tests.support.flows import auth_params, log_in, redeem
from tests.support.live import LiveServer
from tests.support.logout_kit import idp_env, logged_in, run_idp
from tests.support.token_kit import (
    assert_invalid_grant,
    change_password_elsewhere,
    log_out,
    refresh,
    reset_password,
)

OFFLINE = "openid offline_access"


async def tokens_for(browser: Browser, rp: RP, person: Person, **extra: str) -> dict[str, Any]:
    callback, verifier, _ = await log_in(browser, rp, person, **extra)
    assert "code" in callback, callback
    response = await redeem(browser.http, rp, callback["code"], verifier)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def offline_tokens(browser: Browser, rp: RP, person: Person) -> dict[str, Any]:
    body = await tokens_for(browser, rp, person, scope=OFFLINE, prompt="consent")
    assert "offline_access" in body["scope"].split(), body["scope"]
    return body


async def refreshed(http: httpx.AsyncClient, rp: RP, token: str) -> str:
    response = await refresh(http, rp, token)
    assert response.status_code == 200, response.text
    value: str = response.json()["refresh_token"]
    return value


# --- bound to the session ------------------------------------------------------------------------


async def test_refresh_token_dies_with_an_idle_session(
    ctx: Context, clock: OffsetClock, browser: Browser, rp: RP, person: Person
) -> None:
    tokens = await tokens_for(browser, rp, person)
    clock.advance(ctx.settings.sessions.idle_ttl + 1)
    # The sweep may not have ended the session yet: the refresh must see it is over anyway.
    assert_invalid_grant(await refresh(browser.http, rp, tokens["refresh_token"]))


async def test_refresh_token_dies_with_the_session_at_logout(
    browser: Browser, rp: RP, person: Person
) -> None:
    tokens = await tokens_for(browser, rp, person)
    await log_out(browser)
    assert_invalid_grant(await refresh(browser.http, rp, tokens["refresh_token"]))


async def test_refreshing_keeps_the_session_alive(
    ctx: Context, clock: OffsetClock, browser: Browser, rp: RP, person: Person
) -> None:
    token = (await tokens_for(browser, rp, person))["refresh_token"]
    for _ in range(3):
        clock.advance(ctx.settings.sessions.idle_ttl - 10)
        token = await refreshed(browser.http, rp, token)
    assert await logged_in(browser, rp)


# --- offline access ------------------------------------------------------------------------------


async def test_a_refreshing_client_may_ask_for_offline_access_without_listing_it(
    ctx: Context, browser: Browser, person: Person
) -> None:
    # As `idp clients create --grant-type authorization_code --grant-type refresh_token`.
    rp = await make_rp(
        ctx, require_consent=False, grant_types=["authorization_code", "refresh_token"]
    )
    assert "offline_access" not in rp.scopes
    await offline_tokens(browser, rp, person)


async def test_offline_access_outlives_the_session(
    browser: Browser, rp: RP, person: Person
) -> None:
    tokens = await offline_tokens(browser, rp, person)
    await log_out(browser)
    assert not await logged_in(browser, rp)
    await refreshed(browser.http, rp, tokens["refresh_token"])


async def test_offline_access_without_prompt_consent_is_ignored(
    ctx: Context, browser: Browser, person: Person
) -> None:
    rp = await make_rp(ctx, require_consent=False, scopes=["openid", "profile", "offline_access"])
    tokens = await tokens_for(browser, rp, person, scope=OFFLINE)
    assert tokens["scope"].split() == ["openid"]
    await log_out(browser)
    assert_invalid_grant(await refresh(browser.http, rp, tokens["refresh_token"]))


async def test_offline_access_is_always_consented_to(
    ctx: Context, browser: Browser, rp: RP, person: Person
) -> None:
    # The client skips consent, yet offline access shows the consent page.
    await log_in(browser, rp, person)
    params, _ = auth_params(rp, scope=OFFLINE, prompt="consent")
    first = await browser.authorize(params)
    assert first.status_code == 303, first.text[:300]
    assert not first.headers["location"].startswith(rp.redirect_uri)
    page = await browser.get(first.headers["location"])
    assert 'value="allow"' in page.text, page.text[:300]
    assert 'name="password"' not in page.text


async def test_password_change_revokes_offline_access(
    server: LiveServer, browser: Browser, rp: RP, person: Person
) -> None:
    tokens = await offline_tokens(browser, rp, person)
    await change_password_elsewhere(server.url, person)
    assert_invalid_grant(await refresh(browser.http, rp, tokens["refresh_token"]))


async def test_password_reset_revokes_offline_access(
    server: LiveServer, ctx: Context, browser: Browser, rp: RP, person: Person
) -> None:
    tokens = await offline_tokens(browser, rp, person)
    await log_out(browser)  # offline access outlives the session; the reset ends it
    token = await refreshed(browser.http, rp, tokens["refresh_token"])
    await reset_password(ctx, server.url, person)
    assert_invalid_grant(await refresh(browser.http, rp, token))


async def test_operator_ending_every_session_revokes_offline_access(
    ctx: Context, browser: Browser, rp: RP, person: Person
) -> None:
    tokens = await offline_tokens(browser, rp, person)
    await log_out(browser)
    code, out, err = await run_idp(
        idp_env(ctx.settings), "sessions", "end", "--account", str(person.account.id), "--json"
    )
    assert code == 0, err
    assert '"offline_grants_revoked": 1' in out, out
    assert_invalid_grant(await refresh(browser.http, rp, tokens["refresh_token"]))
