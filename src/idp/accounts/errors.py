"""What can go wrong when a person logs in."""

from __future__ import annotations

from idp.errors import ProblemError


class TooManyAttempts(ProblemError):
    status_code = 429
    type_slug = "too-many-attempts"
    title = "Too many attempts"

    def __init__(self, retry_after: int, description: str = "") -> None:
        super().__init__(description or f"Try again in {retry_after} seconds.")
        self.retry_after = retry_after


class InvalidCredentials(ProblemError):
    status_code = 401
    type_slug = "invalid-credentials"
    title = "Wrong login or password"
