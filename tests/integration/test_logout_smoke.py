from __future__ import annotations

import asyncio

from idp.context import Context
from tests.support.browser import Browser
from tests.support.factories import Person, make_rp
from tests.support.flows import log_in, redeem
from tests.support.live import LiveServer
from tests.support.rp_server import FakeRP, RPServer


async def test_logout_tells_every_rp_of_the_session(
    server: LiveServer, ctx: Context, browser: Browser, person: Person
) -> None:
    fakes = [FakeRP(server.url), FakeRP(server.url)]
    rps_servers = [RPServer(f).start() for f in fakes]
    try:
        rps = []
        for fake, srv in zip(fakes, rps_servers, strict=True):
            rp = await make_rp(
                ctx,
                require_consent=False,
                redirect_uri=f"{srv.url}/cb",
                backchannel_logout_uri=f"{srv.url}/backchannel",
                post_logout_redirect_uris=[f"{srv.url}/"],
            )
            fake.client_id = rp.client_id
            rps.append(rp)
        callback, verifier, _ = await log_in(browser, rps[0], person)
        tokens = (await redeem(browser.http, rps[0], callback["code"], verifier)).json()
        second, verifier2, _ = await log_in(browser, rps[1], person)
        await redeem(browser.http, rps[1], second["code"], verifier2)

        response = await browser.get(
            "/logout",
            params={
                "id_token_hint": tokens["id_token"],
                "post_logout_redirect_uri": f"{rps_servers[0].url}/",
                "state": "s1",
            },
        )
        assert response.status_code == 303, response.text
        assert response.headers["location"] == f"{rps_servers[0].url}/?state=s1"
        for _ in range(50):
            if all(f.received for f in fakes):
                break
            await asyncio.sleep(0.05)
        for fake in fakes:
            assert fake.problems == []
            assert len(fake.received) == 1
            assert fake.received[0].claims["sub"] == person.account.sub
    finally:
        for srv in rps_servers:
            srv.stop()
