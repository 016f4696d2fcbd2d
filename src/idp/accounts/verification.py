"""Proving control of a phone (a code by SMS) or an e-mail address (a link).

SMS codes: 6 random digits, valid 5 minutes, single use, at most N wrong tries per code, a
resend only after a cooldown and within the send caps of ``idp.notify.caps`` (per purpose and
phone, per sender, the SMS budget); a resend keeps the failure count (NIST SP 800-63B-4
§3.1.3.3). E-mail links: a 256-bit single-use token valid 3 days that only proves the address
and never logs anyone in.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from idp.accounts.errors import TooManyAttempts
from idp.context import Context
from idp.db.models import Verification
from idp.errors import ProblemError
from idp.notify import caps, outbox
from idp.notify.protocol import Channel
from idp.security.tokens import digest, new_token


class CodeInvalid(ProblemError):
    status_code = 400
    type_slug = "code-invalid"
    title = "The code is wrong or has expired"


class ResendTooSoon(TooManyAttempts):
    type_slug = "resend-too-soon"
    title = "Wait before asking for another code"


def _code_hash(ctx: Context, verification_id: uuid.UUID, code: str) -> str:
    key = ctx.keyring.subkey("verification-code")
    return hmac.new(key, f"{verification_id}:{code}".encode(), hashlib.sha256).hexdigest()


def _new_code(length: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(length))


def sender_of_address(ip: str | None) -> str | None:
    """The sender of an unauthenticated send: its client address."""
    return f"address:{ip}" if ip else None


def sender_of_account(account_id: uuid.UUID) -> str:
    return f"account:{account_id}"


async def _reserve(
    session: AsyncSession,
    ctx: Context,
    *,
    purpose: str,
    channel: Channel,
    target: str,
    sender: str | None = None,
) -> None:
    """The send caps of ``idp.notify.caps``; refused, nothing is counted or written. A decoy
    counts exactly as a real send, so a refusal tells nobody which one it would have been."""
    try:
        await caps.reserve(
            session,
            ctx.keyring,
            ctx.settings,
            purpose=purpose,
            channel=channel,
            target=target,
            sender=sender,
            now=ctx.clock.now(),
        )
    except caps.SendCapped as capped:
        raise TooManyAttempts(retry_after=capped.retry_after) from None


async def count_sender(session: AsyncSession, ctx: Context, sender: str | None) -> None:
    """The sender's hourly cap alone, for a caller that counts every request the same way
    before it knows whether anything will be sent (password resets)."""
    if sender is None:
        return
    try:
        await caps.count(
            session,
            ctx.keyring,
            "sender",
            sender,
            ctx.settings.verification.max_sends_per_sender_per_hour,
            ctx.clock.now(),
        )
    except caps.SendCapped as capped:
        raise TooManyAttempts(retry_after=capped.retry_after) from None


async def send_sms_code(
    session: AsyncSession,
    ctx: Context,
    *,
    purpose: str,
    owner_id: uuid.UUID,
    phone: str,
    locale: str,
    sender: str | None = None,
    decoy: bool = False,
) -> Verification:
    now = ctx.clock.now()
    settings = ctx.settings.verification
    await _reserve(session, ctx, purpose=purpose, channel="sms", target=phone, sender=sender)
    verification = Verification(
        id=uuid.uuid4(),
        purpose=purpose,
        owner_id=owner_id,
        channel="sms",
        target=phone,
        decoy=decoy,
        failures=0,
        sends=1,
        last_sent_at=now,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.sms_code_ttl),
        secret_hash="",
    )
    _issue_code(ctx, session, verification, locale)
    session.add(verification)
    return verification


def _issue_code(
    ctx: Context, session: AsyncSession, verification: Verification, locale: str
) -> None:
    now = ctx.clock.now()
    code = _new_code(ctx.settings.verification.sms_code_length)
    if verification.decoy:
        # Nobody can know this code; the owner of the number is warned instead.
        verification.secret_hash = _code_hash(ctx, verification.id, new_token(16))
        template, params = "contact_changed", {"change": "registration attempt"}
    else:
        verification.secret_hash = _code_hash(ctx, verification.id, code)
        template, params = "phone_code", {"code": code}
    outbox.enqueue(
        session,
        ctx.keyring,
        channel="sms",
        to=verification.target,
        template=template,
        locale=locale,
        params=params,
        now=now,
        settings=ctx.settings.notify,
        valid_until=None if verification.decoy else verification.expires_at,
    )


async def resend_sms_code(
    session: AsyncSession,
    ctx: Context,
    verification: Verification,
    locale: str,
    *,
    sender: str | None = None,
) -> None:
    now = ctx.clock.now()
    settings = ctx.settings.verification
    ready_at = verification.last_sent_at + timedelta(seconds=settings.resend_cooldown)
    if now < ready_at:
        raise ResendTooSoon(retry_after=max(1, math.ceil((ready_at - now).total_seconds())))
    if verification.failures >= settings.max_attempts:
        raise CodeInvalid("Too many wrong codes; start again.")
    await _reserve(
        session,
        ctx,
        purpose=verification.purpose,
        channel="sms",
        target=verification.target,
        sender=sender,
    )
    verification.sends += 1
    verification.last_sent_at = now
    verification.expires_at = now + timedelta(seconds=settings.sms_code_ttl)
    _issue_code(ctx, session, verification, locale)  # the old code dies, failures stay


def resend_available_in(ctx: Context, verification: Verification) -> int:
    ready_at = verification.last_sent_at + timedelta(
        seconds=ctx.settings.verification.resend_cooldown
    )
    return max(0, math.ceil((ready_at - ctx.clock.now()).total_seconds()))


async def check_sms_code(
    session: AsyncSession, ctx: Context, verification: Verification, code: str
) -> CodeInvalid | None:
    """Consume the code, or return why not. A wrong code is counted in the same transaction,
    so the caller commits and then raises what this returns (the count must survive)."""
    now = ctx.clock.now()
    limit = ctx.settings.verification.max_attempts
    if verification.consumed_at is not None or verification.expires_at <= now:
        return CodeInvalid("The code has expired; ask for a new one.")
    if verification.failures >= limit:
        return CodeInvalid("Too many wrong codes; start again.", attempts_left=0)
    candidate = _code_hash(ctx, verification.id, code.strip())
    if verification.decoy or not hmac.compare_digest(candidate, verification.secret_hash):
        verification.failures += 1
        return CodeInvalid(
            "The code is wrong.", attempts_left=max(0, limit - verification.failures)
        )
    verification.consumed_at = now
    return None


async def latest(
    session: AsyncSession, owner_id: uuid.UUID, purpose: str, channel: str
) -> Verification | None:
    stmt = (
        select(Verification)
        .where(
            Verification.owner_id == owner_id,
            Verification.purpose == purpose,
            Verification.channel == channel,
        )
        .order_by(Verification.created_at.desc())
        .limit(1)
        .with_for_update()
    )
    return (await session.scalars(stmt)).first()


async def send_email_link(
    session: AsyncSession,
    ctx: Context,
    *,
    purpose: str,
    owner_id: uuid.UUID,
    email: str,
    locale: str,
    sender: str | None = None,
    decoy: bool = False,
) -> Verification:
    now = ctx.clock.now()
    await _reserve(session, ctx, purpose=purpose, channel="email", target=email, sender=sender)
    token = new_token(32)
    verification = Verification(
        id=uuid.uuid4(),
        purpose=purpose,
        owner_id=owner_id,
        channel="email",
        target=email,
        decoy=decoy,
        failures=0,
        sends=1,
        last_sent_at=now,
        created_at=now,
        expires_at=now + timedelta(seconds=ctx.settings.verification.email_link_ttl),
        secret_hash=digest(new_token(32) if decoy else token),
    )
    session.add(verification)
    if decoy:
        template, params = "contact_changed", {"change": "registration attempt"}
    else:
        template, params = (
            "email_link",
            {"link": f"{ctx.settings.issuer}/confirm-email?token={token}"},
        )
    outbox.enqueue(
        session,
        ctx.keyring,
        channel="email",
        to=email,
        template=template,
        locale=locale,
        params=params,
        now=now,
        settings=ctx.settings.notify,
        valid_until=None if decoy else verification.expires_at,
    )
    return verification


async def consume_email_link(session: AsyncSession, ctx: Context, token: str) -> Verification:
    if not token or len(token) > 128:
        raise CodeInvalid("The link is not valid.")
    row = (
        await session.scalars(
            select(Verification)
            .where(Verification.secret_hash == digest(token), Verification.channel == "email")
            .with_for_update()
        )
    ).first()
    now = ctx.clock.now()
    if row is None or row.decoy or row.consumed_at is not None or row.expires_at <= now:
        raise CodeInvalid("The link is not valid or has expired.")
    row.consumed_at = now
    return row


# --- codes with a chosen template, by SMS or e-mail (password resets) -------------------------


async def count_request(session: AsyncSession, ctx: Context, scope: str, value: str) -> None:
    """The same hourly cap as for sends, on any key (e.g. password resets asked per login)."""
    try:
        await caps.count(
            session,
            ctx.keyring,
            f"request:{scope}",
            value,
            ctx.settings.verification.max_sends_per_hour,
            ctx.clock.now(),
        )
    except caps.SendCapped as capped:
        raise TooManyAttempts(retry_after=capped.retry_after) from None


async def send_code(
    session: AsyncSession,
    ctx: Context,
    *,
    purpose: str,
    owner_id: uuid.UUID,
    channel: Channel,
    target: str | None,
    locale: str,
    template: str,
    sender: str | None = None,
    failures: int = 0,
) -> Verification:
    """A numeric code by SMS or e-mail written with ``template`` (which takes ``{code}``).

    With no ``target`` it is a silent decoy: nothing is sent or counted and no code matches, for
    a caller that must not reveal that nobody was found. ``failures`` carries the wrong tries of
    an earlier code for the same thing over (a new code does not reset the count, NIST SP
    800-63B-4 §3.1.3.3). A send cap raises ``TooManyAttempts`` before anything is written.
    """
    now = ctx.clock.now()
    settings = ctx.settings.verification
    if target is not None:
        await _reserve(session, ctx, purpose=purpose, channel=channel, target=target, sender=sender)
    ttl = settings.sms_code_ttl if channel == "sms" else settings.email_code_ttl
    verification = Verification(
        id=uuid.uuid4(),
        purpose=purpose,
        owner_id=owner_id,
        channel=channel,
        target=target or "",
        decoy=target is None,
        failures=failures,
        sends=1,
        last_sent_at=now,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl),
        secret_hash="",
    )
    code = _new_code(settings.sms_code_length)
    if target is None:
        verification.secret_hash = _code_hash(ctx, verification.id, new_token(16))
    else:
        verification.secret_hash = _code_hash(ctx, verification.id, code)
        outbox.enqueue(
            session,
            ctx.keyring,
            channel=channel,
            to=target,
            template=template,
            locale=locale,
            params={"code": code},
            now=now,
            settings=ctx.settings.notify,
            valid_until=verification.expires_at,
        )
    session.add(verification)
    return verification
