"""What saving a person's data can meet besides invalid fields."""

from __future__ import annotations

from idp.errors import ProblemError


class SnilsTaken(ProblemError):
    """The SNILS is the verified one of another account. The text never says whose."""

    status_code = 409
    type_slug = "snils-taken"
    title = "This SNILS is already used by another account"
