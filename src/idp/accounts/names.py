"""Validating personal names: Cyrillic or Latin letters, spaces, hyphens and apostrophes."""

from __future__ import annotations

import re
import unicodedata

_ALLOWED = re.compile(r"^[A-Za-zА-Яа-яЁё]+(?:[ \-'’][A-Za-zА-Яа-яЁё]+)*$")


def clean_name(raw: str) -> str | None:
    """The name with spaces folded, or None when it has characters a name cannot have."""
    value = " ".join(unicodedata.normalize("NFC", raw).split())
    if not 1 <= len(value) <= 100 or not _ALLOWED.match(value):
        return None
    return value
