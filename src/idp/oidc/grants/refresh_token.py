"""The refresh token grant (RFC 6749 §6) with rotation and reuse detection (RFC 9700 §4.14.2).

Each use returns a new refresh token and retires the old one. A retired token presented again
means one of the two copies is in an attacker's hands: the whole grant is revoked.

Following OIDC Core §11 as Keycloak does, a grant without ``offline_access`` is bound to the
SSO session that created it: refused once the session ended, and each refresh counts as the
session's activity. With ``offline_access`` it outlives the session until a credential change.
Every refresh checks the client's level policy against the account as it is now.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from idp.clients.model import ClientInfo
from idp.context import Context
from idp.db.models import Account, Grant, RefreshToken
from idp.errors import InvalidGrant, InvalidRequest, InvalidScope
from idp.oidc.grants.common import (
    GrantCompromised,
    Issued,
    is_offline,
    new_refresh_token,
    usable_account,
)
from idp.oidc.tokens import Authentication
from idp.security.tokens import digest
from idp.sessions.service import hold_live


async def refresh(
    session: AsyncSession, ctx: Context, client: ClientInfo, params: dict[str, str]
) -> Issued:
    value = params.get("refresh_token")
    if not value:
        raise InvalidRequest("refresh_token is required.")
    now = ctx.clock.now()
    row = await session.get(RefreshToken, digest(value))
    grant = await session.get(Grant, row.grant_id) if row is not None else None
    if row is None or grant is None or grant.client_id != client.client_id:
        raise InvalidGrant("The refresh token is invalid.")
    if grant.revoked_at is not None:
        raise InvalidGrant("The refresh token was revoked.")
    if row.rotated_at is not None:
        raise GrantCompromised(grant.id, "The refresh token was already used.")
    if row.expires_at <= now:
        raise InvalidGrant("The refresh token has expired.")
    granted = row.scope.split()
    requested = params.get("scope", "").split() or granted
    if not set(requested) <= set(granted):
        # RFC 6749 §6: the scope may narrow, never widen.
        raise InvalidScope("The requested scope exceeds the original grant.")
    claimed = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.token_hash == row.token_hash, RefreshToken.rotated_at.is_(None))
        .values(rotated_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise GrantCompromised(grant.id, "The refresh token was already used.")
    if not is_offline(grant.scope) and not await hold_live(
        session, grant.session_id, now, ctx.settings.sessions, touch=True
    ):
        # OIDC Core §11: without offline_access the token lives only as long as the session.
        raise InvalidGrant("The session this refresh token belongs to has ended.")
    account = usable_account(await session.get(Account, grant.account_id), client)
    scope = " ".join(dict.fromkeys(requested))
    # The new token keeps the grant's original scope: narrowing applies to this response.
    new_value = new_refresh_token(
        session,
        ctx,
        grant_id=grant.id,
        scope=row.scope,
        auth_time=row.auth_time,
        acr=account.level,
        amr=row.amr,
        sid=row.sid,
        absolute_expires_at=row.absolute_expires_at,
    )
    # OIDC Core §12.2: a refreshed ID token keeps auth_time and carries no nonce.
    return Issued(
        scope=scope,
        account=account,
        grant_id=grant.id,
        auth=Authentication(auth_time=row.auth_time, amr=row.amr, sid=row.sid),
        refresh_token=new_value,
        with_id_token="openid" in requested,
    )
