"""Account use cases: logging in with a password, registration by an operator."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from idp.accounts import attempts, throttle
from idp.accounts.errors import InvalidCredentials
from idp.accounts.identifiers import (
    IdentifierKind,
    login_candidates,
    normalize_email,
    normalize_phone,
    normalize_snils,
)
from idp.accounts.password_policy import password_problems
from idp.accounts.repository import AccountRepository
from idp.assurance.policy import CONFIRMATION_METHOD_NAMES, LEVEL_NAMES, Level
from idp.audit.log import record
from idp.context import Context
from idp.db.models import Account, Contact
from idp.errors import BadInput


async def find_by_login(session: AsyncSession, ctx: Context, login: str) -> Account | None:
    """The account a login names (its first reading that matches one)."""
    found = await find_by_candidates(session, ctx, login_candidates(login))
    return found[0][1] if found else None


async def find_by_candidates(
    session: AsyncSession, ctx: Context, candidates: list[tuple[IdentifierKind, str]]
) -> list[tuple[IdentifierKind, Account]]:
    """Each reading of a login that names an account, with that account, in reading order."""
    repo = AccountRepository(session)
    found: list[tuple[IdentifierKind, Account]] = []
    for kind, value in candidates:
        if kind == "snils":
            account = await repo.by_snils_index(ctx.vault.blind_index("snils", value))
        else:
            account = await repo.by_confirmed_contact(kind, value)
        if account is not None:
            found.append((kind, account))
    return found


@dataclass(frozen=True, slots=True)
class Verified:
    """A password that matched: the account, the hash it matched (a login compares it again
    when it writes, so a password changed meanwhile does not let it in) and the attempt,
    still to be settled in that transaction."""

    account: Account
    verified_hash: str
    reservation: throttle.Reservation
    cleared: set[str]


async def authenticate(
    ctx: Context, login: str, password: str, ip: str | None, device: str | None = None
) -> Account:
    """``verify_login`` with the attempt settled at once, for a check that starts no session."""
    verified = await verify_login(ctx, login, password, ip, device)
    async with ctx.db.transaction() as session:
        await throttle.settle(session, verified.reservation, succeeded=True, clear=verified.cleared)
    return verified.account


async def verify_login(
    ctx: Context, login: str, password: str, ip: str | None, device: str | None = None
) -> Verified:
    """The account for a login and password, or ``InvalidCredentials`` (``TooManyAttempts``
    when throttled, ``ServerBusy`` when hashing is overloaded). The attempt is reserved on its
    counters (``idp.accounts.attempts``) before argon2 runs; a wrong login and a wrong password
    take the same path and the same time."""
    now = ctx.clock.now()
    candidates = login_candidates(login)
    labels = [attempts.identifier_label(ctx, kind, value) for kind, value in candidates]
    if not labels:  # not an identifier at all: counted under what was typed
        labels = ["raw:" + login.strip().casefold()]
    async with ctx.db.transaction() as session:
        matched = _distinct(
            account for _, account in await find_by_candidates(session, ctx, candidates)
        )
        # The device's own counter only when it knows every account the login names (a login
        # read two ways may name two accounts; the rare mixed case is judged as a stranger).
        known = bool(matched) and all(ctx.devices.knows(device, a.id) for a in matched)
        if known and device:
            counters = attempts.for_device(ctx, device, matched)
        else:
            counters = attempts.for_stranger(ctx, labels, ip, matched)
        reservation = await throttle.reserve(session, counters, now, ctx.settings.throttle)
    try:
        # As many hashes as readings of the login, matched or not: the time does not tell.
        account = await _verify_any(ctx, matched, password, tries=max(len(candidates), 1))
        if reservation.withheld:
            account = None  # strangers blocked the account: no stranger gets in for now
    except BaseException:
        async with ctx.db.transaction() as session:
            await throttle.release(session, reservation)
        raise
    if account is None or account.password_hash is None:
        async with ctx.db.transaction() as session:
            record(
                session,
                "login",
                at=now,
                outcome="failure",
                ip=ip,
                account_id=matched[0].id if matched else None,
            )
        raise InvalidCredentials("The login or the password is wrong.")
    cleared = (
        {attempts.device_key(ctx, device, account.id)}
        if known and device
        else attempts.cleared_by_login(ctx, labels, account)
    )
    return Verified(account, account.password_hash, reservation, cleared)


def _distinct(accounts: Iterable[Account]) -> list[Account]:
    seen: dict[uuid.UUID, Account] = {}
    for account in accounts:
        seen.setdefault(account.id, account)
    return list(seen.values())


async def _verify_any(
    ctx: Context, accounts: list[Account], password: str, *, tries: int
) -> Account | None:
    winner: Account | None = None
    for i in range(max(tries, len(accounts))):
        account = accounts[i] if i < len(accounts) else None
        stored = account.password_hash if account is not None else None
        ok = await ctx.passwords.verify(stored, password)
        if ok and winner is None and account is not None and account.status == "active":
            winner = account
    return winner


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


@dataclass(frozen=True, slots=True)
class OperatorAccount:
    """A service center's registration, checked and with its password hashed: ready to store."""

    data: NewAccount
    first: str
    last: str
    middle: str | None
    phone: str | None
    email: str | None
    snils: str | None
    password_hash: str


async def prepare_operator_account(ctx: Context, data: NewAccount) -> OperatorAccount:
    """Check a service center's registration and hash its password, with no transaction open
    (argon2 never runs under the writer lock); ``create_by_operator`` then stores it."""
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
    return OperatorAccount(data, first, last, middle, phone, email, snils, password_hash)


async def create_by_operator(
    session: AsyncSession, ctx: Context, ready: OperatorAccount
) -> Account:
    """Registration at a service center: the account exists at once at the level given and
    the contacts given count as confirmed (CONTRACT.md, ``idp accounts create``)."""
    data, first, last, middle = ready.data, ready.first, ready.last, ready.middle
    phone, email, snils, password_hash = ready.phone, ready.email, ready.snils, ready.password_hash
    now = ctx.clock.now()
    account_id = uuid.uuid4()
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
