"""What saving a person's data can meet besides invalid fields."""

from __future__ import annotations

from idp.errors import ProblemError


class SnilsTaken(ProblemError):
    """The SNILS is the verified one of another account. The text never says whose."""

    status_code = 409
    type_slug = "snils-taken"
    title = "This SNILS is already used by another account"


class TooManyChanges(ProblemError):
    """The person changed their data ``registries.max_changes_per_day`` times in the last day:
    each change asks the registries again, so changes wait. Always with Retry-After."""

    status_code = 429
    type_slug = "too-many-changes"
    title = "Too many changes of personal data today"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Try again in {retry_after} seconds.")
        self.retry_after = retry_after
