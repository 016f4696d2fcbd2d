"""What verifying a signature ends with.

A verification either passes (``reason`` is None, with the certificate's identity and the
evidence that it is qualified) or fails with exactly one :class:`Reason`, the first check that
failed in the order the checks run. ``detail`` is one line for operators and logs: it never
holds personal data (no names, no SNILS), only the certificate's fingerprint, issuer and what
failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Reason(StrEnum):
    MALFORMED = "malformed"  # not base64/PEM/DER CMS SignedData, or not one signer, or too big
    CERTIFICATE_MISSING = "certificate_missing"  # the signer's certificate is nowhere given
    UNKNOWN_ALGORITHM = "unknown_algorithm"  # no algorithm plug-in serves a digest or signature
    DIGEST_MISMATCH = "digest_mismatch"  # the signed content is not the challenge
    BAD_SIGNATURE = "bad_signature"  # the signature (or the certificate it names) does not match
    SIGNING_TIME = "signing_time"  # the signing time lies outside the challenge's life
    EXPIRED = "expired"  # the certificate is not valid now (expired or not yet valid)
    WRONG_KEY_USAGE = "wrong_key_usage"  # no keyUsage, or not digitalSignature/nonRepudiation
    UNTRUSTED = "untrusted"  # no path to an accredited CA within its accreditation
    REVOKED = "revoked"
    REVOCATION_UNAVAILABLE = "revocation_unavailable"  # no CRL or OCSP answer could be had
    NOT_QUALIFIED = "not_qualified"  # trusted, but no profile finds it qualified


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the certificate names. Every field is personal data: kept out of ``repr``, logs and
    error messages."""

    snils: str | None = field(default=None, repr=False)  # 11 digits
    inn: str | None = field(default=None, repr=False)  # 12 digits, a person's INN
    inn_le: str | None = field(default=None, repr=False)  # 10 digits, a legal entity's INN
    ogrn: str | None = field(default=None, repr=False)  # 13 digits
    ogrnip: str | None = field(default=None, repr=False)  # 15 digits
    surname: str | None = field(default=None, repr=False)
    given_names: str | None = field(default=None, repr=False)  # given name (and patronymic)
    common_name: str | None = field(default=None, repr=False)
    organization: str | None = field(default=None, repr=False)
    title: str | None = field(default=None, repr=False)
    country: str | None = field(default=None, repr=False)
    # eIDAS natural-person semantics identifier, e.g. "PNOEE-38001085718".
    person_id: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Qualification:
    """Why the certificate counts as qualified: the profile that says so, the accredited CA its
    path ends at, and the profile's evidence (``subjectSignTool``, ``QcCompliance``, …)."""

    profile: str  # ru-fsb795 | eu-eidas | a third party's
    anchor_fingerprint: str
    anchor_name: str
    evidence: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Verification:
    reason: Reason | None
    detail: str = ""
    fingerprint: str | None = None  # SHA-256 of the signer's certificate (DER), hex
    issuer: str | None = None  # RFC 4514 string of the certificate's issuer
    serial: str | None = None  # hex
    algorithm: str | None = None  # the signature algorithm's name or dotted OID
    signing_time: datetime | None = None
    not_after: datetime | None = None
    identity: Identity | None = None
    qualification: Qualification | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None

    @classmethod
    def refused(cls, reason: Reason, detail: str = "", **known: object) -> Verification:
        return cls(reason, detail, **known)  # type: ignore[arg-type]


class RevocationUnavailable(Exception):
    """A CRL or OCSP answer could not be had (network, timeout, size, an unparsable body); the
    message names the URL's host and what failed, never the certificate's holder."""


class RevocationBusy(RevocationUnavailable):
    """No CRL or OCSP answer because this process was too busy to ask in time (its fetch slots
    were all taken): nothing was learnt about the URL or the certificate. The checker does not
    judge the signature on it: it raises :class:`VerificationUnavailable`."""


class VerificationUnavailable(Exception):
    """The verification could not run now (its pool is saturated or broken, or it ran out of
    time): the signature was not judged, and the caller should answer "try again later"
    (503 with Retry-After), not refuse the signature. ``retry_after`` in seconds.

    ``spent``: the pool or the revocation fetches already worked on this signature (it ran out
    of time, a step was overdue or failed, the fetches were saturated after the first step).
    A caller that lets the same input be sent again when nothing ran must not when it is
    spent, or one input could be made to cost that work again and again."""

    def __init__(self, message: str, retry_after: int = 5, *, spent: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.spent = spent
