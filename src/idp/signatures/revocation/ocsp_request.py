"""The OCSP request for one certificate (RFC 6960 §4.1).

The CertID uses SHA-1 for the issuer's name and key hashes: RFC 5019 §2.1.1 (the lightweight
profile that CA responders implement) requires responders to accept SHA-1 CertIDs, and not every
responder accepts another hash. No nonce (RFC 5019 §2.1 allows none): the answer is then the
same for every asker until its nextUpdate, which is what makes it cacheable.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from asn1crypto import algos, core, ocsp, x509


@dataclass(frozen=True, slots=True)
class OcspQuery:
    body: bytes  # DER OCSPRequest
    issuer_key_hash: bytes
    serial: int


def issuer_key_hash(issuer: x509.Certificate) -> bytes:
    """SHA-1 of the issuer's subjectPublicKey BIT STRING value, unused-bits octet excluded
    (RFC 6960 §4.1.1). Read as raw DER: asn1crypto cannot open some keys' contents (GOST)."""
    spki = issuer["tbs_certificate"]["subject_public_key_info"]
    bits = core.Sequence.load(spki.dump())[1]
    raw = core.BitString.load(bits.dump()).contents
    return hashlib.sha1(raw[1:]).digest()  # noqa: S324 - RFC 6960 CertID, not a security hash


def build_query(certificate: bytes, issuer: bytes) -> OcspQuery:
    """Raises ``ValueError`` when either certificate cannot be read."""
    try:
        cert = x509.Certificate.load(certificate, strict=True)
        ca = x509.Certificate.load(issuer, strict=True)
        name_hash = hashlib.sha1(cert.issuer.dump()).digest()  # noqa: S324 - as above
        key_hash = issuer_key_hash(ca)
        serial = cert.serial_number
        cert_id = ocsp.CertId(
            {
                "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha1"}),
                "issuer_name_hash": name_hash,
                "issuer_key_hash": key_hash,
                "serial_number": serial,
            }
        )
        request = ocsp.OCSPRequest({"tbs_request": {"request_list": [{"req_cert": cert_id}]}})
        return OcspQuery(request.dump(), key_hash, serial)
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"cannot build an OCSP request: {type(exc).__name__}") from None
