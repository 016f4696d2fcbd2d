"""Single sign-on sessions: reuse without a form, a fresh cookie at every login (no fixation),
and the idle and absolute limits (NIST 800-63B-4 §2.2 / §5, OIDC Core §3.1.2.1 prompt)."""

from __future__ import annotations

from typing import Any

import httpx
import jwt

from idp.clock import OffsetClock
from idp.context import Context
from tests.support.browser import Browser, query
from tests.support.factories import RP, Person, make_rp
from tests.support.flows import auth_params, log_in, login_page, redeem
from tests.support.live import LiveServer

SESSION_COOKIE = "idp_session"


async def login_response(browser: Browser, rp: RP, person: Person, **extra: str) -> httpx.Response:
    page = await login_page(browser, auth_params(rp, **extra)[0])
    response = await browser.submit(page, {"login": person.phone, "password": person.password})
    assert response.status_code == 303, response.text[:300]
    assert response.headers["location"].startswith(rp.redirect_uri)
    return response


async def silent(browser: Browser, rp: RP) -> dict[str, str]:
    """The callback query of a prompt=none request."""
    params, _ = auth_params(rp, prompt="none")
    response = await browser.authorize(params)
    assert response.status_code == 303, response.text[:300]
    assert response.headers["location"].startswith(rp.redirect_uri)
    return query(response.headers["location"])


async def prompt_none_with_cookie(server: LiveServer, rp: RP, cookie: str) -> dict[str, str]:
    """What another client, holding only this session cookie, gets from prompt=none."""
    async with httpx.AsyncClient(base_url=server.url) as other_browser:
        other_browser.cookies.set(SESSION_COOKIE, cookie, domain="127.0.0.1")
        params, _ = auth_params(rp, prompt="none")
        response = await other_browser.get("/authorize", params=params)
    assert response.status_code == 303
    return query(response.headers["location"])


async def id_token_claims(
    http: httpx.AsyncClient, rp: RP, code: str, verifier: str
) -> dict[str, Any]:
    response = await redeem(http, rp, code, verifier)
    assert response.status_code == 200, response.text
    claims: dict[str, Any] = jwt.decode(
        response.json()["id_token"], options={"verify_signature": False}
    )
    return claims


async def test_second_authorize_gets_a_code_without_a_form(
    server: LiveServer, browser: Browser, rp: RP, person: Person
) -> None:
    await log_in(browser, rp, person)
    params, verifier = auth_params(rp)
    response = await browser.authorize(params)
    assert response.status_code == 303
    callback = query(response.headers["location"])
    assert callback["state"] == params["state"]
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await redeem(http, rp, callback["code"], verifier)).status_code == 200


async def test_session_is_shared_between_clients(
    ctx: Context, browser: Browser, rp: RP, person: Person
) -> None:
    await log_in(browser, rp, person)
    other = await make_rp(ctx, require_consent=False)
    assert "code" in await silent(browser, other)


async def test_cookie_changes_at_each_login(browser: Browser, rp: RP, person: Person) -> None:
    first = (await login_response(browser, rp, person)).cookies[SESSION_COOKIE]
    second = (await login_response(browser, rp, person, prompt="login")).cookies[SESSION_COOKIE]
    assert first != second


async def test_planted_cookie_is_not_adopted(
    server: LiveServer, browser: Browser, rp: RP, person: Person
) -> None:
    planted = "attacker-chosen-session-value-0123456789abcdef"
    browser.http.cookies.set(SESSION_COOKIE, planted, domain="127.0.0.1")
    issued = (await login_response(browser, rp, person)).cookies[SESSION_COOKIE]
    assert issued != planted
    assert (await prompt_none_with_cookie(server, rp, planted))["error"] == "login_required"
    assert "code" in await prompt_none_with_cookie(server, rp, issued)


async def test_previous_session_ends_at_a_new_login(
    server: LiveServer, browser: Browser, rp: RP, person: Person
) -> None:
    old = (await login_response(browser, rp, person)).cookies[SESSION_COOKIE]
    assert "code" in await prompt_none_with_cookie(server, rp, old)
    await login_response(browser, rp, person, prompt="login")
    assert (await prompt_none_with_cookie(server, rp, old))["error"] == "login_required"


async def test_idle_session_needs_a_new_login(
    ctx: Context, clock: OffsetClock, browser: Browser, rp: RP, person: Person
) -> None:
    await log_in(browser, rp, person)
    clock.advance(ctx.settings.sessions.idle_ttl + 1)
    assert (await silent(browser, rp))["error"] == "login_required"


async def test_activity_keeps_the_session_alive(
    ctx: Context, clock: OffsetClock, browser: Browser, rp: RP, person: Person
) -> None:
    await log_in(browser, rp, person)
    for _ in range(3):
        clock.advance(ctx.settings.sessions.idle_ttl - 10)
        assert "code" in await silent(browser, rp)


async def test_session_ends_at_the_absolute_limit_despite_activity(
    ctx: Context, clock: OffsetClock, browser: Browser, rp: RP, person: Person
) -> None:
    await log_in(browser, rp, person)
    limits = ctx.settings.sessions
    step = limits.idle_ttl - 10
    elapsed = 0
    while elapsed + step < limits.absolute_ttl:
        clock.advance(step)
        elapsed += step
        assert "code" in await silent(browser, rp)
    clock.advance(limits.absolute_ttl - elapsed + 1)
    assert (await silent(browser, rp))["error"] == "login_required"


async def test_prompt_none_when_consent_is_missing_is_consent_required(
    server: LiveServer, ctx: Context, browser: Browser, rp: RP, person: Person
) -> None:
    await log_in(browser, rp, person)
    asking = await make_rp(ctx, require_consent=True)
    params, _ = auth_params(asking, prompt="none")
    response = await browser.authorize(params)
    answer = query(response.headers["location"])
    assert answer["error"] == "consent_required"
    assert answer["state"] == params["state"]
    assert answer["iss"] == server.url


async def test_interaction_belongs_to_the_browser_that_started_it(
    server: LiveServer, browser: Browser, rp: RP, person: Person
) -> None:
    first = await browser.authorize(auth_params(rp)[0])
    interaction = first.headers["location"]
    other = Browser(server.url)
    try:
        await other.authorize(auth_params(rp)[0])  # gets a browser cookie of its own
        response = await other.get(interaction)
    finally:
        await other.close()
    assert response.status_code == 400
    assert 'name="password"' not in response.text


async def test_max_age_login_gives_a_fresh_auth_time(
    server: LiveServer, clock: OffsetClock, browser: Browser, rp: RP, person: Person
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        first, verifier, _ = await log_in(browser, rp, person)
        before = await id_token_claims(http, rp, first["code"], verifier)
        clock.advance(30)
        second, verifier, _ = await log_in(browser, rp, person, max_age="10")
        after = await id_token_claims(http, rp, second["code"], verifier)
    assert after["auth_time"] >= before["auth_time"] + 30
