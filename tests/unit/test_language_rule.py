"""The one rule for a page's language, and the switcher's refusal to lead anywhere else."""

from __future__ import annotations

import pytest

from idp.web.i18n import choose_locale
from idp.web.language import safe_next

# (ui_locales, cookie, Accept-Language) → the page's language
MATRIX = [
    ("en", "ru", "ru", "en"),  # ui_locales beats the cookie and the browser
    ("ru", "en", "en", "ru"),
    ("de en-GB", "ru", "ru", "en"),  # the first of ui_locales that we have
    ("de fr", "en", "ru", "en"),  # none of ui_locales: the cookie
    (None, "en", "ru-RU,ru;q=0.9", "en"),  # the cookie beats Accept-Language
    (None, "ru", "en-US,en;q=0.9", "ru"),
    (None, "xx", "en-US,en;q=0.9", "en"),  # a cookie of no language of ours: ignored
    (None, None, "de;q=1,en;q=0.5,ru;q=0.8", "ru"),  # the browser's best among ours
    (None, None, "en;q=0", "ru"),  # q=0 means "not this one"
    (None, None, None, "ru"),  # the default
    ("", "", "", "ru"),
]


@pytest.mark.parametrize(("ui_locales", "cookie", "accept", "expected"), MATRIX)
def test_precedence(
    ui_locales: str | None, cookie: str | None, accept: str | None, expected: str
) -> None:
    assert choose_locale(ui_locales, cookie, accept) == expected


def test_a_journey_language_comes_after_the_cookie_and_before_the_browser() -> None:
    assert choose_locale(None, None, "en", started_in="ru") == "ru"
    assert choose_locale(None, "en", "ru", started_in="ru") == "en"
    assert choose_locale("en", None, None, started_in="ru") == "en"


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "/\\/evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        " /x",
        "/x y",
        "javascript:alert(1)",
        "evil.example",
        "/" + "a" * 3000,
        "/\x7f/x",
        "/\u2028x",
    ],
)
def test_next_that_could_leave_the_origin_goes_home(value: str | None) -> None:
    assert safe_next(value) == "/"


@pytest.mark.parametrize("value", ["/", "/register", "/interaction/abc?x=1&y=%2F%2F", "/a//b"])
def test_next_on_this_origin_is_kept(value: str) -> None:
    assert safe_next(value) == value
