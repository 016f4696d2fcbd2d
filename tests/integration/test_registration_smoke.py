from __future__ import annotations

import asyncio
import re

import httpx
from sqlalchemy import select

from idp.accounts.service import authenticate
from idp.context import Context
from idp.db.models import DevMessage
from tests.support.factories import random_phone
from tests.support.live import LiveServer


async def _last_message(ctx: Context, to: str) -> DevMessage:
    for _ in range(100):
        async with ctx.db.read() as session:
            found = (
                await session.scalars(
                    select(DevMessage)
                    .where(DevMessage.recipient == to)
                    .order_by(DevMessage.id.desc())
                )
            ).first()
        if found is not None:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no message to {to}")


async def test_register_confirm_phone_set_password_then_log_in(
    server: LiveServer, ctx: Context
) -> None:
    phone = random_phone()
    async with httpx.AsyncClient(base_url=server.url) as http:
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
        body = created.json()
        headers = {"X-Registration-Token": body["token"]}
        sms = await _last_message(ctx, phone)
        code = re.search(r"\d{6}", sms.body).group(0)  # type: ignore[union-attr]
        confirmed = await http.post(
            f"/api/v1/registrations/{body['id']}/phone/confirm",
            json={"code": code},
            headers=headers,
        )
        assert confirmed.status_code == 200, confirmed.text
        done = await http.post(
            f"/api/v1/registrations/{body['id']}/password",
            json={"password": "Violet-Orbit-73", "password_repeat": "Violet-Orbit-73"},
            headers=headers,
        )
        assert done.status_code == 201, done.text
        assert done.json()["level"] == "simplified"
    account = await authenticate(ctx, phone, "Violet-Orbit-73", "10.9.9.9")
    assert account.sub == done.json()["sub"]


async def test_email_confirmed_after_the_password_joins_the_account(
    server: LiveServer, ctx: Context
) -> None:
    phone, email = random_phone(), f"late-{random_phone()[1:]}@example.ru"
    async with httpx.AsyncClient(base_url=server.url) as http:
        body = (
            await http.post(
                "/api/v1/registrations",
                json={
                    "last_name": "Орлова",
                    "first_name": "Вера",
                    "phone": phone,
                    "email": email,
                    "personal_data_consent": True,
                },
            )
        ).json()
        headers = {"X-Registration-Token": body["token"]}
        code = re.search(r"\d{6}", (await _last_message(ctx, phone)).body).group(0)  # type: ignore[union-attr]
        await http.post(
            f"/api/v1/registrations/{body['id']}/phone/confirm",
            json={"code": code},
            headers=headers,
        )
        done = await http.post(
            f"/api/v1/registrations/{body['id']}/password",
            json={"password": "Violet-Orbit-73", "password_repeat": "Violet-Orbit-73"},
            headers=headers,
        )
        assert done.status_code == 201, done.text
        link = re.search(r"token=([\w-]+)", (await _last_message(ctx, email)).body).group(1)  # type: ignore[union-attr]
        confirmed = await http.post("/api/v1/email-confirmations", json={"token": link})
        assert confirmed.status_code == 204, confirmed.text
    account = await authenticate(ctx, email, "Violet-Orbit-73", "10.9.9.8")
    assert account.sub == done.json()["sub"]


async def test_a_registration_without_a_phone_has_no_code_to_confirm(server: LiveServer) -> None:
    """The registration exists, so this is a conflict with its state (409), not a 404."""
    async with httpx.AsyncClient(base_url=server.url) as http:
        created = await http.post(
            "/api/v1/registrations",
            json={
                "last_name": "Сидорова",
                "first_name": "Анна",
                "email": "anna@example.ru",
                "personal_data_consent": True,
            },
        )
        assert created.status_code == 201, created.text
        body = created.json()
        headers = {"X-Registration-Token": body["token"]}
        for step, payload in (("confirm", {"code": "123456"}), ("resend", None)):
            refused = await http.post(
                f"/api/v1/registrations/{body['id']}/phone/{step}", json=payload, headers=headers
            )
            assert refused.status_code == 409, refused.text
            assert refused.json()["type"].endswith("/problems/no-phone")
