"""Registration asks consent to the processing of personal data (Federal Law 152-FZ, art. 9):
without it nothing is written, on the page and in the REST API alike; with it the notice's
version and the time are kept with the account."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from idp.clock import OffsetClock
from idp.context import Context
from idp.db.models import Account, AuditEvent, QueuedJob, Registration, Verification
from idp.settings import Settings
from tests.support.api_kit import register, serve_variant
from tests.support.browser import Browser
from tests.support.factories import random_phone
from tests.support.form_pages import assert_invalid
from tests.support.live import LiveServer

NOTICE_URL = "https://operator.example/personal-data"
NAMES = {"last_name": "Соколова", "first_name": "Дарья"}


async def _written(ctx: Context) -> dict[str, int]:
    """What a refused registration must leave alone."""
    statements: dict[str, Any] = {
        "registrations": select(func.count()).select_from(Registration),
        "verifications": select(func.count()).select_from(Verification),
        "notifications": select(func.count())
        .select_from(QueuedJob)
        .where(QueuedJob.kind == "notification"),
        "accounts": select(func.count()).select_from(Account),
        "audit": select(func.count()).select_from(AuditEvent),
    }
    async with ctx.db.read() as session:
        return {name: int(await session.scalar(stmt) or 0) for name, stmt in statements.items()}


@pytest.fixture(scope="module")
def operator(settings: Settings, clock: OffsetClock, server: LiveServer) -> Iterator[LiveServer]:
    live = serve_variant(
        settings,
        clock,
        privacy_notice_url=NOTICE_URL,
        privacy_notice_version="2026-12-01",
    )
    yield live
    live.stop()


@pytest.fixture
async def api(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url) as http:
        yield http


# --- REST ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "consent",
    [None, False, "true", 1, "yes"],
    ids=["missing", "false", "string", "number", "yes"],
)
async def test_the_api_refuses_a_registration_without_consent_and_writes_nothing(
    api: httpx.AsyncClient, ctx: Context, consent: object
) -> None:
    body: dict[str, object] = {**NAMES, "phone": random_phone()}
    if consent is not None:
        body["personal_data_consent"] = consent
    before = await _written(ctx)
    response = await api.post("/api/v1/registrations", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"].endswith("/problems/validation-failed")
    assert [e["field"] for e in problem["errors"]] == ["personal_data_consent"]
    assert await _written(ctx) == before


async def test_consent_and_the_notice_version_are_kept_with_the_account(
    operator: LiveServer, ctx: Context, clock: OffsetClock
) -> None:
    clock.advance(3 * 86400)  # the recorded time is the service's clock, not the host's
    started_at = clock.now()
    async with httpx.AsyncClient(base_url=operator.url) as http:
        registered = await register(http, ctx, phone=random_phone())
    async with ctx.db.read() as session:
        account = await session.scalar(select(Account).where(Account.sub == registered.sub))
        assert account is not None
        assert account.privacy_notice_version == "2026-12-01"
        assert account.privacy_consented_at is not None
        assert abs(account.privacy_consented_at - started_at) < timedelta(seconds=30)
        audit = await session.scalar(
            select(AuditEvent).where(
                AuditEvent.event == "account.registered",
                AuditEvent.account_id == str(account.id),
            )
        )
        assert audit is not None
        assert audit.details["privacy_notice_version"] == "2026-12-01"


# --- the page ------------------------------------------------------------------------------


async def test_the_page_refuses_to_go_on_without_consent_and_writes_nothing(
    browser: Browser, ctx: Context
) -> None:
    form = await browser.get("/register")
    assert form.status_code == 200
    before = await _written(ctx)
    phone = random_phone()
    refused = await browser.submit(form, {**NAMES, "phone": phone})
    assert refused.status_code == 400
    message = assert_invalid(refused.text, "personal_data_consent")
    assert message == "Чтобы зарегистрироваться, дайте согласие на обработку персональных данных."
    # Listed in the summary, linked to the checkbox; what was typed is kept.
    assert '<a href="#personal_data_consent">' in refused.text
    assert f'value="{phone}"' in refused.text
    assert await _written(ctx) == before
    assert browser.http.cookies.get("idp_registration") is None
    # Ticked, it goes on.
    started = await browser.submit(
        refused, {**NAMES, "phone": phone, "personal_data_consent": "yes"}
    )
    assert started.status_code == 303
    assert started.headers["location"] == "/register/phone"


async def test_the_page_links_the_operators_notice(operator: LiveServer) -> None:
    b = Browser(operator.url)
    try:
        form = await b.get("/register")
    finally:
        await b.close()
    checkbox = re.search(r'<input id="personal_data_consent"[^>]*>', form.text)
    assert checkbox
    assert "required" in checkbox.group(0)
    assert f'<a href="{NOTICE_URL}" target="_blank" rel="noopener">' in html.unescape(form.text)


async def test_the_bundled_notice_names_its_version(browser: Browser) -> None:
    form = await browser.get("/register")
    assert '<a href="/privacy" target="_blank" rel="noopener">' in form.text
    notice = await browser.get("/privacy")
    assert notice.status_code == 200
    assert "Обработка персональных данных" in notice.text
    assert "Редакция 1" in notice.text


# --- the notice version the person was shown ----------------------------------------------


async def test_the_api_tells_the_notice_and_refuses_a_stale_version(
    operator: LiveServer, ctx: Context
) -> None:
    async with httpx.AsyncClient(base_url=operator.url) as http:
        notice = await http.get("/api/v1/privacy-notice")
        assert notice.status_code == 200
        assert notice.json() == {"url": NOTICE_URL, "version": "2026-12-01"}
        body = {**NAMES, "phone": random_phone(), "personal_data_consent": True}
        before = await _written(ctx)
        stale = await http.post(
            "/api/v1/registrations", json={**body, "privacy_notice_version": "2025-01-01"}
        )
        assert stale.status_code == 409, stale.text
        assert stale.headers["content-type"].startswith("application/problem+json")
        assert stale.json()["type"].endswith("/problems/privacy-notice-changed")
        assert stale.json()["current_version"] == "2026-12-01"
        assert await _written(ctx) == before
        current = await http.post(
            "/api/v1/registrations", json={**body, "privacy_notice_version": "2026-12-01"}
        )
        assert current.status_code == 201, current.text


async def test_the_bundled_notice_is_told_as_an_absolute_url(
    api: httpx.AsyncClient, server: LiveServer
) -> None:
    notice = await api.get("/api/v1/privacy-notice")
    assert notice.json() == {"url": f"{server.url}/privacy", "version": "1"}


async def test_the_page_asks_again_when_the_notice_changed_meanwhile(
    browser: Browser, ctx: Context
) -> None:
    form = await browser.get("/register")
    assert '<input type="hidden" name="privacy_notice_version" value="1">' in form.text
    before = await _written(ctx)
    action, token = (
        re.search(r'action="([^"]+)"', form.text),
        re.search(r'name="csrf_token" value="([^"]+)"', form.text),
    )
    assert action
    assert token
    refused = await browser.http.post(
        action.group(1),
        data={
            "csrf_token": token.group(1),
            **NAMES,
            "phone": random_phone(),
            "personal_data_consent": "yes",
            "privacy_notice_version": "0",
        },
    )
    assert refused.status_code == 409
    message = assert_invalid(refused.text, "personal_data_consent")
    assert message.startswith("Положение об обработке персональных данных обновлено")
    checkbox = re.search(r'<input id="personal_data_consent"[^>]*>', refused.text)
    assert checkbox
    assert "checked" not in checkbox.group(0)  # agree again, to the current notice
    assert await _written(ctx) == before
