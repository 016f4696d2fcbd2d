"""The account console's pages (``/account``) over a live server, on SQLite and PostgreSQL:
signing in and coming back, the overview in both languages, contacts, the password with
re-authentication, sessions (ending one logs its relying parties out over the back channel),
consents, recent sign-ins; and bad input (no CSRF token, another person's session, an unknown
client) that changes nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select, update

from idp.clock import OffsetClock
from idp.context import Context
from idp.db.models import AuditEvent, BrowserSession, Consent, Contact, Verification
from tests.support.browser import Browser
from tests.support.console_kit import console_login, csrf_of, device, post
from tests.support.factories import Person, make_person, make_rp
from tests.support.live import LiveServer
from tests.support.logout_kit import (
    LiveRP,
    RPFarm,
    deliveries,
    logged_in,
    sessions_of_client,
    sign_in,
    wait_until,
)
from tests.support.mailbox import email_link, sms_code
from tests.support.token_kit import assert_invalid_grant, refresh

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Safari/604.1"
NEW_PASSWORD = "Cobalt-Meadow-94"


@pytest.fixture
async def farm(ctx: Context, server: LiveServer) -> AsyncIterator[RPFarm]:
    rps = RPFarm(ctx, server.url)
    yield rps
    await rps.close()


@pytest.fixture
async def second(server: LiveServer) -> AsyncIterator[Browser]:
    b = Browser(server.url)
    yield b
    await b.close()


async def live_session_ids(ctx: Context, person: Person) -> set[uuid.UUID]:
    async with ctx.db.read() as session:
        rows = await session.scalars(
            select(BrowserSession.id).where(
                BrowserSession.account_id == person.account.id, BrowserSession.ended_at.is_(None)
            )
        )
        return set(rows.all())


async def age_logins(ctx: Context, person: Person, seconds: int) -> None:
    """Make the person's logins ``seconds`` older (moving the clock instead would send the
    RPs logout tokens from the future)."""
    async with ctx.db.transaction() as session:
        await session.execute(
            update(BrowserSession)
            .where(BrowserSession.account_id == person.account.id)
            .values(auth_time=ctx.clock.now() - timedelta(seconds=seconds))
        )


async def consent_of(ctx: Context, person: Person, client_id: str) -> Consent | None:
    async with ctx.db.read() as session:
        return await session.get(Consent, (person.account.id, client_id))


# --- signing in --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/account", "/account/contacts", "/account/sessions", "/account/sign-ins"]
)
async def test_without_a_session_the_page_sends_to_login_and_back(
    browser: Browser, person: Person, path: str
) -> None:
    first = await browser.get(path)
    assert first.status_code == 303
    assert first.headers["location"] == f"/account/login?return={quote(path, safe='')}"
    await console_login(browser, person, back=path)
    page = await browser.get(path)
    assert page.status_code == 200, page.text[:300]
    assert 'aria-current="page"' in page.text


@pytest.mark.parametrize(
    "back",
    [
        "https://evil.example/account",
        "//evil.example/account",
        "/account/../logout",
        "/accountx",
        "/account\r\nLocation: https://evil.example",
        "/logout",
    ],
)
async def test_return_is_only_ever_a_console_page(
    browser: Browser, person: Person, back: str
) -> None:
    page = await browser.get("/account/login", params={"return": back})
    assert page.status_code == 200
    assert 'name="return" value="/account"' in page.text
    done = await browser.http.post(
        "/account/login",
        data={
            "csrf_token": csrf_of(page),
            "return": back,
            "login": person.phone,
            "password": person.password,
        },
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/account"


async def test_a_wrong_password_on_the_login_page(browser: Browser, person: Person) -> None:
    page = await browser.get("/account/login")
    refused = await browser.http.post(
        "/account/login",
        data={"csrf_token": csrf_of(page), "login": person.phone, "password": "Wrong-Pass-11"},
    )
    assert refused.status_code == 400
    assert "Неверный логин или пароль" in refused.text
    assert "idp_session" not in browser.http.cookies


# --- the overview ------------------------------------------------------------------------------


async def test_overview_in_russian_and_english(browser: Browser, person: Person) -> None:
    await console_login(browser, person)
    ru = await browser.get("/account", headers={"Accept-Language": "ru-RU"})
    assert ru.status_code == 200
    assert '<html lang="ru">' in ru.text
    assert "Петров Иван Сергеевич" in ru.text
    assert '<strong id="level">упрощённая</strong>' in ru.text
    assert "Следующий уровень — «стандартная»" in ru.text
    assert person.phone in ru.text
    assert ru.headers["cache-control"] == "no-store"
    en = await browser.get("/account", headers={"Accept-Language": "en"})
    assert '<html lang="en">' in en.text
    assert '<strong id="level">simplified</strong>' in en.text
    assert "How to get the «standard» level" in en.text


async def test_overview_of_a_confirmed_account(browser: Browser, ctx: Context) -> None:
    person = await make_person(ctx, level="confirmed", method="qes")
    await console_login(browser, person)
    page = await browser.get("/account", headers={"Accept-Language": "en"})
    assert '<strong id="level">confirmed</strong>' in page.text
    assert "qualified electronic signature" in page.text
    assert "highest level" in page.text


# --- CSRF: nothing changes without the page's token --------------------------------------------


async def test_no_form_changes_anything_without_its_csrf_token(
    browser: Browser, second: Browser, ctx: Context, person: Person
) -> None:
    await console_login(browser, person)
    await console_login(second, person)
    sessions = await live_session_ids(ctx, person)
    async with ctx.db.read() as session:
        contacts = list(
            (
                await session.scalars(
                    select(Contact).where(Contact.account_id == person.account.id)
                )
            ).all()
        )
    other = next(iter(sessions))
    forms = [
        (f"/account/sessions/{other}/end", {}),
        ("/account/sessions/end-all", {"keep_current": "no"}),
        ("/account/contacts", {"kind": "phone", "value": "+79990001122"}),
        (f"/account/contacts/{contacts[0].id}/remove", {}),
        (
            "/account/password",
            {
                "old_password": person.password,
                "password": NEW_PASSWORD,
                "password_repeat": NEW_PASSWORD,
            },
        ),
        ("/account/logout", {}),
    ]
    for action, data in forms:
        for token in (None, "forged-" + "x" * 40):
            sent = {"return": "/account", **data, **({"csrf_token": token} if token else {})}
            refused = await browser.http.post(action, data=sent)
            assert refused.status_code == 403, (action, refused.status_code, refused.text[-800:])
    assert await live_session_ids(ctx, person) == sessions
    async with ctx.db.read() as session:
        after = (
            await session.scalars(select(Contact.id).where(Contact.account_id == person.account.id))
        ).all()
    assert set(after) == {c.id for c in contacts}
    # The password is still the old one: logging in with it works.
    fresh = Browser(browser.base_url)
    try:
        await console_login(fresh, person)
    finally:
        await fresh.close()


# --- re-authentication and the password --------------------------------------------------------


async def test_password_change_asks_for_the_password_again_after_five_minutes(
    browser: Browser,
    second: Browser,
    ctx: Context,
    clock: OffsetClock,
    person: Person,
    farm: RPFarm,
) -> None:
    tax = await farm.add()
    device(browser, FIREFOX)
    await console_login(browser, person)
    # The same person elsewhere, signed in to an RP: the change logs that session out.
    at_tax = await sign_in(second, tax.rp, person)

    fresh = await browser.get("/account/password")
    assert fresh.status_code == 200  # just logged in: no question asked

    await age_logins(ctx, person, ctx.settings.console.reauth_within + 1)
    stale = await browser.get("/account/password")
    assert stale.status_code == 303
    assert stale.headers["location"] == "/account/reauth?return=%2Faccount%2Fpassword"
    # A post without a fresh login changes nothing either.
    page = await browser.get("/account")
    refused = await browser.http.post(
        "/account/password",
        data={
            "csrf_token": csrf_of(page),
            "old_password": person.password,
            "password": NEW_PASSWORD,
            "password_repeat": NEW_PASSWORD,
        },
    )
    assert refused.status_code == 303
    assert refused.headers["location"].startswith("/account/reauth?")

    old_cookie = browser.http.cookies.get("idp_session")
    wrong = await post(
        browser,
        stale.headers["location"],
        "/account/reauth",
        {
            "return": "/account/password",
            "password": "Not-The-One-1",
        },
    )
    assert wrong.status_code == 400
    assert "Неверный пароль" in wrong.text
    right = await post(
        browser,
        stale.headers["location"],
        "/account/reauth",
        {
            "return": "/account/password",
            "password": person.password,
        },
    )
    assert right.status_code == 303
    assert right.headers["location"] == "/account/password"
    assert browser.http.cookies.get("idp_session") != old_cookie  # no fixation

    # Field errors: the old password wrong, the new one too weak.
    bad = await post(
        browser,
        "/account/password",
        "/account/password",
        {
            "old_password": "Not-The-One-1",
            "password": NEW_PASSWORD,
            "password_repeat": NEW_PASSWORD,
        },
    )
    assert bad.status_code == 400
    assert 'id="old_password-error"' in bad.text
    weak = await post(
        browser,
        "/account/password",
        "/account/password",
        {
            "old_password": person.password,
            "password": "short",
            "password_repeat": "short",
        },
    )
    assert weak.status_code == 400
    assert 'id="password-error"' in weak.text

    changed = await post(
        browser,
        "/account/password",
        "/account/password",
        {
            "old_password": person.password,
            "password": NEW_PASSWORD,
            "password_repeat": NEW_PASSWORD,
        },
    )
    assert changed.status_code == 303
    assert changed.headers["location"] == "/account?done=password"
    assert (await browser.get("/account")).status_code == 200  # still signed in here
    # The other session ended and its RP was told over the back channel.
    await wait_until(lambda: len(tax.fake.received) == 1, "a back-channel logout")
    assert tax.fake.problems == []
    assert not await logged_in(second, tax.rp)
    assert_invalid_grant(await refresh(second.http, tax.rp, at_tax["refresh_token"]))
    async with ctx.db.read() as session:
        events = (
            await session.scalars(
                select(AuditEvent.outcome).where(
                    AuditEvent.account_id == str(person.account.id), AuditEvent.event == "reauth"
                )
            )
        ).all()
    assert sorted(events) == ["failure", "success"]


# --- contacts ----------------------------------------------------------------------------------


async def test_add_confirm_and_remove_a_phone(
    browser: Browser, ctx: Context, person: Person
) -> None:
    await console_login(browser, person)
    new_phone = "+7999" + uuid.uuid4().int.__str__()[:7]
    added = await post(
        browser,
        "/account/contacts",
        "/account/contacts",
        {
            "kind": "phone",
            "value": new_phone,
        },
    )
    assert added.status_code == 303, added.text[:500]
    page = await browser.get(added.headers["location"])
    assert "Мы отправили код в SMS" in page.text
    async with ctx.db.read() as session:
        contact = (
            await session.scalars(
                select(Contact).where(
                    Contact.account_id == person.account.id, Contact.value_lookup == new_phone
                )
            )
        ).one()
    code, _ = await sms_code(ctx, new_phone)
    wrong = await post(
        browser,
        "/account/contacts",
        f"/account/contacts/{contact.id}/confirm",
        {
            "code": "000000" if code != "000000" else "111111",
        },
    )
    assert wrong.status_code == 400
    assert "Осталось попыток" in wrong.text
    confirmed = await post(
        browser, "/account/contacts", f"/account/contacts/{contact.id}/confirm", {"code": code}
    )
    assert confirmed.status_code == 303
    # Log in with the new phone, then remove the old phone and the e-mail address.
    async with ctx.db.read() as session:
        others = (
            await session.scalars(
                select(Contact).where(
                    Contact.account_id == person.account.id, Contact.id != contact.id
                )
            )
        ).all()
    for other in others:
        removed = await post(browser, "/account/contacts", f"/account/contacts/{other.id}/remove")
        assert removed.status_code == 303, removed.text[:500]
    # The last confirmed contact stays: the page offers no button and refuses the post.
    page = await browser.get("/account/contacts")
    assert f'action="/account/contacts/{contact.id}/remove"' not in page.text
    refused = await browser.http.post(
        f"/account/contacts/{contact.id}/remove", data={"csrf_token": csrf_of(page)}
    )
    assert refused.status_code == 409
    assert "единственный подтверждённый контакт" in refused.text
    async with ctx.db.read() as session:
        assert await session.get(Contact, contact.id) is not None


@pytest.mark.parametrize(
    ("kind", "value", "text"),
    [
        ("phone", "12", "международном формате"),
        ("email", "not-an-address", "name@example.ru"),
        ("fax", "+79990001122", "Выберите телефон или адрес почты"),
    ],
)
async def test_a_bad_contact_is_explained_and_not_added(
    browser: Browser, ctx: Context, person: Person, kind: str, value: str, text: str
) -> None:
    await console_login(browser, person)
    refused = await post(
        browser,
        "/account/contacts",
        "/account/contacts",
        {
            "kind": kind,
            "value": value,
        },
    )
    assert refused.status_code == 400
    assert text in refused.text
    async with ctx.db.read() as session:
        count = len(
            (
                await session.scalars(
                    select(Contact.id).where(Contact.account_id == person.account.id)
                )
            ).all()
        )
    assert count == 2


async def test_another_persons_contact_cannot_be_removed(
    browser: Browser, ctx: Context, person: Person
) -> None:
    stranger = await make_person(ctx)
    async with ctx.db.read() as session:
        theirs = (
            await session.scalars(select(Contact).where(Contact.account_id == stranger.account.id))
        ).first()
    assert theirs is not None
    await console_login(browser, person)
    for target in (str(theirs.id), "not-a-uuid"):
        refused = await _post_raw(browser, f"/account/contacts/{target}/remove")
        assert refused.status_code == 404
    async with ctx.db.read() as session:
        assert await session.get(Contact, theirs.id) is not None


async def _post_raw(
    browser: Browser, action: str, data: dict[str, str] | None = None
) -> httpx.Response:
    """Post ``action`` with a valid CSRF token, whether or not a page offers that form."""
    page = await browser.get("/account")
    return await browser.http.post(action, data={"csrf_token": csrf_of(page), **(data or {})})


# --- sessions ----------------------------------------------------------------------------------


async def test_sessions_listed_and_one_ended_logs_its_rp_out(
    browser: Browser, second: Browser, ctx: Context, person: Person, farm: RPFarm
) -> None:
    tax: LiveRP = await farm.add(name="Налоговая служба")
    device(second, IPHONE, "203.0.113.77")
    at_tax = await sign_in(second, tax.rp, person)
    device(browser, FIREFOX, "198.51.100.20")
    await console_login(browser, person)

    page = await browser.get("/account/sessions")
    assert page.status_code == 200
    assert "Safari on iOS" in page.text
    assert "Firefox on Linux" in page.text
    assert "сеть 203.0.113.0" in page.text
    assert "203.0.113.77" not in page.text
    assert "Налоговая служба" in page.text
    [phone_session] = await sessions_of_client(ctx, tax.client_id)
    assert f'action="/account/sessions/{phone_session.id}/end"' in page.text

    ended = await post(browser, "/account/sessions", f"/account/sessions/{phone_session.id}/end")
    assert ended.status_code == 303
    assert ended.headers["location"] == "/account/sessions?done=session_ended"
    await wait_until(lambda: len(tax.fake.received) == 1, "a back-channel logout")
    assert tax.fake.problems == []
    assert tax.fake.received[0].claims["sid"] == phone_session.sid
    assert tax.fake.received[0].claims["sub"] == person.account.sub
    assert [d.status for d in await deliveries(ctx, tax.client_id)] == ["delivered"]
    assert not await logged_in(second, tax.rp)
    assert_invalid_grant(await refresh(second.http, tax.rp, at_tax["refresh_token"]))
    assert (await browser.get("/account")).status_code == 200  # this one goes on


async def test_end_all_others_then_all(
    browser: Browser, second: Browser, ctx: Context, person: Person, farm: RPFarm
) -> None:
    tax = await farm.add()
    await sign_in(second, tax.rp, person)
    await console_login(browser, person)
    kept = await post(
        browser,
        "/account/sessions",
        "/account/sessions/end-all",
        {
            "keep_current": "yes",
        },
    )
    assert kept.headers["location"] == "/account/sessions?done=sessions_ended"
    await wait_until(lambda: len(tax.fake.received) == 1, "a back-channel logout")
    assert len(await live_session_ids(ctx, person)) == 1
    everything = await post(
        browser,
        "/account/sessions",
        "/account/sessions/end-all",
        {
            "keep_current": "no",
        },
    )
    assert everything.headers["location"] == "/logout/done"
    assert await live_session_ids(ctx, person) == set()
    after = await browser.get("/account")
    assert after.status_code == 303  # back to the login page
    done = await browser.get("/logout/done")
    assert 'href="/account"' in done.text


async def test_another_persons_session_cannot_be_ended(
    browser: Browser, second: Browser, ctx: Context, person: Person
) -> None:
    stranger = await make_person(ctx)
    await console_login(second, stranger)
    [theirs] = await live_session_ids(ctx, stranger)
    await console_login(browser, person)
    for target in (str(theirs), str(uuid.uuid4()), "not-a-uuid", "x" * 300):
        refused = await _post_raw(browser, f"/account/sessions/{target}/end")
        assert refused.status_code == 404, (target, refused.status_code)
    assert await live_session_ids(ctx, stranger) == {theirs}
    assert (await second.get("/account")).status_code == 200


# --- consents ----------------------------------------------------------------------------------


async def test_withdrawing_a_consent_revokes_the_clients_tokens(
    browser: Browser, ctx: Context, person: Person
) -> None:
    mail = await make_rp(ctx, name="Почта России", require_consent=True)
    tokens = await sign_in(browser, mail, person, scope="openid profile offline_access")
    assert await consent_of(ctx, person, mail.client_id) is not None
    assert (await browser.get("/account")).status_code == 200  # the same SSO session

    page = await browser.get("/account/consents")
    assert "Почта России" in page.text
    assert "ваши фамилия, имя и отчество" in page.text  # the profile scope in words
    withdrawn = await post(
        browser, "/account/consents", f"/account/consents/{mail.client_id}/withdraw"
    )
    assert withdrawn.status_code == 303
    assert withdrawn.headers["location"] == "/account/consents?done=consent_withdrawn"
    assert await consent_of(ctx, person, mail.client_id) is None
    assert_invalid_grant(await refresh(browser.http, mail, tokens["refresh_token"]))
    assert "Почта России" not in (await browser.get("/account/consents")).text

    # Unknown or already withdrawn: 404, nothing else changes.
    for target in (mail.client_id, "no-such-client", "x" * 300):
        refused = await _post_raw(browser, f"/account/consents/{target}/withdraw")
        assert refused.status_code == 404, (target, refused.status_code)


# --- recent sign-ins ---------------------------------------------------------------------------


async def test_recent_sign_ins_newest_first_with_device_and_network(
    browser: Browser, second: Browser, ctx: Context, clock: OffsetClock, person: Person
) -> None:
    device(second, IPHONE, "203.0.113.9")
    await console_login(second, person)
    clock.advance(120)
    device(browser, FIREFOX, "198.51.100.30")
    await console_login(browser, person)
    page = await browser.get("/account/sign-ins", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    rows = page.text.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    assert len(rows) == 2
    assert "Firefox on Linux" in rows[0]
    assert "this device" in rows[0]
    assert "Safari on iOS" in rows[1]
    assert "network 203.0.113.0" in rows[1]
    assert "203.0.113.9" not in page.text


async def test_add_an_email_address_and_confirm_it_by_its_link(
    browser: Browser, ctx: Context, person: Person
) -> None:
    await console_login(browser, person)
    address = f"new-{uuid.uuid4().hex[:10]}@example.ru"
    added = await post(
        browser, "/account/contacts", "/account/contacts", {"kind": "email", "value": address}
    )
    assert added.status_code == 303
    assert added.headers["location"] == "/account/contacts?done=email_sent"
    page = await browser.get("/account/contacts")
    assert address in page.text
    assert "Откройте ссылку из письма" in page.text
    _, first_token = await email_link(ctx, address)

    # Sent again: the first link dies.
    async with ctx.db.read() as session:
        contact = (
            await session.scalars(
                select(Contact).where(
                    Contact.account_id == person.account.id, Contact.value_lookup == address
                )
            )
        ).one()
    clock_moved = ctx.settings.verification.resend_cooldown + 1
    async with ctx.db.transaction() as session:  # the cooldown is over
        await session.execute(
            update(Verification)
            .where(Verification.owner_id == person.account.id)
            .values(last_sent_at=ctx.clock.now() - timedelta(seconds=clock_moved))
        )
    resent = await post(browser, "/account/contacts", f"/account/contacts/{contact.id}/resend")
    assert resent.status_code == 303, resent.text[:500]
    token = first_token
    for _ in range(100):
        _, token = await email_link(ctx, address)
        if token != first_token:
            break
        await asyncio.sleep(0.05)
    assert token != first_token

    shown = await browser.get(f"/confirm-email?token={token}")
    confirmed = await browser.http.post(
        "/confirm-email", data={"csrf_token": csrf_of(shown), "token": token}
    )
    assert confirmed.status_code == 303, confirmed.text[:500]
    page = await browser.get("/account/contacts")
    assert f'id="contact-{contact.id}"' in page.text
    async with ctx.db.read() as session:
        fresh = await session.get(Contact, contact.id)
        assert fresh is not None
        assert fresh.confirmed_at is not None
