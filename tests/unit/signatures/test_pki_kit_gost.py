"""The PKI kit's GOST R 34.10-2012 output (pure Python, gostcrypto) checked by OpenSSL's GOST
engine, and the engine's own material (``openssl_gost_material``) read back by the kit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto import cms, core

from idp.signatures import oids
from idp.signatures.dev import gost_pki
from idp.signatures.dev.gost_pki import GostCurve
from idp.signatures.dev.keys import Issued, KeyAlgo
from idp.signatures.dev.pki import (
    make_crl,
    make_intermediate,
    make_ocsp_response,
    make_person,
    make_root,
    now,
    sign_cms,
)
from tests.support.pki import openssl, openssl_gost_material, write

CONTENT = b"idp challenge 9b2e"


@dataclass
class GostKit:
    root: Issued
    intermediate: Issued
    good: Issued
    revoked: Issued
    crls: tuple[bytes, bytes]


def _kit(algo: KeyAlgo, curve: GostCurve) -> GostKit:
    root = make_root(f"GOST root {curve}", algo, gost_curve=curve)
    intermediate = make_intermediate(
        root, f"GOST CA {curve}", algo, crl_url="http://127.0.0.1:9/crl/root.crl", gost_curve=curve
    )
    person = {"snils": "11223344595", "surname": "Иванов", "given_names": "Иван Иванович"}
    urls = {"crl_url": "http://127.0.0.1:9/crl/ca.crl", "ocsp_url": "http://127.0.0.1:9/ocsp/ca"}
    good = make_person(intermediate, algo, gost_curve=curve, **person, **urls)
    revoked = make_person(intermediate, algo, gost_curve=curve, **person, **urls)
    crls = (
        make_crl(root, []),
        make_crl(intermediate, [(revoked.serial, now() - timedelta(hours=1))]),
    )
    return GostKit(root, intermediate, good, revoked, crls)


@pytest.fixture(
    scope="module",
    params=[("gost256", "cryptopro-a"), ("gost256", "tc26-256-a"), ("gost512", "tc26-512-a")],
    ids=["256-cryptopro-a", "256-tc26-a", "512-tc26-a"],
)
def kit(request: pytest.FixtureRequest) -> GostKit:
    return _kit(*request.param)


def _cms_ok(tmp_path: Path, kit: GostKit, signature: bytes, content: bytes) -> bool:
    write(tmp_path, "cas.pem", kit.root.pem + kit.intermediate.pem)
    write(tmp_path, "sig.p7s", signature)
    write(tmp_path, "content.bin", content)
    result = openssl(
        "cms", "-verify", "-binary", "-inform", "DER", "-in", "sig.p7s", "-content",
        "content.bin", "-CAfile", "cas.pem", "-purpose", "any", "-out", "/dev/null",
        cwd=tmp_path, gost=True, check=False,
    )  # fmt: skip
    return result.returncode == 0 and "Verification successful" in result.stderr


def test_the_gost_engine_verifies_the_cms(tmp_path: Path, kit: GostKit) -> None:
    assert _cms_ok(tmp_path, kit, sign_cms(CONTENT, kit.good), CONTENT)


def test_the_gost_engine_refuses_tampered_cms(tmp_path: Path, kit: GostKit) -> None:
    assert not _cms_ok(tmp_path, kit, sign_cms(CONTENT, kit.good), CONTENT + b"!")
    assert not _cms_ok(tmp_path, kit, sign_cms(CONTENT, kit.good, tamper="signed_attrs"), CONTENT)
    assert not _cms_ok(tmp_path, kit, sign_cms(CONTENT, kit.good, tamper="signature"), CONTENT)


def test_the_signing_certificate_hash_is_streebog(kit: GostKit) -> None:
    info = cms.ContentInfo.load(sign_cms(CONTENT, kit.good))["content"]["signer_infos"][0]
    attrs = {a["type"].native: a["values"][0] for a in info["signed_attrs"]}
    ess = attrs["signing_certificate_v2"]["certs"][0]
    bits = 256 if kit.good.algo == "gost256" else 512
    assert ess["hash_algorithm"]["algorithm"].dotted == (
        oids.STREEBOG_256 if bits == 256 else oids.STREEBOG_512
    )
    assert ess["cert_hash"].native == gost_pki.streebog(bits, kit.good.certificate)
    assert attrs["message_digest"].native == gost_pki.streebog(bits, CONTENT)


def _verify(tmp_path: Path, kit: GostKit, leaf: Issued) -> str:
    write(tmp_path, "root.pem", kit.root.pem)
    write(tmp_path, "ca.pem", kit.intermediate.pem)
    write(tmp_path, "leaf.pem", leaf.pem)
    pems = []
    for i, der in enumerate(kit.crls):
        write(tmp_path, f"{i}.crl", der)
        pems.append(openssl("crl", "-inform", "DER", "-in", f"{i}.crl", cwd=tmp_path).stdout)
    (tmp_path / "crls.pem").write_text("".join(pems))
    result = openssl(
        "verify", "-crl_check_all", "-CRLfile", "crls.pem", "-CAfile", "root.pem",
        "-untrusted", "ca.pem", "leaf.pem", cwd=tmp_path, gost=True, check=False,
    )  # fmt: skip
    return result.stdout + result.stderr


def test_the_gost_engine_verifies_the_chain_and_crls(tmp_path: Path, kit: GostKit) -> None:
    assert "leaf.pem: OK" in _verify(tmp_path, kit, kit.good)
    assert "certificate revoked" in _verify(tmp_path, kit, kit.revoked)


def test_the_gost_engine_verifies_the_ocsp_response(tmp_path: Path, kit: GostKit) -> None:
    response = make_ocsp_response(
        kit.intermediate, kit.revoked.certificate, revoked_at=now() - timedelta(hours=1)
    )
    write(tmp_path, "resp.der", response)
    write(tmp_path, "ca.pem", kit.intermediate.pem)
    write(tmp_path, "leaf.pem", kit.revoked.pem)
    result = openssl(
        "ocsp", "-respin", "resp.der", "-issuer", "ca.pem", "-VAfile", "ca.pem",
        "-cert", "leaf.pem", "-no_nonce", cwd=tmp_path, gost=True, check=False,
    )  # fmt: skip
    assert "Response verify OK" in result.stderr
    assert "leaf.pem: revoked" in result.stdout


def test_the_kit_reads_back_a_key_the_engine_made(tmp_path: Path) -> None:
    openssl(
        "genpkey", "-algorithm", "gost2012_512", "-pkeyopt", "paramset:A", "-out", "k.pem",
        cwd=tmp_path, gost=True,
    )  # fmt: skip
    der = openssl(
        "pkey", "-in", "k.pem", "-outform", "DER", "-out", "k.der", cwd=tmp_path, gost=True
    )
    assert der.returncode == 0
    openssl(
        "pkey",
        "-in",
        "k.pem",
        "-pubout",
        "-outform",
        "DER",
        "-out",
        "pub.der",
        cwd=tmp_path,
        gost=True,
    )
    key = gost_pki.from_pkcs8((tmp_path / "k.der").read_bytes())
    assert key.curve == "tc26-512-a"
    # The same point (OpenSSL names the digest parameter set for 512-bit keys too; the kit
    # follows RFC 9215 and leaves it out).
    ours = core.Sequence.load(key.public_key_info())[1].contents
    assert ours == core.Sequence.load((tmp_path / "pub.der").read_bytes())[1].contents


def test_openssl_gost_material(tmp_path: Path) -> None:
    material = openssl_gost_material(tmp_path, crl_url="http://127.0.0.1:9/crl/openssl.crl")
    assert material.user.parsed.crl_distribution_points[0].url.endswith("/openssl.crl")
    snils = next(
        a["value"].parsed.native
        for rdn in material.user.parsed.subject.chosen
        for a in rdn
        if a["type"].dotted == "1.2.643.100.3"
    )
    assert snils == material.snils
    info = cms.ContentInfo.load(material.signature)["content"]["signer_infos"][0]
    attrs = {a["type"].native for a in info["signed_attrs"]}
    assert "signing_certificate_v2" in attrs
    # The kit signed the CA's CRL with the key OpenSSL made: the engine accepts it.
    write(tmp_path, "m.crl", material.crl)
    write(tmp_path, "ca-check.pem", material.ca.pem)
    result = openssl(
        "crl", "-inform", "DER", "-in", "m.crl", "-CAfile", "ca-check.pem", "-noout",
        cwd=tmp_path, gost=True, check=False,
    )  # fmt: skip
    assert "verify OK" in result.stderr + result.stdout
