"""Operator commands against a running server: ``idp accounts disable`` and ``delete`` end
every session of the account with back-channel logout to real relying-party servers, racing
operators get exactly one success, housekeeping purges an account past its grace period, and
``idp clients rotate-secret`` / ``delete`` reach an instance that caches clients for minutes
(the cache generation, not the TTL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from idp.accounts.errors import InvalidCredentials
from idp.accounts.operator.service import disable_account, resolve_account
from idp.accounts.service import authenticate
from idp.clock import OffsetClock
from idp.context import Context
from idp.db.models import Account, AuditEvent, BrowserSession, Contact, QueuedJob
from idp.errors import WrongState
from idp.jobs.housekeeping import purge_expired
from idp.sessions.service import BACKCHANNEL_LOGOUT
from idp.settings import Settings
from tests.support.browser import Browser
from tests.support.cli_kit import Result, run_in_process
from tests.support.factories import Person, make_person, make_rp
from tests.support.live import LiveServer
from tests.support.logout_kit import (
    LiveRP,
    RPFarm,
    idp_env,
    logged_in,
    refresh,
    serve_instance,
    sign_in,
    unverified,
    wait_until,
)


@pytest.fixture
async def farm(ctx: Context, server: LiveServer) -> AsyncIterator[RPFarm]:
    rps = RPFarm(ctx, server.url)
    yield rps
    await rps.close()


async def idp(settings: Settings, *args: str) -> Result:
    env = idp_env(settings, IDP_LOGOUT__BLOCK_PRIVATE_ADDRESSES="false")
    return await run_in_process(env, *args)


async def _told(live: LiveRP, person: Person, sid: str) -> None:
    await wait_until(lambda: len(live.fake.received) == 1, f"{live.client_id}'s logout token")
    assert live.fake.problems == []
    claims = live.fake.received[0].claims
    assert claims["sub"] == person.account.sub
    assert claims["sid"] == sid
    assert claims["aud"] == live.client_id


async def _signed_in_at_two(
    browser: Browser, person: Person, farm: RPFarm
) -> tuple[LiveRP, LiveRP, str]:
    tax, pension, tokens = await _signed_in_with_tokens(browser, person, farm)
    return tax, pension, str(unverified(tokens["id_token"])[1]["sid"])


async def _signed_in_with_tokens(
    browser: Browser, person: Person, farm: RPFarm
) -> tuple[LiveRP, LiveRP, dict[str, Any]]:
    tax = await farm.add(name="Налоговая служба")
    pension = await farm.add(name="Пенсионный фонд")
    tokens = await sign_in(browser, tax.rp, person)
    await sign_in(browser, pension.rp, person)
    return tax, pension, tokens


async def test_disable_logs_the_person_out_everywhere_and_blocks_login(
    ctx: Context, settings: Settings, browser: Browser, person: Person, farm: RPFarm
) -> None:
    tax, pension, tokens = await _signed_in_with_tokens(browser, person, farm)
    sid = str(unverified(tokens["id_token"])[1]["sid"])
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await browser.http.get("/userinfo", headers=bearer)).status_code == 200

    out = (await idp(settings, "accounts", "disable", person.phone, "--json")).json()

    assert out["status"] == "disabled"
    assert out["sessions_ended"] == 1
    assert out["logouts_queued"] == 2
    for live in (tax, pension):
        await _told(live, person, sid)
    assert not await logged_in(browser, tax.rp)
    with pytest.raises(InvalidCredentials):
        await authenticate(ctx, person.email, person.password, "192.0.2.31")
    # Tokens already issued stop working too.
    assert (await browser.http.get("/userinfo", headers=bearer)).status_code == 401
    refused = await refresh(browser.http, tax.rp, tokens["refresh_token"])
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"

    assert (await idp(settings, "accounts", "enable", str(person.account.id), "--json")).json()
    assert await authenticate(ctx, person.email, person.password, "192.0.2.31")


async def test_delete_logs_out_and_housekeeping_purges_after_the_grace(
    ctx: Context, clock: OffsetClock, settings: Settings, browser: Browser, farm: RPFarm
) -> None:
    person = await make_person(ctx)
    kept = await make_person(ctx)  # enabled again within the grace: stays
    tax, pension, sid = await _signed_in_at_two(browser, person, farm)
    account_id = person.account.id

    out = (await idp(settings, "accounts", "delete", person.snils, "--json")).json()
    (await idp(settings, "accounts", "delete", kept.email, "--json")).json()
    (await idp(settings, "accounts", "enable", kept.email, "--json")).json()

    assert out["status"] == "deleting"
    for live in (tax, pension):
        await _told(live, person, sid)
    with pytest.raises(InvalidCredentials):
        await authenticate(ctx, person.phone, person.password, "192.0.2.32")

    grace = timedelta(seconds=settings.account_deletion_grace)
    early = await purge_expired(ctx.db, settings, clock.now() + grace - timedelta(minutes=1))
    assert early["accounts"] == 0
    purged = await purge_expired(ctx.db, settings, clock.now() + grace + timedelta(minutes=1))
    assert purged["accounts"] >= 1
    async with ctx.db.read() as session:
        assert await session.get(Account, account_id) is None
        assert await session.get(Account, kept.account.id) is not None
        left = await session.scalar(
            select(func.count()).select_from(Contact).where(Contact.account_id == account_id)
        )
        assert left == 0
        sessions = await session.scalar(
            select(func.count())
            .select_from(BrowserSession)
            .where(BrowserSession.account_id == account_id)
        )
        assert sessions == 0
        events = (
            await session.scalars(
                select(AuditEvent.event).where(AuditEvent.account_id == str(account_id))
            )
        ).all()
    assert "account.purged" in events
    assert "account.deletion_scheduled" in events
    line = (await idp(settings, "accounts", "show", str(account_id))).refused()
    assert "no account" in line


async def test_twenty_operators_disabling_at_once_win_once(
    ctx: Context, browser: Browser, person: Person, farm: RPFarm
) -> None:
    tax, pension, sid = await _signed_in_at_two(browser, person, farm)

    async def one() -> str:
        try:
            async with ctx.db.transaction() as session:
                account = await resolve_account(session, ctx, person.phone)
                await disable_account(session, ctx, account)
        except WrongState:
            return "refused"
        return "disabled"

    outcomes = await asyncio.gather(*(one() for _ in range(20)))

    assert sorted(outcomes).count("disabled") == 1, outcomes
    assert outcomes.count("refused") == 19
    async with ctx.db.read() as session:
        audited = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.event == "account.disabled",
                AuditEvent.account_id == str(person.account.id),
            )
        )
        jobs = await session.scalar(
            select(func.count())
            .select_from(QueuedJob)
            .where(
                QueuedJob.kind == BACKCHANNEL_LOGOUT,
                QueuedJob.ref.in_([tax.client_id, pension.client_id]),
            )
        )
    assert audited == 1
    assert jobs == 2  # one logout per RP, not one per operator
    for live in (tax, pension):
        await _told(live, person, sid)


async def test_an_instance_caching_clients_for_minutes_sees_rotation_and_deletion_at_once(
    ctx: Context, settings: Settings, clock: OffsetClock
) -> None:
    slow = settings.model_copy(update={"client_cache_ttl": 600.0, "client_cache_recheck": 0.2})
    instance = serve_instance(slow, clock, run_jobs=False)
    rp = await make_rp(ctx, grant_types=["authorization_code", "client_credentials"])
    assert rp.client_secret is not None

    async def token(http: httpx.AsyncClient, secret: str) -> int:
        response = await http.post(
            "/token",
            data={"grant_type": "client_credentials"},
            auth=(rp.client_id, secret),
        )
        return response.status_code

    try:
        async with httpx.AsyncClient(base_url=instance.url) as http:
            assert await token(http, rp.client_secret) == 200  # now cached for ten minutes
            rotated = await idp(settings, "clients", "rotate-secret", rp.client_id, "--json")
            new_secret = rotated.json()["client_secret"]

            async def old_refused() -> bool:
                return await token(http, rp.client_secret or "") == 401

            await wait_until(old_refused, "the old secret to be refused", within=5.0)
            assert await token(http, new_secret) == 200

            (await idp(settings, "clients", "delete", rp.client_id, "--json")).json()

            async def new_refused() -> bool:
                return await token(http, new_secret) == 401

            await wait_until(new_refused, "the deleted client to be refused", within=5.0)
    finally:
        instance.stop()
