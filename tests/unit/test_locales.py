"""Every page text exists in both languages, and no key is defined twice across the files."""

from __future__ import annotations

from idp.web.i18n import LOCALES, catalog


def test_both_languages_have_the_same_keys() -> None:
    ru, en = (set(catalog(locale)) for locale in LOCALES)
    assert ru - en == set(), "only in Russian"
    assert en - ru == set(), "only in English"


def test_no_text_is_empty() -> None:
    for locale in LOCALES:
        empty = [key for key, text in catalog(locale).items() if not text.strip()]
        assert empty == [], locale
