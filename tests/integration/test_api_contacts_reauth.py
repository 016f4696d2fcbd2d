"""Changing a contact over the REST API needs a recent login, as on the console's pages
(``console.reauth_within``), on SQLite and PostgreSQL: otherwise a stolen session cookie (or
a first-party app's token) could add an address, confirm it and reset the password through
it, whatever the console asks. The refusal is RFC 9457 problem+json; for a Bearer token it
carries the RFC 9470 step-up challenge. Nothing is written."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from idp.context import Context
from idp.db.models import BrowserSession, Contact
from tests.integration.test_api_me import FirstParty, _token, first_party  # noqa: F401
from tests.support.api_kit import Api, count
from tests.support.factories import Person
from tests.support.live import LiveServer


@pytest.fixture
async def api(server: LiveServer) -> AsyncIterator[Api]:
    client = Api(server.url)
    yield client
    await client.close()


async def _age_logins(ctx: Context, person: Person, seconds: int) -> None:
    async with ctx.db.transaction() as session:
        await session.execute(
            update(BrowserSession)
            .where(BrowserSession.account_id == person.account.id)
            .values(auth_time=ctx.clock.now() - timedelta(seconds=seconds))
        )


def _assert_reauthentication_required(response: httpx.Response, ctx: Context) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/problems/reauthentication-required")
    assert problem["max_age"] == ctx.settings.console.reauth_within


async def test_an_old_login_cannot_add_or_remove_a_contact_over_the_api(
    api: Api, ctx: Context, person: Person
) -> None:
    assert (await api.login(person.phone, person.password)).status_code == 200
    async with ctx.db.read() as session:
        phone = (
            await session.scalars(
                select(Contact).where(
                    Contact.account_id == person.account.id, Contact.kind == "phone"
                )
            )
        ).one()
    before = await count(ctx, Contact, Contact.account_id == person.account.id)
    await _age_logins(ctx, person, ctx.settings.console.reauth_within + 1)

    added = await api.post("/api/v1/me/contacts", {"kind": "email", "value": "late@example.ru"})
    _assert_reauthentication_required(added, ctx)
    assert "www-authenticate" not in added.headers  # a cookie caller: no Bearer challenge
    removed = await api.delete(f"/api/v1/me/contacts/{phone.id}")
    _assert_reauthentication_required(removed, ctx)
    assert await count(ctx, Contact, Contact.account_id == person.account.id) == before
    assert (await api.get("/api/v1/me")).status_code == 200  # reading needs no fresh login

    # Logging in again (the same session, a new cookie and login time) lets the change through.
    assert (await api.login(person.phone, person.password)).status_code == 200
    again = await api.post("/api/v1/me/contacts", {"kind": "email", "value": "late@example.ru"})
    assert again.status_code == 201, again.text
    gone = await api.delete(f"/api/v1/me/contacts/{again.json()['id']}")
    assert gone.status_code == 204, gone.text
    unknown = await api.delete(f"/api/v1/me/contacts/{uuid.uuid4()}")
    assert unknown.status_code == 404


async def test_a_bearer_token_of_an_old_login_gets_the_step_up_challenge(
    first_party: FirstParty,  # noqa: F811
    ctx: Context,
    person: Person,
) -> None:
    token = await _token(first_party.server, first_party.portal, person)
    bearer = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=first_party.server.url) as http:
        await _age_logins(ctx, person, ctx.settings.console.reauth_within + 1)
        refused = await http.post(
            "/api/v1/me/contacts",
            json={"kind": "email", "value": "bearer-late@example.ru"},
            headers=bearer,
        )
        _assert_reauthentication_required(refused, ctx)
        challenge = refused.headers["www-authenticate"]
        assert 'error="insufficient_user_authentication"' in challenge
        assert f'max_age="{ctx.settings.console.reauth_within}"' in challenge
        assert (await http.get("/api/v1/me", headers=bearer)).status_code == 200
    assert await count(ctx, Contact, Contact.account_id == person.account.id) == 2
