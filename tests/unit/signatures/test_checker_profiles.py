"""The profiles' stricter rules: each bound to the trust lists of its legal framework, an
identity attribute named twice refused, and an EU qualified signature needing QcSSCD."""

from __future__ import annotations

import pytest
from asn1crypto import core
from asn1crypto import x509 as asn1_x509

from idp.signatures.dev import pki
from idp.signatures.profiles.eu_eidas import QC_COMPLIANCE, QC_STATEMENTS, QcStatements
from idp.signatures.profiles.ru_fsb795 import INN, SNILS
from idp.signatures.result import Reason
from tests.support.signature_kit import (
    CONTENT,
    anchor,
    checker,
    person,
    resigned,
    root,
    run,
    verify_with,
)


def eidas_person() -> pki.Issued:
    return person("p256", profile="eidas", person_id="PNOEE-38001085718", snils=None, inn=None)


@pytest.mark.parametrize(
    ("kind", "qualified"),
    [("ru-accredited", True), ("certificates", True), ("dev", True), ("etsi-tsl", False)],
)
def test_the_russian_profile_qualifies_only_under_its_lists(kind: str, qualified: bool) -> None:
    der = pki.sign_cms(CONTENT, person("p256"))
    result = run(verify_with(checker(anchor(root("p256"), source_kind=kind)), der))
    if qualified:
        assert result.ok, result
        assert result.qualification is not None
        assert result.qualification.profile == "ru-fsb795"
    else:
        assert result.reason is Reason.NOT_QUALIFIED, result


@pytest.mark.parametrize(
    ("kind", "qualified"),
    [("etsi-tsl", True), ("certificates", True), ("dev", True), ("ru-accredited", False)],
)
def test_the_eu_profile_qualifies_only_under_its_lists(kind: str, qualified: bool) -> None:
    der = pki.sign_cms(CONTENT, eidas_person())
    result = run(verify_with(checker(anchor(root("p256"), source_kind=kind)), der))
    if qualified:
        assert result.ok, result
        assert result.qualification is not None
        assert result.qualification.profile == "eu-eidas"
    else:
        assert result.reason is Reason.NOT_QUALIFIED, result


def _utf8(value: str) -> asn1_x509.DirectoryString:
    return asn1_x509.DirectoryString(name="utf8_string", value=value)


@pytest.mark.parametrize(
    ("oid", "value", "named"),
    [
        (SNILS, core.NumericString("11223344600"), "SNILS"),
        (SNILS, core.NumericString("11223344595"), "SNILS"),  # the same number twice too
        (INN, core.NumericString("500100732260"), "INN"),
        ("2.5.4.4", _utf8("Петрова"), "surname"),
        ("2.5.4.42", _utf8("Анна"), "givenName"),
    ],
)
def test_an_identity_attribute_named_twice_is_not_qualified(
    oid: str, value: object, named: str
) -> None:
    signer = resigned(person("p256"), root("p256"), extra_subject=((oid, value),))
    result = run(verify_with(checker(), pki.sign_cms(CONTENT, signer)))
    assert result.reason is Reason.NOT_QUALIFIED, result
    assert named in result.detail
    assert not any(c.isdigit() for c in result.detail), result.detail
    assert "Петрова" not in result.detail


def test_two_eu_person_identifiers_are_not_qualified() -> None:
    extra = (("2.5.4.5", asn1_x509.DirectoryString(name="printable_string", value="PNOEE-1")),)
    signer = resigned(eidas_person(), root("p256"), extra_subject=extra)
    result = run(verify_with(checker(), pki.sign_cms(CONTENT, signer)))
    assert result.reason is Reason.NOT_QUALIFIED, result
    assert "serialNumber" in result.detail


def test_an_eu_certificate_without_qcsscd_is_not_qualified_for_a_signature() -> None:
    statements = QcStatements([{"statement_id": QC_COMPLIANCE}]).dump()
    signer = resigned(
        eidas_person(),
        root("p256"),
        drop={QC_STATEMENTS},
        add=(pki._raw_ext(QC_STATEMENTS, statements),),
    )
    result = run(verify_with(checker(), pki.sign_cms(CONTENT, signer)))
    assert result.reason is Reason.NOT_QUALIFIED, result


def test_an_eu_signature_names_its_evidence() -> None:
    result = run(verify_with(checker(), pki.sign_cms(CONTENT, eidas_person())))
    assert result.ok, result
    assert result.qualification is not None
    assert {"QcCompliance", "QcSSCD", "QcType:esign"} <= set(result.qualification.evidence)
