"""Changing a password with the old one (NIST SP 800-63B-4 §3.1.1.2: the new one is checked
against the policy and the blocklist, hashed with argon2id; the person's other sessions end with
the logout fan-out, and the person is told on every confirmed contact).

``idp.accounts.passwords.service.change_password`` (what the REST route and the console's
password page call) opens the transactions, in this order (see "The unit of work" in
docs/architecture.md): ``check_new_password`` in a read; ``reserve_attempt`` in its own
transaction; ``verify_and_hash`` with none open (the reservation released if it fails); a wrong
old password's audit record (``record_wrong_password``) or a same-password attempt's
settlement committed on its own before the error is raised; ``set_password`` in the last."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from idp.accounts import throttle
from idp.accounts.password_policy import password_problems
from idp.accounts.repository import AccountRepository
from idp.audit.log import record
from idp.context import Context
from idp.db.models import Account, Contact
from idp.errors import Conflict, NotFound, ProblemError, ValidationFailed
from idp.notify.contacts import notify_contacts
from idp.security.passwords import normalize
from idp.sessions.service import Ended, end_sessions, revoke_offline_access


class WrongPassword(ProblemError):
    status_code = 403
    type_slug = "wrong-password"
    title = "The current password is wrong"


def personal_words(account: Account, contacts: list[Contact]) -> list[str]:
    """What a password must not contain: the person's names and contacts."""
    names = [account.first_name, account.last_name, account.middle_name or ""]
    return [*names, *(c.value for c in contacts)]


def refuse_bad_password(
    ctx: Context,
    password: str,
    repeat: str,
    personal: list[str],
    *,
    field: str = "new_password",
    repeat_field: str = "new_password_repeat",
) -> None:
    """``ValidationFailed`` with one field error per broken rule; nothing is written."""
    if password != repeat:
        raise ValidationFailed(
            "The passwords differ.",
            errors=[{"field": repeat_field, "message": "The passwords differ."}],
        )
    problems = password_problems(password, ctx.settings.password_policy, personal)
    if problems:
        raise ValidationFailed(
            "The password does not fit the rules.",
            errors=[{"field": field, "message": f"The password {p}."} for p in problems],
        )


def _throttle_key(account_id: uuid.UUID) -> str:
    return f"password-change:{account_id}"


async def check_new_password(
    session: AsyncSession,
    ctx: Context,
    account_id: uuid.UUID,
    new_password: str,
    new_password_repeat: str,
) -> str | None:
    """Step 1, in a read: the new password fits the rules; returns the hash the old password
    is to be verified against (and the write re-checks)."""
    repo = AccountRepository(session)
    account = await repo.get(account_id)
    if account is None:
        raise NotFound("No such account.")
    contacts = await repo.contacts(account_id)
    refuse_bad_password(ctx, new_password, new_password_repeat, personal_words(account, contacts))
    return account.password_hash


async def current_hash(session: AsyncSession, account_id: uuid.UUID) -> str | None:
    """The account's password hash as it is now (None for no active account)."""
    account = await AccountRepository(session).get(account_id)
    return account.password_hash if account is not None and account.status == "active" else None


async def reserve_attempt(
    session: AsyncSession, ctx: Context, account_id: uuid.UUID, now: datetime
) -> throttle.Reservation:
    """Step 2, in its own transaction: the attempt is counted before argon2 runs, so parallel
    guesses cannot outrun the limit. Wrong old passwords are throttled per account like logins,
    so a stolen session cannot be used to guess the password."""
    counter = throttle.Counter(_throttle_key(account_id), ctx.settings.throttle.free_failures)
    return await throttle.reserve(session, [counter], now, ctx.settings.throttle)


@dataclass(frozen=True, slots=True)
class Verified:
    right: bool  # the old password is right
    new_hash: str | None  # None: the old password is wrong, or the new one is the same


async def verify_and_hash(
    ctx: Context, verified_hash: str | None, old_password: str, new_password: str
) -> Verified:
    """Step 3, outside any transaction (no writer lock held while argon2 runs). On an error,
    the caller releases the reservation."""
    right = await ctx.passwords.verify(verified_hash, old_password)
    same = normalize(new_password) == normalize(old_password)
    new_hash = await ctx.passwords.hash(new_password) if right and not same else None
    return Verified(right, new_hash)


def record_wrong_password(
    session: AsyncSession,
    now: datetime,
    account_id: uuid.UUID,
    *,
    client_id: str | None,
    ip: str | None,
) -> WrongPassword:
    """The failure's audit record, committed in its own transaction although the request
    fails; returns the error to raise after that commit."""
    record(
        session,
        "password.change",
        at=now,
        outcome="failure",
        actor="person",
        account_id=account_id,
        client_id=client_id,
        ip=ip,
    )
    return WrongPassword("The current password is wrong.")


def same_password() -> ValidationFailed:
    """The error for a new password that is the current one (raised after the attempt is
    settled as a success: the old password was right)."""
    return ValidationFailed(
        "The new password is the current one.",
        errors=[{"field": "new_password", "message": "Choose a password you do not use now."}],
    )


async def set_password(
    session: AsyncSession,
    ctx: Context,
    account_id: uuid.UUID,
    *,
    verified_hash: str | None,
    new_hash: str,
    reservation: throttle.Reservation,
    now: datetime,
    keep_session: uuid.UUID | None,
    locale: str,
    ip: str | None,
    client_id: str | None,
) -> Ended:
    """Step 4, in the last transaction: set the new password unless it changed meanwhile;
    ``keep_session`` (the caller's own) stays, every other one ends."""
    repo = AccountRepository(session)
    locked = await repo.lock(account_id)
    if locked is None or locked.status != "active":
        raise NotFound("No such account.")
    if locked.password_hash != verified_hash:
        raise Conflict("The password was changed meanwhile; try again.")
    locked.password_hash = new_hash
    locked.updated_at = now
    others = [s for s in await repo.open_sessions(account_id) if s.id != keep_session]
    ended = await end_sessions(
        session, ctx, others, reason="password_changed", actor="person", claim=True
    )
    await revoke_offline_access(session, account_id, now, reason="password_changed")
    notified = notify_contacts(
        session,
        ctx,
        await repo.contacts(account_id),
        template="password_changed",
        locale=locale,
    )
    await throttle.settle(session, reservation, succeeded=True)
    record(
        session,
        "password.change",
        at=now,
        actor="person",
        account_id=account_id,
        client_id=client_id,
        ip=ip,
        ended_sessions=len(ended.session_ids),
        notified=notified,
    )
    return ended
