"""The demo relying party refuses ID tokens a real RP must refuse (OIDC Core §3.1.3.7).

The provider here is a stand-in answering over httpx's transport seam with tokens this test
signs; the relying party's own checks are what is under test.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from idp.demo.relying_party import RelyingParty, RelyingPartyError, Tokens

ISSUER = "http://127.0.0.1:8000"
CLIENT = "idp-demo"
NONCE = "the-nonce"


class Provider:
    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key()))
        self.jwks = {"keys": [{**jwk, "kid": "k1", "alg": "ES256", "use": "sig"}]}
        self.id_token = ""
        self.token_requests: list[dict[str, str]] = []

    def sign(self, key: Any = None, kid: str = "k1", alg: str = "ES256", **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "sub": "s1", "aud": CLIENT, "iat": now, "exp": now + 600}
        body.update({"nonce": NONCE, **claims})
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, key or self.key, algorithm=alg, headers={"kid": kid})

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "authorization_endpoint": f"{ISSUER}/authorize",
                    "token_endpoint": f"{ISSUER}/token",
                    "userinfo_endpoint": f"{ISSUER}/userinfo",
                    "jwks_uri": f"{ISSUER}/jwks",
                    "end_session_endpoint": f"{ISSUER}/logout",
                    "id_token_signing_alg_values_supported": ["ES256", "RS256", "EdDSA"],
                },
            )
        if path == "/jwks":
            return httpx.Response(200, json=self.jwks)
        if path == "/token":
            self.token_requests.append(dict(httpx.QueryParams(request.content.decode())))
            return httpx.Response(
                200,
                json={
                    "access_token": "at",
                    "token_type": "Bearer",
                    "expires_in": 600,
                    "id_token": self.id_token,
                    "refresh_token": "rt",
                    "scope": "openid",
                },
            )
        return httpx.Response(404)


@pytest.fixture
async def provider() -> Provider:
    return Provider()


async def _redeem(provider: Provider, id_token: str) -> Tokens:
    provider.id_token = id_token
    rp = RelyingParty(ISSUER, CLIENT, ["openid"], transport=httpx.MockTransport(provider.handle))
    try:
        return await rp.redeem("code", "verifier", NONCE)
    finally:
        await rp.close()


async def test_a_good_id_token_is_taken_and_the_code_sent_with_its_verifier(
    provider: Provider,
) -> None:
    tokens = await _redeem(provider, provider.sign())
    assert tokens.access_token == "at"
    assert tokens.refresh_token == "rt"
    assert provider.token_requests == [
        {
            "grant_type": "authorization_code",
            "code": "code",
            "redirect_uri": f"{ISSUER}/demo/callback",
            "code_verifier": "verifier",
            "client_id": CLIENT,
        }
    ]


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"nonce": "another"}, "nonce_mismatch"),
        ({"nonce": None}, "nonce_mismatch"),
        ({"iss": "http://127.0.0.1:9999"}, "id_token_issuer"),
        ({"aud": "someone-else"}, "id_token_audience"),
        ({"aud": [CLIENT, "someone-else"]}, "id_token_audience"),  # no azp naming us
        ({"exp": int(time.time()) - 3600}, "id_token_expired"),
        ({"sub": None}, "id_token_invalid"),
    ],
)
async def test_id_tokens_a_relying_party_must_refuse(
    provider: Provider, claims: dict[str, Any], code: str
) -> None:
    with pytest.raises(RelyingPartyError) as refused:
        await _redeem(provider, provider.sign(**claims))
    assert refused.value.code == code


async def test_a_token_signed_by_a_key_outside_the_jwks_is_refused(provider: Provider) -> None:
    stranger = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(RelyingPartyError) as refused:
        await _redeem(provider, provider.sign(key=stranger))  # same kid, other key
    assert refused.value.code == "id_token_invalid"
    with pytest.raises(RelyingPartyError) as unknown:
        await _redeem(provider, provider.sign(key=stranger, kid="k2"))
    assert unknown.value.code == "unknown_signing_key"


async def test_an_unsigned_or_unlisted_algorithm_is_refused(provider: Provider) -> None:
    unsigned = jwt.encode({"iss": ISSUER}, None, algorithm="none")
    with pytest.raises(RelyingPartyError) as refused:
        await _redeem(provider, unsigned)
    assert refused.value.code == "id_token_alg_refused"
    hs = provider.sign(key="a-shared-secret-of-32-bytes-long!", alg="HS256")
    with pytest.raises(RelyingPartyError) as confused:
        await _redeem(provider, hs)
    assert confused.value.code == "id_token_alg_refused"
