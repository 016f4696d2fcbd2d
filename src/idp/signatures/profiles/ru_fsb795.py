"""The Russian qualified certificate (63-FZ art. 17, FSB order 795 as amended by order 31 of
2021): the holder's SNILS, INN, OGRN/OGRNIP and names in the subject; qualified when the path
ends at an accredited CA and the certificate names the signing tools (subjectSignTool,
issuerSignTool) the order requires, and names each identifying attribute once."""

from __future__ import annotations

from asn1crypto import x509

from idp.signatures.oids import (
    COMMON_NAME,
    COUNTRY,
    GIVEN_NAME,
    INN,
    INNLE,
    ISSUER_SIGN_TOOL,
    OGRN,
    OGRNIP,
    ORGANIZATION,
    SNILS,
    SUBJECT_SIGN_TOOL,
    SURNAME,
)
from idp.signatures.profiles.names import (
    extension_value,
    policy_oids,
    repeated,
    subject_values,
)
from idp.signatures.protocol import NotQualified, TrustedCA
from idp.signatures.result import Identity

TITLE = "2.5.4.12"
# Attributes that say who the holder is: each at most once (names.repeated).
_IDENTIFYING = {
    SNILS: "SNILS",
    INN: "INN",
    INNLE: "INNLE",
    OGRN: "OGRN",
    OGRNIP: "OGRNIP",
    SURNAME: "surname",
    GIVEN_NAME: "givenName",
}
# The trust lists whose CAs issue Russian qualified certificates: the accredited-CA list, and
# certificates an operator or dev mode added by hand. A CA on an EU trusted list does not.
SOURCE_KINDS = frozenset({"ru-accredited", "certificates", "dev"})
# Class of the holder's crypto tool, a certificate policy (order 795 §3).
SIGN_TOOL_CLASSES = {
    "1.2.643.100.113.1": "KC1",
    "1.2.643.100.113.2": "KC2",
    "1.2.643.100.113.3": "KC3",
    "1.2.643.100.113.4": "KB1",
    "1.2.643.100.113.5": "KB2",
    "1.2.643.100.113.6": "KA1",
}


def _digits(value: str | None, *lengths: int) -> str | None:
    if value is None:
        return None
    compact = value.replace(" ", "").replace("-", "")
    if compact.isascii() and compact.isdigit() and len(compact) in lengths:
        return compact
    return None


class RuFsb795Profile:
    name = "ru-fsb795"

    def identity(self, certificate: bytes) -> Identity | None:
        values = subject_values(x509.Certificate.load(certificate))
        inn = _digits(values.get(INN), 12)
        inn_le = _digits(values.get(INNLE), 10)
        # Before 2021 an organization's INN sat in the INN attribute padded to 12 digits.
        if inn is not None and inn.startswith("00"):
            inn_le, inn = inn_le or inn[2:], None
        identity = Identity(
            snils=_digits(values.get(SNILS), 11),
            inn=inn,
            inn_le=inn_le,
            ogrn=_digits(values.get(OGRN), 13),
            ogrnip=_digits(values.get(OGRNIP), 15),
            surname=values.get(SURNAME),
            given_names=values.get(GIVEN_NAME),
            common_name=values.get(COMMON_NAME),
            organization=values.get(ORGANIZATION),
            title=values.get(TITLE),
            country=values.get(COUNTRY),
        )
        if not (
            identity.snils or identity.inn or identity.inn_le or identity.ogrn or identity.ogrnip
        ):
            return None
        return identity

    def qualification(self, certificate: bytes, anchor: TrustedCA) -> tuple[str, ...] | None:
        parsed = x509.Certificate.load(certificate)
        if anchor.source_kind not in SOURCE_KINDS or self.identity(certificate) is None:
            return None
        twice = repeated(parsed, frozenset(_IDENTIFYING))
        if twice is not None:
            raise NotQualified(f"the subject names {_IDENTIFYING[twice]} more than once")
        if extension_value(parsed, SUBJECT_SIGN_TOOL) is None:
            return None
        if extension_value(parsed, ISSUER_SIGN_TOOL) is None:
            return None
        evidence = ["accredited-ca", "subjectSignTool", "issuerSignTool"]
        evidence += [
            f"class:{SIGN_TOOL_CLASSES[oid]}"
            for oid in policy_oids(parsed)
            if oid in SIGN_TOOL_CLASSES
        ]
        return tuple(evidence)
