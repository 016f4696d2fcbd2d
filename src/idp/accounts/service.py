"""Account use cases: logging in with a password, registration by an operator."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from idp.accounts import throttle
from idp.accounts.errors import InvalidCredentials
from idp.accounts.identifiers import (
    classify_login,
    normalize_email,
    normalize_phone,
    normalize_snils,
)
from idp.accounts.password_policy import password_problems
from idp.accounts.repository import AccountRepository
from idp.audit.log import record
from idp.context import Context
from idp.db.models import Account, Contact
from idp.errors import BadInput
from idp.levels.policy import CONFIRMATION_METHOD_NAMES, LEVEL_NAMES, Level
from idp.security.tokens import digest


def _throttle_key(login: str, account: Account | None) -> str:
    """Failures count per account whichever identifier was typed (NIST 800-63B-4 §3.2.2);
    logins that match no account count per identifier, so both look the same from outside."""
    if account is not None:
        return f"acct:{account.id}"
    parsed = classify_login(login)
    label = f"{parsed[0]}:{parsed[1]}" if parsed else login.strip().casefold()
    return "login:" + digest(label)[:40]


async def find_by_login(session: AsyncSession, ctx: Context, login: str) -> Account | None:
    parsed = classify_login(login)
    if parsed is None:
        return None
    kind, value = parsed
    repo = AccountRepository(session)
    if kind == "snils":
        return await repo.by_snils_index(ctx.vault.blind_index("snils", value))
    return await repo.by_confirmed_contact(kind, value)


async def authenticate(ctx: Context, login: str, password: str, ip: str | None) -> Account:
    """The account for a login and password, or ``InvalidCredentials``; a wrong login and a
    wrong password take the same path and the same time. Throttled per login and per address."""
    now = ctx.clock.now()
    ip_key = f"ip:{ip or 'unknown'}"
    async with ctx.db.read() as session:
        account = await find_by_login(session, ctx, login)
        login_key = _throttle_key(login, account)
        await throttle.check(session, [login_key, ip_key], now)
    stored = account.password_hash if account is not None else None
    ok = await ctx.passwords.verify(stored, password)
    if not ok or account is None or account.status != "active":
        async with ctx.db.transaction() as session:
            settings = ctx.settings.throttle
            await throttle.fail(session, login_key, now, settings, free=settings.free_failures)
            await throttle.fail(
                session, ip_key, now, settings, free=settings.per_address_free_failures
            )
            record(
                session,
                "login",
                at=now,
                outcome="failure",
                ip=ip,
                account_id=account.id if account else None,
            )
        raise InvalidCredentials("The login or the password is wrong.")
    return account


async def after_successful_login(
    session: AsyncSession, ctx: Context, account: Account, login: str, password: str
) -> None:
    await throttle.reset(session, _throttle_key(login, account))
    if account.password_hash and ctx.passwords.needs_rehash(account.password_hash):
        account.password_hash = await ctx.passwords.hash(password)
        session.add(account)


@dataclass(frozen=True, slots=True)
class NewAccount:
    first_name: str
    last_name: str
    password: str
    level: str
    middle_name: str | None = None
    phone: str | None = None
    email: str | None = None
    snils: str | None = None
    confirmation_method: str | None = None


def _clean_name(value: str, field: str) -> str:
    value = " ".join(value.split())
    if not value or len(value) > 100:
        raise BadInput(f"{field} must be 1 to 100 characters")
    if not all(ch.isalpha() or ch in " -'’" for ch in value):
        raise BadInput(f"{field} may contain only letters, spaces, hyphens and apostrophes")
    return value


async def create_by_operator(ctx: Context, data: NewAccount) -> Account:
    """Registration at a service center: the account exists at once at the level given and
    the contacts given count as confirmed (CONTRACT.md, ``idp accounts create``)."""
    if data.level not in LEVEL_NAMES:
        raise BadInput(f"level must be one of {', '.join(LEVEL_NAMES)}")
    if data.level == Level.CONFIRMED:
        if data.confirmation_method not in CONFIRMATION_METHOD_NAMES:
            raise BadInput("a confirmed account needs --confirmation-method")
    elif data.confirmation_method is not None:
        raise BadInput("--confirmation-method applies only to the confirmed level")
    first = _clean_name(data.first_name, "first name")
    last = _clean_name(data.last_name, "last name")
    middle = _clean_name(data.middle_name, "middle name") if data.middle_name else None
    phone = normalize_phone(data.phone) if data.phone else None
    if data.phone and phone is None:
        raise BadInput("phone must be a mobile number in international format, e.g. +79991234567")
    email = normalize_email(data.email) if data.email else None
    if data.email and email is None:
        raise BadInput("email is not a valid address")
    snils = normalize_snils(data.snils) if data.snils else None
    if data.snils and snils is None:
        raise BadInput("SNILS must be 11 digits with a correct check number")
    if not (phone or email or snils):
        raise BadInput("give at least one of --phone, --email, --snils to log in with")
    problems = password_problems(
        data.password,
        ctx.settings.password_policy,
        [first, last, *(c for c in (phone, email) if c)],
    )
    if problems:
        raise BadInput("password " + "; ".join(problems))

    password_hash = await ctx.passwords.hash(data.password)
    now = ctx.clock.now()
    account_id = uuid.uuid4()
    async with ctx.db.transaction() as session:
        repo = AccountRepository(session)
        for kind, value in (("phone", phone), ("email", email)):
            if value and await repo.confirmed_contact_exists(kind, value):
                raise BadInput(f"this {kind} already belongs to another account")
        snils_index = ctx.vault.blind_index("snils", snils) if snils else None
        if snils_index and await repo.by_snils_index(snils_index):
            raise BadInput("this SNILS already belongs to another account")
        account = Account(
            id=account_id,
            sub=str(uuid.uuid4()),
            first_name=first,
            last_name=last,
            middle_name=middle,
            level=data.level,
            confirmation_method=data.confirmation_method,
            password_hash=password_hash,
            status="active",
            snils_enc=ctx.vault.encrypt("snils", snils, str(account_id)) if snils else None,
            snils_bidx=snils_index,
            created_at=now,
            updated_at=now,
        )
        repo.add(account)
        await session.flush()
        for kind, value in (("phone", phone), ("email", email)):
            if value:
                repo.add(
                    Contact(
                        account_id=account_id,
                        kind=kind,
                        value=value,
                        confirmed_at=now,
                        created_at=now,
                    )
                )
        record(
            session,
            "account.created",
            at=now,
            actor="operator",
            account_id=account_id,
            level=data.level,
            method=data.confirmation_method,
        )
    return account
