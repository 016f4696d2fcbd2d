"""The password reset pages over plain HTTP: the login, the code with the new password, and
every refusal (CSRF, bad input, wrong and expired codes, limits), without JavaScript."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from idp.accounts.errors import InvalidCredentials
from idp.accounts.service import authenticate
from idp.clock import OffsetClock
from idp.context import Context
from idp.db.models import BrowserSession
from tests.support.browser import Browser, query
from tests.support.factories import RP, Person, random_phone
from tests.support.flows import auth_params, log_in, login_page
from tests.support.form_pages import assert_invalid, field_error, input_tag
from tests.support.mailbox import last_message, sms_code

NEW_PASSWORD = "Violet-Orbit-73"


async def ask_for_code(browser: Browser, login: str, url: str = "/reset-password") -> str:
    form = await browser.get(url)
    assert form.status_code == 200
    extra = {"return": query(url)["return"]} if "return=" in url else {}
    asked = await browser.submit(form, {"login": login, **extra})
    assert asked.status_code == 303, asked.text[:500]
    assert asked.headers["location"] == "/reset-password/code"
    return asked.headers["location"]


def new_password(
    code: str, password: str = NEW_PASSWORD, repeat: str | None = None
) -> dict[str, str]:
    return {
        "code": code,
        "password": password,
        "password_repeat": password if repeat is None else repeat,
    }


async def test_login_page_links_to_the_reset(browser: Browser, rp: RP) -> None:
    params, _ = auth_params(rp)
    login = await login_page(browser, params)
    link = re.search(r'<a href="(/reset-password\?[^"]+)">Забыли пароль\?</a>', login.text)
    assert link, login.text
    assert query(html.unescape(link.group(1))) == {"return": login.request.url.path}


async def test_reset_form(browser: Browser) -> None:
    response = await browser.get("/reset-password")
    assert response.status_code == 200
    tag = input_tag(response.text, "login")
    assert 'autocomplete="username"' in tag
    assert 'aria-describedby="login-hint"' in tag
    assert "default-src 'none'" in response.headers["content-security-policy"]


async def test_reset_without_csrf_token_is_refused(browser: Browser, person: Person) -> None:
    await browser.get("/reset-password")
    response = await browser.http.post("/reset-password", data={"login": person.phone})
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("login", "message"),
    [("", "Введите телефон, почту или СНИЛС."), ("not a login", "Это не похоже на телефон")],
)
async def test_bad_logins(browser: Browser, login: str, message: str) -> None:
    form = await browser.get("/reset-password")
    response = await browser.submit(form, {"login": login})
    assert response.status_code == 400
    assert message in assert_invalid(response.text, "login")


async def test_an_unknown_login_looks_the_same(browser: Browser) -> None:
    await ask_for_code(browser, random_phone())
    page = await browser.get("/reset-password/code")
    assert page.status_code == 200
    assert "Если такая учётная запись есть" in page.text
    refused = await browser.submit(page, new_password("123456"))
    assert refused.status_code == 400
    assert "Код неверный" in (field_error(refused.text, "code") or "")


async def test_reset_by_phone(browser: Browser, ctx: Context, person: Person) -> None:
    await ask_for_code(browser, person.phone)
    page = await browser.get("/reset-password/code")
    code_tag = input_tag(page.text, "code")
    assert 'autocomplete="one-time-code"' in code_tag
    assert 'inputmode="numeric"' in code_tag
    assert 'autocomplete="new-password"' in input_tag(page.text, "password")
    assert "Не короче 8 символов." in page.text
    code, _ = await sms_code(ctx, person.phone)
    wrong = "000000" if code != "000000" else "111111"

    missing = await browser.submit(page, {"code": "", "password": "", "password_repeat": ""})
    assert missing.status_code == 400
    for name in ("code", "password", "password_repeat"):
        assert_invalid(missing.text, name)

    weak = await browser.submit(page, new_password(code, "weak"))
    assert weak.status_code == 400
    assert "не короче 8 символов" in assert_invalid(weak.text, "password")
    differ = await browser.submit(page, new_password(code, NEW_PASSWORD, NEW_PASSWORD + "x"))
    assert differ.status_code == 400
    assert assert_invalid(differ.text, "password_repeat") == "Пароли не совпадают."
    personal = await browser.submit(page, new_password(code, "ПетровAb12"))
    assert personal.status_code == 400
    assert "имя" in assert_invalid(personal.text, "password")

    limit = ctx.settings.verification.max_attempts
    bad_code = await browser.submit(page, new_password(wrong))
    assert bad_code.status_code == 400
    assert field_error(bad_code.text, "code") == f"Код неверный. Осталось попыток: {limit - 1}."

    done = await browser.submit(page, new_password(code))
    assert done.status_code == 303
    assert done.headers["location"] == "/reset-password/done"
    assert any(
        h.startswith("idp_password_reset=") and "max-age=0" in h.lower()
        for h in done.headers.get_list("set-cookie")
    )
    final = await browser.get("/reset-password/done")
    assert "Пароль изменён" in final.text
    account = await authenticate(ctx, person.phone, NEW_PASSWORD, "10.6.6.6")
    assert account.id == person.account.id
    with pytest.raises(InvalidCredentials):
        await authenticate(ctx, person.phone, person.password, "10.6.6.7")
    again = await browser.get("/reset-password/code")
    assert again.status_code == 400
    assert "Запрос не найден" in again.text


async def test_reset_by_email_ends_every_session(
    browser: Browser, ctx: Context, person: Person, rp: RP
) -> None:
    await log_in(browser, rp, person)
    async with ctx.db.read() as session:
        before = (
            await session.scalars(
                select(BrowserSession).where(
                    BrowserSession.account_id == person.account.id,
                    BrowserSession.ended_at.is_(None),
                )
            )
        ).all()
    assert before
    await ask_for_code(browser, person.email)
    page = await browser.get("/reset-password/code")
    message = await last_message(ctx, person.email)
    code = re.search(r"\b\d{6}\b", message.body)
    assert code, message.body
    done = await browser.submit(page, new_password(code.group(0)))
    assert done.status_code == 303
    async with ctx.db.read() as session:
        after = (
            await session.scalars(
                select(BrowserSession).where(
                    BrowserSession.account_id == person.account.id,
                    BrowserSession.ended_at.is_(None),
                )
            )
        ).all()
    assert after == []
    # Nothing logs the person in: no session cookie was set on the way.
    for header in done.headers.get_list("set-cookie"):
        assert not header.startswith("idp_session=")


async def test_expired_code_and_expired_reset(
    browser: Browser, ctx: Context, person: Person, clock: OffsetClock
) -> None:
    await ask_for_code(browser, person.phone)
    page = await browser.get("/reset-password/code")
    code, _ = await sms_code(ctx, person.phone)
    clock.advance(ctx.settings.verification.sms_code_ttl + 1)
    expired = await browser.submit(page, new_password(code))
    assert expired.status_code == 400
    assert field_error(expired.text, "code") == "Срок действия кода истёк. Запросите новый код."
    assert 'href="/reset-password"' in expired.text
    clock.advance(ctx.settings.verification.password_reset_ttl)
    gone = await browser.get("/reset-password/code")
    assert gone.status_code == 400
    assert "Запрос не найден" in gone.text
    posted = await browser.submit(page, new_password(code))
    assert posted.status_code == 400
    assert "Запрос не найден" in posted.text


async def test_too_many_requests_for_one_login(browser: Browser, ctx: Context) -> None:
    login = random_phone()
    for _ in range(ctx.settings.verification.max_sends_per_hour):
        await ask_for_code(browser, login)
    form = await browser.get("/reset-password")
    refused = await browser.submit(form, {"login": login})
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert "Слишком много запросов" in refused.text
    assert f'value="{login}"' in input_tag(refused.text, "login")


async def test_from_the_login_page_and_back(
    browser: Browser, ctx: Context, person: Person, rp: RP
) -> None:
    params, _ = auth_params(rp)
    login = await login_page(browser, params)
    interaction = login.request.url.path
    await ask_for_code(browser, person.phone, f"/reset-password?return={interaction}")
    page = await browser.get("/reset-password/code")
    code, _ = await sms_code(ctx, person.phone)
    done = await browser.submit(page, new_password(code))
    assert query(done.headers["location"]) == {"return": interaction}
    final = await browser.get(done.headers["location"])
    assert f'<a href="{interaction}" class="button">' in final.text
    back = await browser.get(interaction)
    assert back.status_code == 200
    logged_in = await browser.submit(back, {"login": person.phone, "password": NEW_PASSWORD})
    callback = await browser.follow_to_client(logged_in, rp.redirect_uri)
    assert "code" in query(callback)
