"""The authorization code grant (RFC 6749 §4.1.3) with PKCE (RFC 7636 §4.6).

A code is redeemed once. Presenting it again revokes every token it produced (RFC 6749
§4.1.2, RFC 9700 §4.2.4), and it lives at most 60 seconds (FAPI 2.0 §5.3.2.1), and no longer
than the SSO session that issued it.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from idp.clients.model import ClientInfo
from idp.context import Context
from idp.db.models import Account, AuthorizationCode, Grant
from idp.errors import InvalidGrant, InvalidRequest
from idp.oidc import pkce
from idp.oidc.grants.common import GrantCompromised, Issued, new_refresh_token, usable_account
from idp.oidc.tokens import Authentication
from idp.security.tokens import digest
from idp.sessions.service import hold_live


async def exchange(
    session: AsyncSession, ctx: Context, client: ClientInfo, params: dict[str, str]
) -> Issued:
    code = params.get("code")
    redirect_uri = params.get("redirect_uri")
    verifier = params.get("code_verifier")
    if not code:
        raise InvalidRequest("code is required.")
    if not redirect_uri:
        raise InvalidRequest("redirect_uri is required.")
    now = ctx.clock.now()
    grant_id = uuid.uuid4()
    row = await session.get(AuthorizationCode, digest(code))
    if row is None or row.client_id != client.client_id:
        # A code issued to another client is as good as unknown (bound to its client).
        raise InvalidGrant("The code is invalid.")
    if row.consumed_at is not None:
        raise GrantCompromised(row.grant_id, "The code was already used.")
    if row.expires_at <= now:
        raise InvalidGrant("The code has expired.")
    if row.redirect_uri != redirect_uri:
        raise InvalidGrant("redirect_uri does not match the authorization request.")
    if row.code_challenge is None:
        if verifier is not None:
            # RFC 9700 §4.8.2: a verifier without a challenge is a downgrade attempt.
            raise InvalidGrant("code_verifier sent for a code issued without PKCE.")
    elif verifier is None or not pkce.verifier_matches(verifier, row.code_challenge):
        raise InvalidGrant("code_verifier does not match the code_challenge.")
    claimed = await session.execute(
        update(AuthorizationCode)
        .where(
            AuthorizationCode.code_hash == row.code_hash,
            AuthorizationCode.consumed_at.is_(None),
        )
        .values(consumed_at=now, grant_id=grant_id)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        # Another request redeemed it between our read and our write.
        winner = await session.scalar(
            select(AuthorizationCode.grant_id)
            .where(AuthorizationCode.code_hash == row.code_hash)
            .execution_options(populate_existing=True)
        )
        raise GrantCompromised(winner, "The code was already used.")
    account = usable_account(await session.get(Account, row.account_id), client)
    session.add(
        Grant(
            id=grant_id,
            client_id=client.client_id,
            account_id=account.id,
            session_id=row.session_id,
            scope=row.scope,
            created_at=now,
        )
    )
    # Written before the session is held: the grant's row takes its share lock on the account
    # first, in the order a password change takes its locks (account, then sessions), so the
    # two wait for each other instead of deadlocking.
    await session.flush()
    # The code is as good as the session that issued it: logged out, replaced or ended by a
    # password change means no grant. The session's row stays held until we commit, so a
    # logout racing us either comes first (we refuse, the grant rolls back) or sees the grant
    # and revokes it.
    if not await hold_live(session, row.session_id, now, ctx.settings.sessions):
        raise InvalidGrant("The session that issued the code has ended.")
    scopes = row.scope.split()
    refresh = None
    if "refresh_token" in client.grant_types:
        refresh = new_refresh_token(
            session,
            ctx,
            grant_id=grant_id,
            scope=row.scope,
            auth_time=row.auth_time,
            acr=account.level,
            amr=row.amr,
            sid=row.sid,
        )
    return Issued(
        scope=row.scope,
        account=account,
        grant_id=grant_id,
        auth=Authentication(auth_time=row.auth_time, amr=row.amr, sid=row.sid),
        refresh_token=refresh,
        with_id_token="openid" in scopes,
        nonce=row.nonce,
    )
