"""Helpers for the REST API tests: a cookie-keeping API client with its CSRF token, reading
codes and links from the dev sink, counting rows, and a second app instance with other
settings on the same database."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute

from idp.app import create_app
from idp.clock import Clock
from idp.context import Context
from idp.db.base import Base
from idp.db.models import DevMessage
from idp.settings import Settings
from tests.support.factories import random_phone
from tests.support.live import LiveServer, free_port

STRONG = "Violet-Orbit-73"
_CODE = re.compile(r"\b(\d{6})\b")
_LINK = re.compile(r"token=([A-Za-z0-9_-]+)")


def random_ip() -> str:
    """An address of the benchmarking range 198.18.0.0/15 per client, so throttling by
    address never leaks between tests."""
    return f"198.{18 + secrets.randbelow(2)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


def random_email() -> str:
    return f"api-{secrets.token_hex(6)}@example.ru"


class Api:
    """A browser-like client of the REST API: keeps cookies, sends the CSRF header."""

    def __init__(self, base_url: str, *, ip: str | None = None, origin: str | None = None) -> None:
        headers = {"X-Forwarded-For": ip or random_ip()}
        if origin:
            headers["Origin"] = origin
        self.http = httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30)
        self.csrf_token: str | None = None

    async def close(self) -> None:
        await self.http.aclose()

    async def csrf(self) -> str:
        response = await self.http.get("/api/v1/csrf")
        assert response.status_code == 200, response.text
        self.csrf_token = str(response.json()["csrf_token"])
        return self.csrf_token

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"X-CSRF-Token": self.csrf_token} if self.csrf_token else {}
        return {**headers, **(extra or {})}

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.http.get(url, **kwargs)

    async def post(
        self, url: str, json: Any = None, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        return await self.http.post(url, json=json, headers=self._headers(headers), **kwargs)

    async def delete(self, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.delete(url, headers=self._headers(headers))

    async def login(self, login: str, password: str) -> httpx.Response:
        if self.csrf_token is None:
            await self.csrf()
        return await self.post("/api/v1/login", {"login": login, "password": password})

    def session_cookie(self) -> str | None:
        return self.http.cookies.get("idp_session")


# --- messages in the dev sink ----------------------------------------------------------------


async def last_message_id(ctx: Context) -> int:
    async with ctx.db.read() as session:
        return int(await session.scalar(select(func.coalesce(func.max(DevMessage.id), 0))) or 0)


async def messages_to(ctx: Context, to: str, after: int = 0) -> list[DevMessage]:
    async with ctx.db.read() as session:
        rows = await session.scalars(
            select(DevMessage)
            .where(DevMessage.recipient == to, DevMessage.id > after)
            .order_by(DevMessage.id)
        )
        return list(rows.all())


async def next_message(ctx: Context, to: str, after: int, *, within: float = 10.0) -> DevMessage:
    """The first message to ``to`` newer than id ``after`` (the dispatcher sends in the
    background, so this polls)."""
    deadline = time.monotonic() + within
    while True:
        found = await messages_to(ctx, to, after)
        if found:
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no message to {to} after #{after}")
        await asyncio.sleep(0.05)


async def delivered(ctx: Context, to: str, how_many: int, *, within: float = 10.0) -> None:
    """Wait until ``how_many`` messages to ``to`` are in the sink (sending is asynchronous,
    so take a mark only once the earlier messages are all in)."""
    deadline = time.monotonic() + within
    while len(await messages_to(ctx, to)) < how_many:
        if time.monotonic() > deadline:
            raise AssertionError(f"fewer than {how_many} messages to {to}")
        await asyncio.sleep(0.05)


async def next_code(ctx: Context, to: str, after: int, *, within: float = 10.0) -> str:
    """The code in the first message to ``to`` newer than ``after`` that carries one (notices
    sent meanwhile are passed over)."""
    deadline = time.monotonic() + within
    while True:
        for message in await messages_to(ctx, to, after):
            found = _CODE.search(message.body)
            if found:
                return found.group(1)
        if time.monotonic() > deadline:
            raise AssertionError(f"no code to {to} after #{after}")
        await asyncio.sleep(0.05)


async def no_message(ctx: Context, to: str, after: int, *, wait: float = 1.0) -> None:
    await asyncio.sleep(wait)
    found = await messages_to(ctx, to, after)
    assert found == [], [m.body for m in found]


def code_in(message: DevMessage) -> str:
    found = _CODE.search(message.body)
    assert found, message.body
    return found.group(1)


def link_token_in(message: DevMessage) -> str:
    found = _LINK.search(message.body)
    assert found, message.body
    return found.group(1)


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


# --- rows ------------------------------------------------------------------------------------


async def count(ctx: Context, model: type[Base], *where: Any) -> int:
    async with ctx.db.read() as session:
        stmt = select(func.count()).select_from(model)
        for condition in where:
            stmt = stmt.where(condition)
        return int(await session.scalar(stmt) or 0)


async def column_values(ctx: Context, column: InstrumentedAttribute[Any], *where: Any) -> list[Any]:
    async with ctx.db.read() as session:
        stmt = select(column)
        for condition in where:
            stmt = stmt.where(condition)
        return list((await session.scalars(stmt)).all())


# --- registering through the API -------------------------------------------------------------


@dataclass
class Registered:
    sub: str
    phone: str | None
    email: str | None
    password: str


async def register(
    http: httpx.AsyncClient,
    ctx: Context,
    *,
    phone: str | None = None,
    email: str | None = None,
    password: str = STRONG,
    names: tuple[str, str] = ("Сидорова", "Анна"),
) -> Registered:
    """Register through /api/v1/registrations, confirming every contact given."""
    mark = await last_message_id(ctx)
    body: dict[str, str | bool] = {
        "last_name": names[0],
        "first_name": names[1],
        "personal_data_consent": True,
    }
    if phone:
        body["phone"] = phone
    if email:
        body["email"] = email
    created = await http.post("/api/v1/registrations", json=body)
    assert created.status_code == 201, created.text
    started = created.json()
    headers = {"X-Registration-Token": started["token"]}
    if phone:
        code = code_in(await next_message(ctx, phone, mark))
        confirmed = await http.post(
            f"/api/v1/registrations/{started['id']}/phone/confirm",
            json={"code": code},
            headers=headers,
        )
        assert confirmed.status_code == 200, confirmed.text
    if email:
        token = link_token_in(await next_message(ctx, email, mark))
        done = await http.post("/api/v1/email-confirmations", json={"token": token})
        assert done.status_code == 204, done.text
    finished = await http.post(
        f"/api/v1/registrations/{started['id']}/password",
        json={"password": password, "password_repeat": password},
        headers=headers,
    )
    assert finished.status_code == 201, finished.text
    return Registered(finished.json()["sub"], phone, email, password)


def new_phone() -> str:
    return random_phone()


# --- another app instance --------------------------------------------------------------------


def serve_variant(settings: Settings, clock: Clock, **changes: Any) -> LiveServer:
    """The app with other settings (its own issuer and port) on the same, migrated database.
    It runs no background jobs: the main test server's workers send its notifications."""
    port = free_port()
    own = settings.model_copy(update={"issuer": f"http://127.0.0.1:{port}", **changes})
    return LiveServer(create_app(own, clock=clock, run_jobs=False), port).start()
