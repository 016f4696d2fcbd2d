"""Detached CMS SignedData (RFC 5652) made by the kit, with CAdES-BES signed attributes:
contentType, messageDigest, signingTime and ESS signingCertificateV2 (RFC 5035; its certHash
with the signature's digest, so Streebog for GOST as CryptoPro and ``openssl cms -cades`` do).

Tests make broken signatures with the same code: ``signed_attrs_override`` rewrites the
attributes before they are signed (a wrong messageDigest, one left out), ``tamper`` breaks the
result after signing ("signed_attrs": the signed signingTime moved by a second, so only the
signature fails; "signature": one bit flipped), and :func:`signed_data` returns the asn1crypto
structure to change by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

# tsp registers signingCertificateV2 with cms.CMSAttribute.
from asn1crypto import cms, tsp, x509  # noqa: F401

from idp.signatures.dev import keys
from idp.signatures.dev.keys import DIGEST_OIDS, Issued

Attributes = list[dict[str, Any]]
Tamper = Literal["signed_attrs", "signature"]


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def signed_attributes(
    content: bytes,
    signer: Issued,
    *,
    digest: str,
    signing_time: datetime | None,
    signing_certificate_v2: bool,
) -> Attributes:
    certificate = signer.parsed
    attributes: Attributes = [
        {"type": "content_type", "values": ["data"]},
        {"type": "message_digest", "values": [keys.digest(digest, content)]},
    ]
    if signing_time is not None:
        attributes.append({"type": "signing_time", "values": [_time(signing_time)]})
    if signing_certificate_v2:
        ess_cert_id = {
            "hash_algorithm": {"algorithm": DIGEST_OIDS[digest]},
            "cert_hash": keys.digest(digest, signer.certificate),
            "issuer_serial": {
                "issuer": [x509.GeneralName(name="directory_name", value=certificate.issuer)],
                "serial_number": certificate.serial_number,
            },
        }
        attributes.append({"type": "signing_certificate_v2", "values": [{"certs": [ess_cert_id]}]})
    return attributes


def _time(moment: datetime) -> cms.Time:
    moment = moment.astimezone(UTC)
    if moment.year < 2050:
        return cms.Time(name="utc_time", value=moment)
    return cms.Time(name="general_time", value=moment)


def signed_data(
    content: bytes,
    signer: Issued,
    *,
    chain: Sequence[bytes] = (),
    signing_time: datetime | Literal["now"] | None = "now",
    include_certificate: bool = True,
    signing_certificate_v2: bool = True,
    digest: str | None = None,
    signed_attrs_override: Callable[[Attributes], Attributes] | None = None,
    tamper: Tamper | None = None,
) -> cms.SignedData:
    """The SignedData (asn1crypto) of a detached signature over ``content`` by ``signer``.
    ``chain``: more certificates to include (DER); ``digest``: sha256/sha384/sha512 or
    streebog256/streebog512 (default: SHA-256, or the GOST key's Streebog)."""
    key = keys.private_key(signer)
    digest_name = digest or keys.default_digest(key)
    attributes = signed_attributes(
        content,
        signer,
        digest=digest_name,
        signing_time=_now() if signing_time == "now" else signing_time,
        signing_certificate_v2=signing_certificate_v2,
    )
    if signed_attrs_override is not None:
        attributes = signed_attrs_override(attributes)
    signed_attrs = cms.CMSAttributes(attributes)
    # RFC 5652 §5.4: the signature covers the attributes' DER with the SET OF tag.
    signature = keys.sign(key, signed_attrs.dump(), digest_name)
    if tamper == "signature":
        signature = signature[:-1] + bytes([signature[-1] ^ 1])
    elif tamper == "signed_attrs":
        signed_attrs = cms.CMSAttributes(_moved_signing_time(attributes))
    certificate = signer.parsed
    digest_algorithm = {"algorithm": DIGEST_OIDS[digest_name]}
    signer_info = {
        "version": "v1",
        "sid": cms.SignerIdentifier(
            name="issuer_and_serial_number",
            value={"issuer": certificate.issuer, "serial_number": certificate.serial_number},
        ),
        "digest_algorithm": digest_algorithm,
        "signed_attrs": signed_attrs,
        "signature_algorithm": keys.cms_signature_algorithm(key, digest_name),
        "signature": signature,
    }
    certificates = [signer.certificate] if include_certificate else []
    certificates += list(chain)
    return cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [digest_algorithm],
            "encap_content_info": {"content_type": "data"},
            "certificates": [x509.Certificate.load(c) for c in certificates] or None,
            "signer_infos": [signer_info],
        }
    )


def _moved_signing_time(attributes: Attributes) -> Attributes:
    """The attributes with signingTime a second later (added when absent): they still parse and
    the digest still matches the content, only the signature over them fails."""
    moved = [a for a in attributes if a["type"] != "signing_time"]
    times = [a["values"][0] for a in attributes if a["type"] == "signing_time"]
    base = times[0].native if times else _now()
    moved.append({"type": "signing_time", "values": [_time(base + timedelta(seconds=1))]})
    return moved


def content_info(signed: cms.SignedData) -> bytes:
    """The DER ContentInfo wrapping ``signed``."""
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump())


def sign_cms(
    content: bytes,
    signer: Issued,
    *,
    chain: Sequence[bytes] = (),
    signing_time: datetime | Literal["now"] | None = "now",
    include_certificate: bool = True,
    signing_certificate_v2: bool = True,
    digest: str | None = None,
    signed_attrs_override: Callable[[Attributes], Attributes] | None = None,
    tamper: Tamper | None = None,
) -> bytes:
    """A detached CMS signature (DER ContentInfo) over ``content`` by ``signer``."""
    signed = signed_data(
        content,
        signer,
        chain=chain,
        signing_time=signing_time,
        include_certificate=include_certificate,
        signing_certificate_v2=signing_certificate_v2,
        digest=digest,
        signed_attrs_override=signed_attrs_override,
        tamper=tamper,
    )
    return content_info(signed)
