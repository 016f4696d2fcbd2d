"""A person's sessions through the REST API (list, end one, end all) and the operator's
``idp sessions`` commands: every way of ending a session tells the session's RPs."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from idp.context import Context
from idp.settings import Settings
from tests.support.browser import Browser
from tests.support.factories import Person, make_person
from tests.support.live import LiveServer
from tests.support.logout_kit import (
    LiveRP,
    RPFarm,
    deliveries,
    idp_env,
    logged_in,
    run_idp,
    sessions_of_client,
    sign_in,
    wait_until,
)

LAPTOP = ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "203.0.113.10")
PHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Safari/604.1", "198.51.100.7")
TABLET = ("Mozilla/5.0 (Linux; Android 14; SM-X710) Chrome/126.0 Safari/537.36", "192.0.2.44")
# What a session keeps of each: the browser family and system, and the network.
SHOWN = {
    LAPTOP: ("Firefox on Linux", "203.0.113.0"),
    PHONE: ("Safari on iOS", "198.51.100.0"),
    TABLET: ("Chrome on Android", "192.0.2.0"),
}

OpenBrowser = Callable[[tuple[str, str]], Awaitable[Browser]]


@pytest.fixture
async def farm(ctx: Context, server: LiveServer) -> AsyncIterator[RPFarm]:
    rps = RPFarm(ctx, server.url)
    yield rps
    await rps.close()


@pytest.fixture
async def open_browser(server: LiveServer) -> AsyncIterator[OpenBrowser]:
    """A "browser" on a device: its own cookies, User-Agent and address."""
    opened: list[Browser] = []

    async def open_(device: tuple[str, str]) -> Browser:
        browser = Browser(server.url)
        browser.http.headers.update({"User-Agent": device[0], "X-Forwarded-For": device[1]})
        opened.append(browser)
        return browser

    yield open_
    for browser in opened:
        await browser.close()


@pytest.fixture
async def tax(farm: RPFarm) -> LiveRP:
    return await farm.add(name="Налоговая служба")


@pytest.fixture
async def pension(farm: RPFarm) -> LiveRP:
    return await farm.add(name="Пенсионный фонд")


async def csrf(browser: Browser) -> dict[str, str]:
    response = await browser.get("/api/v1/me/csrf")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return {"X-CSRF-Token": response.json()["csrf_token"]}


async def listing(browser: Browser) -> list[dict[str, object]]:
    response = await browser.get("/api/v1/me/sessions")
    assert response.status_code == 200, response.text
    sessions: list[dict[str, object]] = response.json()["sessions"]
    return sessions


def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == status


async def sid_of_session(ctx: Context, rp: LiveRP, session: str) -> str:
    [record] = [s for s in await sessions_of_client(ctx, rp.client_id) if str(s.id) == session]
    return record.sid


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/me/sessions"),
        ("GET", "/api/v1/me/csrf"),
        ("DELETE", "/api/v1/me/sessions"),
        ("DELETE", f"/api/v1/me/sessions/{uuid.UUID(int=1)}"),
    ],
)
async def test_session_api_needs_a_session_cookie(
    server: LiveServer, method: str, path: str
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.request(method, path)
    assert_problem(response, 401)


async def test_person_sees_every_session_with_device_address_and_clients(
    open_browser: OpenBrowser, person: Person, tax: LiveRP, pension: LiveRP
) -> None:
    laptop, phone = await open_browser(LAPTOP), await open_browser(PHONE)
    await sign_in(laptop, tax.rp, person)
    await sign_in(phone, pension.rp, person)

    seen_from_laptop = await listing(laptop)
    assert len(seen_from_laptop) == 2
    by_device = {s["device"]: s for s in seen_from_laptop}
    assert set(by_device) == {SHOWN[LAPTOP][0], SHOWN[PHONE][0]}
    mine, other = by_device[SHOWN[LAPTOP][0]], by_device[SHOWN[PHONE][0]]
    assert (mine["current"], other["current"]) == (True, False)
    assert (mine["address"], other["address"]) == (SHOWN[LAPTOP][1], SHOWN[PHONE][1])
    assert mine["clients"] == [{"client_id": tax.client_id, "name": "Налоговая служба"}]
    assert other["clients"] == [{"client_id": pension.client_id, "name": "Пенсионный фонд"}]
    for session in seen_from_laptop:
        assert session["created_at"]
        assert session["last_seen_at"]
        assert session["auth_time"]

    seen_from_phone = {s["id"]: s["current"] for s in await listing(phone)}
    assert seen_from_phone == {mine["id"]: False, other["id"]: True}


async def test_ending_a_session_needs_this_browsers_csrf_token(
    open_browser: OpenBrowser, person: Person, tax: LiveRP, pension: LiveRP
) -> None:
    laptop, phone = await open_browser(LAPTOP), await open_browser(PHONE)
    await sign_in(laptop, tax.rp, person)
    await sign_in(phone, pension.rp, person)
    [target] = [str(s["id"]) for s in await listing(laptop) if not s["current"]]
    path = f"/api/v1/me/sessions/{target}"

    assert_problem(await laptop.http.delete(path), 403)
    assert_problem(await laptop.http.delete(path, headers={"X-CSRF-Token": "0" * 64}), 403)
    # The phone's token is bound to the phone's browser cookie: useless on the laptop.
    assert_problem(await laptop.http.delete(path, headers=await csrf(phone)), 403)
    assert_problem(await laptop.http.delete("/api/v1/me/sessions"), 403)

    assert await logged_in(phone, pension.rp)
    assert await logged_in(laptop, tax.rp)
    assert pension.fake.attempts == tax.fake.attempts == 0


async def test_person_ends_another_of_their_sessions_and_its_rp_is_told(
    ctx: Context, open_browser: OpenBrowser, person: Person, tax: LiveRP, pension: LiveRP
) -> None:
    laptop, phone = await open_browser(LAPTOP), await open_browser(PHONE)
    await sign_in(laptop, tax.rp, person)
    await sign_in(phone, pension.rp, person)
    [target] = [str(s["id"]) for s in await listing(laptop) if not s["current"]]

    response = await laptop.http.delete(f"/api/v1/me/sessions/{target}", headers=await csrf(laptop))

    assert response.status_code == 200, response.text
    assert response.json() == {"ended": 1}
    assert not [c for c in response.headers.get_list("set-cookie") if "idp_session=" in c]
    assert len(pension.fake.received) == 1  # told before the answer (a healthy RP)
    assert pension.fake.problems == []
    assert pension.fake.received[0].claims["sid"] == await sid_of_session(ctx, pension, target)
    assert pension.fake.received[0].claims["sub"] == person.account.sub
    assert tax.fake.attempts == 0
    assert not await logged_in(phone, pension.rp)
    assert await logged_in(laptop, tax.rp)
    assert [s["current"] for s in await listing(laptop)] == [True]

    again = await laptop.http.delete(f"/api/v1/me/sessions/{target}", headers=await csrf(laptop))
    assert_problem(again, 404)


async def test_ending_all_sessions_keeps_the_current_one_only_when_asked(
    open_browser: OpenBrowser, person: Person, tax: LiveRP, pension: LiveRP
) -> None:
    laptop, phone, tablet = [await open_browser(d) for d in (LAPTOP, PHONE, TABLET)]
    await sign_in(laptop, tax.rp, person)
    await sign_in(phone, pension.rp, person)
    await sign_in(tablet, pension.rp, person)
    headers = await csrf(laptop)

    kept = await laptop.http.delete(
        "/api/v1/me/sessions", params={"keep_current": "true"}, headers=headers
    )
    assert kept.status_code == 200, kept.text
    assert kept.json() == {"ended": 2}
    assert not [c for c in kept.headers.get_list("set-cookie") if "idp_session=" in c]
    await wait_until(lambda: len(pension.fake.received) == 2, "both pension sessions' tokens")
    assert len({r.claims["sid"] for r in pension.fake.received}) == 2
    assert await logged_in(laptop, tax.rp)
    assert not await logged_in(phone, pension.rp)
    assert not await logged_in(tablet, pension.rp)
    assert tax.fake.attempts == 0

    everything = await laptop.http.delete("/api/v1/me/sessions", headers=headers)
    assert everything.status_code == 200, everything.text
    assert everything.json() == {"ended": 1}
    cleared = [c for c in everything.headers.get_list("set-cookie") if "idp_session=" in c]
    assert len(cleared) == 1, cleared
    assert "Max-Age=0" in cleared[0], cleared
    await wait_until(lambda: len(tax.fake.received) == 1, "the laptop session's token")
    assert not await logged_in(laptop, tax.rp)
    assert_problem(await laptop.get("/api/v1/me/sessions"), 401)
    assert tax.fake.problems == pension.fake.problems == []


async def test_another_persons_session_is_not_found(
    ctx: Context, open_browser: OpenBrowser, person: Person, tax: LiveRP
) -> None:
    laptop, stranger = await open_browser(LAPTOP), await open_browser(PHONE)
    await sign_in(laptop, tax.rp, person)
    await sign_in(stranger, tax.rp, await make_person(ctx))
    [theirs] = await listing(stranger)
    headers = await csrf(laptop)

    for target in (theirs["id"], str(uuid.uuid4())):
        response = await laptop.http.delete(f"/api/v1/me/sessions/{target}", headers=headers)
        assert_problem(response, 404)
    assert await logged_in(stranger, tax.rp)
    assert tax.fake.attempts == 0


async def test_operator_ends_every_session_of_an_account_from_the_cli(
    ctx: Context,
    settings: Settings,
    open_browser: OpenBrowser,
    person: Person,
    tax: LiveRP,
    pension: LiveRP,
) -> None:
    laptop, phone, stranger = [await open_browser(d) for d in (LAPTOP, PHONE, TABLET)]
    await sign_in(laptop, tax.rp, person)
    await sign_in(laptop, pension.rp, person)
    await sign_in(phone, tax.rp, person)
    await sign_in(stranger, tax.rp, await make_person(ctx))
    env = idp_env(settings)

    code, out, err = await run_idp(
        env, "sessions", "list", "--account", person.account.sub, "--json"
    )
    assert code == 0, err
    listed = json.loads(out)["sessions"]
    assert {s["device"] for s in listed} == {SHOWN[LAPTOP][0], SHOWN[PHONE][0]}

    code, out, err = await run_idp(
        env, "sessions", "end", "--account", person.account.sub, "--json"
    )
    assert code == 0, err
    assert json.loads(out) == {"ended": 2, "notifications_queued": 3, "offline_grants_revoked": 0}

    # The CLI only writes the outbox; the running server's worker delivers.
    await wait_until(
        lambda: len(tax.fake.received) == 2 and len(pension.fake.received) == 1,
        "the worker to deliver the operator's logouts",
    )
    assert {r.claims["sid"] for r in tax.fake.received} == {s["sid"] for s in listed}
    assert {r.claims["sub"] for r in tax.fake.received} == {person.account.sub}
    assert tax.fake.problems == pension.fake.problems == []
    assert not await logged_in(laptop, tax.rp)
    assert not await logged_in(phone, tax.rp)
    assert await logged_in(stranger, tax.rp)

    async def settled() -> bool:
        rows = await deliveries(ctx, tax.client_id) + await deliveries(ctx, pension.client_id)
        return sorted(r.status for r in rows) == ["delivered"] * 3

    await wait_until(settled, "the outbox rows to be marked delivered")
    code, out, err = await run_idp(
        env, "sessions", "list", "--account", person.account.sub, "--json"
    )
    assert code == 0, err
    assert json.loads(out) == {"sessions": []}
