"""Thirty saves of one person's data at once, on SQLite and PostgreSQL: the account's row lock
puts them in a line, so every one succeeds with its own revision (consecutive, none lost), the
stored data is the last one's, and only the last revision's checks are still open (every
earlier open check superseded). Never a 500. And twenty changes at once against a daily cap of
five: exactly five pass, the rest are 429 with Retry-After and write nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from idp.clock import OffsetClock
from idp.context import Context
from idp.db.models import PersonalData, RegistryCheck
from idp.levels.verification.rounds import OPEN_STATES
from idp.settings import Settings
from tests.support.api_kit import Api, serve_variant
from tests.support.factories import Person
from tests.support.live import LiveServer
from tests.support.personal_data import PATH, put, ru_body, written

SAVES = 30


@pytest.fixture
async def api(server: LiveServer, person: Person) -> AsyncIterator[Api]:
    client = Api(server.url)
    assert (await client.login(person.phone, person.password)).status_code == 200
    yield client
    await client.close()


async def test_thirty_saves_at_once_line_up(api: Api, ctx: Context, person: Person) -> None:
    bodies = [ru_body(snils=person.snils, document_number=f"{100000 + i}") for i in range(SAVES)]
    responses = await asyncio.gather(*(put(api, body) for body in bodies))
    assert [r.status_code for r in responses] == [200] * SAVES, [
        r.text for r in responses if r.status_code != 200
    ]
    by_revision = {r.json()["data"]["revision"]: r.json() for r in responses}
    assert sorted(by_revision) == list(range(1, SAVES + 1))
    for answer in by_revision.values():
        assert answer["changed"] is True
        assert answer["progress"]["revision"] == answer["data"]["revision"]

    last = by_revision[SAVES]
    async with ctx.db.read() as session:
        row = await session.get(PersonalData, person.account.id)
        assert row is not None
        assert row.revision == SAVES
        assert row.document_number == last["data"]["document_number"]
        checks = list(
            await session.scalars(
                select(RegistryCheck).where(RegistryCheck.account_id == person.account.id)
            )
        )
    assert len(checks) == 3 * SAVES  # person, document and INN for every revision
    open_revisions = {c.revision for c in checks if c.state in OPEN_STATES}
    assert open_revisions <= {SAVES}
    assert {c.revision for c in checks if c.state == "superseded"} <= set(range(1, SAVES))
    # The answer of the last save shows exactly its own checks.
    assert {c["id"] for c in last["progress"]["checks"]} == {
        str(c.id) for c in checks if c.revision == SAVES
    }
    got = await api.get(PATH)
    assert got.json() == last["data"]


CAP = 5
AT_ONCE = 20


async def test_the_daily_cap_on_changes_holds_under_a_burst(
    settings: Settings, clock: OffsetClock, ctx: Context, person: Person
) -> None:
    capped = settings.registries.model_copy(update={"max_changes_per_day": CAP})
    variant = serve_variant(settings, clock, registries=capped)
    client = Api(variant.url)
    try:
        assert (await client.login(person.phone, person.password)).status_code == 200
        bodies = [
            ru_body(snils=person.snils, document_number=f"{200000 + i}") for i in range(AT_ONCE)
        ]
        responses = await asyncio.gather(*(put(client, body) for body in bodies))
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] * CAP + [429] * (AT_ONCE - CAP), [r.text for r in responses]
        for refused in (r for r in responses if r.status_code == 429):
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["type"].endswith("/problems/too-many-changes")
            assert 0 < int(refused.headers["Retry-After"]) <= 86400
        before = await written(ctx, person.account.id, with_level_history=False)
        assert before["revision"] == CAP

        # Saving what is saved is no change and never refused.
        last = next(
            body
            for body, r in zip(bodies, responses, strict=True)
            if r.status_code == 200 and r.json()["data"]["revision"] == CAP
        )
        same = await put(client, last)
        assert same.status_code == 200, same.text
        assert same.json()["changed"] is False
        one_more = await put(client, ru_body(snils=person.snils, document_number="299999"))
        assert one_more.status_code == 429
        assert await written(ctx, person.account.id, with_level_history=False) == before

        clock.advance(86400 + 1)  # a day later the window starts again
        assert (await client.login(person.phone, person.password)).status_code == 200
        later = await put(client, ru_body(snils=person.snils, document_number="299999"))
        assert later.status_code == 200, later.text
        assert later.json()["data"]["revision"] == CAP + 1
    finally:
        await client.close()
        variant.stop()
