"""The signer's certificate path to the trust list, its validity, key usage and revocation, by
pyhanko-certvalidator (RFC 5280 §6) with every signature in the path (certificates, CRLs, OCSP
responses) checked by idp's algorithm plug-ins, GOST included.

Two steps, so that the network is used between them on the event loop: :func:`candidate_paths`
builds at most a few short paths to the anchors with a bounded search of its own, checking every
certificate's signature on the way, and :func:`revocation_needs` lists, for every certificate on
them but the anchor, where its revocation status is published; :func:`validate_path` then
validates those paths only, with the CRLs and OCSP responses that were fetched, requiring them
(``REQUIRE_REVINFO``: a certificate declaring no CRL or OCSP URL is not "not revoked", research
notes §A2.1). pyhanko-certvalidator's own path builder is not used: it enumerates every path
the given certificates allow, and two certificates per level under a trusted name make that
exponential.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import algos, keys, x509
from cryptography.exceptions import InvalidSignature
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.authority import CertTrustAnchor
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
from pyhanko_certvalidator.validate import async_validate_path

from idp.signatures.algorithms.registry import Algorithms
from idp.signatures.protocol import TrustedCA, UnsupportedAlgorithm
from idp.signatures.result import Reason

logger = logging.getLogger("idp.signatures")

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
MAX_PATHS = 4  # cross-certified CAs give several; each costs revocation requests
MAX_PATH_CERTIFICATES = 5  # the signer, at most three intermediates, the anchor
# A signer's CA and the CA's root are two checks; cross-certification adds a few.
MAX_SIGNATURE_CHECKS = 8
MAX_STEPS = 64


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

    def __init__(self, algorithms: Algorithms, verified: frozenset[bytes] = frozenset()) -> None:
        self.algorithms = algorithms
        self.verified = verified  # checked in the first step (:func:`checked`)
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
        if (
            not context.prehashed
            and self.verified
            and (
                checked(signature_algorithm.dump(), public_key_info.dump(), signature, signed_data)
                in self.verified
            )
        ):
            return
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
    anchors: Sequence[x509.Certificate],
    others: Sequence[bytes],
    moment: datetime,
    signatures: PluginSignatures,
    policy: RevocationCheckingPolicy,
    crls: Sequence[bytes] = (),
    ocsps: Sequence[bytes] = (),
) -> ValidationContext:
    return ValidationContext(
        trust_roots=list(anchors),
        other_certs=[x509.Certificate.load(der) for der in others],
        moment=moment,
        allow_fetching=False,
        crls=list(crls),
        ocsps=list(ocsps),
        revinfo_policy=CertRevTrustPolicy(policy),
        algorithm_usage_policy=PluginAlgorithmPolicy(signatures),
        signature_validator=signatures,
    )


class ParsedAnchors:
    """The anchors parsed and indexed by subject name. A pool worker keeps the last few
    (:func:`parsed_anchors`): a trust list of thousands is parsed once per
    change, not once per verification."""

    def __init__(self, anchors: Sequence[TrustedCA]) -> None:
        self.anchors = tuple(anchors)
        self.fingerprints = frozenset(a.fingerprint for a in anchors)
        self.by_subject: dict[str, list[tuple[TrustedCA, x509.Certificate]]] = {}
        for anchor in anchors:
            try:
                parsed = x509.Certificate.load(anchor.certificate)
                subject = parsed.subject.hashable
            except Exception as failure:  # an anchor idp cannot read anchors nothing
                logger.warning(
                    "trust anchor unreadable fingerprint=%s error=%s",
                    anchor.fingerprint,
                    type(failure).__name__,
                )
                continue
            self.by_subject.setdefault(subject, []).append((anchor, parsed))

    def at(self, moment: datetime) -> ParsedAnchors:
        """Those accredited at ``moment`` (a path to another one is untrusted)."""
        current = anchors_at(self.anchors, moment)
        if len(current) == len(self.anchors):
            return self
        return parsed_anchors(current)


# Keyed by the anchors themselves, not only their fingerprints: an anchor's accreditation
# window or list kind may change while its certificate stays.
_PARSED: dict[tuple[TrustedCA, ...], ParsedAnchors] = {}
_PARSED_KEPT = 4  # trust lists kept per process: the current one and the few around a change


def parsed_anchors(anchors: Sequence[TrustedCA]) -> ParsedAnchors:
    key = tuple(anchors)
    found = _PARSED.pop(key, None)
    if found is None:
        found = ParsedAnchors(anchors)
    _PARSED[key] = found  # the most recently used last
    while len(_PARSED) > _PARSED_KEPT:
        del _PARSED[next(iter(_PARSED))]
    return found


@dataclass(frozen=True, slots=True)
class Candidate:
    """A path whose every certificate signature verified: the signer first, then each issuer,
    ending at the anchor's child; ``anchor`` signed the last one."""

    anchor: TrustedCA
    chain: tuple[bytes, ...]  # DER


@dataclass(frozen=True, slots=True)
class Candidates:
    paths: tuple[Candidate, ...]
    # The certificate signatures already checked (digests of algorithm, key, signature and
    # data): the validation does not check them a second time.
    verified: frozenset[bytes]


class _Search:
    """One bounded path search: at most ``MAX_SIGNATURE_CHECKS`` certificate signatures checked
    and ``MAX_STEPS`` certificates looked at, whatever the certificates given."""

    def __init__(self, algorithms: Algorithms) -> None:
        self.algorithms = algorithms
        self.checks = 0
        self.steps = 0
        self.outcomes: dict[tuple[bytes, bytes], bool] = {}
        self.verified: set[bytes] = set()
        self.unknown: str | None = None

    @property
    def exhausted(self) -> bool:
        return self.checks >= MAX_SIGNATURE_CHECKS or self.steps >= MAX_STEPS

    def signed_by(
        self, child: x509.Certificate, issuer: x509.Certificate, *, anchor: bool = False
    ) -> bool:
        """Whether ``issuer`` names the child's issuer, may issue certificates (a CA: checked
        before any signature is counted or verified) and its key signed the child."""
        if child.issuer != issuer.subject:
            return False
        if not (may_be_anchor(issuer) if anchor else may_issue(issuer)):
            return False
        wanted = child.authority_key_identifier
        if wanted is not None and issuer.key_identifier not in (None, wanted):
            return False
        key = (child.sha256, issuer.sha256)
        known = self.outcomes.get(key)
        if known is not None:
            return known
        if self.exhausted:
            return False
        self.checks += 1
        good = self._verify(child, issuer)
        self.outcomes[key] = good
        return good

    def _verify(self, child: x509.Certificate, issuer: x509.Certificate) -> bool:
        algorithm = child["signature_algorithm"]
        oid = algorithm["algorithm"].dotted
        plugin = self.algorithms.for_signature(oid)
        public_key_info = issuer["tbs_certificate"]["subject_public_key_info"].dump()
        signature = child["signature_value"].native
        data = child["tbs_certificate"].dump()
        try:
            if plugin is None:
                raise UnsupportedAlgorithm(oid)
            good = plugin.verify(
                public_key_info=public_key_info,
                signature_algorithm=algorithm.dump(),
                signature=signature,
                data=data,
            )
        except UnsupportedAlgorithm:
            self.unknown = self.unknown or oid
            return False
        except Exception:  # a key or signature the plug-in cannot read: not a signature
            return False
        if good:
            self.verified.add(checked(algorithm.dump(), public_key_info, signature, data))
        return bool(good)


def may_issue(certificate: x509.Certificate) -> bool:
    """RFC 5280 §4.2.1.9 and §4.2.1.3: an intermediate issues certificates only when its
    basicConstraints says cA=TRUE and its keyUsage, when present, has keyCertSign. Without this
    the holder of any trusted end-entity certificate could sign a certificate of their own
    (naming revocation URLs of their choosing) and have the checker fetch them before
    pyhanko-certvalidator refuses the path."""
    try:
        if not certificate.ca:
            return False
        usage = certificate.key_usage_value
    except ValueError:  # an extension asn1crypto cannot read: not a CA idp can trust
        return False
    return usage is None or "key_cert_sign" in usage.native


def may_be_anchor(certificate: x509.Certificate) -> bool:
    """An anchor's key is taken as given (RFC 5280 §6.1.1, pyhanko-certvalidator too): an old
    root without extensions still anchors. One that says outright it is no CA (cA=FALSE, or a
    keyUsage without keyCertSign) anchors nothing."""
    try:
        constraints = certificate.basic_constraints_value
        usage = certificate.key_usage_value
    except ValueError:
        return False
    if constraints is not None and not constraints["ca"].native:
        return False
    return usage is None or "key_cert_sign" in usage.native


def _intermediates_below(chain: Sequence[x509.Certificate]) -> int:
    """The intermediates a new issuer of ``chain[-1]`` would have below it, as pathLenConstraint
    counts them (RFC 5280 §4.2.1.9: self-issued ones do not count; the signer is no
    intermediate)."""
    return sum(1 for certificate in chain[1:] if not certificate.self_issued)


def checked(
    signature_algorithm: bytes, public_key_info: bytes, signature: bytes, data: bytes
) -> bytes:
    """What identifies one verified signature (each part length-prefixed)."""
    digest = hashlib.sha256()
    for part in (signature_algorithm, public_key_info, signature, data):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


def candidate_paths(
    signer_der: bytes,
    others: Sequence[bytes],
    anchors: ParsedAnchors,
    algorithms: Algorithms,
) -> Candidates:
    """At most ``MAX_PATHS`` paths from the signer to an anchor, each at most
    ``MAX_PATH_CERTIFICATES`` long (the anchor included), every certificate's signature checked
    with its issuer's key by the algorithm plug-ins: a path through a certificate its issuer
    did not sign is no candidate (and its revocation URLs are never asked). The search is
    depth-first, an anchor before an intermediate at every step, and bounded (``_Search``), so
    certificates crafted to branch give no more work than honest ones.

    Raises :class:`PathRefused`: ``unknown_algorithm`` when no path was found and a certificate
    on the way is signed with an algorithm no plug-in serves, else ``untrusted``."""
    signer = x509.Certificate.load(signer_der)
    search = _Search(algorithms)
    pool: dict[str, list[x509.Certificate]] = {}
    seen = {signer.sha256}
    for der in others:
        certificate = x509.Certificate.load(der)
        if certificate.sha256 in seen or fingerprint(der) in anchors.fingerprints:
            continue  # an anchor given again closes a path as the anchor, never in between
        seen.add(certificate.sha256)
        pool.setdefault(certificate.subject.hashable, []).append(certificate)
    found: list[Candidate] = []

    def walk(chain: list[x509.Certificate]) -> None:
        current = chain[-1]
        search.steps += 1
        issuer_name = current.issuer.hashable
        for anchor, parsed in anchors.by_subject.get(issuer_name, ()):
            if len(found) >= MAX_PATHS or search.exhausted:
                return
            if search.signed_by(current, parsed, anchor=True):
                found.append(Candidate(anchor, tuple(c.dump() for c in chain)))
        if len(chain) + 2 > MAX_PATH_CERTIFICATES:
            return  # one more intermediate would leave no room for the anchor
        on_path = {c.sha256 for c in chain}
        below = _intermediates_below(chain)
        for issuer in pool.get(issuer_name, ()):
            if len(found) >= MAX_PATHS or search.exhausted:
                return
            if issuer.sha256 in on_path or not _path_length_allows(issuer, below):
                continue
            if search.signed_by(current, issuer):
                walk([*chain, issuer])

    walk([signer])
    if not found:
        if search.unknown:
            raise _unknown(search.unknown)
        raise PathRefused(Reason.UNTRUSTED, "no path to an accredited CA")
    return Candidates(tuple(found), frozenset(search.verified))


def _path_length_allows(issuer: x509.Certificate, below: int) -> bool:
    try:
        limit = issuer.max_path_length
    except ValueError:
        return False
    return limit is None or below <= limit


def revocation_needs(candidates: Candidates) -> tuple[RevocationNeed, ...]:
    """Where the revocation status of every certificate on the candidate paths (their
    signatures checked) is published, OCSP first. The anchor is not asked about, nor is any
    certificate of a path with an issuer that is no CA (the search gives none; a URL is only
    ever asked for on a path that could validate)."""
    needs: dict[bytes, RevocationNeed] = {}
    for path in candidates.paths:
        if not _issued_by_cas(path):
            continue
        issuers = [*path.chain[1:], path.anchor.certificate]
        for der, issuer in zip(path.chain, issuers, strict=True):
            if der in needs:
                continue
            certificate = x509.Certificate.load(der)
            needs[der] = RevocationNeed(
                certificate=der,
                issuer=issuer,
                ocsp_urls=tuple(u for u in certificate.ocsp_urls if isinstance(u, str)),
                crl_urls=_crl_urls(certificate),
            )
    return tuple(needs.values())


def _issued_by_cas(path: Candidate) -> bool:
    chain = [x509.Certificate.load(der) for der in path.chain]
    for index, issuer in enumerate(chain[1:], start=1):
        if not may_issue(issuer) or not _path_length_allows(
            issuer, _intermediates_below(chain[:index])
        ):
            return False
    return may_be_anchor(x509.Certificate.load(path.anchor.certificate))


class ShortOfRevocation(PathRefused):
    """``revocation_unavailable``, naming the certificates the answers did not settle (DER):
    the checker may fetch more (a CRL where an OCSP answer was unusable) and try again."""

    def __init__(self, certificates: tuple[bytes, ...]) -> None:
        super().__init__(
            Reason.REVOCATION_UNAVAILABLE,
            "no usable CRL or OCSP answer for a certificate of the path",
        )
        self.certificates = certificates


def validate_path(
    signer_der: bytes,
    others: Sequence[bytes],
    candidates: Candidates,
    *,
    moment: datetime,
    algorithms: Algorithms,
    crls: Sequence[bytes],
    ocsps: Sequence[bytes],
    require_revocation: bool,
) -> ValidPath:
    """The first candidate path that validates (RFC 5280 §6.1), or :class:`PathRefused` with
    the reason of the first failure: ``revoked`` where any path is revoked, else the first
    path's (:class:`ShortOfRevocation` when it lacks revocation answers)."""
    policy = _REQUIRED if require_revocation else _IF_AVAILABLE
    signatures = PluginSignatures(algorithms, candidates.verified)
    anchors = {path.anchor.fingerprint: path.anchor for path in candidates.paths}
    roots = [x509.Certificate.load(anchor.certificate) for anchor in anchors.values()]
    context = _context(roots, others, moment, signatures, policy, crls, ocsps)
    failures: list[PathRefused] = []
    for candidate in candidates.paths:
        chain = [x509.Certificate.load(der) for der in candidate.chain]
        path = ValidationPath(
            trust_anchor=CertTrustAnchor(x509.Certificate.load(candidate.anchor.certificate)),
            interm=chain[1:][::-1],
            leaf=chain[0],
        )
        try:
            asyncio.run(async_validate_path(context, path))
        except Exception as failure:
            refused = _refusal(failure, signatures, path)
            if refused is None:
                raise
            failures.append(refused)
            continue
        if not _usable_for_signing(chain[0]):
            raise PathRefused(
                Reason.WRONG_KEY_USAGE,
                "no key usage, or one with neither digitalSignature nor nonRepudiation",
            )
        return ValidPath(anchor=candidate.anchor, certificates=candidate.chain)
    for refused in failures:
        if refused.reason is Reason.REVOKED:
            raise refused
    raise failures[0]


def _refusal(
    failure: Exception, signatures: PluginSignatures, path: ValidationPath
) -> PathRefused | None:
    if isinstance(failure, RevokedError):
        return PathRefused(Reason.REVOKED, "a certificate of the path is revoked")
    if isinstance(failure, (ExpiredError, NotYetValidError)):
        return PathRefused(Reason.EXPIRED, "a certificate of the path is not valid now")
    if isinstance(failure, InsufficientRevinfoError):
        if signatures.unknown:
            return _unknown(signatures.unknown)
        return ShortOfRevocation(_unsettled(failure, path))
    if isinstance(failure, (PathBuildingError, PathValidationError, DisallowedAlgorithmError)):
        if signatures.unknown:
            return _unknown(signatures.unknown)
        return PathRefused(Reason.UNTRUSTED, _why(failure))
    return None


def _unsettled(failure: InsufficientRevinfoError, path: ValidationPath) -> tuple[bytes, ...]:
    """The certificates whose revocation the failure concerns: the signer's when pyhanko says
    so, else every certificate of the path but the anchor (it names no more precisely)."""
    leaf = path.leaf
    if failure.is_ee_cert and not failure.is_side_validation and isinstance(leaf, x509.Certificate):
        return (leaf.dump(),)
    return tuple(c.dump() for c in path.iter_certs(include_root=False))


def _usable_for_signing(certificate: x509.Certificate) -> bool:
    """RFC 5280 §4.2.1.3: a signature needs digitalSignature or nonRepudiation (contentCommitment);
    either will do. RFC 5280 lets a certificate without the extension be used for anything, but a
    qualified certificate always states it (FSB order 795, ETSI EN 319 412-2 §4.3.2): one that
    does not is not a signing certificate, so it is refused."""
    usage = certificate.key_usage_value
    if usage is None:
        return False
    return bool({"digital_signature", "non_repudiation"} & set(usage.native))


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
