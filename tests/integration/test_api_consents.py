"""The consent and sign-in endpoints of the account API (``/api/v1/me/consents``,
``/api/v1/me/sign-ins``) and what many requests at once do to one consent or one session:
exactly one wins, the others are told there is nothing left, and a session's relying party
is logged out once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from idp.context import Context
from idp.db.models import BrowserSession, Consent
from tests.support.browser import Browser
from tests.support.console_kit import console_login, csrf_of
from tests.support.factories import RP, Person, make_person, make_rp
from tests.support.live import LiveServer
from tests.support.logout_kit import (
    RPFarm,
    deliveries,
    sessions_of_client,
    sign_in,
    stays,
    wait_until,
)
from tests.support.token_kit import assert_invalid_grant, refresh

CONCURRENT = 20


@pytest.fixture
async def farm(ctx: Context, server: LiveServer) -> AsyncIterator[RPFarm]:
    rps = RPFarm(ctx, server.url)
    yield rps
    await rps.close()


@pytest.fixture
async def consenting_rp(ctx: Context) -> RP:
    return await make_rp(ctx, name="Почта России", require_consent=True)


async def api_csrf(browser: Browser) -> dict[str, str]:
    response = await browser.get("/api/v1/me/csrf")
    assert response.status_code == 200, response.text
    return {"X-CSRF-Token": response.json()["csrf_token"]}


def assert_problem(response: httpx.Response, status: int, slug: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    if slug:
        assert body["type"].endswith(f"/problems/{slug}"), body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/me/consents"),
        ("DELETE", "/api/v1/me/consents/some-client"),
        ("GET", "/api/v1/me/sign-ins"),
    ],
)
async def test_the_endpoints_need_a_session(server: LiveServer, method: str, path: str) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert_problem(await http.request(method, path), 401)


async def test_list_and_withdraw_a_consent(
    browser: Browser, ctx: Context, person: Person, consenting_rp: RP
) -> None:
    tokens = await sign_in(browser, consenting_rp, person)
    renewed = await refresh(browser.http, consenting_rp, tokens["refresh_token"])
    assert renewed.status_code == 200, renewed.text  # works until the consent is withdrawn
    listed = await browser.get("/api/v1/me/consents")
    assert listed.status_code == 200
    assert listed.headers["cache-control"] == "no-store"
    [item] = listed.json()["consents"]
    assert item["client_id"] == consenting_rp.client_id
    assert item["client_name"] == "Почта России"
    assert item["scopes"] == ["openid", "profile"]

    url = f"/api/v1/me/consents/{consenting_rp.client_id}"
    # Without the CSRF header nothing changes.
    assert_problem(await browser.http.delete(url), 403)
    assert_problem(await browser.http.delete(url, headers={"X-CSRF-Token": "x" * 43}), 403)
    async with ctx.db.read() as session:
        assert await session.get(Consent, (person.account.id, consenting_rp.client_id))

    headers = await api_csrf(browser)
    withdrawn = await browser.http.delete(url, headers=headers)
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json() == {"client_id": consenting_rp.client_id, "revoked_grants": 1}
    assert_invalid_grant(
        await refresh(browser.http, consenting_rp, renewed.json()["refresh_token"])
    )
    assert (await browser.get("/api/v1/me/consents")).json() == {"consents": []}

    assert_problem(await browser.http.delete(url, headers=headers), 404, "no-such-consent")
    assert_problem(
        await browser.http.delete("/api/v1/me/consents/no-such-client", headers=headers),
        404,
        "no-such-consent",
    )
    assert_problem(
        await browser.http.delete("/api/v1/me/consents/" + "x" * 65, headers=headers), 422
    )


async def test_another_persons_consent_is_not_mine_to_withdraw(
    browser: Browser, server: LiveServer, ctx: Context, person: Person, consenting_rp: RP
) -> None:
    stranger = await make_person(ctx)
    other = Browser(server.url)
    try:
        await sign_in(other, consenting_rp, stranger)
    finally:
        await other.close()
    await console_login(browser, person)
    refused = await browser.http.delete(
        f"/api/v1/me/consents/{consenting_rp.client_id}", headers=await api_csrf(browser)
    )
    assert_problem(refused, 404, "no-such-consent")
    async with ctx.db.read() as session:
        assert await session.get(Consent, (stranger.account.id, consenting_rp.client_id))


async def test_sign_ins_newest_first_and_this_one_marked(
    server: LiveServer, person: Person
) -> None:
    earlier = Browser(server.url)
    now = Browser(server.url)
    try:
        earlier.http.headers["User-Agent"] = "Mozilla/5.0 (Windows NT 10.0) Chrome/126.0"
        await console_login(earlier, person)
        now.http.headers["User-Agent"] = "curl/8.5.0"
        await console_login(now, person)
        response = await now.get("/api/v1/me/sign-ins")
    finally:
        await earlier.close()
        await now.close()
    assert response.status_code == 200, response.text
    items = response.json()["sign_ins"]
    assert [i["device"] for i in items[:2]] == ["curl", "Chrome on Windows"]
    assert [i["current"] for i in items[:2]] == [True, False]
    assert all(i["via"] == "console" for i in items[:2])
    assert items[0]["network"] == "127.0.0.0"
    assert items[0]["at"] >= items[1]["at"]


# --- many at once --------------------------------------------------------------------------------


async def test_concurrent_withdrawals_one_wins(
    browser: Browser, ctx: Context, person: Person, consenting_rp: RP
) -> None:
    await sign_in(browser, consenting_rp, person)
    headers = await api_csrf(browser)
    url = f"/api/v1/me/consents/{consenting_rp.client_id}"
    answers = await asyncio.gather(
        *(browser.http.delete(url, headers=headers) for _ in range(CONCURRENT))
    )
    assert Counter(a.status_code for a in answers) == {200: 1, 404: CONCURRENT - 1}
    for answer in answers:
        if answer.status_code == 404:
            assert_problem(answer, 404, "no-such-consent")
    async with ctx.db.read() as session:
        assert await session.get(Consent, (person.account.id, consenting_rp.client_id)) is None


async def test_concurrent_ends_of_one_session_log_its_rp_out_once(
    server: LiveServer, browser: Browser, ctx: Context, person: Person, farm: RPFarm
) -> None:
    tax = await farm.add()
    phone = Browser(server.url)
    try:
        await sign_in(phone, tax.rp, person)
    finally:
        await phone.close()
    [target] = await sessions_of_client(ctx, tax.client_id)
    await console_login(browser, person)
    page = await browser.get("/account/sessions")
    token = csrf_of(page)
    answers = await asyncio.gather(
        *(
            browser.http.post(f"/account/sessions/{target.id}/end", data={"csrf_token": token})
            for _ in range(CONCURRENT)
        )
    )
    assert Counter(a.status_code for a in answers) == {303: 1, 404: CONCURRENT - 1}
    await wait_until(lambda: len(tax.fake.received) == 1, "a back-channel logout")
    await stays(lambda: len(tax.fake.received) == 1, "one logout only", seconds=1.0)
    assert tax.fake.received[0].claims["sid"] == target.sid
    assert len(await deliveries(ctx, tax.client_id)) == 1
    async with ctx.db.read() as session:
        ended = await session.get(BrowserSession, target.id)
        assert ended is not None
        assert ended.ended_reason == "ended_by_person"
    assert (await browser.get("/account")).status_code == 200


async def test_concurrent_end_alls_end_each_session_once(
    server: LiveServer, browser: Browser, ctx: Context, person: Person, farm: RPFarm
) -> None:
    tax = await farm.add()
    phones = [Browser(server.url) for _ in range(3)]
    try:
        for phone in phones:
            await sign_in(phone, tax.rp, person)
    finally:
        for phone in phones:
            await phone.close()
    await console_login(browser, person)
    headers = await api_csrf(browser)
    token = csrf_of(await browser.get("/account"))
    answers = await asyncio.gather(
        *(
            browser.http.delete("/api/v1/me/sessions?keep_current=true", headers=headers)
            for _ in range(CONCURRENT // 2)
        ),
        *(
            browser.http.post(
                "/account/sessions/end-all", data={"csrf_token": token, "keep_current": "yes"}
            )
            for _ in range(CONCURRENT // 2)
        ),
    )
    assert [a.status_code for a in answers] == [200] * (CONCURRENT // 2) + [303] * (CONCURRENT // 2)
    # The API tells how many each call ended: together at most the three (the pages won
    # the rest); never one session twice.
    assert sum(a.json()["ended"] for a in answers[: CONCURRENT // 2]) <= 3
    await wait_until(lambda: len(tax.fake.received) == 3, "three back-channel logouts")
    await stays(lambda: len(tax.fake.received) == 3, "one logout per session", seconds=1.0)
    assert len({r.claims["sid"] for r in tax.fake.received}) == 3
    async with ctx.db.read() as session:
        rows = await session.scalars(
            select(BrowserSession.id).where(
                BrowserSession.account_id == person.account.id, BrowserSession.ended_at.is_(None)
            )
        )
        assert len(rows.all()) == 1  # this browser's own session goes on
