"""A round run by the test server's own workers, through the ``http`` verifier against the
registry simulator: the account becomes standard, and a client that demands the standard level
now admits it, its tokens saying ``acr=standard``."""

from __future__ import annotations

import jwt
import pytest

from idp.context import Context
from idp.db.models import Account
from tests.support.browser import Browser
from tests.support.checks_kit import (
    checks_of,
    level_history,
    level_of,
    new_subject,
    start,
    wait_settled,
)
from tests.support.factories import Person, make_rp
from tests.support.flows import log_in, redeem
from tests.support.job_kit import job_row
from tests.support.live import LiveServer
from tests.support.logout_kit import wait_until
from tests.support.registry_kit import configure, reset, stats


async def test_checks_passed_at_the_registries_admit_the_person_to_a_standard_client(
    ctx: Context, browser: Browser, registry_sim: LiveServer
) -> None:
    await reset(registry_sim.url)
    subject = await new_subject(ctx)
    rp = await make_rp(ctx, min_level="standard", require_consent=False)
    ids = await start(ctx, subject)

    async def standard() -> bool:
        return await level_of(ctx, subject.account_id) == "standard"

    await wait_until(standard, "the server's workers to promote the account", within=30)
    assert {(c.state, c.reason) for c in await checks_of(ctx, subject.account_id)} == {
        ("succeeded", None)
    }
    assert len(await level_history(ctx, subject.account_id)) == 1
    by_key = (await stats(registry_sim.url))["by_key"]
    assert all(by_key.get(str(i)) == 1 for i in ids), by_key

    async with ctx.db.read() as session:
        account = await session.get(Account, subject.account_id)
    assert account is not None
    person = Person(account, subject.phone, subject.email, subject.snils)
    callback, verifier, _ = await log_in(browser, rp, person)
    response = await redeem(browser.http, rp, callback["code"], verifier)
    assert response.status_code == 200, response.text
    claims = jwt.decode(response.json()["id_token"], options={"verify_signature": False})
    assert claims["acr"] == "standard"


@pytest.mark.parametrize(
    ("snils", "passport", "failed"),
    [
        ("02237015400", None, ("person", "person_deceased")),
        (None, ("4506", "000001"), ("document", "document_invalid")),
        (None, ("4506", "000002"), ("document", "document_lost")),
    ],
    ids=["deceased", "passport-invalid", "passport-lost"],
)
async def test_a_registry_that_says_no_over_http_fails_the_check(
    ctx: Context,
    registry_sim: LiveServer,
    snils: str | None,
    passport: tuple[str, str] | None,
    failed: tuple[str, str],
) -> None:
    await reset(registry_sim.url)
    subject = await new_subject(ctx, snils=snils, passport=passport)
    await start(ctx, subject)
    await wait_settled(ctx, subject.account_id)
    reasons = {c.kind: c.reason for c in await checks_of(ctx, subject.account_id)}
    assert (failed[0], reasons[failed[0]]) == failed
    assert await level_of(ctx, subject.account_id) == "simplified"


async def test_the_registry_down_for_a_while_and_back(
    ctx: Context, registry_sim: LiveServer
) -> None:
    await reset(registry_sim.url)
    await configure(registry_sim.url, outage_seconds=6.0)  # longer than the adapter's own retries
    subject = await new_subject(ctx)
    ids = await start(ctx, subject)

    async def noted() -> bool:
        rows = await checks_of(ctx, subject.account_id)
        return any(r.reason == "registry_unavailable" for r in rows)

    await wait_until(noted, "a check to note the outage", within=10)
    await wait_settled(ctx, subject.account_id)
    assert await level_of(ctx, subject.account_id) == "standard"
    found = await stats(registry_sim.url)
    assert found["failures"] >= 1
    assert found["submits"]["person"] == found["submits"]["document"] == 1
    for check in await checks_of(ctx, subject.account_id):
        assert check.reason is None
        job = await job_row(ctx.db, check.job_id)  # type: ignore[arg-type]
        assert job.attempts >= 2  # refused (the outage was noted), then through
    assert sorted(found["by_key"]) == sorted(map(str, ids))
