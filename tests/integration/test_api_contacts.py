"""Contacts through the REST API: add, confirm (code or link), send again, remove; notices to
the other contacts; the last confirmed contact stays; contacts of other accounts are decoys;
expiry, cooldown, attempt limits and the hourly cap with a controlled clock."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select

from idp.clock import OffsetClock
from idp.context import Context
from idp.db.models import Contact, Verification
from tests.support.api_kit import (
    STRONG,
    Api,
    count,
    delivered,
    last_message_id,
    link_token_in,
    messages_to,
    new_phone,
    next_code,
    next_message,
    no_message,
    other_code,
    random_email,
    register,
)
from tests.support.factories import Person
from tests.support.live import LiveServer

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


@pytest.fixture
async def api(open_api: OpenApi, person: Person) -> Api:
    """The person, logged in through the API."""
    client = await open_api()
    assert (await client.login(person.phone, person.password)).status_code == 200
    return client


async def _add(api: Api, kind: str, value: str) -> dict[str, Any]:
    response = await api.post("/api/v1/me/contacts", {"kind": kind, "value": value})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _contacts(api: Api) -> dict[str, dict[str, Any]]:
    me = await api.get("/api/v1/me")
    assert me.status_code == 200, me.text
    return {c["value"]: c for c in me.json()["contacts"]}


# --- the happy paths -----------------------------------------------------------------------


async def test_a_phone_is_added_confirmed_and_the_other_contacts_are_told(
    ctx: Context, api: Api, person: Person, open_api: OpenApi
) -> None:
    number = new_phone()
    national = "8 (" + number[2:5] + ") " + number[5:8] + "-" + number[8:10] + "-" + number[10:]
    mark = await last_message_id(ctx)
    added = await _add(api, "phone", national)
    assert added["value"] == number  # normalised to E.164
    assert added["kind"] == "phone"
    assert added["confirmed"] is False
    assert added["resend_after"] == ctx.settings.verification.resend_cooldown
    for contact in (person.phone, person.email):
        notice = await next_message(ctx, contact, mark)
        assert "запрошено добавление" in notice.body
        assert number not in notice.body  # masked
        assert number[-2:] in notice.body
    code = await next_code(ctx, number, mark)
    mark = await last_message_id(ctx)
    confirmed = await api.post(f"/api/v1/me/contacts/{added['id']}/confirm", {"code": code})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["confirmed"] is True
    for contact in (person.phone, person.email):
        assert "добавлен" in (await next_message(ctx, contact, mark)).body
    await no_message(ctx, number, mark, wait=0.5)  # the others are told, not the new one
    assert (await _contacts(api))[number]["confirmed"] is True
    again = await api.post(f"/api/v1/me/contacts/{added['id']}/confirm", {"code": code})
    assert again.status_code == 404
    fresh = await open_api()
    assert (await fresh.login(number, person.password)).status_code == 200


async def test_an_email_address_is_confirmed_by_its_link_which_logs_nobody_in(
    ctx: Context, api: Api, open_api: OpenApi, person: Person
) -> None:
    address = random_email()
    mark = await last_message_id(ctx)
    added = await _add(api, "email", address.upper())
    assert added["value"] == address
    by_code = await api.post(f"/api/v1/me/contacts/{added['id']}/confirm", {"code": "123456"})
    assert by_code.status_code == 409
    assert by_code.json()["type"].endswith("/problems/confirm-by-link")
    token = link_token_in(await next_message(ctx, address, mark))
    anonymous = await open_api()
    followed = await anonymous.http.post("/api/v1/email-confirmations", json={"token": token})
    assert followed.status_code == 204
    assert "set-cookie" not in followed.headers
    assert (await anonymous.get("/api/v1/me")).status_code == 401
    assert (await _contacts(api))[address]["confirmed"] is True
    assert (await anonymous.login(address, person.password)).status_code == 200


async def test_the_last_confirmed_contact_cannot_be_removed(
    ctx: Context, open_api: OpenApi
) -> None:
    phone = new_phone()
    api = await open_api()
    await register(api.http, ctx, phone=phone)
    assert (await api.login(phone, STRONG)).status_code == 200
    only = (await _contacts(api))[phone]
    refused = await api.delete(f"/api/v1/me/contacts/{only['id']}")
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/problems/last-contact")
    pending = await _add(api, "email", random_email())
    assert (await api.delete(f"/api/v1/me/contacts/{only['id']}")).status_code == 409
    assert (await api.delete(f"/api/v1/me/contacts/{pending['id']}")).status_code == 204
    assert set(await _contacts(api)) == {phone}


async def test_a_removal_is_told_to_the_remaining_contacts_and_the_removed_one(
    ctx: Context, api: Api, person: Person, open_api: OpenApi
) -> None:
    email_id = (await _contacts(api))[person.email]["id"]
    mark = await last_message_id(ctx)
    assert (await api.delete(f"/api/v1/me/contacts/{email_id}")).status_code == 204
    for contact in (person.phone, person.email):
        assert "удалён" in (await next_message(ctx, contact, mark)).body
    assert set(await _contacts(api)) == {person.phone}
    fresh = await open_api()
    assert (await fresh.login(person.email, person.password)).status_code == 401
    gone = await api.delete(f"/api/v1/me/contacts/{email_id}")
    assert gone.status_code == 404
    someone_elses = await api.delete(f"/api/v1/me/contacts/{uuid.uuid4()}")
    assert someone_elses.status_code == 404


async def test_adding_a_contact_the_account_already_has_is_a_conflict(
    api: Api, person: Person
) -> None:
    for kind, value in (("phone", person.phone), ("email", person.email)):
        refused = await api.post("/api/v1/me/contacts", {"kind": kind, "value": value})
        assert refused.status_code == 409
        assert refused.json()["type"].endswith("/problems/contact-exists")
    pending = random_email()
    await _add(api, "email", pending)
    twice = await api.post("/api/v1/me/contacts", {"kind": "email", "value": pending})
    assert twice.status_code == 409


async def test_an_account_has_at_most_max_contacts(ctx: Context, api: Api, person: Person) -> None:
    limit = ctx.settings.verification.max_contacts
    for _ in range(limit - 2):
        await _add(api, "email", random_email())
    refused = await api.post("/api/v1/me/contacts", {"kind": "email", "value": random_email()})
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/problems/too-many-contacts")
    assert await count(ctx, Contact, Contact.account_id == person.account.id) == limit


# --- contacts of other accounts ------------------------------------------------------------


async def test_a_contact_of_another_account_is_a_decoy_and_its_owner_is_warned(
    ctx: Context, api: Api, person: Person, open_api: OpenApi
) -> None:
    owner = await open_api()
    owned_phone = new_phone()
    owned_email = random_email()
    await register(owner.http, ctx, phone=owned_phone, email=owned_email)
    free_phone = new_phone()
    mark = await last_message_id(ctx)
    normal = await _add(api, "phone", free_phone)
    taken = await _add(api, "phone", owned_phone)
    taken_email = await _add(api, "email", owned_email)
    assert set(normal) == set(taken) == set(taken_email)
    assert (normal["confirmed"], taken["confirmed"]) == (False, False)
    assert normal["resend_after"] == taken["resend_after"]
    warning = await next_message(ctx, owned_phone, mark)
    assert "изменён контакт" in warning.body
    email_warning = await next_message(ctx, owned_email, mark)
    assert "token=" not in email_warning.body
    await next_code(ctx, free_phone, mark)
    assert all("Код" not in m.body for m in await messages_to(ctx, owned_phone, mark))
    # No code opens it; the attempts run out the same way as for a real one.
    answers = []
    for contact in (normal, taken):
        wrong = await api.post(f"/api/v1/me/contacts/{contact['id']}/confirm", {"code": "000000"})
        answers.append((wrong.status_code, wrong.json()["detail"], wrong.json()["attempts_left"]))
    assert answers[0] == answers[1]
    async with ctx.db.read() as session:
        owners = (
            await session.scalars(
                select(Contact.account_id).where(
                    Contact.value_lookup == owned_phone, Contact.confirmed_at.is_not(None)
                )
            )
        ).all()
    assert len(owners) == 1
    assert owners[0] != person.account.id
    # Registration with that phone cannot complete either.
    stranger = await open_api()
    mark = await last_message_id(ctx)
    created = await stranger.http.post(
        "/api/v1/registrations",
        json={
            "last_name": "Иванова",
            "first_name": "Мария",
            "phone": owned_phone,
            "personal_data_consent": True,
        },
    )
    assert created.status_code == 201
    started = created.json()
    headers = {"X-Registration-Token": started["token"]}
    assert "изменён контакт" in (await next_message(ctx, owned_phone, mark)).body
    wrong = await stranger.http.post(
        f"/api/v1/registrations/{started['id']}/phone/confirm",
        json={"code": "123456"},
        headers=headers,
    )
    assert wrong.status_code == 400
    finished = await stranger.http.post(
        f"/api/v1/registrations/{started['id']}/password",
        json={"password": STRONG, "password_repeat": STRONG},
        headers=headers,
    )
    assert finished.status_code == 409
    assert finished.json()["type"].endswith("/problems/contact-not-confirmed")


# --- expiry and limits ---------------------------------------------------------------------


async def test_a_code_expires_after_five_minutes_and_a_resend_gives_a_working_one(
    ctx: Context, api: Api, clock: OffsetClock
) -> None:
    number = new_phone()
    mark = await last_message_id(ctx)
    added = await _add(api, "phone", number)
    code = await next_code(ctx, number, mark)
    clock.advance(ctx.settings.verification.sms_code_ttl + 1)
    late = await api.post(f"/api/v1/me/contacts/{added['id']}/confirm", {"code": code})
    assert late.status_code == 400
    assert "expired" in late.json()["detail"]
    mark = await last_message_id(ctx)
    resent = await api.post(f"/api/v1/me/contacts/{added['id']}/resend")
    assert resent.status_code == 200, resent.text
    fresh = await next_code(ctx, number, mark)
    ok = await api.post(f"/api/v1/me/contacts/{added['id']}/confirm", {"code": fresh})
    assert ok.status_code == 200, ok.text


async def test_a_resend_waits_for_the_cooldown_kills_the_old_code_and_keeps_the_failures(
    ctx: Context, api: Api, clock: OffsetClock
) -> None:
    settings = ctx.settings.verification
    number = new_phone()
    mark = await last_message_id(ctx)
    added = await _add(api, "phone", number)
    url = f"/api/v1/me/contacts/{added['id']}"
    first = await next_code(ctx, number, mark)
    too_soon = await api.post(f"{url}/resend")
    assert too_soon.status_code == 429
    assert too_soon.json()["type"].endswith("/problems/resend-too-soon")
    assert 1 <= int(too_soon.headers["retry-after"]) <= settings.resend_cooldown
    for left in range(settings.max_attempts - 1, settings.max_attempts - 4, -1):
        wrong = await api.post(f"{url}/confirm", {"code": other_code(first)})
        assert wrong.json()["attempts_left"] == left
    clock.advance(settings.resend_cooldown + 1)
    mark = await last_message_id(ctx)
    resent = await api.post(f"{url}/resend")
    assert resent.status_code == 200
    assert resent.json() == {"resend_after": settings.resend_cooldown}
    second = await next_code(ctx, number, mark)
    if second != first:
        old = await api.post(f"{url}/confirm", {"code": first})
        assert old.status_code == 400  # the old code died with the resend
    # The count went on from where it was.
    while True:
        wrong = await api.post(f"{url}/confirm", {"code": other_code(second)})
        assert wrong.status_code == 400
        if wrong.json()["attempts_left"] == 0:
            break
    async with ctx.db.read() as session:
        row = await session.scalar(
            select(Verification).where(Verification.owner_id == uuid.UUID(added["id"]))
        )
    assert row is not None
    assert row.failures == settings.max_attempts
    assert row.sends == 2
    exhausted = await api.post(f"{url}/confirm", {"code": second})
    assert exhausted.status_code == 400
    assert exhausted.json()["attempts_left"] == 0
    clock.advance(settings.resend_cooldown + 1)
    no_more = await api.post(f"{url}/resend")
    assert no_more.status_code == 400  # a resend cannot buy more tries
    assert (await _contacts(api))[number]["confirmed"] is False


async def test_at_most_n_messages_per_hour_go_to_one_phone(
    ctx: Context, api: Api, person: Person, clock: OffsetClock
) -> None:
    settings = ctx.settings.verification
    number = new_phone()
    added = await _add(api, "phone", number)
    url = f"/api/v1/me/contacts/{added['id']}/resend"
    for _ in range(settings.max_sends_per_hour - 1):
        clock.advance(settings.resend_cooldown + 1)
        assert (await api.post(url)).status_code == 200
    clock.advance(settings.resend_cooldown + 1)
    capped = await api.post(url)
    assert capped.status_code == 429
    assert capped.json()["type"].endswith("/problems/too-many-attempts")
    wait = int(capped.headers["retry-after"])
    assert 1 <= wait <= 3600
    await delivered(ctx, number, settings.max_sends_per_hour)
    assert len(await messages_to(ctx, number)) == settings.max_sends_per_hour
    clock.advance(wait + 1)
    assert (await api.login(person.phone, person.password)).status_code == 200  # idle timeout
    mark = await last_message_id(ctx)
    assert (await api.post(url)).status_code == 200
    code = await next_code(ctx, number, mark)
    confirmed = await api.post(f"/api/v1/me/contacts/{added['id']}/confirm", {"code": code})
    assert confirmed.status_code == 200


async def test_an_email_link_expires_after_three_days_and_a_new_one_replaces_it(
    ctx: Context, api: Api, person: Person, clock: OffsetClock
) -> None:
    address = random_email()
    mark = await last_message_id(ctx)
    added = await _add(api, "email", address)
    old_token = link_token_in(await next_message(ctx, address, mark))
    clock.advance(ctx.settings.verification.email_link_ttl - 60)
    assert (await api.login(person.phone, person.password)).status_code == 200  # idle timeout
    mark = await last_message_id(ctx)
    assert (await api.post(f"/api/v1/me/contacts/{added['id']}/resend")).status_code == 200
    new_token = link_token_in(await next_message(ctx, address, mark))
    dead = await api.http.post("/api/v1/email-confirmations", json={"token": old_token})
    assert dead.status_code == 400  # the resend killed it
    clock.advance(120)  # the first link would have expired now anyway; the new one lives
    clock.advance(ctx.settings.verification.email_link_ttl - 120 + 1)
    expired = await api.http.post("/api/v1/email-confirmations", json={"token": new_token})
    assert expired.status_code == 400
    assert expired.json()["type"].endswith("/problems/code-invalid")
    confirmed = Contact.confirmed_at.is_not(None)
    assert await count(ctx, Contact, Contact.value_lookup == address, confirmed) == 0
