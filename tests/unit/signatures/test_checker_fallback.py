"""An OCSP answer that was fetched but does not settle the certificate's status (unknown, stale,
about another certificate): the checker fetches the CRL as well, and tells the source to forget
the answer it rejected so that the cache does not serve it again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from idp.signatures.dev import pki
from idp.signatures.result import Reason
from tests.support.signature_kit import (
    CONTENT,
    Recording,
    anchor,
    checker,
    person,
    root,
    run,
    verify_with,
)

OCSP_URL = "http://ocsp.test/"
CRL_URL = "http://crl.test/person.crl"


def unsettling(kind: str, signer: pki.Issued) -> bytes:
    issuer = root("p256")
    now = datetime.now(UTC)
    if kind == "unknown":
        return pki.make_ocsp_response(issuer, signer.certificate, revoked_at=None, unknown=True)
    if kind == "stale":
        return pki.make_ocsp_response(
            issuer,
            signer.certificate,
            revoked_at=None,
            this_update=now - timedelta(days=3),
            next_update=now - timedelta(days=2),
        )
    other = person("p256", snils="11223344600")
    return pki.make_ocsp_response(issuer, other.certificate, revoked_at=None)


@pytest.mark.parametrize("kind", ["unknown", "stale", "another certificate"])
@pytest.mark.parametrize("revoked", [False, True])
def test_an_unsettling_ocsp_answer_falls_back_to_the_crl(kind: str, revoked: bool) -> None:
    signer = person("p256", ocsp_url=OCSP_URL, crl_url=CRL_URL)
    listed = [(signer.serial, datetime.now(UTC) - timedelta(hours=1))] if revoked else []
    source = Recording(
        crls={CRL_URL: pki.make_crl(root("p256"), listed)},
        ocsps={OCSP_URL: unsettling(kind, signer)},
    )
    der = pki.sign_cms(CONTENT, signer)
    result = run(verify_with(checker(anchor(root("p256")), revocation=source), der))
    if revoked:
        assert result.reason is Reason.REVOKED, result
    else:
        assert result.ok, result
    assert source.asked == [OCSP_URL, CRL_URL]
    assert source.forgotten == [OCSP_URL]


def test_a_good_ocsp_answer_needs_no_crl() -> None:
    signer = person("p256", ocsp_url=OCSP_URL, crl_url=CRL_URL)
    good = pki.make_ocsp_response(root("p256"), signer.certificate, revoked_at=None)
    source = Recording(crls={}, ocsps={OCSP_URL: good})
    result = run(
        verify_with(checker(anchor(root("p256")), revocation=source), pki.sign_cms(CONTENT, signer))
    )
    assert result.ok, result
    assert source.asked == [OCSP_URL]
    assert source.forgotten == []


def test_a_stale_crl_alone_is_unavailable_and_forgotten() -> None:
    signer = person("p256", ocsp_url=None, crl_url=CRL_URL)
    now = datetime.now(UTC)
    stale = pki.make_crl(
        root("p256"), [], this_update=now - timedelta(days=3), next_update=now - timedelta(days=2)
    )
    source = Recording(crls={CRL_URL: stale})
    result = run(
        verify_with(checker(anchor(root("p256")), revocation=source), pki.sign_cms(CONTENT, signer))
    )
    assert result.reason is Reason.REVOCATION_UNAVAILABLE, result
    assert source.forgotten == [CRL_URL]
