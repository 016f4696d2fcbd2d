"""One interaction finishes once. Many concurrent submits of the same form (a double click, a
stuck button pressed again) yield one code at most, and every submit gets the same answer: the
redirect the first one gave, never a 500 or an "expired" page. Two first consents at once (two
tabs) never collide either."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from idp.context import Context
from idp.db.models import AuthorizationCode, BrowserSession, Consent
from idp.oidc.authorize.decide import remember_consent
from idp.oidc.authorize.request import AuthorizationRequest
from idp.sessions.service import LiveSession
from tests.support.api_kit import count
from tests.support.browser import Browser, form_fields, query
from tests.support.factories import RP, Person, make_rp
from tests.support.flows import auth_params, log_in, login_page, redeem
from tests.support.logout_kit import wait_until
from tests.support.token_kit import waiting_on_a_lock

SUBMITS = 30


async def consent_page(browser: Browser, rp: RP) -> tuple[httpx.Response, str]:
    params, verifier = auth_params(rp)
    first = await browser.authorize(params)
    assert first.status_code == 303, first.text[:300]
    page = await browser.get(first.headers["location"])
    assert page.status_code == 200, page.text[:300]
    assert 'value="allow"' in page.text
    return page, verifier


async def submit_many(
    browser: Browser, page: httpx.Response, decision: str, times: int
) -> list[httpx.Response]:
    action, token = form_fields(page.text)
    data = {"csrf_token": token, "decision": decision}
    return list(await asyncio.gather(*(browser.http.post(action, data=data) for _ in range(times))))


def one_answer(responses: list[httpx.Response], rp: RP) -> str:
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {303: len(responses)}, (statuses, [r.text[:200] for r in responses])
    locations = {r.headers["location"] for r in responses}
    assert len(locations) == 1, locations
    location = locations.pop()
    assert location.startswith(rp.redirect_uri + "?"), location
    return location


@pytest.fixture
async def asking(ctx: Context, browser: Browser, rp: RP, person: Person) -> RP:
    """A client that asks for consent, with the browser already logged in elsewhere."""
    await log_in(browser, rp, person)
    return await make_rp(ctx, require_consent=True)


async def codes_of(ctx: Context, rp: RP) -> int:
    return await count(ctx, AuthorizationCode, AuthorizationCode.client_id == rp.client_id)


async def test_concurrent_approvals_give_one_code_and_one_answer(
    ctx: Context, browser: Browser, asking: RP
) -> None:
    page, verifier = await consent_page(browser, asking)
    location = one_answer(await submit_many(browser, page, "allow", SUBMITS), asking)

    assert await codes_of(ctx, asking) == 1
    response = await redeem(browser.http, asking, query(location)["code"], verifier)
    assert response.status_code == 200, response.text


async def test_concurrent_denials_give_one_answer(
    ctx: Context, browser: Browser, asking: RP
) -> None:
    page, _ = await consent_page(browser, asking)
    location = one_answer(await submit_many(browser, page, "deny", SUBMITS), asking)

    assert query(location)["error"] == "access_denied"
    assert await codes_of(ctx, asking) == 0


async def test_concurrent_logins_on_one_form_give_one_code_and_one_answer(
    ctx: Context, browser: Browser, rp: RP, person: Person
) -> None:
    params, verifier = auth_params(rp)
    page = await login_page(browser, params)
    action, token = form_fields(page.text)
    data = {"csrf_token": token, "login": person.phone, "password": person.password}
    responses = await asyncio.gather(*(browser.http.post(action, data=data) for _ in range(5)))
    location = one_answer(list(responses), rp)

    assert await codes_of(ctx, rp) == 1
    response = await redeem(browser.http, rp, query(location)["code"], verifier)
    assert response.status_code == 200, response.text


async def test_a_late_second_submit_repeats_the_answer_until_the_code_is_used(
    ctx: Context, browser: Browser, asking: RP
) -> None:
    page, verifier = await consent_page(browser, asking)
    first = one_answer(await submit_many(browser, page, "allow", 1), asking)
    assert one_answer(await submit_many(browser, page, "allow", 1), asking) == first

    assert (await redeem(browser.http, asking, query(first)["code"], verifier)).status_code == 200
    # Repeating a used code would only get the grant revoked as a replay: the page says done.
    late = (await submit_many(browser, page, "allow", 1))[0]
    assert late.status_code == 400, late.text[:300]
    assert await codes_of(ctx, asking) == 1


async def test_two_first_consents_at_once_do_not_collide(
    ctx: Context, person: Person, asking: RP
) -> None:
    # The race held open: the first consent is written but not committed when the second
    # one starts; the second waits for the first and then adds to it, never a duplicate key.
    request = AuthorizationRequest(
        client_id=asking.client_id, redirect_uri=asking.redirect_uri, scope=["openid", "email"]
    )
    other = AuthorizationRequest(
        client_id=asking.client_id, redirect_uri=asking.redirect_uri, scope=["openid", "phone"]
    )
    live = LiveSession(BrowserSession(), person.account)

    async def second() -> None:
        async with ctx.db.transaction() as session:
            await remember_consent(session, ctx, other, live)
            await session.flush()

    async with ctx.db.transaction() as session:
        await remember_consent(session, ctx, request, live)
        await session.flush()
        racing = asyncio.create_task(second())
        if ctx.db.dialect == "postgresql":
            await wait_until(lambda: waiting_on_a_lock(ctx), "the second consent to wait")
        # (SQLite: the second transaction waits at BEGIN IMMEDIATE until this one commits.)
        assert not racing.done()
    await racing
    async with ctx.db.read() as session:
        consent = await session.get(Consent, (person.account.id, asking.client_id))
        assert consent is not None
        assert consent.scopes == ["email", "openid", "phone"]


async def test_first_consents_in_two_tabs_at_once_both_succeed(
    ctx: Context, browser: Browser, asking: RP
) -> None:
    pages = [await consent_page(browser, asking) for _ in range(8)]
    responses = await asyncio.gather(*(submit_many(browser, page, "allow", 1) for page, _ in pages))
    locations = [one_answer(answer, asking) for answer in responses]
    assert len(set(locations)) == len(pages)
    assert await codes_of(ctx, asking) == len(pages)


async def test_reloading_a_finished_interaction_repeats_its_answer(
    ctx: Context, browser: Browser, asking: RP
) -> None:
    page, verifier = await consent_page(browser, asking)
    [approved] = await submit_many(browser, page, "allow", 1)
    location = one_answer([approved], asking)
    reloaded = await browser.get(str(page.url))  # the back button, or a reload
    assert reloaded.status_code == 303, reloaded.text[:300]
    assert reloaded.headers["location"] == location
    assert await codes_of(ctx, asking) == 1
    assert (
        await redeem(browser.http, asking, query(location)["code"], verifier)
    ).status_code == 200
    # Once its code is used, the answer is no longer repeated.
    assert (await browser.get(str(page.url))).status_code != 303
