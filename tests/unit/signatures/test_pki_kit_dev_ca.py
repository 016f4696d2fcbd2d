"""The development CA: made once, shared by processes that start together, and its signatures
verified by openssl and by pyHanko fetching revocation from its own responder."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from asn1crypto import cms
from pyhanko.sign.validation import async_validate_detached_cms
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from starlette.applications import Starlette
from starlette.routing import Mount

from idp.settings import DEV_CA_PATH
from idp.signatures.dev.ca import DevCA
from tests.support.live import LiveServer, free_port
from tests.support.pki import openssl, write

CONTENT = b"idp challenge dev-ca"


def _load(args: tuple[str, str]) -> bytes:
    return DevCA.load_or_create(Path(args[0]), args[1]).certificate


def test_processes_starting_together_share_one_ca(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        certificates = pool.map(_load, [(str(tmp_path), "http://127.0.0.1:1")] * 8)
    assert len(set(certificates)) == 1
    assert DevCA.load_or_create(tmp_path, "http://x").certificate == certificates[0]
    files = sorted(p.name for p in (tmp_path / "dev-ca").iterdir())
    assert files == ["ca.pem"]  # no temp file left behind
    assert (tmp_path / "dev-ca" / "ca.pem").stat().st_mode & 0o077 == 0


def test_openssl_verifies_what_it_signs(tmp_path: Path) -> None:
    ca = DevCA.load_or_create(tmp_path, "http://127.0.0.1:8000")
    signature = ca.sign(CONTENT, "11223344595", "Иванов", "Иван Иванович")
    write(tmp_path, "root.der", ca.certificate)
    openssl("x509", "-inform", "DER", "-in", "root.der", "-out", "root.pem", cwd=tmp_path)
    write(tmp_path, "sig.p7s", signature)
    write(tmp_path, "content.bin", CONTENT)
    result = openssl(
        "cms", "-verify", "-binary", "-inform", "DER", "-in", "sig.p7s", "-content", "content.bin",
        "-CAfile", "root.pem", "-purpose", "any", "-out", "/dev/null", cwd=tmp_path, check=False,
    )  # fmt: skip
    assert "Verification successful" in result.stderr
    person = ca.person_certificate("11223344595", "Иванов", "Иван Иванович")
    assert person.parsed.crl_distribution_points[0].url == (
        f"http://127.0.0.1:8000{DEV_CA_PATH}/crl/dev.crl"
    )
    assert person.parsed.ocsp_urls == [f"http://127.0.0.1:8000{DEV_CA_PATH}/ocsp/dev"]


async def test_its_responder_answers_for_its_certificates(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    ca = DevCA.load_or_create(tmp_path, base)
    app = Starlette(routes=[Mount(DEV_CA_PATH, app=ca.responder_app())])
    live = LiveServer(app, port).start()
    try:
        signed = cms.ContentInfo.load(ca.sign(CONTENT, "11223344595", "Иванов", "Иван"))
        context = ValidationContext(
            trust_roots=[ca.root.parsed],
            allow_fetching=True,
            revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
        )
        status = await async_validate_detached_cms(
            CONTENT, signed["content"], signer_validation_context=context
        )
    finally:
        live.stop()
    assert status.trusted
    assert not status.revoked
