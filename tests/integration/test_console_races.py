"""The account console under double submits, on SQLite and PostgreSQL: what a double click (or
two tabs) does to a form must leave the person signed in, never half logged out."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select

from idp.context import Context
from idp.db.models import AuditEvent
from tests.support.browser import Browser
from tests.support.console_kit import console_login, csrf_of
from tests.support.factories import Person
from tests.support.live import LiveServer


def _session_cookie(response: httpx.Response) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name == "idp_session":
            return rest.split(";", 1)[0]
    return None


async def test_a_double_submit_of_the_reauthentication_keeps_the_person_signed_in(
    browser: Browser, ctx: Context, person: Person, server: LiveServer
) -> None:
    await console_login(browser, person)
    page = await browser.get("/account/reauth?return=%2Faccount%2Fpassword")
    form = {
        "csrf_token": csrf_of(page),
        "password": person.password,
        "return": "/account/password",
    }
    answers = await asyncio.gather(
        *[browser.http.post("/account/reauth", data=form) for _ in range(2)]
    )
    assert [a.status_code for a in answers] == [303, 303]
    assert {a.headers["location"] for a in answers} == {"/account/password"}
    cookies = [_session_cookie(a) for a in answers]
    assert all(cookies), cookies  # neither answer clears the session cookie
    # A browser keeps the answer it got last (a double click drops the first): whichever
    # it is, the newest cookie works, and the person stays signed in.
    working = 0
    for cookie in cookies:
        other = Browser(server.url)
        try:
            other.http.cookies.set("idp_session", str(cookie))
            working += (await other.get("/account")).status_code == 200
        finally:
            await other.close()
    assert working >= 1
    assert (await browser.get("/account/password")).status_code == 200
    async with ctx.db.read() as session:
        outcomes = (
            await session.scalars(
                select(AuditEvent.outcome).where(
                    AuditEvent.account_id == str(person.account.id), AuditEvent.event == "reauth"
                )
            )
        ).all()
    assert sorted(outcomes) == ["success", "success"]


async def test_a_double_submit_of_the_password_change_shows_it_done_twice(
    browser: Browser, ctx: Context, person: Person, server: LiveServer
) -> None:
    await console_login(browser, person)
    page = await browser.get("/account/password")
    new = "Cobalt-Meadow-94"
    form = {
        "csrf_token": csrf_of(page),
        "old_password": person.password,
        "password": new,
        "password_repeat": new,
    }
    answers = await asyncio.gather(
        *[browser.http.post("/account/password", data=form) for _ in range(2)]
    )
    assert [a.status_code for a in answers] == [303, 303], [a.text[-600:] for a in answers]
    assert {a.headers["location"] for a in answers} == {"/account?done=password"}
    assert (await browser.get("/account")).status_code == 200  # still signed in here
    async with ctx.db.read() as session:
        changes = (
            await session.scalars(
                select(AuditEvent.outcome).where(
                    AuditEvent.account_id == str(person.account.id),
                    AuditEvent.event == "password.change",
                )
            )
        ).all()
    assert changes == ["success"]  # changed once
    fresh = Browser(server.url)
    try:
        await console_login(
            fresh, Person(person.account, person.phone, person.email, person.snils, new)
        )
    finally:
        await fresh.close()


async def test_a_different_password_set_meanwhile_is_still_a_conflict(
    browser: Browser, ctx: Context, person: Person
) -> None:
    await console_login(browser, person)
    page = await browser.get("/account/password")
    token = csrf_of(page)
    forms = [
        {
            "csrf_token": token,
            "old_password": person.password,
            "password": new,
            "password_repeat": new,
        }
        for new in ("Cobalt-Meadow-94", "Amber-Harbour-57")
    ]
    answers = await asyncio.gather(
        *[browser.http.post("/account/password", data=form) for form in forms]
    )
    codes = sorted(a.status_code for a in answers)
    assert codes in ([303, 409], [303, 400]), codes  # one wins; the other is told
