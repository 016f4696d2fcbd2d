"""Confirming an e-mail address by its link (issue 8, item 16): the same notice and audit
record as a phone confirmed by its code, and a link followed while the registration is being
completed is never lost, whichever commits first."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
from sqlalchemy import select, text

from idp.context import Context
from idp.db.models import Account, AuditEvent, Contact, Registration
from tests.support.api_kit import (
    STRONG,
    Api,
    code_in,
    last_message_id,
    link_token_in,
    new_phone,
    next_code,
    next_message,
    random_email,
)
from tests.support.factories import Person
from tests.support.live import LiveServer


async def _confirm_events(ctx: Context, account_id: uuid.UUID) -> list[AuditEvent]:
    async with ctx.db.read() as session:
        rows = await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.account_id == str(account_id), AuditEvent.event == "contact.confirm")
            .order_by(AuditEvent.id)
        )
        return list(rows.all())


async def _contacts_of(ctx: Context, sub: str) -> dict[str, Contact]:
    async with ctx.db.read() as session:
        account = (await session.scalars(select(Account).where(Account.sub == sub))).one()
        rows = await session.scalars(select(Contact).where(Contact.account_id == account.id))
        return {c.value: c for c in rows.all()}


async def test_a_link_writes_the_same_notice_and_audit_record_as_a_code(
    server: LiveServer, ctx: Context, person: Person
) -> None:
    api = Api(server.url)
    try:
        assert (await api.login(person.phone, person.password)).status_code == 200
        outcomes: dict[str, tuple[AuditEvent, list[str]]] = {}
        for kind, value in (("phone", new_phone()), ("email", random_email())):
            mark = await last_message_id(ctx)
            added = await api.post("/api/v1/me/contacts", {"kind": kind, "value": value})
            assert added.status_code == 201, added.text
            # Both other contacts were told of the request; wait for it before the next mark.
            for other in (person.phone, person.email):
                await next_message(ctx, other, mark)
            if kind == "phone":
                code = await next_code(ctx, value, mark)
                mark = await last_message_id(ctx)
                url = f"/api/v1/me/contacts/{added.json()['id']}/confirm"
                assert (await api.post(url, {"code": code})).status_code == 200
            else:
                token = link_token_in(await next_message(ctx, value, mark))
                mark = await last_message_id(ctx)
                async with httpx.AsyncClient(base_url=server.url) as anonymous:
                    followed = await anonymous.post(
                        "/api/v1/email-confirmations", json={"token": token}
                    )
                assert followed.status_code == 204, followed.text
            notices = [
                (await next_message(ctx, o, mark)).body for o in (person.phone, person.email)
            ]
            events = await _confirm_events(ctx, person.account.id)
            assert len(events) == len(outcomes) + 1, [e.details for e in events]
            outcomes[kind] = (events[-1], notices)
        phone_event, phone_notices = outcomes["phone"]
        email_event, email_notices = outcomes["email"]
        assert email_event.actor == phone_event.actor == "person"
        assert email_event.outcome == phone_event.outcome
        assert email_event.details.keys() == phone_event.details.keys()
        assert email_event.details["kind"] == "email"
        # Each confirmation tells every other confirmed contact (the new phone too, by then).
        assert (phone_event.details["notified"], email_event.details["notified"]) == (2, 3)
        assert all("добавлен" in body for body in phone_notices + email_notices)
    finally:
        await api.close()


async def _started(http: httpx.AsyncClient, ctx: Context) -> tuple[dict[str, Any], str, str]:
    """A registration with a phone (confirmed) and an e-mail (its link not followed yet)."""
    phone, email = new_phone(), random_email()
    mark = await last_message_id(ctx)
    created = await http.post(
        "/api/v1/registrations",
        json={
            "last_name": "Орлова",
            "first_name": "Вера",
            "phone": phone,
            "email": email,
            "personal_data_consent": True,
        },
    )
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    code = code_in(await next_message(ctx, phone, mark))
    confirmed = await http.post(
        f"/api/v1/registrations/{body['id']}/phone/confirm",
        json={"code": code},
        headers={"X-Registration-Token": body["token"]},
    )
    assert confirmed.status_code == 200, confirmed.text
    token = link_token_in(await next_message(ctx, email, mark))
    return body, email, token


async def _complete(http: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await http.post(
        f"/api/v1/registrations/{body['id']}/password",
        json={"password": STRONG, "password_repeat": STRONG},
        headers={"X-Registration-Token": body["token"]},
    )


async def _follow(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.post("/api/v1/email-confirmations", json={"token": token})


async def _assert_confirmed(ctx: Context, sub: str, email: str) -> None:
    contacts = await _contacts_of(ctx, sub)
    assert email in contacts, list(contacts)
    assert contacts[email].confirmed_at is not None


async def test_the_link_before_and_after_the_password_both_confirm_the_address(
    server: LiveServer, ctx: Context
) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        body, email, token = await _started(http, ctx)
        assert (await _follow(http, token)).status_code == 204
        done = await _complete(http, body)
        assert done.status_code == 201, done.text
        await _assert_confirmed(ctx, done.json()["sub"], email)

        body, email, token = await _started(http, ctx)
        done = await _complete(http, body)
        assert done.status_code == 201, done.text
        assert (await _follow(http, token)).status_code == 204
        await _assert_confirmed(ctx, done.json()["sub"], email)
        # Joining the account afterwards is a contact change like any other.
        events = await _confirm_events(
            ctx, (await _contacts_of(ctx, done.json()["sub"]))[email].account_id
        )
        assert [e.details["kind"] for e in events] == ["email"]


async def test_concurrent_links_and_completions_keep_every_address(
    server: LiveServer, ctx: Context
) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        started = [await _started(http, ctx) for _ in range(6)]
        answers = await asyncio.gather(
            *(
                asyncio.gather(_complete(http, body), _follow(http, token))
                for body, _, token in started
            )
        )
    for (done, followed), (_, email, _) in zip(answers, started, strict=True):
        assert done.status_code == 201, done.text
        assert followed.status_code == 204, followed.text
        await _assert_confirmed(ctx, done.json()["sub"], email)


class _Release(Exception):
    pass


async def _lock_waiters(ctx: Context) -> int:
    async with ctx.db.read() as session:
        found = await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
        )
        return int(found or 0)


async def _until_waiting(ctx: Context, how_many: int) -> None:
    deadline = time.monotonic() + 20
    while await _lock_waiters(ctx) < how_many:
        assert time.monotonic() < deadline, "nobody waits for the lock"
        await asyncio.sleep(0.02)


async def test_a_link_read_while_the_completion_commits_still_joins_the_account(
    server: LiveServer, ctx: Context, person: Person, backend: str
) -> None:
    """The exact interleaving, forced on PostgreSQL: the completion holds the registration's
    lock (held up on a unique index by an uncommitted contact of the test), the link reads the
    registration before the account exists and writes after it commits."""
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        body, email, token = await _started(http, ctx)
        if backend != "postgresql":
            # One writer at a time: the link's transaction sees the completion whole or not at
            # all; the orders themselves are tested above.
            done, followed = await asyncio.gather(_complete(http, body), _follow(http, token))
        else:
            async with ctx.db.read() as session:
                phone = await session.scalar(
                    select(Registration.phone).where(Registration.id == uuid.UUID(body["id"]))
                )
            try:
                async with ctx.db.transaction() as blocker:
                    blocker.add(
                        Contact(
                            account_id=person.account.id,
                            kind="phone",
                            value=phone,
                            confirmed_at=ctx.clock.now(),
                            created_at=ctx.clock.now(),
                        )
                    )
                    await blocker.flush()
                    completing = asyncio.create_task(_complete(http, body))
                    await _until_waiting(ctx, 1)
                    following = asyncio.create_task(_follow(http, token))
                    await _until_waiting(ctx, 2)
                    raise _Release
            except _Release:
                pass
            done, followed = await completing, await following
    assert done.status_code == 201, done.text
    assert followed.status_code == 204, followed.text
    await _assert_confirmed(ctx, done.json()["sub"], email)
