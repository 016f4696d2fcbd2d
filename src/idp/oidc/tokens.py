"""Minting ID tokens (OIDC Core §2) and JWT access tokens (RFC 9068)."""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from idp.assurance.policy import level_claims
from idp.clients.model import ClientInfo
from idp.context import Context
from idp.db.models import Account
from idp.keys.access_tokens import ACCESS_TOKEN_TYP
from idp.security.tokens import new_token

ID_TOKEN_TYP = "JWT"


@dataclass(frozen=True, slots=True)
class Authentication:
    """What the tokens say about how the person logged in."""

    auth_time: datetime
    amr: list[str]
    sid: str | None


def _half_hash(value: str, alg: str) -> str:
    # OIDC Core §3.1.3.6: the left half of the hash behind the JWS alg. Ed25519 (EdDSA) hashes
    # with SHA-512 (RFC 8032 §5.1); ES256 and RS256 with SHA-256.
    hasher = hashlib.sha512 if alg == "EdDSA" else hashlib.sha256
    digest = hasher(value.encode()).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).decode().rstrip("=")


async def access_token(
    ctx: Context,
    *,
    client: ClientInfo,
    scope: str,
    account: Account | None,
    grant_id: uuid.UUID | None,
    auth: Authentication | None,
) -> tuple[str, int]:
    now = int(ctx.clock.now().timestamp())
    ttl = ctx.settings.tokens.access_token_ttl
    claims: dict[str, Any] = {
        "iss": ctx.settings.issuer,
        "sub": account.sub if account is not None else client.client_id,
        "aud": ctx.settings.issuer,
        "client_id": client.client_id,
        "iat": now,
        "exp": now + ttl,
        "jti": new_token(16),
        "scope": scope,
    }
    if account is not None and auth is not None:
        claims["auth_time"] = int(auth.auth_time.timestamp())
        claims["acr"] = account.level
        claims["amr"] = auth.amr
    if grant_id is not None:
        claims["gid"] = str(grant_id)
    if auth is not None and auth.sid:
        claims["sid"] = auth.sid
    # RFC 9068 §2.1 requires typ at+jwt so an ID token can never pass as an access token.
    token = await ctx.signer.sign(
        claims, alg=ctx.settings.default_id_token_alg, typ=ACCESS_TOKEN_TYP
    )
    return token, ttl


async def id_token(
    ctx: Context,
    *,
    client: ClientInfo,
    account: Account,
    auth: Authentication,
    nonce: str | None,
    access_token_value: str | None,
) -> str:
    now = int(ctx.clock.now().timestamp())
    claims: dict[str, Any] = {
        "iss": ctx.settings.issuer,
        "sub": account.sub,
        "aud": client.client_id,
        "azp": client.client_id,
        "iat": now,
        "exp": now + ctx.settings.tokens.id_token_ttl,
        "auth_time": int(auth.auth_time.timestamp()),
        "amr": auth.amr,
    }
    claims.update(level_claims(account.level, account.confirmation_method))
    if auth.sid:
        claims["sid"] = auth.sid
    if nonce is not None:
        claims["nonce"] = nonce
    if access_token_value is not None:
        claims["at_hash"] = _half_hash(access_token_value, client.id_token_signed_response_alg)
    return await ctx.signer.sign(claims, alg=client.id_token_signed_response_alg, typ=ID_TOKEN_TYP)
