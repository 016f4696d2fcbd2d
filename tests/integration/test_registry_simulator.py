"""The registry simulator over real HTTP: every seeded outcome, field-by-field comparison,
latency, injected failures, outage windows, idempotency, bad input and concurrent submits."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any

import httpx
import pytest

from idp.levels.simulator import SimulatorConfig, build_app
from idp.levels.verifiers.protocol import CheckKind, Query, Verdict
from tests.support import registry_kit
from tests.support.live import LiveServer, free_port

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def sim() -> Iterator[LiveServer]:
    live = LiveServer(build_app(), free_port()).start()
    yield live
    live.stop()


@pytest.fixture
async def http(sim: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    await registry_kit.reset(sim.url)
    async with httpx.AsyncClient(base_url=sim.url, timeout=10) as client:
        yield client


def body(query: Query) -> dict[str, Any]:
    return {
        k: v.isoformat() if isinstance(v, date) else v for k, v in dataclasses.asdict(query).items()
    }


async def submit(
    http: httpx.AsyncClient, kind: str, payload: dict[str, Any], key: str = "k-1"
) -> httpx.Response:
    return await http.post(f"/v1/{kind}/requests", json=payload, headers={"Idempotency-Key": key})


async def verdict_of(http: httpx.AsyncClient, kind: CheckKind, query: Query) -> dict[str, Any]:
    sent = await submit(http, kind.value, body(query), key=f"k-{time.monotonic_ns()}")
    assert sent.status_code == 202, sent.text
    got = await http.get(f"/v1/{kind.value}/requests/{sent.json()['reference']}")
    assert got.status_code == 200, got.text
    answer: dict[str, Any] = got.json()
    return answer


@pytest.mark.parametrize(
    ("kind", "verdict"),
    list(registry_kit.SEEDED),
    ids=[f"{k.value}-{v.value}" for k, v in registry_kit.SEEDED],
)
async def test_every_seeded_outcome(
    http: httpx.AsyncClient, kind: CheckKind, verdict: Verdict
) -> None:
    answer = await verdict_of(http, kind, registry_kit.SEEDED[(kind, verdict)])
    assert answer["status"] == verdict.value
    expected = {
        (CheckKind.PERSON, Verdict.MISMATCH): ["first_name", "sex"],
        (CheckKind.DOCUMENT, Verdict.MISMATCH): ["birth_date"],
        (CheckKind.INN, Verdict.MISMATCH): ["inn"],
    }.get((kind, verdict), [])
    assert answer["fields"] == expected


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("last_name", "Петрова"),
        ("first_name", "Павел"),
        ("middle_name", None),
        ("sex", "female"),
        ("birth_date", date(1980, 5, 6)),
    ],
)
async def test_the_pension_fund_compares_field_by_field(
    http: httpx.AsyncClient, field: str, value: Any
) -> None:
    query = registry_kit.person(**{field: value})
    answer = await verdict_of(http, CheckKind.PERSON, query)
    assert answer == {"status": "mismatch", "fields": [field]}


async def test_case_and_yo_do_not_make_a_mismatch(http: httpx.AsyncClient) -> None:
    query = registry_kit.person(last_name="ПЕТРОВ", first_name="Петр", middle_name=" петрович ")
    assert await verdict_of(http, CheckKind.PERSON, query) == {"status": "match", "fields": []}


async def test_data_not_in_the_seeds_matches_unless_told_otherwise(
    http: httpx.AsyncClient, sim: LiveServer
) -> None:
    stranger = registry_kit.person("11111111145", last_name="Сидоров")
    assert (await verdict_of(http, CheckKind.PERSON, stranger))["status"] == "match"
    await registry_kit.configure(sim.url, accept_unknown=False)
    assert (await verdict_of(http, CheckKind.PERSON, stranger))["status"] == "unknown"
    # Seeded entries answer as seeded either way.
    assert (await verdict_of(http, CheckKind.PERSON, registry_kit.person()))["status"] == "match"


async def test_an_answer_is_pending_for_the_latency(
    http: httpx.AsyncClient, sim: LiveServer
) -> None:
    await registry_kit.configure(sim.url, latency=3600)
    sent = await submit(http, "person", body(registry_kit.person()))
    url = f"/v1/person/requests/{sent.json()['reference']}"
    assert (await http.get(url)).json() == {"status": "pending"}
    await registry_kit.configure(sim.url, latency=0)
    assert (await http.get(url)).json() == {"status": "match", "fields": []}
    assert (await registry_kit.stats(sim.url))["polls"] == 2


async def test_a_failure_rate_of_one_answers_503_everywhere_but_admin(
    http: httpx.AsyncClient, sim: LiveServer
) -> None:
    sent = await submit(http, "inn", body(registry_kit.inn()))
    reference = sent.json()["reference"]
    await registry_kit.configure(sim.url, failure_rate=1.0)
    for response in (
        await submit(http, "inn", body(registry_kit.inn()), key="k-2"),
        await http.get(f"/v1/inn/requests/{reference}"),
        await http.post(f"/v1/inn/requests/{reference}/ack", json={}),
    ):
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.headers["content-type"] == PROBLEM
    stats = await registry_kit.stats(sim.url)
    assert stats["failures"] == 3
    assert stats["submits"]["inn"] == 1


async def test_an_outage_window_then_back(http: httpx.AsyncClient, sim: LiveServer) -> None:
    config = await registry_kit.configure(sim.url, outage_seconds=3600)
    assert 3590 < config["outage_seconds"] <= 3600
    down = await submit(http, "person", body(registry_kit.person()))
    assert down.status_code == 503
    assert 3590 < int(down.headers["retry-after"]) <= 3600
    # A short outage ends by itself.
    await registry_kit.configure(sim.url, outage_seconds=0.3)
    deadline = time.monotonic() + 10
    payload = body(registry_kit.person())
    while (response := await submit(http, "person", payload)).status_code == 503:
        assert response.headers["retry-after"] == "1"
        assert time.monotonic() < deadline, "the outage never ended"
        await asyncio.sleep(0.05)
    assert response.status_code == 202
    assert (await registry_kit.configure(sim.url))["outage_seconds"] is None


async def test_an_outage_configured_at_start_ends() -> None:
    live = LiveServer(build_app(SimulatorConfig(outages=((0.0, 0.3),))), free_port()).start()
    try:
        async with httpx.AsyncClient(base_url=live.url) as client:
            deadline = time.monotonic() + 10
            seen_down = False
            while (await submit(client, "inn", body(registry_kit.inn()))).status_code == 503:
                seen_down = True
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            assert seen_down or (await registry_kit.stats(live.url))["failures"] == 0
    finally:
        live.stop()


async def test_one_idempotency_key_is_one_request(http: httpx.AsyncClient, sim: LiveServer) -> None:
    first = await submit(http, "document", body(registry_kit.document()), key="check-1")
    again = await submit(http, "document", body(registry_kit.document()), key="check-1")
    other = await submit(http, "document", body(registry_kit.document()), key="check-2")
    elsewhere = await submit(http, "inn", body(registry_kit.inn()), key="check-1")
    assert (first.status_code, again.status_code, other.status_code) == (202, 200, 202)
    assert again.json() == first.json()
    assert other.json() != first.json()
    assert elsewhere.json() != first.json()  # keys are per registry
    stats = await registry_kit.stats(sim.url)
    assert stats["submits"] == {"person": 0, "document": 2, "inn": 1}
    assert stats["by_key"] == {"check-1": 3, "check-2": 1}


async def test_concurrent_submits_with_one_key_make_one_request(
    http: httpx.AsyncClient, sim: LiveServer
) -> None:
    payload = body(registry_kit.person())
    responses = await asyncio.gather(
        *(submit(http, "person", payload, key="same") for _ in range(20))
    )
    assert {r.json()["reference"] for r in responses} == {responses[0].json()["reference"]}
    assert sorted(r.status_code for r in responses) == [200] * 19 + [202]
    stats = await registry_kit.stats(sim.url)
    assert stats["submits"]["person"] == 1
    assert stats["by_key"] == {"same": 20}


async def test_acknowledge_is_idempotent_and_the_answer_stays(http: httpx.AsyncClient) -> None:
    reference = (await submit(http, "person", body(registry_kit.person()))).json()["reference"]
    for _ in range(2):
        acked = await http.post(f"/v1/person/requests/{reference}/ack", json={})
        assert acked.status_code == 204
    # A worker that died after the ack may ask again.
    assert (await http.get(f"/v1/person/requests/{reference}")).json()["status"] == "match"


@pytest.mark.parametrize(
    "path",
    [
        "/v1/person/requests/person-unknown",
        "/v1/inn/requests/{reference}",  # another registry's reference
        "/v1/person/requests/person-unknown/ack",
        "/v1/pension/requests/x",
    ],
)
async def test_an_unknown_reference_or_registry_is_404(http: httpx.AsyncClient, path: str) -> None:
    reference = (await submit(http, "person", body(registry_kit.person()))).json()["reference"]
    path = path.format(reference=reference)
    response = await (http.post(path, json={}) if path.endswith("/ack") else http.get(path))
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


PERSON = body(registry_kit.person())


@pytest.mark.parametrize(
    ("content", "headers", "fields"),
    [
        (b"not json", {}, ["body"]),
        (b"[1, 2]", {}, ["body"]),
        ({**PERSON, "snils": "0876543030"}, {}, ["snils"]),
        ({**PERSON, "snils": 8765430300}, {}, ["snils"]),
        ({**PERSON, "birth_date": "05.05.1980"}, {}, ["birth_date"]),
        ({**PERSON, "birth_date": 326246400}, {}, ["birth_date"]),
        ({**PERSON, "birth_date": "1980-02-30"}, {}, ["birth_date"]),
        ({**PERSON, "sex": "m"}, {}, ["sex"]),
        ({**PERSON, "last_name": "П" * 101}, {}, ["last_name"]),
        ({**PERSON, "last_name": ""}, {}, ["last_name"]),
        ({k: v for k, v in PERSON.items() if k != "first_name"}, {}, ["first_name"]),
        ({**PERSON, "passport": "4506"}, {}, ["passport"]),
        (PERSON, {"Idempotency-Key": ""}, ["Idempotency-Key"]),
        (PERSON, {"Idempotency-Key": "k" * 201}, ["Idempotency-Key"]),
    ],
    ids=[
        "not-json",
        "array",
        "short-snils",
        "number-snils",
        "dotted-date",
        "timestamp-date",
        "impossible-date",
        "sex",
        "long-name",
        "empty-name",
        "missing-name",
        "extra-field",
        "empty-key",
        "long-key",
    ],
)
async def test_bad_input_is_400_problem_json_and_changes_nothing(
    http: httpx.AsyncClient,
    sim: LiveServer,
    content: Any,
    headers: dict[str, str],
    fields: list[str],
) -> None:
    send = {"Idempotency-Key": "bad-1", **headers}
    if isinstance(content, bytes):
        send["content-type"] = "application/json"  # JSON as declared, not as sent
        response = await http.post("/v1/person/requests", content=content, headers=send)
    else:
        response = await http.post("/v1/person/requests", json=content, headers=send)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 400
    assert [e["field"] for e in problem["errors"]] == fields
    assert "0876543030" not in response.text  # the value sent is not echoed
    stats = await registry_kit.stats(sim.url)
    assert stats["submits"] == {"person": 0, "document": 0, "inn": 0}


@pytest.mark.parametrize(
    "change",
    [
        {"latency": -1},
        {"failure_rate": 1.5},
        {"outage_seconds": 0},
        {"speed": 1},
        {"latency": None},
        '{"response_delay": Infinity}',
        '{"latency": NaN}',
        '{"outage_seconds": -Infinity}',
        '{"outage_seconds": Infinity}',
        {"response_delay": 601},
        {"latency": 86401},
        {"outage_seconds": 86401},
    ],
    ids=[
        "negative-latency",
        "rate-above-one",
        "empty-outage",
        "unknown",
        "null",
        "infinite-delay",
        "nan-latency",
        "minus-infinite-outage",
        "infinite-outage",
        "delay-too-long",
        "latency-too-long",
        "outage-too-long",
    ],
)
async def test_bad_admin_config_is_400_and_changes_nothing(
    http: httpx.AsyncClient, change: dict[str, Any] | str
) -> None:
    before = (await http.get("/admin/config")).json()
    # JSON as Python's json module reads it (Infinity and NaN included), sent as it is.
    raw = change if isinstance(change, str) else json.dumps(change)
    response = await http.put(
        "/admin/config", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert (await http.get("/admin/config")).json() == before


async def test_reset_restores_the_start_config_and_zeroes_stats(
    http: httpx.AsyncClient, sim: LiveServer
) -> None:
    start = (await http.get("/admin/config")).json()
    await registry_kit.configure(sim.url, latency=5, failure_rate=0.5, outage_seconds=60)
    await registry_kit.reset(sim.url)
    assert (await http.get("/admin/config")).json() == start
    await submit(http, "person", body(registry_kit.person()))
    await registry_kit.reset(sim.url)
    stats = await registry_kit.stats(sim.url)
    assert stats == {
        "submits": {"person": 0, "document": 0, "inn": 0},
        "by_key": {},
        "polls": 0,
        "acks": 0,
        "failures": 0,
    }


# --- cross-site posts, and how many requests are kept ----------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
    ids=["none", "text-plain", "form", "multipart"],
)
async def test_every_post_and_put_wants_json(
    http: httpx.AsyncClient, sim: LiveServer, content_type: str | None
) -> None:
    """A cross-site form post (no preflight: text/plain, a form) reaches nothing: 415."""
    reference = (await submit(http, "person", body(registry_kit.person()))).json()["reference"]
    await registry_kit.configure(sim.url, latency=7)
    before = await registry_kit.stats(sim.url)
    headers = {"Idempotency-Key": "k-415"}
    if content_type is not None:
        headers["content-type"] = content_type
    payload = json.dumps(body(registry_kit.person())).encode()
    calls = [
        ("POST", "/v1/person/requests", payload),
        ("POST", f"/v1/person/requests/{reference}/ack", b"{}"),
        ("PUT", "/admin/config", b'{"latency": 0, "failure_rate": 1}'),
        ("POST", "/admin/reset", b"{}"),
    ]
    for method, path, content in calls:
        response = await http.request(method, path, content=content, headers=headers)
        assert response.status_code == 415, (path, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["title"] == "Content-Type must be application/json"
    config = (await http.get("/admin/config")).json()
    assert (config["latency"], config["failure_rate"]) == (7, 0)  # not changed, not reset
    assert await registry_kit.stats(sim.url) == before  # nothing submitted or acknowledged


async def test_json_with_a_charset_is_json(http: httpx.AsyncClient) -> None:
    response = await http.put(
        "/admin/config",
        content=b'{"latency": 0}',
        headers={"content-type": "Application/JSON; charset=utf-8"},
    )
    assert response.status_code == 200


async def test_a_full_simulator_forgets_the_oldest_acknowledged_request() -> None:
    live = LiveServer(build_app(SimulatorConfig(max_requests=3)), free_port()).start()
    try:
        async with httpx.AsyncClient(base_url=live.url, timeout=10) as http:
            refs = [
                (await submit(http, "inn", body(registry_kit.inn()), key=f"f-{n}")).json()[
                    "reference"
                ]
                for n in range(3)
            ]
            # Full, nothing acknowledged: refused, and nothing forgotten.
            full = await submit(http, "inn", body(registry_kit.inn()), key="f-3")
            assert full.status_code == 503
            assert full.headers["content-type"] == PROBLEM
            assert full.headers["retry-after"] == "1"
            for ref in (refs[2], refs[1]):
                acked = await http.post(f"/v1/inn/requests/{ref}/ack", json={})
                assert acked.status_code == 204
            made = await submit(http, "inn", body(registry_kit.inn()), key="f-3")
            assert made.status_code == 202
            # The first acknowledged (refs[2]) made room; the unacknowledged one stays.
            assert (await http.get(f"/v1/inn/requests/{refs[2]}")).status_code == 404
            assert (await http.get(f"/v1/inn/requests/{refs[0]}")).status_code == 200
            assert (await http.get(f"/v1/inn/requests/{refs[1]}")).status_code == 200
            # Its idempotency key is forgotten with it: a new request.
            again = await submit(http, "inn", body(registry_kit.inn()), key="f-2")
            assert again.status_code == 202
            assert again.json()["reference"] != refs[2]
            assert (await http.get(f"/v1/inn/requests/{refs[1]}")).status_code == 404
    finally:
        live.stop()
