"""A second opinion: for RSA-2048 and P-256 signatures, idp's verdict agrees with pyHanko's
``async_validate_detached_cms`` (research notes §A2.1) given the same trust roots and CRLs:
good, tampered content, tampered signed attributes, an untrusted root, a revoked certificate.
pyHanko cannot judge GOST (its CMS layer hashes with ``cryptography`` only), so GOST is not
compared here; OpenSSL's GOST engine is the second opinion there (test_checker_openssl.py)."""

from __future__ import annotations

import asyncio
from typing import Literal

import pytest
from asn1crypto import cms, x509
from pyhanko.sign.validation import async_validate_detached_cms
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy

from idp.signatures.dev import pki
from idp.signatures.result import Reason, Verification
from tests.support.signature_kit import CONTENT, CRL_URL, checker, crls, person, root, verify_with

Case = Literal["good", "tampered_content", "tampered_signed_attrs", "untrusted_root", "revoked"]
CASES: tuple[Case, ...] = (
    "good",
    "tampered_content",
    "tampered_signed_attrs",
    "untrusted_root",
    "revoked",
)


def family(reason: Reason | None) -> str:
    if reason is None:
        return "ok"
    if reason in (Reason.DIGEST_MISMATCH, Reason.BAD_SIGNATURE):
        return "integrity"
    return reason.value


async def pyhanko_verdict(signature: bytes, content: bytes, algo: pki.KeyAlgo, crl: bytes) -> str:
    context = ValidationContext(
        trust_roots=[x509.Certificate.load(root(algo).certificate)],
        crls=[crl],
        allow_fetching=False,
        revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
    )
    status = await async_validate_detached_cms(
        content,
        cms.ContentInfo.load(signature)["content"],
        signer_validation_context=context,
        key_usage_settings=KeyUsageConstraints(
            key_usage={"digital_signature", "non_repudiation"}, match_all_key_usages=False
        ),
    )
    if not (status.intact and status.valid):
        return "integrity"
    if status.revoked:
        return "revoked"
    if not status.trusted:
        return "untrusted"
    return "ok"


def make_case(algo: pki.KeyAlgo, case: Case) -> tuple[bytes, bytes, dict[pki.KeyAlgo, list[int]]]:
    """(signature, content given to the verifiers, serials revoked on the CRLs)."""
    if case == "untrusted_root":
        stranger = pki.make_root("Stranger", algo)
        return pki.sign_cms(CONTENT, person(algo, issuer=stranger)), CONTENT, {}
    signer = person(algo)
    if case == "tampered_content":
        return pki.sign_cms(CONTENT, signer), CONTENT + b"!", {}
    if case == "tampered_signed_attrs":
        return pki.sign_cms(CONTENT, signer, tamper="signed_attrs"), CONTENT, {}
    if case == "revoked":
        return pki.sign_cms(CONTENT, signer), CONTENT, {algo: [signer.serial]}
    return pki.sign_cms(CONTENT, signer), CONTENT, {}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("algo", ["rsa2048", "p256"])
def test_idp_agrees_with_pyhanko(algo: pki.KeyAlgo, case: Case) -> None:
    signature, content, revoked = make_case(algo, case)
    revocation = crls(revoked)
    ours: Verification = asyncio.run(
        verify_with(checker(revocation=revocation), signature, content=content)
    )
    theirs = asyncio.run(
        pyhanko_verdict(signature, content, algo, revocation.crls[CRL_URL.format(algo)])
    )
    assert family(ours.reason) == theirs, (ours, theirs)
    expected = {
        "good": "ok",
        "tampered_content": "integrity",
        "tampered_signed_attrs": "integrity",
        "untrusted_root": "untrusted",
        "revoked": "revoked",
    }[case]
    assert theirs == expected  # both agreeing on a wrong verdict would not do
