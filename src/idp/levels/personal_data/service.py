"""A person's data for the standard level: read it, save it (starting the registry checks it
needs), and follow the checks and the level they earn.

Every function takes the caller's ``AsyncSession`` and never commits: the route (or page) opens
the transaction, so the data, its checks, their jobs, the level change and the audit record are
written together or not at all. Validate first with ``validation.parse``.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from idp.assurance.policy import Level
from idp.audit.log import record
from idp.context import Context
from idp.db.models import Account, PersonalData
from idp.errors import NotFound
from idp.jobs.queue import JobRef
from idp.levels.personal_data.errors import SnilsTaken, TooManyChanges
from idp.levels.personal_data.repository import PersonalDataRepository
from idp.levels.personal_data.validation import PersonalDataInput
from idp.levels.verification import history, rounds
from idp.levels.verification import service as checks
from idp.levels.verifiers.registry import chosen_names
from idp.notify import send_counters
from idp.notify.contacts import notify_account

DATA_CHANGED = "data_changed"  # the level history's reason when saved data drops a level
_KIND_ORDER = {"person": 0, "document": 1, "inn": 2}


@dataclass(frozen=True, slots=True)
class PersonalDataView:
    """The saved data (names from the account) and which revision of it this is."""

    data: PersonalDataInput
    revision: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SaveResult:
    """What a save did. ``changed`` False: the data was identical, nothing was written but the
    checks asked again (``jobs``: stale ones, see ``verification.service.rearm_stale``).
    ``jobs``: the ``registry_check`` jobs started (wake their workers after the commit)."""

    changed: bool
    revision: int
    level_before: str
    level_after: str
    jobs: tuple[JobRef, ...]
    none_because: str | None


@dataclass(frozen=True, slots=True)
class CheckView:
    id: uuid.UUID
    kind: str  # person | document | inn
    state: str  # queued | sent | waiting | succeeded | failed | superseded
    reason: str | None  # a reason code (BRIEF), None while all is well
    fields: tuple[str, ...]  # for a mismatch: the names of the fields that do not match
    updated_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class Progress:
    """Where the account stands: its level, the current revision's checks, and whether every
    one of them has settled. ``none_because`` when the data can earn no check at all
    (``foreign_without_snils``); ``revision`` None when no data was saved yet."""

    level: str
    confirmation_method: str | None
    revision: int | None
    checks: tuple[CheckView, ...]
    none_because: str | None
    settled: bool


@dataclass(frozen=True, slots=True)
class LevelChangeView:
    from_level: str
    to_level: str
    reason: str
    evidence: str | None
    at: datetime


async def load(session: AsyncSession, account_id: uuid.UUID) -> PersonalDataView | None:
    """The account's saved data, or None when it has saved none yet."""
    repo = PersonalDataRepository(session)
    row = await repo.get(account_id)
    account = await repo.account(account_id)
    if row is None or account is None:
        return None
    return PersonalDataView(_as_input(row, account), row.revision, row.updated_at)


async def save(
    session: AsyncSession,
    ctx: Context,
    account_id: uuid.UUID,
    data: PersonalDataInput,
    *,
    at: datetime,
    ip: str | None = None,
    locale: str = "ru",
) -> SaveResult:
    """Replace the account's data with ``data`` in the caller's transaction.

    Identical data changes nothing. A change only of fields no registry receives (birth place,
    the document's issuer and its code) is written in place: same revision, the checks and the
    level stay valid, no new round, not counted against the daily cap. Any other change becomes
    the next revision: the names go to the account, the open checks of older revisions are
    superseded, a standard or confirmed account drops to simplified (level history
    ``data_changed``), the checks this revision needs start as ``registry_check`` jobs, and
    every confirmed contact is told (in ``locale``, no data in the text), so that a change the
    person did not make does not go unnoticed. A SNILS that another account logs in with is
    refused (``SnilsTaken``, nothing written, nothing said of whose it is); a SNILS other than
    the account's verified one takes the verified one away (the new one must be verified first).
    """
    repo = PersonalDataRepository(session)
    account = await repo.lock_account(account_id)
    if account is None:
        raise NotFound("No such account.")
    snils_index = ctx.vault.blind_index("snils", data.snils) if data.snils else None
    if snils_index is not None and await repo.snils_verified_elsewhere(account_id, snils_index):
        raise SnilsTaken("This SNILS is already used by another account.")
    row = await repo.get(account_id)
    level_before = account.level
    if row is not None:
        stored = _as_input(row, account)
        if stored == data:
            # Nothing changed, but a check the registry never answered (timeout) or refused as
            # a request is asked again, as its advice tells the person: counted as a change.
            again = await checks.rearm_stale(session, ctx, account_id, at=at)
            if again:
                await _count_change(
                    session, account_id, ctx.settings.registries.max_changes_per_day, at
                )
            needed = _needed(data)
            return SaveResult(
                False, row.revision, level_before, level_before, tuple(again), needed.none_because
            )
        if _queried(stored) == _queried(data):
            return _update_in_place(session, row, stored, data, level=level_before, at=at, ip=ip)

    await _count_change(session, account_id, ctx.settings.registries.max_changes_per_day, at)
    revision = 1 if row is None else row.revision + 1
    if row is None:
        row = PersonalData(account_id=account_id)
        repo.add(row)
    _fill(row, data, revision=revision, at=at)
    account.last_name = data.last_name
    account.first_name = data.first_name
    account.middle_name = data.middle_name
    account.updated_at = at
    if account.snils_bidx is not None and account.snils_bidx != snils_index:
        await repo.forget_verified_snils(account_id, at=at)
    await session.flush()

    await rounds.supersede_open(session, account_id, before_revision=revision, at=at)
    level_after = level_before
    if level_before in (Level.STANDARD, Level.CONFIRMED):
        moved = await history.change_level(
            session,
            account_id,
            expected=level_before,
            to=Level.SIMPLIFIED,
            reason=DATA_CHANGED,
            at=at,
        )
        if moved:
            level_after = Level.SIMPLIFIED.value
    needed = _needed(data)
    jobs = rounds.start_round(
        session,
        account_id,
        revision=revision,
        kinds=needed.kinds,
        verifier_names=chosen_names(ctx.settings.registries),
        settings=ctx.settings.registries,
        at=at,
    )
    # ASVS 5.0 6.3.7: a change the person did not make does not go unnoticed.
    notified = await notify_account(
        session, ctx, account_id, template=DATA_CHANGED_NOTICE, locale=locale
    )
    record(
        session,
        "personal_data.saved",
        at=at,
        actor="person",
        account_id=account_id,
        ip=ip,
        revision=revision,
        checks=[kind.value for kind in needed.kinds],
        level_from=level_before,
        level_to=level_after,
        notified=notified,
    )
    await session.flush()
    return SaveResult(True, revision, level_before, level_after, tuple(jobs), needed.none_because)


DATA_CHANGED_NOTICE = "personal_data_changed"  # the template (idp.notify.messages)


# A day-long window; housekeeping keeps "day:" counters for two days (jobs/housekeeping.py).
CHANGES_KEY = "day:personal-data:"
_DAY = timedelta(days=1)


async def _count_change(
    session: AsyncSession, account_id: uuid.UUID, limit: int, at: datetime
) -> None:
    """Count one changed save, or refuse it (``TooManyChanges``) when the account's day holds
    ``limit`` already. The guarded upsert makes count and check one step on any instance."""
    key = f"{CHANGES_KEY}{account_id}"
    if await send_counters.take(session, key, limit, at, _DAY) is None:
        started = await send_counters.window_start(session, key)
        left = (started + _DAY - at).total_seconds() if started else _DAY.total_seconds()
        # Saves racing this one may have started the window a moment after ``at``.
        raise TooManyChanges(max(1, min(math.ceil(left), int(_DAY.total_seconds()))))


async def progress(session: AsyncSession, account_id: uuid.UUID) -> Progress:
    """The account's level and the checks of its current revision."""
    repo = PersonalDataRepository(session)
    account = await repo.account(account_id)
    if account is None:
        raise NotFound("No such account.")
    row = await repo.get(account_id)
    if row is None:
        return Progress(account.level, account.confirmation_method, None, (), None, True)
    checks = sorted(
        await repo.checks_of(account_id, row.revision),
        key=lambda c: (_KIND_ORDER.get(c.kind, 9), c.created_at),
    )
    views = tuple(
        CheckView(
            id=c.id,
            kind=c.kind,
            state=c.state,
            reason=c.reason,
            fields=tuple(f for f in (c.fields or "").split(",") if f),
            updated_at=c.updated_at,
            finished_at=c.finished_at,
        )
        for c in checks
    )
    needed = rounds.needed_checks(citizenship=row.citizenship, snils=row.snils, inn=row.inn)
    return Progress(
        level=account.level,
        confirmation_method=account.confirmation_method,
        revision=row.revision,
        checks=views,
        none_because=needed.none_because,
        settled=all(c.state in rounds.FINAL_STATES for c in views),
    )


async def level_history(session: AsyncSession, account_id: uuid.UUID) -> list[LevelChangeView]:
    """The account's level changes, newest first."""
    return [
        LevelChangeView(c.from_level, c.to_level, c.reason, c.evidence, c.at)
        for c in await history.history(session, account_id)
    ]


# What the registries are asked (``verification.service.build_query``): a change of any of these
# starts a new round. The other fields (birth place, the document's issuer and its code) reach
# no registry, so a change of them alone leaves the round and the level as they are.
QUERIED_FIELDS = (
    "last_name",
    "first_name",
    "middle_name",
    "sex",
    "birth_date",
    "citizenship",
    "document_kind",
    "document_series",
    "document_number",
    "document_issued_on",
    "snils",
    "inn",
)
UNQUERIED_FIELDS = ("birth_place", "document_issuer_code", "document_issuer")


def _queried(data: PersonalDataInput) -> tuple[object, ...]:
    return tuple(getattr(data, name) for name in QUERIED_FIELDS)


def _update_in_place(
    session: AsyncSession,
    row: PersonalData,
    stored: PersonalDataInput,
    data: PersonalDataInput,
    *,
    level: str,
    at: datetime,
    ip: str | None,
) -> SaveResult:
    """Write the fields no registry receives into the current revision (see ``save``)."""
    changed = [name for name in UNQUERIED_FIELDS if getattr(stored, name) != getattr(data, name)]
    row.birth_place = data.birth_place
    row.document_issuer_code = data.document_issuer_code
    row.document_issuer = data.document_issuer
    row.updated_at = at
    record(
        session,
        "personal_data.updated",
        at=at,
        actor="person",
        account_id=row.account_id,
        ip=ip,
        revision=row.revision,
        fields=changed,  # the names only, never the values
    )
    return SaveResult(True, row.revision, level, level, (), _needed(data).none_because)


def _needed(data: PersonalDataInput) -> rounds.Needed:
    return rounds.needed_checks(citizenship=data.citizenship, snils=data.snils, inn=data.inn)


def _fill(row: PersonalData, data: PersonalDataInput, *, revision: int, at: datetime) -> None:
    row.sex = data.sex
    row.birth_date = data.birth_date.isoformat()
    row.birth_place = data.birth_place
    row.citizenship = data.citizenship
    row.document_kind = data.document_kind
    row.document_series = data.document_series
    row.document_number = data.document_number
    row.document_issued_on = data.document_issued_on.isoformat()
    row.document_issuer_code = data.document_issuer_code
    row.document_issuer = data.document_issuer
    row.snils = data.snils
    row.inn = data.inn
    row.revision = revision
    row.updated_at = at


def _as_input(row: PersonalData, account: Account) -> PersonalDataInput:
    return PersonalDataInput(
        last_name=account.last_name,
        first_name=account.first_name,
        middle_name=account.middle_name,
        sex=row.sex,
        birth_date=date.fromisoformat(row.birth_date),
        birth_place=row.birth_place,
        citizenship=row.citizenship,
        document_kind=row.document_kind,
        document_series=row.document_series,
        document_number=row.document_number,
        document_issued_on=date.fromisoformat(row.document_issued_on),
        document_issuer_code=row.document_issuer_code,
        document_issuer=row.document_issuer,
        snils=row.snils,
        inn=row.inn,
    )
