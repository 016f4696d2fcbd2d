"""Verification's CPU work, off the event loop: the pool, and the two steps sent to it.

The steps are top-level functions that take and return picklable values only (bytes,
datetimes, frozen dataclasses), so that they run the same in a pool of processes (pure-Python
GOST in parallel on every core) and of threads. Plug-ins are loaded inside the worker by name,
once per process, and so is the trust list's parsed form (once per change of the list). A step
never raises: what it cannot parse is ``malformed``; any other failure is logged (its type, never
its message) and returned as :class:`Unavailable`.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import x509
from cryptography import x509 as pyca_x509

from idp.settings import SignaturesSettings
from idp.signatures.algorithms.registry import algorithms_named
from idp.signatures.cms import CmsRefused, SignedCms, check_signature, open_cms
from idp.signatures.decode import Undecodable, decode_signature
from idp.signatures.paths import (
    Candidates,
    PathRefused,
    RevocationNeed,
    ShortOfRevocation,
    ValidPath,
    candidate_paths,
    fingerprint,
    parsed_anchors,
    revocation_needs,
    validate_path,
)
from idp.signatures.profiles import profiles_named
from idp.signatures.protocol import CertificateProfile, NotQualified, TrustedCA
from idp.signatures.result import Qualification, Reason, Verification

logger = logging.getLogger("idp.signatures")

# What a parser raises on hostile bytes (asn1crypto parses lazily, so anywhere): ``malformed``.
# Anything else is a fault of idp's or a plug-in's, logged and answered "try again later".
PARSE_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    OverflowError,
    RecursionError,
    EOFError,
)


def pool_workers(settings: SignaturesSettings) -> int:
    return settings.pool_size or os.cpu_count() or 1


def make_pool(settings: SignaturesSettings) -> Executor:
    workers = pool_workers(settings)
    if settings.pool == "thread":
        return ThreadPoolExecutor(workers, thread_name_prefix="idp-signatures")
    # Never fork: the parent holds an event loop, database connections and threads.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    # No ``max_tasks_per_child``: on CPython 3.11 a worker retiring while tasks are queued is
    # not replaced (gh-115634), so the pool shrinks until it hangs. A hung pool is the
    # checker's watchdog's to replace (``SignatureChecker._watch``).
    return ProcessPoolExecutor(workers, mp_context=context)


@dataclass(frozen=True, slots=True)
class Options:
    algorithms: tuple[str, ...]
    profiles: tuple[str, ...]
    max_bytes: int
    require_revocation: bool


@dataclass(frozen=True, slots=True)
class Request:
    signature: bytes | str
    content: bytes
    certificates: tuple[bytes, ...]
    signed_after: datetime
    signed_before: datetime
    # The whole trust list: the worker parses it once per change (``paths.parsed_anchors``).
    anchors: tuple[TrustedCA, ...]
    now: datetime
    options: Options


@dataclass(frozen=True, slots=True)
class Prepared:
    """What the first step found: the CMS checked, the candidate paths (their certificates'
    signatures checked) and where their revocation status is published. It holds no more of
    the trust list than the anchors those paths end at."""

    signed: SignedCms
    candidates: Candidates
    needs: tuple[RevocationNeed, ...]
    options: Options


@dataclass(frozen=True, slots=True)
class Unavailable:
    """A step failed for a reason that is not the signature's (a bug, a plug-in's fault): the
    checker raises ``VerificationUnavailable``. ``detail`` names the exception's type only."""

    detail: str


@dataclass(frozen=True, slots=True)
class ShortOf:
    """The answers fetched did not settle the revocation status of ``certificates`` (DER):
    ``verification`` is the refusal, unless the checker finds more answers (a CRL where an
    OCSP answer was unusable) and concludes again."""

    certificates: tuple[bytes, ...]
    verification: Verification


def prepare(request: Request) -> Verification | Prepared | Unavailable:
    """Decode, check the CMS but its signature, build the candidate paths (an untrusted
    certificate is refused before the signature's arithmetic), check the signature. A refusal
    is a Verification."""
    known: dict[str, object] = {}
    try:
        der = decode_signature(request.signature, request.options.max_bytes)
        algorithms = algorithms_named(request.options.algorithms)
        opened = open_cms(
            der,
            request.content,
            certificates=request.certificates,
            signed_after=request.signed_after,
            signed_before=request.signed_before,
            algorithms=algorithms,
        )
        signed = opened.signed
        known = certificate_facts(signed.signer) | {
            "algorithm": signed.algorithm,
            "signing_time": signed.signing_time,
        }
        anchors = parsed_anchors(request.anchors).at(signed.signing_time or request.now)
        candidates = candidate_paths(signed.signer, signed.certificates, anchors, algorithms)
        check_signature(opened, algorithms)
        needs = revocation_needs(candidates)
    except Undecodable as failure:
        return Verification.refused(Reason.MALFORMED, str(failure))
    except CmsRefused as refused:
        if refused.signer is not None:
            known = _facts_or_nothing(refused.signer)
        return Verification.refused(refused.reason, refused.detail, **known)
    except PathRefused as refused:
        return Verification.refused(refused.reason, refused.detail, **known)
    except PARSE_ERRORS as failure:  # anything a parser raises on hostile input
        logger.info("signature refused as malformed: %s", type(failure).__name__)
        return Verification.refused(Reason.MALFORMED, "not a CMS signature idp can read", **known)
    except Exception as failure:
        return _unavailable("prepare", failure)
    return Prepared(signed, candidates, needs, request.options)


def conclude(
    prepared: Prepared, crls: tuple[bytes, ...], ocsps: tuple[bytes, ...], now: datetime
) -> Verification | ShortOf | Unavailable:
    """Validate the candidate paths at ``now`` (when the revocation information was fetched),
    then the profiles."""
    signed, options = prepared.signed, prepared.options
    known: dict[str, object] = {}
    try:
        known = certificate_facts(signed.signer) | {
            "algorithm": signed.algorithm,
            "signing_time": signed.signing_time,
        }
        path = validate_path(
            signed.signer,
            signed.certificates,
            prepared.candidates,
            moment=now,
            algorithms=algorithms_named(options.algorithms),
            crls=crls,
            ocsps=ocsps,
            require_revocation=options.require_revocation,
        )
        return _qualified(signed, path, profiles_named(options.profiles), known)
    except ShortOfRevocation as short:
        refusal = Verification.refused(short.reason, short.detail, **known)
        return ShortOf(short.certificates, refusal)
    except PathRefused as refused:
        return Verification.refused(refused.reason, refused.detail, **known)
    except PARSE_ERRORS as failure:
        logger.info("signature refused as malformed: %s", type(failure).__name__)
        return Verification.refused(Reason.MALFORMED, "a certificate idp cannot read", **known)
    except Exception as failure:
        return _unavailable("conclude", failure)


def _qualified(
    signed: SignedCms,
    path: ValidPath,
    profiles: tuple[CertificateProfile, ...],
    known: dict[str, object],
) -> Verification:
    """The first profile that finds the certificate qualified. One that finds it ambiguous
    (:class:`NotQualified`: an identity attribute twice) refuses it outright."""
    for profile in profiles:
        try:
            evidence = profile.qualification(signed.signer, path.anchor)
        except NotQualified as refused:
            return Verification.refused(Reason.NOT_QUALIFIED, str(refused), **known)
        if evidence is None:
            continue
        qualification = Qualification(
            profile=profile.name,
            anchor_fingerprint=path.anchor.fingerprint,
            anchor_name=path.anchor.name,
            evidence=evidence,
        )
        identity = profile.identity(signed.signer)
        return Verification(None, "", identity=identity, qualification=qualification, **known)  # type: ignore[arg-type]
    return Verification.refused(
        Reason.NOT_QUALIFIED, "no qualified certificate profile accepts the certificate", **known
    )


def _unavailable(step: str, failure: Exception) -> Unavailable:
    # The type only: a message may quote the certificate (names, SNILS).
    logger.error("signature verification failed in %s: %s", step, type(failure).__name__)
    return Unavailable(f"{step} failed ({type(failure).__name__})")


def certificate_facts(der: bytes) -> dict[str, object]:
    """What a Verification tells of the signer's certificate: nothing personal."""
    certificate = x509.Certificate.load(der)
    try:
        issuer = pyca_x509.load_der_x509_certificate(der).issuer.rfc4514_string()
    except ValueError:
        issuer = certificate.issuer.human_friendly
    return {
        "fingerprint": fingerprint(der),
        "issuer": issuer,
        "serial": format(certificate.serial_number, "x"),
        "not_after": certificate["tbs_certificate"]["validity"]["not_after"].native,
    }


def _facts_or_nothing(der: bytes) -> dict[str, object]:
    try:
        return certificate_facts(der)
    except Exception:
        return {}
