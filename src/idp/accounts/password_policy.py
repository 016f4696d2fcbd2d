"""Which passwords may be set.

Two policies: ``portal`` (the state portal's rule: 8+ characters with Latin upper case, lower
case and digits) and ``nist`` (NIST SP 800-63B rev. 4: 15+ characters, no composition rules).
Both refuse passwords over 256 characters and passwords containing the person's own name or
contacts. Passwords are never truncated.
"""

from __future__ import annotations

import re

from idp.security.passwords import normalize

MAX_LENGTH = 256


def password_problems(password: str, policy: str, personal: list[str]) -> list[str]:
    value = normalize(password)
    problems: list[str] = []
    if len(value) > MAX_LENGTH:
        problems.append(f"must be at most {MAX_LENGTH} characters")
    if policy == "nist":
        if len(value) < 15:
            problems.append("must be at least 15 characters")
    else:
        if len(value) < 8:
            problems.append("must be at least 8 characters")
        if not re.search(r"[A-Z]", value):
            problems.append("must contain an upper-case Latin letter")
        if not re.search(r"[a-z]", value):
            problems.append("must contain a lower-case Latin letter")
        if not re.search(r"[0-9]", value):
            problems.append("must contain a digit")
    folded = value.casefold()
    for word in personal:
        word = word.casefold().strip()
        if len(word) >= 3 and word in folded:
            problems.append("must not contain your name or contacts")
            break
    return problems
