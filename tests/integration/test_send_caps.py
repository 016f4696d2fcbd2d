"""Send caps (issue 8, item 15): per purpose and target, per sender, and the paid-SMS budget,
each taken atomically in the database, so concurrent senders never pass one; what a capped
person sees never tells whether the target belongs to an account."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import delete

from idp.clock import OffsetClock
from idp.context import Context
from idp.db.models import SendCounter, Verification
from idp.notify import caps
from idp.settings import Settings
from tests.support.api_kit import (
    count,
    last_message_id,
    next_code,
    no_message,
    random_email,
    random_ip,
    serve_variant,
)
from tests.support.factories import Person, random_phone
from tests.support.live import LiveServer

NAMES = {"last_name": "Смирнова", "first_name": "Ольга", "personal_data_consent": True}


async def _register(
    http: httpx.AsyncClient, *, ip: str, phone: str | None = None, email: str | None = None
) -> httpx.Response:
    body: dict[str, Any] = dict(NAMES)
    if phone:
        body["phone"] = phone
    if email:
        body["email"] = email
    return await http.post("/api/v1/registrations", json=body, headers={"X-Forwarded-For": ip})


async def _reset(http: httpx.AsyncClient, login: str, *, ip: str) -> httpx.Response:
    return await http.post(
        "/api/v1/password-resets", json={"login": login}, headers={"X-Forwarded-For": ip}
    )


METRICS_TOKEN = "scraper-token-0123456789"


@pytest.fixture
def variant(settings: Settings, clock: OffsetClock) -> Iterator[Any]:
    """An instance on the same database with small caps of the test's choosing."""
    started: list[LiveServer] = []

    def start(**changes: Any) -> LiveServer:
        verification = settings.verification.model_copy(
            update={k: v for k, v in changes.items() if k.startswith("max_")}
        )
        notify = settings.notify.model_copy(
            update={k: v for k, v in changes.items() if k.startswith("sms_")}
        )
        server = serve_variant(
            settings, clock, verification=verification, notify=notify, metrics_token=METRICS_TOKEN
        )
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


async def _fresh_budget(ctx: Context) -> None:
    """The budget is one row for every instance: start this test's window from nothing."""
    async with ctx.db.transaction() as session:
        await session.execute(delete(SendCounter).where(SendCounter.key == caps.BUDGET_KEY))


async def test_registrations_to_a_phone_never_use_up_its_reset_codes(
    server: LiveServer, ctx: Context, person: Person
) -> None:
    cap = ctx.settings.verification.max_sends_per_hour
    async with httpx.AsyncClient(base_url=server.url) as http:
        # A stranger registers with the owner's phone until the registration cap says no.
        for _ in range(cap):
            assert (await _register(http, ip=random_ip(), phone=person.phone)).status_code == 201
        capped = await _register(http, ip=random_ip(), phone=person.phone)
        assert capped.status_code == 429
        assert capped.json()["type"].endswith("/problems/too-many-attempts")
        # The owner still gets a reset code.
        mark = await last_message_id(ctx)
        assert (await _reset(http, person.phone, ip=random_ip())).status_code == 202
        await next_code(ctx, person.phone, mark)


async def test_a_capped_registration_answers_alike_for_a_taken_and_a_free_phone(
    server: LiveServer, ctx: Context, person: Person
) -> None:
    free = random_phone()
    answers = []
    async with httpx.AsyncClient(base_url=server.url) as http:
        for phone in (person.phone, free):
            for _ in range(ctx.settings.verification.max_sends_per_hour):
                assert (await _register(http, ip=random_ip(), phone=phone)).status_code == 201
            capped = await _register(http, ip=random_ip(), phone=phone)
            answers.append((capped.status_code, capped.json()["type"], capped.json()["title"]))
    assert answers[0] == answers[1]
    assert answers[0][0] == 429


async def test_one_address_cannot_send_to_many_numbers(
    variant: Any, ctx: Context, person: Person
) -> None:
    server = variant(max_sends_per_sender_per_hour=3)
    address = random_ip()
    async with httpx.AsyncClient(base_url=server.url) as http:
        for _ in range(3):
            assert (await _register(http, ip=address, phone=random_phone())).status_code == 201
        refused = await _register(http, ip=address, phone=random_phone())
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 3600
        # E-mail links count too, and so do resets, for known and unknown logins alike.
        assert (await _register(http, ip=address, email=random_email())).status_code == 429
        assert (await _reset(http, person.phone, ip=address)).status_code == 429
        assert (await _reset(http, random_phone(), ip=address)).status_code == 429
        # Another address is not held back.
        assert (await _register(http, ip=random_ip(), phone=random_phone())).status_code == 201


async def test_one_ipv6_customer_cannot_send_from_many_of_its_addresses(variant: Any) -> None:
    server = variant(max_sends_per_sender_per_hour=3)
    customer = f"2001:db8:{secrets.randbits(16):x}"  # a /48, as a provider hands out

    def address(n: int) -> str:
        return f"{customer}:{n:x}::{n + 1:x}"

    async with httpx.AsyncClient(base_url=server.url) as http:
        for n in range(3):
            ok = await _register(http, ip=address(n), phone=random_phone())
            assert ok.status_code == 201
        refused = await _register(http, ip=address(0xFFF), phone=random_phone())
        assert refused.status_code == 429


async def test_concurrent_registrations_to_one_phone_stop_at_the_cap(
    server: LiveServer, ctx: Context
) -> None:
    phone = random_phone()
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        answers = await asyncio.gather(
            *(_register(http, ip=random_ip(), phone=phone) for _ in range(30))
        )
    statuses = sorted(a.status_code for a in answers)
    cap = ctx.settings.verification.max_sends_per_hour
    assert statuses == [201] * cap + [429] * (30 - cap), statuses
    assert await count(ctx, Verification, Verification.target_lookup == phone) == cap


async def test_the_sms_budget_holds_under_concurrency_and_is_logged_and_counted(
    variant: Any,
    ctx: Context,
    person: Person,
    clock: OffsetClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    budget = 7
    server = variant(sms_hourly_budget=budget)
    await _fresh_budget(ctx)
    reached, refused = caps.budget_reached.value, caps.budget_refused.value
    phones = [random_phone() for _ in range(30)]
    caplog.set_level(logging.WARNING, logger="idp.notify.caps")
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        answers = await asyncio.gather(*(_register(http, ip=random_ip(), phone=p) for p in phones))
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [201] * budget + [429] * (30 - budget), statuses
        sent = await count(ctx, Verification, Verification.target_lookup.in_(phones))
        assert sent == budget
        assert caps.budget_reached.value == reached + 1
        assert caps.budget_refused.value == refused + 30 - budget
        lines = [r.getMessage() for r in caplog.records if r.name == "idp.notify.caps"]
        assert len(lines) == 1
        assert "budget" in lines[0]
        assert not any(p in lines[0] for p in phones)
        # E-mail does not cost: a link still goes out.
        assert (await _register(http, ip=random_ip(), email=random_email())).status_code == 201
        # A reset for a known phone answers as for an unknown login, and sends nothing.
        mark = await last_message_id(ctx)
        known = await _reset(http, person.phone, ip=random_ip())
        unknown = await _reset(http, random_phone(), ip=random_ip())
        assert known.status_code == unknown.status_code == 202
        assert known.json().keys() == unknown.json().keys()
        await no_message(ctx, person.phone, mark, wait=0.5)
        # The next hour has a budget again.
        clock.advance(3601)
        assert (await _register(http, ip=random_ip(), phone=random_phone())).status_code == 201
        assert (await http.get("/metrics")).status_code == 401  # a scraper shows its token
        metrics = await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert metrics.status_code == 200
        assert f"idp_sms_budget_reached_total {caps.budget_reached.value}" in metrics.text
