"""A small PKI kit: CA and personal certificates, CRLs, OCSP responses and detached CMS
signatures, for RSA-2048, ECDSA P-256 and GOST R 34.10-2012 (256 and 512).

Dev mode's CA (:mod:`.ca`) and the tests use it. Everything is built with asn1crypto by the
same code for every algorithm (:mod:`.keys` signs), so the qualified-certificate markers are
byte for byte the same whatever the key:

- ``profile="ru"``: FSB order 795 (as amended by order 31 of 2021): subject SNILS and INN as
  NumericString, SN, GN ("given name and patronymic"), CN, C=RU (optionally OGRN, INNLE,
  OGRNIP, O, T); subjectSignTool, issuerSignTool, the KC1 class policy.
- ``profile="eidas"``: ETSI EN 319 412-1/-5: subject serialNumber with PNO semantics,
  surname, givenName; QCStatements QcCompliance, QcSSCD, QcType esign and the natural-person
  semantics identifier.
- ``profile="plain"``: none of these (a certificate that is not qualified).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

from asn1crypto import core, crl, ocsp, x509
from asn1crypto import keys as asn1_keys

from idp.signatures.dev import keys
from idp.signatures.dev.cms import sign_cms, signed_data
from idp.signatures.dev.gost_pki import GostCurve
from idp.signatures.dev.keys import KEY_ALGOS, Issued, KeyAlgo, PrivateKey
from idp.signatures.oids import (
    INN,
    INNLE,
    ISSUER_SIGN_TOOL,
    OGRN,
    OGRNIP,
    PKIX_QC_SYNTAX_V2,
    QC_COMPLIANCE,
    QC_SSCD,
    QC_STATEMENTS,
    QC_TYPE,
    SEMANTICS_NATURAL,
    SNILS,
    SUBJECT_SIGN_TOOL,
)

__all__ = [
    "KEY_ALGOS",
    "Issued",
    "KeyAlgo",
    "Profile",
    "make_crl",
    "make_intermediate",
    "make_ocsp_response",
    "make_person",
    "make_root",
    "ocsp_response",
    "sign_cms",
    "signed_data",
]

Profile = Literal["ru", "eidas", "plain"]
KeyUsageName = Literal[
    "digital_signature",
    "non_repudiation",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
]

KC1 = "1.2.643.100.113.1"
QC_TYPE_ESIGN = "0.4.0.1862.1.6.1"
QCP_N_QSCD = "0.4.0.194112.1.2"

DEFAULT_SIGN_TOOL = "idp dev kit"


class _IssuerSignTool(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("sign_tool", core.UTF8String),
        ("ca_tool", core.UTF8String),
        ("sign_tool_cert", core.UTF8String),
        ("ca_tool_cert", core.UTF8String),
    ]


class _Oids(core.SequenceOf):  # type: ignore[misc]
    _child_spec = core.ObjectIdentifier


class _SemanticsInformation(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("semantics_identifier", core.ObjectIdentifier, {"optional": True})
    ]


class _QcStatement(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("statement_id", core.ObjectIdentifier),
        ("statement_info", core.Any, {"optional": True}),
    ]


class _QcStatements(core.SequenceOf):  # type: ignore[misc]
    _child_spec = _QcStatement


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# --- names -----------------------------------------------------------------------------------


def _attr(oid: str, value: Any) -> x509.RelativeDistinguishedName:
    return x509.RelativeDistinguishedName([x509.NameTypeAndValue({"type": oid, "value": value})])


def _utf8(value: str) -> x509.DirectoryString:
    return x509.DirectoryString(name="utf8_string", value=value)


def _printable(value: str) -> x509.DirectoryString:
    return x509.DirectoryString(name="printable_string", value=value)


def _name(rdns: list[x509.RelativeDistinguishedName]) -> x509.Name:
    return x509.Name(name="", value=x509.RDNSequence(rdns))


def ca_name(name: str) -> x509.Name:
    return _name(
        [
            _attr("country_name", _printable("RU")),
            _attr("organization_name", _utf8(name)),
            _attr("common_name", _utf8(name)),
        ]
    )


def person_name(
    profile: Profile,
    *,
    snils: str | None,
    surname: str | None,
    given_names: str | None,
    inn: str | None = None,
    ogrn: str | None = None,
    innle: str | None = None,
    ogrnip: str | None = None,
    organization: str | None = None,
    title: str | None = None,
    person_id: str | None = None,
    country: str | None = None,
    common_name: str | None = None,
) -> x509.Name:
    full = common_name or " ".join(p for p in (surname, given_names) if p) or "Person"
    country = country or ("EE" if profile == "eidas" else "RU")
    rdns = [_attr("country_name", _printable(country))]
    if profile == "eidas":
        if person_id is not None:
            rdns.append(_attr("serial_number", _printable(person_id)))
    else:
        for oid, value in (
            (SNILS, snils),
            (INN, inn),
            (OGRN, ogrn),
            (INNLE, innle),
            (OGRNIP, ogrnip),
        ):
            if value is not None:
                rdns.append(_attr(oid, core.NumericString(value)))
    if organization is not None:
        rdns.append(_attr("organization_name", _utf8(organization)))
    if title is not None:
        rdns.append(_attr("title", _utf8(title)))
    if surname is not None:
        rdns.append(_attr("surname", _utf8(surname)))
    if given_names is not None:
        rdns.append(_attr("given_name", _utf8(given_names)))
    rdns.append(_attr("common_name", _utf8(full)))
    return _name(rdns)


# --- extensions ------------------------------------------------------------------------------


def _ext(oid: str, value: Any, *, critical: bool = False) -> x509.Extension:
    return x509.Extension({"extn_id": oid, "critical": critical, "extn_value": value})


def _raw_ext(oid: str, der: bytes, *, critical: bool = False) -> x509.Extension:
    """An extension whose value is given as DER. The kit's own extensions (795, QCStatements)
    go in this way: asn1crypto has no spec for them, or one registered by whoever imported
    pyHanko first, and loading keeps the bytes as they are either way."""
    parts = core.ObjectIdentifier(oid).dump()
    if critical:
        parts += core.Boolean(True).dump()
    parts += core.OctetString(der).dump()
    return x509.Extension.load(core.Sequence.load(b"\x30" + _der_length(len(parts)) + parts).dump())


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _key_id(spki_der: bytes) -> bytes:
    # RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's value.
    return hashlib.sha1(public_key_bits(spki_der)).digest()  # noqa: S324 - an identifier


def public_key_bits(spki_der: bytes) -> bytes:
    spki = core.Sequence.load(spki_der)
    bits: bytes = spki[1].contents[1:]  # drop the unused-bits byte
    return bits


def _revocation_pointers(crl_url: str | None, ocsp_url: str | None) -> list[x509.Extension]:
    out = []
    if crl_url is not None:
        out.append(
            _ext(
                "crl_distribution_points",
                [
                    {
                        "distribution_point": {
                            "full_name": [
                                x509.GeneralName(name="uniform_resource_identifier", value=crl_url)
                            ]
                        }
                    }
                ],
            )
        )
    if ocsp_url is not None:
        out.append(
            _ext(
                "authority_information_access",
                [
                    {
                        "access_method": "ocsp",
                        "access_location": x509.GeneralName(
                            name="uniform_resource_identifier", value=ocsp_url
                        ),
                    }
                ],
            )
        )
    return out


def _ru_extensions(sign_tool: str) -> list[x509.Extension]:
    issuer_tool = _IssuerSignTool(
        {
            "sign_tool": sign_tool,
            "ca_tool": "idp dev CA",
            "sign_tool_cert": "no certificate (development)",
            "ca_tool_cert": "no certificate (development)",
        }
    )
    return [
        _raw_ext(SUBJECT_SIGN_TOOL, core.UTF8String(sign_tool).dump()),
        _raw_ext(ISSUER_SIGN_TOOL, issuer_tool.dump()),
        _ext("certificate_policies", [{"policy_identifier": KC1}]),
    ]


def _eidas_extensions() -> list[x509.Extension]:
    statements = _QcStatements(
        [
            {"statement_id": QC_COMPLIANCE},
            {"statement_id": QC_SSCD},
            {"statement_id": QC_TYPE, "statement_info": _Oids([QC_TYPE_ESIGN])},
            {
                "statement_id": PKIX_QC_SYNTAX_V2,
                "statement_info": _SemanticsInformation(
                    {"semantics_identifier": SEMANTICS_NATURAL}
                ),
            },
        ]
    )
    return [
        _raw_ext(QC_STATEMENTS, statements.dump()),
        _ext("certificate_policies", [{"policy_identifier": QCP_N_QSCD}]),
    ]


# --- certificates ----------------------------------------------------------------------------


def _time(moment: datetime) -> x509.Time:
    moment = moment.astimezone(UTC)
    # RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
    if moment.year < 2050:
        return x509.Time(name="utc_time", value=moment)
    return x509.Time(name="general_time", value=moment)


def _issue(
    *,
    issuer_key: PrivateKey,
    issuer_name: x509.Name,
    issuer_spki: bytes,
    subject_name: x509.Name,
    subject_key: PrivateKey,
    algo: KeyAlgo,
    not_before: datetime,
    not_after: datetime,
    extensions: list[x509.Extension],
    serial: int | None = None,
) -> Issued:
    spki = keys.public_key_info(subject_key)
    extensions = [
        *extensions,
        _ext("key_identifier", _key_id(spki)),
        _ext("authority_key_identifier", {"key_identifier": _key_id(issuer_spki)}),
    ]
    signature_algorithm = keys.signature_algorithm(issuer_key)
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial if serial is not None else secrets.randbits(126) + 1,
            "signature": signature_algorithm,
            "issuer": issuer_name,
            "validity": {"not_before": _time(not_before), "not_after": _time(not_after)},
            "subject": subject_name,
            "subject_public_key_info": asn1_keys.PublicKeyInfo.load(spki),
            "extensions": extensions,
        }
    )
    certificate = x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": signature_algorithm,
            "signature_value": keys.sign(issuer_key, tbs.dump()),
        }
    )
    return Issued(certificate.dump(), subject_key, algo)


def _key_usage(names: Sequence[str]) -> x509.Extension:
    return _ext("key_usage", set(names), critical=True)


def make_root(
    name: str,
    algo: KeyAlgo,
    *,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    gost_curve: GostCurve | None = None,
) -> Issued:
    """A self-signed root CA."""
    key = keys.new_key(algo, gost_curve=gost_curve)
    subject = ca_name(name)
    spki = keys.public_key_info(key)
    start = not_before or now() - timedelta(days=1)
    return _issue(
        issuer_key=key,
        issuer_name=subject,
        issuer_spki=spki,
        subject_name=subject,
        subject_key=key,
        algo=algo,
        not_before=start,
        not_after=not_after or start + timedelta(days=3650),
        extensions=[
            _ext("basic_constraints", {"ca": True}, critical=True),
            _key_usage(("digital_signature", "key_cert_sign", "crl_sign")),
        ],
    )


def make_intermediate(
    issuer: Issued,
    name: str,
    algo: KeyAlgo,
    *,
    crl_url: str | None = None,
    ocsp_url: str | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    gost_curve: GostCurve | None = None,
) -> Issued:
    """A CA certificate issued by ``issuer`` that may issue end-entity certificates only.
    ``crl_url``/``ocsp_url`` are where the issuer publishes this certificate's status."""
    key = keys.new_key(algo, gost_curve=gost_curve)
    start = not_before or now() - timedelta(days=1)
    return _issue(
        issuer_key=keys.private_key(issuer),
        issuer_name=issuer.parsed.subject,
        issuer_spki=issuer.parsed.public_key.dump(),
        subject_name=ca_name(name),
        subject_key=key,
        algo=algo,
        not_before=start,
        not_after=not_after or start + timedelta(days=1825),
        extensions=[
            _ext("basic_constraints", {"ca": True, "path_len_constraint": 0}, critical=True),
            _key_usage(("digital_signature", "key_cert_sign", "crl_sign")),
            *_revocation_pointers(crl_url, ocsp_url),
        ],
    )


def make_person(
    issuer: Issued,
    algo: KeyAlgo,
    *,
    profile: Profile = "ru",
    snils: str | None = None,
    surname: str | None = None,
    given_names: str | None = None,
    inn: str | None = None,
    ogrn: str | None = None,
    innle: str | None = None,
    ogrnip: str | None = None,
    organization: str | None = None,
    title: str | None = None,
    person_id: str | None = None,
    common_name: str | None = None,
    crl_url: str | None = None,
    ocsp_url: str | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    key_usage: Sequence[KeyUsageName] = ("digital_signature", "non_repudiation"),
    sign_tool: str = DEFAULT_SIGN_TOOL,
    gost_curve: GostCurve | None = None,
    key: PrivateKey | None = None,
    serial: int | None = None,
) -> Issued:
    """A person's signing certificate issued by ``issuer`` under ``profile``. ``person_id`` is
    the eIDAS serialNumber (``PNOEE-38001085718``); ``key`` reuses a key (default: a new one)."""
    subject_key = key if key is not None else keys.new_key(algo, gost_curve=gost_curve)
    start = not_before or now() - timedelta(days=1)
    extensions = [_key_usage(key_usage), *_revocation_pointers(crl_url, ocsp_url)]
    if profile == "ru":
        extensions += _ru_extensions(sign_tool)
    elif profile == "eidas":
        extensions += _eidas_extensions()
    return _issue(
        issuer_key=keys.private_key(issuer),
        issuer_name=issuer.parsed.subject,
        issuer_spki=issuer.parsed.public_key.dump(),
        subject_name=person_name(
            profile,
            snils=snils,
            surname=surname,
            given_names=given_names,
            inn=inn,
            ogrn=ogrn,
            innle=innle,
            ogrnip=ogrnip,
            organization=organization,
            title=title,
            person_id=person_id,
            common_name=common_name,
        ),
        subject_key=subject_key,
        algo=algo,
        not_before=start,
        not_after=not_after or start + timedelta(days=365),
        extensions=extensions,
        serial=serial,
    )


# --- CRLs ------------------------------------------------------------------------------------


def make_crl(
    issuer: Issued,
    revoked: Sequence[tuple[int, datetime]],
    *,
    this_update: datetime | None = None,
    next_update: datetime | None = None,
    number: int = 1,
) -> bytes:
    """A DER CRL (v2) of ``issuer`` listing ``revoked`` (serial, revocation time)."""
    start = this_update or now()
    key = keys.private_key(issuer)
    signature_algorithm = keys.signature_algorithm(key)
    entries = [{"user_certificate": serial, "revocation_date": _time(at)} for serial, at in revoked]
    tbs = crl.TbsCertList(
        {
            "version": "v2",
            "signature": signature_algorithm,
            "issuer": issuer.parsed.subject,
            "this_update": _time(start),
            "next_update": _time(next_update or start + timedelta(days=1)),
            "revoked_certificates": entries or None,
            "crl_extensions": [
                {
                    "extn_id": "authority_key_identifier",
                    "critical": False,
                    "extn_value": {"key_identifier": _key_id(issuer.parsed.public_key.dump())},
                },
                {"extn_id": "crl_number", "critical": False, "extn_value": number},
            ],
        }
    )
    return bytes(
        crl.CertificateList(
            {
                "tbs_cert_list": tbs,
                "signature_algorithm": signature_algorithm,
                "signature": keys.sign(key, tbs.dump()),
            }
        ).dump()
    )


# --- OCSP ------------------------------------------------------------------------------------


def cert_id(issuer: Issued, serial: int) -> ocsp.CertId:
    """The CertID (SHA-1, as most clients ask) of ``serial`` under ``issuer``."""
    parsed = issuer.parsed
    return ocsp.CertId(
        {
            "hash_algorithm": {"algorithm": "sha1"},
            "issuer_name_hash": hashlib.sha1(parsed.subject.dump()).digest(),  # noqa: S324 - RFC 6960
            "issuer_key_hash": hashlib.sha1(public_key_bits(parsed.public_key.dump())).digest(),  # noqa: S324
            "serial_number": serial,
        }
    )


def ocsp_response(
    issuer: Issued,
    request_cert_id: ocsp.CertId,
    *,
    status: Literal["good", "revoked", "unknown"],
    revoked_at: datetime | None = None,
    this_update: datetime | None = None,
    next_update: datetime | None = None,
    nonce: bytes | None = None,
) -> bytes:
    """A DER OCSPResponse (successful, basic) signed by ``issuer`` itself for the CertID asked
    about (echoed as asked, whatever its hash algorithm)."""
    start = this_update or now()
    key = keys.private_key(issuer)
    signature_algorithm = keys.signature_algorithm(key)
    if status == "revoked":
        cert_status = ocsp.CertStatus(
            name="revoked", value={"revocation_time": revoked_at or start}
        )
    else:
        cert_status = ocsp.CertStatus(name=status, value=core.Null())
    extensions = [] if nonce is None else [{"extn_id": "nonce", "extn_value": nonce}]
    data = ocsp.ResponseData(
        {
            "responder_id": ocsp.ResponderId(
                name="by_key", value=_key_id(issuer.parsed.public_key.dump())
            ),
            "produced_at": start,
            "responses": [
                {
                    "cert_id": request_cert_id,
                    "cert_status": cert_status,
                    "this_update": start,
                    "next_update": next_update or start + timedelta(hours=1),
                }
            ],
            "response_extensions": extensions or None,
        }
    )
    basic = ocsp.BasicOCSPResponse(
        {
            "tbs_response_data": data,
            "signature_algorithm": signature_algorithm,
            "signature": keys.sign(key, data.dump()),
        }
    )
    return bytes(
        ocsp.OCSPResponse(
            {
                "response_status": "successful",
                "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
            }
        ).dump()
    )


def make_ocsp_response(
    issuer: Issued,
    certificate: bytes,
    *,
    revoked_at: datetime | None,
    this_update: datetime | None = None,
    next_update: datetime | None = None,
    unknown: bool = False,
    nonce: bytes | None = None,
) -> bytes:
    """A DER OCSPResponse about ``certificate`` (DER): revoked at ``revoked_at`` when given,
    else good (or unknown)."""
    serial = int(x509.Certificate.load(certificate).serial_number)
    status: Literal["good", "revoked", "unknown"] = (
        "unknown" if unknown else "revoked" if revoked_at is not None else "good"
    )
    return ocsp_response(
        issuer,
        cert_id(issuer, serial),
        status=status,
        revoked_at=revoked_at,
        this_update=this_update,
        next_update=next_update,
        nonce=nonce,
    )
