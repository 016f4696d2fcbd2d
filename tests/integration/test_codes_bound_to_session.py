"""An authorization code is worth no more than the SSO session that issued it: once the person
logged out or changed the password, redeeming it is ``invalid_grant`` and creates no grant (a
grant created then would hold a refresh token that no logout ever reaches)."""

from __future__ import annotations

import asyncio

from idp.context import Context
from idp.db.models import Grant
from idp.sessions.service import end_sessions, live_sessions_of
from tests.support.api_kit import count
from tests.support.browser import Browser
from tests.support.factories import RP, Person
from tests.support.flows import log_in, redeem
from tests.support.live import LiveServer
from tests.support.logout_kit import wait_until
from tests.support.token_kit import (
    assert_invalid_grant,
    change_password_elsewhere,
    log_out,
    reset_password,
    waiting_on_a_lock,
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


async def test_a_logout_racing_the_exchange_is_never_missed(
    ctx: Context, browser: Browser, rp: RP, person: Person
) -> None:
    # The logout has ended the session but not committed when the code is redeemed: the
    # exchange waits for it and then refuses (it never creates a grant the logout missed).
    callback, verifier, _ = await log_in(browser, rp, person)
    async with ctx.db.transaction() as session:
        records = await live_sessions_of(
            session, person.account.id, ctx.clock.now(), ctx.settings.sessions.idle_ttl
        )
        ended = await end_sessions(
            session, ctx, records, reason="logout", actor="person", claim=False
        )
        assert len(ended.session_ids) == 1
        exchange = asyncio.create_task(redeem(browser.http, rp, callback["code"], verifier))
        if ctx.db.dialect == "postgresql":
            await wait_until(lambda: waiting_on_a_lock(ctx), "the exchange to wait")
        # (SQLite: the exchange waits at BEGIN IMMEDIATE until this transaction commits.)
        assert not exchange.done()
    assert_invalid_grant(await exchange)
    assert await grants_of(ctx, rp) == 0
