"""Interoperability with OpenSSL's GOST engine: a CA, a user certificate and a CAdES-BES
detached CMS (``openssl cms -sign -cades``: Streebog-256 signingCertificateV2, the attribute
pyHanko cannot check) all made by ``openssl ... -engine gost`` (tests/support/pki.py), verified
by the checker with that CA as the only anchor. Revocation: the user certificate names a CRL
distribution point and the CRL is the CA's own, signed with the key OpenSSL made."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import cms, tsp

from idp.signatures.algorithms.gost import STREEBOG_256
from idp.signatures.cms import SIGNING_CERTIFICATE_V2
from idp.signatures.dev import pki
from idp.signatures.result import Reason, Verification
from tests.support.pki import OpenSSLGostMaterial, openssl_gost_material
from tests.support.signature_kit import CrlsInMemory, anchor, checker, run, verify_with

_ = tsp  # registers signingCertificateV2 with asn1crypto's CMS
CRL_URL = "http://127.0.0.1:9/openssl-gost.crl"


def verify(
    material: OpenSSLGostMaterial, *, crl: bytes | None = None, content: bytes | None = None
) -> Verification:
    revocation = CrlsInMemory({CRL_URL: crl if crl is not None else material.crl})
    return run(
        verify_with(
            checker(anchor(material.ca), revocation=revocation),
            material.signature,
            content=material.content if content is None else content,
        )
    )


def test_openssl_cades_signature_passes_with_identity(tmp_path: Path) -> None:
    material = openssl_gost_material(tmp_path, crl_url=CRL_URL)
    attributes = cms.ContentInfo.load(material.signature)["content"]["signer_infos"][0][
        "signed_attrs"
    ]
    ess = [a for a in attributes if a["type"].dotted == SIGNING_CERTIFICATE_V2]
    assert ess, "openssl -cades writes signingCertificateV2"
    hash_oid = ess[0]["values"][0]["certs"][0]["hash_algorithm"]["algorithm"].dotted
    assert hash_oid == STREEBOG_256
    result = verify(material)
    assert result.ok, result
    assert result.algorithm == "gost2012-256"
    assert result.identity is not None
    assert result.identity.snils == material.snils
    assert result.identity.surname == material.surname
    assert result.identity.given_names == material.given_names
    assert result.qualification is not None
    assert result.qualification.profile == "ru-fsb795"
    assert result.serial == format(4242, "x")


def test_openssl_signature_over_other_content_is_refused(tmp_path: Path) -> None:
    material = openssl_gost_material(tmp_path, crl_url=CRL_URL)
    assert verify(material, content=b"another challenge").reason is Reason.DIGEST_MISMATCH


def test_openssl_certificate_on_the_crl_is_revoked(tmp_path: Path) -> None:
    material = openssl_gost_material(tmp_path, crl_url=CRL_URL)
    crl = pki.make_crl(material.ca, [(4242, datetime.now(UTC) - timedelta(hours=1))])
    assert verify(material, crl=crl).reason is Reason.REVOKED


def test_without_a_crl_pointer_only_accept_lets_it_through(tmp_path: Path) -> None:
    material = openssl_gost_material(tmp_path)  # no CRL distribution point
    closed = run(
        verify_with(checker(anchor(material.ca)), material.signature, content=material.content)
    )
    assert closed.reason is Reason.REVOCATION_UNAVAILABLE, closed
    opened = run(
        verify_with(
            checker(anchor(material.ca), revocation_unavailable="accept"),
            material.signature,
            content=material.content,
        )
    )
    assert opened.ok, opened
