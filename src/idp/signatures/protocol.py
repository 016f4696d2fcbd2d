"""The parts of signature verification that plug in.

- A **signature algorithm** (plug-in kind, entry point group ``idp.signature_algorithms``) hashes
  and verifies for the algorithm OIDs it names. The checker picks the plug-in by the OID found
  in the CMS SignerInfo or the certificate, CRL or OCSP response being checked; an OID no
  plug-in serves ends the verification with ``unknown_algorithm``.
- A **certificate profile** reads who a certificate names and whether it is qualified under one
  legal framework (the Russian FSB order 795, eIDAS).
- A **revocation source** fetches CRLs and OCSP responses.

Plug-ins run inside the verification pool's processes: a factory must be importable there and
its instance must hold no event-loop state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from idp.signatures.result import Identity


class UnsupportedAlgorithm(Exception):
    """The plug-in does not serve this OID (or these parameters)."""


@runtime_checkable
class SignatureAlgorithm(Protocol):
    name: str
    # Signature algorithm OIDs verified (as certificates, CRLs, OCSP responses and CMS name
    # them; CMS often names the key's algorithm, e.g. rsaEncryption or GOST 34.10-2012 256).
    signature_oids: frozenset[str]
    digest_oids: frozenset[str]

    def digest(self, digest_oid: str, data: bytes) -> bytes:
        """The digest of ``data`` as CMS's messageDigest holds it."""
        ...

    def verify(
        self,
        *,
        public_key_info: bytes,
        signature_algorithm: bytes,
        signature: bytes,
        data: bytes,
        digest_oid: str | None = None,
        prehashed: bool = False,
    ) -> bool:
        """Whether ``signature`` over ``data`` verifies under the key (DER
        SubjectPublicKeyInfo). ``signature_algorithm`` is the DER AlgorithmIdentifier as
        given (parameters included); ``digest_oid`` names the digest where the signature
        algorithm does not (CMS); with ``prehashed``, ``data`` is already that digest. Raises
        :class:`UnsupportedAlgorithm` for an OID or parameters it does not serve; never raises
        for a signature that merely fails."""
        ...


@dataclass(frozen=True, slots=True)
class AlgorithmSetup:
    name: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TrustedCA:
    """One entry of the trust list as verification sees it."""

    fingerprint: str  # SHA-256 of the DER, hex
    certificate: bytes  # DER
    name: str
    accredited_from: datetime | None = None
    accredited_until: datetime | None = None
    # The kind of list it came from (``TrustAnchor.source_kind``: ru-accredited, etsi-tsl,
    # certificates, dev): a profile qualifies only under the lists of its legal framework.
    source_kind: str = "certificates"


class NotQualified(Exception):
    """Raised by a profile's ``qualification`` for a certificate it refuses outright (one that
    names an identity attribute twice): the message names what, never a value."""


class CertificateProfile(Protocol):
    name: str

    def identity(self, certificate: bytes) -> Identity | None:
        """Who the certificate (DER) names under this profile; None when it is not of it."""
        ...

    def qualification(self, certificate: bytes, anchor: TrustedCA) -> tuple[str, ...] | None:
        """The evidence that the certificate, whose path ends at ``anchor``, is qualified under
        this profile; None when it is not. Raises :class:`NotQualified` for a certificate it
        refuses outright, whatever another profile says."""
        ...


class RevocationSource(Protocol):
    async def crl(self, url: str) -> bytes:
        """The DER CertificateList at ``url``; raises ``RevocationUnavailable``."""
        ...

    async def ocsp(self, url: str, certificate: bytes, issuer: bytes) -> bytes:
        """The DER OCSPResponse from the responder at ``url`` for ``certificate`` issued by
        ``issuer`` (both DER); raises ``RevocationUnavailable``."""
        ...


@runtime_checkable
class ForgettingRevocationSource(RevocationSource, Protocol):
    """A revocation source with a cache the checker can correct: it forgets an answer the
    path validation rejected (stale, unknown, for another certificate, badly signed), so the
    next verification does not get it again."""

    def invalidate(self, url: str) -> None: ...

    def invalidate_ocsp(self, url: str, certificate: bytes, issuer: bytes) -> None: ...


class TrustSource(Protocol):
    async def anchors(self) -> tuple[TrustedCA, ...]:
        """The CAs trusted now: listed and not withdrawn (their accreditation windows are
        judged against the signing time by the checker)."""
        ...
