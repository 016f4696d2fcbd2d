"""The unit-of-work rule (docs/architecture.md, "The unit of work"): in ``accounts/``, the
routes and pages (and the page helpers they share) open the transactions; every other module
takes the session and never opens or commits one. A module that starts to again fails here."""

from __future__ import annotations

import re
from pathlib import Path

ACCOUNTS = Path(__file__).resolve().parents[2] / "src" / "idp" / "accounts"

# Opening or committing a transaction, as the code base spells it.
OPENS = re.compile(r"\.db\.(transaction|read)\(|\.commit\(|\.begin\(")

# Where opening one is the job: HTTP entry points and the page helpers they share.
ENTRY_POINTS = {"routes.py", "pages.py", "held.py", "journey.py"}

# Still to bring under the rule (docs/architecture.md, "Still to bring under the rule").
# Remove a module from here when it is; the last test keeps this list honest.
NAMED_EXCEPTIONS = {
    "service.py",  # login (verify_login, authenticate): named exceptions 2 and 3
    "login/service.py",
    # The password change shared by the REST route and the console page: exceptions 2 and 3.
    "passwords/service.py",
}


def _offenders() -> set[str]:
    found = set()
    for module in ACCOUNTS.rglob("*.py"):
        if module.name in ENTRY_POINTS:
            continue
        if OPENS.search(module.read_text(encoding="utf-8")):
            found.add(module.relative_to(ACCOUNTS).as_posix())
    return found


def test_account_services_take_the_session_and_open_no_transaction() -> None:
    assert _offenders() - NAMED_EXCEPTIONS == set()


def test_the_list_of_named_exceptions_is_up_to_date() -> None:
    assert NAMED_EXCEPTIONS - _offenders() == set(), (
        "no longer opens a transaction: drop it from NAMED_EXCEPTIONS"
    )
