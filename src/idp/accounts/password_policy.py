"""Which passwords may be set.

Two policies: ``portal`` (the state portal's rule: 8+ characters with Latin upper case, lower
case and digits) and ``nist`` (NIST SP 800-63B rev. 4: 15+ characters, no composition rules).
Both refuse passwords from a list of common and breached passwords (30 000 entries shipped with
idp, see ``data/NOTICE``) and the service's own names, also with digits or symbols appended
("Password1!", "Gosuslugi2024"), and passwords containing the person's name or contacts.
Passwords up to 256 characters of any Unicode are accepted and never truncated.
"""

from __future__ import annotations

import gzip
import re
from functools import cache
from pathlib import Path

from idp.security.passwords import normalize

MAX_LENGTH = 256
CONTEXT_WORDS = ("gosuslugi", "госуслуги", "esia", "есиа", "idp", "portal", "портал")
_SUFFIX = re.compile(r"[\d\W_]+$")
_PREFIX = re.compile(r"^[\d\W_]+")


@cache
def common_passwords() -> frozenset[str]:
    path = Path(__file__).parent / "data" / "common_passwords.txt.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return frozenset(line.strip() for line in handle if line.strip())


def is_common(password: str) -> bool:
    folded = password.casefold()
    core = _PREFIX.sub("", _SUFFIX.sub("", folded))
    blocked = common_passwords()
    if folded in blocked or (len(core) >= 4 and core in blocked):
        return True
    return any(word in folded for word in CONTEXT_WORDS if len(word) >= 4) or core in CONTEXT_WORDS


def password_problems(password: str, policy: str, personal: list[str]) -> list[str]:
    value = normalize(password)
    problems: list[str] = []
    if len(password) > MAX_LENGTH:  # as typed: NFKC may expand one character into many
        problems.append(f"must be at most {MAX_LENGTH} characters")
    # Count code points in the shorter of the typed and normalised forms, so neither
    # decomposed input nor an expanding character can stretch a short password.
    length = min(len(password), len(value))
    if policy == "nist":
        if length < 15:
            problems.append("must be at least 15 characters")
    else:
        if length < 8:
            problems.append("must be at least 8 characters")
        if not re.search(r"[A-Z]", value):
            problems.append("must contain an upper-case Latin letter")
        if not re.search(r"[a-z]", value):
            problems.append("must contain a lower-case Latin letter")
        if not re.search(r"[0-9]", value):
            problems.append("must contain a digit")
    if is_common(value):
        problems.append("is too common: it appears in lists of leaked passwords")
    folded = value.casefold()
    for word in personal:
        word = normalize(word).casefold().strip()
        if len(word) >= 3 and word in folded:
            problems.append("must not contain your name or contacts")
            break
    return problems
