"""A message carrying a code is given up when the code dies, not a retry period later: a code
delivered after it expired only confuses the person. Notices without a code keep the full
retry period."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from idp.accounts import verification
from idp.context import Context
from idp.db.models import QueuedJob
from idp.notify.outbox import NOTIFICATION
from tests.support.factories import random_phone


async def _deadline_after_creation(ctx: Context, job_ids: set[uuid.UUID]) -> list[float]:
    async with ctx.db.read() as session:
        rows = (
            await session.execute(select(QueuedJob).where(QueuedJob.kind == NOTIFICATION))
        ).scalars()
        return [
            (job.deadline - job.created_at).total_seconds() for job in rows if job.id in job_ids
        ]


async def _notification_ids(ctx: Context) -> set[uuid.UUID]:
    async with ctx.db.read() as session:
        return set(
            (
                await session.execute(select(QueuedJob.id).where(QueuedJob.kind == NOTIFICATION))
            ).scalars()
        )


async def test_an_sms_code_is_not_sent_after_it_expired(ctx: Context) -> None:
    before = await _notification_ids(ctx)
    async with ctx.db.transaction() as session:
        await verification.send_sms_code(
            session,
            ctx,
            purpose="registration",
            owner_id=uuid.uuid4(),
            phone=random_phone(),
            locale="ru",
        )
    new = await _notification_ids(ctx) - before
    [lifetime] = await _deadline_after_creation(ctx, new)
    ttl = ctx.settings.verification.sms_code_ttl
    assert ttl < ctx.settings.notify.retry_period
    assert ttl - 5 <= lifetime <= ttl + 5


async def test_a_warning_to_the_owner_keeps_the_full_retry_period(ctx: Context) -> None:
    before = await _notification_ids(ctx)
    async with ctx.db.transaction() as session:
        await verification.send_sms_code(
            session,
            ctx,
            purpose="registration",
            owner_id=uuid.uuid4(),
            phone=random_phone(),
            locale="ru",
            decoy=True,
        )
    new = await _notification_ids(ctx) - before
    [lifetime] = await _deadline_after_creation(ctx, new)
    retry = ctx.settings.notify.retry_period
    assert retry - 5 <= lifetime <= retry + 5
