"""RP-Initiated Logout 1.0 at the ``end_session_endpoint``, mirroring the OpenID conformance
suite's ``oidcc-rp-initiated-logout-*`` modules (security-anchors.md §3c, §3e)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from idp.context import Context
from idp.oidc.logout.token import logout_token
from tests.support.browser import Browser, form_fields
from tests.support.factories import RP, Person, make_person, make_rp
from tests.support.live import LiveServer
from tests.support.logout_kit import (
    RPFarm,
    logged_in,
    session_record,
    sessions_of_client,
    sign_in,
    submit_form,
    unverified,
    wait_until,
)

POST_LOGOUT = "https://rp.example/logged-out"
STATE = "st ä/&=?"  # must come back exactly, however it has to be encoded


@pytest.fixture
async def rp(ctx: Context) -> RP:
    return await make_rp(ctx, require_consent=False, post_logout_redirect_uris=[POST_LOGOUT])


@pytest.fixture
async def tokens(browser: Browser, rp: RP, person: Person) -> dict[str, Any]:
    return await sign_in(browser, rp, person)


@pytest.fixture
async def farm(ctx: Context, server: LiveServer) -> AsyncIterator[RPFarm]:
    rps = RPFarm(ctx, server.url)
    yield rps
    await rps.close()


async def logout(browser: Browser, method: str = "GET", **params: str) -> httpx.Response:
    if method == "POST":
        return await browser.http.post("/logout", data=params)
    return await browser.get("/logout", params=params)


def assert_refused(response: httpx.Response) -> None:
    """An error page: 400, HTML, and no redirect anywhere."""
    assert response.status_code == 400, (response.status_code, response.text[:300])
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")


def assert_session_cookie_cleared(response: httpx.Response) -> None:
    cleared = [c for c in response.headers.get_list("set-cookie") if c.startswith("idp_session=")]
    assert len(cleared) == 1, response.headers.get_list("set-cookie")
    assert "Max-Age=0" in cleared[0], cleared[0]


def assert_confirmation_page(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text[:300]
    assert "location" not in response.headers
    action, token = form_fields(response.text)
    assert action == "/logout/confirm"
    assert len(token) == 64
    assert 'name="decision" value="allow"' in response.text
    assert 'name="decision" value="deny"' in response.text


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


# --- discovery -----------------------------------------------------------------------------------


async def test_oidcc_rp_initiated_logout_discovery_endpoint_verification(
    server: LiveServer,
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        metadata = (await http.get("/.well-known/openid-configuration")).json()
    assert metadata["end_session_endpoint"] == f"{metadata['issuer']}/logout"
    for flag in (
        "backchannel_logout_supported",
        "backchannel_logout_session_supported",
        "frontchannel_logout_supported",
        "frontchannel_logout_session_supported",
    ):
        assert metadata[flag] is True, flag


# --- a trusted request logs out at once ----------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_oidcc_rp_initiated_logout(
    ctx: Context, browser: Browser, rp: RP, tokens: dict[str, Any], method: str
) -> None:
    old_cookie = browser.http.cookies.get("idp_session")
    assert old_cookie
    response = await logout(
        browser,
        method,
        id_token_hint=tokens["id_token"],
        post_logout_redirect_uri=POST_LOGOUT,
        state=STATE,
    )
    assert response.status_code == 303, response.text[:300]
    assert response.headers["location"] == f"{POST_LOGOUT}?{urlencode({'state': STATE})}"
    assert_session_cookie_cleared(response)
    assert not await logged_in(browser, rp)
    # The session is over on the server too, not only forgotten by this browser.
    browser.http.cookies.set("idp_session", old_cookie, domain="127.0.0.1")
    assert not await logged_in(browser, rp)
    [record] = await sessions_of_client(ctx, rp.client_id)
    assert record.ended_at is not None
    assert record.ended_reason == "logout"


async def test_oidcc_rp_initiated_logout_no_state(
    browser: Browser, rp: RP, tokens: dict[str, Any]
) -> None:
    response = await logout(
        browser, id_token_hint=tokens["id_token"], post_logout_redirect_uri=POST_LOGOUT
    )
    assert response.status_code == 303, response.text[:300]
    assert response.headers["location"] == POST_LOGOUT
    assert not await logged_in(browser, rp)


async def test_oidcc_rp_initiated_logout_no_post_logout_redirect_uri(
    browser: Browser, rp: RP, tokens: dict[str, Any]
) -> None:
    response = await logout(browser, id_token_hint=tokens["id_token"], state=STATE)
    assert response.status_code == 200, response.text[:300]
    assert "location" not in response.headers
    assert_session_cookie_cleared(response)
    assert not await logged_in(browser, rp)


async def test_expired_id_token_hint_still_logs_out(
    ctx: Context, clock: Any, browser: Browser, rp: RP, tokens: dict[str, Any]
) -> None:
    _, claims = unverified(tokens["id_token"])
    clock.advance(ctx.settings.tokens.id_token_ttl + 60)
    assert ctx.clock.now().timestamp() > claims["exp"]
    response = await logout(
        browser,
        id_token_hint=tokens["id_token"],
        post_logout_redirect_uri=POST_LOGOUT,
        state=STATE,
    )
    assert response.status_code == 303, response.text[:300]
    assert response.headers["location"] == f"{POST_LOGOUT}?{urlencode({'state': STATE})}"
    assert not await logged_in(browser, rp)


async def test_logout_when_already_logged_out_is_not_an_error(
    browser: Browser, rp: RP, tokens: dict[str, Any]
) -> None:
    params = {
        "id_token_hint": tokens["id_token"],
        "post_logout_redirect_uri": POST_LOGOUT,
        "state": STATE,
    }
    first = await logout(browser, **params)
    again = await logout(browser, **params)
    assert first.status_code == again.status_code == 303
    assert again.headers["location"] == first.headers["location"]
    assert not await logged_in(browser, rp)


# --- requests that must not be trusted -----------------------------------------------------------


async def test_oidcc_rp_initiated_logout_bad_post_logout_redirect_uri(
    browser: Browser, rp: RP, tokens: dict[str, Any]
) -> None:
    response = await logout(
        browser,
        id_token_hint=tokens["id_token"],
        post_logout_redirect_uri="https://attacker.example/logged-out",
        state=STATE,
    )
    assert_refused(response)
    assert await logged_in(browser, rp)


async def test_oidcc_rp_initiated_logout_query_added_to_post_logout_redirect_uri(
    browser: Browser, rp: RP, tokens: dict[str, Any]
) -> None:
    response = await logout(
        browser,
        id_token_hint=tokens["id_token"],
        post_logout_redirect_uri=f"{POST_LOGOUT}?foo=bar",
        state=STATE,
    )
    assert_refused(response)
    assert await logged_in(browser, rp)


async def test_post_logout_redirect_uri_of_another_client_is_refused(
    ctx: Context, browser: Browser, rp: RP, tokens: dict[str, Any]
) -> None:
    other_uri = "https://other-rp.example/bye"
    await make_rp(ctx, require_consent=False, post_logout_redirect_uris=[other_uri])
    response = await logout(
        browser, id_token_hint=tokens["id_token"], post_logout_redirect_uri=other_uri
    )
    assert_refused(response)
    assert await logged_in(browser, rp)


def _tamper_signature(token: str) -> str:
    head, body, signature = token.split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    return f"{head}.{body}.{signature[:middle]}{flipped}{signature[middle + 1 :]}"


def _tamper_payload(token: str) -> str:
    head, _, signature = token.split(".")
    _, claims = unverified(token)
    claims["sub"] = "someone-else"
    return f"{head}.{b64(claims)}.{signature}"


@pytest.mark.parametrize("tamper", [_tamper_signature, _tamper_payload], ids=["signature", "sub"])
async def test_oidcc_rp_initiated_logout_modified_id_token_hint(
    browser: Browser, rp: RP, tokens: dict[str, Any], tamper: Any
) -> None:
    response = await logout(
        browser,
        id_token_hint=tamper(tokens["id_token"]),
        post_logout_redirect_uri=POST_LOGOUT,
        state=STATE,
    )
    assert_refused(response)
    assert await logged_in(browser, rp)


async def _alg_none(ctx: Context, tokens: dict[str, Any], rp: RP) -> str:
    header, claims = unverified(tokens["id_token"])
    return f"{b64({**header, 'alg': 'none'})}.{b64(claims)}."


async def _foreign_key(ctx: Context, tokens: dict[str, Any], rp: RP) -> str:
    header, claims = unverified(tokens["id_token"])
    key = ec.generate_private_key(ec.SECP256R1())
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": header["kid"], "typ": "JWT"})


async def _logout_token(ctx: Context, tokens: dict[str, Any], rp: RP) -> str:
    _, claims = unverified(tokens["id_token"])
    return await logout_token(
        ctx, client_id=rp.client_id, alg="ES256", sub=claims["sub"], sid=claims["sid"]
    )


async def _access_token(ctx: Context, tokens: dict[str, Any], rp: RP) -> str:
    return str(tokens["access_token"])


@pytest.mark.parametrize(
    "forge",
    [_alg_none, _foreign_key, _logout_token, _access_token],
    ids=["alg-none", "foreign-key", "logout-token", "access-token"],
)
async def test_oidcc_rp_initiated_logout_bad_id_token_hint(
    ctx: Context, browser: Browser, rp: RP, tokens: dict[str, Any], forge: Any
) -> None:
    hint = await forge(ctx, tokens, rp)
    response = await logout(
        browser, id_token_hint=hint, post_logout_redirect_uri=POST_LOGOUT, state=STATE
    )
    assert_refused(response)
    assert await logged_in(browser, rp)


async def test_client_id_not_matching_the_id_token_hint_is_refused(
    ctx: Context, browser: Browser, rp: RP, tokens: dict[str, Any]
) -> None:
    other = await make_rp(ctx, require_consent=False, post_logout_redirect_uris=[POST_LOGOUT])
    response = await logout(
        browser,
        id_token_hint=tokens["id_token"],
        client_id=other.client_id,
        post_logout_redirect_uri=POST_LOGOUT,
    )
    assert_refused(response)
    assert await logged_in(browser, rp)


async def test_id_token_hint_of_another_session_asks_for_confirmation(
    server: LiveServer, browser: Browser, rp: RP, person: Person, tokens: dict[str, Any]
) -> None:
    other_browser = Browser(server.url)
    try:
        await sign_in(other_browser, rp, person)
        response = await logout(
            other_browser,
            id_token_hint=tokens["id_token"],
            post_logout_redirect_uri=POST_LOGOUT,
            state=STATE,
        )
        assert_confirmation_page(response)
        assert await logged_in(other_browser, rp)
        assert await logged_in(browser, rp)
    finally:
        await other_browser.close()


async def test_id_token_hint_of_another_person_asks_for_confirmation(
    ctx: Context, server: LiveServer, browser: Browser, rp: RP, tokens: dict[str, Any]
) -> None:
    stranger = Browser(server.url)
    try:
        await sign_in(stranger, rp, await make_person(ctx))
        response = await logout(stranger, id_token_hint=tokens["id_token"])
        assert_confirmation_page(response)
        assert await logged_in(stranger, rp)
    finally:
        await stranger.close()


# --- asking the person ---------------------------------------------------------------------------


async def test_oidcc_rp_initiated_logout_no_params(
    browser: Browser, rp: RP, tokens: dict[str, Any]
) -> None:
    response = await logout(browser)
    assert_confirmation_page(response)
    assert await logged_in(browser, rp)


async def test_oidcc_rp_initiated_logout_only_state(
    browser: Browser, rp: RP, tokens: dict[str, Any]
) -> None:
    response = await logout(browser, state=STATE)
    assert_confirmation_page(response)
    assert await logged_in(browser, rp)


async def test_oidcc_rp_initiated_logout_no_id_token_hint(
    browser: Browser, rp: RP, tokens: dict[str, Any]
) -> None:
    page = await logout(
        browser, client_id=rp.client_id, post_logout_redirect_uri=POST_LOGOUT, state=STATE
    )
    assert_confirmation_page(page)
    assert await logged_in(browser, rp)
    confirmed = await submit_form(browser, page, "allow")
    assert confirmed.status_code == 303, confirmed.text[:300]
    assert confirmed.headers["location"] == f"{POST_LOGOUT}?{urlencode({'state': STATE})}"
    assert_session_cookie_cleared(confirmed)
    assert not await logged_in(browser, rp)


async def test_confirming_logout_logs_out_and_tells_the_rps(
    ctx: Context, browser: Browser, person: Person, farm: RPFarm
) -> None:
    live = await farm.add()
    tokens = await sign_in(browser, live.rp, person)
    page = await logout(browser)
    assert_confirmation_page(page)
    assert await logged_in(browser, live.rp)
    assert live.fake.received == []

    confirmed = await submit_form(browser, page, "allow")
    assert confirmed.status_code == 200, confirmed.text[:300]
    assert "location" not in confirmed.headers
    assert_session_cookie_cleared(confirmed)
    await wait_until(lambda: len(live.fake.received) == 1, "the RP's logout token")
    assert live.fake.problems == []
    _, id_claims = unverified(tokens["id_token"])
    assert live.fake.received[0].claims["sid"] == id_claims["sid"]
    assert live.fake.received[0].claims["sub"] == person.account.sub
    assert not await logged_in(browser, live.rp)


async def test_denying_logout_keeps_the_session(
    ctx: Context, browser: Browser, person: Person, farm: RPFarm
) -> None:
    live = await farm.add()
    await sign_in(browser, live.rp, person)
    page = await logout(browser)
    denied = await submit_form(browser, page, "deny")
    assert denied.status_code == 200, denied.text[:300]
    assert "location" not in denied.headers
    assert not [c for c in denied.headers.get_list("set-cookie") if "idp_session=" in c]
    assert await logged_in(browser, live.rp)
    [record] = await sessions_of_client(ctx, live.client_id)
    assert (await session_record(ctx, record.id)).ended_at is None
    assert live.fake.attempts == 0


async def test_confirming_logout_needs_the_csrf_token(
    browser: Browser, rp: RP, tokens: dict[str, Any]
) -> None:
    page = await logout(browser)
    action, token = form_fields(page.text)
    forged = "0" * 64 if token != "0" * 64 else "1" * 64
    response = await browser.http.post(action, data={"csrf_token": forged, "decision": "allow"})
    assert response.status_code == 403, response.text[:300]
    assert await logged_in(browser, rp)


@pytest.mark.parametrize("name", ["state", "ui_locales", "post_logout_redirect_uri"])
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_control_characters_are_refused_and_never_echoed(
    browser: Browser, rp: RP, tokens: dict[str, Any], name: str, method: str
) -> None:
    params = {
        "id_token_hint": tokens["id_token"],
        "post_logout_redirect_uri": POST_LOGOUT,
        "state": STATE,
    }
    params[name] = params.get(name, "ru") + "\x00\x1b"
    response = await logout(browser, method, **params)
    assert_refused(response)
    assert await logged_in(browser, rp)
