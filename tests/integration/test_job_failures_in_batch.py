"""A job that raises in the middle of a batch settles alone: the healthy jobs beside it are
delivered exactly once. Back-channel logout: an RP answers with a 70 KB status line next to a
healthy RP. Notifications: a message with an unknown template next to good ones."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, update

from idp.context import Context
from idp.db.models import QueuedJob
from idp.jobs.queue import enqueue as enqueue_job
from idp.notify.outbox import NOTIFICATION, enqueue
from tests.support.browser import Browser
from tests.support.factories import Person, make_rp
from tests.support.live import LiveServer
from tests.support.logout_kit import (
    RPFarm,
    deliveries,
    forget_clients,
    sign_in,
    stays,
    wait_until,
)
from tests.support.mailbox import message_count


@pytest.fixture
async def farm(ctx: Context, server: LiveServer) -> AsyncIterator[RPFarm]:
    rps = RPFarm(ctx, server.url)
    yield rps
    await rps.close()


class LongStatusLine:
    """An RP whose back-channel endpoint answers with a 70 KB status line."""

    def __init__(self) -> None:
        self.connections = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._answer, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/backchannel"

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 " + b"x" * 70_000 + b"\r\n\r\n")
        await writer.drain()
        writer.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def test_an_rp_with_a_70kb_status_line_does_not_hold_up_a_healthy_one(
    ctx: Context, browser: Browser, person: Person, farm: RPFarm
) -> None:
    long_line = LongStatusLine()
    uri = await long_line.start()
    odd = await make_rp(
        ctx, name="Странный сервис", backchannel_logout_uri=uri, require_consent=False
    )
    try:
        healthy = await farm.add(name="Пенсионный фонд")
        tokens = await sign_in(browser, healthy.rp, person)
        await sign_in(browser, odd, person)
        response = await browser.get(
            "/logout",
            params={
                "id_token_hint": tokens["id_token"],
                "post_logout_redirect_uri": healthy.post_logout_uri,
            },
        )
        assert response.status_code in (200, 303), response.text[:300]

        await wait_until(lambda: long_line.connections >= 2, "the odd RP to be tried again")
        await wait_until(lambda: len(healthy.fake.received) == 1, "the healthy RP's logout")
        await stays(lambda: healthy.fake.attempts == 1, "no second delivery", seconds=1.0)
        assert healthy.fake.problems == []
        assert [d.status for d in await deliveries(ctx, healthy.client_id)] == ["delivered"]
        [odd_job] = await deliveries(ctx, odd.client_id)
        assert odd_job.status == "pending"  # retried later, until its deadline
        assert odd_job.attempts >= 1
        assert odd_job.last_error, odd_job
    finally:
        await forget_clients(ctx, [odd.client_id])
        await long_line.stop()


async def test_a_notification_with_an_unknown_template_does_not_hold_up_the_others(
    ctx: Context, server: LiveServer
) -> None:
    tag = uuid.uuid4().hex[:10]
    good = [f"good-{n}-{tag}@example.ru" for n in range(3)]
    bad = f"bad-{tag}@example.ru"
    async with ctx.db.transaction() as session:
        ids = {}
        for to in [good[0], bad, good[1], good[2]]:
            ids[to] = enqueue(
                session,
                ctx.keyring,
                channel="email",
                to=to,
                template="no_such_template" if to == bad else "password_changed",
                locale="ru",
                params={},
                now=ctx.clock.now(),
                settings=ctx.settings.notify,
            )

    async def sent() -> bool:
        return all([await message_count(ctx, to) == 1 for to in good])

    await wait_until(sent, "the good messages")

    async def bad_job() -> QueuedJob:
        async with ctx.db.read() as session:
            row = (await session.scalars(select(QueuedJob).where(QueuedJob.id == ids[bad]))).one()
            return row

    await wait_until(lambda: _tried(bad_job), "the bad message to be tried")
    row = await bad_job()
    assert row.kind == NOTIFICATION
    assert row.status in ("pending", "running")
    assert row.last_error is not None
    assert "no_such_template" in row.last_error
    await stays(lambda: _all_once(ctx, good), "each good message sent exactly once", seconds=1.0)
    assert await message_count(ctx, bad) == 0
    async with ctx.db.transaction() as session:  # stop retrying it
        await session.execute(
            update(QueuedJob).where(QueuedJob.id == ids[bad]).values(status="failed")
        )


async def _tried(load: object) -> bool:
    row = await load()  # type: ignore[operator]
    return bool(row.attempts >= 1 and row.last_error)


async def _all_once(ctx: Context, recipients: list[str]) -> bool:
    return all([await message_count(ctx, to) == 1 for to in recipients])


async def test_a_notification_missing_a_field_fails_alone_for_good(
    ctx: Context, server: LiveServer
) -> None:
    tag = uuid.uuid4().hex[:10]
    good, broken = f"good-{tag}@example.ru", f"broken-{tag}@example.ru"
    async with ctx.db.transaction() as session:
        enqueue(
            session,
            ctx.keyring,
            channel="email",
            to=good,
            template="password_changed",
            locale="ru",
            params={},
            now=ctx.clock.now(),
            settings=ctx.settings.notify,
        )
        # As a payload written by an older release or damaged in storage would be: no params.
        job = enqueue_job(
            session,
            NOTIFICATION,
            {"channel": "email", "to": broken, "template": "password_changed", "locale": "ru"},
            deadline_in=600,
            keyring=ctx.keyring,
        )

    async def settled() -> QueuedJob | None:
        async with ctx.db.read() as session:
            row = (await session.scalars(select(QueuedJob).where(QueuedJob.id == job.id))).one()
        return row if row.status == "failed" else None

    await wait_until(settled, "the broken message to fail")
    row = await settled()
    assert row is not None
    assert (row.result, row.attempts) == ("unreadable", 1)
    assert "params" in (row.last_error or "")
    await wait_until(lambda: _all_once(ctx, [good]), "the good message")
    assert await message_count(ctx, broken) == 0
