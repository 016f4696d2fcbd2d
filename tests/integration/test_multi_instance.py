"""Several ``idp serve`` processes on one PostgreSQL database: log in through one, log out through
another, and the back-channel fan-out happens exactly once (issue 3, "Multi-instance").

On SQLite (one writer, ``idp serve --workers`` refuses it) a single process runs and the same
assertions check single-instance behaviour; the in-process test server's worker polls the same
database as well, so there are always at least two workers competing for the outbox.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from idp.context import Context
from idp.settings import Settings
from tests.support.browser import Browser
from tests.support.factories import make_person
from tests.support.live import LiveServer, free_port
from tests.support.logout_kit import (
    IDP,
    LiveRP,
    RPFarm,
    deliveries,
    idp_env,
    logged_in,
    sign_in,
    stays,
    wait_until,
)

STATE = "mi-state"


@dataclass
class Instance:
    url: str
    process: asyncio.subprocess.Process
    log: Path


async def _ready(instance: Instance) -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(timeout=2) as http:
        while True:
            if instance.process.returncode is not None:
                raise AssertionError(f"idp serve exited: {instance.log.read_text()[-2000:]}")
            try:
                if (await http.get(f"{instance.url}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"idp serve not ready: {instance.log.read_text()[-2000:]}")
            await asyncio.sleep(0.1)


@pytest.fixture
async def instances(
    backend: str, settings: Settings, migrated: str, server: LiveServer, tmp_path: Path
) -> AsyncIterator[list[Instance]]:
    ports = [free_port() for _ in range(2 if backend == "postgresql" else 1)]
    env = idp_env(
        settings,
        IDP_ISSUER=f"http://127.0.0.1:{ports[0]}",  # one issuer for all, as behind a balancer
        IDP_VAR_DIR=str(tmp_path),
        IDP_LOGOUT__BLOCK_PRIVATE_ADDRESSES="false",
        IDP_LOGOUT__POLL_INTERVAL="0.1",
        IDP_LOGOUT__BACKOFF_BASE="0.2",
        IDP_LOGOUT__BACKOFF_MAX="1.0",
        IDP_NOTIFY__EMAIL_BACKEND="dev",
        IDP_NOTIFY__SMS_BACKEND="dev",
    )
    started: list[Instance] = []
    try:
        for port in ports:
            log = tmp_path / f"idp-{port}.log"
            with log.open("wb") as out:
                process = await asyncio.create_subprocess_exec(
                    *(IDP, "serve", "--port", str(port), "--no-access-log"),
                    *("--log-level", "warning"),
                    env=env,
                    stdout=out,
                    stderr=asyncio.subprocess.STDOUT,
                )
            started.append(Instance(f"http://127.0.0.1:{port}", process, log))
        for instance in started:
            await _ready(instance)
        yield started
    finally:
        for instance in started:
            if instance.process.returncode is None:
                instance.process.terminate()
        for instance in started:
            try:
                await asyncio.wait_for(instance.process.wait(), 15)
            except TimeoutError:
                instance.process.kill()
                await instance.process.wait()


@pytest.fixture
async def farm(ctx: Context, instances: list[Instance]) -> AsyncIterator[RPFarm]:
    rps = RPFarm(ctx, instances[0].url)  # the issuer: RPs fetch the JWKS there
    yield rps
    await rps.close()


def logout_params(live: LiveRP, id_token: str) -> dict[str, str]:
    return {
        "id_token_hint": id_token,
        "post_logout_redirect_uri": live.post_logout_uri,
        "state": STATE,
    }


async def assert_told_exactly_once(ctx: Context, rps: list[LiveRP], sub: str) -> None:
    await wait_until(
        lambda: all(len(live.fake.received) == 1 for live in rps), "one logout token per RP"
    )
    await stays(
        lambda: all(len(live.fake.received) == live.fake.attempts == 1 for live in rps),
        "no RP is told twice",
        seconds=3.0,  # many polls of every worker
    )
    for live in rps:
        assert live.fake.problems == []
        assert live.fake.received[0].claims["sub"] == sub
        assert [(r.status, r.attempts) for r in await deliveries(ctx, live.client_id)] == [
            ("delivered", 1)
        ]


async def test_login_through_one_instance_and_logout_through_another_tells_each_rp_once(
    ctx: Context, instances: list[Instance], farm: RPFarm
) -> None:
    first, last = instances[0], instances[-1]
    tax = await farm.add(name="Налоговая служба")
    pension = await farm.add(name="Пенсионный фонд")
    person = await make_person(ctx)
    browser = Browser(first.url)
    try:
        tokens = await sign_in(browser, tax.rp, person)
        await sign_in(browser, pension.rp, person)

        # The session cookie is host-only for 127.0.0.1: cookies ignore ports, so the other
        # instance receives it, as it would behind one host name.
        response = await browser.http.get(
            f"{last.url}/logout", params=logout_params(tax, tokens["id_token"])
        )
        assert response.status_code == 303, response.text[:300]
        destination = f"{tax.post_logout_uri}?{urlencode({'state': STATE})}"
        assert response.headers["location"] == destination

        await assert_told_exactly_once(ctx, [tax, pension], person.account.sub)
        assert not await logged_in(browser, tax.rp)
    finally:
        await browser.close()


async def test_simultaneous_logouts_through_every_instance_tell_the_rp_once(
    ctx: Context, instances: list[Instance], farm: RPFarm
) -> None:
    tax = await farm.add()
    person = await make_person(ctx)
    browser = Browser(instances[0].url)
    try:
        tokens = await sign_in(browser, tax.rp, person)
        cookie = browser.http.cookies.get("idp_session")
        assert cookie
        params = logout_params(tax, tokens["id_token"])
        # The same browser session logged out at once on every instance, twice each.
        clients = [
            httpx.AsyncClient(base_url=instance.url, cookies={"idp_session": cookie})
            for instance in instances
            for _ in range(2)
        ]
        try:
            responses = await asyncio.gather(*(c.get("/logout", params=params) for c in clients))
        finally:
            for client in clients:
                await client.aclose()
        assert [r.status_code for r in responses] == [303] * len(clients)

        await assert_told_exactly_once(ctx, [tax], person.account.sub)
    finally:
        await browser.close()
