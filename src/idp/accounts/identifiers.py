"""Normalising and checking the identifiers a person logs in with: phone, e-mail, SNILS."""

from __future__ import annotations

import re
from typing import Literal

from email_validator import EmailNotValidError, validate_email

# The SNILS rule lives with the other check digits (levels); login keeps its name for it.
from idp.levels.personal_data.check_digits import snils_checksum as snils_checksum
from idp.levels.personal_data.check_digits import snils_valid

IdentifierKind = Literal["phone", "email", "snils"]

_SNILS_SEPARATORS = re.compile(r"[\s-]")
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")


def normalize_snils(raw: str) -> str | None:
    """``123-456-789 64`` → ``12345678964`` if the check number is right (numbers up to
    001-001-998 predate it: format only), else None."""
    digits = _SNILS_SEPARATORS.sub("", raw)
    return digits if snils_valid(digits) else None


def format_snils(digits: str) -> str:
    return f"{digits[0:3]}-{digits[3:6]}-{digits[6:9]} {digits[9:11]}"


def normalize_phone(raw: str) -> str | None:
    """E.164. A Russian national number written ``8XXXXXXXXXX`` becomes ``+7XXXXXXXXXX``."""
    compact = _PHONE_SEPARATORS.sub("", raw)
    if compact.startswith("8") and len(compact) == 11:
        compact = "+7" + compact[1:]
    if not compact.startswith("+"):
        return None
    digits = compact[1:]
    if not (digits.isascii() and digits.isdigit()) or not 8 <= len(digits) <= 15:
        return None
    if digits[0] == "0":
        return None
    return "+" + digits


def normalize_email(raw: str) -> str | None:
    try:
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError:
        return None
    # The local part is case-sensitive in theory; every real provider ignores case.
    return result.normalized.lower()


def classify_login(raw: str) -> tuple[IdentifierKind, str] | None:
    """The first reading of a login field (a SNILS before a phone), normalised; None when it is
    none of them. Logins and resets use ``login_candidates``: a login may be read two ways."""
    candidates = login_candidates(raw)
    return candidates[0] if candidates else None


def login_candidates(raw: str) -> list[tuple[IdentifierKind, str]]:
    """Every identifier a login field may hold, normalised. Eleven digits starting with 8 are
    both a SNILS (when the check number fits, about 1 % of numbers) and a Russian phone in
    national form; such a login is looked up as both."""
    value = raw.strip()
    if not value or len(value) > 320:
        return []
    if "@" in value:
        email = normalize_email(value)
        return [("email", email)] if email else []
    found: list[tuple[IdentifierKind, str]] = []
    snils = normalize_snils(value)
    if snils is not None:
        found.append(("snils", snils))
    phone = normalize_phone(value)
    if phone is not None:
        found.append(("phone", phone))
    return found
