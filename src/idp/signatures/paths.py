"""The signer's certificate path to the trust list, its validity, key usage and revocation, by
pyhanko-certvalidator (RFC 5280 §6) with every signature in the path (certificates, CRLs, OCSP
responses) checked by idp's algorithm plug-ins, GOST included.

Two steps, so that the network is used between them on the event loop: :func:`revocation_needs`
builds the candidate paths and lists, for every certificate but the anchor, where its
revocation status is published; :func:`validate_path` then validates with the CRLs and OCSP
responses that were fetched, requiring them (``REQUIRE_REVINFO``: a certificate declaring no
CRL or OCSP URL is not "not revoked", research notes §A2.1).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asn1crypto import algos, keys, x509
from cryptography.exceptions import InvalidSignature
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.authority import AuthorityWithCert
from pyhanko_certvalidator.errors import (
    AlgorithmNotSupported,
    DisallowedAlgorithmError,
    ExpiredError,
    InsufficientRevinfoError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
)
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.policy_decl import (
    AlgorithmUsageConstraint,
    AlgorithmUsagePolicy,
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)
from pyhanko_certvalidator.sig_validate import (
    DEFAULT_VALIDATION_CONTEXT,
    SignatureValidationContext,
    SignatureValidator,
)

from idp.signatures.algorithms.registry import Algorithms
from idp.signatures.protocol import TrustedCA, UnsupportedAlgorithm
from idp.signatures.result import Reason

_REQUIRED = RevocationCheckingPolicy(
    ee_certificate_rule=RevocationCheckingRule.CRL_OR_OCSP_REQUIRED,
    intermediate_ca_cert_rule=RevocationCheckingRule.CRL_OR_OCSP_REQUIRED,
)
# Fail open (settings say ``accept``): what is fetched still counts, a revoked certificate is
# still refused; only an unreachable source is let through.
_IF_AVAILABLE = RevocationCheckingPolicy(
    ee_certificate_rule=RevocationCheckingRule.CHECK_IF_DECLARED_SOFT,
    intermediate_ca_cert_rule=RevocationCheckingRule.CHECK_IF_DECLARED_SOFT,
)
_NONE = RevocationCheckingPolicy(
    ee_certificate_rule=RevocationCheckingRule.NO_CHECK,
    intermediate_ca_cert_rule=RevocationCheckingRule.NO_CHECK,
)
_MAX_PATHS = 4  # cross-certified CAs give several; each costs revocation requests


class PathRefused(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(reason.value, detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class RevocationNeed:
    """Where to ask about one certificate of a candidate path (OCSP first, then the CRLs)."""

    certificate: bytes  # DER
    issuer: bytes  # DER
    ocsp_urls: tuple[str, ...]
    crl_urls: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ValidPath:
    anchor: TrustedCA
    certificates: tuple[bytes, ...]  # from the anchor's child down to the signer, DER


def fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def anchors_at(anchors: Sequence[TrustedCA], moment: datetime) -> tuple[TrustedCA, ...]:
    """The anchors accredited at ``moment``: a path to another one is untrusted."""
    return tuple(
        anchor
        for anchor in anchors
        if (anchor.accredited_from is None or anchor.accredited_from <= moment)
        and (anchor.accredited_until is None or moment <= anchor.accredited_until)
    )


class PluginSignatures(SignatureValidator):
    """pyhanko-certvalidator's signature checks routed to the algorithm plug-ins by OID."""

    def __init__(self, algorithms: Algorithms) -> None:
        self.algorithms = algorithms
        self.unknown: str | None = None  # the first OID no plug-in serves

    def validate_signature(
        self,
        signature: bytes,
        signed_data: bytes,
        public_key_info: keys.PublicKeyInfo,
        signature_algorithm: algos.SignedDigestAlgorithm,
        context: SignatureValidationContext = DEFAULT_VALIDATION_CONTEXT,
    ) -> None:
        oid = signature_algorithm["algorithm"].dotted
        plugin = self.algorithms.for_signature(oid)
        digest_oid = None
        if context.contextual_md_algorithm is not None:
            digest_oid = algos.DigestAlgorithmId(context.contextual_md_algorithm).dotted
        try:
            if plugin is None:
                raise UnsupportedAlgorithm(oid)
            good = plugin.verify(
                public_key_info=public_key_info.dump(),
                signature_algorithm=signature_algorithm.dump(),
                signature=signature,
                data=signed_data,
                digest_oid=digest_oid,
                prehashed=context.prehashed,
            )
        except UnsupportedAlgorithm:
            self.unknown = self.unknown or oid
            raise AlgorithmNotSupported(f"no plug-in serves {oid}") from None
        if not good:
            raise InvalidSignature()


class PluginAlgorithmPolicy(AlgorithmUsagePolicy):
    """An algorithm is allowed when a plug-in serves it (plug-ins leave out SHA-1 and MD5)."""

    def __init__(self, signatures: PluginSignatures) -> None:
        self.signatures = signatures

    def digest_algorithm_allowed(
        self, algo: algos.DigestAlgorithm, moment: datetime | None
    ) -> AlgorithmUsageConstraint:
        allowed = self.signatures.algorithms.for_digest(algo["algorithm"].dotted) is not None
        return AlgorithmUsageConstraint(allowed=allowed)

    def signature_algorithm_allowed(
        self,
        algo: algos.SignedDigestAlgorithm,
        moment: datetime | None,
        public_key: keys.PublicKeyInfo | None,
    ) -> AlgorithmUsageConstraint:
        oid = algo["algorithm"].dotted
        if self.signatures.algorithms.for_signature(oid) is None:
            self.signatures.unknown = self.signatures.unknown or oid
            return AlgorithmUsageConstraint(allowed=False, failure_reason=f"{oid} is not served")
        return AlgorithmUsageConstraint(allowed=True)


def _context(
    signer: x509.Certificate,
    others: Sequence[bytes],
    anchors: Sequence[TrustedCA],
    moment: datetime,
    algorithms: Algorithms,
    policy: RevocationCheckingPolicy,
    crls: Sequence[bytes] = (),
    ocsps: Sequence[bytes] = (),
) -> tuple[ValidationContext, PluginSignatures]:
    signatures = PluginSignatures(algorithms)
    context = ValidationContext(
        trust_roots=[x509.Certificate.load(a.certificate) for a in anchors],
        other_certs=[x509.Certificate.load(der) for der in others],
        moment=moment,
        allow_fetching=False,
        crls=list(crls),
        ocsps=list(ocsps),
        revinfo_policy=CertRevTrustPolicy(policy),
        algorithm_usage_policy=PluginAlgorithmPolicy(signatures),
        signature_validator=signatures,
    )
    return context, signatures


def revocation_needs(
    signer_der: bytes,
    others: Sequence[bytes],
    anchors: Sequence[TrustedCA],
    moment: datetime,
    algorithms: Algorithms,
) -> tuple[RevocationNeed, ...]:
    """Where the revocation status of every certificate on the candidate paths is published.
    Raises :class:`PathRefused` (``untrusted``) when no path reaches an accredited anchor."""
    signer = x509.Certificate.load(signer_der)
    context, _ = _context(signer, others, anchors, moment, algorithms, _NONE)
    try:
        paths = asyncio.run(context.path_builder.async_build_paths(signer))
    except PathBuildingError:
        raise PathRefused(Reason.UNTRUSTED, "no path to an accredited CA") from None
    needs: dict[bytes, RevocationNeed] = {}
    for path in paths[:_MAX_PATHS]:
        chain = list(path.iter_certs(include_root=True))
        anchor = _anchor_certificate(path)
        start = 1 if anchor is not None and chain and chain[0].dump() == anchor.dump() else 0
        for position in range(start, len(chain)):
            certificate = chain[position]
            issuer = chain[position - 1] if position else anchor
            if issuer is None or certificate.dump() in needs:
                continue
            needs[certificate.dump()] = RevocationNeed(
                certificate=certificate.dump(),
                issuer=issuer.dump(),
                ocsp_urls=tuple(certificate.ocsp_urls),
                crl_urls=_crl_urls(certificate),
            )
    return tuple(needs.values())


def validate_path(
    signer_der: bytes,
    others: Sequence[bytes],
    anchors: Sequence[TrustedCA],
    *,
    moment: datetime,
    algorithms: Algorithms,
    crls: Sequence[bytes],
    ocsps: Sequence[bytes],
    require_revocation: bool,
) -> ValidPath:
    """The validated path, or :class:`PathRefused` with the reason of the first failure."""
    signer = x509.Certificate.load(signer_der)
    policy = _REQUIRED if require_revocation else _IF_AVAILABLE
    context, signatures = _context(signer, others, anchors, moment, algorithms, policy, crls, ocsps)
    validator = CertificateValidator(signer, validation_context=context)
    try:
        path = asyncio.run(validator.async_validate_path())
    except RevokedError:
        raise PathRefused(Reason.REVOKED, "a certificate of the path is revoked") from None
    except (ExpiredError, NotYetValidError):
        raise PathRefused(Reason.EXPIRED, "a certificate of the path is not valid now") from None
    except InsufficientRevinfoError:
        if signatures.unknown:
            raise _unknown(signatures.unknown) from None
        raise PathRefused(
            Reason.REVOCATION_UNAVAILABLE, "no CRL or OCSP answer for a certificate of the path"
        ) from None
    except (PathBuildingError, PathValidationError, DisallowedAlgorithmError) as failure:
        if signatures.unknown:
            raise _unknown(signatures.unknown) from None
        raise PathRefused(Reason.UNTRUSTED, _why(failure)) from None
    if not _usable_for_signing(signer):
        raise PathRefused(
            Reason.WRONG_KEY_USAGE,
            "no key usage, or one with neither digitalSignature nor nonRepudiation",
        )
    anchor_cert = _anchor_certificate(path)
    by_fingerprint = {a.fingerprint: a for a in anchors}
    anchor = by_fingerprint.get(fingerprint(anchor_cert.dump())) if anchor_cert else None
    if anchor is None:  # cannot happen: the trust roots are exactly these anchors
        raise PathRefused(Reason.UNTRUSTED, "the path ends outside the trust list")
    chain = tuple(
        c.dump() for c in path.iter_certs(include_root=False) if c.dump() != anchor.certificate
    )
    return ValidPath(anchor=anchor, certificates=chain)


def _usable_for_signing(certificate: x509.Certificate) -> bool:
    """RFC 5280 §4.2.1.3: a signature needs digitalSignature or nonRepudiation (contentCommitment);
    either will do. RFC 5280 lets a certificate without the extension be used for anything, but a
    qualified certificate always states it (FSB order 795, ETSI EN 319 412-2 §4.3.2): one that
    does not is not a signing certificate, so it is refused."""
    usage = certificate.key_usage_value
    if usage is None:
        return False
    return bool({"digital_signature", "non_repudiation"} & set(usage.native))


def _anchor_certificate(path: ValidationPath) -> x509.Certificate | None:
    authority: Any = path.trust_anchor.authority
    if isinstance(authority, AuthorityWithCert):
        return authority.certificate
    return None


def _crl_urls(certificate: x509.Certificate) -> tuple[str, ...]:
    urls: list[str] = []
    for point in certificate.crl_distribution_points:
        url = point.url
        if isinstance(url, str):
            urls.append(url)
    return tuple(urls)


def _unknown(oid: str) -> PathRefused:
    return PathRefused(Reason.UNKNOWN_ALGORITHM, f"signature {oid} in the path")


def _why(failure: Exception) -> str:
    # pyhanko's messages describe certificates by their subject names: personal data.
    if isinstance(failure, PathBuildingError):
        return "no path to an accredited CA"
    return f"the path does not validate ({type(failure).__name__})"
