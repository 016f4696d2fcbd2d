"""A client's level policy holds at every token, not only at the login: the code exchange and
each refresh check the account's level and confirmation method as they are now, and
introspection reports the live level."""

from __future__ import annotations

from typing import Any

from idp.context import Context
from tests.support.browser import Browser
from tests.support.factories import RP, Person, make_person, make_rp
from tests.support.flows import log_in, redeem
from tests.support.token_kit import assert_invalid_grant, introspect, refresh, set_level


async def tokens_for(browser: Browser, rp: RP, person: Person) -> dict[str, Any]:
    callback, verifier, _ = await log_in(browser, rp, person)
    response = await redeem(browser.http, rp, callback["code"], verifier)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_code_exchange_checks_the_level_as_it_is_now(ctx: Context, browser: Browser) -> None:
    person = await make_person(ctx, level="standard")
    rp = await make_rp(ctx, min_level="standard", require_consent=False)
    callback, verifier, _ = await log_in(browser, rp, person)
    await set_level(ctx, person.account.id, "simplified")
    assert_invalid_grant(await redeem(browser.http, rp, callback["code"], verifier))


async def test_refresh_checks_the_level_as_it_is_now(ctx: Context, browser: Browser) -> None:
    person = await make_person(ctx, level="standard")
    rp = await make_rp(ctx, min_level="standard", require_consent=False)
    tokens = await tokens_for(browser, rp, person)
    await set_level(ctx, person.account.id, "simplified")
    assert_invalid_grant(await refresh(browser.http, rp, tokens["refresh_token"]))
    # Back at the level, the same token works (it was refused, not revoked).
    await set_level(ctx, person.account.id, "standard")
    assert (await refresh(browser.http, rp, tokens["refresh_token"])).status_code == 200


async def test_refresh_checks_the_confirmation_method_as_it_is_now(
    ctx: Context, browser: Browser
) -> None:
    person = await make_person(ctx, level="confirmed", method="service_center")
    rp = await make_rp(
        ctx, min_level="confirmed", forbidden_confirmation_methods=["post"], require_consent=False
    )
    tokens = await tokens_for(browser, rp, person)
    await set_level(ctx, person.account.id, "confirmed", "post")
    assert_invalid_grant(await refresh(browser.http, rp, tokens["refresh_token"]))


async def test_introspection_reports_the_live_level(ctx: Context, browser: Browser) -> None:
    person = await make_person(ctx, level="standard")
    rp = await make_rp(ctx, require_consent=False)
    tokens = await tokens_for(browser, rp, person)
    await set_level(ctx, person.account.id, "confirmed", "service_center")
    for token in (tokens["refresh_token"], tokens["access_token"]):
        body = await introspect(browser.http, rp, token)
        assert body["active"] is True, body
        assert body["acr"] == "confirmed", body
