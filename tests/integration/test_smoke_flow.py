from __future__ import annotations

import httpx

from tests.support.browser import Browser
from tests.support.factories import RP, Person
from tests.support.flows import log_in, redeem
from tests.support.live import LiveServer


async def test_code_flow_issues_tokens(
    server: LiveServer, browser: Browser, rp: RP, person: Person
) -> None:
    callback, verifier, params = await log_in(browser, rp, person)
    assert callback["state"] == params["state"]
    assert callback["iss"] == server.url
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await redeem(http, rp, callback["code"], verifier)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert "id_token" in body
    assert "refresh_token" in body
