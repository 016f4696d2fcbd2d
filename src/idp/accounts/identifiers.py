"""Normalising and checking the identifiers a person logs in with: phone, e-mail, SNILS."""

from __future__ import annotations

import re
from typing import Literal

from email_validator import EmailNotValidError, validate_email

IdentifierKind = Literal["phone", "email", "snils"]

_SNILS_SEPARATORS = re.compile(r"[\s-]")
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")


def normalize_snils(raw: str) -> str | None:
    """``123-456-789 64`` → ``12345678964`` if the check number is right, else None."""
    digits = _SNILS_SEPARATORS.sub("", raw)
    if len(digits) != 11 or not digits.isascii() or not digits.isdigit():
        return None
    return digits if snils_checksum(digits[:9]) == int(digits[9:]) else None


def snils_checksum(nine_digits: str) -> int:
    # Pension fund rule: weights 9..1; below 100 the sum itself; 100 and 101 give 00;
    # above, the remainder mod 101 (and 100 again gives 00).
    total = sum(int(d) * w for d, w in zip(nine_digits, range(9, 0, -1), strict=True))
    if total < 100:
        return total
    if total in (100, 101):
        return 0
    rest = total % 101
    return 0 if rest == 100 else rest


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
