"""Steering the registry simulator (idp.levels.simulator) from tests, over its admin API.

The session's simulator is the ``registry_sim`` fixture (tests/conftest.py); the shared test
``settings`` point the ``http`` verifier at it. A test that changes its behaviour resets it
first (``await reset(registry_sim.url)``): other tests share it. ``SEEDED`` holds a query for
every verdict each registry gives.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import httpx

from idp.levels.verifiers.protocol import (
    CheckKind,
    DocumentQuery,
    InnQuery,
    PersonQuery,
    Query,
    Verdict,
)

_TIMEOUT = 10.0


async def reset(url: str) -> None:
    """Configuration back to start values (no latency, no failures, no outage), stats zero."""
    async with httpx.AsyncClient(timeout=_TIMEOUT) as client:
        response = await client.post(f"{url}/admin/reset", json={})
        assert response.status_code == 204, response.text


async def configure(url: str, **changes: Any) -> dict[str, Any]:
    """``latency``, ``failure_rate``, ``response_delay``, ``accept_unknown``, ``retry_after``
    (of injected failures) and ``outage_seconds`` (an outage from now on; None ends it).
    Returns the configuration."""
    async with httpx.AsyncClient(timeout=_TIMEOUT) as client:
        response = await client.put(f"{url}/admin/config", json=changes)
        assert response.status_code == 200, response.text
        config: dict[str, Any] = response.json()
        return config


async def stats(url: str) -> dict[str, Any]:
    """``{"submits": {registry: n}, "by_key": {key: n}, "polls": n, "acks": n,
    "failures": n}``: submits counts requests created (a repeated idempotency key is not a
    new one), by_key every submit call per key, failures the calls answered 503."""
    async with httpx.AsyncClient(timeout=_TIMEOUT) as client:
        response = await client.get(f"{url}/admin/stats")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found


def reset_sync(url: str) -> None:
    response = httpx.post(f"{url}/admin/reset", json={}, timeout=_TIMEOUT)
    assert response.status_code == 204, response.text


def configure_sync(url: str, **changes: Any) -> dict[str, Any]:
    response = httpx.put(f"{url}/admin/config", json=changes, timeout=_TIMEOUT)
    assert response.status_code == 200, response.text
    config: dict[str, Any] = response.json()
    return config


def stats_sync(url: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/admin/stats", timeout=_TIMEOUT)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


# --- queries the bundled seeds answer (src/idp/levels/simulator/seed.json) --------------------

PETROV = {"last_name": "Петров", "first_name": "Пётр", "middle_name": "Петрович"}
PETROV_BORN = date(1980, 5, 5)


def person(snils: str = "08765430300", **change: Any) -> PersonQuery:
    """Пётр Петров, seeded under SNILS 08765430300 (change fields for a mismatch)."""
    query = PersonQuery(snils=snils, sex="male", birth_date=PETROV_BORN, **PETROV)
    return replace(query, **change)


def document(series: str | None = "4510", number: str = "123456", **change: Any) -> DocumentQuery:
    """Петров's passport 4510 123456, seeded; 4506 000001/2/3: invalid, lost, unknown."""
    query = DocumentQuery(
        kind="ru_passport",
        series=series,
        number=number,
        issued_on=date(2000, 6, 1),
        birth_date=PETROV_BORN,
        citizenship="RUS",
        **PETROV,
    )
    return replace(query, **change)


def inn(number: str = "500100732259", **change: Any) -> InnQuery:
    """An INN not in the seeds (matches while accept_unknown); 775719328234: mismatch,
    776775959845: unknown."""
    query = InnQuery(
        inn=number,
        birth_date=PETROV_BORN,
        document_series="4510",
        document_number="123456",
        **PETROV,
    )
    return replace(query, **change)


SEEDED: dict[tuple[CheckKind, Verdict], Query] = {
    (CheckKind.PERSON, Verdict.MATCH): person(),
    (CheckKind.PERSON, Verdict.MISMATCH): person(first_name="Павел", sex="female"),
    (CheckKind.PERSON, Verdict.DECEASED): person("02237015400"),
    (CheckKind.PERSON, Verdict.UNKNOWN): person("50025008300"),
    (CheckKind.DOCUMENT, Verdict.MATCH): document(),
    (CheckKind.DOCUMENT, Verdict.MISMATCH): document(birth_date=date(1981, 5, 5)),
    (CheckKind.DOCUMENT, Verdict.DOCUMENT_INVALID): document("4506", "000001"),
    (CheckKind.DOCUMENT, Verdict.DOCUMENT_LOST): document("4506", "000002"),
    (CheckKind.DOCUMENT, Verdict.UNKNOWN): document("4506", "000003"),
    (CheckKind.INN, Verdict.MATCH): inn(),
    (CheckKind.INN, Verdict.MISMATCH): inn("775719328234"),
    (CheckKind.INN, Verdict.UNKNOWN): inn("776775959845"),
}
"""A query the simulator answers with each verdict it can give, per registry."""
