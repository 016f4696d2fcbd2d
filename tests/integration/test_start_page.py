"""The start page and the demo relying party over HTTP, on both databases.

``/`` in dev mode links to everything there is to see and outside it leads to the console; the
demo client is registered once however many instances start at once; an answer at
``/demo/callback`` whose ``state`` this browser did not send is refused and nothing happens.
"""

from __future__ import annotations

import asyncio
import html
import re
import secrets
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from idp.app import create_app
from idp.clients.service import NewClient, put_builtin_client
from idp.clock import OffsetClock
from idp.context import Context
from idp.db.models import AuditEvent, Client
from idp.demo.registration import DEMO_CLIENT_ID, DEMO_CLIENT_NAME, register_demo_client
from idp.settings import Settings
from tests.support.browser import Browser, query
from tests.support.dev_server import dev_server, dev_settings
from tests.support.factories import Person
from tests.support.live import LiveServer, free_port
from tests.support.production import production

LINKS = ("/.well-known/openid-configuration", "/dev/mailbox", "/account")


@pytest.fixture(scope="module")
def dev(
    settings: Settings, clock: OffsetClock, migrated: str, server: LiveServer
) -> Iterator[LiveServer]:
    # After the suite's server (dev mode too), which registers idp-demo for its own issuer as it
    # starts: the last to start owns the demo client.
    with dev_server(settings, clock) as live:
        yield live


def _links(page: str) -> set[str]:
    return {html.unescape(href) for href in re.findall(r'href="([^"]+)"', page)}


async def test_outside_dev_mode_the_start_page_leads_to_the_console(
    settings: Settings, clock: OffsetClock, migrated: str
) -> None:
    port = free_port()
    live = LiveServer(create_app(production(settings), clock=clock), port).start()
    try:
        async with httpx.AsyncClient(base_url=live.url) as http:
            start = await http.get("/")
            demo = await http.get("/demo")
            login = await http.get("/demo/login")
    finally:
        live.stop()
    assert start.status_code == 303
    assert start.headers["location"] == "/account"
    assert demo.status_code == 404  # no demo relying party outside dev mode
    assert login.status_code == 404


@pytest.mark.parametrize(
    ("language", "title", "try_login"),
    [
        ("ru-RU,ru;q=0.9", "idp работает", "Попробовать вход"),
        ("en-GB,en", "idp is running", "Try a login"),
    ],
)
async def test_in_dev_mode_the_start_page_links_to_everything(
    dev: LiveServer, language: str, title: str, try_login: str
) -> None:
    async with httpx.AsyncClient(base_url=dev.url) as http:
        start = await http.get("/", headers={"Accept-Language": language})
        for link in LINKS[:2]:  # the ones this server serves already (the console: issue 9)
            assert (await http.get(link)).status_code == 200, link
    assert start.status_code == 200
    assert start.headers["cache-control"] == "no-store"
    assert f"<h1>{title}</h1>" in start.text
    assert try_login in start.text
    assert set(LINKS) <= _links(start.text)
    assert f"{dev.url}/demo/login" in _links(start.text)  # at the issuer, where its cookies live
    assert dev.url in start.text  # the issuer the reader is looking at


async def test_the_demo_client_is_registered_for_the_dev_servers_issuer(
    dev: LiveServer, ctx: Context
) -> None:
    async with ctx.db.read() as session:
        client = await session.get(Client, DEMO_CLIENT_ID)
    assert client is not None
    assert client.redirect_uris == [f"{dev.url}/demo/callback"]
    assert client.post_logout_redirect_uris == [f"{dev.url}/demo"]
    assert client.auth_method == "none"
    assert client.secret_hash is None


async def test_twenty_instances_starting_at_once_leave_one_demo_client(
    settings: Settings, migrated: str, dev: LiveServer
) -> None:
    issuer_port = free_port()
    contexts = [Context.build(dev_settings(settings, issuer_port)) for _ in range(20)]
    try:
        results = await asyncio.gather(
            *(register_demo_client(c) for c in contexts), return_exceptions=True
        )
        assert [r for r in results if isinstance(r, BaseException)] == []
        async with contexts[0].db.read() as session:
            rows = (
                await session.scalars(
                    select(Client).where(
                        (Client.client_id == DEMO_CLIENT_ID) | (Client.name == DEMO_CLIENT_NAME)
                    )
                )
            ).all()
        assert [row.client_id for row in rows] == [DEMO_CLIENT_ID]
        # The last start decides: its issuer's URIs, the same for all twenty.
        assert rows[0].redirect_uris == [f"http://127.0.0.1:{issuer_port}/demo/callback"]
    finally:
        for c in contexts:
            await c.close()
        # Back to the dev server's issuer for the tests after this one.
        restore = Context.build(dev_settings(settings, dev.port))
        await register_demo_client(restore)
        await restore.close()


async def test_a_builtin_client_moved_by_another_instance_reaches_this_ones_cache(
    settings: Settings, migrated: str, ctx: Context
) -> None:
    """An instance started with another issuer brings the demo client's redirect URIs to its
    port: every other instance's client cache drops its copy within the recheck interval."""
    client_id = f"builtin-{secrets.token_hex(4)}"
    slow = settings.model_copy(update={"client_cache_ttl": 600.0, "client_cache_recheck": 0.2})
    here, there = Context.build(slow), Context.build(slow)

    async def put(c: Context, port: int) -> None:
        data = NewClient(
            name="Built in",
            client_id=client_id,
            redirect_uris=[f"http://127.0.0.1:{port}/cb"],
            auth_method="none",
        )
        async with c.db.transaction() as session:
            await put_builtin_client(session, c, data, actor="test")

    try:
        await put(here, 9)
        cached = await here.clients.get(client_id)
        assert cached is not None
        assert list(cached.redirect_uris) == ["http://127.0.0.1:9/cb"]
        await put(there, 10)
        await asyncio.sleep(0.5)
        seen = await here.clients.get(client_id)
    finally:
        await here.close()
        await there.close()
    assert seen is not None
    assert list(seen.redirect_uris) == ["http://127.0.0.1:10/cb"]


async def test_a_builtin_client_created_by_many_at_once_is_created_once(
    settings: Settings, migrated: str, ctx: Context
) -> None:
    client_id = f"builtin-{secrets.token_hex(4)}"
    contexts = [Context.build(settings) for _ in range(20)]

    async def put(c: Context) -> bool:
        data = NewClient(
            name="Built in",
            client_id=client_id,
            redirect_uris=["http://127.0.0.1:9/cb"],
            auth_method="none",
        )
        async with c.db.transaction() as session:
            return await put_builtin_client(session, c, data, actor="test")

    try:
        created = await asyncio.gather(*(put(c) for c in contexts))
    finally:
        for c in contexts:
            await c.close()
    assert sorted(created) == [False] * 19 + [True]
    async with ctx.db.read() as session:
        rows = await session.scalar(
            select(func.count()).select_from(Client).where(Client.client_id == client_id)
        )
        audits = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.event == "client.created", AuditEvent.client_id == client_id)
        )
    assert (rows, audits) == (1, 1)


async def _to_callback(browser: Browser, person: Person) -> str:
    """/demo/login, the provider's login and consent pages: the callback URL the provider
    sends the browser to (not yet followed)."""
    response = await browser.get("/demo/login")
    assert response.status_code == 303
    response = await browser.get(response.headers["location"])
    page = await browser.get(response.headers["location"])
    response = await browser.submit(page, {"login": person.phone, "password": person.password})
    for _ in range(4):
        location = response.headers["location"]
        if location.startswith(f"{browser.base_url}/demo/callback"):
            return location
        page = await browser.get(location)
        response = (
            page if page.status_code == 303 else await browser.submit(page, {"decision": "allow"})
        )
    raise AssertionError("the flow did not reach the demo's callback")


def _error_text(page: httpx.Response) -> str:
    found = re.search(r'<p role="alert">(.*?)</p>', page.text, re.S)
    assert found, page.text[:500]
    return html.unescape(found.group(1))


async def test_a_callback_with_a_state_this_browser_did_not_send_changes_nothing(
    dev: LiveServer, person: Person
) -> None:
    browser, stranger = Browser(dev.url), Browser(dev.url)
    try:
        callback = await _to_callback(browser, person)
        params = query(callback)
        tampered = {
            **params,
            "state": params["state"][:-1] + ("A" if params["state"][-1] != "A" else "B"),
        }
        for who, url_params in (
            (browser, tampered),  # the right browser, a state it did not send
            (browser, {"code": params["code"]}),  # no state at all
            (browser, {**params, "state": "состояние"}),  # not even ASCII
            (stranger, params),  # the genuine answer in a browser that never asked
        ):
            refused = await who.get("/demo/callback", params=url_params)
            assert refused.status_code == 400
            assert "set-cookie" not in refused.headers  # nothing stored, nothing cleared
            assert "does not belong to a login started in this browser" in _error_text(
                refused
            ) or "не относится ко входу" in _error_text(refused)
            assert "invalid_state" in refused.text
        # The right state from another issuer (RFC 9207 mix-up): refused the same way.
        mixed_up = await browser.get(
            "/demo/callback", params={**params, "iss": "http://127.0.0.1:1"}
        )
        assert mixed_up.status_code == 400
        assert "issuer_mismatch" in mixed_up.text
        assert "set-cookie" not in mixed_up.headers
        # The code was not spent by any of them: the genuine answer still logs the demo in.
        done = await browser.get(callback)
        assert done.status_code == 303, done.text[:500]
        assert done.headers["location"] == "/demo"
        home = await browser.get("/demo")
        assert home.status_code == 200
        assert person.account.sub in home.text
        # The state is spent: the same answer again is refused.
        again = await browser.get(callback)
        assert again.status_code == 400
    finally:
        await browser.close()
        await stranger.close()


async def test_the_demos_cookies_are_sealed_http_only_and_on_demo(
    dev: LiveServer, person: Person
) -> None:
    browser = Browser(dev.url)
    try:
        start = await browser.get("/demo/login")
        flow_cookie = start.headers["set-cookie"]
        callback = await _to_callback(browser, person)
        done = await browser.get(callback)
        cookies = done.headers.get_list("set-cookie")
    finally:
        await browser.close()
    for header in (flow_cookie, *cookies):
        lowered = header.lower()
        assert "httponly" in lowered
        assert "samesite=lax" in lowered
        assert "path=/demo" in lowered
    tokens = next(c for c in cookies if c.startswith("idp_demo_tokens="))
    value = tokens.split(";")[0].split("=", 1)[1]
    assert "eyJ" not in value
    assert person.account.sub not in value
    assert len(tokens) < 4096
