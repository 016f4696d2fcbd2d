"""The client credentials grant (RFC 6749 §4.4): a token about the client, no person."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from idp.clients.model import ClientInfo
from idp.context import Context
from idp.errors import InvalidScope, UnauthorizedClient
from idp.oidc.grants.common import Issued

PERSON_SCOPES = {"openid", "profile", "email", "phone", "snils", "offline_access"}


async def issue(
    _session: AsyncSession, _ctx: Context, client: ClientInfo, params: dict[str, str]
) -> Issued:
    if client.is_public:
        raise UnauthorizedClient("A public client cannot use client_credentials.")
    allowed = [s for s in client.scopes if s not in PERSON_SCOPES]
    requested = params.get("scope", "").split()
    if any(s in PERSON_SCOPES or s not in client.scopes for s in requested):
        raise InvalidScope("These scopes need a person; client_credentials has none.")
    scope = " ".join(dict.fromkeys(requested)) if requested else " ".join(allowed)
    return Issued(scope=scope)
