"""Helpers for the logout tests: relying parties on real servers, waiting without fixed sleeps,
reading the outbox, and running the ``idp`` command or extra app instances on the test database.
"""

from __future__ import annotations

import asyncio
import html
import inspect
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
from sqlalchemy import select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from idp.app import create_app
from idp.clock import Clock
from idp.context import Context
from idp.db.migrate import upgrade
from idp.db.models import BrowserSession, QueuedJob, SessionClient
from idp.oidc.logout.deliveries import delivery_status
from idp.sessions.service import BACKCHANNEL_LOGOUT
from idp.settings import Settings
from tests.support.browser import Browser, query
from tests.support.factories import RP, Person, make_rp
from tests.support.flows import auth_params, log_in, redeem
from tests.support.live import LiveServer, free_port
from tests.support.rp_server import FakeRP, RPServer

IDP = str(Path(sys.executable).with_name("idp"))
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


# --- relying parties -----------------------------------------------------------------------------


@dataclass
class RecordingRP(FakeRP):
    """A FakeRP that also keeps every logout token POSTed to it, whatever it answered, and whose
    front-channel page can hang (``frontchannel_hangs``) until ``release`` is set."""

    posted: list[str] = field(default_factory=list)
    frontchannel_hangs: bool = False
    release: threading.Event = field(default_factory=threading.Event)

    async def _backchannel(self, request: Request) -> Response:
        form = await request.form()  # Starlette caches the form: FakeRP reads it again
        self.posted.append(str(form.get("logout_token", "")))
        return await super()._backchannel(request)

    async def _frontchannel(self, request: Request) -> Response:
        if self.frontchannel_hangs:
            self.frontchannel_hits.append(dict(request.query_params))
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 120)
            return PlainTextResponse("late")
        return await super()._frontchannel(request)


@dataclass
class LiveRP:
    """A registered client and the server standing in for it (none when it is "down")."""

    fake: RecordingRP
    rp: RP
    url: str
    server: RPServer | None

    @property
    def client_id(self) -> str:
        return self.rp.client_id

    @property
    def post_logout_uri(self) -> str:
        return f"{self.url}/"


class RPFarm:
    """Starts RP servers and registers their clients; on close stops the servers and ends the
    sessions and pending deliveries of those clients, so nothing keeps retrying to a port that
    a later test may get."""

    def __init__(self, ctx: Context, issuer: str) -> None:
        self.ctx = ctx
        self.issuer = issuer
        self.rps: list[LiveRP] = []

    async def add(
        self,
        *,
        name: str = "Налоговая служба",
        mode: str = "ok",
        delay: float = 0.0,
        fail_first: int = 0,
        frontchannel_hangs: bool = False,
        down: bool = False,
        backchannel: bool = True,
        frontchannel: bool = False,
        scopes: list[str] | None = None,
    ) -> LiveRP:
        fake = RecordingRP(
            self.issuer,
            mode=mode,
            delay=delay,
            fail_first=fail_first,
            frontchannel_hangs=frontchannel_hangs,
        )
        server = None if down else RPServer(fake).start()
        url = server.url if server else f"http://127.0.0.1:{free_port()}"  # nothing listens
        options: dict[str, Any] = {"name": name, "require_consent": False}
        if backchannel:
            options["backchannel_logout_uri"] = f"{url}/backchannel"
        if frontchannel:
            options["frontchannel_logout_uri"] = f"{url}/frontchannel"
        if scopes is not None:
            options["scopes"] = scopes
        rp = await make_rp(
            self.ctx, redirect_uri=f"{url}/cb", post_logout_redirect_uris=[f"{url}/"], **options
        )
        fake.client_id = rp.client_id
        live = LiveRP(fake, rp, url, server)
        self.rps.append(live)
        return live

    async def close(self) -> None:
        for live in self.rps:
            live.fake.delay = 0.0
            live.fake.release.set()
        for live in self.rps:
            if live.server is not None:
                live.server.stop()
        await forget_clients(self.ctx, [live.client_id for live in self.rps])


async def forget_clients(ctx: Context, client_ids: list[str]) -> None:
    """End (without fan-out) the sessions these clients took part in and give up their pending
    deliveries."""
    if not client_ids:
        return
    now = ctx.clock.now()
    async with ctx.db.transaction() as session:
        participants = select(SessionClient.session_id).where(
            SessionClient.client_id.in_(client_ids)
        )
        await session.execute(
            update(BrowserSession)
            .where(BrowserSession.id.in_(participants), BrowserSession.ended_at.is_(None))
            .values(ended_at=now, ended_reason="test_teardown")
        )
        await session.execute(
            update(QueuedJob)
            .where(
                QueuedJob.kind == BACKCHANNEL_LOGOUT,
                QueuedJob.ref.in_(client_ids),
                QueuedJob.status.in_(["pending", "running"]),
            )
            .values(status="failed", last_error="test teardown", finished_at=now, claim_token=None)
        )


# --- waiting -------------------------------------------------------------------------------------


async def wait_until(
    check: Callable[[], bool | Awaitable[bool]],
    what: str,
    *,
    within: float = 10.0,
    interval: float = 0.05,
) -> float:
    """Poll ``check`` until it is true; return the seconds it took. Fails after ``within``."""
    start = time.monotonic()
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return time.monotonic() - start
        if time.monotonic() - start > within:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(interval)


async def stays(check: Callable[[], bool | Awaitable[bool]], what: str, *, seconds: float) -> None:
    """Assert ``check`` holds for the whole period (for "nothing more arrives")."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        assert result, what
        await asyncio.sleep(0.05)


# --- tokens and flows ----------------------------------------------------------------------------


def unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims without checking the signature (the RP server checks that)."""
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return dict(jwt.get_unverified_header(token)), claims


async def sign_in(
    browser: Browser, rp: RP, person: Person, *, scope: str = "openid profile", **extra: str
) -> dict[str, Any]:
    """Log in (or single sign-on) at ``rp`` and redeem the code: the token response."""
    callback, verifier, _ = await log_in(browser, rp, person, scope=scope, **extra)
    assert "code" in callback, callback
    response = await redeem(browser.http, rp, callback["code"], verifier)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def hidden_fields(page: str) -> dict[str, str]:
    """Every hidden input of the page's form, as a browser would post them."""
    return {html.unescape(k): html.unescape(v) for k, v in _HIDDEN.findall(page)}


async def submit_form(browser: Browser, page: httpx.Response, decision: str) -> httpx.Response:
    """Press a ``decision`` button of the page's form, posting its hidden inputs too."""
    return await browser.submit(page, {**hidden_fields(page.text), "decision": decision})


async def prompt_none(browser: Browser, rp: RP) -> dict[str, str]:
    """Ask silently for a code: the callback query (``code`` or ``error``)."""
    params, _ = auth_params(rp, prompt="none")
    response = await browser.authorize(params)
    assert response.status_code == 303, response.text[:300]
    location = response.headers["location"]
    assert location.startswith(rp.redirect_uri + "?"), location
    return query(location)


async def logged_in(browser: Browser, rp: RP) -> bool:
    callback = await prompt_none(browser, rp)
    if "code" in callback:
        return True
    assert callback.get("error") == "login_required", callback
    return False


async def refresh(http: httpx.AsyncClient, rp: RP, token: str) -> httpx.Response:
    assert rp.client_secret is not None
    return await http.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": token},
        auth=(rp.client_id, rp.client_secret),
    )


# --- the database --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivery:
    """A back-channel logout job, with its status in the words of ``idp deliveries list``."""

    id: uuid.UUID
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    finished_at: datetime | None


async def deliveries(ctx: Context, client_id: str) -> list[Delivery]:
    async with ctx.db.read() as session:
        rows = await session.scalars(
            select(QueuedJob)
            .where(QueuedJob.kind == BACKCHANNEL_LOGOUT, QueuedJob.ref == client_id)
            .order_by(QueuedJob.created_at)
        )
        return [
            Delivery(
                r.id,
                delivery_status(r),
                r.attempts,
                r.last_error,
                r.next_attempt_at,
                r.finished_at,
            )
            for r in rows
        ]


async def pass_deadline(ctx: Context, ref: str) -> None:
    """Move the deadline of a client's live jobs into the past (as the database sees time:
    advancing an instance's clock no longer moves the queue, by design)."""
    async with ctx.db.transaction() as session:
        await session.execute(
            update(QueuedJob)
            .where(QueuedJob.ref == ref, QueuedJob.status.in_(["pending", "running"]))
            .values(deadline=datetime(2000, 1, 1, tzinfo=UTC))
        )


async def session_record(ctx: Context, session_id: uuid.UUID) -> BrowserSession:
    async with ctx.db.read() as session:
        record = await session.get(BrowserSession, session_id)
        assert record is not None
        return record


async def sessions_of_client(ctx: Context, client_id: str) -> list[BrowserSession]:
    async with ctx.db.read() as session:
        rows = await session.scalars(
            select(BrowserSession)
            .join(SessionClient, SessionClient.session_id == BrowserSession.id)
            .where(SessionClient.client_id == client_id)
        )
        return list(rows.all())


# --- processes and extra app instances -----------------------------------------------------------


def idp_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment an ``idp`` process needs to work on the test database and keys."""
    assert settings.key_encryption_key is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    env.update(
        IDP_ISSUER=settings.issuer,
        IDP_DATABASE_URL=settings.database_url,
        IDP_VAR_DIR=str(settings.var_dir),
        IDP_KEY_ENCRYPTION_KEY=settings.key_encryption_key,
        IDP_DEV_MODE=str(settings.dev_mode).lower(),
    )
    if settings.registries.http.base_url:  # the session's registry simulator
        env["IDP_REGISTRIES__HTTP__BASE_URL"] = settings.registries.http.base_url
    env.update(extra)
    return env


async def run_idp(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        IDP, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def serve_instance(settings: Settings, clock: Clock, *, run_jobs: bool) -> LiveServer:
    """Another app instance on the same database, on its own port."""
    return LiveServer(create_app(settings, clock=clock, run_jobs=run_jobs), free_port()).start()


async def create_scratch_database(database_url: str, directory: Path) -> str:
    """A new, migrated database beside the test database (same server for PostgreSQL), for a
    test that must not see, or be seen by, the rest of the suite."""
    if database_url.startswith("sqlite"):
        url = f"sqlite+aiosqlite:///{directory / f'scratch-{uuid.uuid4().hex}.db'}"
    else:
        name = f"scratch_{uuid.uuid4().hex[:12]}"
        admin = create_async_engine(
            make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT"
        )
        try:
            async with admin.connect() as connection:
                await connection.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            await admin.dispose()
        url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    await upgrade(url)
    return url


def _remove_sqlite_files(path: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def drop_scratch_database(url: str) -> None:
    if url.startswith("sqlite"):
        _remove_sqlite_files(make_url(url).database or "")
        return
    name = make_url(url).database
    admin = create_async_engine(
        make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()
