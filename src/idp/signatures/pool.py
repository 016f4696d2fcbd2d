"""Verification's CPU work, off the event loop: the pool, and the two steps sent to it.

The steps are top-level functions that take and return picklable values only (bytes,
datetimes, frozen dataclasses), so that they run the same in a pool of processes (pure-Python
GOST in parallel on every core) and of threads. Plug-ins are loaded inside the worker by name,
once per process. A step never raises: what it cannot parse is ``malformed``.
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
from idp.signatures.cms import CmsRefused, SignedCms, check_cms
from idp.signatures.decode import Undecodable, decode_signature
from idp.signatures.paths import (
    PathRefused,
    RevocationNeed,
    anchors_at,
    fingerprint,
    revocation_needs,
    validate_path,
)
from idp.signatures.profiles import profiles_named
from idp.signatures.protocol import TrustedCA
from idp.signatures.result import Qualification, Reason, Verification

logger = logging.getLogger("idp.signatures")


def make_pool(settings: SignaturesSettings) -> Executor:
    workers = settings.pool_size or os.cpu_count() or 1
    if settings.pool == "thread":
        return ThreadPoolExecutor(workers, thread_name_prefix="idp-signatures")
    # Never fork: the parent holds an event loop, database connections and threads.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
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
    anchors: tuple[TrustedCA, ...]
    now: datetime
    options: Options


@dataclass(frozen=True, slots=True)
class Prepared:
    """What the first step found: the CMS checked, the anchors accredited at the signing time,
    and where the path's revocation status is published."""

    request: Request
    signed: SignedCms
    anchors: tuple[TrustedCA, ...]
    needs: tuple[RevocationNeed, ...]


def prepare(request: Request) -> Verification | Prepared:
    """Decode, check the CMS, build the candidate paths. A refusal is a Verification."""
    known: dict[str, object] = {}
    try:
        der = decode_signature(request.signature, request.options.max_bytes)
        algorithms = algorithms_named(request.options.algorithms)
        signed = check_cms(
            der,
            request.content,
            certificates=request.certificates,
            signed_after=request.signed_after,
            signed_before=request.signed_before,
            algorithms=algorithms,
        )
        known = certificate_facts(signed.signer) | {
            "algorithm": signed.algorithm,
            "signing_time": signed.signing_time,
        }
        anchors = anchors_at(request.anchors, signed.signing_time or request.now)
        needs = revocation_needs(
            signed.signer, signed.certificates, anchors, request.now, algorithms
        )
    except Undecodable as failure:
        return Verification.refused(Reason.MALFORMED, str(failure))
    except CmsRefused as refused:
        if refused.signer is not None:
            known = _facts_or_nothing(refused.signer)
        return Verification.refused(refused.reason, refused.detail, **known)
    except PathRefused as refused:
        return Verification.refused(refused.reason, refused.detail, **known)
    except Exception as failure:  # anything a parser raises on hostile input
        logger.info("signature refused as malformed: %s", type(failure).__name__)
        return Verification.refused(Reason.MALFORMED, "not a CMS signature idp can read", **known)
    return Prepared(request, signed, anchors, needs)


def conclude(
    prepared: Prepared, crls: tuple[bytes, ...], ocsps: tuple[bytes, ...], now: datetime
) -> Verification:
    """Validate the path at ``now`` (when the revocation information was fetched), then the
    profiles."""
    request, signed = prepared.request, prepared.signed
    known: dict[str, object] = certificate_facts(signed.signer) | {
        "algorithm": signed.algorithm,
        "signing_time": signed.signing_time,
    }
    try:
        path = validate_path(
            signed.signer,
            signed.certificates,
            prepared.anchors,
            moment=now,
            algorithms=algorithms_named(request.options.algorithms),
            crls=crls,
            ocsps=ocsps,
            require_revocation=request.options.require_revocation,
        )
        for profile in profiles_named(request.options.profiles):
            evidence = profile.qualification(signed.signer, path.anchor)
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
            Reason.NOT_QUALIFIED,
            "no qualified certificate profile accepts the certificate",
            **known,
        )
    except PathRefused as refused:
        return Verification.refused(refused.reason, refused.detail, **known)
    except Exception as failure:
        logger.info("signature refused as malformed: %s", type(failure).__name__)
        return Verification.refused(Reason.MALFORMED, "a certificate idp cannot read", **known)


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
