"""Helpers for the job queue tests: a recording handler, a back-channel endpoint that counts
what it receives (and can hang or fail), a scratch database, reading jobs back."""

from __future__ import annotations

import asyncio
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from idp.db.engine import Database
from idp.db.models import QueuedJob
from idp.jobs.queue import ClaimedJob, Outcome
from idp.jobs.registry import KindPolicy, Registry
from idp.jobs.runner import JobRunner
from idp.security.sealing import Keyring
from tests.support.live import LiveServer, free_port


def new_kind() -> str:
    """A kind no other test (and no running server) claims."""
    return f"test_{uuid.uuid4().hex[:12]}"


def policy(**changes: Any) -> KindPolicy:
    values: dict[str, Any] = {
        "lease": 30.0,
        "backoff_base": 0.2,
        "backoff_max": 0.5,
        "batch_size": 10,
        "concurrency": 10,
        "poll_interval": 0.05,
    }
    values.update(changes)
    return KindPolicy(**values)


@dataclass
class Recorder:
    """A handler that records every run; ``raise_for`` and ``gate`` make chosen jobs misbehave."""

    name: str = "recorder"
    calls: list[tuple[str, Any]] = field(default_factory=list)
    raise_for: set[Any] = field(default_factory=set)
    outcome: Outcome = field(default_factory=Outcome.done)
    gate: asyncio.Event | None = None
    pause: float = 0.0

    async def run(self, job: ClaimedJob) -> Outcome:
        n = (job.payload or {}).get("n")
        self.calls.append((self.name, n))
        if self.gate is not None:
            await self.gate.wait()
        if self.pause:
            await asyncio.sleep(self.pause)
        if n in self.raise_for:
            raise RuntimeError(f"boom {n}")
        return self.outcome

    async def close(self) -> None:
        return None


def runner_for(
    db: Database, keyring: Keyring, kind: str, handler: Recorder, **changes: Any
) -> JobRunner:
    registry = Registry()
    registry.register(kind, handler, policy(**changes))
    return JobRunner(db, keyring, registry)


async def job_rows(db: Database, kind: str) -> list[QueuedJob]:
    async with db.read() as session:
        rows = await session.scalars(
            select(QueuedJob).where(QueuedJob.kind == kind).order_by(QueuedJob.created_at)
        )
        return list(rows.all())


async def job_row(db: Database, job_id: uuid.UUID) -> QueuedJob:
    async with db.read() as session:
        row = await session.get(QueuedJob, job_id)
        assert row is not None
        return row


class Endpoint:
    """A back-channel logout endpoint that records the ``jti`` of every POST. Between
    ``hold()`` and ``release()`` it keeps requests open; it answers 503 ``fail_first`` times,
    then 200."""

    def __init__(self) -> None:
        self.jtis: list[str] = []
        self._released = threading.Event()
        self._released.set()
        self.fail_first = 0
        self.delay = 0.0
        self._lock = threading.Lock()
        self.server = LiveServer(
            Starlette(routes=[Route("/bc", self._post, methods=["POST"])]), free_port()
        ).start()
        self.uri = f"{self.server.url}/bc"

    async def _post(self, request: Request) -> Response:
        form = await request.form()
        claims = jwt.decode(str(form["logout_token"]), options={"verify_signature": False})
        with self._lock:
            self.jtis.append(str(claims["jti"]))
            attempt = len(self.jtis)
        await asyncio.to_thread(self._released.wait, 60)
        if self.delay:
            await asyncio.sleep(self.delay)
        if attempt <= self.fail_first:
            return PlainTextResponse("unavailable", status_code=503)
        return Response(status_code=200)

    def hold(self) -> None:
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def stop(self) -> None:
        self.release()
        self.server.stop()
