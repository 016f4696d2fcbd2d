"""Secrets and personal data stay out of the access log and out of database error messages."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy.exc import IntegrityError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from idp.app import create_app
from idp.context import Context
from idp.db.models.accounts import Account
from idp.http.access_log import ACCESS_LOGGER
from idp.jobs.repository import listing
from idp.settings import Settings
from tests.support.factories import random_phone
from tests.support.live import LiveServer, free_port
from tests.support.logout_kit import create_scratch_database, drop_scratch_database
from tests.support.production import production

SECRET = "tok-7f3a9c2e51d84b06"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_access_log_has_no_query_string_and_no_full_address(
    settings: Settings, migrated: str
) -> None:
    port = free_port()
    app = create_app(
        settings.model_copy(update={"issuer": f"http://127.0.0.1:{port}"}), run_jobs=False
    )
    live = LiveServer(app, port, access_log=True).start()
    collect = _Collect()
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.addHandler(collect)
    level = logger.level
    logger.setLevel(logging.INFO)  # the live server logs warnings only
    try:
        httpx.get(f"{live.url}/confirm-email?token={SECRET}&login_hint=a@b.example")
    finally:
        logger.removeHandler(collect)
        logger.setLevel(level)
        live.stop()

    assert collect.lines, "the access line was not written"
    line = collect.lines[-1]
    assert "/confirm-email" in line
    assert SECRET not in line
    assert "a@b.example" not in line
    assert "?" not in line
    assert "127.0.0.1" not in line
    assert "127.0.0.0" in line


async def test_database_errors_do_not_show_bound_values(ctx: Context) -> None:
    marker = f"Zoya-{uuid.uuid4().hex[:8]}"
    sub = uuid.uuid4().hex
    now = ctx.clock.now()

    def account() -> Account:
        return Account(
            sub=sub,
            first_name=marker,
            last_name=marker,
            middle_name=None,
            level="simplified",
            confirmation_method=None,
            password_hash=None,
            created_at=now,
            updated_at=now,
        )

    async with ctx.db.transaction() as session:
        session.add(account())
    with pytest.raises(IntegrityError) as failure:
        async with ctx.db.transaction() as session:
            session.add(account())
    assert marker not in str(failure.value)
    assert sub not in str(failure.value)
    async with ctx.db.transaction() as session:
        await session.delete(await session.get(Account, (await _id_of(ctx, sub))))


async def _id_of(ctx: Context, sub: str) -> uuid.UUID:
    from sqlalchemy import select

    async with ctx.db.read() as session:
        return (await session.execute(select(Account.id).where(Account.sub == sub))).scalar_one()


async def test_sessions_and_audit_keep_networks_and_browser_families(
    ctx: Context, server: LiveServer
) -> None:
    from sqlalchemy import select

    from idp.db.models import AuditEvent, BrowserSession
    from tests.support.api_kit import Api
    from tests.support.factories import make_person

    person = await make_person(ctx)
    user_agent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    api = Api(server.url, ip="203.0.113.77")
    api.http.headers["User-Agent"] = user_agent
    try:
        assert (await api.login(person.phone, "wrong password 1")).status_code == 401
        assert (await api.login(person.phone, person.password)).status_code == 200
    finally:
        await api.close()

    async with ctx.db.read() as session:
        sessions = (
            await session.scalars(
                select(BrowserSession).where(BrowserSession.account_id == person.account.id)
            )
        ).all()
        audit = (
            await session.scalars(
                select(AuditEvent).where(AuditEvent.account_id == str(person.account.id))
            )
        ).all()
    assert [(s.user_agent, s.ip) for s in sessions] == [("Firefox on Linux", "203.0.113.0")]
    # The failed and the successful login both carry the address (events the factory wrote
    # before have none).
    assert {event.ip for event in audit if event.ip is not None} == {"203.0.113.0"}
    assert {event.outcome for event in audit if event.ip is not None} == {"success", "failure"}


class _FailedTries(_Collect):
    """Collects everything ``idp.jobs`` logs; ``failed`` is set at the first failed try (the
    runner logs on the event loop's thread)."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)
        if record.getMessage().startswith("job try failed"):
            self.failed.set()


class _FailingGateway:
    """A real HTTP SMS gateway that accepts the request and answers 500 (a transient failure)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, str]] = []

    async def sms(self, request: Request) -> Response:
        self.bodies.append(json.loads(await request.body()))
        return PlainTextResponse("down for maintenance", status_code=500)


async def test_a_failed_notification_try_is_one_line_without_personal_data(
    settings: Settings, tmp_path: Path
) -> None:
    gateway = _FailingGateway()
    gateway_port = free_port()
    gateway_server = LiveServer(
        Starlette(routes=[Route("/sms", gateway.sms, methods=["POST"])]), gateway_port
    ).start()
    url = await create_scratch_database(settings.database_url, tmp_path)  # no other worker
    chosen = production(settings, database_url=url)
    notify = chosen.notify.model_copy(
        update={
            "sms": chosen.notify.sms.model_copy(
                update={"url": f"http://127.0.0.1:{gateway_port}/sms"}
            ),
            "backoff_base": 30.0,  # one try in this test
        }
    )
    app = create_app(chosen.model_copy(update={"notify": notify}))
    collect = _FailedTries()
    logger = logging.getLogger("idp.jobs")
    logger.addHandler(collect)
    phone = random_phone()
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=chosen.issuer) as http:
                created = await http.post(
                    "/api/v1/registrations",
                    json={
                        "last_name": "Сидорова",
                        "first_name": "Анна",
                        "phone": phone,
                        "personal_data_consent": True,
                    },
                )
                assert created.status_code == 201, created.text
            await asyncio.wait_for(collect.failed.wait(), 20)
            async with app.state.ctx.db.read() as session:
                [job] = await listing(session, statuses=None, kind="notification", limit=10)
    finally:
        logger.removeHandler(collect)
        gateway_server.stop()
        await drop_scratch_database(url)

    [line] = [line for line in collect.lines if "job try failed" in line]
    assert line == (
        f"job try failed job={job.id} kind=notification channel=sms template={job.ref[4:]} "
        'try=1 outcome=retry reason="gateway answered HTTP 500"'
    )
    [body] = gateway.bodies
    assert body["to"] == phone  # what the log must not show: the number, the code, the text
    code = re.search(r"\b\d{6}\b", body["text"])
    assert code is not None
    everything = "\n".join(collect.lines)
    for secret in (phone, phone.lstrip("+"), phone[-10:], code.group(), body["text"]):
        assert secret not in everything
