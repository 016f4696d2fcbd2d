"""Running one registry check and settling it: the query a check asks, the settle transaction
(the check's final state, and when it was the round's last open check, the level it earns and
the notices), all in the caller's transaction. Services never commit."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from idp.audit.log import record
from idp.context import Context
from idp.db.models import Account, PersonalData, RegistryCheck
from idp.errors import BadInput, WrongState
from idp.jobs.queue import PENDING, RUNNING, JobRef, enqueue
from idp.levels.verification import history
from idp.levels.verification.reasons import REGISTRY_REJECTED, REGISTRY_TIMEOUT, SNILS_TAKEN
from idp.levels.verification.repository import CheckRepository
from idp.levels.verification.rounds import (
    FAILED,
    OPEN_STATES,
    REGISTRY_CHECK,
    SUCCEEDED,
    job_deadline,
)
from idp.levels.verifiers.protocol import (
    CheckKind,
    DocumentQuery,
    InnQuery,
    PersonQuery,
    Query,
)
from idp.notify.contacts import notify_account
from idp.settings import RegistriesSettings

LEVEL_STANDARD = "level_standard"  # notification templates (idp.notify.messages)
CHECKS_FAILED = "checks_failed"
PROMOTION_REASON = "registry_checks"  # level_history.reason

# What a failed check is called in the notice (the registry, never the data).
_KIND_NAMES = {
    "ru": {
        "person": "проверка СНИЛС и личных данных в Социальном фонде",
        "document": "проверка документа, удостоверяющего личность, в МВД",
        "inn": "проверка ИНН в налоговой службе",
    },
    "en": {
        "person": "the check of the SNILS and personal data at the Social Fund",
        "document": "the check of the identity document at the Interior Ministry",
        "inn": "the check of the INN at the Tax Service",
    },
}


def build_query(kind: CheckKind, data: PersonalData, account: Account) -> Query:
    """The question of one registry, from the person's data and the names on the account."""
    birth_date = date.fromisoformat(data.birth_date)
    if kind is CheckKind.PERSON:
        if data.snils is None:
            raise ValueError("a person check needs a SNILS")
        return PersonQuery(
            snils=re.sub(r"\D", "", data.snils),
            last_name=account.last_name,
            first_name=account.first_name,
            middle_name=account.middle_name,
            sex=data.sex,
            birth_date=birth_date,
        )
    if kind is CheckKind.DOCUMENT:
        return DocumentQuery(
            kind=data.document_kind,
            series=data.document_series,
            number=data.document_number,
            issued_on=date.fromisoformat(data.document_issued_on),
            last_name=account.last_name,
            first_name=account.first_name,
            middle_name=account.middle_name,
            birth_date=birth_date,
            citizenship=data.citizenship,
        )
    if data.inn is None:
        raise ValueError("a tax check needs an INN")
    return InnQuery(
        inn=data.inn,
        last_name=account.last_name,
        first_name=account.first_name,
        middle_name=account.middle_name,
        birth_date=birth_date,
        document_series=data.document_series,
        document_number=data.document_number,
    )


@dataclass(frozen=True, slots=True)
class Settled:
    """What the settle transaction did. ``moved`` False: the check was no longer in the
    expected state or its revision no longer current (nothing written)."""

    moved: bool
    round_done: bool = False
    promoted: bool = False
    failed_kinds: tuple[str, ...] = ()


async def settle(
    session: AsyncSession,
    ctx: Context,
    check: RegistryCheck,
    *,
    from_states: Sequence[str],
    succeeded: bool,
    reason: str | None,
    fields: Sequence[str] = (),
    now: datetime,
    locale: str,
) -> Settled:
    """Settle ``check`` (guarded), and when it was the last open check of its round: promote
    the account to standard if every check succeeded (the verified SNILS copied to the
    account; a SNILS verified on another account meanwhile fails the person check with
    ``snils_taken`` instead), and tell the person on their confirmed contacts.

    The account row is locked first, so of two checks of one round settling at once the
    second counts the open checks after the first committed: exactly one of them finishes
    the round."""
    repo = CheckRepository(session)
    account = await repo.lock_account(check.account_id)
    if account is None:
        return Settled(False)
    moved = await repo.move(
        check,
        from_states=from_states,
        now=now,
        state=SUCCEEDED if succeeded else FAILED,
        reason=None if succeeded else reason,
        fields=",".join(fields)[:128] or None,
        finished_at=now,
    )
    if not moved:
        return Settled(False)
    if await repo.open_in_round(check.account_id, check.revision):
        return Settled(True)
    checks = await repo.round(check.account_id, check.revision)
    failed = [c for c in checks if c.state != SUCCEEDED]
    promoted = False
    if not failed:
        if await _keep_verified_snils(repo, ctx, account.id, checks, now):
            promoted = await _promote(session, account, check.revision, checks, now)
        else:
            failed = [c for c in checks if c.kind == CheckKind.PERSON.value]
    if failed:
        kinds = tuple(c.kind for c in failed)
        await notify_account(
            session,
            ctx,
            account.id,
            template=CHECKS_FAILED,
            locale=locale,
            params=_failed_params(kinds, locale),
        )
        record(
            session,
            "level.checks_failed",
            at=now,
            outcome="failed",
            actor="registry_checks",
            account_id=account.id,
            revision=check.revision,
            failed=",".join(kinds),
        )
        return Settled(True, round_done=True, failed_kinds=kinds)
    if promoted:
        await notify_account(session, ctx, account.id, template=LEVEL_STANDARD, locale=locale)
    return Settled(True, round_done=True, promoted=promoted)


async def _keep_verified_snils(
    repo: CheckRepository,
    ctx: Context,
    account_id: uuid.UUID,
    checks: list[RegistryCheck],
    now: datetime,
) -> bool:
    """Copy the SNILS the pension fund confirmed to the account (the one the person logs in
    with). False when another account holds it: the person check then fails ``snils_taken``
    (a savepoint keeps the rest of the transaction)."""
    data = await repo.personal_data(account_id)
    if data is None or data.snils is None:
        return True  # no SNILS, no pension fund check (never a round that gets this far)
    digits = re.sub(r"\D", "", data.snils)
    try:
        async with repo.savepoint():
            await repo.set_verified_snils(
                account_id,
                ctx.vault.encrypt("snils", digits, str(account_id)),
                ctx.vault.blind_index("snils", digits),
            )
    except IntegrityError:
        person = next(c for c in checks if c.kind == CheckKind.PERSON.value)
        await repo.fail_settled(person.id, reason=SNILS_TAKEN, now=now)
        return False
    return True


async def _promote(
    session: AsyncSession,
    account: Account,
    revision: int,
    checks: list[RegistryCheck],
    now: datetime,
) -> bool:
    """Simplified → standard with its history entry; an account already standard or confirmed
    (an operator set it) keeps its level."""
    if account.level != "simplified":
        return False
    evidence = f"registry_checks:r{revision}:" + ",".join(c.id.hex[:8] for c in checks)
    moved = await history.change_level(
        session,
        account.id,
        expected="simplified",
        to="standard",
        reason=PROMOTION_REASON,
        at=now,
        evidence=evidence,
    )
    if moved:
        record(
            session,
            "level.change",
            at=now,
            actor="registry_checks",
            account_id=account.id,
            from_level="simplified",
            to_level="standard",
            reason=PROMOTION_REASON,
            evidence=evidence,
        )
    return moved


def _failed_params(kinds: Sequence[str], locale: str) -> dict[str, str]:
    names = _KIND_NAMES.get(locale, _KIND_NAMES["ru"])
    return {"checks": "; ".join(names[k] for k in kinds)}


# --- operators (idp verifications list|retry) -----------------------------------------------------

STUCK = (
    "an open check (queued, sent or waiting) whose job is settled (failed, expired) or gone: "
    "nothing will move it any more"
)


@dataclass(frozen=True, slots=True)
class CheckLine:
    """One check as operators see it: never personal data."""

    check: RegistryCheck
    sub: str
    job_status: str | None  # pending | running | done | failed | None (the job is gone)
    job_result: str | None

    @property
    def stuck(self) -> bool:
        return self.check.state in OPEN_STATES and self.job_status not in (PENDING, RUNNING)


async def list_checks(
    session: AsyncSession,
    *,
    states: Sequence[str] | None = None,
    account_id: uuid.UUID | None = None,
    stuck: bool = False,
    limit: int = 100,
) -> list[CheckLine]:
    """Checks newest first; ``stuck`` filters in SQL, so no stuck check hides behind newer
    ones."""
    repo = CheckRepository(session)
    if stuck:
        states = [s for s in (states or OPEN_STATES) if s in OPEN_STATES]
        if not states:
            return []
    rows = await repo.listing(states=states, account_id=account_id, stuck=stuck, limit=limit)
    return [
        CheckLine(check, sub, job.status if job else None, job.result if job else None)
        for check, sub, job in rows
    ]


async def stuck_checks(
    session: AsyncSession, *, after: RegistryCheck | None = None, limit: int = 1000
) -> list[RegistryCheck]:
    """Stuck checks oldest first, a page of ``limit`` after the check ``after``."""
    return await CheckRepository(session).stuck(
        after=(after.created_at, after.id) if after is not None else None, limit=limit
    )


# A failed check these reasons settled says nothing about the person's data: the registry
# never answered, or refused the request itself. It may be asked again.
REARMABLE_REASONS = (REGISTRY_TIMEOUT, REGISTRY_REJECTED)


def _stale(check: RegistryCheck, job_status: str | None) -> bool:
    """A check that nothing will move and that may be asked again: failed for a registry's
    reason, or open with its job settled (failed, expired, done) or gone."""
    if check.state == FAILED:
        return check.reason in REARMABLE_REASONS
    return check.state in OPEN_STATES and job_status not in (PENDING, RUNNING)


async def _rearm(
    repo: CheckRepository,
    session: AsyncSession,
    settings: RegistriesSettings,
    check: RegistryCheck,
    *,
    at: datetime,
) -> JobRef | None:
    job = enqueue(
        session,
        REGISTRY_CHECK,
        {"check": str(check.id)},
        deadline_in=job_deadline(settings),
        ref=check.kind,
    )
    if await repo.rearm(check, new_job_id=job.id, now=at):
        return job
    await repo.discard_job(job.id)
    return None


async def rearm_stale(
    session: AsyncSession, ctx: Context, account_id: uuid.UUID, *, at: datetime
) -> list[JobRef]:
    """Ask again, in place, every check of the data's CURRENT revision that nothing will move
    and that may be asked again (failed ``registry_timeout`` or ``registry_rejected``, or open
    with its job settled or gone): back to queued with a fresh job and a new series of tries
    from ``at``. The check keeps its id, so the registry's idempotency key is unchanged. The
    round's rows are locked, so two calls at once (or a call and an operator's retry) give a
    check one live job. The jobs added to the caller's transaction; [] when nothing was stale.
    """
    repo = CheckRepository(session)
    revision = await repo.current_revision(account_id)
    if revision is None:
        return []
    checks = await repo.lock_round(account_id, revision)
    statuses = await repo.job_statuses([c.job_id for c in checks])
    jobs = []
    for check in checks:
        status = statuses.get(check.job_id) if check.job_id is not None else None
        if not _stale(check, status):
            continue
        job = await _rearm(repo, session, ctx.settings.registries, check, at=at)
        if job is not None:
            jobs.append(job)
    return jobs


async def retry_check(
    session: AsyncSession, settings: RegistriesSettings, check_id: uuid.UUID, *, now: datetime
) -> JobRef:
    """An operator's re-arm of one check, the same as ``rearm_stale`` does: a stuck open check,
    or one failed for a registry's reason (``REARMABLE_REASONS``), back to queued with a fresh
    job, keeping its id (the registry's idempotency key). ``BadInput`` for an unknown check,
    ``WrongState`` for one settled otherwise or whose job is still live. The check row is
    locked, so two retries at once give it one job."""
    repo = CheckRepository(session)
    check = await repo.lock_check(check_id)
    if check is None:
        raise BadInput(f"no registry check with id {check_id}")
    status = await repo.job_status(check.job_id)
    if not _stale(check, status):
        if check.state in OPEN_STATES:
            raise WrongState(f"the check's job is {status}: the check is not stuck")
        because = f" ({check.reason})" if check.reason else ""
        raise WrongState(
            f"the check is {check.state}{because}: only stuck checks and those failed for a "
            "registry's reason (" + ", ".join(REARMABLE_REASONS) + ") are retried"
        )
    job = await _rearm(repo, session, settings, check, at=now)
    if job is None:
        raise WrongState("the check changed meanwhile; look again")
    return job
