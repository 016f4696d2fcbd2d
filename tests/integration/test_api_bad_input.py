"""Bad input on every field of the login, password and contact endpoints: wrong types, empty
and over-long values, control characters, text that is not UTF-8 (escaped and as raw bytes),
unknown fields, bad JSON and wrong content types. Every one gets a 4xx problem+json naming the
field, never a 500, and nothing is written."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from idp.context import Context
from idp.db.models import (
    Account,
    AuditEvent,
    BrowserSession,
    Contact,
    PasswordReset,
    QueuedJob,
    Registration,
    ThrottleCounter,
    Verification,
)
from tests.support.api_kit import Api, new_phone, next_code
from tests.support.factories import Person
from tests.support.live import LiveServer

RAW = "\u2603RAW\u2603"  # replaced by undecodable bytes in the encoded body
BAD_BYTES = b"\xff\xfe\xc3("
TYPES: list[Any] = [123, 1.5, True, None, [], {}, ["a"], {"a": "b"}]
CONTROL = ["abc\x00def", "abc\x07", "two\nlines", "tab\there", "c1\x85char", "\x7f"]


@dataclass
class Endpoint:
    name: str
    path: str
    body: dict[str, str]
    headers: dict[str, str]
    fields: dict[str, list[Any]]  # field -> bad values beyond the common ones


@dataclass
class World:
    api: Api
    endpoints: list[Endpoint]


def _text_cases(max_length: int) -> list[Any]:
    return [*TYPES, "", "a" * (max_length + 1), *CONTROL, "\ud800", "x\udfffy", RAW]


@pytest.fixture
async def world(server: LiveServer, ctx: Context, person: Person) -> AsyncIterator[World]:
    api = Api(server.url)
    assert (await api.login(person.phone, person.password)).status_code == 200
    pending = await api.post("/api/v1/me/contacts", {"kind": "phone", "value": new_phone()})
    assert pending.status_code == 201
    reset_response = await api.http.post("/api/v1/password-resets", json={"login": person.email})
    assert reset_response.status_code == 202
    reset = reset_response.json()
    code = ["12a456", "１２３４５６", "123", "1" * 11, " 123456", "123456\n"]
    password = _text_cases(1024)
    new_password = _text_cases(256)
    endpoints = [
        Endpoint(
            "login",
            "/api/v1/login",
            {"login": person.phone, "password": "Wrong-Password-1"},
            {},
            {"login": _text_cases(320), "password": password},
        ),
        Endpoint(
            "change password",
            "/api/v1/me/password",
            {
                "old_password": "Wrong-Password-1",
                "new_password": "Amber-Harbor-58",
                "new_password_repeat": "Amber-Harbor-58",
            },
            {},
            {
                "old_password": password,
                "new_password": new_password,
                "new_password_repeat": new_password,
            },
        ),
        Endpoint(
            "ask for a reset",
            "/api/v1/password-resets",
            {"login": person.phone},
            {},
            {"login": _text_cases(320)},
        ),
        Endpoint(
            "confirm a reset",
            f"/api/v1/password-resets/{reset['id']}/confirm",
            {
                "code": "000000",
                "new_password": "Amber-Harbor-58",
                "new_password_repeat": "Amber-Harbor-58",
            },
            {"X-Reset-Token": reset["token"]},
            {
                "code": [*TYPES, "", *CONTROL, "\ud800", RAW, *code],
                "new_password": new_password,
                "new_password_repeat": new_password,
            },
        ),
        Endpoint(
            "add a contact",
            "/api/v1/me/contacts",
            {"kind": "email", "value": "valid@example.ru"},
            {},
            {
                "kind": [*TYPES, "", "fax", "PHONE", "phone\x00", RAW],
                "value": [*_text_cases(320)[:-4], "ab", "\ud800", RAW],
            },
        ),
        Endpoint(
            "confirm a contact",
            f"/api/v1/me/contacts/{pending.json()['id']}/confirm",
            {"code": "000000"},
            {},
            {"code": [*TYPES, "", *CONTROL, "\ud800", RAW, *code]},
        ),
    ]
    yield World(api, endpoints)
    await api.close()


async def _snapshot(ctx: Context, person: Person) -> dict[str, int]:
    """Row counts that a refused request must leave alone."""
    tables: dict[str, Any] = {
        "accounts": select(func.count()).select_from(Account),
        "contacts": select(func.count()).select_from(Contact),
        "verifications": select(func.count()).select_from(Verification),
        "verification failures": select(func.coalesce(func.sum(Verification.failures), 0)),
        "notifications": select(func.count())
        .select_from(QueuedJob)
        .where(QueuedJob.kind == "notification"),
        "password resets": select(func.count()).select_from(PasswordReset),
        "registrations": select(func.count()).select_from(Registration),
        "throttle counters": select(func.count()).select_from(ThrottleCounter),
        "sessions": select(func.count())
        .select_from(BrowserSession)
        .where(BrowserSession.account_id == person.account.id),
        "audit": select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.event.not_in(["logout.backchannel", "session.ended"])),
    }
    async with ctx.db.read() as session:
        counts = {name: int(await session.scalar(stmt) or 0) for name, stmt in tables.items()}
        account = await session.get(Account, person.account.id)
        assert account is not None
        counts["password"] = hash(account.password_hash)
    return counts


def _encode(body: Any) -> bytes:
    text = json.dumps(body, ensure_ascii=True)
    return (
        text.replace(RAW.encode("ascii", "backslashreplace").decode(), "@@RAW@@")
        .encode("ascii")
        .replace(b"@@RAW@@", BAD_BYTES)
    )


async def _send(
    api: Api, endpoint: Endpoint, content: bytes, content_type: str | None = "application/json"
) -> httpx.Response:
    headers = {**endpoint.headers, "X-CSRF-Token": api.csrf_token or ""}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return await api.http.post(endpoint.path, content=content, headers=headers)


def _problem(response: httpx.Response, status: int, field: str | None) -> str | None:
    """What is wrong with the answer, or None when it is the expected problem."""
    if response.status_code != status:
        return f"status {response.status_code}: {response.text[:200]}"
    if response.headers.get("content-type") != "application/problem+json":
        return f"content type {response.headers.get('content-type')}"
    problem = response.json()
    expected = "validation-failed" if status == 422 else "unsupported-media-type"
    if (
        problem.get("type")
        != f"{response.request.url.scheme}://{response.request.url.netloc.decode()}/problems/{expected}"
    ):
        return f"type: {problem.get('type')}"
    if field is not None and field not in [e.get("field") for e in problem.get("errors", [])]:
        return f"field {field} not named: {problem.get('errors')}"
    return None


@pytest.mark.parametrize("index", range(6), ids=lambda i: f"endpoint{i}")
async def test_every_field_refuses_bad_values_and_nothing_is_written(
    world: World, ctx: Context, person: Person, index: int
) -> None:
    endpoint = world.endpoints[index]
    before = await _snapshot(ctx, person)
    failures: list[str] = []
    for field, values in endpoint.fields.items():
        for value in values:
            body = {**endpoint.body, field: value}
            response = await _send(world.api, endpoint, _encode(body))
            wrong = _problem(response, 422, field)
            if wrong:
                failures.append(f"{endpoint.name}: {field}={value!r}: {wrong}")
        missing = {k: v for k, v in endpoint.body.items() if k != field}
        wrong = _problem(await _send(world.api, endpoint, _encode(missing)), 422, field)
        if wrong:
            failures.append(f"{endpoint.name}: {field} missing: {wrong}")
    assert failures == []
    assert await _snapshot(ctx, person) == before


@pytest.mark.parametrize("index", range(6), ids=lambda i: f"endpoint{i}")
async def test_bad_bodies_and_content_types_are_refused_and_nothing_is_written(
    world: World, ctx: Context, person: Person, index: int
) -> None:
    endpoint = world.endpoints[index]
    valid = json.dumps(endpoint.body).encode()
    cases: list[tuple[str, bytes, str | None, int, str | None]] = [
        ("text/plain", valid, "text/plain", 415, None),
        ("a form", b"login=a&password=b", "application/x-www-form-urlencoded", 415, None),
        ("multipart", b"--x--", "multipart/form-data; boundary=x", 415, None),
        ("no content type", valid, None, 415, None),
        ("not JSON", b"{login: nope", "application/json", 422, None),
        ("truncated", valid[:-1], "application/json", 422, None),
        ("a list", b"[]", "application/json", 422, None),
        ("a string", b'"login"', "application/json", 422, None),
        ("nested too deeply", b"[" * 5000 + b"]" * 5000, "application/json", 422, None),
        ("empty", b"", "application/json", 422, None),
        (
            "an unknown field",
            _encode({**endpoint.body, "admin": True}),
            "application/json",
            422,
            "admin",
        ),
        (
            "a bad member name",
            _encode({**endpoint.body, "\ud800": 1}),
            "application/json",
            422,
            "body",
        ),
        (
            "raw bytes in a name",
            _encode({**endpoint.body, RAW: 1}),
            "application/json",
            422,
            "body",
        ),
        ("UTF-16", json.dumps(endpoint.body).encode("utf-16"), "application/json", 422, None),
    ]
    before = await _snapshot(ctx, person)
    failures = []
    for name, content, content_type, status, field in cases:
        wrong = _problem(await _send(world.api, endpoint, content, content_type), status, field)
        if wrong:
            failures.append(f"{endpoint.name}: {name}: {wrong}")
    assert failures == []
    assert await _snapshot(ctx, person) == before


async def test_bad_path_parameters_and_tokens_are_refused(
    world: World, ctx: Context, person: Person
) -> None:
    before = await _snapshot(ctx, person)
    body = {"code": "000000", "new_password": "Amber-Harbor-58", "new_password_repeat": "x"}
    for path in (
        "/api/v1/password-resets/not-a-uuid/confirm",
        "/api/v1/me/contacts/42/confirm",
        "/api/v1/password-resets/%FF%FE/confirm",
    ):
        response = await world.api.post(path, body)
        assert response.status_code == 422, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    for token in ("", "x" * 5000, "токен".encode()):
        response = await world.api.http.post(
            f"/api/v1/password-resets/{uuid.uuid4()}/confirm",
            json=body,
            headers={"X-Reset-Token": token},
        )
        assert response.status_code in (404, 422), response.text
    deleted = await world.api.delete("/api/v1/me/contacts/not-a-uuid")
    assert deleted.status_code == 422
    assert await _snapshot(ctx, person) == before


async def test_a_valid_request_still_works_after_all_that(
    world: World, ctx: Context, person: Person
) -> None:
    """The fixture's requests are right: each endpoint accepts its base body (so the refusals
    above are about the bad values, not about a broken base)."""
    number = new_phone()
    mark = 0
    added = await world.api.post("/api/v1/me/contacts", {"kind": "phone", "value": number})
    assert added.status_code == 201
    code = await next_code(ctx, number, mark)
    confirmed = await world.api.post(
        f"/api/v1/me/contacts/{added.json()['id']}/confirm", {"code": code}
    )
    assert confirmed.status_code == 200
    # Asking for a reset closes the fixture's open one: ask last.
    for endpoint in sorted(world.endpoints, key=lambda e: e.name == "ask for a reset"):
        response = await _send(world.api, endpoint, json.dumps(endpoint.body).encode())
        assert response.status_code in (200, 201, 202, 400, 401, 403), (
            endpoint.name,
            response.text,
        )
