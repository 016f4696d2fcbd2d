"""Bad input to every field of ``PUT /api/v1/me/personal-data`` on a live server, on SQLite and
PostgreSQL: wrong types, empty and over-long values, characters a field cannot hold (control
characters, invisible ones, text that is not UTF-8 sent as raw bytes, overlong UTF-8), wrong
check digits, dates out of range, the age and issue-date rules. Each is a 422 problem+json
naming the field, never a 500, and nothing is written: no data, no check, no job, no audit."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from idp.context import Context
from tests.support.api_kit import Api
from tests.support.factories import Person
from tests.support.live import LiveServer
from tests.support.personal_data import PATH, foreign_body, put, put_raw, ru_body, written

# Replaced in the encoded body by bytes that are not UTF-8 (invalid, overlong, a lone surrogate
# encoded, a truncated sequence).
RAW = "\u2603RAW\u2603"
RAW_BYTES = [b"\xff\xfe", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xd0"]
TYPES: list[Any] = [123, 1.5, True, [], {}, ["a"], {"a": "b"}]
CHARACTERS = ["a\x00b", "a\x07", "two\nlines", "tab\there", "c1\x85", "\x7f", "\ud800", "x\udfffy"]
INVISIBLE = ["a\u200bb", "a\u202eb", "a\ufeffb"]

SPECIFIC: dict[str, list[Any]] = {
    "last_name": ["", " ", "Ivanova", "Петрова1", "-Петрова", "Петрова--Водкина", "П" * 101],
    "first_name": ["", "Anna", "Анна!", "А" * 101],
    "middle_name": ["Sergeevna", "Серг3евна", "С" * 101],
    "sex": ["", "Female", "other", "м"],
    "birth_date": [
        "",
        "17.05.1990",
        "1990-5-17",
        "1990-02-30",
        "１９９０-05-17",
        "2999-01-01",
        "1899-12-31",
        "2020-01-01",  # younger than 14 with a Russian passport
    ],
    "birth_place": [
        "",
        "м" * 201,
        "г. \u3164Москва",
        "г. Мос\u034fква",
        "г. Москва\ufe0f",
        "г. \u2066Москва\u2069",
        "г. Моск\u0301\u0301\u0301ва",
    ],
    "citizenship": ["", "rus", "RU", "RUSS", "123"],
    "document_kind": ["", "foreign_passport", "id_card"],
    "document_series": ["", "450", "45067", "45A6", "４５０６"],
    "document_number": ["", "12345", "1234567", "12345a"],
    "document_issued_on": [
        "",
        "2010/06/01",
        "2010-13-01",
        "2999-06-01",
        "1990-05-16",  # before birth
        "2004-05-16",  # before the 14th birthday
    ],
    "document_issuer_code": ["", "77-0001", "7700011", "770_001"],
    "document_issuer": [
        "",
        "о" * 201,
        "ОВД\u3164",
        "ОВД\u200f района",
        "ОВД \u202eанйоар",
        "ОВД\U000e0041",
        "ОВД" + "\u0336" * 3,
    ],
    "snils": ["", "43134012719", "4313401271", "431340127180", "431-340-127 1８", "snils"],
    "inn": ["7777244350", "7777244351", "773390622614", "77339062261", "77339O622613"],
}
FOREIGN_SPECIFIC: dict[str, list[Any]] = {
    "last_name": ["Müller-Петров", "Ἀθηνᾶ", "Li 2", "\u1d00nna", "\u0250nna", "Mül\u3164ler"],
    "document_kind": ["ru_passport"],
    "document_series": ["AB-12", "A" * 11],
    "document_number": ["", "A" * 21, "№123"],
    "document_issuer_code": ["770-001"],
    "snils": ["43134012719"],
    "document_issued_on": ["1985-02-02"],
}
REQUIRED = [f for f in ru_body() if f not in ("middle_name", "inn")]


@pytest.fixture
async def api(server: LiveServer, person: Person) -> AsyncIterator[Api]:
    client = Api(server.url)
    assert (await client.login(person.phone, person.password)).status_code == 200
    yield client
    await client.close()


def _encode(body: dict[str, Any], raw: bytes) -> bytes:
    text = json.dumps(body, ensure_ascii=True)
    marker = RAW.encode("ascii", "backslashreplace").decode()
    return text.replace(marker, "@@RAW@@").encode("ascii").replace(b"@@RAW@@", raw)


def _wrong(response: httpx.Response, field: str) -> str | None:
    if response.status_code != 422:
        return f"status {response.status_code}: {response.text[:300]}"
    if response.headers.get("content-type") != "application/problem+json":
        return f"content type {response.headers.get('content-type')}"
    problem = response.json()
    if not str(problem.get("type", "")).endswith("/problems/validation-failed"):
        return f"type {problem.get('type')}"
    named = [e.get("field") for e in problem.get("errors", [])]
    if field not in named:
        return f"{field} not named: {problem.get('errors')}"
    return None


async def _refusals(api: Api, base: dict[str, Any], cases: dict[str, list[Any]]) -> list[str]:
    failures: list[str] = []
    for field, values in cases.items():
        for value in values:
            wrong = _wrong(await put(api, {**base, field: value}), field)
            if wrong:
                failures.append(f"{field}={value!r}: {wrong}")
    return failures


COMMON: list[Any] = [*TYPES, *CHARACTERS, *INVISIBLE, "x" * 1001]


async def test_every_field_refuses_wrong_types_and_characters(
    api: Api, ctx: Context, person: Person
) -> None:
    before = await written(ctx, person.account.id)
    base = ru_body()
    failures = await _refusals(api, base, dict.fromkeys(base, COMMON))
    for field in base:
        for raw in RAW_BYTES:
            wrong = _wrong(await put_raw(api, _encode({**base, field: RAW}, raw)), field)
            if wrong:
                failures.append(f"{field}=raw {raw!r}: {wrong}")
            wrong = _wrong(
                await put_raw(api, _encode({**base, field: "Петрова" + RAW}, raw)), field
            )
            if wrong:
                failures.append(f"{field}=text+raw {raw!r}: {wrong}")
    assert failures == []
    assert await written(ctx, person.account.id) == before


async def test_every_field_keeps_its_rules(api: Api, ctx: Context, person: Person) -> None:
    before = await written(ctx, person.account.id)
    failures = await _refusals(api, ru_body(), SPECIFIC)
    failures += await _refusals(api, foreign_body(), FOREIGN_SPECIFIC)
    for field in REQUIRED:
        missing = {k: v for k, v in ru_body().items() if k != field}
        wrong = _wrong(await put(api, missing), field)
        if wrong:
            failures.append(f"{field} missing: {wrong}")
        wrong = _wrong(await put(api, {**ru_body(), field: None}), field)
        if wrong:
            failures.append(f"{field} null: {wrong}")
    assert failures == []
    assert await written(ctx, person.account.id) == before


async def test_bad_bodies_are_refused_and_nothing_is_written(
    api: Api, ctx: Context, person: Person
) -> None:
    before = await written(ctx, person.account.id)
    valid = json.dumps(ru_body()).encode()
    headers = {"X-CSRF-Token": api.csrf_token or ""}
    cases: list[tuple[str, bytes, str | None, int]] = [
        ("text/plain", valid, "text/plain", 415),
        ("a form", b"last_name=a", "application/x-www-form-urlencoded", 415),
        ("no content type", valid, None, 415),
        ("not JSON", b"{last_name: nope", "application/json", 422),
        ("truncated", valid[:-1], "application/json", 422),
        ("a list", b"[]", "application/json", 422),
        ("empty", b"", "application/json", 422),
        ("nested too deeply", b"[" * 5000 + b"]" * 5000, "application/json", 422),
        (
            "an unknown field",
            json.dumps({**ru_body(), "level": "standard"}).encode(),
            "application/json",
            422,
        ),
        ("UTF-16", json.dumps(ru_body()).encode("utf-16"), "application/json", 422),
    ]
    failures = []
    for name, content, content_type, status in cases:
        sent = {**headers, **({"Content-Type": content_type} if content_type else {})}
        response = await api.http.put(PATH, content=content, headers=sent)
        if response.status_code != status or not response.headers.get(
            "content-type", ""
        ).startswith("application/problem+json"):
            failures.append(f"{name}: {response.status_code} {response.text[:200]}")
    assert failures == []
    assert await written(ctx, person.account.id) == before


async def test_the_base_bodies_are_valid(api: Api, ctx: Context, person: Person) -> None:
    """The refusals above are about the bad values: each base body alone is saved."""
    for body in (ru_body(), foreign_body()):
        response = await put(api, body)
        assert response.status_code == 200, response.text
