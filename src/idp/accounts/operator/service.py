"""Operator use cases on accounts (``idp accounts find|show|disable|enable|delete``).

An account is ``active``, ``disabled`` (blocked by an operator) or ``deleting`` (marked for
deletion, purged by housekeeping once ``delete_after`` has passed). Every path that lets a
person in checks ``status == "active"``. Each transition is one guarded UPDATE (of racing
operators exactly one wins, the others get ``WrongState``); leaving ``active`` ends every
session of the account through the sessions domain (back-channel logout to each RP) and
revokes offline access. The results hold personal data for the operator's terminal: they are
never logged, and audit records name only the account id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from idp.accounts.identifiers import IdentifierKind, format_snils, login_candidates
from idp.accounts.repository import AccountRepository
from idp.accounts.service import find_by_candidates
from idp.audit.log import record
from idp.context import Context
from idp.db.models import Account
from idp.errors import BadInput, WrongState
from idp.sessions.service import end_sessions, revoke_offline_access

ACTIVE = "active"
DISABLED = "disabled"
DELETING = "deleting"

NOT_AN_IDENTIFIER = "not a phone number, an e-mail address or a SNILS"


class UnknownAccount(BadInput):
    pass


@dataclass(frozen=True, slots=True)
class Match:
    account: Account
    by: IdentifierKind


async def find_accounts(session: AsyncSession, ctx: Context, identifier: str) -> list[Match]:
    """The accounts a phone, e-mail or SNILS names, read as the login page reads it (a number
    that is both a SNILS and a national phone number may name two)."""
    candidates = login_candidates(identifier)
    if not candidates:
        raise BadInput(f"the identifier is {NOT_AN_IDENTIFIER}")
    seen: set[uuid.UUID] = set()
    matches = []
    for kind, account in await find_by_candidates(session, ctx, candidates):
        if account.id not in seen:
            seen.add(account.id)
            matches.append(Match(account, kind))
    return matches


async def resolve_account(session: AsyncSession, ctx: Context, ref: str) -> Account:
    """An account by its id, its ``sub``, or a phone, e-mail or SNILS that names exactly one."""
    repo = AccountRepository(session)
    ref = ref.strip()
    try:
        as_uuid = uuid.UUID(ref)
    except ValueError:
        as_uuid = None
    if as_uuid is not None:
        found = await repo.get(as_uuid) or await repo.by_sub(ref)
        if found is None:
            raise UnknownAccount(f"no account with id or sub {ref!r}")
        return found
    if not login_candidates(ref):
        raise BadInput("give an account id or sub, a phone number, an e-mail address or a SNILS")
    matches = await find_accounts(session, ctx, ref)
    if not matches:
        raise UnknownAccount("no account has this phone number, e-mail or SNILS")
    if len(matches) > 1:
        raise BadInput("this number names more than one account; give the account id")
    return matches[0].account


@dataclass(frozen=True, slots=True)
class ContactView:
    kind: str
    value: str
    confirmed: bool


@dataclass(frozen=True, slots=True)
class AccountView:
    account: Account
    snils: str | None
    contacts: list[ContactView] = field(default_factory=list)


async def account_view(session: AsyncSession, ctx: Context, account: Account) -> AccountView:
    contacts = await AccountRepository(session).contacts(account.id)
    snils = (
        format_snils(ctx.vault.decrypt("snils", account.snils_enc, str(account.id)))
        if account.snils_enc is not None
        else None
    )
    return AccountView(
        account,
        snils,
        [
            ContactView(c.kind, c.value, c.confirmed_at is not None)
            for c in sorted(contacts, key=lambda c: (c.kind, c.created_at))
        ],
    )


@dataclass(frozen=True, slots=True)
class Transition:
    account_id: uuid.UUID
    status: str
    delete_after: datetime | None = None
    sessions_ended: int = 0
    logouts_queued: int = 0
    offline_grants_revoked: int = 0


_SENTENCES = {
    DISABLED: "is disabled already",
    DELETING: "is marked for deletion already",
    ACTIVE: "is active already",
}


async def _move(
    session: AsyncSession,
    ctx: Context,
    account: Account,
    *,
    from_: tuple[str, ...],
    to: str,
    delete_after: datetime | None = None,
) -> None:
    moved = await AccountRepository(session).move_status(
        account.id, from_=from_, to=to, now=ctx.clock.now(), delete_after=delete_after
    )
    if not moved:
        await session.refresh(account)
        state = _SENTENCES.get(account.status, f"is {account.status}")
        raise WrongState(f"account {account.id} {state}")


async def _end_everything(
    session: AsyncSession, ctx: Context, account: Account, reason: str, to: str
) -> Transition:
    records = await AccountRepository(session).open_sessions(account.id)
    ended = await end_sessions(session, ctx, records, reason=reason, actor="operator", claim=False)
    revoked = await revoke_offline_access(session, account.id, ctx.clock.now(), reason=reason)
    return Transition(
        account.id,
        to,
        sessions_ended=len(ended.session_ids),
        logouts_queued=len(ended.jobs),
        offline_grants_revoked=revoked,
    )


async def disable_account(session: AsyncSession, ctx: Context, account: Account) -> Transition:
    """Block logins and end every session (each RP told by back-channel logout)."""
    await _move(session, ctx, account, from_=(ACTIVE,), to=DISABLED)
    done = await _end_everything(session, ctx, account, "account_disabled", DISABLED)
    record(session, "account.disabled", at=ctx.clock.now(), actor="operator", account_id=account.id)
    return done


async def delete_account(session: AsyncSession, ctx: Context, account: Account) -> Transition:
    """Mark for deletion: logins blocked and sessions ended now, the account purged by
    housekeeping after ``account_deletion_grace`` (``enable`` undoes it until then)."""
    now = ctx.clock.now()
    after = now + timedelta(seconds=ctx.settings.account_deletion_grace)
    await _move(session, ctx, account, from_=(ACTIVE, DISABLED), to=DELETING, delete_after=after)
    done = await _end_everything(session, ctx, account, "account_deleted", DELETING)
    record(
        session,
        "account.deletion_scheduled",
        at=now,
        actor="operator",
        account_id=account.id,
        delete_after=after.isoformat(),
    )
    return Transition(
        done.account_id,
        DELETING,
        after,
        done.sessions_ended,
        done.logouts_queued,
        done.offline_grants_revoked,
    )


async def enable_account(session: AsyncSession, ctx: Context, account: Account) -> Transition:
    """Undo ``disable`` or a pending deletion: the person may log in again."""
    was = account.status
    await _move(session, ctx, account, from_=(DISABLED, DELETING), to=ACTIVE)
    record(
        session,
        "account.enabled",
        at=ctx.clock.now(),
        actor="operator",
        account_id=account.id,
        was=was,
    )
    return Transition(account.id, ACTIVE)
