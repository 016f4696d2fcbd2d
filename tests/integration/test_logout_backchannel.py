"""Back-Channel Logout 1.0 fan-out through the durable outbox, against real RP servers that verify
every logout token with joserfc (security-anchors.md §3a, §3b; conformance
``oidcc-backchannel-rp-initiated-logout``)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest

from idp.clock import OffsetClock
from idp.context import Context
from idp.oidc.logout.token import LOGOUT_TOKEN_TYP
from idp.settings import Settings
from tests.support.browser import Browser
from tests.support.factories import Person
from tests.support.live import LiveServer
from tests.support.logout_kit import (
    LiveRP,
    RPFarm,
    deliveries,
    idp_env,
    logged_in,
    pass_deadline,
    refresh,
    run_idp,
    sessions_of_client,
    sign_in,
    stays,
    unverified,
    wait_until,
)

STATE = "bc-state"


@pytest.fixture
async def farm(ctx: Context, server: LiveServer) -> AsyncIterator[RPFarm]:
    rps = RPFarm(ctx, server.url)
    yield rps
    await rps.close()


async def log_out(browser: Browser, initiator: LiveRP, id_token: str) -> httpx.Response:
    return await browser.get(
        "/logout",
        params={
            "id_token_hint": id_token,
            "post_logout_redirect_uri": initiator.post_logout_uri,
            "state": STATE,
        },
    )


async def attempts(ctx: Context, live: LiveRP) -> int:
    rows = await deliveries(ctx, live.client_id)
    return sum(row.attempts for row in rows)


async def status(ctx: Context, live: LiveRP) -> list[str]:
    return [row.status for row in await deliveries(ctx, live.client_id)]


async def test_oidcc_backchannel_logout_discovery_endpoint_verification(
    server: LiveServer,
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        metadata = (await http.get("/.well-known/openid-configuration")).json()
    assert metadata["backchannel_logout_supported"] is True
    assert metadata["backchannel_logout_session_supported"] is True
    assert metadata["end_session_endpoint"] == f"{metadata['issuer']}/logout"


async def test_oidcc_backchannel_rp_initiated_logout(
    ctx: Context, settings: Settings, browser: Browser, person: Person, farm: RPFarm
) -> None:
    tax = await farm.add(name="Налоговая служба")
    pension = await farm.add(name="Пенсионный фонд")
    tokens = await sign_in(browser, tax.rp, person)
    await sign_in(browser, pension.rp, person)  # single sign-on: the same session
    [session] = await sessions_of_client(ctx, tax.client_id)
    assert [s.id for s in await sessions_of_client(ctx, pension.client_id)] == [session.id]
    _, id_claims = unverified(tokens["id_token"])
    assert id_claims["sid"] == session.sid

    response = await log_out(browser, tax, tokens["id_token"])
    answered = time.time()

    assert response.status_code == 303, response.text[:300]
    assert response.headers["location"] == f"{tax.post_logout_uri}?{urlencode({'state': STATE})}"
    for live in (tax, pension):
        # Told before the browser is sent back, each exactly once, with a valid token.
        assert live.fake.problems == []
        assert len(live.fake.received) == 1, live.client_id
        got = live.fake.received[0]
        assert got.at <= answered
        assert got.header["typ"] == LOGOUT_TOKEN_TYP
        assert got.header["alg"] == "ES256"
        assert got.claims["sid"] == session.sid
        assert got.claims["sub"] == person.account.sub
        assert got.claims["aud"] == live.client_id
        assert got.claims["iss"] == settings.issuer
        assert 0 < got.claims["exp"] - got.claims["iat"] <= 120

    # The result is written after the RP answered, and the page waits for it at most
    # inline_wait: on a loaded machine the browser may be back first. Wait for the row.
    async def delivered() -> bool:
        return all([await status(ctx, live) == ["delivered"] for live in (tax, pension)])

    await wait_until(delivered, "both deliveries to be recorded")
    assert not await logged_in(browser, tax.rp)
    assert not await logged_in(browser, pension.rp)


async def test_fan_out_tells_healthy_rps_at_once_and_retries_the_others(
    ctx: Context, settings: Settings, browser: Browser, person: Person, farm: RPFarm
) -> None:
    healthy = await farm.add(name="Healthy")
    down = await farm.add(name="Down", down=True)
    slow = await farm.add(name="Slow", delay=2.5)
    broken = await farm.add(name="Broken", mode="error")
    assert slow.fake.delay > settings.logout.request_timeout
    tokens = await sign_in(browser, healthy.rp, person)
    for live in (down, slow, broken):
        await sign_in(browser, live.rp, person)

    started = time.monotonic()
    response = await log_out(browser, healthy, tokens["id_token"])
    elapsed = time.monotonic() - started

    assert response.status_code == 303, response.text[:300]
    assert elapsed < settings.logout.inline_wait + 1.0, elapsed
    assert len(healthy.fake.received) == 1
    assert healthy.fake.problems == []

    async def retried() -> bool:
        return (
            slow.fake.attempts >= 2 and broken.fake.attempts >= 2 and await attempts(ctx, down) >= 2
        )

    await wait_until(retried, "retries of the down, slow and broken RPs")
    for live in (down, slow, broken):
        assert await status(ctx, live) == ["pending"], live.fake.client_id
    assert len(healthy.fake.received) == 1
    assert healthy.fake.attempts == 1
    assert await status(ctx, healthy) == ["delivered"]


async def test_flaky_rp_eventually_gets_exactly_one_accepted_token(
    ctx: Context, browser: Browser, person: Person, farm: RPFarm
) -> None:
    flaky = await farm.add(fail_first=2)
    tokens = await sign_in(browser, flaky.rp, person)
    response = await log_out(browser, flaky, tokens["id_token"])
    assert response.status_code == 303

    await wait_until(lambda: len(flaky.fake.received) == 1, "the flaky RP's accepted token")

    async def delivered() -> bool:
        return await status(ctx, flaky) == ["delivered"]

    await wait_until(delivered, "the delivery to be marked delivered")
    [row] = await deliveries(ctx, flaky.client_id)
    assert row.attempts == 3
    await stays(
        lambda: flaky.fake.attempts == 3 and len(flaky.fake.received) == 1,
        "a delivered logout is never sent again",
        seconds=1.5,
    )
    assert flaky.fake.problems == []


async def test_a_retry_resends_the_same_token_while_it_is_valid(
    ctx: Context, clock: OffsetClock, browser: Browser, person: Person, farm: RPFarm
) -> None:
    # Delivery is at least once: the RP deduplicates by jti, so a retry must not mint a new one
    # while the first token can still be accepted.
    broken = await farm.add(mode="error")
    tokens = await sign_in(browser, broken.rp, person)
    await log_out(browser, broken, tokens["id_token"])
    await wait_until(lambda: len(broken.fake.posted) >= 3, "three attempts")

    claims = []
    for token in broken.fake.posted[:3]:
        verified = await ctx.signer.verify(
            token, typ=LOGOUT_TOKEN_TYP, audience=broken.client_id, issuer=ctx.settings.issuer
        )
        assert verified is not None
        claims.append(verified)
    assert len({(c["jti"], c["iat"], c["exp"]) for c in claims}) == 1
    assert {(c["sid"], c["sub"]) for c in claims} == {(claims[0]["sid"], person.account.sub)}

    # Once that token has gone stale, a retry carries a fresh one (an RP would refuse the old).
    clock.advance(ctx.settings.logout.token_ttl)
    seen = len(broken.fake.posted)
    await wait_until(lambda: len(broken.fake.posted) > seen, "a retry after the token aged")
    later = await ctx.signer.verify(
        broken.fake.posted[-1],
        typ=LOGOUT_TOKEN_TYP,
        audience=broken.client_id,
        issuer=ctx.settings.issuer,
    )
    assert later is not None
    assert later["jti"] != claims[0]["jti"]
    assert later["iat"] > claims[0]["iat"]


async def test_rp_answering_400_is_tried_exactly_once(
    ctx: Context, browser: Browser, person: Person, farm: RPFarm
) -> None:
    refusing = await farm.add(mode="reject")
    tokens = await sign_in(browser, refusing.rp, person)
    await log_out(browser, refusing, tokens["id_token"])

    async def rejected() -> bool:
        return await status(ctx, refusing) == ["rejected"]

    await wait_until(rejected, "the delivery to be marked rejected")
    await stays(lambda: refusing.fake.attempts == 1, "a 400 is final", seconds=1.5)
    [row] = await deliveries(ctx, refusing.client_id)
    assert row.attempts == 1
    assert row.last_error is not None
    assert "400" in row.last_error
    assert row.finished_at is not None


async def test_delivery_fails_after_the_retry_period_and_operators_see_it(
    ctx: Context,
    settings: Settings,
    clock: OffsetClock,
    browser: Browser,
    person: Person,
    farm: RPFarm,
) -> None:
    broken = await farm.add(mode="error")
    tokens = await sign_in(browser, broken.rp, person)
    await log_out(browser, broken, tokens["id_token"])
    await wait_until(lambda: broken.fake.attempts >= 2, "a retry")
    assert await status(ctx, broken) == ["pending"]

    await pass_deadline(ctx, broken.client_id)

    async def failed() -> bool:
        return await status(ctx, broken) == ["failed"]

    await wait_until(failed, "the delivery to be marked failed")
    tried = broken.fake.attempts
    await stays(lambda: broken.fake.attempts == tried, "no retry after failing", seconds=1.0)
    [row] = await deliveries(ctx, broken.client_id)
    assert row.finished_at is not None
    assert row.last_error == "HTTP 500"

    code, out, err = await run_idp(
        idp_env(settings), "deliveries", "list", "--status", "failed", "--json"
    )
    assert code == 0, err
    listed = {d["id"]: d for d in json.loads(out)["deliveries"]}
    assert str(row.id) in listed, out[:500]
    assert listed[str(row.id)]["client_id"] == broken.client_id
    assert listed[str(row.id)]["status"] == "failed"
    assert listed[str(row.id)]["attempts"] == row.attempts

    # The generic operator view lists it too, with its reason and without its payload.
    code, out, err = await run_idp(
        idp_env(settings),
        "jobs",
        "list",
        "--status",
        "failed",
        "--kind",
        "backchannel_logout",
        "--json",
    )
    assert code == 0, err
    jobs = {j["id"]: j for j in json.loads(out)["jobs"]}
    assert jobs[str(row.id)]["ref"] == broken.client_id
    assert jobs[str(row.id)]["result"] == "expired"
    assert jobs[str(row.id)]["last_error"] == "HTTP 500"
    assert "payload" not in jobs[str(row.id)]
    assert person.account.sub not in out


async def test_logout_revokes_the_sessions_refresh_tokens_but_not_offline_access(
    browser: Browser, person: Person, farm: RPFarm
) -> None:
    online = await farm.add(name="Online", backchannel=False)
    offline = await farm.add(name="Offline", backchannel=False, scopes=["openid", "offline_access"])
    online_tokens = await sign_in(browser, online.rp, person, scope="openid")
    offline_tokens = await sign_in(
        browser, offline.rp, person, scope="openid offline_access", prompt="consent"
    )
    assert "offline_access" in offline_tokens["scope"].split()

    # Both work before the logout (and rotate: keep the new ones).
    online_refresh = await refresh(browser.http, online.rp, online_tokens["refresh_token"])
    offline_refresh = await refresh(browser.http, offline.rp, offline_tokens["refresh_token"])
    assert online_refresh.status_code == offline_refresh.status_code == 200

    response = await log_out(browser, online, online_tokens["id_token"])
    assert response.status_code == 303

    after = await refresh(browser.http, online.rp, online_refresh.json()["refresh_token"])
    assert after.status_code == 400, after.text
    assert after.json()["error"] == "invalid_grant"
    kept = await refresh(browser.http, offline.rp, offline_refresh.json()["refresh_token"])
    assert kept.status_code == 200, kept.text
