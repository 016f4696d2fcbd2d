"""Registry checks in tests: a person with personal data (rows written with the ORM, sealed
columns seal themselves) and a round of checks started on it; a JobRunner that runs only the
``registry_check`` kind with the verifiers a test gives; reading checks, level history and
queued notifications back; a database of their own for the tests that count rows
(``scratch_checks``)."""

from __future__ import annotations

import random
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from idp.accounts.service import NewAccount
from idp.clock import OffsetClock
from idp.context import Context
from idp.db.models import Account, LevelChange, PersonalData, QueuedJob, RegistryCheck
from idp.jobs.registry import Registry
from idp.jobs.runner import JobRunner
from idp.levels.verification import handler as registry_checks
from idp.levels.verification.rounds import (
    FINAL_STATES,
    needed_checks,
    start_round,
    supersede_open,
)
from idp.levels.verifiers.memory import MemoryOptions, MemoryVerifier
from idp.levels.verifiers.protocol import CheckKind
from idp.levels.verifiers.registry import chosen_names
from idp.notify.outbox import NOTIFICATION
from idp.settings import Settings
from tests.support.factories import PASSWORD, create_account, random_phone, random_snils
from tests.support.logout_kit import (
    create_scratch_database,
    drop_scratch_database,
    wait_until,
)


def random_inn() -> str:
    """A 12-digit INN with valid check digits."""
    digits = [random.randint(0, 9) for _ in range(10)]
    digits[0] = random.randint(1, 9)
    for weights in (
        (7, 2, 4, 10, 3, 5, 9, 4, 6, 8),
        (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8),
    ):
        digits.append(sum(w * d for w, d in zip(weights, digits, strict=False)) % 11 % 10)
    return "".join(map(str, digits))


@dataclass
class Subject:
    account_id: uuid.UUID
    sub: str
    phone: str
    email: str
    snils: str
    passport: str  # series + number, the memory verifier's key for the document
    inn: str | None


async def new_subject(
    ctx: Context,
    *,
    snils: str | None = None,
    inn: str | None = None,
    passport: tuple[str, str] | None = None,
    level: str = "simplified",
) -> Subject:
    """An account (confirmed phone and e-mail, no verified SNILS) with personal data saved,
    revision 1, no checks yet."""
    phone = random_phone()
    email = f"check-{secrets.token_hex(6)}@example.ru"
    account = await create_account(
        ctx,
        NewAccount(
            first_name="Пётр",
            last_name="Петров",
            middle_name="Петрович",
            phone=phone,
            email=email,
            password=PASSWORD,
            level=level,
        ),
    )
    snils = snils or random_snils()
    series, number = passport or ("4510", f"{random.randint(10, 999999):06d}")
    async with ctx.db.transaction() as session:
        session.add(
            PersonalData(
                account_id=account.id,
                sex="male",
                birth_date="1980-05-05",
                birth_place="г. Москва",
                citizenship="RUS",
                document_kind="ru_passport",
                document_series=series,
                document_number=number,
                document_issued_on="2005-06-01",
                document_issuer_code="770-001",
                document_issuer="ОВД района Арбат",
                snils=snils,
                inn=inn,
                revision=1,
                updated_at=ctx.clock.now(),
            )
        )
    return Subject(account.id, account.sub, phone, email, snils, series + number, inn)


async def start(ctx: Context, subject: Subject) -> list[uuid.UUID]:
    """Start the round of the data's current revision; the ids of its checks."""
    async with ctx.db.transaction() as session:
        data = await session.get(PersonalData, subject.account_id)
        assert data is not None
        needed = needed_checks(citizenship=data.citizenship, snils=data.snils, inn=data.inn)
        now = ctx.clock.now()
        await supersede_open(session, subject.account_id, before_revision=data.revision, at=now)
        start_round(
            session,
            subject.account_id,
            revision=data.revision,
            kinds=needed.kinds,
            verifier_names=chosen_names(ctx.settings.registries),
            settings=ctx.settings.registries,
            at=now,
        )
    return [c.id for c in await checks_of(ctx, subject.account_id)]


async def change_data(ctx: Context, subject: Subject, **values: Any) -> int:
    """A new revision of the data (what saving changed data does); the new revision."""
    async with ctx.db.transaction() as session:
        data = await session.get(PersonalData, subject.account_id)
        assert data is not None
        for name, value in values.items():
            setattr(data, name, value)
        data.revision += 1
        data.updated_at = ctx.clock.now()
        return data.revision


def memory(**options: Any) -> MemoryVerifier:
    return MemoryVerifier(MemoryOptions.model_validate(options))


def all_kinds(verifier: Any) -> dict[CheckKind, Any]:
    return dict.fromkeys(CheckKind, verifier)


def check_runner(ctx: Context, verifiers: dict[CheckKind, Any]) -> JobRunner:
    registry = Registry()
    registry_checks.register(registry, ctx, verifiers)
    return JobRunner(ctx.db, ctx.keyring, registry)


async def checks_of(ctx: Context, account_id: uuid.UUID) -> list[RegistryCheck]:
    async with ctx.db.read() as session:
        rows = await session.scalars(
            select(RegistryCheck)
            .where(RegistryCheck.account_id == account_id)
            .order_by(RegistryCheck.revision, RegistryCheck.kind)
        )
        return list(rows)


async def check_row(ctx: Context, check_id: uuid.UUID) -> RegistryCheck:
    async with ctx.db.read() as session:
        row = await session.get(RegistryCheck, check_id)
        assert row is not None
        return row


async def wait_settled(ctx: Context, account_id: uuid.UUID, *, within: float = 30.0) -> None:
    async def settled() -> bool:
        rows = await checks_of(ctx, account_id)
        return bool(rows) and all(row.state in FINAL_STATES for row in rows)

    await wait_until(settled, "every check settled", within=within)


async def level_of(ctx: Context, account_id: uuid.UUID) -> str:
    async with ctx.db.read() as session:
        account = await session.get(Account, account_id)
        assert account is not None
        return account.level


async def verified_snils_index(ctx: Context, account_id: uuid.UUID) -> str | None:
    async with ctx.db.read() as session:
        account = await session.get(Account, account_id)
        assert account is not None
        return account.snils_bidx


async def level_history(ctx: Context, account_id: uuid.UUID) -> list[LevelChange]:
    async with ctx.db.read() as session:
        rows = await session.scalars(
            select(LevelChange).where(LevelChange.account_id == account_id)
        )
        return list(rows)


async def notices(ctx: Context, account_id: uuid.UUID, subject: Subject) -> list[tuple[str, str]]:
    """(channel, template) of every notification queued to the subject's contacts (read from
    the sealed payloads)."""
    import json

    async with ctx.db.read() as session:
        rows = await session.scalars(select(QueuedJob).where(QueuedJob.kind == NOTIFICATION))
        found = []
        for row in rows:
            payload = json.loads(ctx.keyring.open("job", row.payload, str(row.id)))
            if payload["to"] in (subject.phone, subject.email):
                found.append((payload["channel"], payload["template"]))
        return sorted(found)


async def job_count(ctx: Context, kind: str) -> int:
    async with ctx.db.read() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(QueuedJob).where(QueuedJob.kind == kind)
            )
            or 0
        )


@dataclass
class Scratch:
    ctx: Context
    clock: OffsetClock


@asynccontextmanager
async def scratch_checks(settings: Settings, directory: Path) -> AsyncIterator[Scratch]:
    """A database of its own and a context on it, with a clock the test moves and the registry
    checks' waits cut short."""
    url = await create_scratch_database(settings.database_url, directory)
    registries = settings.registries.model_copy(
        update={
            "poll_interval": 0.05,
            "answer_wait_base": 0.05,
            "answer_wait_max": 0.2,
            "backoff_base": 0.05,
            "backoff_max": 0.2,
        }
    )
    own = settings.model_copy(
        update={"database_url": url, "var_dir": directory, "registries": registries}
    )
    clock = OffsetClock()
    ctx = Context.build(own, clock)
    try:
        yield Scratch(ctx, clock)
    finally:
        await ctx.close()
        await drop_scratch_database(url)
