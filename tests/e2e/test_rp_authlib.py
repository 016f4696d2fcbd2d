"""An independent relying party, built on Authlib, drives the live server as a real RP would.

Discovery (OIDC Discovery 1.0 §4), the code flow with PKCE S256 (RFC 7636), ID token
validation against the published JWKS (OIDC Core §3.1.3.7), UserInfo (§5.3), refresh token
rotation with reuse detection (RFC 9700 §4.14.2), revocation (RFC 7009), introspection
(RFC 7662) and private_key_jwt (RFC 7523, with the issuer as audience as FAPI 2.0 requires).
The server's own code is used only to create people and clients, never to check an answer.
"""

from __future__ import annotations

import secrets
import time
import warnings
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_qs
from authlib.deprecate import AuthlibDeprecationWarning
from authlib.integrations.base_client import OAuthError
from authlib.oidc.core.util import create_half_hash
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from idp.context import Context
from tests.support.browser import Browser, query
from tests.support.factories import RP, Person, make_person, make_rp
from tests.support.live import LiveServer

with warnings.catch_warnings():
    # Authlib deprecates its httpx integration (for httpx2) and authlib.jose (for joserfc);
    # both still work, and they are what a typical Authlib RP uses today.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client
    from authlib.jose import JsonWebKey, JsonWebToken

SCOPE = "openid profile email phone"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
LEEWAY = 5


# --- the relying party's side -------------------------------------------------------------


@dataclass(frozen=True)
class Provider:
    """What the RP learns from discovery."""

    metadata: dict[str, Any]
    jwks: dict[str, Any]

    @property
    def issuer(self) -> str:
        return str(self.metadata["issuer"])

    def endpoint(self, name: str) -> str:
        return str(self.metadata[f"{name}_endpoint"])


@dataclass(frozen=True)
class Authorized:
    """The callback's code and what the RP kept to redeem it."""

    code: str
    verifier: str
    nonce: str


@pytest.fixture
async def provider(server: LiveServer) -> Provider:
    async with httpx.AsyncClient(timeout=30) as http:
        metadata = (await http.get(f"{server.url}/.well-known/openid-configuration")).json()
        jwks = (await http.get(metadata["jwks_uri"])).json()
    return Provider(metadata, jwks)


def oauth_client(provider: Provider, rp: RP, **options: Any) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=rp.client_id,
        client_secret=rp.client_secret,
        scope=SCOPE,
        redirect_uri=rp.redirect_uri,
        code_challenge_method="S256",
        token_endpoint=provider.endpoint("token"),
        timeout=30,
        **options,
    )


async def sign_in(
    browser: Browser, url: str, login: str, password: str, redirect_uri: str
) -> dict[str, str]:
    """The person's part: open the authorization URL, log in, allow if asked."""
    response = await browser.get(url)
    for _ in range(6):
        assert response.status_code in (302, 303), (response.status_code, response.text[:300])
        location = response.headers["location"]
        if location.startswith(redirect_uri + "?"):
            return query(location)
        page = await browser.get(location)
        if page.status_code in (302, 303):
            response = page
            continue
        assert page.status_code == 200, page.text[:300]
        is_login = 'name="password"' in page.text
        fields = {"login": login, "password": password} if is_login else {"decision": "allow"}
        response = await browser.submit(page, fields)
    raise AssertionError("the flow did not reach the client")


async def authorize(
    client: AsyncOAuth2Client, provider: Provider, browser: Browser, person: Person
) -> Authorized:
    verifier, nonce = generate_token(64), generate_token(24)
    url, state = client.create_authorization_url(
        provider.endpoint("authorization"), code_verifier=verifier, nonce=nonce
    )
    callback = await sign_in(browser, url, person.phone, person.password, client.redirect_uri)
    assert callback["state"] == state
    assert callback["iss"] == provider.issuer  # RFC 9207
    return Authorized(callback["code"], verifier, nonce)


async def code_flow(
    client: AsyncOAuth2Client, provider: Provider, browser: Browser, person: Person
) -> tuple[dict[str, Any], Authorized]:
    authorized = await authorize(client, provider, browser, person)
    tokens = await client.fetch_token(code=authorized.code, code_verifier=authorized.verifier)
    return dict(tokens), authorized


def validate_id_token(
    provider: Provider, id_token: str, client_id: str, alg: str = "ES256"
) -> dict[str, Any]:
    """Signature by a key of the JWKS with exactly ``alg``; iss, aud, exp and iat."""
    claims = JsonWebToken([alg]).decode(
        id_token,
        JsonWebKey.import_key_set(provider.jwks),
        claims_options={
            "iss": {"essential": True, "value": provider.issuer},
            "aud": {"essential": True, "value": client_id},
            "sub": {"essential": True},
            "exp": {"essential": True},
            "iat": {"essential": True},
        },
    )
    claims.validate(now=int(time.time()), leeway=LEEWAY)
    assert claims.header["alg"] == alg
    return dict(claims)


async def introspect(client: AsyncOAuth2Client, provider: Provider, token: str) -> dict[str, Any]:
    response = await client.introspect_token(provider.endpoint("introspection"), token=token)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- discovery ----------------------------------------------------------------------------


async def test_discovery_names_the_issuer_it_was_fetched_from(
    provider: Provider, server: LiveServer
) -> None:
    # OIDC Discovery 1.0 §4.3: the issuer equals the URL the metadata was fetched from.
    assert provider.issuer == server.url
    for name in ("authorization", "token", "userinfo", "introspection", "revocation"):
        assert provider.endpoint(name).startswith(server.url + "/")
    assert provider.metadata["code_challenge_methods_supported"] == ["S256"]
    assert provider.metadata["authorization_response_iss_parameter_supported"] is True
    assert set(provider.metadata["acr_values_supported"]) == {
        "simplified",
        "standard",
        "confirmed",
    }


async def test_jwks_publishes_public_signing_keys_for_each_alg(provider: Provider) -> None:
    keys = provider.jwks["keys"]
    assert {k["alg"] for k in keys} >= {"ES256", "RS256", "EdDSA"}
    for key in keys:
        assert key["kid"]
        assert key["use"] == "sig"
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key), "a private member is published"


# --- the code flow ------------------------------------------------------------------------


async def test_code_flow_with_pkce_returns_a_valid_id_token(
    provider: Provider, browser: Browser, rp: RP, person: Person
) -> None:
    started = int(time.time())
    async with oauth_client(provider, rp) as client:
        tokens, authorized = await code_flow(client, provider, browser, person)
    # The rp fixture leaves the algorithm to the default: ES256.
    claims = validate_id_token(provider, tokens["id_token"], rp.client_id, alg="ES256")
    assert claims["nonce"] == authorized.nonce
    assert claims["sub"] == person.account.sub
    assert claims["azp"] == rp.client_id
    assert started - LEEWAY <= claims["auth_time"] <= claims["iat"]
    assert claims["iat"] < claims["exp"]
    assert isinstance(claims["sid"], str)
    assert claims["sid"]
    assert claims["acr"] == claims["assurance_level"] == "simplified"
    assert claims["amr"] == ["pwd"]
    assert "confirmation_method" not in claims
    assert tokens["token_type"] == "Bearer"
    assert set(tokens["scope"].split()) == set(SCOPE.split())


async def test_code_is_refused_with_another_verifier(
    provider: Provider, browser: Browser, rp: RP, person: Person
) -> None:
    async with oauth_client(provider, rp) as client:
        authorized = await authorize(client, provider, browser, person)
        with pytest.raises(OAuthError) as refused:
            await client.fetch_token(code=authorized.code, code_verifier=generate_token(64))
    assert refused.value.error == "invalid_grant"


async def test_userinfo_answers_get_and_post_with_a_bearer_token(
    provider: Provider, browser: Browser, rp: RP, person: Person
) -> None:
    async with oauth_client(provider, rp) as client:
        tokens, _ = await code_flow(client, provider, browser, person)
        by_get = await client.get(provider.endpoint("userinfo"))
        by_post = await client.post(provider.endpoint("userinfo"))
    for response in (by_get, by_post):
        assert response.status_code == 200, response.text
        assert response.request.headers["authorization"] == f"Bearer {tokens['access_token']}"
    claims = by_get.json()
    assert by_post.json() == claims
    # OIDC Core §5.3.2: the UserInfo sub must equal the ID token's.
    assert claims["sub"] == validate_id_token(provider, tokens["id_token"], rp.client_id)["sub"]
    assert claims["email"] == person.email
    assert claims["email_verified"] is True
    assert claims["phone_number"] == person.phone
    assert claims["phone_number_verified"] is True
    assert claims["family_name"] == person.account.last_name


async def test_refresh_rotates_and_a_replayed_refresh_token_revokes_the_family(
    provider: Provider, browser: Browser, rp: RP, person: Person
) -> None:
    async with oauth_client(provider, rp) as client:
        first, _ = await code_flow(client, provider, browser, person)
        second = dict(await client.refresh_token(refresh_token=first["refresh_token"]))
        assert second["refresh_token"] != first["refresh_token"]
        original = validate_id_token(provider, first["id_token"], rp.client_id)
        refreshed = validate_id_token(provider, second["id_token"], rp.client_id)
        # OIDC Core §12.2: same sub, auth_time of the original login, no nonce.
        assert refreshed["sub"] == original["sub"]
        assert refreshed["auth_time"] == original["auth_time"]
        assert "nonce" not in refreshed

        with pytest.raises(OAuthError) as replay:
            await client.refresh_token(refresh_token=first["refresh_token"])
        assert replay.value.error == "invalid_grant"
        with pytest.raises(OAuthError) as family:
            await client.refresh_token(refresh_token=second["refresh_token"])
        assert family.value.error == "invalid_grant"
        assert (await introspect(client, provider, second["access_token"]))["active"] is False


async def test_revoked_refresh_token_introspects_as_inactive(
    provider: Provider, browser: Browser, rp: RP, person: Person
) -> None:
    async with oauth_client(provider, rp) as client:
        tokens, _ = await code_flow(client, provider, browser, person)
        assert (await introspect(client, provider, tokens["refresh_token"]))["active"] is True
        revoked = await client.revoke_token(
            provider.endpoint("revocation"),
            token=tokens["refresh_token"],
            token_type_hint="refresh_token",
        )
        assert revoked.status_code == 200
        assert await introspect(client, provider, tokens["refresh_token"]) == {"active": False}
        # RFC 7009 §2.1: revoking the refresh token also ends the grant's access tokens.
        assert await introspect(client, provider, tokens["access_token"]) == {"active": False}


async def test_live_access_token_introspects_as_active_for_its_client(
    provider: Provider, browser: Browser, rp: RP, person: Person
) -> None:
    async with oauth_client(provider, rp) as client:
        tokens, _ = await code_flow(client, provider, browser, person)
        body = await introspect(client, provider, tokens["access_token"])
    assert body["active"] is True
    assert body["client_id"] == rp.client_id
    assert body["sub"] == person.account.sub
    assert set(body["scope"].split()) == set(SCOPE.split())
    assert body["sid"] == validate_id_token(provider, tokens["id_token"], rp.client_id)["sid"]


# --- ID token algorithms ------------------------------------------------------------------

ALGS = ["ES256", "RS256", "EdDSA"]


@pytest.mark.parametrize("alg", ALGS)
async def test_id_token_is_signed_with_the_clients_alg(
    alg: str, provider: Provider, browser: Browser, ctx: Context, person: Person
) -> None:
    rp = await make_rp(ctx, require_consent=False, id_token_signed_response_alg=alg)
    async with oauth_client(provider, rp) as client:
        tokens, authorized = await code_flow(client, provider, browser, person)
    claims = validate_id_token(provider, tokens["id_token"], rp.client_id, alg=alg)
    assert claims["nonce"] == authorized.nonce


@pytest.mark.parametrize("alg", ALGS)
async def test_id_token_at_hash_uses_the_hash_of_its_alg(
    alg: str, provider: Provider, browser: Browser, ctx: Context, person: Person
) -> None:
    # OIDC Core §3.1.3.6: the hash of the alg in the JOSE header; for EdDSA with Ed25519 that
    # is SHA-512 (RFC 8032 §5.1). Authlib's ID token validation computes it this way.
    rp = await make_rp(ctx, require_consent=False, id_token_signed_response_alg=alg)
    async with oauth_client(provider, rp) as client:
        tokens, _ = await code_flow(client, provider, browser, person)
    claims = validate_id_token(provider, tokens["id_token"], rp.client_id, alg=alg)
    assert claims["at_hash"] == create_half_hash(tokens["access_token"], alg).decode()


# --- client kinds -------------------------------------------------------------------------


async def test_public_client_uses_the_code_flow_with_pkce(
    provider: Provider, browser: Browser, ctx: Context, person: Person
) -> None:
    rp = await make_rp(ctx, require_consent=False, auth_method="none")
    assert rp.client_secret is None
    async with oauth_client(provider, rp, token_endpoint_auth_method="none") as client:
        tokens, authorized = await code_flow(client, provider, browser, person)
    claims = validate_id_token(provider, tokens["id_token"], rp.client_id)
    assert claims["nonce"] == authorized.nonce
    assert claims["sub"] == person.account.sub


async def test_public_client_cannot_introspect_tokens(
    provider: Provider, browser: Browser, ctx: Context, person: Person
) -> None:
    # RFC 7662 §2.1: introspection requires client authentication, and discovery lists no
    # "none" method for it (revocation does; introspection does not).
    assert "none" not in provider.metadata["introspection_endpoint_auth_methods_supported"]
    rp = await make_rp(ctx, require_consent=False, auth_method="none")
    async with oauth_client(provider, rp, token_endpoint_auth_method="none") as client:
        tokens, _ = await code_flow(client, provider, browser, person)
        response = await client.introspect_token(
            provider.endpoint("introspection"), token=tokens["access_token"]
        )
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"


@dataclass(frozen=True)
class ClientKey:
    private: ec.EllipticCurvePrivateKey
    kid: str

    @classmethod
    def generate(cls) -> ClientKey:
        return cls(ec.generate_private_key(ec.SECP256R1()), secrets.token_urlsafe(8))

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "alg": "ES256", "use": "sig"}


def client_assertion(client_id: str, key: ClientKey, audience: str) -> str:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "jti": secrets.token_urlsafe(16),
        "iat": now,
        "exp": now + 60,
    }
    return jwt.encode(claims, key.private, algorithm="ES256", headers={"kid": key.kid})


class PrivateKeyJwt:
    """An Authlib client auth method: a fresh assertion per request, audience the issuer.

    Authlib's own ``PrivateKeyJWT`` cannot be used as is: it signs for the token endpoint
    URL and for an hour, which this server refuses (FAPI 2.0: audience is the issuer;
    assertions live at most ``client_assertion_max_age``)."""

    name = "private_key_jwt"

    def __init__(self, key: ClientKey, audience: str) -> None:
        self.key = key
        self.audience = audience

    def __call__(
        self, auth: Any, method: str, uri: str, headers: dict[str, str], body: str
    ) -> tuple[str, dict[str, str], str]:
        assertion = client_assertion(auth.client_id, self.key, self.audience)
        body = add_params_to_qs(
            body or "", [("client_assertion_type", JWT_BEARER), ("client_assertion", assertion)]
        )
        return uri, headers, body


@pytest.fixture
def client_key() -> ClientKey:
    return ClientKey.generate()


@pytest.fixture
async def jwt_rp(ctx: Context, client_key: ClientKey) -> RP:
    return await make_rp(
        ctx,
        require_consent=False,
        auth_method="private_key_jwt",
        jwks={"keys": [client_key.public_jwk()]},
    )


def key_client(provider: Provider, rp: RP, key: ClientKey) -> AsyncOAuth2Client:
    client = oauth_client(provider, rp, token_endpoint_auth_method="private_key_jwt")
    client.register_client_auth_method(PrivateKeyJwt(key, provider.issuer))
    return client


async def redeem_with_assertion(
    provider: Provider, rp: RP, code: str, verifier: str, assertion: str
) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(
            provider.endpoint("token"),
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": rp.redirect_uri,
                "code_verifier": verifier,
                "client_assertion_type": JWT_BEARER,
                "client_assertion": assertion,
            },
        )


async def refresh_with_assertion(
    provider: Provider, refresh_token: str, assertion: str
) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(
            provider.endpoint("token"),
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_assertion_type": JWT_BEARER,
                "client_assertion": assertion,
            },
        )


async def test_private_key_jwt_client_authenticates_with_the_issuer_as_audience(
    provider: Provider, browser: Browser, jwt_rp: RP, client_key: ClientKey, person: Person
) -> None:
    assert jwt_rp.client_secret is None
    async with key_client(provider, jwt_rp, client_key) as client:
        tokens, authorized = await code_flow(client, provider, browser, person)
        refreshed = dict(await client.refresh_token(refresh_token=tokens["refresh_token"]))
    claims = validate_id_token(provider, tokens["id_token"], jwt_rp.client_id)
    assert claims["nonce"] == authorized.nonce
    assert refreshed["refresh_token"] != tokens["refresh_token"]


async def test_private_key_jwt_assertion_replayed_is_refused(
    provider: Provider, browser: Browser, jwt_rp: RP, client_key: ClientKey, person: Person
) -> None:
    async with key_client(provider, jwt_rp, client_key) as client:
        authorized = await authorize(client, provider, browser, person)
    assertion = client_assertion(jwt_rp.client_id, client_key, provider.issuer)
    first = await redeem_with_assertion(
        provider, jwt_rp, authorized.code, authorized.verifier, assertion
    )
    assert first.status_code == 200, first.text
    refresh_token = first.json()["refresh_token"]

    replayed = await refresh_with_assertion(provider, refresh_token, assertion)
    assert replayed.status_code == 401, replayed.text
    assert replayed.json()["error"] == "invalid_client"
    fresh = client_assertion(jwt_rp.client_id, client_key, provider.issuer)
    assert (await refresh_with_assertion(provider, refresh_token, fresh)).status_code == 200


async def test_private_key_jwt_with_the_token_endpoint_as_audience_is_refused(
    provider: Provider, browser: Browser, jwt_rp: RP, client_key: ClientKey, person: Person
) -> None:
    async with key_client(provider, jwt_rp, client_key) as client:
        authorized = await authorize(client, provider, browser, person)
    to_endpoint = client_assertion(jwt_rp.client_id, client_key, provider.endpoint("token"))
    refused = await redeem_with_assertion(
        provider, jwt_rp, authorized.code, authorized.verifier, to_endpoint
    )
    assert refused.status_code == 401, refused.text
    assert refused.json()["error"] == "invalid_client"
    to_issuer = client_assertion(jwt_rp.client_id, client_key, provider.issuer)
    accepted = await redeem_with_assertion(
        provider, jwt_rp, authorized.code, authorized.verifier, to_issuer
    )
    assert accepted.status_code == 200, accepted.text


# --- level claims -------------------------------------------------------------------------


async def test_confirmed_person_gets_level_and_method_in_id_token_and_userinfo(
    provider: Provider, browser: Browser, ctx: Context, rp: RP
) -> None:
    person = await make_person(ctx, level="confirmed", method="qes")
    async with oauth_client(provider, rp) as client:
        tokens, _ = await code_flow(client, provider, browser, person)
        userinfo = (await client.get(provider.endpoint("userinfo"))).json()
    id_token = validate_id_token(provider, tokens["id_token"], rp.client_id)
    for claims in (id_token, userinfo):
        assert claims["acr"] == "confirmed"
        assert claims["assurance_level"] == "confirmed"
        assert claims["confirmation_method"] == "qes"


async def test_simplified_person_gets_no_confirmation_method(
    provider: Provider, browser: Browser, rp: RP, person: Person
) -> None:
    async with oauth_client(provider, rp) as client:
        tokens, _ = await code_flow(client, provider, browser, person)
        userinfo = (await client.get(provider.endpoint("userinfo"))).json()
    id_token = validate_id_token(provider, tokens["id_token"], rp.client_id)
    for claims in (id_token, userinfo):
        assert claims["acr"] == claims["assurance_level"] == "simplified"
        assert "confirmation_method" not in claims
