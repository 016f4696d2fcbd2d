"""Resetting a forgotten password with a code sent to a confirmed contact.

The answer to "reset the password of this login" never says whether the login exists: an
unknown login gets a decoy reset that looks the same and that no code opens (ASVS 5.0 6.3.8).
The code goes to the login's own contact (or, for a SNILS, to the first confirmed phone, else
e-mail), valid 5 minutes by SMS and 15 minutes by e-mail, with the usual attempt limit; a new
reset for the same account keeps the wrong tries of the previous one (NIST SP 800-63B-4
§3.1.3.3). Resets asked per login are capped per hour, the same for known and unknown logins.
A reset sets the password and ends every session; it never logs anyone in.

The routes and pages open the transactions (see "The unit of work" in docs/architecture.md);
these functions take the session.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from idp.accounts import attempts, throttle, verification
from idp.accounts.errors import TooManyAttempts
from idp.accounts.identifiers import IdentifierKind, login_candidates
from idp.accounts.password_policy import password_problems
from idp.accounts.passwords.change import personal_words, refuse_bad_password
from idp.accounts.repository import AccountRepository
from idp.accounts.service import find_by_candidates
from idp.audit.log import record
from idp.context import Context
from idp.db.models import Account, Contact, PasswordReset, Verification
from idp.errors import NotFound, ValidationFailed
from idp.notify.contacts import notify_contacts
from idp.notify.protocol import Channel
from idp.security.tokens import digest, new_token, same
from idp.sessions.service import Ended, end_sessions, revoke_offline_access

PURPOSE = "password_reset"
TEMPLATE = "reset_code"


@dataclass(frozen=True, slots=True)
class ResetStarted:
    id: uuid.UUID
    token: str
    expires_at: datetime


def _login_readings(login: str) -> list[tuple[IdentifierKind, str]]:
    readings = login_candidates(login)
    if not readings:
        raise ValidationFailed(
            "The login is not a phone number, an e-mail address or a SNILS.",
            errors=[
                {
                    "field": "login",
                    "message": "Give a phone number, an e-mail address or a SNILS.",
                }
            ],
        )
    return readings


def _destination(
    kind: str, value: str, account: Account | None, contacts: list[Contact]
) -> tuple[Channel, str] | None:
    """Where the code goes: the contact logged in with, or for a SNILS a confirmed phone
    (preferred) or e-mail; None when there is nowhere to send it."""
    if account is None or account.status != "active":
        return None
    confirmed = [c for c in contacts if c.confirmed_at is not None]
    if kind in ("phone", "email"):
        chosen = [c for c in confirmed if c.kind == kind and c.value == value]
    else:
        chosen = [c for c in confirmed if c.kind == "phone"] or [
            c for c in confirmed if c.kind == "email"
        ]
    if not chosen:
        return None
    return ("sms" if chosen[0].kind == "phone" else "email"), chosen[0].value


async def _latest_code(session: AsyncSession, reset_id: uuid.UUID) -> Verification | None:
    stmt = (
        select(Verification)
        .where(Verification.owner_id == reset_id, Verification.purpose == PURPOSE)
        .order_by(Verification.created_at.desc())
        .limit(1)
        .with_for_update()
    )
    return (await session.scalars(stmt)).first()


async def _open_resets(
    session: AsyncSession, account_id: uuid.UUID, now: datetime
) -> list[PasswordReset]:
    stmt = (
        select(PasswordReset)
        .where(
            PasswordReset.account_id == account_id,
            PasswordReset.completed_at.is_(None),
            PasswordReset.expires_at > now,
        )
        .order_by(PasswordReset.created_at.desc())
        .with_for_update()
    )
    return list((await session.scalars(stmt)).all())


async def _pick(
    session: AsyncSession, ctx: Context, readings: list[tuple[IdentifierKind, str]]
) -> tuple[Account | None, tuple[Channel, str] | None]:
    """The account to reset and where its code goes. A login read two ways (a SNILS that is
    also a phone in national form) prefers the phone: the code then goes to the very number
    typed; otherwise the reading that matched."""
    matches = dict(await find_by_candidates(session, ctx, readings))
    repo = AccountRepository(session)
    for kind in ("phone", "email", "snils"):
        account = matches.get(kind)
        if account is None:
            continue
        value = next(v for k, v in readings if k == kind)
        destination = _destination(kind, value, account, await repo.contacts(account.id))
        if destination is not None:
            return account, destination
    return None, None


async def request_reset(
    session: AsyncSession, ctx: Context, login: str, *, locale: str, ip: str | None
) -> ResetStarted:
    readings = _login_readings(login)
    now = ctx.clock.now()
    token = new_token(32)
    reset = PasswordReset(
        id=uuid.uuid4(),
        token_hash=digest(token),
        account_id=None,
        created_at=now,
        expires_at=now + timedelta(seconds=ctx.settings.verification.password_reset_ttl),
    )
    # The same caps for every login, known or not, counted before anyone is looked up, so
    # a 429 tells nothing either: per login asked for (a login read two ways counts under
    # both readings, as the login page counts it) and per client address.
    for kind, value in readings:
        await verification.count_request(session, ctx, "password-reset", f"{kind}:{value}")
    await verification.count_sender(session, ctx, verification.sender_of_address(ip))
    account, destination = await _pick(session, ctx, readings)
    failures = 0
    if account is not None and destination is not None:
        reset.account_id = account.id
        for earlier in await _open_resets(session, account.id, now):
            code = await _latest_code(session, earlier.id)
            if code is not None and code.consumed_at is None:
                failures = max(failures, code.failures)
            earlier.expires_at = now  # only the newest reset is open
    session.add(reset)
    channel: Channel = destination[0] if destination else "sms"
    target = destination[1] if destination else None

    async def send(to: str | None) -> None:
        await verification.send_code(
            session,
            ctx,
            purpose=PURPOSE,
            owner_id=reset.id,
            channel=channel,
            target=to,
            locale=locale,
            template=TEMPLATE,
            sender=None,  # counted above, for every request alike
            failures=failures,
        )

    try:
        await send(target)
    except TooManyAttempts:
        # The contact's reset codes this hour, or the SMS budget, are spent: answer the
        # same way as when a code goes out (only known logins get this far), send nothing.
        await send(None)
    record(
        session,
        "password.reset_requested",
        at=now,
        outcome="success" if reset.account_id else "unknown_login",
        account_id=reset.account_id,
        ip=ip,
        channel=channel if reset.account_id else None,
    )
    return ResetStarted(reset.id, token, reset.expires_at)


async def _load(
    session: AsyncSession, ctx: Context, reset_id: uuid.UUID, token: str | None
) -> PasswordReset:
    row = await session.get(PasswordReset, reset_id, with_for_update=True)
    if (
        row is None
        or not token
        or not same(row.token_hash, digest(token))
        or row.expires_at <= ctx.clock.now()
        or row.completed_at is not None
    ):
        raise NotFound("No such password reset, or it has expired.")
    return row


def refuse_new_password(ctx: Context, new_password: str, repeat: str) -> None:
    """The rules that do not depend on the person; checked before anything is read or
    written, and before the code, so they tell nobody anything."""
    refuse_bad_password(ctx, new_password, repeat, [])


async def check_code_usable(
    session: AsyncSession, ctx: Context, reset_id: uuid.UUID, token: str | None
) -> None:
    """Before hashing the new password (outside any transaction): the reset is open and its
    code can still be entered, so a dead reset costs no hash."""
    await _load(session, ctx, reset_id, token)
    pending = await _latest_code(session, reset_id)
    if pending is None:
        raise NotFound("No code was sent for this reset.")
    if pending.consumed_at is not None or pending.expires_at <= ctx.clock.now():
        raise verification.CodeInvalid("The code has expired; ask for a new one.")
    if pending.failures >= ctx.settings.verification.max_attempts:
        raise verification.CodeInvalid("Too many wrong codes; start again.", attempts_left=0)


@dataclass(frozen=True, slots=True)
class ResetChecked:
    ended: Ended
    problem: verification.CodeInvalid | None  # raise it after the commit


async def confirm_reset(
    session: AsyncSession,
    ctx: Context,
    reset_id: uuid.UUID,
    token: str | None,
    *,
    code: str,
    new_password: str,
    new_hash: str,
    locale: str,
    ip: str | None,
) -> ResetChecked:
    """Check the code and set the new password; every session of the account ends.

    The caller first checks ``refuse_new_password``, then ``check_code_usable`` in a read,
    hashes the password outside any transaction, and calls this in a new transaction. The
    code is checked before the rules that depend on the person (their names and contacts),
    so only the code's holder learns anything from them. A wrong code is counted in this
    transaction: the caller commits, then raises ``problem``.
    """
    reset = await _load(session, ctx, reset_id, token)
    pending = await _latest_code(session, reset_id)
    if pending is None:
        raise NotFound("No code was sent for this reset.")
    problem = await verification.check_sms_code(session, ctx, pending, code)
    ended = Ended()
    if problem is None:
        ended = await _set_password(session, ctx, reset, new_password, new_hash, locale, ip)
    return ResetChecked(ended, problem)


async def _set_password(
    session: AsyncSession,
    ctx: Context,
    reset: PasswordReset,
    new_password: str,
    new_hash: str,
    locale: str,
    ip: str | None,
) -> Ended:
    now = ctx.clock.now()
    repo = AccountRepository(session)
    account = await repo.lock(reset.account_id) if reset.account_id else None
    if account is None or account.status != "active":
        raise NotFound("No such password reset, or it has expired.")
    contacts = await repo.contacts(account.id)
    problems = password_problems(
        new_password, ctx.settings.password_policy, personal_words(account, contacts)
    )
    if problems:
        # Raised inside the transaction: the code stays unused and may be entered again.
        raise ValidationFailed(
            "The password does not fit the rules.",
            errors=[{"field": "new_password", "message": f"The password {p}."} for p in problems],
        )
    account.password_hash = new_hash
    account.updated_at = now
    reset.completed_at = now
    for other in await _open_resets(session, account.id, now):
        if other.id != reset.id:
            other.expires_at = now
    ended = await end_sessions(
        session,
        ctx,
        await repo.open_sessions(account.id),
        reason="password_reset",
        actor="person",
        claim=True,
    )
    await revoke_offline_access(session, account.id, now, reason="password_reset")
    notified = notify_contacts(session, ctx, contacts, template="password_changed", locale=locale)
    # Strangers' failures against the account's identifiers are forgotten: the owner is back.
    await throttle.reset(session, attempts.account_counters(ctx, account, contacts))
    record(
        session,
        "password.reset",
        at=now,
        actor="person",
        account_id=account.id,
        ip=ip,
        ended_sessions=len(ended.session_ids),
        notified=notified,
    )
    return ended
