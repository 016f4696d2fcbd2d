"""Bad input to the confirmation endpoints on a live server, on SQLite and PostgreSQL: each is a
problem+json (never a 500) and writes nothing: the challenge stays unused, the level as it
was."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from typing import Any

import httpx
import pytest

from idp.context import Context
from idp.db.models import Account
from idp.levels.qes.errors import BadSignatureInput
from idp.levels.qes.schemas import MAX_SIGNATURE_TEXT
from idp.levels.qes.submission import decode_submission
from tests.integration.qes.kit import (
    CHALLENGES,
    CONFIRMATIONS,
    NOT_CMS,
    challenge,
    challenge_row,
    logged_in,
    problem,
)
from tests.support.factories import make_person
from tests.support.live import LiveServer

BIG = base64.b64encode(b"\x30" + b"\x00" * (300 * 1024)).decode()
BODIES: list[Any] = [
    {},
    {"signature": NOT_CMS},
    {"challenge_id": None, "signature": NOT_CMS},
    {"challenge_id": "not-a-uuid", "signature": NOT_CMS},
    {"challenge_id": 12, "signature": NOT_CMS},
    {"challenge_id": "{id}"},
    {"challenge_id": "{id}", "signature": ""},
    {"challenge_id": "{id}", "signature": 42},
    {"challenge_id": "{id}", "signature": ["a"]},
    {"challenge_id": "{id}", "signature": "not base64 at all!"},
    {"challenge_id": "{id}", "signature": "AAAA"},  # base64, but no DER structure
    {"challenge_id": "{id}", "signature": "-----BEGIN PKCS7-----\n%%%\n-----END PKCS7-----"},
    {"challenge_id": "{id}", "signature": "\x00\x01"},
    {"challenge_id": "{id}", "signature": "\u200b"},
    {"challenge_id": "{id}", "signature": BIG},
    {"challenge_id": "{id}", "signature": NOT_CMS, "certificates": "x"},
    {"challenge_id": "{id}", "signature": NOT_CMS, "certificates": ["!!"]},
    {"challenge_id": "{id}", "signature": NOT_CMS, "certificates": [NOT_CMS] * 9},
    {"challenge_id": "{id}", "signature": NOT_CMS, "extra": 1},
    [],
    "text",
]


def _fill(body: Any, challenge_id: str) -> Any:
    if isinstance(body, dict):
        return {k: (challenge_id if v == "{id}" else v) for k, v in body.items()}
    return body


@pytest.mark.parametrize("index", range(len(BODIES)))
async def test_bad_submissions_write_nothing(server: LiveServer, ctx: Context, index: int) -> None:
    person = await make_person(ctx, level="standard")
    api = await logged_in(server.url, person)
    try:
        got = await challenge(api)
        response = await api.post(CONFIRMATIONS, _fill(BODIES[index], got["id"]))
        assert 400 <= response.status_code < 500, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    finally:
        await api.close()
    row = await challenge_row(ctx, got["id"])
    assert row.used_at is None
    assert row.outcome is None
    async with ctx.db.read() as session:
        account = await session.get(Account, person.account.id)
    assert account is not None
    assert account.level == "standard"


async def test_bytes_that_are_not_utf8_and_other_media_types(
    server: LiveServer, ctx: Context
) -> None:
    person = await make_person(ctx, level="standard")
    api = await logged_in(server.url, person)
    try:
        got = await challenge(api)
        raw = b'{"challenge_id": "' + got["id"].encode() + b'", "signature": "\xff\xfe"}'
        headers = {"Content-Type": "application/json", "X-CSRF-Token": api.csrf_token or ""}
        answer = await api.http.post(CONFIRMATIONS, content=raw, headers=headers)
        problem(answer, 422, "validation-failed")
        headers["Content-Type"] = "text/plain"
        problem(
            await api.http.post(CONFIRMATIONS, content=b"x", headers=headers),
            415,
            "unsupported-media-type",
        )
    finally:
        await api.close()
    assert (await challenge_row(ctx, got["id"])).used_at is None


async def test_without_csrf_or_login_nothing_happens(server: LiveServer, ctx: Context) -> None:
    person = await make_person(ctx, level="standard")
    api = await logged_in(server.url, person)
    try:
        got = await challenge(api)
        bare = {"challenge_id": got["id"], "signature": NOT_CMS}
        problem(await api.http.post(CONFIRMATIONS, json=bare), 403, "csrf-failed")
        problem(await api.http.post(CHALLENGES, json={}), 403, "csrf-failed")
    finally:
        await api.close()
    async with __import__("httpx").AsyncClient(base_url=server.url) as anonymous:
        problem(await anonymous.post(CHALLENGES, json={}), 401, "not-authenticated")
    assert (await challenge_row(ctx, got["id"])).used_at is None


async def test_a_long_signature_is_a_field_error_and_a_huge_body_is_413(
    server: LiveServer, ctx: Context
) -> None:
    person = await make_person(ctx, level="standard")
    api = await logged_in(server.url, person)
    try:
        got = await challenge(api)
        long = "A" * (61 * 1024)  # over the field's limit, under the body's 64 KiB
        body = problem(
            await api.post(CONFIRMATIONS, {"challenge_id": got["id"], "signature": long}),
            422,
            "validation-failed",
        )
        assert body["errors"][0]["field"] == "signature"
        problem(
            await api.post(CONFIRMATIONS, {"challenge_id": got["id"], "signature": BIG}),
            413,
            "content-too-large",
        )
    finally:
        await api.close()
    assert (await challenge_row(ctx, got["id"])).used_at is None


# Texts a PEM pattern searching with a lazy ".*?" takes seconds on (quadratic in the length):
# a BEGIN marker over and over, with no END after it, and the like.
MARKERS = ("-----BEGIN A-----", "-----BEGIN ", "-----END A-----", "-----BEGIN A-----\nQUJD\n")
PEM_FLOODS = [(m * (MAX_SIGNATURE_TEXT // len(m)))[:MAX_SIGNATURE_TEXT] for m in MARKERS]


@pytest.mark.parametrize("flood", range(len(PEM_FLOODS)))
def test_pem_markers_are_decoded_in_linear_time(flood: int) -> None:
    text = PEM_FLOODS[flood]
    for signature, certificates in ((text, []), (NOT_CMS, [text])):
        started = time.perf_counter()
        with pytest.raises(BadSignatureInput):
            decode_submission(signature, certificates, max_bytes=64 * 1024)
        assert time.perf_counter() - started < 0.1


async def test_a_body_of_pem_markers_is_refused_at_once_and_the_server_keeps_answering(
    server: LiveServer, ctx: Context
) -> None:
    # Any logged-in account can post this, before a challenge is claimed or anything counted.
    person = await make_person(ctx)
    api = await logged_in(server.url, person)
    body = {"challenge_id": str(uuid.uuid4()), "signature": PEM_FLOODS[0]}

    async def flood() -> tuple[httpx.Response, float]:
        started = time.perf_counter()
        response = await api.post(CONFIRMATIONS, body)
        return response, time.perf_counter() - started

    async def health(probe: httpx.AsyncClient) -> float:
        await asyncio.sleep(0.02)  # while the flood is in the server
        started = time.perf_counter()
        assert (await probe.get("/healthz")).status_code == 200
        return time.perf_counter() - started

    try:
        async with httpx.AsyncClient(base_url=server.url) as probe:
            (response, took), health_took = await asyncio.gather(flood(), health(probe))
    finally:
        await api.close()
    problem(response, 422, "validation-failed")
    assert took < 0.5
    assert health_took < 0.5


def test_pem_with_text_around_it_is_read_and_a_torn_block_is_not() -> None:
    der = base64.b64decode(NOT_CMS)
    pem = f"-----BEGIN PKCS7-----\n{NOT_CMS}\n-----END PKCS7-----\n"
    assert decode_submission(f"subject=CN=x\n{pem}", [pem], max_bytes=1024).signature == der
    url_safe = base64.urlsafe_b64encode(b"\x30\x02\xfb\xff").decode()
    assert decode_submission(url_safe, [], max_bytes=1024).signature == b"\x30\x02\xfb\xff"
    for torn in (
        pem.replace("END PKCS7", "END CMS"),  # the labels differ
        pem.replace("-----END PKCS7-----", ""),
        f"-----BEGIN PKCS7-----\n{url_safe}\n-----END PKCS7-----",  # PEM is standard base64
        f"-----BEGIN pkcs7-----\n{NOT_CMS}\n-----END pkcs7-----",
    ):
        with pytest.raises(BadSignatureInput):
            decode_submission(torn, [], max_bytes=1024)
