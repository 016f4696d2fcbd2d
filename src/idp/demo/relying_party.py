"""The demo's OpenID Connect client: everything it knows of the provider comes over HTTP.

Discovery (OIDC Discovery 1.0 §4), the authorization request with PKCE S256 (RFC 7636), the
code and refresh grants at the token endpoint (RFC 6749 §4.1.3, §6), ID token validation
(OIDC Core §3.1.3.7: signature from the JWKS, ``iss``, ``aud``, ``azp``, ``exp``, ``nonce``),
userinfo (§5.3) and the logout request (RP-Initiated Logout 1.0 §2).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

DISCOVERY_TTL = 300.0  # seconds a fetched discovery document and JWKS are kept
CLOCK_LEEWAY = 30  # seconds of clock difference tolerated in exp / iat
TIMEOUT = httpx.Timeout(10.0)


class RelyingPartyError(Exception):
    """A step of the flow failed: ``code`` is the OAuth error or the check that failed."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True, slots=True)
class FlowStart:
    """What the browser carries (sealed) from the authorization request to the callback."""

    url: str
    state: str
    nonce: str
    verifier: str


@dataclass(frozen=True, slots=True)
class Tokens:
    id_token: str
    access_token: str
    refresh_token: str | None
    expires_at: int  # the access token's, seconds since the epoch
    scope: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id_token": self.id_token,
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
            "scope": self.scope,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tokens:
        return cls(
            id_token=str(data["id_token"]),
            access_token=str(data["access_token"]),
            refresh_token=data.get("refresh_token"),
            expires_at=int(data["expires_at"]),
            scope=str(data.get("scope", "")),
        )


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class RelyingParty:
    """One per app. ``issuer`` is where the provider is reached and what its tokens must name."""

    def __init__(
        self, issuer: str, client_id: str, scopes: list[str], *, transport: Any = None
    ) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self.redirect_uri = f"{issuer}/demo/callback"
        self.post_logout_redirect_uri = f"{issuer}/demo"
        self.scope = " ".join(scopes)
        self._http = httpx.AsyncClient(timeout=TIMEOUT, trust_env=False, transport=transport)
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._jwks: tuple[float, jwt.PyJWKSet] | None = None

    async def close(self) -> None:
        await self._http.aclose()

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = await self._http.get(url)
        except httpx.HTTPError as exc:
            raise RelyingPartyError("provider_unreachable") from exc
        if response.status_code != 200:
            raise RelyingPartyError("provider_error")
        return _json_object(response)

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is not None and self._metadata[0] > time.monotonic():
            return self._metadata[1]
        data = await self._get_json(f"{self.issuer}/.well-known/openid-configuration")
        # Discovery §4.3: the issuer in the document is the one it was fetched from.
        if data.get("issuer") != self.issuer:
            raise RelyingPartyError("issuer_mismatch")
        self._metadata = (time.monotonic() + DISCOVERY_TTL, data)
        return data

    async def _signing_key(self, kid: str | None) -> jwt.PyJWK:
        for fresh in (False, True):  # an unknown kid: the keys may have rotated, fetch again
            if fresh or self._jwks is None or self._jwks[0] <= time.monotonic():
                document = await self._get_json(str((await self.metadata())["jwks_uri"]))
                try:
                    keys = jwt.PyJWKSet.from_dict(document)
                except jwt.PyJWTError as exc:
                    raise RelyingPartyError("jwks_unusable") from exc
                self._jwks = (time.monotonic() + DISCOVERY_TTL, keys)
            for key in self._jwks[1].keys:
                if key.key_id == kid:
                    return key
        raise RelyingPartyError("unknown_signing_key")

    async def start(self, locale: str) -> FlowStart:
        """A new authorization request: fresh ``state``, ``nonce`` and PKCE verifier."""
        endpoint = str((await self.metadata())["authorization_endpoint"])
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(48)  # 64 characters, within RFC 7636's 43..128
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": self.redirect_uri,
                "scope": self.scope,
                "state": state,
                "nonce": nonce,
                "code_challenge": _s256(verifier),
                "code_challenge_method": "S256",
                "ui_locales": locale,
            }
        )
        return FlowStart(f"{endpoint}?{query}", state, nonce, verifier)

    async def _token_request(self, form: dict[str, str]) -> dict[str, Any]:
        endpoint = str((await self.metadata())["token_endpoint"])
        try:
            response = await self._http.post(endpoint, data={**form, "client_id": self.client_id})
        except httpx.HTTPError as exc:
            raise RelyingPartyError("provider_unreachable") from exc
        body = _json_object(response)
        if response.status_code != 200:
            error = body.get("error")
            raise RelyingPartyError(error if isinstance(error, str) else "provider_error")
        if body.get("token_type", "").lower() != "bearer" or not body.get("access_token"):
            raise RelyingPartyError("invalid_token_response")
        return body

    async def redeem(self, code: str, verifier: str, nonce: str) -> Tokens:
        body = await self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri,
                "code_verifier": verifier,
            }
        )
        id_token = body.get("id_token")
        if not isinstance(id_token, str):
            raise RelyingPartyError("id_token_missing")
        claims = await self.validate_id_token(id_token)
        if claims.get("nonce") != nonce:  # OIDC Core §3.1.3.7 step 11
            raise RelyingPartyError("nonce_mismatch")
        return _tokens(body, id_token)

    async def refresh(self, tokens: Tokens) -> Tokens:
        if not tokens.refresh_token:
            raise RelyingPartyError("no_refresh_token")
        body = await self._token_request(
            {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
        )
        id_token = body.get("id_token")
        if isinstance(id_token, str):
            # OIDC Core §12.2: the same iss, sub and aud as the ID token it follows.
            new = await self.validate_id_token(id_token)
            old = decoded(tokens.id_token)
            if new.get("sub") != old.get("sub"):
                raise RelyingPartyError("subject_changed")
        else:
            id_token = tokens.id_token
        refreshed = _tokens(body, id_token)
        if refreshed.refresh_token is None:
            refreshed = Tokens(
                id_token,
                refreshed.access_token,
                tokens.refresh_token,
                refreshed.expires_at,
                refreshed.scope or tokens.scope,
            )
        return refreshed

    async def validate_id_token(self, id_token: str) -> dict[str, Any]:
        """OIDC Core §3.1.3.7: signed by a key from the provider's JWKS with an algorithm it
        lists, issued by this issuer, for this client, not expired."""
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError as exc:
            raise RelyingPartyError("id_token_malformed") from exc
        allowed = (await self.metadata()).get("id_token_signing_alg_values_supported") or []
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in allowed or alg == "none":
            raise RelyingPartyError("id_token_alg_refused")
        key = await self._signing_key(header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key.key,
                algorithms=[alg],
                audience=self.client_id,
                issuer=self.issuer,
                leeway=CLOCK_LEEWAY,
                options={"require": ["iss", "sub", "aud", "exp", "iat"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise RelyingPartyError("id_token_expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise RelyingPartyError("id_token_audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise RelyingPartyError("id_token_issuer") from exc
        except jwt.PyJWTError as exc:
            raise RelyingPartyError("id_token_invalid") from exc
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.client_id:  # §3.1.3.7 steps 4-5
            raise RelyingPartyError("id_token_audience")
        return claims

    async def userinfo(self, access_token: str) -> tuple[int, dict[str, Any]]:
        """The userinfo response as it came: its status and its JSON body."""
        endpoint = str((await self.metadata())["userinfo_endpoint"])
        try:
            response = await self._http.get(
                endpoint, headers={"Authorization": f"Bearer {access_token}"}
            )
        except httpx.HTTPError as exc:
            raise RelyingPartyError("provider_unreachable") from exc
        if response.status_code != 200:
            challenge = response.headers.get("www-authenticate", "")
            return response.status_code, {"www-authenticate": challenge}
        return response.status_code, _json_object(response)

    async def logout_url(self, tokens: Tokens, locale: str) -> str:
        endpoint = str((await self.metadata())["end_session_endpoint"])
        query = urlencode(
            {
                "id_token_hint": tokens.id_token,
                "client_id": self.client_id,
                "post_logout_redirect_uri": self.post_logout_redirect_uri,
                "ui_locales": locale,
            }
        )
        return f"{endpoint}?{query}"


def decoded(id_token: str) -> dict[str, Any]:
    """The claims of an ID token this RP validated before (kept sealed since)."""
    claims: dict[str, Any] = jwt.decode(id_token, options={"verify_signature": False})
    return claims


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise RelyingPartyError("provider_error") from exc
    if not isinstance(body, dict):
        raise RelyingPartyError("provider_error")
    return body


def _tokens(body: dict[str, Any], id_token: str) -> Tokens:
    expires_in = body.get("expires_in")
    lifetime = expires_in if isinstance(expires_in, int) and expires_in > 0 else 0
    refresh = body.get("refresh_token")
    return Tokens(
        id_token=id_token,
        access_token=str(body["access_token"]),
        refresh_token=refresh if isinstance(refresh, str) else None,
        expires_at=int(time.time()) + lifetime,
        scope=str(body.get("scope", "")),
    )
