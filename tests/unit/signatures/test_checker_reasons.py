"""Every Reason the checker gives, from a real signature made with the dev PKI kit."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from idp.clock import FrozenClock
from idp.signatures.dev import pki
from idp.signatures.result import Reason
from tests.support.signature_kit import (
    CONTENT,
    anchor,
    checker,
    crls,
    person,
    root,
    run,
    verify_with,
    without_key_usage,
)

ALGOS: tuple[pki.KeyAlgo, ...] = ("rsa2048", "p256", "gost256", "gost512")


@pytest.mark.parametrize("algo", ALGOS)
def test_a_qualified_signature_passes_with_identity(algo: pki.KeyAlgo) -> None:
    signer = person(algo)
    result = run(verify_with(checker(), pki.sign_cms(CONTENT, signer)))
    assert result.ok, result
    assert result.identity is not None
    assert result.identity.snils == "11223344595"
    assert result.identity.surname == "Иванова"
    assert result.qualification is not None
    assert result.qualification.profile == "ru-fsb795"
    assert result.fingerprint
    assert result.serial == format(signer.serial, "x")
    assert "11223344595" not in repr(result)
    assert "Иванова" not in repr(result)


def test_base64_and_pem_are_read() -> None:
    der = pki.sign_cms(CONTENT, person("p256"))
    text = base64.encodebytes(der).decode()
    assert run(verify_with(checker(), text)).ok
    pem = f"-----BEGIN CMS-----\n{text}-----END CMS-----\n"
    assert run(verify_with(checker(), pem)).ok


def test_eidas_certificate_gives_person_id() -> None:
    signer = person("p256", profile="eidas", person_id="PNOEE-38001085718", snils=None, inn=None)
    result = run(verify_with(checker(), pki.sign_cms(CONTENT, signer)))
    assert result.ok, result
    assert result.qualification is not None
    assert result.qualification.profile == "eu-eidas"
    assert "QcCompliance" in result.qualification.evidence
    assert result.identity is not None
    assert result.identity.person_id == "PNOEE-38001085718"


@pytest.mark.parametrize("garbage", [b"", b"hello", "not base64 !", b"\x30\x03\x02\x01", "MIIB"])
def test_malformed(garbage: bytes | str) -> None:
    assert run(verify_with(checker(), garbage)).reason is Reason.MALFORMED


def test_too_big_is_malformed() -> None:
    der = pki.sign_cms(CONTENT, person("p256"))
    result = run(verify_with(checker(max_signature_bytes=4096), der + b"\0" * 5000))
    assert result.reason is Reason.MALFORMED


def test_certificate_missing() -> None:
    der = pki.sign_cms(CONTENT, person("p256"), include_certificate=False)
    assert run(verify_with(checker(), der)).reason is Reason.CERTIFICATE_MISSING


def test_certificate_given_alongside() -> None:
    signer = person("p256")
    der = pki.sign_cms(CONTENT, signer, include_certificate=False)
    c = checker()
    assert run(verify_with(c, der, certificates=[signer.certificate])).ok


def test_unknown_algorithm_when_gost_is_not_chosen() -> None:
    der = pki.sign_cms(CONTENT, person("gost256"))
    assert run(verify_with(checker(algorithms=["pyca"]), der)).reason is Reason.UNKNOWN_ALGORITHM


def test_tampered_content_is_digest_mismatch() -> None:
    der = pki.sign_cms(CONTENT, person("rsa2048"))
    result = run(verify_with(checker(), der, content=CONTENT + b"x"))
    assert result.reason is Reason.DIGEST_MISMATCH


@pytest.mark.parametrize("algo", ["p256", "gost256"])
def test_utf16le_of_the_challenge_is_accepted(algo: pki.KeyAlgo) -> None:
    # The CryptoPro browser plug-in's default encoding of a JavaScript string.
    der = pki.sign_cms(CONTENT.decode().encode("utf-16-le"), person(algo))
    assert run(verify_with(checker(), der)).ok


@pytest.mark.parametrize("tamper", ["signature", "signed_attrs"])
@pytest.mark.parametrize("algo", ["rsa2048", "gost256"])
def test_tampered_signature_or_attributes(tamper: str, algo: pki.KeyAlgo) -> None:
    der = pki.sign_cms(CONTENT, person(algo), tamper=tamper)  # type: ignore[arg-type]
    assert run(verify_with(checker(), der)).reason is Reason.BAD_SIGNATURE


@pytest.mark.parametrize("algo", ["p256", "gost256"])
def test_swapped_certificate_is_refused(algo: pki.KeyAlgo) -> None:
    # Same key, another certificate (another subject): ESS signingCertificateV2 names the first.
    original = person(algo)
    other = person(algo, key=original.key, snils="11223344600", serial=original.serial)
    der = pki.sign_cms(CONTENT, original, include_certificate=False)
    result = run(verify_with(checker(), der, certificates=[other.certificate]))
    assert result.reason is Reason.BAD_SIGNATURE


def test_signing_time_outside_the_challenge() -> None:
    der = pki.sign_cms(CONTENT, person("p256"), signing_time=datetime.now(UTC) - timedelta(hours=1))
    assert run(verify_with(checker(), der)).reason is Reason.SIGNING_TIME


def test_expired() -> None:
    past = datetime.now(UTC) - timedelta(days=30)
    signer = person("p256", not_before=past - timedelta(days=1), not_after=past)
    der = pki.sign_cms(CONTENT, signer)
    assert run(verify_with(checker(), der)).reason is Reason.EXPIRED


def test_expired_by_the_clock() -> None:
    der = pki.sign_cms(CONTENT, person("p256"))
    later = FrozenClock(datetime.now(UTC) + timedelta(days=800))
    assert run(verify_with(checker(clock=later), der)).reason is Reason.EXPIRED


def test_wrong_key_usage() -> None:
    signer = person("p256", key_usage=("key_encipherment",))
    der = pki.sign_cms(CONTENT, signer)
    assert run(verify_with(checker(), der)).reason is Reason.WRONG_KEY_USAGE


@pytest.mark.parametrize("algo", ["p256", "gost256"])
def test_no_key_usage_is_wrong_key_usage(algo: pki.KeyAlgo) -> None:
    # RFC 5280 would allow any use; a qualified signing certificate always states its usage.
    signer = without_key_usage(person(algo), root(algo))
    assert signer.parsed.key_usage_value is None
    der = pki.sign_cms(CONTENT, signer)
    assert run(verify_with(checker(), der)).reason is Reason.WRONG_KEY_USAGE


def test_non_repudiation_alone_is_enough() -> None:
    signer = person("p256", key_usage=("non_repudiation",))
    assert run(verify_with(checker(), pki.sign_cms(CONTENT, signer))).ok


def test_untrusted_root() -> None:
    stranger = pki.make_root("Stranger", "p256")
    der = pki.sign_cms(CONTENT, person("p256", issuer=stranger))
    assert run(verify_with(checker(), der)).reason is Reason.UNTRUSTED


def test_untrusted_outside_the_accreditation_window() -> None:
    ended = datetime.now(UTC) - timedelta(days=1)
    der = pki.sign_cms(CONTENT, person("p256"))
    c = checker(anchor(root("p256"), accredited_until=ended))
    assert run(verify_with(c, der)).reason is Reason.UNTRUSTED


@pytest.mark.parametrize("algo", ["p256", "gost512"])
def test_revoked(algo: pki.KeyAlgo) -> None:
    signer = person(algo)
    der = pki.sign_cms(CONTENT, signer)
    c = checker(revocation=crls({algo: [signer.serial]}))
    assert run(verify_with(c, der)).reason is Reason.REVOKED


def test_revocation_unavailable_when_no_url() -> None:
    der = pki.sign_cms(CONTENT, person("p256", crl_url=None))
    assert run(verify_with(checker(), der)).reason is Reason.REVOCATION_UNAVAILABLE


def test_revocation_unavailable_when_the_source_fails_and_accept_lets_it_through() -> None:
    der = pki.sign_cms(CONTENT, person("p256", crl_url="http://127.0.0.1:9/gone.crl"))
    assert run(verify_with(checker(), der)).reason is Reason.REVOCATION_UNAVAILABLE
    assert run(verify_with(checker(revocation_unavailable="accept"), der)).ok


def test_not_qualified() -> None:
    der = pki.sign_cms(CONTENT, person("p256", profile="plain"))
    assert run(verify_with(checker(), der)).reason is Reason.NOT_QUALIFIED


def test_the_process_pool_verifies() -> None:
    der = pki.sign_cms(CONTENT, person("gost256"))
    assert run(verify_with(checker(pool="process", pool_size=1), der)).ok
