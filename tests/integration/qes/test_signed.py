"""The confirmation with real signatures over real HTTP, on SQLite and PostgreSQL: the test
PKI's certificates (P-256, CRL and OCSP served on loopback) sign the challenge; the account
becomes confirmed with its history, audit record and notice, the session cookie is rotated
(``auth_time`` kept), and a client created with ``idp clients create --min-level confirmed``
then gets ``acr=confirmed`` and ``confirmation_method=qes``. Another person's certificate, a
revoked one, one from an untrusted root and a replayed signature are refused with nothing
changed."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import pytest
from sqlalchemy import select

from idp.clock import OffsetClock
from idp.context import Context
from idp.db.models import Account, AuditEvent, BrowserSession, LevelChange
from idp.settings import Settings
from idp.signatures.dev.keys import Issued
from idp.signatures.dev.pki import make_person as make_certificate
from tests.integration.qes.kit import (
    GIVEN_NAMES,
    SURNAME,
    certificate_for,
    challenge,
    challenge_row,
    cli_env,
    logged_in,
    problem,
    signed,
    submit,
)
from tests.support.api_kit import last_message_id, next_message
from tests.support.browser import query
from tests.support.cli_kit import run_in_process
from tests.support.factories import RP, make_person, random_snils
from tests.support.flows import auth_params, redeem
from tests.support.live import LiveServer
from tests.support.pki import TestPki

REDIRECT = "https://rp.example/qes-cb"


async def confirmed_only_client(settings: Settings) -> RP:
    """A client that admits confirmed accounts only, made as an operator makes one."""
    created = await run_in_process(
        cli_env(settings),
        "clients",
        "create",
        "--name",
        f"Налоговая {uuid.uuid4().hex[:6]}",
        "--redirect-uri",
        REDIRECT,
        "--min-level",
        "confirmed",
        "--no-consent",
        "--json",
    )
    out = created.json()
    return RP(out["client_id"], out["client_secret"], REDIRECT)


async def authorize(http: httpx.AsyncClient, rp: RP) -> tuple[httpx.Response, str]:
    params, verifier = auth_params(rp)
    return await http.get("/authorize?" + urlencode(params)), verifier


async def login_time(ctx: Context, account_id: uuid.UUID) -> int:
    async with ctx.db.read() as session:
        row = (
            await session.scalars(
                select(BrowserSession).where(
                    BrowserSession.account_id == account_id, BrowserSession.ended_at.is_(None)
                )
            )
        ).one()
    return int(row.auth_time.timestamp())


def cookie_max_age(response: httpx.Response, value: str) -> int:
    """The Max-Age of the Set-Cookie that sets ``value``."""
    [header] = [h for h in response.headers.get_list("set-cookie") if f"={value};" in h]
    [age] = [p.split("=", 1)[1] for p in header.split("; ") if p.lower().startswith("max-age=")]
    return int(age)


async def me_with(base_url: str, cookie: str) -> int:
    async with httpx.AsyncClient(base_url=base_url, cookies={"idp_session": cookie}) as http:
        return (await http.get("/api/v1/me")).status_code


async def state_of(ctx: Context, account_id: uuid.UUID) -> dict[str, Any]:
    async with ctx.db.read() as session:
        account = await session.get(Account, account_id, populate_existing=True)
        assert account is not None
        changes = (
            await session.scalars(select(LevelChange).where(LevelChange.account_id == account_id))
        ).all()
        audited = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.account_id == str(account_id), AuditEvent.event == "level.change"
                )
            )
        ).all()
    return {
        "level": account.level,
        "method": account.confirmation_method,
        "changes": [(c.from_level, c.to_level, c.reason, c.evidence) for c in changes],
        "audited": [a.details for a in audited],
    }


async def test_a_signature_confirms_the_account_and_the_next_token_says_so(
    qes_server: LiveServer, ctx: Context, settings: Settings, pki: TestPki, clock: OffsetClock
) -> None:
    person = await make_person(ctx, level="standard")
    rp = await confirmed_only_client(settings)
    holder = certificate_for(pki, person)
    fingerprint = hashlib.sha256(holder.certificate).hexdigest()
    api = await logged_in(qes_server.url, person)
    try:
        # Standard is not enough for this client: no code yet.
        before, _ = await authorize(api.http, rp)
        assert before.status_code == 303
        assert not before.headers["location"].startswith(REDIRECT)
        old_cookie, logged_in_at = api.session_cookie(), await login_time(ctx, person.account.id)
        assert old_cookie is not None
        mark = await last_message_id(ctx)
        clock.advance(120)  # the confirmation comes later than the login (still recent)

        got = await challenge(api)
        response = await submit(api, got["id"], signed(pki, got, holder))
        assert response.status_code == 200, response.text
        assert response.json() == {
            "level": "confirmed",
            "confirmation_method": "qes",
            "certificate_fingerprint": fingerprint,
        }
        assert response.headers["cache-control"] == "no-store"
        new_cookie = api.session_cookie()
        assert new_cookie not in (None, old_cookie)
        # The session's absolute limit still counts from the login: the cookie lasts what
        # is left of it, not a full absolute_ttl from now.
        left = settings.sessions.absolute_ttl - 120
        assert left - 10 <= cookie_max_age(response, new_cookie or "") <= left

        start, verifier = await authorize(api.http, rp)
        location = start.headers["location"]
        assert location.startswith(REDIRECT), location
        tokens = await redeem(api.http, rp, query(location)["code"], verifier)
        assert tokens.status_code == 200, tokens.text
    finally:
        await api.close()

    claims = jwt.decode(tokens.json()["id_token"], options={"verify_signature": False})
    assert claims["acr"] == "confirmed"
    assert claims["assurance_level"] == "confirmed"
    assert claims["confirmation_method"] == "qes"
    assert claims["auth_time"] == logged_in_at  # a signature is no login: max_age still counts
    assert claims["sub"] == person.account.sub

    state = await state_of(ctx, person.account.id)
    evidence = f"qes:{fingerprint}"
    assert state["level"] == "confirmed"
    assert state["method"] == "qes"
    assert ("standard", "confirmed", "qes", evidence) in state["changes"]
    [audited] = state["audited"]
    assert audited["reason"] == "qes"
    assert audited["evidence"] == evidence
    assert person.snils not in str(audited)
    row = await challenge_row(ctx, got["id"])
    assert (row.outcome, row.certificate_fingerprint) == ("confirmed", fingerprint)
    notice = await next_message(ctx, person.phone, mark)
    assert "электронной подписью" in notice.body

    assert await me_with(qes_server.url, old_cookie) == 401
    assert await me_with(qes_server.url, new_cookie or "") == 200


@pytest.mark.parametrize(
    ("other", "fields"),
    [
        (
            {"snils": "other", "surname": "Сидоров", "given_names": "Пётр Петрович"},
            ["snils", "name"],
        ),
        ({"snils": "other"}, ["snils"]),
        ({"given_names": "Иван Петрович"}, ["name"]),
        ({"snils": None}, ["snils"]),  # no SNILS in the certificate at all
    ],
)
async def test_another_persons_certificate_is_refused_with_the_fields(
    qes_server: LiveServer,
    ctx: Context,
    pki: TestPki,
    other: dict[str, Any],
    fields: list[str],
) -> None:
    person = await make_person(ctx, level="standard")
    if other.get("snils") == "other":
        other = {**other, "snils": random_snils()}
    api = await logged_in(qes_server.url, person)
    try:
        cookie = api.session_cookie()
        got = await challenge(api)
        body = problem(
            await submit(api, got["id"], signed(pki, got, certificate_for(pki, person, **other))),
            422,
            "signature-refused",
        )
        assert api.session_cookie() == cookie
    finally:
        await api.close()
    assert body["code"] == "identity-mismatch"
    assert body["fields"] == fields
    assert person.snils not in str(body)
    assert "Петров" not in str(body)
    assert await state_of(ctx, person.account.id) == {
        "level": "standard",
        "method": None,
        "changes": [],
        "audited": [],
    }
    assert (await challenge_row(ctx, got["id"])).outcome == "identity-mismatch"


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"revoked": True}, "revoked"),
        ({"untrusted": True}, "untrusted"),
        ({"expired": True}, "expired"),
    ],
)
async def test_a_refused_certificate_says_why_and_changes_nothing(
    qes_server: LiveServer, ctx: Context, pki: TestPki, options: dict[str, Any], code: str
) -> None:
    person = await make_person(ctx, level="standard")
    api = await logged_in(qes_server.url, person)
    try:
        got = await challenge(api)
        holder = certificate_for(pki, person, **options)
        body = problem(
            await submit(api, got["id"], signed(pki, got, holder)), 422, "signature-refused"
        )
    finally:
        await api.close()
    assert body["code"] == code
    assert "fields" not in body
    assert (await state_of(ctx, person.account.id))["level"] == "standard"
    assert (await challenge_row(ctx, got["id"])).outcome == code


async def test_a_replayed_signature_is_refused(
    qes_server: LiveServer, ctx: Context, pki: TestPki
) -> None:
    person = await make_person(ctx, level="standard")
    holder = certificate_for(pki, person)
    api = await logged_in(qes_server.url, person)
    try:
        first = await challenge(api)
        old = signed(pki, first, holder)
        second = await challenge(api)  # the first one ends
        # The signature over the first text does not sign the second.
        body = problem(await submit(api, second["id"], old), 422, "signature-refused")
        assert body["code"] == "digest_mismatch"
        problem(await submit(api, second["id"], old), 409, "challenge-used")
        problem(await submit(api, first["id"], old), 410, "challenge-expired")
        assert (await state_of(ctx, person.account.id))["level"] == "standard"

        third = await challenge(api)
        fresh = signed(pki, third, holder)
        assert (await submit(api, third["id"], fresh)).status_code == 200
        # The same signature once more, on its own challenge: used.
        problem(await submit(api, third["id"], fresh), 409, "challenge-used")
    finally:
        await api.close()
    state = await state_of(ctx, person.account.id)
    assert state["level"] == "confirmed"
    assert len(state["changes"]) == 1


def certificate_with(pki: TestPki, person: Any, **fields: str) -> Issued:
    """A P-256 certificate of the test PKI naming the person's verified SNILS and names, and
    ``fields`` (``ogrn``, ``innle``, ``ogrnip``, ``organization``, ``title``) besides."""
    return make_certificate(
        pki.intermediate("p256"),
        "p256",
        snils=person.snils,
        surname=SURNAME,
        given_names=GIVEN_NAMES,
        crl_url=pki.crl_url("ca-p256"),
        **fields,
    )


ORGANIZATION = {"organization": "ООО Ромашка", "title": "Генеральный директор"}


@pytest.mark.parametrize(
    "fields",
    [
        {"ogrn": "1027700132195", "innle": "7707083893", **ORGANIZATION},  # its head
        {"ogrn": "1027700132195", **ORGANIZATION},
        {"innle": "7707083893", **ORGANIZATION},  # an employee
        {"inn": "007707083893", **ORGANIZATION},  # before 2021: the INN padded to 12 digits
    ],
)
async def test_an_organizations_certificate_confirms_no_personal_account(
    qes_server: LiveServer, ctx: Context, pki: TestPki, fields: dict[str, str]
) -> None:
    person = await make_person(ctx, level="standard")
    api = await logged_in(qes_server.url, person)
    try:
        got = await challenge(api)
        holder = certificate_with(pki, person, **fields)
        body = problem(
            await submit(api, got["id"], signed(pki, got, holder)), 422, "signature-refused"
        )
    finally:
        await api.close()
    assert body["code"] == "organization-certificate"
    assert "fields" not in body
    assert (await state_of(ctx, person.account.id))["level"] == "standard"
    assert (await challenge_row(ctx, got["id"])).outcome == "organization-certificate"


async def test_a_sole_proprietors_certificate_confirms_the_account(
    qes_server: LiveServer, ctx: Context, pki: TestPki
) -> None:
    # A sole proprietor is a natural person: OGRNIP and a person's INN, no organization.
    person = await make_person(ctx, level="standard")
    api = await logged_in(qes_server.url, person)
    try:
        got = await challenge(api)
        holder = certificate_with(pki, person, ogrnip="304500116000157", inn="500100732259")
        response = await submit(api, got["id"], signed(pki, got, holder))
        assert response.status_code == 200, response.text
    finally:
        await api.close()
    assert (await state_of(ctx, person.account.id))["level"] == "confirmed"
