"""What asking for a challenge or submitting a signature can meet (RFC 9457 problems).

A refused signature is one problem type, ``signature-refused``, whose ``code`` says why: the
verification's reason (``revoked``, ``untrusted``, ``bad_signature``, …),
``organization-certificate`` (an organization's certificate: its head's or an employee's), or
``identity-mismatch`` with the names of the fields that differ (``snils``, ``name``), never
their values.
"""

from __future__ import annotations

from collections.abc import Sequence

from idp.errors import NotFound, ProblemError


class LevelTooLow(ProblemError):
    """Only a standard account (its data verified in the registries) can be confirmed: the
    certificate is matched to that verified data."""

    status_code = 409
    type_slug = "level-too-low"
    title = "Only a standard account can be confirmed with an e-signature"


class AlreadyConfirmed(ProblemError):
    status_code = 409
    type_slug = "already-confirmed"
    title = "The account is confirmed already"


class TooManyChallenges(ProblemError):
    """``signatures.challenges_per_hour`` asked already: each submit costs CPU. Always with
    Retry-After."""

    status_code = 429
    type_slug = "too-many-challenges"
    title = "Too many challenges asked for in the last hour"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Try again in {retry_after} seconds.")
        self.retry_after = retry_after


class NoSuchChallenge(NotFound):
    type_slug = "no-such-challenge"
    title = "No such challenge"


class ChallengeUsed(ProblemError):
    """A signature over this challenge was submitted already (a replay, or a second submit)."""

    status_code = 409
    type_slug = "challenge-used"
    title = "This challenge has been used; ask for a new one"


class ChallengeExpired(ProblemError):
    """The challenge's time ran out, or a newer challenge replaced it."""

    status_code = 410
    type_slug = "challenge-expired"
    title = "This challenge has expired; ask for a new one"


class BadSignatureInput(ProblemError):
    """The submitted signature or certificates are not base64/PEM, empty, or too big: refused
    before the challenge is touched."""

    status_code = 422
    type_slug = "validation-failed"
    title = "The request has invalid fields"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, errors=[{"field": field, "message": message}])


IDENTITY_MISMATCH = "identity-mismatch"
ORGANIZATION_CERTIFICATE = "organization-certificate"


class SignatureRefused(ProblemError):
    """The signature did not confirm the account: ``code`` is the reason."""

    status_code = 422
    type_slug = "signature-refused"
    title = "The signature does not confirm the account"

    def __init__(self, code: str, *, fields: Sequence[str] = ()) -> None:
        extra: dict[str, object] = {"code": code}
        if fields:
            extra["fields"] = list(fields)
        detail = f"Refused: {code}" + (f" ({', '.join(fields)} differ)" if fields else "") + "."
        super().__init__(detail, **extra)
        self.code = code
        self.fields = tuple(fields)


class VerificationUnavailable(ProblemError):
    """The signature could not be checked now: it was not judged. Unless ``spent`` (the
    checker's pool was saturated, its trust list unreadable) the challenge is open again, so
    the same signature may be sent once more after ``Retry-After`` seconds; ``spent`` (the
    check ran out of time after working on it) the challenge is used, and the person asks a
    new one after ``Retry-After`` seconds."""

    status_code = 503
    type_slug = "verification-unavailable"
    title = "The signature cannot be checked now; try again shortly"

    def __init__(self, retry_after: int, *, spent: bool = False) -> None:
        again = "get a new text to sign and try again" if spent else "send the signature again"
        super().__init__(f"In {retry_after} seconds, {again}.")
        self.retry_after = retry_after
        self.spent = spent


class DevSignerOff(NotFound):
    """The development signer exists in dev mode only."""


class NoVerifiedIdentity(ProblemError):
    """The development signer certifies the account's verified SNILS and names: an account
    that has none (not standard or confirmed, or without a SNILS) gets no certificate."""

    status_code = 409
    type_slug = "no-verified-identity"
    title = "The account has no verified SNILS and names to certify"
