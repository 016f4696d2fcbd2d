"""The self-registration pages over plain HTTP: every step, every refusal, no JavaScript.

What a browser sees of /register, /register/phone, /register/email-sent, /confirm-email and
/register/password: status codes, field errors tied to their inputs, CSRF refusals, the SMS
code's limits under a controllable clock, and the way back to the login page it came from.
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select

from idp.accounts.service import authenticate
from idp.clock import OffsetClock
from idp.context import Context
from idp.db.models import Registration
from tests.support.browser import Browser, form_fields, query
from tests.support.factories import RP, Person, random_phone
from tests.support.flows import auth_params, login_page, redeem
from tests.support.form_pages import assert_invalid, field_error, input_tag
from tests.support.live import LiveServer
from tests.support.mailbox import email_link, message_count, sms_code

PASSWORD = "Violet-Orbit-73"
NAMES = {
    "last_name": "Сидорова",
    "first_name": "Анна",
    "middle_name": "Петровна",
    "personal_data_consent": "yes",
}
_RESEND_TOKEN = re.compile(
    r'action="/register/phone/resend"[^>]*>\s*<input type="hidden" name="csrf_token" '
    r'value="([^"]+)"'
)


def resend_token(page: str) -> str:
    found = _RESEND_TOKEN.search(page)
    assert found, "no resend form"
    return found.group(1)


def unique_email() -> str:
    return f"reg-{uuid.uuid4().hex[:10]}@example.ru"


@pytest.fixture
async def english(server: LiveServer) -> AsyncIterator[Browser]:
    b = Browser(server.url)
    b.http.headers["Accept-Language"] = "en-US,en;q=0.9"
    yield b
    await b.close()


async def start(browser: Browser, url: str = "/register", **fields: str) -> httpx.Response:
    form = await browser.get(url)
    assert form.status_code == 200, form.text[:300]
    return await browser.submit(form, {**NAMES, **fields})


async def to_password_page(browser: Browser, ctx: Context, phone: str) -> httpx.Response:
    started = await start(browser, phone=phone)
    assert started.status_code == 303
    assert started.headers["location"] == "/register/phone"
    page = await browser.get("/register/phone")
    code, _ = await sms_code(ctx, phone)
    confirmed = await browser.submit(page, {"code": code})
    assert confirmed.status_code == 303, confirmed.text[:500]
    assert confirmed.headers["location"] == "/register/password"
    return await browser.get("/register/password")


async def registrations_with(ctx: Context, phone: str) -> int:
    # Phones are sealed and registrations have no lookup index: open them and compare here.
    async with ctx.db.read() as session:
        phones = (await session.scalars(select(Registration.phone))).all()
    return sum(1 for stored in phones if stored == phone)


# --- /register ----------------------------------------------------------------------------


async def test_register_form_is_accessible_and_strict(browser: Browser) -> None:
    response = await browser.get("/register")
    assert response.status_code == 200
    page = response.text
    assert '<html lang="ru">' in page
    for name, autocomplete in (
        ("last_name", "family-name"),
        ("first_name", "given-name"),
        ("middle_name", "additional-name"),
        ("phone", "tel"),
        ("email", "email"),
    ):
        assert f'<label for="{name}">' in page
        assert f'autocomplete="{autocomplete}"' in input_tag(page, name)
    assert 'type="tel"' in input_tag(page, "phone")
    assert 'aria-describedby="phone-hint"' in input_tag(page, "phone")
    assert "<script" not in page
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src" not in csp
    assert "form-action 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "no-store" in response.headers["cache-control"]
    assert browser.http.cookies.get("idp_browser")


async def test_register_without_csrf_token_is_refused(browser: Browser, ctx: Context) -> None:
    await browser.get("/register")
    phone = random_phone()
    response = await browser.http.post("/register", data={**NAMES, "phone": phone})
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert 'role="alert"' in response.text
    forged = await browser.http.post(
        "/register", data={**NAMES, "phone": phone, "csrf_token": "0" * 64}
    )
    assert forged.status_code == 403
    assert await registrations_with(ctx, phone) == 0


async def test_register_with_a_foreign_browser_cookie_is_refused(server: LiveServer) -> None:
    """A token from one browser does not work with another browser's cookie."""
    first, second = Browser(server.url), Browser(server.url)
    try:
        form = await first.get("/register")
        await second.get("/register")
        _, token = form_fields(form.text)
        response = await second.http.post(
            "/register", data={**NAMES, "phone": random_phone(), "csrf_token": token}
        )
        assert response.status_code == 403
    finally:
        await first.close()
        await second.close()


async def test_bad_names_and_contacts_give_field_errors(browser: Browser, ctx: Context) -> None:
    phone = "12345"
    response = await start(
        browser,
        last_name="R2-D2",
        first_name="<script>",
        middle_name="Петрович1",
        phone=phone,
        email="not-an-address",
    )
    assert response.status_code == 400
    page = response.text
    assert "<title>Ошибка:" in page
    assert 'class="error-summary" role="alert"' in page
    for name in ("last_name", "first_name", "middle_name", "phone", "email"):
        assert_invalid(page, name)
        assert f'href="#{name}"' in page
    assert "русские или латинские буквы" in (field_error(page, "last_name") or "")
    assert "+79991234567" in (field_error(page, "phone") or "")
    # What was typed comes back, escaped; the focus goes to the first wrong field.
    assert 'value="R2-D2"' in input_tag(page, "last_name")
    assert 'value="&lt;script&gt;"' in input_tag(page, "first_name")
    assert "<script>" not in page
    assert "autofocus" in input_tag(page, "last_name")
    assert "autofocus" not in input_tag(page, "first_name")
    assert await registrations_with(ctx, phone) == 0


async def test_missing_names_and_contacts(browser: Browser) -> None:
    response = await start(browser, last_name="", first_name="   ", middle_name="")
    assert response.status_code == 400
    page = response.text
    assert field_error(page, "last_name") == "Введите фамилию."
    assert field_error(page, "first_name") == "Введите имя."
    assert field_error(page, "middle_name") is None
    assert 'aria-invalid="true"' not in input_tag(page, "middle_name")
    # One error for the pair, read out with both inputs and linked to the first.
    assert_invalid(page, "phone", "contact-error")
    assert_invalid(page, "email", "contact-error")
    assert 'href="#phone"' in page
    assert "телефон или адрес электронной почты" in (field_error(page, "contact") or "")


async def test_form_that_is_not_a_form_is_refused(browser: Browser) -> None:
    await browser.get("/register")
    response = await browser.http.post("/register", json={"last_name": "Иванов"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    repeated = await browser.http.post(
        "/register", content=b"phone=1&phone=2", headers={"content-type": FORM}
    )
    assert repeated.status_code == 400


FORM = "application/x-www-form-urlencoded"


async def test_registration_cookie_is_http_only_and_lax(browser: Browser, ctx: Context) -> None:
    response = await start(browser, phone=random_phone())
    assert response.status_code == 303
    header = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith("idp_registration=")
    )
    attributes = header.lower()
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "path=/" in attributes
    assert f"max-age={ctx.settings.verification.registration_ttl}" in attributes
    # The registration's secret is never in a URL.
    assert "token" not in response.headers["location"]


async def test_english_pages(english: Browser, ctx: Context) -> None:
    form = await english.get("/register")
    assert '<html lang="en">' in form.text
    assert '<label for="last_name">Last name</label>' in form.text
    bad = await english.submit(form, {"last_name": "", "first_name": "Anna"})
    assert bad.status_code == 400
    assert field_error(bad.text, "last_name") == "Enter your last name."
    phone = random_phone()
    started = await english.submit(
        bad,
        {
            "last_name": "Smith",
            "first_name": "Anna",
            "phone": phone,
            "personal_data_consent": "yes",
        },
    )
    assert started.status_code == 303
    page = await english.get("/register/phone")
    assert "We have sent a code by SMS to" in page.text
    assert '<label for="code">Code from the SMS</label>' in page.text
    sms = (await sms_code(ctx, phone))[0]
    assert sms.isdigit()


# --- /register/phone ----------------------------------------------------------------------


async def test_phone_page_has_code_field_and_countdown(browser: Browser, ctx: Context) -> None:
    phone = random_phone()
    await start(browser, phone=phone)
    response = await browser.get("/register/phone")
    assert response.status_code == 200
    page = response.text
    assert phone in page
    code = input_tag(page, "code")
    assert 'inputmode="numeric"' in code
    assert 'autocomplete="one-time-code"' in code
    assert 'aria-describedby="code-hint"' in code
    # Without JavaScript the server says how long to wait, and the button stays off.
    cooldown = ctx.settings.verification.resend_cooldown
    wait = re.search(r"через (\d+) с\.", page)
    assert wait, page
    assert cooldown - 20 <= int(wait.group(1)) <= cooldown
    assert re.search(r'<button type="submit" id="resend-button"[^>]* disabled', page)
    assert 'http-equiv="refresh"' not in page
    assert '<noscript><a href="/register/phone">' in page
    # With it, a static script (and only that) counts down.
    assert '<script src="/static/countdown.js" defer></script>' in page
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    script = await browser.get("/static/countdown.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]


async def test_wrong_code_counts_attempts_then_the_right_one_works(
    browser: Browser, ctx: Context
) -> None:
    phone = random_phone()
    await start(browser, phone=phone)
    page = await browser.get("/register/phone")
    code, _ = await sms_code(ctx, phone)
    wrong = "000000" if code != "000000" else "111111"
    response = await browser.submit(page, {"code": wrong})
    assert response.status_code == 400
    limit = ctx.settings.verification.max_attempts
    message = assert_invalid(response.text, "code")
    assert message == f"Код неверный. Осталось попыток: {limit - 1}."
    not_digits = await browser.submit(response, {"code": "12ab56"})
    assert not_digits.status_code == 400
    assert assert_invalid(not_digits.text, "code") == "Введите код из SMS — только цифры."
    # Spaces and hyphens typed between the digits are fine.
    spaced = f"{code[:3]} {code[3:]}"
    done = await browser.submit(not_digits, {"code": spaced})
    assert done.status_code == 303
    assert done.headers["location"] == "/register/password"
    again = await browser.get("/register/phone")
    assert again.status_code == 303
    assert again.headers["location"] == "/register/password"


async def test_too_many_wrong_codes_means_starting_again(browser: Browser, ctx: Context) -> None:
    phone = random_phone()
    await start(browser, phone=phone)
    page = await browser.get("/register/phone")
    code, _ = await sms_code(ctx, phone)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(ctx.settings.verification.max_attempts):
        page = await browser.submit(page, {"code": wrong})
        assert page.status_code == 400
    assert "Начните регистрацию заново" in (field_error(page.text, "code") or "")
    assert 'href="/register"' in page.text
    # Even the right code is refused now.
    last = await browser.submit(page, {"code": code})
    assert last.status_code == 400


async def test_expired_code_asks_for_a_new_one(
    browser: Browser, ctx: Context, clock: OffsetClock
) -> None:
    phone = random_phone()
    await start(browser, phone=phone)
    page = await browser.get("/register/phone")
    code, _ = await sms_code(ctx, phone)
    clock.advance(ctx.settings.verification.sms_code_ttl + 1)
    response = await browser.submit(page, {"code": code})
    assert response.status_code == 400
    assert assert_invalid(response.text, "code") == "Срок действия кода истёк. Запросите новый код."
    # The cooldown is long over: the button is on and no wait is shown.
    assert not re.search(r'id="resend-button"[^>]* disabled', response.text)


async def test_resend_waits_for_the_cooldown(
    browser: Browser, ctx: Context, clock: OffsetClock
) -> None:
    phone = random_phone()
    await start(browser, phone=phone)
    page = await browser.get("/register/phone")
    old_code, first_id = await sms_code(ctx, phone)
    early = await browser.http.post(
        "/register/phone/resend", data={"csrf_token": resend_token(page.text)}
    )
    assert early.status_code == 429
    retry_after = int(early.headers["retry-after"])
    assert 0 < retry_after <= ctx.settings.verification.resend_cooldown
    assert f"через {retry_after} с." in early.text
    assert 'role="alert"' in early.text
    assert await message_count(ctx, phone) == 1

    clock.advance(ctx.settings.verification.resend_cooldown + 1)
    fresh = await browser.get("/register/phone")
    assert not re.search(r'id="resend-button"[^>]* disabled', fresh.text)
    assert re.search(r'id="resend-wait"[^>]* hidden', fresh.text)
    sent = await browser.http.post(
        "/register/phone/resend", data={"csrf_token": resend_token(fresh.text)}
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == "/register/phone?resent=1"
    page = await browser.get(sent.headers["location"])
    assert 'role="status">Новый код отправлен.' in page.text
    assert re.search(r'id="resend-button"[^>]* disabled', page.text)
    new_code, _ = await sms_code(ctx, phone, newer_than=first_id)
    if new_code != old_code:
        refused = await browser.submit(page, {"code": old_code})
        assert refused.status_code == 400
        page = refused
    accepted = await browser.submit(page, {"code": new_code})
    assert accepted.status_code == 303


async def test_resend_without_csrf_token_is_refused(browser: Browser, ctx: Context) -> None:
    phone = random_phone()
    await start(browser, phone=phone)
    response = await browser.http.post("/register/phone/resend", data={"csrf_token": ""})
    assert response.status_code == 403
    # The code form's token is not the resend form's.
    page = await browser.get("/register/phone")
    _, code_token = form_fields(page.text)
    crossed = await browser.http.post("/register/phone/resend", data={"csrf_token": code_token})
    assert crossed.status_code == 403


async def test_expired_registration_cookie(
    browser: Browser, ctx: Context, clock: OffsetClock
) -> None:
    await start(browser, phone=random_phone())
    page = await browser.get("/register/phone")
    clock.advance(ctx.settings.verification.registration_ttl + 1)
    for response in (
        await browser.get("/register/phone"),
        await browser.get("/register/password"),
        await browser.submit(page, {"code": "123456"}),
    ):
        assert response.status_code == 400
        assert "Регистрация не найдена" in response.text
        assert 'href="/register"' in response.text
        assert any(
            h.startswith("idp_registration=") and "max-age=0" in h.lower()
            for h in response.headers.get_list("set-cookie")
        )


# Fixed ids: the xdist workers must collect the same test names.
@pytest.mark.parametrize(
    "cookie",
    ["garbage", f"{uuid.uuid4()}.{'a' * 43}", f"{uuid.uuid4()}", "a.b.c.d"],
    ids=["garbage", "unknown-id-and-mac", "unknown-id", "four-parts"],
)
async def test_unknown_registration_cookie(server: LiveServer, cookie: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, cookies={"idp_registration": cookie}) as h:
        for url in ("/register/phone", "/register/email-sent", "/register/password"):
            response = await h.get(url)
            assert response.status_code == 400, url
            assert "Регистрация не найдена" in response.text


async def test_without_any_cookie_the_steps_say_start_again(browser: Browser) -> None:
    response = await browser.get("/register/phone")
    assert response.status_code == 400
    posted = await browser.http.post("/register/phone", data={"code": "123456"})
    assert posted.status_code == 403  # CSRF first: nothing is looked at without a token


async def test_a_taken_phone_looks_like_any_other(
    browser: Browser, ctx: Context, person: Person
) -> None:
    """The page does not tell a stranger the number has an account; its owner is warned."""
    response = await start(browser, phone=person.phone)
    assert response.status_code == 303
    assert response.headers["location"] == "/register/phone"
    page = await browser.get("/register/phone")
    assert page.status_code == 200
    warning = await sms_code_or_none(ctx, person.phone)
    assert warning is None  # no code was sent, only a warning
    refused = await browser.submit(page, {"code": "123456"})
    assert refused.status_code == 400


async def sms_code_or_none(ctx: Context, phone: str) -> str | None:
    from tests.support.mailbox import last_message

    message = await last_message(ctx, phone)
    found = re.search(r"\b\d{6}\b", message.body)
    return found.group(0) if found else None


# --- /register/password -------------------------------------------------------------------


async def test_password_page_shows_the_rules_and_refuses_bad_passwords(
    browser: Browser, ctx: Context
) -> None:
    phone = random_phone()
    page = await to_password_page(browser, ctx, phone)
    assert page.status_code == 200
    text = page.text
    assert "Не короче 8 символов." in text
    assert "Заглавные и строчные латинские буквы и цифры." in text
    for name in ("password", "password_repeat"):
        tag = input_tag(text, name)
        assert 'type="password"' in tag
        assert 'autocomplete="new-password"' in tag
        assert "maxlength" not in tag  # a pasted long password is never cut short
    assert 'aria-describedby="password-rules"' in input_tag(text, "password")

    weak = await browser.submit(page, {"password": "abc", "password_repeat": "abc"})
    assert weak.status_code == 400
    message = assert_invalid(weak.text, "password")
    assert "не короче 8 символов" in message
    assert "заглавную латинскую букву" in message
    assert "цифру" in message
    assert 'value="abc"' not in weak.text  # passwords are never echoed

    common = await browser.submit(
        weak, {"password": "Password123", "password_repeat": "Password123"}
    )
    assert common.status_code == 400
    assert "распространён" in assert_invalid(common.text, "password")

    personal = await browser.submit(
        common, {"password": "СидороваAb1", "password_repeat": "СидороваAb1"}
    )
    assert personal.status_code == 400
    assert "не должен содержать ваше имя" in assert_invalid(personal.text, "password")

    differ = await browser.submit(
        personal, {"password": PASSWORD, "password_repeat": "x" + PASSWORD}
    )
    assert differ.status_code == 400
    assert assert_invalid(differ.text, "password_repeat") == "Пароли не совпадают."
    assert "autofocus" in input_tag(differ.text, "password_repeat")

    empty = await browser.submit(differ, {"password": PASSWORD})
    assert empty.status_code == 400
    assert assert_invalid(empty.text, "password_repeat") == "Введите пароль ещё раз."

    done = await browser.submit(empty, {"password": PASSWORD, "password_repeat": PASSWORD})
    assert done.status_code == 303
    assert done.headers["location"] == "/register/done"
    assert any(
        h.startswith("idp_registration=") and "max-age=0" in h.lower()
        for h in done.headers.get_list("set-cookie")
    )
    final = await browser.get("/register/done")
    assert final.status_code == 200
    assert "Учётная запись создана" in final.text
    account = await authenticate(ctx, phone, PASSWORD, "10.7.7.7")
    assert account.level == "simplified"
    # The finished registration cannot be used again.
    again = await browser.get("/register/password")
    assert again.status_code == 400


async def test_password_page_waits_for_a_confirmed_contact(browser: Browser) -> None:
    await start(browser, phone=random_phone())
    response = await browser.get("/register/password")
    assert response.status_code == 303
    assert response.headers["location"] == "/register/phone"


async def test_password_without_csrf_token_is_refused(browser: Browser, ctx: Context) -> None:
    await to_password_page(browser, ctx, random_phone())
    response = await browser.http.post(
        "/register/password", data={"password": PASSWORD, "password_repeat": PASSWORD}
    )
    assert response.status_code == 403


# --- e-mail ---------------------------------------------------------------------------------


async def test_email_journey_and_the_link_page(
    browser: Browser, ctx: Context, server: LiveServer
) -> None:
    email = unique_email()
    started = await start(browser, email=email)
    assert started.status_code == 303
    assert started.headers["location"] == "/register/email-sent"
    sent = await browser.get("/register/email-sent")
    assert sent.status_code == 200
    assert email in sent.text
    assert "3 сут." in sent.text
    early = await browser.get("/register/password")
    assert early.status_code == 303
    assert early.headers["location"] == "/register/email-sent?waiting=1"
    waiting = await browser.get(early.headers["location"])
    assert "Адрес ещё не подтверждён" in waiting.text

    link, token = await email_link(ctx, email)
    assert link.startswith(f"{server.url}/confirm-email?token=")
    # The link is opened elsewhere (a phone's mail app): no cookies at all.
    async with httpx.AsyncClient(base_url=server.url) as mail_app:
        # A mail scanner's GET uses nothing up: opening it twice shows the button twice.
        for _ in range(2):
            shown = await mail_app.get(f"/confirm-email?token={token}")
            assert shown.status_code == 200
            assert '<form method="post" action="/confirm-email">' in shown.text
        _, csrf = form_fields(shown.text)
        missing = await mail_app.post("/confirm-email", data={"token": token})
        assert missing.status_code == 403
        confirmed = await mail_app.post("/confirm-email", data={"token": token, "csrf_token": csrf})
        assert confirmed.status_code == 303
        assert confirmed.headers["location"] == "/confirm-email/done"
        # It proves the address and nothing more: no session, no registration handed over.
        for header in confirmed.headers.get_list("set-cookie"):
            assert "idp_session" not in header
            assert "idp_registration" not in header
        done = await mail_app.get("/confirm-email/done")
        assert "Адрес подтверждён" in done.text
        assert "/register/password" not in done.text
        reused = await mail_app.post("/confirm-email", data={"token": token, "csrf_token": csrf})
        assert reused.status_code == 400
        assert "недействительна" in reused.text

    # Back in the browser that registered.
    assert (await browser.get("/register/email-sent")).headers["location"] == "/register/password"
    page = await browser.get("/register/password")
    assert page.status_code == 200
    done = await browser.submit(page, {"password": PASSWORD, "password_repeat": PASSWORD})
    assert done.status_code == 303
    account = await authenticate(ctx, email, PASSWORD, "10.7.7.8")
    assert account.level == "simplified"


async def test_confirming_in_the_same_browser_offers_to_continue(
    browser: Browser, ctx: Context
) -> None:
    email = unique_email()
    await start(browser, email=email)
    _, token = await email_link(ctx, email)
    shown = await browser.get(f"/confirm-email?token={token}")
    confirmed = await browser.submit(shown, {"token": token})
    assert confirmed.status_code == 303
    done = await browser.get(confirmed.headers["location"])
    assert 'href="/register/password"' in done.text


async def test_phone_and_email_note_the_unconfirmed_address(browser: Browser, ctx: Context) -> None:
    email = unique_email()
    page = await to_password_page_with_email(browser, ctx, random_phone(), email)
    assert f"Адрес {email} ещё не подтверждён" in page.text


async def to_password_page_with_email(
    browser: Browser, ctx: Context, phone: str, email: str
) -> httpx.Response:
    await start(browser, phone=phone, email=email)
    page = await browser.get("/register/phone")
    assert email in page.text
    code, _ = await sms_code(ctx, phone)
    await browser.submit(page, {"code": code})
    return await browser.get("/register/password")


@pytest.mark.parametrize("token", ["", "short", "x" * 200, "bad token!"])
async def test_malformed_links(browser: Browser, token: str) -> None:
    response = await browser.get("/confirm-email?" + urlencode({"token": token}))
    assert response.status_code == 400
    assert "недействительна" in response.text


async def test_unknown_link_token(browser: Browser) -> None:
    token = "A" * 43
    shown = await browser.get(f"/confirm-email?token={token}")
    assert shown.status_code == 200
    refused = await browser.submit(shown, {"token": token})
    assert refused.status_code == 400
    assert "недействительна" in refused.text


# --- from the login page and back -----------------------------------------------------------


async def test_from_the_login_page_and_back_to_the_client(
    browser: Browser, ctx: Context, rp: RP
) -> None:
    params, verifier = auth_params(rp)
    login = await login_page(browser, params)
    interaction = login.request.url.path
    link = re.search(r'<a href="(/register\?[^"]+)">Зарегистрироваться</a>', login.text)
    assert link, login.text
    register_url = html.unescape(link.group(1))
    assert query(register_url) == {"return": interaction}

    form = await browser.get(register_url)
    assert f'name="return" value="{interaction}"' in form.text
    assert f'href="{interaction}"' in form.text  # back to the login page
    phone = random_phone()
    # (This "browser" posts only what it is given: the hidden field too.)
    started = await browser.submit(form, {**NAMES, "phone": phone, "return": interaction})
    assert started.status_code == 303
    page = await browser.get("/register/phone")
    code, _ = await sms_code(ctx, phone)
    await browser.submit(page, {"code": code})
    page = await browser.get("/register/password")
    done = await browser.submit(page, {"password": PASSWORD, "password_repeat": PASSWORD})
    assert done.status_code == 303
    assert query(done.headers["location"]) == {"return": interaction}
    final = await browser.get(done.headers["location"])
    assert f'<a href="{interaction}" class="button">Продолжить на сайте</a>' in final.text
    assert 'href="/account"' in final.text

    # Creating the password signed the person in: the login page goes on to the client.
    back = await browser.get(interaction)
    callback = await browser.follow_to_client(back, rp.redirect_uri)
    result = query(callback)
    assert result["state"] == params["state"]
    async with httpx.AsyncClient(base_url=browser.base_url) as http:
        tokens = await redeem(http, rp, result["code"], verifier)
    assert tokens.status_code == 200, tokens.text
    assert tokens.json()["id_token"]


async def test_ui_locales_of_the_interaction_carry_over(browser: Browser, rp: RP) -> None:
    params, _ = auth_params(rp, ui_locales="en")
    login = await login_page(browser, params)
    link = re.search(r'<a href="(/register\?[^"]+)">Register</a>', login.text)
    assert link, login.text
    form = await browser.get(html.unescape(link.group(1)))
    assert '<html lang="en">' in form.text
    assert "Back to log in" in form.text


def _without_switcher(page: str) -> str:
    return re.sub(r'<nav class="languages".*?</nav>', "", page, flags=re.S)


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/interaction/aaaaaaaaaaaaaaaaaaaa",
        "//evil.example/interaction/aaaaaaaaaaaaaaaaaaaa",
        "/interaction/aaaaaaaaaaaaaaaaaaaa/../../evil",
        "/interaction/short",
        "/logout",
        "/interaction/aaaaaaaaaaaaaaaaaaaa\r\nLocation: https://evil.example",
    ],
)
async def test_return_is_never_an_open_redirect(
    browser: Browser, ctx: Context, target: str
) -> None:
    form = await browser.get("/register?" + urlencode({"return": target}))
    assert form.status_code == 200
    assert 'name="return"' not in form.text
    # The language switcher comes back to this very address (a path here, /lang checks it).
    assert "evil" not in _without_switcher(form.text)
    done = await browser.get("/register/done?" + urlencode({"return": target}))
    assert done.status_code == 200
    assert "evil" not in _without_switcher(done.text)
    assert 'class="button"' not in done.text
    # A forged hidden field is ignored the same way.
    started = await browser.submit(form, {**NAMES, "phone": random_phone(), "return": target})
    assert started.status_code == 303
    cookie = browser.http.cookies.get("idp_registration") or ""
    assert cookie.count(".") == 1


HOSTILE = [
    "\x00",
    "Анна\x00",
    "\u202eанна",  # right-to-left override
    "Ан\u0301на",  # a combining accent
    "😀",
    "a" * 2048,
    "Анна" * 30,
    "' OR 1=1 --",
    "\ud7ff",
    " ",
]


@pytest.mark.parametrize("value", HOSTILE)
async def test_hostile_input_is_refused_by_field_not_by_crash(
    browser: Browser, ctx: Context, value: str
) -> None:
    form = await browser.get("/register")
    fields = {**NAMES, "phone": value, "email": value, "first_name": value}
    response = await browser.submit(form, fields)
    assert response.status_code == 400, response.text[:300]
    assert response.headers["content-type"].startswith("text/html")
    assert field_error(response.text, "phone") or field_error(response.text, "contact")


async def test_undecodable_bytes_are_refused_as_a_page(browser: Browser) -> None:
    form = await browser.get("/register")
    _, token = form_fields(form.text)
    for body in (
        f"csrf_token={token}&last_name=%FF%FE&first_name=%C0%80&phone=%2B7999".encode(),
        f"csrf_token={token}&last_name=".encode() + b"\xff\xfe" + b"&phone=1",
        b"\x00\x01\x02",
    ):
        response = await browser.http.post(
            "/register", content=body, headers={"content-type": FORM}
        )
        assert 400 <= response.status_code < 500, (body, response.status_code)
        assert response.headers["content-type"].startswith("text/html")


async def test_hostile_codes_passwords_and_links(browser: Browser, ctx: Context) -> None:
    page = await to_password_page(browser, ctx, random_phone())
    for value in HOSTILE:
        response = await browser.submit(page, {"password": value, "password_repeat": value})
        assert response.status_code == 400, (value, response.status_code)
    await start(browser, phone=random_phone())
    phone_page = await browser.get("/register/phone")
    for value in HOSTILE:
        response = await browser.submit(phone_page, {"code": value})
        assert response.status_code == 400, (value, response.status_code)
    shown = await browser.get(f"/confirm-email?token={'A' * 43}")
    for value in HOSTILE:
        response = await browser.submit(shown, {"token": value})
        assert response.status_code == 400, (value, response.status_code)
