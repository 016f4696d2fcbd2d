"""Re-authentication (``prompt=login``, ``max_age``) of the same account keeps the SSO session:
a new cookie and ``auth_time``, the same ``sid`` and participants, no back-channel logout and
no revoked grant at the other relying parties. Only another account ends the session, with the
usual logout fan-out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest

from idp.clock import OffsetClock
from idp.context import Context
from tests.support.browser import Browser, query
from tests.support.factories import Person, make_person
from tests.support.flows import auth_params, log_in, redeem
from tests.support.live import LiveServer
from tests.support.logout_kit import LiveRP, RPFarm, deliveries, wait_until
from tests.support.token_kit import assert_invalid_grant, refresh

SESSION_COOKIE = "idp_session"


@pytest.fixture
async def farm(ctx: Context, server: LiveServer) -> AsyncIterator[RPFarm]:
    rps = RPFarm(ctx, server.url)
    yield rps
    await rps.close()


async def sign_in(browser: Browser, live: LiveRP, person: Person, **extra: str) -> dict[str, Any]:
    callback, verifier, _ = await log_in(browser, live.rp, person, **extra)
    assert "code" in callback, callback
    response = await redeem(browser.http, live.rp, callback["code"], verifier)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    body["claims"] = jwt.decode(body["id_token"], options={"verify_signature": False})
    return body


async def silent_with(server: LiveServer, live: LiveRP, session_cookie: str) -> str:
    """What a browser holding only this cookie gets from prompt=none: "code" or the error."""
    async with httpx.AsyncClient(base_url=server.url) as other:
        other.cookies.set(SESSION_COOKIE, session_cookie, domain="127.0.0.1")
        params, _ = auth_params(live.rp, prompt="none")
        response = await other.get("/authorize", params=params)
    assert response.status_code == 303, response.text[:300]
    answer = query(response.headers["location"])
    return "code" if "code" in answer else answer["error"]


def cookie(browser: Browser) -> str:
    value = browser.http.cookies.get(SESSION_COOKIE)
    assert value
    return value


@pytest.mark.parametrize("how", [{"prompt": "login"}, {"max_age": "30"}])
async def test_same_account_keeps_the_session_and_its_relying_parties(
    server: LiveServer,
    ctx: Context,
    clock: OffsetClock,
    browser: Browser,
    farm: RPFarm,
    person: Person,
    how: dict[str, str],
) -> None:
    first, second = await farm.add(), await farm.add()
    at_first = await sign_in(browser, first, person)
    at_second = await sign_in(browser, second, person)
    old_cookie = cookie(browser)
    clock.advance(60)

    again = await sign_in(browser, first, person, **how)

    # A new login: new cookie (the old value opens nothing), new auth_time, the same session.
    new_cookie = cookie(browser)
    assert new_cookie != old_cookie
    assert again["claims"]["auth_time"] >= at_first["claims"]["auth_time"] + 60
    assert again["claims"]["sid"] == at_first["claims"]["sid"] == at_second["claims"]["sid"]
    assert await silent_with(server, second, old_cookie) == "login_required"
    assert await silent_with(server, second, new_cookie) == "code"
    # Nobody was logged out: no logout job exists, and every grant still refreshes.
    for live in (first, second):
        assert await deliveries(ctx, live.client_id) == []
        assert live.fake.received == []
    for live, tokens in ((first, at_first), (second, at_second), (first, again)):
        response = await refresh(browser.http, live.rp, tokens["refresh_token"])
        assert response.status_code == 200, response.text


async def test_another_account_ends_the_session_with_the_logout_fan_out(
    ctx: Context, browser: Browser, farm: RPFarm, person: Person
) -> None:
    first, second = await farm.add(), await farm.add()
    at_first = await sign_in(browser, first, person)
    at_second = await sign_in(browser, second, person)

    stranger = await make_person(ctx)
    await sign_in(browser, first, stranger, prompt="login")

    for live in (first, second):
        await wait_until(lambda live=live: len(live.fake.received) == 1, "a back-channel logout")
        assert live.fake.problems == []
        assert live.fake.received[0].claims["sid"] == at_first["claims"]["sid"]
    for live, tokens in ((first, at_first), (second, at_second)):
        assert_invalid_grant(await refresh(browser.http, live.rp, tokens["refresh_token"]))
