"""Every page in one language: ``ui_locales`` (in an interaction), then the switcher's cookie,
then Accept-Language; the switcher itself; and error pages wholly in that language, each with
a way back and the support contact."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlencode

import pytest

from idp.clock import OffsetClock
from idp.context import Context
from idp.settings import Settings
from tests.support.api_kit import serve_variant
from tests.support.browser import Browser
from tests.support.factories import RP, make_rp, random_phone
from tests.support.flows import auth_params, login_page
from tests.support.live import LiveServer

SUPPORT = "help@idp.example.ru"


def page_language(text: str) -> str:
    found = re.search(r'<html lang="([a-z]+)">', text)
    assert found, text[:200]
    return found.group(1)


def switcher_links(text: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'<a href="(/lang\?[^"]+)"', text)]


def visible_words(text: str, locale: str) -> list[str]:
    """The words a reader sees, leaving out what is marked as another language (the
    switcher's "English"), machine codes (<code>) and the support address itself."""
    body = re.sub(r"<head>.*?</head>", "", text, flags=re.S)
    body = re.sub(rf'<([a-z]+)[^>]* lang="(?!{locale})[a-z]+"[^>]*>.*?</\1>', "", body)
    body = re.sub(r"<code>.*?</code>", "", body)
    body = re.sub(r"<[^>]+>", " ", body).replace(SUPPORT, "")
    return re.findall(r"\w+", html.unescape(body))


def latin(words: list[str]) -> list[str]:
    return [w for w in words if re.search(r"[A-Za-z]", w)]


@pytest.fixture
async def english(server: LiveServer) -> AsyncIterator[Browser]:
    b = Browser(server.url)
    b.http.headers["Accept-Language"] = "en-US,en;q=0.9"
    yield b
    await b.close()


# --- the switcher ---------------------------------------------------------------------------


async def test_the_switcher_sets_the_cookie_and_goes_back(browser: Browser) -> None:
    response = await browser.get("/lang?" + urlencode({"to": "en", "next": "/register?x=1"}))
    assert response.status_code == 303
    assert response.headers["location"] == "/register?x=1"
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith("idp_lang=en;")
    assert "samesite=lax" in cookie
    assert "path=/" in cookie
    assert "max-age=31536000" in cookie
    page = await browser.get("/register")
    assert page_language(page.text) == "en"


@pytest.mark.parametrize(
    "next_value",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "/\t/evil.example",
        "http:evil.example",
        "",
    ],
)
async def test_the_switcher_is_no_open_redirect(browser: Browser, next_value: str) -> None:
    response = await browser.get("/lang?" + urlencode({"to": "ru", "next": next_value}))
    assert response.status_code == 303
    assert response.headers["location"] == "/"


async def test_an_unknown_language_is_refused_and_changes_nothing(browser: Browser) -> None:
    response = await browser.get("/lang?to=de&next=/register")
    assert response.status_code == 400
    assert "set-cookie" not in response.headers or "idp_lang" not in response.headers["set-cookie"]
    assert 'id="way-back"' in response.text


# --- the precedence on real pages -----------------------------------------------------------


async def test_the_cookie_beats_accept_language(english: Browser) -> None:
    assert page_language((await english.get("/register")).text) == "en"
    english.http.cookies.set("idp_lang", "ru")
    page = await english.get("/register")
    assert page_language(page.text) == "ru"
    # The switcher offers the other language, coming back to this page.
    assert switcher_links(page.text) == ["/lang?to=en&next=%2Fregister"]


async def test_ui_locales_beats_the_cookie_through_the_whole_interaction(
    english: Browser, rp: RP
) -> None:
    english.http.cookies.set("idp_lang", "en")
    params, _ = auth_params(rp, ui_locales="ru")
    page = await login_page(english, params)
    assert page_language(page.text) == "ru"
    assert switcher_links(page.text) == []  # it would change nothing here
    # A refused login is still the interaction's language.
    again = await english.submit(page, {"login": "+79990000000", "password": "wrong-password-1"})
    assert again.status_code == 400
    assert page_language(again.text) == "ru"
    # So is the registration started from its login page.
    register = re.search(r'href="(/register\?return=[^"]+)"', page.text)
    assert register
    form = await english.get(html.unescape(register.group(1)))
    assert page_language(form.text) == "ru"
    # And its next pages, while the interaction waits.
    started = await english.submit(
        form,
        {
            "last_name": "Смирнова",
            "first_name": "Ольга",
            "phone": random_phone(),
            "personal_data_consent": "yes",
            "return": html.unescape(register.group(1)).split("return=", 1)[1].replace("%2F", "/"),
        },
    )
    assert started.status_code == 303, started.text[:300]
    phone_page = await english.get(started.headers["location"])
    assert phone_page.status_code == 200
    assert page_language(phone_page.text) == "ru"


async def test_without_ui_locales_the_cookie_decides_the_login_page(
    browser: Browser, rp: RP
) -> None:
    browser.http.cookies.set("idp_lang", "en")
    params, _ = auth_params(rp)
    page = await login_page(browser, params)
    assert page_language(page.text) == "en"
    links = switcher_links(page.text)
    assert len(links) == 1
    assert links[0].startswith("/lang?to=ru&next=%2Finteraction%2F")
    switched = await browser.get(links[0])
    assert switched.status_code == 303
    again = await browser.get(switched.headers["location"])
    assert page_language(again.text) == "ru"


# --- error pages ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def supported(settings: Settings, clock: OffsetClock, server: LiveServer) -> Iterator[LiveServer]:
    live = serve_variant(settings, clock, support_contact=SUPPORT)
    yield live
    live.stop()


@pytest.fixture
async def russian(supported: LiveServer) -> AsyncIterator[Browser]:
    b = Browser(supported.url)
    b.http.headers["Accept-Language"] = "ru-RU,ru;q=0.9,en;q=0.5"
    yield b
    await b.close()


async def test_an_untrusted_request_is_an_error_page_wholly_in_russian(russian: Browser) -> None:
    response = await russian.authorize(
        {"client_id": "no-such-client", "redirect_uri": "https://evil.example/cb"}
    )
    assert response.status_code == 400
    assert page_language(response.text) == "ru"
    words = visible_words(response.text, "ru")
    assert latin(words) == [], latin(words)
    assert "Сайт, с которого вы пришли, не зарегистрирован" in html.unescape(response.text)
    # The client is unknown: the way back is the console; and the support contact is there.
    assert re.search(
        r'<a href="/account" id="way-back">Перейти в личный кабинет</a>', response.text
    )
    assert f'<a href="mailto:{SUPPORT}">{SUPPORT}</a>' in response.text


async def test_an_unregistered_redirect_uri_is_explained_in_english_too(
    supported: LiveServer, ctx: Context
) -> None:
    rp = await make_rp(ctx)
    english = Browser(supported.url)
    english.http.headers["Accept-Language"] = "en"
    try:
        response = await english.authorize(
            {"client_id": rp.client_id, "redirect_uri": "https://evil.example/cb"}
        )
    finally:
        await english.close()
    assert response.status_code == 400
    assert page_language(response.text) == "en"
    assert "gave a return address it has not registered" in html.unescape(response.text)
    # The redirect URI is not trusted: no way back to it, only to the console.
    assert 'href="https://evil.example' not in response.text
    assert 'href="/account" id="way-back"' in response.text


async def test_an_error_inside_an_interaction_leads_back_to_the_client(
    russian: Browser, ctx: Context
) -> None:
    rp = await make_rp(ctx, name="Налоговая служба")
    params, _ = auth_params(rp, ui_locales="ru")
    page = await login_page(russian, params)
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert action
    response = await russian.http.post(action.group(1), data={"csrf_token": "forged", "login": "x"})
    assert response.status_code == 403
    assert page_language(response.text) == "ru"
    assert latin(visible_words(response.text, "ru")) == []
    assert re.search(
        r'<a href="https://rp.example/" id="way-back">Вернуться в Налоговая служба</a>',
        html.unescape(response.text),
    )
    assert f"mailto:{SUPPORT}" in response.text
