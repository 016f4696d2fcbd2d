"""Shared material for the verification tests: a trust list of one root per algorithm, a CRL
source in memory (the network is tested in tests/integration/signatures), a checker on threads."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from asn1crypto import x509 as asn1_x509

from idp.clock import FrozenClock
from idp.settings import SignaturesSettings
from idp.signatures.checker import SignatureChecker
from idp.signatures.dev import keys, pki
from idp.signatures.protocol import TrustedCA
from idp.signatures.result import RevocationUnavailable, Verification

CONTENT = b"confirm|account|2f1c0b6e9a7d4b1f"
CRL_URL = "http://127.0.0.1:9/{}.crl"


class Trust:
    def __init__(self, *anchors: TrustedCA) -> None:
        self.list = anchors

    async def anchors(self) -> tuple[TrustedCA, ...]:
        return self.list


class CrlsInMemory:
    """A RevocationSource holding CRLs by URL; any other URL is unavailable."""

    def __init__(self, crls: dict[str, bytes]) -> None:
        self.crls = crls

    async def crl(self, url: str) -> bytes:
        if url not in self.crls:
            raise RevocationUnavailable(f"CRL at {url}: not found")
        return self.crls[url]

    async def ocsp(self, url: str, certificate: bytes, issuer: bytes) -> bytes:
        raise RevocationUnavailable("no OCSP here")


def anchor(
    issued: pki.Issued, *, source_kind: str = "certificates", **window: datetime | None
) -> TrustedCA:
    return TrustedCA(
        hashlib.sha256(issued.certificate).hexdigest(),
        issued.certificate,
        "Test CA",
        source_kind=source_kind,
        **window,
    )


@cache
def root(algo: pki.KeyAlgo) -> pki.Issued:
    return pki.make_root(f"Test root {algo}", algo)


def person(algo: pki.KeyAlgo, **options: Any) -> pki.Issued:
    issuer = options.pop("issuer", None) or root(algo)
    values: dict[str, Any] = {
        "snils": "11223344595",
        "surname": "Иванова",
        "given_names": "Мария Петровна",
        "inn": "500100732259",
        "crl_url": CRL_URL.format(algo),
    }
    values.update(options)
    return pki.make_person(issuer, algo, **values)


def without_key_usage(issued: pki.Issued, issuer: pki.Issued) -> pki.Issued:
    """``issued`` re-signed by ``issuer`` with its keyUsage extension left out (the kit always
    writes one)."""
    return resigned(issued, issuer, drop={"key_usage"})


def resigned(
    issued: pki.Issued,
    issuer: pki.Issued,
    *,
    drop: set[str] = frozenset(),  # type: ignore[assignment]
    add: tuple[asn1_x509.Extension, ...] = (),
    extra_subject: tuple[tuple[str, Any], ...] = (),
) -> pki.Issued:
    """``issued`` changed and signed again by ``issuer``: extensions named in ``drop`` (asn1crypto
    names or dotted OIDs) left out, ``add`` appended, and (OID, asn1 value) attributes appended
    to the subject, each in an RDN of its own."""
    certificate = asn1_x509.Certificate.load(issued.certificate)
    tbs = certificate["tbs_certificate"].copy()
    tbs["extensions"] = [
        e
        for e in tbs["extensions"]
        if e["extn_id"].native not in drop and e["extn_id"].dotted not in drop
    ] + list(add)
    if extra_subject:
        rdns = list(tbs["subject"].chosen)
        for oid, value in extra_subject:
            rdns.append(
                asn1_x509.RelativeDistinguishedName(
                    [asn1_x509.NameTypeAndValue({"type": oid, "value": value})]
                )
            )
        tbs["subject"] = asn1_x509.Name(name="", value=asn1_x509.RDNSequence(rdns))
    signed = asn1_x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": certificate["signature_algorithm"],
            "signature_value": keys.sign(keys.private_key(issuer), tbs.dump()),
        }
    )
    return pki.Issued(signed.dump(), issued.key, issued.algo)


class Recording:
    """A RevocationSource answering from memory (CRLs by URL, OCSP answers by URL) that records
    every URL asked and every answer the checker told it to forget."""

    def __init__(
        self, crls: dict[str, bytes] | None = None, ocsps: dict[str, bytes] | None = None
    ) -> None:
        self.crls = crls or {}
        self.ocsps = ocsps or {}
        self.asked: list[str] = []
        self.forgotten: list[str] = []

    async def crl(self, url: str) -> bytes:
        self.asked.append(url)
        if url not in self.crls:
            raise RevocationUnavailable(f"CRL at {url}: not found")
        return self.crls[url]

    async def ocsp(self, url: str, certificate: bytes, issuer: bytes) -> bytes:
        self.asked.append(url)
        if url not in self.ocsps:
            raise RevocationUnavailable(f"OCSP at {url}: not found")
        return self.ocsps[url]

    def invalidate(self, url: str) -> None:
        self.forgotten.append(url)

    def invalidate_ocsp(self, url: str, certificate: bytes, issuer: bytes) -> None:
        self.forgotten.append(url)


def crls(revoked: dict[pki.KeyAlgo, list[int]] | None = None) -> CrlsInMemory:
    now = datetime.now(UTC)
    found = {}
    for algo in pki.KEY_ALGOS:
        serials = (revoked or {}).get(algo, [])
        found[CRL_URL.format(algo)] = pki.make_crl(
            root(algo), [(s, now - timedelta(hours=1)) for s in serials]
        )
    return CrlsInMemory(found)


def checker(
    *anchors: TrustedCA,
    revocation: Any = None,
    clock: FrozenClock | None = None,
    **settings: Any,
) -> SignatureChecker:
    options: dict[str, Any] = {"pool": "thread", "pool_size": 2}
    options.update(settings)
    return SignatureChecker(
        SignaturesSettings(**options),
        trust=Trust(*(anchors or tuple(anchor(root(a)) for a in pki.KEY_ALGOS))),
        revocation=revocation or crls(),
        clock=clock or FrozenClock(),
    )


def run(coroutine: Coroutine[Any, Any, Verification]) -> Verification:
    return asyncio.run(coroutine)


async def verify_with(
    checker_: SignatureChecker, signature: bytes | str, content: bytes = CONTENT, **options: Any
) -> Verification:
    now = datetime.now(UTC)
    window: dict[str, Any] = {
        "signed_after": now - timedelta(minutes=5),
        "signed_before": now + timedelta(minutes=5),
    }
    window.update(options)
    try:
        return await checker_.verify(signature, content, **window)
    finally:
        await checker_.close()
