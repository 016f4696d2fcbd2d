"""The consent page says who is signed in and offers "not you?"; the logout page names the
services the person will be signed out of."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator

import jwt
import pytest

from idp.context import Context
from tests.support.browser import Browser, query
from tests.support.factories import Person, make_person, make_rp
from tests.support.flows import auth_params, login_page, redeem
from tests.support.live import LiveServer
from tests.support.logout_kit import RPFarm, sessions_of_client, sign_in, wait_until


@pytest.fixture
async def farm(ctx: Context, server: LiveServer) -> AsyncIterator[RPFarm]:
    rps = RPFarm(ctx, server.url)
    yield rps
    await rps.close()


async def test_not_you_ends_the_session_and_asks_for_a_login_again(
    browser: Browser, ctx: Context, farm: RPFarm, person: Person
) -> None:
    # Signed in to one service (which hears of logouts) in this browser.
    first = await farm.add(name="Пенсионный фонд")
    await sign_in(browser, first.rp, person)
    # Another service asks for consent: the page names who is signed in, masked.
    asking = await make_rp(ctx, name="Налоговая служба", require_consent=True)
    params, verifier = auth_params(asking)
    consent = await login_page(browser, params)
    assert 'name="decision" value="allow"' in consent.text
    assert "Вы вошли как Иван П." in consent.text
    assert "Петров" not in consent.text  # the name is masked
    # "Not you?" is a button of the consent form (the form keeps allow as its first button).
    assert len(re.findall(r"<form ", consent.text)) == 1
    switch = re.search(
        r'<button type="submit" form="consent-form" name="decision" '
        r'value="switch_account"',
        consent.text,
    )
    assert switch
    action = re.search(r'action="(/interaction/[^"]+)"', consent.text)
    token = re.search(r'name="csrf_token" value="([^"]+)"', consent.text)
    assert action
    assert token
    cookie_before = browser.http.cookies.get("idp_session")
    assert cookie_before
    switched = await browser.http.post(
        action.group(1), data={"csrf_token": token.group(1), "decision": "switch_account"}
    )
    assert switched.status_code == 303
    assert switched.headers["location"] == action.group(1)
    assert (
        'idp_session=""' in switched.headers["set-cookie"]
        or "Max-Age=0" in switched.headers["set-cookie"]
    )
    # The session is over and the service in it was logged out.
    await wait_until(lambda: bool(first.fake.posted), "the back-channel logout")
    [ended] = await sessions_of_client(ctx, first.client_id)
    assert ended.ended_at is not None
    assert ended.ended_reason == "switch_account"
    # The same interaction now asks for a login; another person logs in and is asked.
    login = await browser.get(action.group(1))
    assert login.status_code == 200
    assert 'name="password"' in login.text
    other = await make_person(ctx)
    after = await browser.submit(login, {"login": other.phone, "password": other.password})
    assert after.status_code == 303
    consent_again = await browser.get(after.headers["location"])
    assert "Вы вошли как Иван П." in consent_again.text  # the factory's name, another account
    done = await browser.submit(consent_again, {"decision": "allow"})
    callback = query(done.headers["location"])
    tokens = await redeem(browser.http, asking, callback["code"], verifier)
    assert tokens.status_code == 200
    claims = jwt.decode(tokens.json()["id_token"], options={"verify_signature": False})
    assert claims["sub"] == other.account.sub != person.account.sub


async def test_not_you_after_the_interaction_finished_repeats_its_answer(
    browser: Browser, ctx: Context, person: Person
) -> None:
    asking = await make_rp(ctx, require_consent=True)
    params, _ = auth_params(asking)
    login = await login_page(browser, params)
    consent = await browser.get(
        (await browser.submit(login, {"login": person.phone, "password": person.password})).headers[
            "location"
        ]
    )
    allowed = await browser.submit(consent, {"decision": "allow"})
    assert allowed.headers["location"].startswith(asking.redirect_uri)
    late = await browser.submit(consent, {"decision": "switch_account"})
    assert late.status_code == 303
    assert late.headers["location"] == allowed.headers["location"]
    # Nothing was ended: the session still signs in without a password.
    again, _ = auth_params(asking)
    sso = await browser.authorize(again)
    assert sso.headers["location"].startswith(asking.redirect_uri)


async def test_the_logout_page_lists_the_services(
    browser: Browser, farm: RPFarm, person: Person, ctx: Context
) -> None:
    tax = await farm.add(name="Налоговая служба")
    pension = await farm.add(name="Пенсионный фонд")
    await sign_in(browser, tax.rp, person)
    await sign_in(browser, pension.rp, person)
    page = await browser.get("/logout")  # no id_token_hint: the person is asked
    assert page.status_code == 200
    listed = re.search(r'<ul aria-labelledby="logout-services"[^>]*>(.*?)</ul>', page.text, re.S)
    assert listed
    names = [html.unescape(n) for n in re.findall(r"<li>([^<]*)</li>", listed.group(1))]
    assert names == ["Налоговая служба", "Пенсионный фонд"]
    assert 'name="decision" value="allow"' in page.text
    # Only asked: nothing is ended yet.
    assert [r.ended_at for r in await sessions_of_client(ctx, tax.client_id)] == [None]


async def test_the_logout_page_says_when_no_service_is_signed_in(
    browser: Browser, ctx: Context, person: Person
) -> None:
    # Logged in at the login page, but the interaction was never finished for any service.
    asking = await make_rp(ctx, require_consent=True)
    params, _ = auth_params(asking)
    login = await login_page(browser, params)
    await browser.submit(login, {"login": person.phone, "password": person.password})
    english = {"Accept-Language": "en"}
    page = await browser.get("/logout", headers=english)
    assert page.status_code == 200
    assert "You have not signed in to any service" in page.text
    assert "logout-services" not in page.text


async def test_not_you_loads_front_channel_logouts_then_returns_to_the_login(
    browser: Browser, ctx: Context, farm: RPFarm, person: Person
) -> None:
    first = await farm.add(name="Пенсионный фонд", backchannel=False, frontchannel=True)
    await sign_in(browser, first.rp, person)
    asking = await make_rp(ctx, require_consent=True)
    params, _ = auth_params(asking, ui_locales="en")
    consent = await login_page(browser, params)
    action = re.search(r'action="(/interaction/[^"]+)"', consent.text)
    assert action
    switched = await browser.submit(consent, {"decision": "switch_account"})
    assert switched.status_code == 200
    assert '<html lang="en">' in switched.text
    assert f'<iframe src="{first.url}/frontchannel' in switched.text
    assert f'<meta http-equiv="refresh" content="3;url={action.group(1)}">' in switched.text
    assert "frame-src " + first.url in switched.headers["content-security-policy"]
    login = await browser.get(action.group(1))
    assert 'name="password"' in login.text
