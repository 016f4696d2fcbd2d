"""Secrets and personal data stay out of the access log and out of database error messages."""

from __future__ import annotations

import logging
import uuid

import httpx
import pytest
from sqlalchemy.exc import IntegrityError

from idp.app import create_app
from idp.context import Context
from idp.db.models.accounts import Account
from idp.http.access_log import ACCESS_LOGGER
from idp.settings import Settings
from tests.support.live import LiveServer, free_port

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
