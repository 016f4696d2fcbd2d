"""Confirming an account with a qualified e-signature (method ``qes``): the use cases.

1. ``issue_challenge``: a standard account gets a one-time text bound to it (no personal data
   in it), at most ``signatures.challenges_per_hour`` an hour; a new one ends the older ones.
2. ``claim``: the challenge is marked used by one guarded UPDATE, in a transaction of its own,
   before anything is verified: a replayed or concurrent submit finds it used.
3. The signature is verified (``idp.signatures``) with no transaction open: it takes a while.
4. ``finish``: under the account row's lock, the certificate's SNILS and name are matched to the
   account's verified data, and the account becomes confirmed with its level history entry,
   audit record and notice, the SSO session rotated and the outcome kept on the challenge; a
   refusal writes only the outcome.

Every function takes the caller's ``AsyncSession`` and never commits (``sequence`` runs them in
their transactions).
"""

from __future__ import annotations

import base64
import math
import re
import secrets
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from idp.assurance.policy import Level
from idp.audit.log import record
from idp.context import Context
from idp.db.models import Account, SignatureChallenge
from idp.errors import NotFound
from idp.levels.qes.errors import (
    IDENTITY_MISMATCH,
    ORGANIZATION_CERTIFICATE,
    AlreadyConfirmed,
    ChallengeExpired,
    ChallengeUsed,
    LevelTooLow,
    NoSuchChallenge,
    NoVerifiedIdentity,
    TooManyChallenges,
)
from idp.levels.qes.repository import Claimed, QesRepository
from idp.levels.verification import history
from idp.notify import send_counters
from idp.notify.contacts import notify_account
from idp.sessions.service import LiveSession, hold_live, renew_session
from idp.signatures.result import Identity, Verification

CONFIRM = "confirm"  # the challenge's purpose
METHOD = "qes"  # accounts.confirmation_method and level_history.reason
LEVEL_CONFIRMED_NOTICE = "level_confirmed_qes"  # the template (idp.notify.messages)
CONFIRMED = "confirmed"  # a challenge's outcome on success
# How far the signer's clock may be from ours: the signing time comes from their computer.
CLOCK_SKEW = timedelta(minutes=5)

# An hour-long window; housekeeping drops counters older than two days (jobs/housekeeping.py).
CHALLENGES_KEY = "hour:qes-challenges:"
_HOUR = timedelta(hours=1)


class Checker(Protocol):
    """What verifies a signature (``idp.signatures.checker.SignatureChecker``)."""

    async def verify(
        self,
        signature: bytes | str,
        content: bytes,
        *,
        certificates: Sequence[bytes] = (),
        signed_after: datetime,
        signed_before: datetime,
    ) -> Verification: ...


class DevSigner(Protocol):
    """What signs a challenge in dev mode, with a certificate of the development CA made for
    the person (``idp.levels.qes.signing.DevCASigner``)."""

    async def sign(self, content: bytes, holder: Holder) -> bytes: ...


@dataclass(frozen=True, slots=True)
class IssuedChallenge:
    id: uuid.UUID
    content: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Outcome:
    """What ``finish`` did: ``code`` None when the account became confirmed (``cookie``: the
    rotated session's new cookie value, None when no browser session was rotated;
    ``cookie_max_age``: the seconds the session has left, its absolute limit unchanged)."""

    code: str | None
    fields: tuple[str, ...] = ()
    fingerprint: str | None = None
    cookie: str | None = None
    cookie_max_age: int | None = None


# --- 1. the challenge --------------------------------------------------------------------------


def _refuse_level(level: str) -> None:
    if level == Level.CONFIRMED:
        raise AlreadyConfirmed("The account is confirmed already.")
    if level != Level.STANDARD:
        raise LevelTooLow(
            "Get the standard level first: save your data and let the registries check it."
        )


def challenge_text(issuer: str, sub: str, issued_at: datetime) -> str:
    """What the person signs: who asks, for which account, a nonce, when. No personal data."""
    nonce = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    return (
        f"idp qes confirm\nissuer: {issuer}\naccount: {sub}\nnonce: {nonce}\n"
        f"issued: {issued_at.isoformat(timespec='seconds')}"
    )


async def issue_challenge(
    session: AsyncSession, ctx: Context, account_id: uuid.UUID, *, now: datetime
) -> IssuedChallenge:
    """A new challenge for a standard account (``LevelTooLow``, ``AlreadyConfirmed``,
    ``TooManyChallenges`` otherwise, nothing written); the account's unused ones end."""
    repo = QesRepository(session)
    account = await repo.lock_account(account_id)
    if account is None:
        raise NotFound("No such account.")
    _refuse_level(account.level)
    await _count_challenge(session, account_id, ctx.settings.signatures.challenges_per_hour, now)
    await repo.end_unused(account_id, CONFIRM, now)
    challenge = SignatureChallenge(
        id=uuid.uuid4(),
        account_id=account_id,
        purpose=CONFIRM,
        content=challenge_text(ctx.settings.issuer, account.sub, now),
        issued_at=now,
        expires_at=now + timedelta(seconds=ctx.settings.signatures.challenge_ttl),
    )
    repo.add(challenge)
    await session.flush()
    return IssuedChallenge(challenge.id, challenge.content, challenge.expires_at)


async def _count_challenge(
    session: AsyncSession, account_id: uuid.UUID, limit: int, at: datetime
) -> None:
    """Count one challenge or refuse it; the guarded upsert is count and check in one step."""
    key = f"{CHALLENGES_KEY}{account_id}"
    if await send_counters.take(session, key, limit, at, _HOUR) is None:
        started = await send_counters.window_start(session, key)
        left = (started + _HOUR - at).total_seconds() if started else _HOUR.total_seconds()
        raise TooManyChallenges(max(1, min(math.ceil(left), int(_HOUR.total_seconds()))))


# --- 2. the claim ------------------------------------------------------------------------------


async def claim(
    session: AsyncSession, account_id: uuid.UUID, challenge_id: uuid.UUID, *, now: datetime
) -> Claimed:
    """Mark the challenge used (guarded: one submit wins) and return its text;
    ``NoSuchChallenge`` (not this account's), ``ChallengeUsed``, ``ChallengeExpired``."""
    repo = QesRepository(session)
    claimed = await repo.claim(challenge_id, account_id, CONFIRM, now)
    if claimed is not None:
        return claimed
    found = await repo.find(challenge_id, account_id)
    if found is None or found.purpose != CONFIRM:
        raise NoSuchChallenge("No such challenge.")
    if found.used_at is not None:
        raise ChallengeUsed("A signature over this challenge was submitted already.")
    raise ChallengeExpired("The challenge has expired; ask for a new one.")


async def release(session: AsyncSession, challenge_id: uuid.UUID, claimed: Claimed) -> bool:
    """Undo the claim of a challenge whose signature could not be checked (it was not
    judged): the person may send the same signature again while the challenge lasts."""
    return await QesRepository(session).release(challenge_id, claimed)


def signing_window(claimed: Claimed, now: datetime) -> tuple[datetime, datetime]:
    """When the signature may have been made: within the challenge's life, give or take the
    signer's clock."""
    return claimed.issued_at - CLOCK_SKEW, now + CLOCK_SKEW


# --- 4. the outcome ----------------------------------------------------------------------------


def normalized_name(value: str | None) -> str:
    """A name as compared: NFKC, case folded, ё as е, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", value or "").casefold().replace("ё", "е")
    return " ".join(text.split())


def of_organization(identity: Identity | None) -> bool:
    """Whether the certificate is an organization's (its head's or an employee's: OGRN or the
    organization's INN in it). It lets the person act for the organization, not as themself,
    so it confirms no personal account. A sole proprietor's (OGRNIP) is a person's own."""
    return identity is not None and bool(identity.ogrn or identity.inn_le)


def mismatched(
    identity: Identity | None, account: Account, verified_snils: str | None
) -> list[str]:
    """The fields (``snils``, ``name``) in which the certificate's holder differs from the
    account's verified data; never their values. A Russian certificate's GN holds the given
    name and the patronymic."""
    fields = []
    snils = re.sub(r"\D", "", identity.snils or "") if identity else ""
    if not verified_snils or not snils or snils != verified_snils:
        fields.append("snils")
    given = " ".join(n for n in (account.first_name, account.middle_name) if n)
    if (
        identity is None
        or not identity.surname
        or normalized_name(identity.surname) != normalized_name(account.last_name)
        or normalized_name(identity.given_names) != normalized_name(given)
    ):
        fields.append("name")
    return fields


async def record_outcome(
    session: AsyncSession, challenge_id: uuid.UUID, outcome: str, fingerprint: str | None = None
) -> None:
    await QesRepository(session).record_outcome(challenge_id, outcome, fingerprint)


async def finish(
    session: AsyncSession,
    ctx: Context,
    account_id: uuid.UUID,
    challenge_id: uuid.UUID,
    verification: Verification,
    *,
    session_id: uuid.UUID | None,
    now: datetime,
    ip: str | None,
    locale: str,
) -> Outcome:
    """Confirm the account on a verified signature whose certificate names its holder, or
    keep why not on the challenge (and write nothing else). ``session_id``: the browser
    session to rotate (its cookie named in the request), None for a Bearer caller."""
    repo = QesRepository(session)
    account = await repo.lock_account(account_id)
    fingerprint = verification.fingerprint
    if not verification.ok:
        code = str(verification.reason)
        await repo.record_outcome(challenge_id, code, fingerprint)
        return Outcome(code, fingerprint=fingerprint)
    if account is None or account.level != Level.STANDARD:
        confirmed = account is not None and account.level == Level.CONFIRMED
        code = "already-confirmed" if confirmed else "level-too-low"
        await repo.record_outcome(challenge_id, code, fingerprint)
        return Outcome(code, fingerprint=fingerprint)
    if of_organization(verification.identity):
        await repo.record_outcome(challenge_id, ORGANIZATION_CERTIFICATE, fingerprint)
        return Outcome(ORGANIZATION_CERTIFICATE, fingerprint=fingerprint)
    verified = (
        ctx.vault.decrypt("snils", account.snils_enc, str(account.id))
        if account.snils_enc is not None
        else None
    )
    fields = mismatched(verification.identity, account, verified)
    if fields:
        await repo.record_outcome(challenge_id, IDENTITY_MISMATCH, fingerprint)
        return Outcome(IDENTITY_MISMATCH, tuple(fields), fingerprint)
    evidence = f"qes:{fingerprint}"
    moved = await history.change_level(
        session,
        account_id,
        expected=Level.STANDARD.value,
        to=Level.CONFIRMED.value,
        reason=METHOD,
        at=now,
        evidence=evidence,
        confirmation_method=METHOD,
    )
    if not moved:  # the lock is held: only an inactive account gets here
        await repo.record_outcome(challenge_id, "level-too-low", fingerprint)
        return Outcome("level-too-low", fingerprint=fingerprint)
    notified = await notify_account(
        session, ctx, account_id, template=LEVEL_CONFIRMED_NOTICE, locale=locale
    )
    record(
        session,
        "level.change",
        at=now,
        actor="person",
        account_id=account_id,
        ip=ip,
        from_level=Level.STANDARD.value,
        to_level=Level.CONFIRMED.value,
        reason=METHOD,
        evidence=evidence,
        issuer=verification.issuer,
        notified=notified,
    )
    await repo.record_outcome(challenge_id, CONFIRMED, fingerprint)
    rotated = await _rotate(session, ctx, account, session_id, now)
    cookie, max_age = rotated if rotated is not None else (None, None)
    return Outcome(None, fingerprint=fingerprint, cookie=cookie, cookie_max_age=max_age)


async def _rotate(
    session: AsyncSession,
    ctx: Context,
    account: Account,
    session_id: uuid.UUID | None,
    now: datetime,
) -> tuple[str, int] | None:
    """The browser session gets a new cookie (its ``sid``, sign-ins, ``auth_time`` and
    absolute limit kept): the level it carries changed, and a session id fixated before must
    not carry it. Its ``acr`` follows the account's new level. The cookie and the seconds
    the session has left (the cookie must not outlive it)."""
    if session_id is None or not await hold_live(session, session_id, now, ctx.settings.sessions):
        return None
    held = await QesRepository(session).browser_session(session_id)
    if held is None or held.account_id != account.id:
        return None
    await session.refresh(account)
    renewed = await renew_session(
        session,
        LiveSession(held, account),
        amr=list(held.amr),
        now=now,
        settings=ctx.settings.sessions,
        keep_auth_time=True,  # a signature is no login: max_age still counts from that
    )
    if renewed is None:
        return None
    record, cookie = renewed
    return cookie, max(1, math.ceil((record.expires_at - now).total_seconds()))


# --- the development signer's input ------------------------------------------------------------

# Levels whose SNILS and names the registries checked: the ones a certificate may name.
VERIFIED_LEVELS = (Level.STANDARD.value, Level.CONFIRMED.value)


@dataclass(frozen=True, slots=True)
class Holder:
    """Whom a development certificate names: the account's verified SNILS and its names as a
    Russian qualified certificate holds them (personal data: never logged)."""

    snils: str
    surname: str
    given_names: str


@dataclass(frozen=True, slots=True)
class ToSign:
    """What the development signer signs, and for whom."""

    content: str
    holder: Holder


async def to_sign(
    session: AsyncSession,
    ctx: Context,
    account_id: uuid.UUID,
    challenge_id: uuid.UUID,
    *,
    now: datetime,
) -> ToSign:
    """The text of an open challenge of this account and the account's verified identity
    (``NoSuchChallenge``, ``ChallengeUsed``, ``ChallengeExpired``, ``NoVerifiedIdentity``)."""
    repo = QesRepository(session)
    found = await repo.find(challenge_id, account_id)
    account = await repo.account(account_id)
    if found is None or account is None or found.purpose != CONFIRM:
        raise NoSuchChallenge("No such challenge.")
    if found.used_at is not None:
        raise ChallengeUsed("A signature over this challenge was submitted already.")
    if found.expires_at <= now:
        raise ChallengeExpired("The challenge has expired; ask for a new one.")
    return ToSign(found.content, verified_holder(ctx, account))


async def holder_of(session: AsyncSession, ctx: Context, account_id: uuid.UUID) -> Holder:
    """The account's verified identity (``NotFound``, ``NoVerifiedIdentity``): what ``idp dev
    sign`` certifies."""
    account = await QesRepository(session).account(account_id)
    if account is None:
        raise NotFound("No such account.")
    return verified_holder(ctx, account)


def verified_holder(ctx: Context, account: Account) -> Holder:
    """The SNILS and names the registries checked (``NoVerifiedIdentity`` below the standard
    level or without a SNILS: what a simplified account typed in is no one's word)."""
    if account.level not in VERIFIED_LEVELS or account.snils_enc is None:
        raise NoVerifiedIdentity("The account has no verified SNILS and names.")
    snils = ctx.vault.decrypt("snils", account.snils_enc, str(account.id))
    given = " ".join(n for n in (account.first_name, account.middle_name) if n)
    return Holder(snils, account.last_name, given)
