"""Challenges and their one use over real HTTP, on SQLite and PostgreSQL: who may ask, the
hourly cap, bad input refused before anything is touched, a replay and 30 concurrent submits
of one challenge (exactly one reaches verification)."""

from __future__ import annotations

import asyncio
import base64
from collections import Counter

import pytest

from idp.clock import OffsetClock
from idp.context import Context
from tests.integration.qes.kit import (
    CHALLENGES,
    NOT_CMS,
    challenge,
    challenge_row,
    challenges_of,
    logged_in,
    problem,
    submit,
)
from tests.support.factories import make_person
from tests.support.live import LiveServer


async def test_a_standard_account_gets_a_challenge_without_personal_data(
    server: LiveServer, ctx: Context
) -> None:
    person = await make_person(ctx, level="standard")
    api = await logged_in(server.url, person)
    try:
        got = await challenge(api)
    finally:
        await api.close()
    content = got["content"]
    assert content.startswith("idp qes confirm\n")
    assert f"account: {person.account.sub}" in content
    assert f"issuer: {ctx.settings.issuer}" in content
    assert base64.b64decode(got["content_base64"]).decode() == content
    for personal in (person.snils, person.phone, person.email, "Петров", "Иван"):
        assert personal not in content
    row = await challenge_row(ctx, got["id"])
    assert row.purpose == "confirm"
    assert row.used_at is None
    assert (row.expires_at - row.issued_at).total_seconds() == ctx.settings.signatures.challenge_ttl


@pytest.mark.parametrize(
    ("level", "slug"), [("simplified", "level-too-low"), ("confirmed", "already-confirmed")]
)
async def test_only_a_standard_account_may_ask(
    server: LiveServer, ctx: Context, level: str, slug: str
) -> None:
    person = await make_person(ctx, level=level, method="qes" if level == "confirmed" else None)
    api = await logged_in(server.url, person)
    try:
        problem(await api.post(CHALLENGES, {}), 409, slug)
    finally:
        await api.close()
    assert await challenges_of(ctx, person.account.id) == []


async def test_a_new_challenge_ends_the_earlier_ones(server: LiveServer, ctx: Context) -> None:
    person = await make_person(ctx, level="standard")
    api = await logged_in(server.url, person)
    try:
        first = await challenge(api)
        await challenge(api)
        problem(await submit(api, first["id"], NOT_CMS), 410, "challenge-expired")
    finally:
        await api.close()
    assert (await challenge_row(ctx, first["id"])).used_at is None


async def test_challenges_are_capped_per_hour(
    server: LiveServer, ctx: Context, clock: OffsetClock
) -> None:
    person = await make_person(ctx, level="standard")
    api = await logged_in(server.url, person)
    limit = ctx.settings.signatures.challenges_per_hour
    try:
        for _ in range(limit):
            await challenge(api)
        refused = await api.post(CHALLENGES, {})
        problem(refused, 429, "too-many-challenges")
        assert 0 < int(refused.headers["Retry-After"]) <= 3600
        assert len(await challenges_of(ctx, person.account.id)) == limit
        clock.advance(3601)
        # The login is old by now: log in again, and the next hour has room again.
        await api.close()
        api = await logged_in(server.url, person)
        await challenge(api)
    finally:
        await api.close()


async def test_an_expired_challenge_is_refused(
    server: LiveServer, ctx: Context, clock: OffsetClock
) -> None:
    person = await make_person(ctx, level="standard")
    api = await logged_in(server.url, person)
    try:
        got = await challenge(api)
        clock.advance(ctx.settings.signatures.challenge_ttl + 1)
        await api.close()
        api = await logged_in(server.url, person)  # the login is old by now
        problem(await submit(api, got["id"], NOT_CMS), 410, "challenge-expired")
    finally:
        await api.close()
    assert (await challenge_row(ctx, got["id"])).used_at is None


async def test_another_accounts_challenge_is_not_found(server: LiveServer, ctx: Context) -> None:
    owner = await make_person(ctx, level="standard")
    other = await make_person(ctx, level="standard")
    mine, theirs = await logged_in(server.url, owner), await logged_in(server.url, other)
    try:
        got = await challenge(mine)
        problem(await submit(theirs, got["id"], NOT_CMS), 404, "no-such-challenge")
    finally:
        await mine.close()
        await theirs.close()
    assert (await challenge_row(ctx, got["id"])).used_at is None


async def test_a_replayed_submit_is_refused(server: LiveServer, ctx: Context) -> None:
    person = await make_person(ctx, level="standard")
    api = await logged_in(server.url, person)
    try:
        got = await challenge(api)
        first = problem(await submit(api, got["id"], NOT_CMS), 422, "signature-refused")
        assert first["code"] == "malformed"
        problem(await submit(api, got["id"], NOT_CMS), 409, "challenge-used")
    finally:
        await api.close()
    row = await challenge_row(ctx, got["id"])
    assert row.used_at is not None
    assert row.outcome == "malformed"


async def test_thirty_concurrent_submits_reach_verification_once(
    server: LiveServer, ctx: Context
) -> None:
    person = await make_person(ctx, level="standard")
    api = await logged_in(server.url, person)
    try:
        got = await challenge(api)
        answers = await asyncio.gather(*(submit(api, got["id"], NOT_CMS) for _ in range(30)))
    finally:
        await api.close()
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {422: 1, 409: 29}, statuses
    for answer in answers:
        slug = "signature-refused" if answer.status_code == 422 else "challenge-used"
        problem(answer, answer.status_code, slug)
    assert (await challenge_row(ctx, got["id"])).outcome == "malformed"
