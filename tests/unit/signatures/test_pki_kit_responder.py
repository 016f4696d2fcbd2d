"""The test PKI's responder (``test_pki`` on loopback), asked by independent clients: the openssl
OCSP client, pyHanko fetching CRLs and OCSP answers itself, and plain httpx."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asn1crypto import cms, crl, ocsp
from pyhanko.sign.validation import async_validate_detached_cms
from pyhanko.sign.validation.status import StandardCMSSignatureStatus
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy

from idp.signatures.dev.keys import Issued, KeyAlgo
from tests.support.pki import TestPki, openssl, write

CONTENT = b"idp challenge 77aa"


def _ocsp_client(
    tmp_path: Path, pki: TestPki, algo: KeyAlgo, *, revoked: bool = False
) -> tuple[str, str]:
    person = pki.person(algo, revoked=revoked)
    write(tmp_path, "ca.pem", pki.intermediate(algo).pem)
    write(tmp_path, "leaf.pem", person.pem)
    result = openssl(
        "ocsp", "-issuer", "ca.pem", "-cert", "leaf.pem", "-url", pki.ocsp_url(f"ca-{algo}"),
        "-VAfile", "ca.pem", cwd=tmp_path, gost=algo.startswith("gost"), check=False,
    )  # fmt: skip
    return result.stdout, result.stderr


@pytest.mark.parametrize("algo", ["rsa2048", "p256", "gost256"])
def test_the_openssl_ocsp_client_gets_signed_answers(
    tmp_path: Path, test_pki: TestPki, algo: KeyAlgo
) -> None:
    stdout, stderr = _ocsp_client(tmp_path, test_pki, algo)
    assert "Response verify OK" in stderr
    assert "leaf.pem: good" in stdout
    stdout, stderr = _ocsp_client(tmp_path, test_pki, algo, revoked=True)
    assert "Response verify OK" in stderr
    assert "leaf.pem: revoked" in stdout


def test_a_serial_the_ca_never_issued_is_unknown(tmp_path: Path, test_pki: TestPki) -> None:
    write(tmp_path, "ca.pem", test_pki.intermediate("p256").pem)
    result = openssl(
        "ocsp", "-issuer", "ca.pem", "-serial", "12345", "-url", test_pki.ocsp_url("ca-p256"),
        "-VAfile", "ca.pem", cwd=tmp_path,
    )  # fmt: skip
    assert "12345: unknown" in result.stdout


async def test_the_crl_is_fresh_and_lists_the_revoked(test_pki: TestPki) -> None:
    revoked = test_pki.person("p256", revoked=True)
    good = test_pki.person("p256")
    before = test_pki.requests["crl", "ca-p256"]
    async with httpx.AsyncClient() as client:
        response = await client.get(test_pki.crl_url("ca-p256"))
    assert response.headers["content-type"] == "application/pkix-crl"
    assert test_pki.requests["crl", "ca-p256"] == before + 1
    listed = crl.CertificateList.load(response.content)
    serials = {
        entry["user_certificate"].native
        for entry in listed["tbs_cert_list"]["revoked_certificates"]
    }
    assert revoked.serial in serials
    assert good.serial not in serials


async def test_bad_requests(test_pki: TestPki) -> None:
    async with httpx.AsyncClient() as client:
        missing = await client.get(f"{test_pki.base_url}/crl/nobody.crl")
        garbage = await client.post(
            test_pki.ocsp_url("ca-p256"),
            content=b"\x30\x03\x02\x01\x01",
            headers={"content-type": "application/ocsp-request"},
        )
    assert missing.status_code == 404
    assert ocsp.OCSPResponse.load(garbage.content)["response_status"].native == "malformed_request"


@pytest.fixture
async def loop_complaints() -> AsyncIterator[list[str]]:
    """What the event loop is told during the test (aiohttp reports a session or connector
    dropped unclosed there: "Unclosed client session")."""
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    said: list[str] = []
    loop.set_exception_handler(lambda _loop, context: said.append(str(context.get("message"))))
    yield said
    loop.set_exception_handler(previous)


async def _validate(pki: TestPki, algo: KeyAlgo, person: Issued) -> StandardCMSSignatureStatus:
    # pyHanko's fetchers open an aiohttp session; the backend is ours to close.
    backend = AIOHttpFetcherBackend()
    try:
        context = ValidationContext(
            trust_roots=[pki.root(algo).parsed],
            allow_fetching=True,
            revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
            fetcher_backend=backend,
        )
        signed = cms.ContentInfo.load(pki.sign(CONTENT, person))["content"]
        return await async_validate_detached_cms(CONTENT, signed, signer_validation_context=context)
    finally:
        await backend.close()


@pytest.mark.parametrize("algo", ["rsa2048", "p256"])
async def test_pyhanko_fetches_revocation_from_the_responder(
    test_pki: TestPki, algo: KeyAlgo, loop_complaints: list[str]
) -> None:
    before = test_pki.requests["ocsp", f"ca-{algo}"]
    status = await _validate(test_pki, algo, test_pki.person(algo))
    assert status.trusted
    assert not status.revoked
    assert test_pki.requests["ocsp", f"ca-{algo}"] > before

    status = await _validate(test_pki, algo, test_pki.person(algo, revoked=True))
    assert status.revoked

    gc.collect()  # a session left open says so when it is collected
    assert not [said for said in loop_complaints if "nclosed" in said], loop_complaints


def test_anchors_are_the_trusted_roots(test_pki: TestPki) -> None:
    fingerprints = {anchor.fingerprint for anchor in test_pki.anchors}
    assert len(fingerprints) == 4
    untrusted = test_pki.person("p256", untrusted=True)
    issuers = {anchor.certificate for anchor in test_pki.anchors}
    assert test_pki.untrusted_root("p256").certificate not in issuers
    assert untrusted.parsed.issuer == test_pki.untrusted_root("p256").parsed.subject


def test_person_variants(test_pki: TestPki) -> None:
    from idp.signatures.dev.pki import now

    expired = test_pki.person("p256", expired=True)
    assert expired.parsed.not_valid_after < now()
    early = test_pki.person("p256", not_yet_valid=True)
    assert early.parsed.not_valid_before > now()
    bare = test_pki.person("p256", revocation="none")
    assert bare.parsed.crl_distribution_points == []
    assert bare.parsed.ocsp_urls == []
    wrong = test_pki.person("p256", key_usage=("key_encipherment",))
    assert wrong.parsed.key_usage_value.native == {"key_encipherment"}
    assert test_pki.person("p256") is test_pki.person("p256")
