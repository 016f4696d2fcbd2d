"""Russian and English page texts, and the one rule that picks a page's language
(``choose_locale``: ``ui_locales``, then the switcher's cookie, then Accept-Language)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from starlette.requests import Request

LOCALES = ("ru", "en")
DEFAULT_LOCALE = "ru"
LANG_COOKIE = "idp_lang"  # set by GET /lang (web/language.py)
_DIR = Path(__file__).parent / "locales"


@cache
def catalog(locale: str) -> dict[str, str]:
    """``locales/<locale>.json`` and every ``locales/<locale>/*.json``: one file per area keeps
    parallel work on different pages from colliding in one file. A key defined twice is a bug."""
    files = [_DIR / f"{locale}.json", *sorted((_DIR / locale).glob("*.json"))]
    data: dict[str, str] = {}
    for path in files:
        if not path.exists():
            continue
        part: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        twice = data.keys() & part.keys()
        if twice:
            raise ValueError(f"{path.name}: keys defined twice: {sorted(twice)}")
        data.update(part)
    return data


def ui_locale(ui_locales: str | None) -> str | None:
    """The first of the RP's ``ui_locales`` (OIDC Core §3.1.2.1) that we have, else None."""
    for tag in (ui_locales or "").split():
        base = tag.split("-")[0].lower()
        if base in LOCALES:
            return base
    return None


def accepted_locale(accept_language: str | None) -> str | None:
    """The browser's preferred language among ours (RFC 9110 §12.5.4), else None."""
    weighted: list[tuple[float, str]] = []
    for part in (accept_language or "").split(","):
        pieces = part.strip().split(";")
        base = pieces[0].split("-")[0].strip().lower()
        quality = 1.0
        for extra in pieces[1:]:
            if extra.strip().startswith("q="):
                try:
                    quality = float(extra.strip()[2:])
                except ValueError:
                    quality = 0.0
        if base in LOCALES and quality > 0:
            weighted.append((quality, base))
    if weighted:
        return max(weighted, key=lambda item: item[0])[1]
    return None


def choose_locale(
    ui_locales: str | None,
    chosen: str | None,
    accept_language: str | None,
    started_in: str | None = None,
) -> str:
    """The one rule for every page's language: the RP's ``ui_locales`` (in an authorization
    interaction), then the language the person ``chosen`` with the switcher (its cookie), then
    the language a journey ``started_in`` (a registration continued from an e-mail link), then
    the browser's Accept-Language, then the default."""
    return (
        ui_locale(ui_locales)
        or (chosen if chosen in LOCALES else None)
        or (started_in if started_in in LOCALES else None)
        or accepted_locale(accept_language)
        or DEFAULT_LOCALE
    )


def request_locale(
    request: Request, ui_locales: str | None = None, *, started_in: str | None = None
) -> str:
    """The language of the page this request gets (``choose_locale`` with its cookie and
    headers). When ``ui_locales`` decides, the page hides the switcher: it would change
    nothing."""
    if ui_locale(ui_locales) is not None:
        request.state.locale_fixed = True
    return choose_locale(
        ui_locales,
        request.cookies.get(LANG_COOKIE) or request.cookies.get(f"__Host-{LANG_COOKIE}"),
        request.headers.get("accept-language"),
        started_in,
    )


class Translator:
    def __init__(self, locale: str) -> None:
        self.locale = locale
        self._messages = catalog(locale)

    def has(self, key: str) -> bool:
        return key in self._messages

    def __call__(self, key: str, **values: object) -> str:
        text = self._messages.get(key) or catalog("en").get(key, key)
        return text.format(**values) if values else text
