"""The steps of the authorization code flow, as a relying party and a browser take them."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from idp.oidc.pkce import s256
from tests.support.browser import Browser, query
from tests.support.factories import RP, Person


def auth_params(
    rp: RP, *, scope: str = "openid profile", **extra: str
) -> tuple[dict[str, str], str]:
    verifier = secrets.token_urlsafe(48)
    params = {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "scope": scope,
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }
    params.update(extra)
    return params, verifier


async def login_page(browser: Browser, params: dict[str, str]) -> httpx.Response:
    first = await browser.authorize(params)
    assert first.status_code == 303, first.text[:300]
    page = await browser.get(first.headers["location"])
    assert page.status_code == 200, page.text[:300]
    return page


async def log_in(
    browser: Browser, rp: RP, person: Person, **extra: str
) -> tuple[dict[str, str], str, dict[str, str]]:
    """Authorize, log in, (consent if asked); return the callback query, verifier and params."""
    params, verifier = auth_params(rp, **extra)
    first = await browser.authorize(params)
    assert first.status_code == 303, first.text[:300]
    if first.headers["location"].startswith(rp.redirect_uri):
        return query(first.headers["location"]), verifier, params  # single sign-on
    page = await browser.get(first.headers["location"])
    response = await browser.submit(page, {"login": person.phone, "password": person.password})
    for _ in range(3):
        location = response.headers.get("location", "")
        if location.startswith(rp.redirect_uri):
            return query(location), verifier, params
        assert response.status_code == 303, (response.status_code, response.text[:300])
        page = await browser.get(location)
        if page.status_code == 303:
            response = page
            continue
        response = await browser.submit(page, {"decision": "allow"})
    raise AssertionError("the flow did not reach the client")


async def redeem(
    http: httpx.AsyncClient, rp: RP, code: str, verifier: str | None, **extra: str
) -> httpx.Response:
    data: dict[str, Any] = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": rp.redirect_uri,
    }
    if verifier is not None:
        data["code_verifier"] = verifier
    data.update(extra)
    auth = (rp.client_id, rp.client_secret) if rp.client_secret else None
    if auth is None:
        data["client_id"] = rp.client_id
    return await http.post("/token", data=data, auth=auth)  # type: ignore[arg-type]
