"""idp's own checks of a detached CMS SignedData over a challenge (RFC 5652 §5, ESS RFC 2634 §5.4
and RFC 5035), the same code for every algorithm: pyHanko's CMS layer hashes with
``cryptography`` only and cannot check a Streebog-hashed ``signingCertificateV2``.

The checks run in this order and the first that fails decides the reason: the structure (one
signer, signed attributes present, content type id-data, at most ``MAX_CERTIFICATES``
certificates), the signer's certificate, the algorithms (the digest named must be the one the
signature algorithm implies, RFC 5652 §5.4), the message digest, the signing time, the ESS
certificate binding (:func:`open_cms`), then the signature (:func:`check_signature`). The
checker looks for a path to the trust list between the two: an untrusted certificate is refused
before its signature's arithmetic (pure-Python GOST takes a while) is paid for.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import algos, cms, core, tsp, x509

from idp.signatures.algorithms.registry import Algorithms
from idp.signatures.oids import RSA_PSS
from idp.signatures.protocol import UnsupportedAlgorithm
from idp.signatures.result import Reason

_ = tsp  # registers the ESS signingCertificate(V2) attributes with asn1crypto's CMS

ID_DATA = "1.2.840.113549.1.7.1"
ID_SIGNED_DATA = "1.2.840.113549.1.7.2"
CONTENT_TYPE = "1.2.840.113549.1.9.3"
MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
SIGNING_TIME = "1.2.840.113549.1.9.5"
SIGNING_CERTIFICATE = "1.2.840.113549.1.9.16.2.12"
SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"
# Certificates in the CMS and given alongside, after removing copies: a signer, its CA and the
# CA's root, with room for cross-certificates. More is refused before any path is sought.
MAX_CERTIFICATES = 10

_DIGEST_NAMES = {
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
    "1.2.643.7.1.1.2.2": "streebog256",
    "1.2.643.7.1.1.2.3": "streebog512",
}
_SIGNATURE_KINDS = {
    "1.2.840.113549.1.1.1": "rsa",
    "1.2.840.113549.1.1.11": "rsa",
    "1.2.840.113549.1.1.12": "rsa",
    "1.2.840.113549.1.1.13": "rsa",
    "1.2.840.113549.1.1.10": "rsa-pss",
    "1.2.840.10045.2.1": "ecdsa",
    "1.2.840.10045.4.3.2": "ecdsa",
    "1.2.840.10045.4.3.3": "ecdsa",
    "1.2.840.10045.4.3.4": "ecdsa",
    "1.2.643.7.1.1.1.1": "gost2012-256",
    "1.2.643.7.1.1.3.2": "gost2012-256",
    "1.2.643.7.1.1.1.2": "gost2012-512",
    "1.2.643.7.1.1.3.3": "gost2012-512",
}


class CmsRefused(Exception):
    """The CMS fails a check; ``detail`` never holds personal data."""

    def __init__(self, reason: Reason, detail: str, signer: bytes | None = None) -> None:
        super().__init__(reason.value, detail)
        self.reason = reason
        self.detail = detail
        self.signer = signer  # the signer's certificate (DER) once it is known


@dataclass(frozen=True, slots=True)
class OpenedCms:
    """A CMS that passed every check but its signature's (:func:`check_signature`)."""

    signed: SignedCms  # what it will say once the signature verifies
    public_key_info: bytes  # the signer's, DER
    signature_algorithm: bytes  # DER AlgorithmIdentifier
    signature: bytes
    signed_bytes: bytes  # the DER SET OF the signed attributes, as received
    digest_oid: str


@dataclass(frozen=True, slots=True)
class SignedCms:
    signer: bytes  # the signer's certificate, DER
    certificates: tuple[bytes, ...]  # every other certificate given (CMS and alongside), DER
    signing_time: datetime | None
    algorithm: str
    content_encoding: str  # "binary", or "utf-16le" (a CryptoPro plug-in's default)


# The digest a signature algorithm implies (RFC 4055, RFC 5758, RFC 9215 §3.1): the SignerInfo's
# digestAlgorithm must name the same one. rsaEncryption and id-ecPublicKey imply none.
_IMPLIED_DIGESTS = {
    "1.2.840.113549.1.1.11": "2.16.840.1.101.3.4.2.1",
    "1.2.840.113549.1.1.12": "2.16.840.1.101.3.4.2.2",
    "1.2.840.113549.1.1.13": "2.16.840.1.101.3.4.2.3",
    "1.2.840.10045.4.3.2": "2.16.840.1.101.3.4.2.1",
    "1.2.840.10045.4.3.3": "2.16.840.1.101.3.4.2.2",
    "1.2.840.10045.4.3.4": "2.16.840.1.101.3.4.2.3",
    "1.2.643.7.1.1.1.1": "1.2.643.7.1.1.2.2",
    "1.2.643.7.1.1.3.2": "1.2.643.7.1.1.2.2",
    "1.2.643.7.1.1.1.2": "1.2.643.7.1.1.2.3",
    "1.2.643.7.1.1.3.3": "1.2.643.7.1.1.2.3",
}
_DIGEST_OIDS_BY_NAME = {
    "sha256": "2.16.840.1.101.3.4.2.1",
    "sha384": "2.16.840.1.101.3.4.2.2",
    "sha512": "2.16.840.1.101.3.4.2.3",
}


def implied_digest(signature_algorithm: algos.SignedDigestAlgorithm) -> str | None:
    """The digest OID the signature algorithm (with its parameters) implies, or None."""
    oid = signature_algorithm["algorithm"].dotted
    if oid == RSA_PSS:
        name = signature_algorithm["parameters"]["hash_algorithm"]["algorithm"].native
        return _DIGEST_OIDS_BY_NAME.get(name, str(name))
    return _IMPLIED_DIGESTS.get(oid)


def algorithm_name(signature_oid: str, digest_oid: str) -> str:
    kind = _SIGNATURE_KINDS.get(signature_oid, signature_oid)
    if kind.startswith("gost"):
        return kind
    return f"{kind}-{_DIGEST_NAMES.get(digest_oid, digest_oid)}"


def check_signature(opened: OpenedCms, algorithms: Algorithms) -> SignedCms:
    """The signature over the signed attributes. Raises :class:`CmsRefused`."""
    signer = opened.signed.signer
    try:
        verifier = algorithms.for_signature(
            algos.SignedDigestAlgorithm.load(opened.signature_algorithm)["algorithm"].dotted
        )
        if verifier is None:  # open_cms looked: another plug-in set cannot get here
            raise UnsupportedAlgorithm("signature")
        good = verifier.verify(
            public_key_info=opened.public_key_info,
            signature_algorithm=opened.signature_algorithm,
            signature=opened.signature,
            data=opened.signed_bytes,
            digest_oid=opened.digest_oid,
        )
    except UnsupportedAlgorithm as refused:
        raise CmsRefused(Reason.UNKNOWN_ALGORITHM, f"signature {refused}", signer) from None
    except Exception as failure:  # a plug-in handed a key it cannot read
        raise CmsRefused(
            Reason.MALFORMED, f"not a CMS idp can read ({type(failure).__name__})", signer
        ) from None
    if not good:
        raise CmsRefused(Reason.BAD_SIGNATURE, "the signature does not verify", signer)
    return opened.signed


def open_cms(
    der: bytes,
    content: bytes,
    *,
    certificates: Sequence[bytes],
    signed_after: datetime,
    signed_before: datetime,
    algorithms: Algorithms,
) -> OpenedCms:
    """The CMS's signer and what it says, once every check but the signature's passed. Raises
    :class:`CmsRefused` and nothing else: bytes asn1crypto cannot parse are ``malformed``."""
    signer_der: bytes | None = None
    try:
        info = cms.ContentInfo.load(der, strict=True)
        if info["content_type"].dotted != ID_SIGNED_DATA:
            raise CmsRefused(Reason.MALFORMED, "not a CMS SignedData")
        signed = info["content"]
        signer_infos = signed["signer_infos"]
        if len(signer_infos) != 1:
            raise CmsRefused(Reason.MALFORMED, f"{len(signer_infos)} signers, one expected")
        signer_info = signer_infos[0]
        encapsulated = signed["encap_content_info"]
        if encapsulated["content_type"].dotted != ID_DATA:
            raise CmsRefused(Reason.MALFORMED, "the signed content is not id-data")
        pool = _certificates(signed, certificates)
        signer = _signer_certificate(signer_info["sid"], pool)
        if signer is None:
            raise CmsRefused(Reason.CERTIFICATE_MISSING, "the signer's certificate is not given")
        signer_der = signer.dump()
        return _open_signer(
            signer_info,
            signer,
            encapsulated,
            content,
            pool,
            signed_after,
            signed_before,
            algorithms,
        )
    except CmsRefused as refused:
        refused.signer = refused.signer or signer_der
        raise
    except Exception as failure:
        # asn1crypto parses lazily, so hostile bytes fail wherever a field is first read (a
        # ValueError, TypeError, KeyError, IndexError, RecursionError, …); so does a plug-in
        # handed a key it cannot read. The type is named, never the bytes.
        raise CmsRefused(
            Reason.MALFORMED, f"not a CMS idp can read ({type(failure).__name__})", signer_der
        ) from None


def _open_signer(
    signer_info: cms.SignerInfo,
    signer: x509.Certificate,
    encapsulated: cms.EncapsulatedContentInfo,
    content: bytes,
    pool: list[x509.Certificate],
    signed_after: datetime,
    signed_before: datetime,
    algorithms: Algorithms,
) -> OpenedCms:
    digest_oid = signer_info["digest_algorithm"]["algorithm"].dotted
    signature_oid = signer_info["signature_algorithm"]["algorithm"].dotted
    hasher = algorithms.for_digest(digest_oid)
    if hasher is None:
        raise CmsRefused(Reason.UNKNOWN_ALGORITHM, f"digest {digest_oid}")
    verifier = algorithms.for_signature(signature_oid)
    if verifier is None:
        raise CmsRefused(Reason.UNKNOWN_ALGORITHM, f"signature {signature_oid}")
    implied = implied_digest(signer_info["signature_algorithm"])
    if implied is not None and implied != digest_oid:
        # RFC 5652 §5.4: the signature is over the attributes hashed with digestAlgorithm; a
        # signature algorithm that names another digest is a combination no plug-in serves.
        raise CmsRefused(
            Reason.UNKNOWN_ALGORITHM, f"signature {signature_oid} with the digest {digest_oid}"
        )

    attributes = _signed_attributes(signer_info)
    content_type = _single(attributes, CONTENT_TYPE)
    if content_type is None or content_type.dotted != ID_DATA:
        raise CmsRefused(Reason.MALFORMED, "the contentType attribute is missing or not id-data")
    message_digest = _single(attributes, MESSAGE_DIGEST)
    if message_digest is None:
        raise CmsRefused(Reason.MALFORMED, "no messageDigest attribute")
    encoding = _matching_encoding(hasher.digest, digest_oid, message_digest.native, content)
    if encoding is None:
        raise CmsRefused(Reason.DIGEST_MISMATCH, "the signed content is not the challenge")
    embedded = encapsulated["content"]
    if embedded.native is not None and embedded.native != content:
        raise CmsRefused(Reason.DIGEST_MISMATCH, "the embedded content is not the challenge")

    signing_time = _signing_time(attributes)
    if signing_time is not None and not signed_after <= signing_time <= signed_before:
        raise CmsRefused(Reason.SIGNING_TIME, "the signing time lies outside the challenge's life")

    _check_ess_binding(attributes, signer, algorithms)

    others = tuple(c.dump() for c in pool if c.dump() != signer.dump())
    return OpenedCms(
        signed=SignedCms(
            signer=signer.dump(),
            certificates=others,
            signing_time=signing_time,
            algorithm=algorithm_name(signature_oid, digest_oid),
            content_encoding=encoding,
        ),
        public_key_info=signer["tbs_certificate"]["subject_public_key_info"].dump(),
        signature_algorithm=signer_info["signature_algorithm"].dump(),
        signature=bytes(signer_info["signature"].native),
        # The signature covers the DER SET OF the attributes as received (RFC 5652 §5.4).
        signed_bytes=_as_set(signer_info["signed_attrs"].contents),
        digest_oid=digest_oid,
    )


def _certificates(signed: cms.SignedData, given: Sequence[bytes]) -> list[x509.Certificate]:
    """Every certificate in the CMS and given alongside, each once (by its DER), at most
    :data:`MAX_CERTIFICATES`: certificates crafted to branch under a trusted name must not buy
    path-building work."""
    found: dict[bytes, x509.Certificate] = {}
    choices = signed["certificates"] or ()
    if len(choices) + len(given) > 4 * MAX_CERTIFICATES:  # do not even parse that many
        raise CmsRefused(Reason.MALFORMED, f"more than {MAX_CERTIFICATES} certificates")
    for choice in choices:
        if choice.name == "certificate":
            found.setdefault(hashlib.sha256(choice.chosen.dump()).digest(), choice.chosen)
    for der in given:
        certificate = x509.Certificate.load(bytes(der), strict=True)
        found.setdefault(hashlib.sha256(certificate.dump()).digest(), certificate)
    if len(found) > MAX_CERTIFICATES:
        raise CmsRefused(Reason.MALFORMED, f"more than {MAX_CERTIFICATES} certificates")
    return list(found.values())


def _signer_certificate(
    sid: cms.SignerIdentifier, pool: list[x509.Certificate]
) -> x509.Certificate | None:
    for certificate in pool:
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if (
                certificate.serial_number == wanted["serial_number"].native
                and certificate.issuer == wanted["issuer"]
            ):
                return certificate
        elif certificate.key_identifier is not None and (
            certificate.key_identifier == sid.chosen.native
        ):
            return certificate
    return None


def _signed_attributes(signer_info: cms.SignerInfo) -> dict[str, list[object]]:
    signed_attrs = signer_info["signed_attrs"]
    if not signed_attrs.contents:
        raise CmsRefused(Reason.MALFORMED, "no signed attributes")
    attributes: dict[str, list[object]] = {}
    for attribute in signed_attrs:
        oid = attribute["type"].dotted
        if oid in attributes:  # RFC 5652 §5.3: each attribute type at most once
            raise CmsRefused(Reason.MALFORMED, f"the signed attribute {oid} is repeated")
        attributes[oid] = list(attribute["values"])
    return attributes


def _single(attributes: dict[str, list[object]], oid: str) -> core.Asn1Value | None:
    values = attributes.get(oid)
    if values is None:
        return None
    if len(values) != 1:
        raise CmsRefused(Reason.MALFORMED, f"the signed attribute {oid} has {len(values)} values")
    value = values[0]
    assert isinstance(value, core.Asn1Value)
    return value


def _matching_encoding(
    digest: object, digest_oid: str, message_digest: object, content: bytes
) -> str | None:
    assert callable(digest)
    if digest(digest_oid, content) == message_digest:
        return "binary"
    # The CryptoPro browser plug-in signs a JavaScript string as UTF-16LE unless told to
    # decode base64 first (CADESCOM_STRING_TO_UCS2LE is its default).
    try:
        wide = content.decode("utf-8").encode("utf-16-le")
    except UnicodeDecodeError:
        return None
    if digest(digest_oid, wide) == message_digest:
        return "utf-16le"
    return None


def _signing_time(attributes: dict[str, list[object]]) -> datetime | None:
    value = _single(attributes, SIGNING_TIME)
    if value is None:
        return None
    moment = value.native
    if not isinstance(moment, datetime):
        raise CmsRefused(Reason.MALFORMED, "a signingTime that is not a time")
    return moment


def _check_ess_binding(
    attributes: dict[str, list[object]], signer: x509.Certificate, algorithms: Algorithms
) -> None:
    """RFC 2634 §5.4 / RFC 5035: the first ESSCertID names the signer's certificate. Another
    certificate with the same key (a swapped one) does not match its hash."""
    for oid in (SIGNING_CERTIFICATE, SIGNING_CERTIFICATE_V2):
        value = _single(attributes, oid)
        if value is None:
            continue
        certs = value["certs"]
        if len(certs) == 0:
            raise CmsRefused(Reason.MALFORMED, "an empty signingCertificate attribute")
        first = certs[0]
        if oid == SIGNING_CERTIFICATE:
            # ESS v1 hashes with SHA-1 by definition; here it identifies, it does not sign.
            expected = hashlib.sha1(signer.dump(), usedforsecurity=False).digest()
        else:
            hash_oid = first["hash_algorithm"]["algorithm"].dotted
            hasher = algorithms.for_digest(hash_oid)
            if hasher is None:
                raise CmsRefused(Reason.UNKNOWN_ALGORITHM, f"certificate hash {hash_oid}")
            expected = hasher.digest(hash_oid, signer.dump())
        if first["cert_hash"].native != expected:
            raise CmsRefused(Reason.BAD_SIGNATURE, "the signed attributes name another certificate")
        issuer_serial = first["issuer_serial"]
        if issuer_serial.native is not None and (
            issuer_serial["serial_number"].native != signer.serial_number
        ):
            raise CmsRefused(Reason.BAD_SIGNATURE, "the signed attributes name another certificate")


def _as_set(contents: bytes) -> bytes:
    return b"\x31" + _length(len(contents)) + contents


def _length(size: int) -> bytes:
    if size < 0x80:
        return bytes([size])
    encoded = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(encoded)]) + encoded
