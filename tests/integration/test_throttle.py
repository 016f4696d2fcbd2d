"""Failed logins slow down per login identifier and per client address (NIST 800-63B-4 §3.2.2).

Every test uses its own client addresses (the test server trusts X-Forwarded-For), so counters
never leak between tests. Once blocked, a test lets the delay grow a little (advancing the
clock between failures) so a slow machine cannot outrun a one-second block.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import httpx
import pytest

from idp.clock import OffsetClock
from idp.context import Context
from tests.support.browser import Browser
from tests.support.factories import RP, Person
from tests.support.flows import auth_params, login_page

WRONG = "Wrong-Password-1"
MIN_BLOCK = 8.0  # seconds a test lets the delay grow to before it checks the block


def new_address() -> str:
    return f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


def unknown_login() -> str:
    return f"nobody-{secrets.token_hex(6)}@example.ru"


async def attempt(
    browser: Browser, page: httpx.Response, login: str, password: str, address: str
) -> httpx.Response:
    return await browser.submit(
        page, {"login": login, "password": password}, headers={"X-Forwarded-For": address}
    )


async def fail(browser: Browser, page: httpx.Response, login: str, address: str) -> httpx.Response:
    response = await attempt(browser, page, login, WRONG, address)
    assert response.status_code == 400, (response.status_code, response.text[:300])
    return response


async def grow_block(
    ctx: Context,
    clock: OffsetClock,
    browser: Browser,
    page: httpx.Response,
    login: Callable[[], str],
    address: Callable[[], str],
) -> httpx.Response:
    """After the first delay, wait it out and fail again until the delay is MIN_BLOCK long."""
    delay = ctx.settings.throttle.base_delay
    while delay < MIN_BLOCK:
        clock.advance(delay + 1)
        page = await fail(browser, page, login(), address())
        delay *= 2
    return page


def assert_throttled(response: httpx.Response) -> int:
    assert response.status_code == 429, (response.status_code, response.text[:300])
    retry_after = int(response.headers["retry-after"])
    assert retry_after >= 1
    return retry_after


async def test_login_is_throttled_after_repeated_failures(
    ctx: Context, clock: OffsetClock, browser: Browser, rp: RP, person: Person
) -> None:
    address = new_address()
    page = await login_page(browser, auth_params(rp)[0])
    for _ in range(ctx.settings.throttle.free_failures):
        page = await fail(browser, page, person.phone, address)
    page = await grow_block(ctx, clock, browser, page, lambda: person.phone, lambda: address)

    refused = await attempt(browser, page, person.phone, person.password, address)
    retry_after = assert_throttled(refused)
    assert "idp_session" not in refused.cookies

    clock.advance(retry_after + 1)
    passed = await attempt(browser, refused, person.phone, person.password, address)
    assert passed.status_code == 303, passed.text[:300]
    assert passed.headers["location"].startswith(rp.redirect_uri)


async def test_failures_from_many_addresses_count_per_login(
    ctx: Context, clock: OffsetClock, browser: Browser, rp: RP, person: Person
) -> None:
    page = await login_page(browser, auth_params(rp)[0])
    for _ in range(ctx.settings.throttle.free_failures):
        page = await fail(browser, page, person.email, new_address())
    page = await grow_block(ctx, clock, browser, page, lambda: person.email, new_address)
    assert_throttled(await attempt(browser, page, person.email, person.password, new_address()))


def phone_spellings(phone: str) -> list[str]:
    national = phone[2:]  # +7XXXXXXXXXX
    return [
        phone,
        "8" + national,
        f"+7 ({national[:3]}) {national[3:6]}-{national[6:8]}-{national[8:]}",
    ]


def email_spellings(email: str) -> list[str]:
    return [email, email.upper(), f"  {email}  "]


@pytest.mark.parametrize("spellings", [phone_spellings, email_spellings], ids=["phone", "email"])
async def test_other_spellings_of_a_login_count_together(
    ctx: Context,
    clock: OffsetClock,
    browser: Browser,
    rp: RP,
    person: Person,
    spellings: Callable[[str], list[str]],
) -> None:
    login = person.phone if spellings is phone_spellings else person.email
    forms = spellings(login)
    page = await login_page(browser, auth_params(rp)[0])
    for i in range(ctx.settings.throttle.free_failures):
        page = await fail(browser, page, forms[i % len(forms)], new_address())
    page = await grow_block(ctx, clock, browser, page, lambda: forms[-1], new_address)
    assert_throttled(await attempt(browser, page, login, person.password, new_address()))


async def test_address_is_throttled_across_many_logins(
    ctx: Context, clock: OffsetClock, browser: Browser, rp: RP, person: Person
) -> None:
    address = new_address()
    page = await login_page(browser, auth_params(rp)[0])
    for _ in range(ctx.settings.throttle.per_address_free_failures):
        page = await fail(browser, page, unknown_login(), address)
    page = await grow_block(ctx, clock, browser, page, unknown_login, lambda: address)

    assert_throttled(await attempt(browser, page, person.phone, person.password, address))
    elsewhere = await attempt(browser, page, person.phone, person.password, new_address())
    assert elsewhere.status_code == 303, elsewhere.text[:300]


async def test_success_resets_the_login_counter(
    ctx: Context, browser: Browser, rp: RP, person: Person
) -> None:
    almost = ctx.settings.throttle.free_failures - 1
    page = await login_page(browser, auth_params(rp)[0])
    for _ in range(almost):
        page = await fail(browser, page, person.phone, new_address())
    ok = await attempt(browser, page, person.phone, person.password, new_address())
    assert ok.status_code == 303

    page = await login_page(browser, auth_params(rp, prompt="login")[0])
    for _ in range(almost):
        page = await fail(browser, page, person.phone, new_address())
    again = await attempt(browser, page, person.phone, person.password, new_address())
    assert again.status_code == 303, again.text[:300]


async def test_unknown_login_and_wrong_password_look_the_same(
    browser: Browser, rp: RP, person: Person
) -> None:
    page = await login_page(browser, auth_params(rp)[0])
    nobody = unknown_login()
    unknown = await attempt(browser, page, nobody, WRONG, new_address())
    wrong = await attempt(browser, page, person.email, WRONG, new_address())
    assert unknown.status_code == wrong.status_code == 400
    assert unknown.text.replace(nobody, "LOGIN") == wrong.text.replace(person.email, "LOGIN")
