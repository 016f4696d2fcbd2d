"""Passwords through the REST API: the whole journey, changing (old password, rules, other
sessions end, notices) and resetting through a confirmed contact (no enumeration, expiry,
attempt limits that a new code does not reset, the hourly cap, never a login)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from idp.accounts.service import NewAccount
from idp.clock import OffsetClock
from idp.context import Context
from idp.db.models import Account, AuditEvent, BrowserSession, PasswordReset, QueuedJob
from tests.support.api_kit import (
    STRONG,
    Api,
    code_in,
    count,
    last_message_id,
    messages_to,
    new_phone,
    next_code,
    next_message,
    no_message,
    other_code,
    random_email,
    register,
)
from tests.support.browser import Browser
from tests.support.factories import Person, create_account, random_snils
from tests.support.live import LiveServer
from tests.support.logout_kit import RPFarm, refresh, sign_in, wait_until

NEW = "Amber-Harbor-58"
NEWER = "Cobalt-Meadow-94"
OpenApi = Callable[[], Awaitable[Api]]


@pytest.fixture
async def open_api(server: LiveServer) -> AsyncIterator[OpenApi]:
    opened: list[Api] = []

    async def open_() -> Api:
        client = Api(server.url)
        opened.append(client)
        return client

    yield open_
    for client in opened:
        await client.close()


async def _password_hash(ctx: Context, account_id: uuid.UUID) -> str | None:
    async with ctx.db.read() as session:
        account = await session.get(Account, account_id)
        assert account is not None
        return account.password_hash


async def _live_sessions(ctx: Context, account_id: uuid.UUID) -> list[BrowserSession]:
    async with ctx.db.read() as session:
        rows = await session.scalars(
            select(BrowserSession).where(
                BrowserSession.account_id == account_id, BrowserSession.ended_at.is_(None)
            )
        )
        return list(rows.all())


async def _account_id(ctx: Context, sub: str) -> uuid.UUID:
    async with ctx.db.read() as session:
        found = await session.scalar(select(Account.id).where(Account.sub == sub))
        assert found is not None
        return found


async def _ask_reset(http: httpx.AsyncClient, login: str) -> dict[str, Any]:
    response = await http.post("/api/v1/password-resets", json={"login": login})
    assert response.status_code == 202, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


async def _confirm_reset(
    http: httpx.AsyncClient,
    reset: dict[str, Any],
    code: str,
    password: str = NEWER,
    repeat: str | None = None,
) -> httpx.Response:
    return await http.post(
        f"/api/v1/password-resets/{reset['id']}/confirm",
        json={
            "code": code,
            "new_password": password,
            "new_password_repeat": password if repeat is None else repeat,
        },
        headers={"X-Reset-Token": reset["token"]},
    )


def _change(old: str, new: str, repeat: str | None = None) -> dict[str, str]:
    return {
        "old_password": old,
        "new_password": new,
        "new_password_repeat": new if repeat is None else repeat,
    }


# --- the whole journey -------------------------------------------------------------------------


async def test_the_whole_journey_through_the_rest_api(
    server: LiveServer, ctx: Context, open_api: OpenApi
) -> None:
    phone, email = new_phone(), random_email()
    laptop, tablet, anonymous = await open_api(), await open_api(), await open_api()

    # Register, confirm both contacts, choose a password.
    person = await register(anonymous.http, ctx, phone=phone, email=email)

    # Log in with the phone on one device and the e-mail on another.
    assert (await laptop.login(phone, STRONG)).status_code == 200
    assert (await tablet.login(email, STRONG)).status_code == 200
    me = (await laptop.get("/api/v1/me")).json()
    assert me["sub"] == person.sub
    assert me["level"] == "simplified"
    assert {(c["kind"], c["value"], c["confirmed"]) for c in me["contacts"]} == {
        ("phone", phone, True),
        ("email", email, True),
    }

    # Change the password on the laptop: the tablet's session ends, the laptop's stays.
    mark = await last_message_id(ctx)
    changed = await laptop.post("/api/v1/me/password", _change(STRONG, NEW))
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"ended_sessions": 1}
    assert (await tablet.get("/api/v1/me")).status_code == 401
    assert (await laptop.get("/api/v1/me")).status_code == 200
    for contact in (phone, email):
        notice = await next_message(ctx, contact, mark)
        assert "Пароль вашей учётной записи изменён" in notice.body
    assert (await anonymous.login(phone, STRONG)).status_code == 401
    assert (await anonymous.login(phone, NEW)).status_code == 200

    # Forget it: reset through the phone. Every session ends; nobody is logged in.
    mark = await last_message_id(ctx)
    stranger = await open_api()
    reset = await _ask_reset(stranger.http, phone)
    code = await next_code(ctx, phone, mark)
    done = await _confirm_reset(stranger.http, reset, code)
    assert done.status_code == 204, done.text
    assert "set-cookie" not in done.headers
    assert (await laptop.get("/api/v1/me")).status_code == 401
    assert (await anonymous.get("/api/v1/me")).status_code == 401
    assert await _live_sessions(ctx, await _account_id(ctx, person.sub)) == []
    assert (await stranger.login(email, NEW)).status_code == 401
    assert (await stranger.login(email, NEWER)).status_code == 200

    # Change the phone: add the new one, confirm it, remove the old one.
    new_number = new_phone()
    mark = await last_message_id(ctx)
    added = await stranger.post("/api/v1/me/contacts", {"kind": "phone", "value": new_number})
    assert added.status_code == 201, added.text
    contact_id = added.json()["id"]
    code = await next_code(ctx, new_number, mark)
    confirmed = await stranger.post(f"/api/v1/me/contacts/{contact_id}/confirm", {"code": code})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["confirmed"] is True
    old_id = next(
        c["id"]
        for c in (await stranger.get("/api/v1/me")).json()["contacts"]
        if c["value"] == phone
    )
    assert (await stranger.delete(f"/api/v1/me/contacts/{old_id}")).status_code == 204
    me = (await stranger.get("/api/v1/me")).json()
    assert {(c["kind"], c["value"]) for c in me["contacts"]} == {
        ("phone", new_number),
        ("email", email),
    }
    fresh = await open_api()
    assert (await fresh.login(phone, NEWER)).status_code == 401
    assert (await fresh.login(new_number, NEWER)).status_code == 200


# --- changing ------------------------------------------------------------------------------------


async def test_a_change_ends_other_sessions_kills_their_refresh_tokens_and_notifies(
    server: LiveServer, ctx: Context, person: Person, open_api: OpenApi
) -> None:
    farm = RPFarm(ctx, server.url)
    phone_browser = Browser(server.url)
    try:
        tax = await farm.add(name="Налоговая служба")
        other = await open_api()
        other.http = phone_browser.http
        phone_browser.http.headers["X-Forwarded-For"] = "203.0.113.210"
        assert (await other.login(person.email, person.password)).status_code == 200
        tokens = await sign_in(phone_browser, tax.rp, person, scope="openid")
        assert "refresh_token" in tokens
        laptop = await open_api()
        assert (await laptop.login(person.phone, person.password)).status_code == 200
        mark = await last_message_id(ctx)
        changed = await laptop.post("/api/v1/me/password", _change(person.password, NEW))
        assert changed.status_code == 200, changed.text
        assert changed.json()["ended_sessions"] == 1
        await wait_until(lambda: len(tax.fake.received) == 1, "the RP's logout token")
        assert (
            await refresh(phone_browser.http, tax.rp, tokens["refresh_token"])
        ).status_code == 400
        live = await _live_sessions(ctx, person.account.id)
        assert len(live) == 1
        assert (await laptop.get("/api/v1/me")).status_code == 200
        for contact in (person.phone, person.email):
            assert "Пароль" in (await next_message(ctx, contact, mark)).body
        async with ctx.db.read() as session:
            event = await session.scalar(
                select(AuditEvent).where(
                    AuditEvent.account_id == str(person.account.id),
                    AuditEvent.event == "password.change",
                    AuditEvent.outcome == "success",
                )
            )
        assert event is not None
        assert event.details["ended_sessions"] == 1
    finally:
        await phone_browser.close()
        await farm.close()


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (_change("Correct-Horse-42", NEW, NEW + "x"), "new_password_repeat", "differ"),
        (_change("Correct-Horse-42", "Sh0rt"), "new_password", "at least 8"),
        (_change("Correct-Horse-42", "nodigitsHere"), "new_password", "digit"),
        (_change("Correct-Horse-42", "Password123"), "new_password", "common"),
        (_change("Correct-Horse-42", "Петров-Rules-1"), "new_password", "name"),
        (_change("Correct-Horse-42", "Correct-Horse-42"), "new_password", "do not use now"),
    ],
)
async def test_a_new_password_that_breaks_a_rule_is_refused_and_nothing_changes(
    ctx: Context,
    person: Person,
    open_api: OpenApi,
    body: dict[str, str],
    field: str,
    message: str,
) -> None:
    api = await open_api()
    other = await open_api()
    assert (await api.login(person.phone, person.password)).status_code == 200
    assert (await other.login(person.email, person.password)).status_code == 200
    before = (
        await _password_hash(ctx, person.account.id),
        await count(ctx, QueuedJob),
        len(await _live_sessions(ctx, person.account.id)),
    )
    refused = await api.post("/api/v1/me/password", body)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["type"].endswith("/problems/validation-failed")
    assert any(e["field"] == field and message in e["message"] for e in problem["errors"]), problem
    assert body["new_password"] not in refused.text  # passwords are never echoed
    after = (
        await _password_hash(ctx, person.account.id),
        await count(ctx, QueuedJob),
        len(await _live_sessions(ctx, person.account.id)),
    )
    assert after == before


async def test_the_phone_number_inside_the_password_is_refused(
    person: Person, open_api: OpenApi
) -> None:
    api = await open_api()
    assert (await api.login(person.phone, person.password)).status_code == 200
    refused = await api.post("/api/v1/me/password", _change(person.password, f"Aa{person.phone}"))
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "new_password"


async def test_a_wrong_old_password_is_refused_and_throttled(
    ctx: Context, person: Person, open_api: OpenApi, clock: OffsetClock
) -> None:
    api = await open_api()
    assert (await api.login(person.phone, person.password)).status_code == 200
    before = await _password_hash(ctx, person.account.id)
    for _ in range(ctx.settings.throttle.free_failures):
        wrong = await api.post("/api/v1/me/password", _change("Not-The-Password-1", NEW))
        assert wrong.status_code == 403, wrong.text
        assert wrong.json()["type"].endswith("/problems/wrong-password")
    blocked = await api.post("/api/v1/me/password", _change(person.password, NEW))
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) >= 1
    assert await _password_hash(ctx, person.account.id) == before
    clock.advance(int(blocked.headers["retry-after"]) + 1)
    assert (await api.get("/api/v1/me")).status_code == 200
    ok = await api.post("/api/v1/me/password", _change(person.password, NEW))
    assert ok.status_code == 200, ok.text
    assert await _password_hash(ctx, person.account.id) != before


# --- resetting -----------------------------------------------------------------------------------


async def test_a_reset_for_an_unknown_login_looks_the_same_and_opens_nothing(
    ctx: Context, person: Person, open_api: OpenApi
) -> None:
    api = await open_api()
    nobody = new_phone()
    mark = await last_message_id(ctx)
    known = await _ask_reset(api.http, person.phone)
    unknown = await _ask_reset(api.http, nobody)
    assert set(known) == set(unknown) == {"id", "token", "expires_at"}
    assert len(known["token"]) == len(unknown["token"])
    await next_message(ctx, person.phone, mark)
    await no_message(ctx, nobody, mark)
    answers = []
    for reset in (known, unknown):
        wrong = await _confirm_reset(api.http, reset, "000000")
        problem = wrong.json()
        answers.append(
            (wrong.status_code, problem["type"], problem["detail"], problem["attempts_left"])
        )
    assert answers[0] == answers[1]
    assert answers[0][0] == 400
    for code in ("000000", "123456", "999999", "555555", "424242"):
        assert (await _confirm_reset(api.http, unknown, code)).status_code == 400
    assert await count(ctx, PasswordReset, PasswordReset.id == uuid.UUID(unknown["id"])) == 1


async def test_reset_codes_go_to_the_login_s_own_contact(
    ctx: Context, person: Person, open_api: OpenApi
) -> None:
    api = await open_api()
    mark = await last_message_id(ctx)
    by_email = await _ask_reset(api.http, person.email.upper())
    message = await next_message(ctx, person.email, mark)
    assert "восстановления пароля" in message.body
    assert await messages_to(ctx, person.phone, mark) == []
    mark = await last_message_id(ctx)
    by_snils = await _ask_reset(api.http, person.snils)
    sms = await next_message(ctx, person.phone, mark)
    assert "восстановления пароля" in sms.body
    # Only the newest reset is open.
    stale = await _confirm_reset(api.http, by_email, code_in(message))
    assert stale.status_code == 404
    done = await _confirm_reset(api.http, by_snils, code_in(sms))
    assert done.status_code == 204, done.text
    assert (await api.login(person.snils, NEWER)).status_code == 200


async def test_a_reset_without_any_confirmed_contact_is_a_decoy(
    ctx: Context, open_api: OpenApi
) -> None:
    snils = random_snils()
    await create_account(
        ctx,
        NewAccount(
            first_name="Олег", last_name="Орлов", snils=snils, password=STRONG, level="standard"
        ),
    )
    api = await open_api()
    reset = await _ask_reset(api.http, snils)
    assert (await _confirm_reset(api.http, reset, "123456")).status_code == 400


async def test_a_reset_ends_every_session_and_notifies(
    ctx: Context, person: Person, open_api: OpenApi
) -> None:
    first, second, anonymous = await open_api(), await open_api(), await open_api()
    assert (await first.login(person.phone, person.password)).status_code == 200
    assert (await second.login(person.email, person.password)).status_code == 200
    mark = await last_message_id(ctx)
    reset = await _ask_reset(anonymous.http, person.phone)
    code = await next_code(ctx, person.phone, mark)
    mark = await last_message_id(ctx)
    assert (await _confirm_reset(anonymous.http, reset, code)).status_code == 204
    assert await _live_sessions(ctx, person.account.id) == []
    assert (await first.get("/api/v1/me")).status_code == 401
    assert (await second.get("/api/v1/me")).status_code == 401
    for contact in (person.phone, person.email):
        assert "Пароль" in (await next_message(ctx, contact, mark)).body
    again = await _confirm_reset(anonymous.http, reset, code)  # single use
    assert again.status_code == 404


async def test_a_reset_code_expires_after_five_minutes(
    ctx: Context, person: Person, open_api: OpenApi, clock: OffsetClock
) -> None:
    api = await open_api()
    mark = await last_message_id(ctx)
    reset = await _ask_reset(api.http, person.phone)
    code = await next_code(ctx, person.phone, mark)
    clock.advance(ctx.settings.verification.sms_code_ttl + 1)
    expired = await _confirm_reset(api.http, reset, code)
    assert expired.status_code == 400
    assert "expired" in expired.json()["detail"]
    assert await _password_hash(ctx, person.account.id) == person.account.password_hash


async def test_an_email_reset_code_lasts_longer_than_an_sms_one(
    ctx: Context, person: Person, open_api: OpenApi, clock: OffsetClock
) -> None:
    api = await open_api()
    mark = await last_message_id(ctx)
    reset = await _ask_reset(api.http, person.email)
    code = await next_code(ctx, person.email, mark)
    clock.advance(ctx.settings.verification.sms_code_ttl + 60)
    assert (await _confirm_reset(api.http, reset, code)).status_code == 204
    mark = await last_message_id(ctx)
    late = await _ask_reset(api.http, person.email)
    late_code = await next_code(ctx, person.email, mark)
    clock.advance(ctx.settings.verification.email_code_ttl + 1)
    assert (await _confirm_reset(api.http, late, late_code)).status_code == 400


async def test_wrong_codes_are_limited_and_a_new_reset_keeps_the_count(
    ctx: Context, person: Person, open_api: OpenApi
) -> None:
    api = await open_api()
    limit = ctx.settings.verification.max_attempts
    mark = await last_message_id(ctx)
    first = await _ask_reset(api.http, person.phone)
    first_code = await next_code(ctx, person.phone, mark)
    for left in range(limit - 1, limit - 4, -1):
        wrong = await _confirm_reset(api.http, first, other_code(first_code))
        assert wrong.status_code == 400
        assert wrong.json()["attempts_left"] == left
    mark = await last_message_id(ctx)
    second = await _ask_reset(api.http, person.phone)
    second_code = await next_code(ctx, person.phone, mark)
    for left in range(limit - 4, -1, -1):
        wrong = await _confirm_reset(api.http, second, other_code(second_code))
        assert wrong.json()["attempts_left"] == left
    refused = await _confirm_reset(api.http, second, second_code)
    assert refused.status_code == 400
    assert refused.json()["attempts_left"] == 0
    assert await _password_hash(ctx, person.account.id) == person.account.password_hash


async def test_resets_per_login_are_capped_per_hour_for_known_and_unknown_logins(
    ctx: Context, person: Person, open_api: OpenApi, clock: OffsetClock
) -> None:
    api = await open_api()
    cap = ctx.settings.verification.max_sends_per_hour
    for login in (person.email, random_email()):
        for _ in range(cap):
            await _ask_reset(api.http, login)
        capped = await api.http.post("/api/v1/password-resets", json={"login": login})
        assert capped.status_code == 429
        assert capped.headers["content-type"] == "application/problem+json"
        assert 1 <= int(capped.headers["retry-after"]) <= 3600
    clock.advance(3601)
    await _ask_reset(api.http, person.email)


async def test_a_password_refused_after_the_right_code_keeps_the_code_usable(
    ctx: Context, person: Person, open_api: OpenApi
) -> None:
    api = await open_api()
    mark = await last_message_id(ctx)
    reset = await _ask_reset(api.http, person.phone)
    code = await next_code(ctx, person.phone, mark)
    personal = await _confirm_reset(api.http, reset, code, password="Иван-the-Great-7")
    assert personal.status_code == 422
    assert personal.json()["errors"][0]["field"] == "new_password"
    differ = await _confirm_reset(api.http, reset, code, repeat=NEWER + "!")
    assert differ.status_code == 422
    assert differ.json()["errors"][0]["field"] == "new_password_repeat"
    assert await _password_hash(ctx, person.account.id) == person.account.password_hash
    assert (await _confirm_reset(api.http, reset, code)).status_code == 204


async def test_a_reset_needs_its_own_token(ctx: Context, person: Person, open_api: OpenApi) -> None:
    api = await open_api()
    mark = await last_message_id(ctx)
    reset = await _ask_reset(api.http, person.phone)
    code = await next_code(ctx, person.phone, mark)
    body = {"code": code, "new_password": NEWER, "new_password_repeat": NEWER}
    url = f"/api/v1/password-resets/{reset['id']}/confirm"
    # The header is required (openapi.yaml): without it, 422 names it; a wrong one is 404.
    missing = await api.http.post(url, json=body)
    assert missing.status_code == 422
    assert [e["field"] for e in missing.json()["errors"]] == ["X-Reset-Token"]
    for headers in ({"X-Reset-Token": "x" * 43}, {"X-Reset-Token": reset["token"][:-1]}):
        refused = await api.http.post(url, json=body, headers=headers)
        assert refused.status_code == 404, headers
        assert refused.json()["type"].endswith("/problems/not-found")
    other = await api.http.post(
        f"/api/v1/password-resets/{uuid.uuid4()}/confirm",
        json=body,
        headers={"X-Reset-Token": reset["token"]},
    )
    assert other.status_code == 404
    assert (await _confirm_reset(api.http, reset, code)).status_code == 204
