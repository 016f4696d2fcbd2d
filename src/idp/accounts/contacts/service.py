"""A person's phones and e-mail addresses: add, confirm, send again, remove.

The routes open the transactions (see "The unit of work" in docs/architecture.md); these
functions take the session.

A phone is confirmed with an SMS code, an e-mail address with a link (the same link and the
same ``/api/v1/email-confirmations`` endpoint as registration). Changing a contact is adding the
new one, confirming it and removing the old one. The last confirmed contact cannot be removed.
A contact confirmed on another account is treated as at registration: the caller sees the same
answers, that contact's owner is warned instead of getting a code, and it can never be
confirmed here. Every change is told to the account's other confirmed contacts.

Re-authentication before a change (ASVS 5.0 7.5.1) is not asked for yet: a live session or a
first-party token is enough.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from idp.accounts import verification
from idp.accounts.identifiers import format_snils, normalize_email, normalize_phone
from idp.accounts.notices import describe_change
from idp.accounts.repository import AccountRepository
from idp.audit.log import record
from idp.context import Context
from idp.db.models import Account, Contact, Verification
from idp.errors import Conflict, NotFound, ProblemError, ValidationFailed
from idp.notify.contacts import notify_contacts

PURPOSE = "contact"


class ContactExists(ProblemError):
    status_code = 409
    type_slug = "contact-exists"
    title = "This contact is already on the account"


class TooManyContacts(ProblemError):
    status_code = 409
    type_slug = "too-many-contacts"
    title = "The account has as many contacts as it may have"


class LastContact(ProblemError):
    status_code = 409
    type_slug = "last-contact"
    title = "The last confirmed contact cannot be removed"


class ConfirmByLink(ProblemError):
    status_code = 409
    type_slug = "confirm-by-link"
    title = "An e-mail address is confirmed with the link sent to it"


@dataclass(frozen=True, slots=True)
class Profile:
    account: Account
    contacts: list[Contact]
    masked_snils: str | None


async def profile(session: AsyncSession, ctx: Context, account_id: uuid.UUID) -> Profile:
    repo = AccountRepository(session)
    account = await repo.get(account_id)
    if account is None:
        raise NotFound("No such account.")
    contacts = sorted(await repo.contacts(account_id), key=lambda c: (c.created_at, c.value))
    masked = None
    if account.snils_enc is not None:
        digits = ctx.vault.decrypt("snils", account.snils_enc, str(account.id))
        masked = "***-***-" + format_snils(digits)[8:]  # ASVS 14.2.6: show only the tail
    return Profile(account, contacts, masked)


def _normalize(kind: str, raw: str) -> str:
    value = normalize_phone(raw) if kind == "phone" else normalize_email(raw)
    if value is None:
        message = (
            "Give a mobile number in international format, e.g. +79991234567."
            if kind == "phone"
            else "This is not a valid e-mail address."
        )
        raise ValidationFailed(
            "Some fields are invalid.", errors=[{"field": "value", "message": message}]
        )
    return value


async def _locked(session: AsyncSession, account_id: uuid.UUID) -> AccountRepository:
    repo = AccountRepository(session)
    account = await repo.lock(account_id)  # one change at a time per account
    if account is None or account.status != "active":
        raise NotFound("No such account.")
    return repo


def _own(contacts: list[Contact], contact_id: uuid.UUID) -> Contact:
    for contact in contacts:
        if contact.id == contact_id:
            return contact
    raise NotFound("No such contact.")


def _tell_others(
    session: AsyncSession,
    ctx: Context,
    contacts: list[Contact],
    change: str,
    subject: Contact,
    locale: str,
) -> int:
    params = {"change": describe_change(change, subject.kind, subject.value, locale)}
    return notify_contacts(
        session,
        ctx,
        contacts,
        template="contact_changed",
        locale=locale,
        params=params,
        skip=subject.id,
    )


async def add_contact(
    session: AsyncSession,
    ctx: Context,
    account_id: uuid.UUID,
    kind: str,
    raw_value: str,
    *,
    locale: str,
    ip: str | None,
) -> Contact:
    """Add an unconfirmed contact and send it a code (phone) or a link (e-mail)."""
    value = _normalize(kind, raw_value)
    now = ctx.clock.now()
    repo = await _locked(session, account_id)
    contacts = await repo.contacts(account_id)
    if any(c.kind == kind and c.value == value for c in contacts):
        raise ContactExists("This contact is already on the account; send the code again.")
    if len(contacts) >= ctx.settings.verification.max_contacts:
        raise TooManyContacts("Remove a contact first.")
    taken = await repo.confirmed_contact_exists(kind, value)  # by someone else
    contact = Contact(
        id=uuid.uuid4(), account_id=account_id, kind=kind, value=value, created_at=now
    )
    repo.add(contact)
    if kind == "phone":
        await verification.send_sms_code(
            session,
            ctx,
            purpose=PURPOSE,
            owner_id=contact.id,
            phone=value,
            locale=locale,
            sender=verification.sender_of_account(account_id),
            decoy=taken,
        )
    else:
        # registration.confirm_email finds the contact by account and address.
        await verification.send_email_link(
            session,
            ctx,
            purpose=PURPOSE,
            owner_id=account_id,
            email=value,
            locale=locale,
            sender=verification.sender_of_account(account_id),
            decoy=taken,
        )
    notified = _tell_others(session, ctx, contacts, "adding", contact, locale)
    record(
        session,
        "contact.add",
        at=now,
        actor="person",
        account_id=account_id,
        ip=ip,
        kind=kind,
        contact_id=str(contact.id),
        notified=notified,
    )
    return contact


async def _pending_link(
    session: AsyncSession, account_id: uuid.UUID, email: str
) -> Verification | None:
    stmt = (
        select(Verification)
        .where(
            Verification.owner_id == account_id,
            Verification.purpose == PURPOSE,
            Verification.channel == "email",
            Verification.target_lookup == email,
        )
        .order_by(Verification.created_at.desc())
        .limit(1)
        .with_for_update()
    )
    return (await session.scalars(stmt)).first()


def _unconfirmed(contacts: list[Contact], contact_id: uuid.UUID) -> Contact:
    contact = _own(contacts, contact_id)
    if contact.confirmed_at is not None:
        raise NotFound("No such unconfirmed contact.")
    return contact


@dataclass(frozen=True, slots=True)
class PhoneChecked:
    contact: Contact
    problem: verification.CodeInvalid | None  # raise it after the commit


async def confirm_phone(
    session: AsyncSession,
    ctx: Context,
    account_id: uuid.UUID,
    contact_id: uuid.UUID,
    code: str,
    *,
    locale: str,
    ip: str | None,
) -> PhoneChecked:
    """Check the code. A wrong one is counted in this transaction: the caller commits, then
    raises ``problem``, so the wrong attempt stays counted."""
    repo = await _locked(session, account_id)
    contacts = await repo.contacts(account_id)
    contact = _unconfirmed(contacts, contact_id)
    if contact.kind != "phone":
        raise ConfirmByLink("Open the link sent to the address.")
    pending = await verification.latest(session, contact.id, PURPOSE, "sms")
    if pending is None:
        raise NotFound("No code was sent for this contact.")
    problem = await verification.check_sms_code(session, ctx, pending, code)
    if problem is None:
        await confirm_contact(session, ctx, repo, contacts, contact, locale=locale, ip=ip)
    return PhoneChecked(contact, problem)


async def confirm_contact(
    session: AsyncSession,
    ctx: Context,
    repo: AccountRepository,
    contacts: list[Contact],
    contact: Contact,
    *,
    locale: str,
    ip: str | None,
) -> bool:
    """The one way a contact of an account becomes confirmed, by code or by link: a guarded
    update (a second proof changes nothing and tells nobody twice), the notice to the
    account's other confirmed contacts, and the audit record. The caller holds the account's
    lock and passes its contacts. False when the contact was confirmed already."""
    now = ctx.clock.now()
    try:
        won = await repo.confirm_contact(contact.id, now)
    except IntegrityError as exc:
        # Confirmed on another account meanwhile (the unique index says so).
        raise Conflict("This contact already belongs to an account.") from exc
    if not won:
        return False
    contact.confirmed_at = now
    notified = _tell_others(session, ctx, contacts, "added", contact, locale)
    record(
        session,
        "contact.confirm",
        at=now,
        actor="person",
        account_id=contact.account_id,
        ip=ip,
        kind=contact.kind,
        contact_id=str(contact.id),
        notified=notified,
    )
    return True


async def confirm_email_on_account(
    session: AsyncSession,
    ctx: Context,
    account_id: uuid.UUID,
    email: str,
    *,
    locale: str,
    ip: str | None,
    add_missing: bool,
) -> None:
    """A link sent to ``email`` for this account was followed: confirm the address as the
    phone path confirms a phone. ``add_missing``: the address is not on the account yet (a
    registration finished before its link was opened) and joins it now."""
    repo = AccountRepository(session)
    account = await repo.lock(account_id)
    if account is None or account.status != "active":
        return  # the link proved the address, but there is no account to add it to
    contacts = await repo.contacts(account_id)
    contact = next((c for c in contacts if c.kind == "email" and c.value == email), None)
    if contact is None:
        if not add_missing:
            return  # removed since the link was sent
        now = ctx.clock.now()
        contact = Contact(
            id=uuid.uuid4(), account_id=account_id, kind="email", value=email, created_at=now
        )
        repo.add(contact)
        await session.flush()
        contacts.append(contact)
    await confirm_contact(session, ctx, repo, contacts, contact, locale=locale, ip=ip)


async def resend(
    session: AsyncSession,
    ctx: Context,
    account_id: uuid.UUID,
    contact_id: uuid.UUID,
    *,
    locale: str,
) -> int:
    """Send a new code (the old one dies, wrong tries stay counted) or a new link (the old one
    dies); returns the seconds until the next resend."""
    now = ctx.clock.now()
    cooldown = ctx.settings.verification.resend_cooldown
    repo = await _locked(session, account_id)
    contact = _unconfirmed(await repo.contacts(account_id), contact_id)
    if contact.kind == "phone":
        pending = await verification.latest(session, contact.id, PURPOSE, "sms")
        if pending is None:
            raise NotFound("No code was sent for this contact.")
        await verification.resend_sms_code(
            session, ctx, pending, locale, sender=verification.sender_of_account(account_id)
        )
        return verification.resend_available_in(ctx, pending)
    link = await _pending_link(session, account_id, contact.value)
    if link is not None:
        ready_at = link.last_sent_at + timedelta(seconds=cooldown)
        if now < ready_at:
            wait = max(1, math.ceil((ready_at - now).total_seconds()))
            raise verification.ResendTooSoon(retry_after=wait)
        link.expires_at = min(link.expires_at, now)
    taken = await repo.confirmed_contact_exists("email", contact.value)
    await verification.send_email_link(
        session,
        ctx,
        purpose=PURPOSE,
        owner_id=account_id,
        email=contact.value,
        locale=locale,
        sender=verification.sender_of_account(account_id),
        decoy=taken,
    )
    return cooldown


async def remove_contact(
    session: AsyncSession,
    ctx: Context,
    account_id: uuid.UUID,
    contact_id: uuid.UUID,
    *,
    locale: str,
    ip: str | None,
) -> None:
    now = ctx.clock.now()
    repo = await _locked(session, account_id)
    contacts = await repo.contacts(account_id)
    contact = _own(contacts, contact_id)
    confirmed = [c for c in contacts if c.confirmed_at is not None]
    if contact.confirmed_at is not None and len(confirmed) == 1:
        raise LastContact("Add and confirm another contact first.")
    await session.delete(contact)
    notified = 0
    if contact.confirmed_at is not None:
        # The others, and the removed one itself: it was the person's until now.
        params = {"change": describe_change("removed", contact.kind, contact.value, locale)}
        notified = notify_contacts(
            session, ctx, confirmed, template="contact_changed", locale=locale, params=params
        )
    record(
        session,
        "contact.remove",
        at=now,
        actor="person",
        account_id=account_id,
        ip=ip,
        kind=contact.kind,
        contact_id=str(contact.id),
        notified=notified,
    )
