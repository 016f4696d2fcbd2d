"""Helpers for the personal data tests: valid bodies, the PUT with its CSRF header, and the rows
a save writes (counted per account)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from idp.context import Context
from idp.db.models import AuditEvent, LevelChange, PersonalData, QueuedJob, RegistryCheck
from idp.levels.verification.rounds import REGISTRY_CHECK
from tests.support.api_kit import Api
from tests.support.factories import random_snils

PATH = "/api/v1/me/personal-data"


def ru_body(snils: str | None = None, **changes: Any) -> dict[str, Any]:
    """A citizen of Russia's valid data (a fresh SNILS unless one is given)."""
    body: dict[str, Any] = {
        "last_name": "Петрова",
        "first_name": "Анна",
        "middle_name": "Сергеевна",
        "sex": "female",
        "birth_date": "1990-05-17",
        "birth_place": "г. Москва",
        "citizenship": "RUS",
        "document_kind": "ru_passport",
        "document_series": "45 06",
        "document_number": "123456",
        "document_issued_on": "2010-06-01",
        "document_issuer_code": "770-001",
        "document_issuer": "ОВД района Арбат г. Москвы",
        "snils": snils or random_snils(),
        "inn": "773390622613",
    }
    return {**body, **changes}


def foreign_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "last_name": "Müller",
        "first_name": "Jörg",
        "sex": "male",
        "birth_date": "1985-02-03",
        "birth_place": "Berlin",
        "citizenship": "DEU",
        "document_kind": "foreign_passport",
        "document_number": "C01X00T47",
        "document_issued_on": "2020-01-10",
    }
    return {**body, **changes}


async def put(api: Api, body: Any) -> httpx.Response:
    # Escaped, so that a lone surrogate travels as JSON allows it (a \\u escape).
    return await put_raw(api, json.dumps(body, ensure_ascii=True).encode("ascii"))


async def put_raw(api: Api, content: bytes) -> httpx.Response:
    headers = {"X-CSRF-Token": api.csrf_token or "", "Content-Type": "application/json"}
    return await api.http.put(PATH, content=content, headers=headers)


async def written(
    ctx: Context, account_id: uuid.UUID, *, with_level_history: bool = True
) -> dict[str, int]:
    """What a save of this account writes: a refused one must leave every count alone. (Once
    a save started checks, the job runner may change the level meanwhile: leave the level
    history out then.)"""
    statements: dict[str, Any] = {
        "personal_data": select(func.count())
        .select_from(PersonalData)
        .where(PersonalData.account_id == account_id),
        "revision": select(func.coalesce(func.max(PersonalData.revision), 0)).where(
            PersonalData.account_id == account_id
        ),
        "registry_checks": select(func.count())
        .select_from(RegistryCheck)
        .where(RegistryCheck.account_id == account_id),
        "jobs": select(func.count())
        .select_from(QueuedJob)
        .where(
            QueuedJob.kind == REGISTRY_CHECK,
            QueuedJob.id.in_(
                select(RegistryCheck.job_id).where(RegistryCheck.account_id == account_id)
            ),
        ),
        "level_history": select(func.count())
        .select_from(LevelChange)
        .where(LevelChange.account_id == account_id),
        "audit": select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.account_id == str(account_id),
            AuditEvent.event == "personal_data.saved",
        ),
    }
    if not with_level_history:
        del statements["level_history"]
    async with ctx.db.read() as session:
        return {name: int(await session.scalar(stmt) or 0) for name, stmt in statements.items()}
