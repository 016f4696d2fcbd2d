from __future__ import annotations

import uuid

import httpx
from sqlalchemy import func, select

from idp.clock import OffsetClock
from idp.context import Context
from idp.db.models import Registration, Verification
from idp.jobs.maintenance import Maintenance
from tests.support.factories import random_phone
from tests.support.live import LiveServer


async def _count(ctx: Context, model: type, registration_id: uuid.UUID) -> int:
    column = Registration.id if model is Registration else Verification.owner_id
    async with ctx.db.read() as session:
        return int(await session.scalar(select(func.count()).where(column == registration_id)) or 0)


async def test_abandoned_registrations_are_deleted_a_day_after_they_expire(
    server: LiveServer, ctx: Context, clock: OffsetClock
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        created = await http.post(
            "/api/v1/registrations",
            json={
                "last_name": "Кузнецов",
                "first_name": "Олег",
                "phone": random_phone(),
                "personal_data_consent": True,
            },
        )
    registration_id = uuid.UUID(created.json()["id"])
    maintenance = Maintenance(ctx)
    await maintenance.run_once()
    assert await _count(ctx, Registration, registration_id) == 1
    assert await _count(ctx, Verification, registration_id) == 1

    clock.advance(ctx.settings.verification.registration_ttl + 86400 + 60)
    await maintenance.run_once()
    assert await _count(ctx, Registration, registration_id) == 0
    assert await _count(ctx, Verification, registration_id) == 0
