"""Client authentication at the token, introspection and revocation endpoints
(RFC 6749 §2.3, OIDC Core §9: client_secret_basic, client_secret_post, private_key_jwt, none)."""

from __future__ import annotations

import base64
import binascii
from datetime import timedelta
from typing import Any
from urllib.parse import unquote_plus

import jwt
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request

from idp.clients.model import ClientInfo
from idp.context import Context
from idp.db.models import ClientAssertionJti
from idp.errors import InvalidClient, InvalidRequest
from idp.security.tokens import digest, same

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGS = ["ES256", "ES384", "PS256", "RS256", "EdDSA"]
CLOCK_SKEW = 10  # seconds a client's clock may run ahead (FAPI 2.0 §5.3.2.1)


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization")
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, ValueError) as exc:  # ValueError: non-ASCII header characters
        raise InvalidClient("The Basic credentials are malformed.") from exc
    if ":" not in decoded:
        raise InvalidClient("The Basic credentials are malformed.")
    client_id, secret = decoded.split(":", 1)
    # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
    return unquote_plus(client_id), unquote_plus(secret)


async def _assertion_attempted(request: Request) -> bool:
    """An assertion field in the body, even empty. ``params`` treats an empty parameter as
    omitted (RFC 6749 §3.1), but next to another method it still is a second method tried."""
    form = await request.form()  # parsed once already by read_form: this is the cached copy
    return any(name in form for name in ("client_assertion", "client_assertion_type"))


async def authenticate_client(request: Request, params: dict[str, str], ctx: Context) -> ClientInfo:
    basic = _basic_credentials(request)
    has_assertion = "client_assertion" in params or "client_assertion_type" in params
    tried_assertion = has_assertion or await _assertion_attempted(request)
    used = sum((basic is not None, tried_assertion, "client_secret" in params))
    if used > 1:
        # RFC 6749 §2.3: a client MUST NOT use more than one authentication method.
        raise InvalidRequest("More than one client authentication method was used.")
    if basic is not None:
        client_id, secret = basic
        if "client_id" in params and params["client_id"] != client_id:
            raise InvalidRequest("client_id does not match the Basic credentials.")
        return await _by_secret(ctx, client_id, secret, "client_secret_basic")
    if has_assertion:
        return await _by_assertion(ctx, params)
    form_client_id = params.get("client_id")
    if not form_client_id:
        raise InvalidClient("Client authentication is required.")
    if "client_secret" in params:
        return await _by_secret(ctx, form_client_id, params["client_secret"], "client_secret_post")
    client = await ctx.clients.get(form_client_id)
    if client is None or client.auth_method != "none":
        raise InvalidClient("Client authentication failed.")
    return client


async def _by_secret(ctx: Context, client_id: str, secret: str, method: str) -> ClientInfo:
    client = await ctx.clients.get(client_id)
    if (
        client is None
        or client.auth_method != method
        or client.secret_hash is None
        or not same(client.secret_hash, digest(secret))
    ):
        raise InvalidClient("Client authentication failed.")
    return client


async def _by_assertion(ctx: Context, params: dict[str, str]) -> ClientInfo:
    """private_key_jwt (RFC 7523 §3, OIDC Core §9)."""
    if params.get("client_assertion_type") != JWT_BEARER:
        raise InvalidClient("client_assertion_type must be " + JWT_BEARER)
    assertion = params.get("client_assertion", "")
    try:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError as exc:
        raise InvalidClient("The client assertion is not a JWT.") from exc
    client_id = unverified.get("iss")
    if not isinstance(client_id, str) or unverified.get("sub") != client_id:
        raise InvalidClient("The client assertion must have iss and sub equal to client_id.")
    if "client_id" in params and params["client_id"] != client_id:
        raise InvalidClient("client_id does not match the client assertion.")
    client = await ctx.clients.get(client_id)
    if client is None or client.auth_method != "private_key_jwt" or not client.jwks:
        raise InvalidClient("Client authentication failed.")
    claims = _verify_assertion(ctx, client, assertion, header)
    await _remember_jti(ctx, client.client_id, claims)
    return client


def _verify_assertion(
    ctx: Context, client: ClientInfo, assertion: str, header: dict[str, Any]
) -> dict[str, Any]:
    alg = header.get("alg")
    if alg not in ASSERTION_ALGS:
        raise InvalidClient("The client assertion algorithm is not accepted.")
    if any(name in header for name in ("jku", "x5u", "jwk")):
        raise InvalidClient("Keys are taken only from the client's registration.")
    assert client.jwks is not None
    candidates = [
        k
        for k in client.jwks.get("keys", [])
        if isinstance(k, dict) and (header.get("kid") is None or k.get("kid") == header.get("kid"))
    ]
    now = ctx.clock.now().timestamp()
    problem = "The client assertion signature is not valid."
    for jwk in candidates:
        try:
            key = jwt.PyJWK(jwk, algorithm=alg)
            claims: dict[str, Any] = jwt.decode(
                assertion,
                key.key,
                algorithms=[alg],
                # RFC 10070 / FAPI 2.0: the audience is the issuer identifier, as a string.
                audience=ctx.settings.issuer,
                options={
                    "require": ["exp", "iss", "sub", "aud", "jti"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidAudienceError:
            problem = "The client assertion audience must be the issuer identifier."
            continue
        except jwt.MissingRequiredClaimError as exc:
            problem = f"The client assertion lacks the {exc.claim} claim."
            continue
        except (jwt.PyJWTError, ValueError, TypeError):
            continue
        if not isinstance(claims.get("aud"), str):
            raise InvalidClient("The client assertion audience must be the issuer, as a string.")
        exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf")
        if not isinstance(exp, int | float) or exp <= now:
            raise InvalidClient("The client assertion has expired.")
        if exp - now > ctx.settings.tokens.client_assertion_max_age + CLOCK_SKEW:
            raise InvalidClient("The client assertion lives too long.")
        for moment in (iat, nbf):
            if isinstance(moment, int | float) and moment > now + CLOCK_SKEW:
                raise InvalidClient("The client assertion is not valid yet.")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not 1 <= len(jti) <= 256:
            raise InvalidClient("The client assertion needs a jti.")
        return claims
    raise InvalidClient(problem)


async def _remember_jti(ctx: Context, client_id: str, claims: dict[str, Any]) -> None:
    expires = ctx.clock.now() + timedelta(seconds=ctx.settings.tokens.client_assertion_max_age + 60)
    try:
        async with ctx.db.transaction() as session:
            session.add(
                ClientAssertionJti(client_id=client_id, jti=claims["jti"], expires_at=expires)
            )
    except IntegrityError as exc:
        raise InvalidClient("The client assertion was already used.") from exc
