"""Self-registration: names and a phone and/or e-mail, confirmed, then a password.

The routes and pages open the transactions (see "The unit of work" in docs/architecture.md);
these functions take the session.

The result is a simplified-level account whose confirmed contacts log in. A contact that
already belongs to another account is not refused openly (that would tell a stranger who has an
account): its owner is warned instead of receiving a code, and the registration cannot finish.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from idp.accounts import verification
from idp.accounts.contacts.service import confirm_email_on_account
from idp.accounts.identifiers import normalize_email, normalize_phone
from idp.accounts.names import clean_name
from idp.accounts.password_policy import password_problems
from idp.accounts.repository import AccountRepository
from idp.audit.log import record
from idp.context import Context
from idp.db.models import Account, Contact, Registration
from idp.errors import Conflict, NotFound, ProblemError, ValidationFailed
from idp.security.tokens import digest, new_token, same
from idp.sessions.service import LiveSession, SignedIn, begin_session

PURPOSE = "registration"
_NAME_RULE = "Use Cyrillic or Latin letters, spaces, hyphens and apostrophes, 1 to 100 characters."


@dataclass(frozen=True, slots=True)
class RegistrationInput:
    last_name: str
    first_name: str
    middle_name: str | None
    phone: str | None
    email: str | None
    # Consent to the processing of personal data (152-FZ art. 9) under the operator's notice:
    # without it nothing is kept, not even the names.
    consent: bool
    # The notice version the person was shown, when the caller says; it must be the current one.
    notice_version: str | None = None


@dataclass(frozen=True, slots=True)
class Started:
    registration: Registration
    token: str


class ConsentMissing(ProblemError):
    """A registration begun before consent was asked (before this version) cannot finish."""

    status_code = 409
    type_slug = "consent-missing"
    title = "Consent to the processing of personal data is missing"


class NoticeChanged(ProblemError):
    """The person agreed to a notice that is no longer the operator's current one."""

    status_code = 409
    type_slug = "privacy-notice-changed"
    title = "The notice on the processing of personal data has changed"


class ContactNotConfirmed(ProblemError):
    status_code = 409
    type_slug = "contact-not-confirmed"
    title = "Confirm a phone or an e-mail address first"


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One field the rules refuse: ``field`` and ``message`` as the REST API reports them,
    ``code`` for a page to choose its own text (``required``, ``name``, ``phone``, ``email``,
    ``contact_required``, ``consent_required``)."""

    field: str
    code: str
    message: str


_PHONE_RULE = "Give a mobile number in international format, e.g. +79991234567."
_CONTACT_RULE = "Give a phone number or an e-mail address."
_CONSENT_RULE = "Consent to the processing of personal data is required to register."
CONSENT_FIELD = "personal_data_consent"


def field_problems(data: RegistrationInput) -> list[FieldProblem]:
    """The registration's rules, once, for the REST API and the page alike."""
    problems: list[FieldProblem] = []
    for field, raw in (("last_name", data.last_name), ("first_name", data.first_name)):
        if clean_name(raw) is None:
            code = "name" if raw.strip() else "required"
            problems.append(FieldProblem(field, code, _NAME_RULE))
    if data.middle_name and clean_name(data.middle_name) is None:
        problems.append(FieldProblem("middle_name", "name", _NAME_RULE))
    # A contact of spaces only is one not given.
    phone, email = (data.phone or "").strip(), (data.email or "").strip()
    if phone and normalize_phone(phone) is None:
        problems.append(FieldProblem("phone", "phone", _PHONE_RULE))
    if email and normalize_email(email) is None:
        problems.append(FieldProblem("email", "email", "This is not a valid e-mail address."))
    if not phone and not email:
        problems.append(FieldProblem("phone", "contact_required", _CONTACT_RULE))
    if data.consent is not True:
        problems.append(FieldProblem(CONSENT_FIELD, "consent_required", _CONSENT_RULE))
    return problems


def _validate(data: RegistrationInput) -> tuple[str, str, str | None, str | None, str | None]:
    problems = field_problems(data)
    if problems:
        errors = [{"field": p.field, "message": p.message} for p in problems]
        raise ValidationFailed("Some fields are invalid.", errors=errors)
    last, first = clean_name(data.last_name), clean_name(data.first_name)
    assert last is not None
    assert first is not None
    middle = clean_name(data.middle_name) if data.middle_name else None
    phone = normalize_phone(data.phone) if data.phone and data.phone.strip() else None
    email = normalize_email(data.email) if data.email and data.email.strip() else None
    return last, first, middle, phone, email


async def start(
    session: AsyncSession,
    ctx: Context,
    data: RegistrationInput,
    locale: str,
    *,
    ip: str | None = None,
) -> Started:
    last, first, middle, phone, email = _validate(data)
    current_notice = ctx.settings.privacy_notice_version
    if data.notice_version is not None and data.notice_version != current_notice:
        raise NoticeChanged(
            "The person was shown another version of the notice: show the current one.",
            current_version=current_notice,
        )
    now = ctx.clock.now()
    token = new_token(32)
    repo = AccountRepository(session)
    registration = Registration(
        id=uuid.uuid4(),
        token_hash=digest(token),
        first_name=first,
        last_name=last,
        middle_name=middle,
        phone=phone,
        email=email,
        locale=locale,
        privacy_notice_version=current_notice,
        privacy_consented_at=now,
        created_at=now,
        expires_at=now + timedelta(seconds=ctx.settings.verification.registration_ttl),
    )
    session.add(registration)
    sender = verification.sender_of_address(ip)
    if phone:
        taken = await repo.confirmed_contact_exists("phone", phone)
        await verification.send_sms_code(
            session,
            ctx,
            purpose=PURPOSE,
            owner_id=registration.id,
            phone=phone,
            locale=locale,
            sender=sender,
            decoy=taken,
        )
    if email:
        taken = await repo.confirmed_contact_exists("email", email)
        await verification.send_email_link(
            session,
            ctx,
            purpose=PURPOSE,
            owner_id=registration.id,
            email=email,
            locale=locale,
            sender=sender,
            decoy=taken,
        )
    return Started(registration, token)


async def load(
    session: AsyncSession, ctx: Context, registration_id: uuid.UUID, token: str | None
) -> Registration:
    """The registration if the caller holds its token and it is still open."""
    row = await session.get(Registration, registration_id, with_for_update=True)
    if (
        row is None
        or not token
        or not same(row.token_hash, digest(token))
        or row.expires_at <= ctx.clock.now()
        or row.account_id is not None
    ):
        raise NotFound("No such registration, or it has expired.")
    return row


async def finished(session: AsyncSession, registration_id: uuid.UUID, token: str | None) -> bool:
    """Whether the caller holds the token of a registration that already made its account (a
    double submit, or a second tab, of the password page)."""
    row = await session.get(Registration, registration_id)
    return (
        row is not None
        and bool(token)
        and same(row.token_hash, digest(token or ""))
        and row.account_id is not None
    )


class NoPhone(Conflict):
    type_slug = "no-phone"
    title = "This registration has no phone to confirm"


@dataclass(frozen=True, slots=True)
class PhoneChecked:
    registration: Registration
    problem: verification.CodeInvalid | None  # raise it after the commit


async def confirm_phone(
    session: AsyncSession, ctx: Context, registration_id: uuid.UUID, token: str | None, code: str
) -> PhoneChecked:
    """Check the code. A wrong one is counted in this transaction: the caller commits, then
    raises ``problem``, so the wrong attempt stays counted."""
    registration = await load(session, ctx, registration_id, token)
    if registration.phone is None:
        # The registration exists: it is in the wrong state, not missing (409, not 404).
        raise NoPhone("This registration has no phone; confirm the e-mail address by its link.")
    pending = await verification.latest(session, registration.id, PURPOSE, "sms")
    if pending is None:
        raise NotFound("No code was sent for this registration.")
    problem = await verification.check_sms_code(session, ctx, pending, code)
    if problem is None:
        registration.phone_confirmed_at = ctx.clock.now()
    return PhoneChecked(registration, problem)


async def resend_phone(
    session: AsyncSession,
    ctx: Context,
    registration_id: uuid.UUID,
    token: str | None,
    *,
    ip: str | None = None,
) -> int:
    registration = await load(session, ctx, registration_id, token)
    if registration.phone is None:
        # The registration exists: it is in the wrong state, not missing (409, not 404).
        raise NoPhone("This registration has no phone; confirm the e-mail address by its link.")
    pending = await verification.latest(session, registration.id, PURPOSE, "sms")
    if pending is None:
        raise NotFound("No code was sent for this registration.")
    await verification.resend_sms_code(
        session, ctx, pending, registration.locale, sender=verification.sender_of_address(ip)
    )
    return verification.resend_available_in(ctx, pending)


@contextmanager
def contact_taken(message: str) -> Iterator[None]:
    """Wrap the transaction (its commit included): a contact confirmed on another account at
    the same moment trips the unique index, and is answered as a conflict."""
    try:
        yield
    except IntegrityError as exc:
        raise Conflict(message) from exc


EMAIL_TAKEN = "This address already belongs to an account."
CONTACT_TAKEN = "This contact already belongs to an account."


async def confirm_email(
    session: AsyncSession,
    ctx: Context,
    link_token: str,
    *,
    locale: str = "ru",
    ip: str | None = None,
) -> None:
    """Follow an e-mail link: it proves the address, and nothing more (no session).

    Run it inside ``contact_taken(EMAIL_TAKEN)``."""
    row = await verification.consume_email_link(session, ctx, link_token)
    if row.purpose == PURPOSE:
        confirmed = await _mark_email_confirmed(session, ctx, row.owner_id, row.target)
        if confirmed is not None and confirmed.account_id is not None:
            # The password was set before the link was opened: the address still becomes
            # a confirmed contact of the new account, as a confirmed phone would.
            await confirm_email_on_account(
                session,
                ctx,
                confirmed.account_id,
                row.target,
                locale=locale,
                ip=ip,
                add_missing=True,
            )
    else:
        await confirm_email_on_account(
            session, ctx, row.owner_id, row.target, locale=locale, ip=ip, add_missing=False
        )


@dataclass(frozen=True)
class EmailConfirmed:
    account_id: uuid.UUID | None  # set when the registration was already completed


async def _mark_email_confirmed(
    session: AsyncSession, ctx: Context, registration_id: uuid.UUID, email: str
) -> EmailConfirmed | None:
    """Mark the registration's address confirmed and return its account, as committed now.

    A guarded update, not a read then a write: when the registration is being completed at
    this moment, the update waits for that transaction's lock and then sees its account, so
    the address joins the account here; or it commits first and the completion, which locks
    the registration before it reads it, creates the address confirmed. None: the link is for
    an address the registration no longer has."""
    # The address is sealed, so it is compared here, under the row lock, not in SQL.
    locked = (
        await session.execute(
            select(Registration.email, Registration.account_id)
            .where(Registration.id == registration_id)
            .with_for_update()
        )
    ).first()
    if locked is None or locked.email != email:
        return None
    await session.execute(
        update(Registration)
        .where(Registration.id == registration_id)
        .values(email_confirmed_at=ctx.clock.now())
    )
    return EmailConfirmed(locked.account_id)


def check_password_choice(
    ctx: Context, registration: Registration, password: str, repeat: str
) -> None:
    """The checks before hashing: consent given, a confirmed contact, the same password
    twice, the rules."""
    if registration.privacy_consented_at is None:
        raise ConsentMissing("Start the registration again and give consent.")
    if registration.phone_confirmed_at is None and registration.email_confirmed_at is None:
        raise ContactNotConfirmed("Confirm the phone or the e-mail address first.")
    if password != repeat:
        raise ValidationFailed(
            "The passwords differ.",
            errors=[{"field": "password_repeat", "message": "The passwords differ."}],
        )
    contacts = [c for c in (registration.phone, registration.email) if c]
    names = [registration.first_name, registration.last_name, *contacts]
    problems = password_problems(password, ctx.settings.password_policy, names)
    if problems:
        raise ValidationFailed(
            "The password does not fit the rules.",
            errors=[{"field": "password", "message": f"The password {p}."} for p in problems],
        )


async def complete(
    session: AsyncSession,
    ctx: Context,
    registration_id: uuid.UUID,
    token: str | None,
    password_hash: str,
) -> Account:
    """Create the simplified account with the confirmed contacts.

    The caller reads the registration (``load``), checks the choice
    (``check_password_choice``) and hashes the password outside any transaction, then calls
    this in a new one wrapped in ``contact_taken(CONTACT_TAKEN)``: the registration is loaded
    again under its row lock, so what was checked is still what is written."""
    now = ctx.clock.now()
    account_id = uuid.uuid4()
    registration = await load(session, ctx, registration_id, token)
    if registration.privacy_consented_at is None or registration.privacy_notice_version is None:
        raise ConsentMissing("Start the registration again and give consent.")
    account = Account(
        id=account_id,
        sub=str(uuid.uuid4()),
        first_name=registration.first_name,
        last_name=registration.last_name,
        middle_name=registration.middle_name,
        level="simplified",
        confirmation_method=None,
        password_hash=password_hash,
        status="active",
        privacy_notice_version=registration.privacy_notice_version,
        privacy_consented_at=registration.privacy_consented_at,
        created_at=now,
        updated_at=now,
    )
    session.add(account)
    await session.flush()
    for kind, value, confirmed in (
        ("phone", registration.phone, registration.phone_confirmed_at),
        ("email", registration.email, registration.email_confirmed_at),
    ):
        if value and confirmed:
            session.add(
                Contact(
                    account_id=account_id,
                    kind=kind,
                    value=value,
                    confirmed_at=now,
                    created_at=now,
                )
            )
    registration.account_id = account_id
    record(
        session,
        "account.registered",
        at=now,
        account_id=account_id,
        level="simplified",
        privacy_notice_version=registration.privacy_notice_version,
    )
    return account


async def sign_in(
    session: AsyncSession,
    ctx: Context,
    account: Account,
    *,
    previous: LiveSession | None,
    user_agent: str | None,
    ip: str | None,
) -> SignedIn:
    """The person who just created the password is signed in in the same browser (and the
    same transaction as ``complete``): the password was just set, so it is a password login.
    A previous session of another account in this browser ends with its logout fan-out."""
    signed_in = await begin_session(
        session, ctx, account, previous=previous, amr=["pwd"], user_agent=user_agent, ip=ip
    )
    record(
        session,
        "login",
        at=ctx.clock.now(),
        account_id=account.id,
        ip=ip,
        amr=["pwd"],
        via="registration",
        device=signed_in.record.user_agent,
        session_id=str(signed_in.record.id),
    )
    return signed_in
