"""Steering the registry simulator (idp.levels.simulator) from tests, over its admin API.

The session's simulator is the ``registry_sim`` fixture (tests/conftest.py); the shared test
``settings`` point the ``http`` verifier at it. A test that changes its behaviour resets it
first (``await reset(registry_sim.url)``): other tests share it.
"""

from __future__ import annotations

from typing import Any

import httpx

_TIMEOUT = 10.0


async def reset(url: str) -> None:
    """Configuration back to start values (no latency, no failures, no outage), stats zero."""
    async with httpx.AsyncClient(timeout=_TIMEOUT) as client:
        response = await client.post(f"{url}/admin/reset")
        assert response.status_code == 204, response.text


async def configure(url: str, **changes: Any) -> dict[str, Any]:
    """``latency``, ``failure_rate``, ``response_delay``, ``accept_unknown`` and
    ``outage_seconds`` (an outage from now on; None ends it). Returns the configuration."""
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
    response = httpx.post(f"{url}/admin/reset", timeout=_TIMEOUT)
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
