"""Russian and English page texts, chosen by ``ui_locales`` first, then Accept-Language."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

LOCALES = ("ru", "en")
DEFAULT_LOCALE = "ru"
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


def pick_locale(ui_locales: str | None, accept_language: str | None) -> str:
    for tag in (ui_locales or "").split():
        base = tag.split("-")[0].lower()
        if base in LOCALES:
            return base
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
        if base in LOCALES:
            weighted.append((quality, base))
    if weighted:
        return max(weighted, key=lambda item: item[0])[1]
    return DEFAULT_LOCALE


class Translator:
    def __init__(self, locale: str) -> None:
        self.locale = locale
        self._messages = catalog(locale)

    def __call__(self, key: str, **values: object) -> str:
        text = self._messages.get(key) or catalog("en").get(key, key)
        return text.format(**values) if values else text
