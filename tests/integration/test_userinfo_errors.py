"""The UserInfo endpoint's refusals (OIDC Core §5.3.3, RFC 6750 §2 and §3, RFC 9068 §4)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from idp.clock import OffsetClock
from idp.context import Context
from tests.support.browser import Browser
from tests.support.factories import RP, Person, make_rp
from tests.support.flows import log_in, redeem
from tests.support.live import LiveServer


@pytest.fixture
async def http(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        yield client


@pytest.fixture
async def tokens(
    http: httpx.AsyncClient, browser: Browser, rp: RP, person: Person
) -> dict[str, Any]:
    callback, verifier, _ = await log_in(browser, rp, person)
    response = await redeem(http, rp, callback["code"], verifier)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def assert_invalid_token(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="invalid_token"' in challenge
    # RFC 6750 §3, as openapi.yaml says: the challenge carries the error, there is no body.
    assert response.content == b""
    assert "content-type" not in response.headers


async def test_valid_token_works(http: httpx.AsyncClient, tokens: dict[str, Any]) -> None:
    response = await http.get("/userinfo", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200, response.text
    assert response.json()["sub"]


async def test_no_token_is_401_without_an_error_code(http: httpx.AsyncClient) -> None:
    response = await http.get("/userinfo")
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer realm=")
    assert "error=" not in challenge
    assert response.content == b""


async def test_token_in_the_query_is_not_accepted(
    http: httpx.AsyncClient, tokens: dict[str, Any]
) -> None:
    response = await http.get("/userinfo", params={"access_token": tokens["access_token"]})
    assert response.status_code == 401
    assert "error=" not in response.headers["www-authenticate"]


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "x" * 5000])
async def test_bad_token_is_invalid_token(http: httpx.AsyncClient, token: str) -> None:
    assert_invalid_token(await http.get("/userinfo", headers=bearer(token)))


async def test_id_token_is_not_an_access_token(
    http: httpx.AsyncClient, tokens: dict[str, Any]
) -> None:
    assert_invalid_token(await http.get("/userinfo", headers=bearer(tokens["id_token"])))


async def test_unsigned_token_is_refused(http: httpx.AsyncClient, tokens: dict[str, Any]) -> None:
    header = jwt.get_unverified_header(tokens["access_token"])
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    forged = f"{b64({**header, 'alg': 'none'})}.{b64(claims)}."
    assert_invalid_token(await http.get("/userinfo", headers=bearer(forged)))


async def test_token_signed_by_a_foreign_key_is_refused(
    http: httpx.AsyncClient, tokens: dict[str, Any]
) -> None:
    header = jwt.get_unverified_header(tokens["access_token"])
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    foreign = ec.generate_private_key(ec.SECP256R1())
    forged = jwt.encode(
        claims, foreign, algorithm="ES256", headers={"kid": header["kid"], "typ": "at+jwt"}
    )
    assert_invalid_token(await http.get("/userinfo", headers=bearer(forged)))


async def test_token_hmac_signed_with_our_public_key_is_refused(
    http: httpx.AsyncClient, tokens: dict[str, Any]
) -> None:
    header = jwt.get_unverified_header(tokens["access_token"])
    jwks = (await http.get("/jwks")).json()
    public = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    body = f"{b64({'alg': 'HS256', 'typ': 'at+jwt', 'kid': header['kid']})}.{b64(claims)}"
    secret = json.dumps(public).encode()
    signature = (
        base64.urlsafe_b64encode(hmac.new(secret, body.encode(), hashlib.sha256).digest())
        .decode()
        .rstrip("=")
    )
    assert_invalid_token(await http.get("/userinfo", headers=bearer(f"{body}.{signature}")))


async def test_tampered_claims_are_refused(http: httpx.AsyncClient, tokens: dict[str, Any]) -> None:
    head, _payload, signature = tokens["access_token"].split(".")
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    tampered = f"{head}.{b64({**claims, 'scope': 'openid profile email phone snils'})}.{signature}"
    assert_invalid_token(await http.get("/userinfo", headers=bearer(tampered)))


async def test_expired_token_is_refused(
    ctx: Context, http: httpx.AsyncClient, tokens: dict[str, Any], clock: OffsetClock
) -> None:
    clock.advance(ctx.settings.tokens.access_token_ttl + 1)
    assert_invalid_token(await http.get("/userinfo", headers=bearer(tokens["access_token"])))


async def test_client_credentials_token_is_insufficient_scope(
    ctx: Context, http: httpx.AsyncClient
) -> None:
    service = await make_rp(ctx, grant_types=["client_credentials"], require_consent=False)
    assert service.client_secret is not None
    issued = await http.post(
        "/token",
        data={"grant_type": "client_credentials"},
        auth=(service.client_id, service.client_secret),
    )
    assert issued.status_code == 200, issued.text
    response = await http.get("/userinfo", headers=bearer(issued.json()["access_token"]))
    assert response.status_code == 403, response.text
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert response.content == b""


async def test_token_in_the_form_body_works(
    http: httpx.AsyncClient, tokens: dict[str, Any]
) -> None:
    response = await http.post("/userinfo", data={"access_token": tokens["access_token"]})
    assert response.status_code == 200, response.text
    assert response.json()["sub"]


async def test_post_with_the_header_works(http: httpx.AsyncClient, tokens: dict[str, Any]) -> None:
    response = await http.post("/userinfo", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200, response.text


async def test_token_in_header_and_body_is_invalid_request(
    http: httpx.AsyncClient, tokens: dict[str, Any]
) -> None:
    response = await http.post(
        "/userinfo",
        data={"access_token": tokens["access_token"]},
        headers=bearer(tokens["access_token"]),
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"


async def test_non_bearer_scheme_is_refused(
    http: httpx.AsyncClient, tokens: dict[str, Any]
) -> None:
    response = await http.get(
        "/userinfo", headers={"Authorization": f"Basic {tokens['access_token']}"}
    )
    assert response.status_code in (400, 401), response.text
