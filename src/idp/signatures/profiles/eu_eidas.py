"""The EU qualified certificate for electronic signatures (eIDAS Annex I; ETSI EN 319 412-1, -2
and -5): qualified for a signature when its QCStatements declare QcCompliance and QcSSCD (a
qualified signature is made with a qualified signature creation device, eIDAS art. 3(12)) and,
where QcType is given, esign; its path must end at a CA from an EU trusted list (or one added by
hand, or dev mode's). The natural person's identifier is the subject's serialNumber with the
semantics of EN 319 412-1 §5.1.3 ("PNOEE-38001085718")."""

from __future__ import annotations

import re
from typing import ClassVar

from asn1crypto import core, x509

from idp.signatures.oids import (
    COMMON_NAME,
    COUNTRY,
    GIVEN_NAME,
    ORGANIZATION,
    PKIX_QC_SYNTAX_V2,
    QC_COMPLIANCE,
    QC_SSCD,
    QC_STATEMENTS,
    QC_TYPE,
    SEMANTICS_NATURAL,
    SURNAME,
)
from idp.signatures.profiles.names import extension_value, repeated, subject_values
from idp.signatures.protocol import NotQualified, TrustedCA
from idp.signatures.result import Identity

QC_TYPE_NAMES = {
    "0.4.0.1862.1.6.1": "esign",
    "0.4.0.1862.1.6.2": "eseal",
    "0.4.0.1862.1.6.3": "web",
}
SERIAL_NUMBER = "2.5.4.5"
SOURCE_KINDS = frozenset({"etsi-tsl", "certificates", "dev"})
_IDENTIFYING = {SERIAL_NUMBER: "serialNumber", SURNAME: "surname", GIVEN_NAME: "givenName"}
_PERSON_ID = re.compile(r"(PAS|IDC|PNO|TAX|TIN)[A-Z]{2}-\S+")


class QcStatement(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[tuple[object, ...]]] = [
        ("statement_id", core.ObjectIdentifier),
        ("statement_info", core.Any, {"optional": True}),
    ]


class QcStatements(core.SequenceOf):  # type: ignore[misc]
    _child_spec = QcStatement


class OidSequence(core.SequenceOf):  # type: ignore[misc]
    _child_spec = core.ObjectIdentifier


def qc_statements(certificate: x509.Certificate) -> dict[str, core.Any | None]:
    der = extension_value(certificate, QC_STATEMENTS)
    if der is None:
        return {}
    found: dict[str, core.Any | None] = {}
    for statement in QcStatements.load(der):
        info = statement["statement_info"]
        found[statement["statement_id"].dotted] = info if info.contents is not None else None
    return found


def _oids(info: core.Any | None) -> tuple[str, ...]:
    if info is None:
        return ()
    return tuple(oid.dotted for oid in OidSequence.load(info.dump()))


def _semantics(info: core.Any | None) -> str | None:
    if info is None:
        return None
    parsed = core.Sequence.load(info.dump())
    if len(parsed) and isinstance(parsed[0], core.ObjectIdentifier):
        return str(parsed[0].dotted)
    return None


class EuEidasProfile:
    name = "eu-eidas"

    def identity(self, certificate: bytes) -> Identity | None:
        parsed = x509.Certificate.load(certificate)
        statements = qc_statements(parsed)
        if not statements:
            return None
        values = subject_values(parsed)
        semantics = _semantics(statements.get(PKIX_QC_SYNTAX_V2))
        serial = values.get(SERIAL_NUMBER)
        person_id = None
        if serial and _PERSON_ID.fullmatch(serial) and semantics in (None, SEMANTICS_NATURAL):
            person_id = serial
        return Identity(
            surname=values.get(SURNAME),
            given_names=values.get(GIVEN_NAME),
            common_name=values.get(COMMON_NAME),
            organization=values.get(ORGANIZATION),
            country=values.get(COUNTRY),
            person_id=person_id,
        )

    def qualification(self, certificate: bytes, anchor: TrustedCA) -> tuple[str, ...] | None:
        if anchor.source_kind not in SOURCE_KINDS:
            return None
        parsed = x509.Certificate.load(certificate)
        statements = qc_statements(parsed)
        if QC_COMPLIANCE not in statements or QC_SSCD not in statements:
            return None
        evidence = ["QcCompliance", "QcSSCD"]
        if QC_TYPE in statements:
            types = [QC_TYPE_NAMES.get(oid, oid) for oid in _oids(statements[QC_TYPE])]
            if "esign" not in types:  # a seal or a website certificate signs for no person
                return None
            evidence += [f"QcType:{name}" for name in types]
        twice = repeated(parsed, frozenset(_IDENTIFYING))
        if twice is not None:
            raise NotQualified(f"the subject names {_IDENTIFYING[twice]} more than once")
        return tuple(evidence)
