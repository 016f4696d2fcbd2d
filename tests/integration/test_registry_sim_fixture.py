"""The session's registry simulator (the ``registry_sim`` fixture) answers, and the shared
settings point the http verifier at it."""

from __future__ import annotations

import httpx

from idp.settings import Settings
from tests.support import registry_kit
from tests.support.live import LiveServer


async def test_the_session_simulator_answers_and_settings_point_at_it(
    registry_sim: LiveServer, settings: Settings
) -> None:
    assert settings.registries.http.base_url == registry_sim.url
    await registry_kit.reset(registry_sim.url)
    async with httpx.AsyncClient(base_url=registry_sim.url) as client:
        sent = await client.post(
            "/v1/inn/requests",
            headers={"Idempotency-Key": "fixture-1"},
            json={
                "inn": "776775959845",
                "last_name": "Петров",
                "first_name": "Пётр",
                "middle_name": None,
                "birth_date": "1980-05-05",
                "document_series": "4506",
                "document_number": "123456",
            },
        )
        assert sent.status_code == 202, sent.text
        got = await client.get(f"/v1/inn/requests/{sent.json()['reference']}")
        assert got.json() == {"status": "unknown", "fields": []}
    found = await registry_kit.stats(registry_sim.url)
    assert found["submits"]["inn"] == 1
    assert found["by_key"] == {"fixture-1": 1}
