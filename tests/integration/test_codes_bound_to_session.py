"""An authorization code is worth no more than the SSO session that issued it: once the person
logged out or changed the password, redeeming it is ``invalid_grant`` and creates no grant (a
grant created then would hold a refresh token that no logout ever reaches)."""

from __future__ import annotations

from idp.context import Context
from idp.db.models import Grant
from tests.support.api_kit import count
from tests.support.browser import Browser
from tests.support.factories import RP, Person
from tests.support.flows import log_in, redeem
from tests.support.live import LiveServer
from tests.support.token_kit import (
    assert_invalid_grant,
    change_password_elsewhere,
    log_out,
    reset_password,
)


async def grants_of(ctx: Context, rp: RP) -> int:
    return await count(ctx, Grant, Grant.client_id == rp.client_id)


async def test_code_issued_before_logout_is_invalid_grant(
    ctx: Context, browser: Browser, rp: RP, person: Person
) -> None:
    callback, verifier, _ = await log_in(browser, rp, person)
    await log_out(browser)

    assert_invalid_grant(await redeem(browser.http, rp, callback["code"], verifier))
    assert await grants_of(ctx, rp) == 0


async def test_code_issued_before_a_password_change_is_invalid_grant(
    server: LiveServer, ctx: Context, browser: Browser, rp: RP, person: Person
) -> None:
    callback, verifier, _ = await log_in(browser, rp, person)
    await change_password_elsewhere(server.url, person)

    assert_invalid_grant(await redeem(browser.http, rp, callback["code"], verifier))
    assert await grants_of(ctx, rp) == 0


async def test_code_issued_before_a_password_reset_is_invalid_grant(
    server: LiveServer, ctx: Context, browser: Browser, rp: RP, person: Person
) -> None:
    callback, verifier, _ = await log_in(browser, rp, person)
    await reset_password(ctx, server.url, person)

    assert_invalid_grant(await redeem(browser.http, rp, callback["code"], verifier))
    assert await grants_of(ctx, rp) == 0


async def test_code_of_a_live_session_still_works(
    ctx: Context, browser: Browser, rp: RP, person: Person
) -> None:
    callback, verifier, _ = await log_in(browser, rp, person)
    response = await redeem(browser.http, rp, callback["code"], verifier)
    assert response.status_code == 200, response.text
    assert await grants_of(ctx, rp) == 1
