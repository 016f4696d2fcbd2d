"""Helpers for the tests of codes, refresh tokens and sessions: logging out and changing
credentials the way a person does, and changing an account's level behind the provider's back
(as the coming level checks will)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import text, update

from idp.context import Context
from idp.db.models import Account
from tests.support.api_kit import Api, last_message_id, next_code
from tests.support.browser import Browser
from tests.support.factories import RP, Person

NEW_PASSWORD = "Cobalt-Meadow-94"


async def log_out(browser: Browser) -> None:
    """The browser's own logout through the REST API (ends its SSO session)."""
    token = (await browser.get("/api/v1/csrf")).json()["csrf_token"]
    response = await browser.http.post("/api/v1/logout", headers={"X-CSRF-Token": token})
    assert response.status_code == 204, response.text


async def change_password_elsewhere(base_url: str, person: Person) -> None:
    """Log in on another device and change the password there (the browser's session ends)."""
    api = Api(base_url)
    try:
        assert (await api.login(person.phone, person.password)).status_code == 200
        response = await api.post(
            "/api/v1/me/password",
            {
                "old_password": person.password,
                "new_password": NEW_PASSWORD,
                "new_password_repeat": NEW_PASSWORD,
            },
        )
        assert response.status_code == 200, response.text
    finally:
        await api.close()
    person.password = NEW_PASSWORD


async def reset_password(ctx: Context, base_url: str, person: Person) -> None:
    """Reset the forgotten password with the code sent by SMS."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        after = await last_message_id(ctx)
        started = await http.post("/api/v1/password-resets", json={"login": person.phone})
        assert started.status_code == 202, started.text
        reset = started.json()
        code = await next_code(ctx, person.phone, after)
        done = await http.post(
            f"/api/v1/password-resets/{reset['id']}/confirm",
            json={
                "code": code,
                "new_password": NEW_PASSWORD,
                "new_password_repeat": NEW_PASSWORD,
            },
            headers={"X-Reset-Token": reset["token"]},
        )
        assert done.status_code == 204, done.text
    person.password = NEW_PASSWORD


async def set_level(
    ctx: Context, account_id: uuid.UUID, level: str, method: str | None = None
) -> None:
    async with ctx.db.transaction() as session:
        await session.execute(
            update(Account)
            .where(Account.id == account_id)
            .values(level=level, confirmation_method=method)
        )


async def refresh(http: httpx.AsyncClient, rp: RP, token: str) -> httpx.Response:
    assert rp.client_secret is not None
    return await http.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": token},
        auth=(rp.client_id, rp.client_secret),
    )


async def refreshed(http: httpx.AsyncClient, rp: RP, token: str) -> dict[str, Any]:
    """A refresh that must succeed: the new token response."""
    response = await refresh(http, rp, token)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def introspect(http: httpx.AsyncClient, rp: RP, token: str) -> dict[str, Any]:
    assert rp.client_secret is not None
    response = await http.post(
        "/introspect", data={"token": token}, auth=(rp.client_id, rp.client_secret)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_invalid_grant(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_grant", response.text


async def waiting_on_a_lock(ctx: Context) -> bool:
    """Whether some transaction of the test database waits for a row lock (PostgreSQL)."""
    async with ctx.db.read() as session:
        waiting = await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
        )
        return bool(waiting)
