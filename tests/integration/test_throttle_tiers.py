"""Throttling tiers (issue 8, items 2, 5 and 14): the owner's way in survives strangers'
guessing, a blocked identifier says nothing about the account behind it, a password reset
clears the counters, the client address cannot be spoofed past a trusted proxy, and an
eleven-digit login that reads both as a SNILS and as a phone is looked up both ways.

The tiers run on an instance whose first block lasts a minute, so no block runs out while a
busy machine is still in the middle of a test.
"""

from __future__ import annotations

import random
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select

from idp.accounts.identifiers import snils_checksum
from idp.accounts.service import NewAccount
from idp.clock import OffsetClock
from idp.context import Context
from idp.db.models import ThrottleCounter
from idp.settings import Settings
from tests.support.api_kit import (
    Api,
    last_message_id,
    messages_to,
    next_code,
    random_email,
    random_ip,
    serve_variant,
)
from tests.support.browser import Browser
from tests.support.factories import (
    PASSWORD,
    Person,
    create_account,
    make_rp,
    random_phone,
    random_snils,
)
from tests.support.flows import auth_params, login_page
from tests.support.live import LiveServer

WRONG = "Wrong-Password-1"
NEW = "Fresh-Meadow-58"
PER_ADDRESS = 20


@pytest.fixture(scope="module")
def tiers(settings: Settings, clock: OffsetClock) -> Iterator[LiveServer]:
    throttle = settings.throttle.model_copy(
        update={"base_delay": 60.0, "per_address_free_failures": PER_ADDRESS}
    )
    live = serve_variant(settings, clock, throttle=throttle)
    yield live
    live.stop()


@pytest.fixture
async def apis(tiers: LiveServer) -> AsyncIterator[list[Api]]:
    opened: list[Api] = []
    yield opened
    for api in opened:
        await api.close()


def browser_of(tiers: LiveServer, apis: list[Api]) -> Api:
    api = Api(tiers.url)
    apis.append(api)
    return api


async def fail(api: Api, login: str, times: int) -> None:
    for _ in range(times):
        response = await api.login(login, WRONG)
        assert response.status_code == 401, response.text


def shape(response: httpx.Response) -> tuple[int, str, str]:
    """Status, body and Retry-After with numbers blanked (seconds differ by the clock)."""
    digits = re.compile(r"\d+")
    body = digits.sub("N", response.text)
    return response.status_code, body, digits.sub("N", response.headers.get("retry-after", ""))


# --- item 2: the owner's way in ----------------------------------------------------------------


async def test_the_owners_browser_logs_in_while_a_stranger_is_blocked(
    tiers: LiveServer, apis: list[Api], ctx: Context, person: Person
) -> None:
    owner = browser_of(tiers, apis)
    first = await owner.login(person.phone, person.password)
    assert first.status_code == 200, first.text
    device = owner.http.cookies.get("idp_device")
    assert device
    cookie = next(
        h.lower() for h in first.headers.get_list("set-cookie") if h.startswith("idp_device=")
    )
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    max_age = re.search(r"max-age=(\d+)", cookie)
    assert max_age is not None
    assert int(max_age.group(1)) >= 30 * 86400  # long-lived

    stranger = browser_of(tiers, apis)
    await fail(stranger, person.phone, ctx.settings.throttle.free_failures)
    blocked = await stranger.login(person.phone, person.password)
    assert blocked.status_code == 429, blocked.text

    again = await owner.login(person.phone, person.password)
    assert again.status_code == 200, again.text

    # Only keyed hashes of the device cookie are stored.
    async with ctx.db.read() as session:
        keys = (await session.scalars(select(ThrottleCounter.key))).all()
    nonce = device.split(".")[0]
    assert not any(nonce in key for key in keys)


async def test_the_login_page_remembers_the_device_too(
    tiers: LiveServer, apis: list[Api], ctx: Context, person: Person
) -> None:
    rp = await make_rp(ctx, require_consent=False)
    owner = Browser(tiers.url)
    try:
        owner.http.headers["X-Forwarded-For"] = random_ip()
        page = await login_page(owner, auth_params(rp)[0])
        done = await owner.submit(page, {"login": person.email, "password": person.password})
        assert done.status_code == 303, done.text[:300]
        assert owner.http.cookies.get("idp_device")

        stranger = browser_of(tiers, apis)
        await fail(stranger, person.email, ctx.settings.throttle.free_failures)
        assert (await stranger.login(person.email, person.password)).status_code == 429

        page = await login_page(owner, auth_params(rp, prompt="login")[0])
        again = await owner.submit(page, {"login": person.email, "password": person.password})
        assert again.status_code == 303, again.text[:300]
        assert again.headers["location"].startswith(rp.redirect_uri)
    finally:
        await owner.close()


async def test_a_blocked_identifier_tells_nothing_about_the_account_behind_it(
    tiers: LiveServer, apis: list[Api], ctx: Context, person: Person
) -> None:
    stranger = browser_of(tiers, apis)
    nobody_phone, nobody_email = random_phone(), random_email()
    free = ctx.settings.throttle.free_failures
    await fail(stranger, person.phone, free)
    await fail(stranger, nobody_phone, free)

    known = await stranger.login(person.phone, WRONG)
    unknown = await stranger.login(nobody_phone, WRONG)
    assert known.status_code == 429
    assert shape(known) == shape(unknown)

    # The account's other identifier answers as an unknown one does: no link between them.
    other = await stranger.login(person.email, WRONG)
    nobody = await stranger.login(nobody_email, WRONG)
    assert other.status_code == 401, other.text
    assert shape(other) == shape(nobody)


async def test_a_password_reset_clears_the_strangers_counters(
    tiers: LiveServer, apis: list[Api], ctx: Context, person: Person
) -> None:
    stranger = browser_of(tiers, apis)
    await fail(stranger, person.phone, ctx.settings.throttle.free_failures)
    assert (await stranger.login(person.phone, person.password)).status_code == 429

    owner = browser_of(tiers, apis)
    await owner.csrf()
    mark = await last_message_id(ctx)
    started = await owner.post("/api/v1/password-resets", {"login": person.email})
    assert started.status_code == 202, started.text
    code = await next_code(ctx, person.email, mark)
    confirmed = await owner.post(
        f"/api/v1/password-resets/{started.json()['id']}/confirm",
        {"code": code, "new_password": NEW, "new_password_repeat": NEW},
        headers={"X-Reset-Token": started.json()["token"]},
    )
    assert confirmed.status_code == 204, confirmed.text

    fresh = browser_of(tiers, apis)  # a browser that never logged in: the strangers' tier
    assert (await fresh.login(person.phone, NEW)).status_code == 200


# --- item 5: the client address ----------------------------------------------------------------


async def test_a_spoofed_forwarded_for_does_not_escape_the_address_counter(
    tiers: LiveServer, apis: list[Api]
) -> None:
    """The test client plays the trusted proxy: whatever the client wrote on the left of
    X-Forwarded-For, the address the proxy saw (the rightmost) is counted."""
    attacker = browser_of(tiers, apis)
    await attacker.csrf()
    address = random_ip()

    async def attempt(login: str) -> httpx.Response:
        return await attacker.post(
            "/api/v1/login",
            {"login": login, "password": WRONG},
            headers={"X-Forwarded-For": f"{random_ip()}, {address}"},
        )

    for _ in range(PER_ADDRESS):
        assert (await attempt(random_email())).status_code == 401
    assert (await attempt(random_email())).status_code == 429


async def test_every_address_of_one_ipv6_customer_counts_as_one(
    tiers: LiveServer, apis: list[Api]
) -> None:
    attacker = browser_of(tiers, apis)
    await attacker.csrf()
    network = f"2001:db8:{secrets.randbits(16):x}:{secrets.randbits(16):x}"

    async def attempt(host: int) -> httpx.Response:
        return await attacker.post(
            "/api/v1/login",
            {"login": random_email(), "password": WRONG},
            headers={"X-Forwarded-For": f"{network}::{host:x}"},
        )

    for host in range(1, PER_ADDRESS + 1):
        assert (await attempt(host)).status_code == 401
    assert (await attempt(0xBEEF)).status_code == 429


# --- item 14: a login read two ways ------------------------------------------------------------


@dataclass
class TwoWays:
    digits: str  # 8XXXXXXXXXX: a valid SNILS and a phone in national form
    by_phone: Person  # the account whose phone it is
    by_snils: Person  # the account whose SNILS it is


def ambiguous_digits() -> str:
    nine = "8" + "".join(random.choices("0123456789", k=8))
    return nine + f"{snils_checksum(nine):02d}"


async def _person(ctx: Context, *, phone: str, snils: str, password: str) -> Person:
    email = f"two-{secrets.token_hex(6)}@example.ru"
    account = await create_account(
        ctx,
        NewAccount(
            first_name="Анна",
            last_name="Смирнова",
            phone=phone,
            email=email,
            snils=snils,
            password=password,
            level="simplified",
        ),
    )
    return Person(account, phone, email, snils, password)


@pytest.fixture
async def two_ways(ctx: Context) -> TwoWays:
    digits = ambiguous_digits()
    by_phone = await _person(ctx, phone="+7" + digits[1:], snils=random_snils(), password=PASSWORD)
    by_snils = await _person(ctx, phone=random_phone(), snils=digits, password=NEW)
    return TwoWays(digits, by_phone, by_snils)


async def test_an_eleven_digit_login_is_both_a_snils_and_a_phone(
    server: LiveServer, two_ways: TwoWays
) -> None:
    api = Api(server.url)
    try:
        as_phone = await api.login(two_ways.digits, two_ways.by_phone.password)
        assert as_phone.status_code == 200, as_phone.text
        assert as_phone.json()["sub"] == two_ways.by_phone.account.sub
        as_snils = await api.login(two_ways.digits, two_ways.by_snils.password)
        assert as_snils.status_code == 200, as_snils.text
        assert as_snils.json()["sub"] == two_ways.by_snils.account.sub
    finally:
        await api.close()


async def test_a_reset_for_an_eleven_digit_login_sends_the_code_to_the_phone_typed(
    server: LiveServer, ctx: Context, two_ways: TwoWays
) -> None:
    api = Api(server.url)
    try:
        await api.csrf()
        mark = await last_message_id(ctx)
        started = await api.post("/api/v1/password-resets", {"login": two_ways.digits})
        assert started.status_code == 202, started.text
        await next_code(ctx, two_ways.by_phone.phone, mark)
        assert await messages_to(ctx, two_ways.by_snils.phone, mark) == []
    finally:
        await api.close()


@pytest.fixture(scope="module")
def account_tier(settings: Settings, clock: OffsetClock) -> Iterator[LiveServer]:
    throttle = settings.throttle.model_copy(
        update={"base_delay": 60.0, "per_account_free_failures": 3}
    )
    live = serve_variant(settings, clock, throttle=throttle)
    yield live
    live.stop()


async def test_a_blocked_account_never_links_its_identifiers_and_lets_its_devices_in(
    account_tier: LiveServer, apis: list[Api], ctx: Context, person: Person
) -> None:
    owner = browser_of(account_tier, apis)
    assert (await owner.login(person.phone, person.password)).status_code == 200
    for _ in range(3):  # three strangers from three addresses block the account's counter
        await fail(browser_of(account_tier, apis), person.phone, 1)

    # The account's e-mail, never tried, answers exactly as an e-mail nobody has.
    other = await browser_of(account_tier, apis).login(person.email, WRONG)
    nobody = await browser_of(account_tier, apis).login(random_email(), WRONG)
    assert other.status_code == 401, other.text
    assert shape(other) == shape(nobody)
    # Even the right password gets no stranger in while the account is blocked ...
    withheld = await browser_of(account_tier, apis).login(person.email, person.password)
    assert shape(withheld) == shape(nobody)
    # ... but the owner's own browser does.
    assert (await owner.login(person.email, person.password)).status_code == 200


async def test_a_failed_eleven_digit_login_counts_only_against_the_accounts_it_named(
    tiers: LiveServer, apis: list[Api], ctx: Context
) -> None:
    from idp.accounts.attempts import account_key

    digits = ambiguous_digits()
    by_phone = await _person(ctx, phone="+7" + digits[1:], snils=random_snils(), password=PASSWORD)
    bystander = await _person(ctx, phone=random_phone(), snils=random_snils(), password=PASSWORD)
    assert (await browser_of(tiers, apis).login(digits, WRONG)).status_code == 401

    async with ctx.db.read() as session:
        keys = set((await session.scalars(select(ThrottleCounter.key))).all())
    assert account_key(by_phone.account.id) in keys  # the phone reading named it
    assert account_key(bystander.account.id) not in keys  # the SNILS reading named nobody
