"""The logout token (OpenID Connect Back-Channel Logout 1.0 §2.4, errata set 1)."""

from __future__ import annotations

from typing import Any

from idp.context import Context
from idp.security.tokens import new_token

EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TYP = "logout+jwt"


async def logout_token(
    ctx: Context,
    *,
    client_id: str,
    alg: str,
    sub: str,
    sid: str,
    jti: str | None = None,
    iat: int | None = None,
) -> str:
    """The logout token; a retry passes the ``jti`` and ``iat`` of the first try, so the RP
    gets the same token again (see ``oidc.logout.backchannel``)."""
    now = int(ctx.clock.now().timestamp()) if iat is None else iat
    claims: dict[str, Any] = {
        "iss": ctx.settings.issuer,
        "aud": client_id,
        "iat": now,
        "exp": now + ctx.settings.logout.token_ttl,
        "jti": jti or new_token(16),
        "events": {EVENT: {}},
        "sub": sub,
        "sid": sid,
        # §2.4: a logout token MUST NOT carry a nonce, so none is ever added here.
    }
    return await ctx.signer.sign(claims, alg=alg, typ=LOGOUT_TOKEN_TYP)
