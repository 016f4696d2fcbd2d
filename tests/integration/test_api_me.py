"""``GET /api/v1/me`` and how the account endpoints authenticate: the session cookie (CSRF on
unsafe methods) or a Bearer access token of a first-party client (no CSRF)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from idp.accounts.identifiers import format_snils
from idp.clock import OffsetClock
from idp.context import Context
from idp.db.models import Contact
from idp.settings import Settings
from tests.support.api_kit import Api, count, serve_variant
from tests.support.browser import Browser
from tests.support.factories import RP, Person, make_person, make_rp
from tests.support.live import LiveServer
from tests.support.logout_kit import sign_in


@dataclass
class FirstParty:
    server: LiveServer
    portal: RP  # listed in first_party_clients
    outsider: RP  # a client like any other
    machine: RP  # client_credentials only, listed too: its tokens name no person


@pytest.fixture(scope="module")
async def first_party(
    ctx: Context, settings: Settings, clock: OffsetClock
) -> AsyncIterator[FirstParty]:
    portal = await make_rp(ctx, require_consent=False, name="Портал")
    outsider = await make_rp(ctx, require_consent=False, name="Чужой сайт")
    machine = await make_rp(
        ctx, grant_types=["client_credentials"], scopes=["openid", "profile"], name="Робот"
    )
    server = serve_variant(
        settings, clock, first_party_clients=[portal.client_id, machine.client_id]
    )
    yield FirstParty(server, portal, outsider, machine)
    server.stop()


@pytest.fixture
async def api(server: LiveServer) -> AsyncIterator[Api]:
    client = Api(server.url)
    yield client
    await client.close()


async def _token(server: LiveServer, rp: RP, person: Person) -> str:
    browser = Browser(server.url)
    try:
        tokens = await sign_in(browser, rp, person)
    finally:
        await browser.close()
    return str(tokens["access_token"])


async def test_me_shows_the_account_its_contacts_and_a_masked_snils(
    api: Api, ctx: Context, person: Person
) -> None:
    assert (await api.login(person.phone, person.password)).status_code == 200
    response = await api.get("/api/v1/me")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["sub"] == person.account.sub
    assert (body["last_name"], body["first_name"], body["middle_name"]) == (
        "Петров",
        "Иван",
        "Сергеевич",
    )
    assert body["level"] == "simplified"
    assert body["confirmation_method"] is None
    assert body["snils"] == "***-***-" + format_snils(person.snils)[8:]
    assert person.snils not in response.text
    assert person.snils[:3] not in body["snils"]
    contacts = {(c["kind"], c["value"], c["confirmed"]) for c in body["contacts"]}
    assert contacts == {("phone", person.phone, True), ("email", person.email, True)}
    ids = {c["id"] for c in body["contacts"]}
    assert len(ids) == 2


async def test_a_confirmed_account_shows_its_method_and_no_snils_when_it_has_none(
    api: Api, ctx: Context
) -> None:
    confirmed = await make_person(ctx, level="confirmed", method="qes")
    assert (await api.login(confirmed.email, confirmed.password)).status_code == 200
    body = (await api.get("/api/v1/me")).json()
    assert (body["level"], body["confirmation_method"]) == ("confirmed", "qes")


async def test_without_a_session_me_is_a_401_problem(api: Api, ctx: Context) -> None:
    response = await api.get("/api/v1/me")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == f"{ctx.settings.issuer}/problems/not-authenticated"
    assert problem["status"] == 401
    assert problem["instance"] == "/api/v1/me"


async def test_unsafe_calls_with_the_cookie_need_the_csrf_header(
    api: Api, ctx: Context, person: Person
) -> None:
    assert (await api.login(person.phone, person.password)).status_code == 200
    before = await count(ctx, Contact, Contact.account_id == person.account.id)
    refused = await api.http.post(
        "/api/v1/me/contacts", json={"kind": "email", "value": "csrf@example.ru"}
    )
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/problems/csrf-failed")
    assert await count(ctx, Contact, Contact.account_id == person.account.id) == before
    accepted = await api.post("/api/v1/me/contacts", {"kind": "email", "value": "csrf@example.ru"})
    assert accepted.status_code == 201, accepted.text


async def test_a_first_party_bearer_token_works_without_cookie_or_csrf(
    first_party: FirstParty, ctx: Context, person: Person
) -> None:
    token = await _token(first_party.server, first_party.portal, person)
    async with httpx.AsyncClient(base_url=first_party.server.url) as http:
        bearer = {"Authorization": f"Bearer {token}"}
        me = await http.get("/api/v1/me", headers=bearer)
        assert me.status_code == 200, me.text
        assert me.json()["sub"] == person.account.sub
        added = await http.post(
            "/api/v1/me/contacts",
            json={"kind": "email", "value": "bearer@example.ru"},
            headers=bearer,
        )
        assert added.status_code == 201, added.text
        assert added.json()["confirmed"] is False
        # The same token is no good at another issuer (the main server).
    async with httpx.AsyncClient(base_url=str(ctx.settings.issuer)) as http:
        elsewhere = await http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert elsewhere.status_code == 401


async def test_tokens_of_other_clients_and_bad_tokens_are_refused(
    first_party: FirstParty, person: Person
) -> None:
    outsider = await _token(first_party.server, first_party.outsider, person)
    async with httpx.AsyncClient(base_url=first_party.server.url) as http:
        foreign = await http.get("/api/v1/me", headers={"Authorization": f"Bearer {outsider}"})
        assert foreign.status_code == 403
        assert foreign.json()["type"].endswith("/problems/not-first-party")
        machine = first_party.machine
        assert machine.client_secret is not None
        issued = await http.post(
            "/token",
            data={"grant_type": "client_credentials"},
            auth=(machine.client_id, machine.client_secret),
        )
        assert issued.status_code == 200, issued.text
        robot = await http.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {issued.json()['access_token']}"}
        )
        assert robot.status_code == 403
        for header in (
            "Bearer not-a-token",
            "Bearer",
            "Basic dXNlcjpwYXNz",
            "Bearer " + "a" * 5000,
        ):
            bad = await http.get("/api/v1/me", headers={"Authorization": header})
            assert bad.status_code == 401, header
            assert bad.headers["content-type"] == "application/problem+json"
            assert bad.headers["www-authenticate"].startswith("Bearer ")
            assert bad.json()["type"].endswith("/problems/invalid-token")


async def test_a_bearer_token_dies_with_its_session(
    first_party: FirstParty, person: Person
) -> None:
    browser = Browser(first_party.server.url)
    try:
        tokens = await sign_in(browser, first_party.portal, person)
        api = Api(first_party.server.url)
        api.http = browser.http
        await api.csrf()
        assert (await api.post("/api/v1/logout")).status_code == 204
    finally:
        await browser.close()
    async with httpx.AsyncClient(base_url=first_party.server.url) as http:
        me = await http.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert me.status_code == 401
