"""The way to the standard level as a person and a relying party live it, over real HTTP: the
person saves their data through the REST API, the test server's own workers ask the registry
simulator (a real server on a free port) through the ``http`` verifier, and the person watches
``/api/v1/me/verifications``. On SQLite and PostgreSQL: a mismatch at the pension fund, a slow
registry, a change of passport after standard (the level drops at once, comes back when the
new passport is confirmed, and the relying party sees each level at the next refresh), and a
registry that never answers (the checks time out; saving the same data again asks again)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest

from idp.clock import OffsetClock
from idp.context import Context
from tests.support.api_kit import Api
from tests.support.browser import Browser
from tests.support.factories import Person, make_rp
from tests.support.flows import log_in, redeem
from tests.support.live import LiveServer
from tests.support.logout_kit import wait_until
from tests.support.personal_data import put, ru_body
from tests.support.registry_kit import configure, reset
from tests.support.token_kit import refreshed

PROGRESS = "/api/v1/me/verifications"
SEEDED_SNILS = "08765430300"  # the simulator's Петров Пётр Петрович, male, 1980-05-05


@pytest.fixture
async def api(server: LiveServer, person: Person, registry_sim: LiveServer) -> AsyncIterator[Api]:
    await reset(registry_sim.url)
    client = Api(server.url)
    assert (await client.login(person.phone, person.password)).status_code == 200
    yield client
    await client.close()
    await reset(registry_sim.url)


async def settled(api: Api, *, within: float = 30.0) -> dict[str, Any]:
    """The progress once every check of the current revision has settled."""
    latest: dict[str, Any] = {}

    async def done() -> bool:
        nonlocal latest
        latest = (await api.get(PROGRESS)).json()
        return bool(latest["settled"])

    await wait_until(done, "the registry checks to settle", within=within)
    return latest


def acr(tokens: dict[str, Any]) -> str:
    claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    return str(claims["acr"])


async def test_a_mismatch_at_the_pension_fund_names_the_fields_and_the_level_stays(
    api: Api, ctx: Context, person: Person
) -> None:
    # The seeded person is Петров Пётр Петрович, male, born 1980-05-05: this is somebody else.
    body = ru_body(snils=None, inn=None)
    body["snils"] = SEEDED_SNILS
    saved = await put(api, body)
    if saved.status_code == 409:  # another test's account verified the seeded SNILS
        pytest.fail("the seeded SNILS is verified on another account: " + saved.text)
    assert saved.status_code == 200, saved.text

    progress = await settled(api)
    checks = {c["kind"]: c for c in progress["checks"]}
    assert checks["person"]["state"] == "failed"
    assert checks["person"]["reason"] == "person_mismatch"
    assert {"last_name", "first_name", "middle_name", "sex", "birth_date"} <= set(
        checks["person"]["fields"]
    )
    assert checks["document"]["state"] == "succeeded"
    assert progress["level"] == "simplified"
    assert (await api.get("/api/v1/me/level-history")).json() == {"changes": []}


async def test_a_slow_registry_keeps_the_person_waiting_then_standard(
    api: Api, person: Person, registry_sim: LiveServer
) -> None:
    await configure(registry_sim.url, latency=2.0)
    saved = await put(api, ru_body(snils=person.snils))
    assert saved.status_code == 200, saved.text

    seen: set[str] = set()

    async def waiting() -> bool:
        progress = (await api.get(PROGRESS)).json()
        seen.update(c["state"] for c in progress["checks"])
        return "waiting" in seen

    await wait_until(waiting, "a check to wait for the slow registry", within=15)
    assert (await api.get(PROGRESS)).json()["level"] == "simplified"
    progress = await settled(api)
    assert {c["state"] for c in progress["checks"]} == {"succeeded"}
    assert progress["level"] == "standard"


async def test_a_new_passport_drops_the_level_until_it_is_confirmed_and_the_rp_sees_both(
    api: Api, ctx: Context, person: Person, browser: Browser, registry_sim: LiveServer
) -> None:
    body = ru_body(snils=person.snils)
    assert (await put(api, body)).status_code == 200
    assert (await settled(api))["level"] == "standard"

    rp = await make_rp(ctx, require_consent=False)
    callback, verifier, _ = await log_in(browser, rp, person)
    first = await redeem(browser.http, rp, callback["code"], verifier)
    assert first.status_code == 200, first.text
    tokens = first.json()
    assert acr(tokens) == "standard"

    # A new passport (replaced at 20 and 45): the old checks no longer speak for the data.
    # The registry answers slowly, so that the relying party refreshes in between.
    await configure(registry_sim.url, latency=3.0)
    changed = await put(
        api, {**body, "document_number": "654321", "document_issued_on": "2015-06-01"}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["progress"]["level"] == "simplified"
    history = (await api.get("/api/v1/me/level-history")).json()["changes"]
    assert history[0]["from_level"] == "standard"
    assert history[0]["to_level"] == "simplified"
    assert history[0]["reason"] == "data_changed"

    between = await refreshed(browser.http, rp, tokens["refresh_token"])
    assert acr(between) == "simplified"

    progress = await settled(api)
    assert progress["level"] == "standard"
    assert progress["revision"] == 2
    history = (await api.get("/api/v1/me/level-history")).json()["changes"]
    assert [(h["from_level"], h["to_level"], h["reason"]) for h in history[:2]] == [
        ("simplified", "standard", "registry_checks"),
        ("standard", "simplified", "data_changed"),
    ]
    # The relying party learns the level at the next refresh, whichever it is now.
    again = await refreshed(browser.http, rp, between["refresh_token"])
    assert acr(again) == "standard"


async def test_a_registry_that_never_answers_times_out_and_an_unchanged_save_asks_again(
    api: Api, ctx: Context, person: Person, registry_sim: LiveServer, clock: OffsetClock
) -> None:
    await configure(registry_sim.url, latency=3600.0)  # it takes the request, never answers
    body = ru_body(snils=person.snils, inn=None)
    assert (await put(api, body)).status_code == 200

    async def waiting() -> bool:
        progress = (await api.get(PROGRESS)).json()
        return {c["state"] for c in progress["checks"]} == {"waiting"}

    await wait_until(waiting, "both checks to wait for the registry", within=15)
    clock.advance(ctx.settings.registries.retry_period + 1)
    assert (await api.login(person.phone, person.password)).status_code == 200  # a week later
    progress = await settled(api)
    assert {(c["state"], c["reason"]) for c in progress["checks"]} == {
        ("failed", "registry_timeout")
    }
    assert progress["level"] == "simplified"

    # The advice says: save the same data again. The same checks are asked again (same ids).
    await configure(registry_sim.url, latency=0.0)
    again = await put(api, body)
    assert again.status_code == 200, again.text
    assert again.json()["changed"] is False
    progress = await settled(api)
    assert {(c["state"], c["reason"]) for c in progress["checks"]} == {("succeeded", None)}
    assert {c["id"] for c in progress["checks"]} == {
        c["id"] for c in again.json()["progress"]["checks"]
    }
    assert progress["level"] == "standard"
