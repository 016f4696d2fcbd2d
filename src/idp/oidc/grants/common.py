"""What the grant types share: what a grant hands to the signer, the token response, grant
revocation.

A grant runs in the token endpoint's transaction and returns ``Issued``; the endpoint signs
the tokens only after the commit (``sign``), so signing, which may need a connection of its own
for the key store, never waits for one while the grant's transaction holds another.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from idp.assurance.policy import check_requirements
from idp.clients.model import ClientInfo
from idp.context import Context
from idp.db.models import Account, Grant, RefreshToken
from idp.errors import InvalidGrant
from idp.oidc.tokens import Authentication, access_token, id_token
from idp.security.tokens import digest, new_token


class GrantCompromised(InvalidGrant):
    """A replayed code or refresh token: the grant behind it must die (RFC 9700 §4.14.2)."""

    def __init__(self, grant_id: uuid.UUID | None, description: str) -> None:
        super().__init__(description)
        self.grant_id = grant_id


@dataclass(frozen=True, slots=True)
class Issued:
    """What a grant decided, to be signed after its transaction commits."""

    scope: str
    account: Account | None = None
    grant_id: uuid.UUID | None = None
    auth: Authentication | None = None
    refresh_token: str | None = None
    with_id_token: bool = False
    nonce: str | None = None


async def sign(ctx: Context, client: ClientInfo, issued: Issued) -> dict[str, Any]:
    token, ttl = await access_token(
        ctx,
        client=client,
        scope=issued.scope,
        account=issued.account,
        grant_id=issued.grant_id,
        auth=issued.auth,
    )
    identity = None
    if issued.with_id_token and issued.account is not None and issued.auth is not None:
        identity = await id_token(
            ctx,
            client=client,
            account=issued.account,
            auth=issued.auth,
            nonce=issued.nonce,
            access_token_value=token,
        )
    return token_response(
        token, ttl, issued.scope, refresh_token=issued.refresh_token, id_token=identity
    )


OFFLINE_ACCESS = "offline_access"


def is_offline(scope: str) -> bool:
    """A grant with ``offline_access`` outlives the SSO session (OIDC Core §11)."""
    return OFFLINE_ACCESS in scope.split()


def usable_account(account: Account | None, client: ClientInfo) -> Account:
    """The account, if it is active and meets the client's policy as it stands now: levels
    and confirmation methods change, and a token must never claim what no longer holds."""
    if account is None or account.status != "active":
        raise InvalidGrant("The account is not active.")
    unmet = check_requirements(
        level=account.level,
        confirmation_method=account.confirmation_method,
        min_level=client.min_level,
        forbidden_methods=client.forbidden_confirmation_methods,
    )
    if unmet is not None:
        raise InvalidGrant("The account no longer meets this client's requirements.")
    return account


async def revoke_grant(
    session: AsyncSession, grant_id: uuid.UUID, now: datetime, reason: str
) -> None:
    await session.execute(
        update(Grant)
        .where(Grant.id == grant_id, Grant.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )


def new_refresh_token(
    session: AsyncSession,
    ctx: Context,
    *,
    grant_id: uuid.UUID,
    scope: str,
    auth_time: datetime,
    acr: str,
    amr: list[str],
    sid: str | None,
    absolute_expires_at: datetime | None = None,
) -> str:
    now = ctx.clock.now()
    settings = ctx.settings.tokens
    absolute = absolute_expires_at or now + timedelta(seconds=settings.refresh_token_ttl)
    value = new_token(32)
    session.add(
        RefreshToken(
            token_hash=digest(value),
            grant_id=grant_id,
            scope=scope,
            auth_time=auth_time,
            acr=acr,
            amr=amr,
            sid=sid,
            created_at=now,
            expires_at=min(absolute, now + timedelta(seconds=settings.refresh_token_idle_ttl)),
            absolute_expires_at=absolute,
        )
    )
    return value


def token_response(
    access_token: str,
    expires_in: int,
    scope: str,
    *,
    refresh_token: str | None = None,
    id_token: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": scope,
    }
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    if id_token is not None:
        body["id_token"] = id_token
    return body
