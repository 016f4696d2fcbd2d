"""Logging in and out through the REST API: the same SSO session as the login page, login CSRF,
one 401 for every wrong login, throttling with Retry-After, and logout with the fan-out."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from idp.clock import OffsetClock
from idp.context import Context
from idp.db.models import AuditEvent, BrowserSession
from tests.support.api_kit import Api, count
from tests.support.browser import Browser
from tests.support.factories import Person, make_person
from tests.support.live import LiveServer
from tests.support.logout_kit import RPFarm, logged_in, sign_in, wait_until


@pytest.fixture
async def api(server: LiveServer) -> AsyncIterator[Api]:
    client = Api(server.url)
    yield client
    await client.close()


async def _sessions(ctx: Context, person: Person) -> list[BrowserSession]:
    async with ctx.db.read() as session:
        rows = await session.scalars(
            select(BrowserSession)
            .where(BrowserSession.account_id == person.account.id)
            .order_by(BrowserSession.created_at)
        )
        return list(rows.all())


async def test_csrf_token_before_login_is_bound_to_a_new_browser_cookie(api: Api) -> None:
    first = await api.http.get("/api/v1/csrf")
    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-store"
    cookie = first.headers["set-cookie"]
    assert cookie.startswith("idp_browser=")
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    again = await api.http.get("/api/v1/csrf")
    assert "set-cookie" not in again.headers  # the browser keeps its cookie ...
    assert again.json() == first.json()  # ... and its token
    other = Api(api.http.base_url.__str__())
    try:
        assert (await other.csrf()) != first.json()["csrf_token"]
    finally:
        await other.close()


async def test_login_sets_the_sso_session_cookie_and_returns_the_account(
    api: Api, ctx: Context, person: Person
) -> None:
    response = await api.login(person.phone, person.password)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body == {
        "sub": person.account.sub,
        "last_name": "Петров",
        "first_name": "Иван",
        "middle_name": "Сергеевич",
        "level": "simplified",
        "confirmation_method": None,
    }
    set_cookie = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    session_cookie = next(c for c in set_cookie if c.startswith("idp_session="))
    assert "HttpOnly" in session_cookie
    assert "samesite=lax" in session_cookie.lower()
    sessions = await _sessions(ctx, person)
    assert len(sessions) == 1
    assert sessions[0].amr == ["pwd"]
    me = await api.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["sub"] == person.account.sub
    # The e-mail and the SNILS log in too.
    for login in (person.email.upper(), person.snils):
        again = await api.login(login, person.password)
        assert again.status_code == 200, again.text
    async with ctx.db.read() as session:
        events = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.account_id == str(person.account.id), AuditEvent.event == "login"
                )
            )
        ).all()
    assert [e.details.get("via") for e in events] == ["api", "api", "api"]


async def test_another_accounts_login_ends_the_browsers_previous_session_with_the_fan_out(
    server: LiveServer, ctx: Context, person: Person
) -> None:
    farm = RPFarm(ctx, server.url)
    browser = Browser(server.url)
    try:
        tax = await farm.add(name="Налоговая служба")
        api = Api(server.url)
        api.http = browser.http  # one cookie jar: the API login, then the RP's SSO
        browser.http.headers["X-Forwarded-For"] = "203.0.113.201"
        assert (await api.login(person.phone, person.password)).status_code == 200
        first_cookie = browser.http.cookies.get("idp_session")
        await sign_in(browser, tax.rp, person)  # single sign-on: no login page
        assert await logged_in(browser, tax.rp)
        other = await make_person(ctx)
        again = await api.login(other.email, other.password)
        assert again.status_code == 200
        assert browser.http.cookies.get("idp_session") != first_cookie  # no fixation
        sessions = await _sessions(ctx, person)
        assert [s.ended_reason for s in sessions] == ["replaced"]
        assert [s.ended_reason for s in await _sessions(ctx, other)] == [None]
        await wait_until(lambda: len(tax.fake.received) == 1, "the RP's logout token")
        assert tax.fake.received[0].claims["sid"] == sessions[0].sid
        assert tax.fake.problems == []
    finally:
        await browser.close()
        await farm.close()


async def test_the_same_accounts_login_renews_the_browsers_session(
    server: LiveServer, ctx: Context, person: Person
) -> None:
    farm = RPFarm(ctx, server.url)
    browser = Browser(server.url)
    try:
        tax = await farm.add(name="Налоговая служба")
        api = Api(server.url)
        api.http = browser.http
        assert (await api.login(person.phone, person.password)).status_code == 200
        first_cookie = browser.http.cookies.get("idp_session")
        await sign_in(browser, tax.rp, person)
        assert (await api.login(person.email, person.password)).status_code == 200
        assert browser.http.cookies.get("idp_session") != first_cookie  # no fixation
        assert [s.ended_reason for s in await _sessions(ctx, person)] == [None]
        assert await logged_in(browser, tax.rp)
        assert tax.fake.received == []
    finally:
        await browser.close()
        await farm.close()


async def test_login_needs_the_csrf_header_of_this_browser(
    api: Api, ctx: Context, person: Person
) -> None:
    before = await count(ctx, BrowserSession)
    no_header = await api.http.post(
        "/api/v1/login", json={"login": person.phone, "password": person.password}
    )
    assert no_header.status_code == 403
    assert no_header.headers["content-type"] == "application/problem+json"
    assert no_header.json()["type"] == f"{ctx.settings.issuer}/problems/csrf-failed"
    stranger = Api(str(api.http.base_url))
    try:
        foreign = await stranger.csrf()
    finally:
        await stranger.close()
    await api.csrf()
    wrong = await api.http.post(
        "/api/v1/login",
        json={"login": person.phone, "password": person.password},
        headers={"X-CSRF-Token": foreign},
    )
    assert wrong.status_code == 403
    assert await count(ctx, BrowserSession) == before
    assert "idp_session" not in api.http.cookies


async def test_a_wrong_password_and_an_unknown_login_get_the_same_401(
    api: Api, person: Person
) -> None:
    await api.csrf()
    wrong_password = await api.post(
        "/api/v1/login", {"login": person.phone, "password": "Wrong-Password-1"}
    )
    unknown = await api.post("/api/v1/login", {"login": "+79990000001", "password": "Whatever-1"})
    not_a_login = await api.post("/api/v1/login", {"login": "nobody", "password": "Whatever-1"})
    assert wrong_password.status_code == unknown.status_code == not_a_login.status_code == 401
    assert wrong_password.json() == unknown.json() == not_a_login.json()
    assert wrong_password.json()["type"].endswith("/problems/invalid-credentials")
    assert "set-cookie" not in wrong_password.headers


async def test_failed_logins_are_throttled_with_a_growing_delay_and_retry_after(
    api: Api, ctx: Context, person: Person, clock: OffsetClock
) -> None:
    free = ctx.settings.throttle.free_failures
    await api.csrf()
    for _ in range(free):
        failed = await api.post("/api/v1/login", {"login": person.phone, "password": "Nope-12345"})
        assert failed.status_code == 401
    # Blocked now, even with the right password.
    blocked = await api.post("/api/v1/login", {"login": person.phone, "password": person.password})
    assert blocked.status_code == 429, blocked.text
    assert blocked.headers["content-type"] == "application/problem+json"
    assert blocked.json()["type"].endswith("/problems/too-many-attempts")
    first_wait = int(blocked.headers["retry-after"])
    assert first_wait >= 1
    clock.advance(first_wait + 1)
    failed = await api.post("/api/v1/login", {"login": person.phone, "password": "Nope-12345"})
    assert failed.status_code == 401
    blocked = await api.post("/api/v1/login", {"login": person.phone, "password": person.password})
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > first_wait  # the delay grows
    clock.advance(int(blocked.headers["retry-after"]) + 1)
    # Never a permanent lock: after the delay the right password works and resets the count.
    assert (await api.login(person.phone, person.password)).status_code == 200
    failed = await api.post("/api/v1/login", {"login": person.phone, "password": "Nope-12345"})
    assert failed.status_code == 401


async def test_logout_ends_the_session_tells_the_rps_and_is_idempotent(
    server: LiveServer, ctx: Context, person: Person
) -> None:
    farm = RPFarm(ctx, server.url)
    browser = Browser(server.url)
    try:
        tax = await farm.add(name="Налоговая служба")
        api = Api(server.url)
        api.http = browser.http
        browser.http.headers["X-Forwarded-For"] = "203.0.113.202"
        assert (await api.login(person.phone, person.password)).status_code == 200
        await sign_in(browser, tax.rp, person)
        refused = await api.http.post("/api/v1/logout")  # no CSRF header: nothing happens
        assert refused.status_code == 403
        assert await logged_in(browser, tax.rp)
        out = await api.post("/api/v1/logout")
        assert out.status_code == 204
        assert "idp_session" not in browser.http.cookies
        await wait_until(lambda: len(tax.fake.received) == 1, "the RP's logout token")
        assert not await logged_in(browser, tax.rp)
        assert [s.ended_reason for s in await _sessions(ctx, person)] == ["logout"]
        assert (await api.get("/api/v1/me")).status_code == 401
        again = await api.post("/api/v1/logout")
        assert again.status_code == 204
    finally:
        await browser.close()
        await farm.close()
