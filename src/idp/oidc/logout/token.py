"""The logout token (OpenID Connect Back-Channel Logout 1.0 §2.4, errata set 1)."""

from __future__ import annotations

from typing import Any

from idp.context import Context
from idp.security.tokens import new_token

EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TYP = "logout+jwt"


async def logout_token(ctx: Context, *, client_id: str, alg: str, sub: str, sid: str) -> str:
    """A freshly minted token: every delivery attempt gets its own ``jti``, ``iat`` and ``exp``."""
    now = int(ctx.clock.now().timestamp())
    claims: dict[str, Any] = {
        "iss": ctx.settings.issuer,
        "aud": client_id,
        "iat": now,
        "exp": now + ctx.settings.logout.token_ttl,
        "jti": new_token(16),
        "events": {EVENT: {}},
        "sub": sub,
        "sid": sid,
        # §2.4: a logout token MUST NOT carry a nonce, so none is ever added here.
    }
    return await ctx.signer.sign(claims, alg=alg, typ=LOGOUT_TOKEN_TYP)
