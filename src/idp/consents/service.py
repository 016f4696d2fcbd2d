"""What a person allowed each relying party to receive, and taking it back.

A consent is written by the consent page (``idp.oidc.authorize.decide.remember_consent``);
this package reads and withdraws it. Withdrawing deletes the consent (the next authorization
asks again) and revokes the client's grants for the account in the same transaction, so its
refresh tokens stop working at once (RFC 7009 §2.1: revoking a grant revokes its tokens).
The delete is the guard: of two withdrawals at once, one wins and the other finds nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from idp.audit.log import record
from idp.consents.repository import ConsentRepository
from idp.errors import NotFound


class NoSuchConsent(NotFound):
    type_slug = "no-such-consent"
    title = "There is no consent for this client"


@dataclass(frozen=True, slots=True)
class ConsentView:
    client_id: str
    client_name: str
    scopes: list[str]
    granted_at: datetime


async def consents_of(session: AsyncSession, account_id: uuid.UUID) -> list[ConsentView]:
    rows = await ConsentRepository(session).of_account(account_id)
    return [
        ConsentView(consent.client_id, name, sorted(consent.scopes), consent.granted_at)
        for consent, name in rows
    ]


async def withdraw(
    session: AsyncSession,
    account_id: uuid.UUID,
    client_id: str,
    *,
    now: datetime,
    ip: str | None,
) -> int:
    """Withdraw the consent and revoke the client's grants for the account; returns how many
    grants were revoked. ``NoSuchConsent`` when there is none (nothing is changed)."""
    if len(client_id) > 64 or "\x00" in client_id:
        raise NoSuchConsent("No consent was given to this client.")
    repo = ConsentRepository(session)
    if not await repo.delete(account_id, client_id):
        raise NoSuchConsent("No consent was given to this client.")
    revoked = await repo.revoke_grants(account_id, client_id, now, "consent_withdrawn")
    record(
        session,
        "consent.withdrawn",
        at=now,
        actor="person",
        account_id=account_id,
        client_id=client_id,
        ip=ip,
        revoked_grants=revoked,
    )
    return revoked
