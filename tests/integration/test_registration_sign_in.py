"""Signed in at the end of registration (issue 9), over a live server on SQLite and
PostgreSQL: a double submit or a second tab of the password page finds the registration
finished and goes to the done page (not "start again"); exactly one account and one session
are made; the finished registration's cookie starts no second session."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from idp.context import Context
from idp.db.models import Account, BrowserSession, Contact
from tests.integration.test_registration_pages import PASSWORD, to_password_page
from tests.support.browser import Browser
from tests.support.console_kit import csrf_of
from tests.support.factories import random_phone
from tests.support.live import LiveServer


async def _account_and_sessions(ctx: Context, phone: str) -> tuple[int, int]:
    async with ctx.db.read() as session:
        owners = (
            await session.scalars(select(Contact.account_id).where(Contact.value_lookup == phone))
        ).all()
        live = (
            await session.scalars(
                select(BrowserSession.id).where(
                    BrowserSession.account_id.in_(owners), BrowserSession.ended_at.is_(None)
                )
            )
        ).all()
        accounts = (await session.scalars(select(Account.id).where(Account.id.in_(owners)))).all()
    return len(accounts), len(live)


async def test_a_double_submit_of_the_password_goes_to_the_done_page(
    browser: Browser, ctx: Context
) -> None:
    phone = random_phone()
    page = await to_password_page(browser, ctx, phone)
    token = csrf_of(page)
    form = {"csrf_token": token, "password": PASSWORD, "password_repeat": PASSWORD}
    answers = await asyncio.gather(
        *[browser.http.post("/register/password", data=form) for _ in range(5)]
    )
    assert sorted(a.status_code for a in answers) == [303] * 5, [
        (a.status_code, a.text[:200]) for a in answers
    ]
    assert {a.headers["location"] for a in answers} == {"/register/done"}
    # Exactly one of them signed the browser in; the others only clear the registration.
    assert sum("idp_session=" in a.headers.get("set-cookie", "") for a in answers) == 1
    assert await _account_and_sessions(ctx, phone) == (1, 1)
    assert (await browser.get("/account")).status_code == 200


async def test_a_second_tab_of_the_password_page_goes_to_the_done_page(
    browser: Browser, ctx: Context, server: LiveServer
) -> None:
    phone = random_phone()
    page = await to_password_page(browser, ctx, phone)
    registration_cookie = browser.http.cookies.get("idp_registration")
    token = csrf_of(page)
    form = {"csrf_token": token, "password": PASSWORD, "password_repeat": PASSWORD}
    first = await browser.http.post("/register/password", data=form)
    assert first.status_code == 303
    # The other tab still holds the (now cleared) registration cookie from before.
    browser.http.cookies.set("idp_registration", registration_cookie)
    again = await browser.get("/register/password")
    assert again.status_code == 303
    assert again.headers["location"] == "/register/done"
    second = await browser.http.post("/register/password", data=form)
    assert second.status_code == 303
    assert second.headers["location"] == "/register/done"
    assert "idp_session=" not in second.headers.get("set-cookie", "")
    assert await _account_and_sessions(ctx, phone) == (1, 1)


async def test_a_finished_registrations_cookie_starts_no_session_elsewhere(
    browser: Browser, ctx: Context, server: LiveServer
) -> None:
    phone = random_phone()
    page = await to_password_page(browser, ctx, phone)
    registration_cookie = browser.http.cookies.get("idp_registration")
    form = {"csrf_token": csrf_of(page), "password": PASSWORD, "password_repeat": PASSWORD}
    assert (await browser.http.post("/register/password", data=form)).status_code == 303
    other = Browser(server.url)
    try:
        other.http.cookies.set("idp_registration", registration_cookie)
        shown = await other.get("/register/password")
        assert shown.status_code == 303
        replayed = await other.http.post(
            "/register/password",
            data={"csrf_token": csrf_of(await other.get("/account/login")), **form},
        )
        assert replayed.status_code in (303, 403)
        assert "idp_session=" not in replayed.headers.get("set-cookie", "")
        assert (await other.get("/account")).status_code == 303  # not signed in there
    finally:
        await other.close()
    assert await _account_and_sessions(ctx, phone) == (1, 1)
