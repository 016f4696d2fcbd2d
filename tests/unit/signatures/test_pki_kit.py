"""The PKI kit's RSA and ECDSA output, checked by tools that share no code with it: the openssl
command line and pyHanko (its CMS checks, pyhanko-certvalidator's path and revocation checks)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto import cms, x509
from pyhanko.sign.ades import qualified_asn1
from pyhanko.sign.validation import async_validate_detached_cms
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy

from idp.signatures.dev.cms import signed_data
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
from tests.support.pki import openssl, write

ALGOS: tuple[KeyAlgo, ...] = ("rsa2048", "p256")
CONTENT = b"idp challenge 4f1c"


@dataclass
class Kit:
    root: Issued
    intermediate: Issued
    good: Issued
    revoked: Issued
    eidas: Issued
    plain: Issued
    crls: tuple[bytes, bytes]


def make_kit(algo: KeyAlgo) -> Kit:
    root = make_root(f"Kit root {algo}", algo)
    intermediate = make_intermediate(
        root, f"Kit CA {algo}", algo, crl_url="http://127.0.0.1:9/crl/root.crl"
    )
    urls = {"crl_url": "http://127.0.0.1:9/crl/ca.crl", "ocsp_url": "http://127.0.0.1:9/ocsp/ca"}
    person = {"snils": "11223344595", "surname": "Иванов", "given_names": "Иван Иванович"}
    good = make_person(intermediate, algo, inn="500100732259", **person, **urls)
    revoked = make_person(intermediate, algo, **person, **urls)
    eidas = make_person(
        intermediate,
        algo,
        profile="eidas",
        person_id="PNOEE-38001085718",
        surname="Tamm",
        given_names="Mari",
        snils=None,
        **urls,
    )
    plain = make_person(intermediate, algo, profile="plain", **person, **urls)
    crls = (
        make_crl(root, []),
        make_crl(intermediate, [(revoked.serial, now() - timedelta(hours=1))]),
    )
    return Kit(root, intermediate, good, revoked, eidas, plain, crls)


@pytest.fixture(scope="module", params=ALGOS)
def kit(request: pytest.FixtureRequest) -> Kit:
    return make_kit(request.param)


def _pem_files(tmp_path: Path, kit: Kit) -> tuple[Path, Path, Path]:
    root = write(tmp_path, "root.pem", kit.root.pem)
    intermediate = write(tmp_path, "ca.pem", kit.intermediate.pem)
    crl_pems = []
    for i, der in enumerate(kit.crls):
        write(tmp_path, f"{i}.crl", der)
        crl_pems.append(openssl("crl", "-inform", "DER", "-in", f"{i}.crl", cwd=tmp_path).stdout)
    crls = tmp_path / "crls.pem"
    crls.write_text("".join(crl_pems))
    return root, intermediate, crls


def _verify_chain(tmp_path: Path, kit: Kit, leaf: Issued) -> str:
    root, intermediate, crls = _pem_files(tmp_path, kit)
    write(tmp_path, "leaf.pem", leaf.pem)
    result = openssl(
        "verify", "-crl_check_all", "-CRLfile", crls, "-CAfile", root,
        "-untrusted", intermediate, "leaf.pem", cwd=tmp_path, check=False,
    )  # fmt: skip
    return result.stdout + result.stderr


def test_openssl_accepts_the_chain_and_its_crls(tmp_path: Path, kit: Kit) -> None:
    for leaf in (kit.good, kit.eidas, kit.plain):
        assert "leaf.pem: OK" in _verify_chain(tmp_path, kit, leaf)


def test_openssl_finds_the_revoked_certificate_on_the_crl(tmp_path: Path, kit: Kit) -> None:
    assert "certificate revoked" in _verify_chain(tmp_path, kit, kit.revoked)


def test_openssl_refuses_an_expired_certificate(tmp_path: Path, kit: Kit) -> None:
    expired = make_person(
        kit.intermediate,
        kit.good.algo,
        snils="11223344595",
        surname="Иванов",
        given_names="Иван",
        not_before=now() - timedelta(days=30),
        not_after=now() - timedelta(days=1),
    )
    assert "certificate has expired" in _verify_chain(tmp_path, kit, expired)


def _cms_verify(tmp_path: Path, kit: Kit, signature: bytes, content: bytes, *extra: str) -> bool:
    # openssl cms takes no untrusted chain: both CAs go in the trusted file here (the path
    # itself is openssl verify's business above).
    cas = write(tmp_path, "cas.pem", kit.root.pem + kit.intermediate.pem)
    write(tmp_path, "sig.p7s", signature)
    write(tmp_path, "content.bin", content)
    result = openssl(
        "cms", "-verify", "-binary", "-inform", "DER", "-in", "sig.p7s", "-content",
        "content.bin", "-CAfile", cas, "-purpose", "any",
        "-out", "/dev/null", *extra, cwd=tmp_path, check=False,
    )  # fmt: skip
    return result.returncode == 0 and "Verification successful" in result.stderr


def test_openssl_verifies_the_detached_cms(tmp_path: Path, kit: Kit) -> None:
    assert _cms_verify(tmp_path, kit, sign_cms(CONTENT, kit.good), CONTENT)
    assert _cms_verify(tmp_path, kit, sign_cms(CONTENT, kit.good, digest="sha512"), CONTENT)
    assert _cms_verify(
        tmp_path, kit, sign_cms(CONTENT, kit.good, signing_time=None, signing_certificate_v2=False),
        CONTENT,
    )  # fmt: skip


def test_openssl_refuses_tampered_signatures(tmp_path: Path, kit: Kit) -> None:
    assert not _cms_verify(tmp_path, kit, sign_cms(CONTENT, kit.good), CONTENT + b"!")
    for tamper in ("signed_attrs", "signature"):
        broken = sign_cms(CONTENT, kit.good, tamper=tamper)  # type: ignore[arg-type]
        assert not _cms_verify(tmp_path, kit, broken, CONTENT)


def test_a_signature_without_its_certificate_needs_it_given(tmp_path: Path, kit: Kit) -> None:
    bare = sign_cms(CONTENT, kit.good, include_certificate=False)
    assert cms.ContentInfo.load(bare)["content"]["certificates"].native is None
    assert not _cms_verify(tmp_path, kit, bare, CONTENT)
    write(tmp_path, "signer.pem", kit.good.pem)
    assert _cms_verify(tmp_path, kit, bare, CONTENT, "-certfile", "signer.pem")


def test_signed_attributes_are_the_cades_set(kit: Kit) -> None:
    info = signed_data(CONTENT, kit.good)["signer_infos"][0]
    attrs = {a["type"].native: a["values"][0] for a in info["signed_attrs"]}
    assert set(attrs) == {
        "content_type",
        "message_digest",
        "signing_time",
        "signing_certificate_v2",
    }
    assert attrs["message_digest"].native == hashlib.sha256(CONTENT).digest()
    ess = attrs["signing_certificate_v2"]["certs"][0]
    assert ess["cert_hash"].native == hashlib.sha256(kit.good.certificate).digest()
    assert ess["issuer_serial"]["serial_number"].native == kit.good.serial
    overridden = signed_data(
        CONTENT,
        kit.good,
        signed_attrs_override=lambda a: [x for x in a if x["type"] != "signing_time"],
    )
    names = [a["type"].native for a in overridden["signer_infos"][0]["signed_attrs"]]
    assert "signing_time" not in names


def _context(kit: Kit, *, with_revoked_crl: bool = True) -> ValidationContext:
    return ValidationContext(
        trust_roots=[kit.root.parsed],
        other_certs=[kit.intermediate.parsed],
        crls=list(kit.crls),
        allow_fetching=False,
        revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
    )


async def test_pyhanko_validates_the_signature_path_and_crls(kit: Kit) -> None:
    signed = cms.ContentInfo.load(sign_cms(CONTENT, kit.good))["content"]
    status = await async_validate_detached_cms(
        CONTENT, signed, signer_validation_context=_context(kit)
    )
    assert status.intact
    assert status.valid
    assert status.trusted
    assert not status.revoked


async def test_pyhanko_sees_the_revoked_certificate_and_the_tampering(kit: Kit) -> None:
    revoked = cms.ContentInfo.load(sign_cms(CONTENT, kit.revoked))["content"]
    status = await async_validate_detached_cms(
        CONTENT, revoked, signer_validation_context=_context(kit)
    )
    assert status.revoked
    assert not status.trusted
    tampered = cms.ContentInfo.load(sign_cms(CONTENT, kit.good, tamper="signed_attrs"))["content"]
    status = await async_validate_detached_cms(
        CONTENT, tampered, signer_validation_context=_context(kit)
    )
    assert status.intact
    assert not status.valid


async def test_pyhanko_accepts_the_ocsp_response(kit: Kit) -> None:
    signed = cms.ContentInfo.load(sign_cms(CONTENT, kit.good))["content"]
    context = ValidationContext(
        trust_roots=[kit.root.parsed],
        other_certs=[kit.intermediate.parsed],
        crls=[kit.crls[0]],  # the intermediate's status; the person's comes from OCSP
        ocsps=[make_ocsp_response(kit.intermediate, kit.good.certificate, revoked_at=None)],
        allow_fetching=False,
        revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
    )
    status = await async_validate_detached_cms(CONTENT, signed, signer_validation_context=context)
    assert status.trusted
    assert not status.revoked


def _ocsp_status(tmp_path: Path, kit: Kit, response: bytes, leaf: Issued) -> str:
    write(tmp_path, "resp.der", response)
    write(tmp_path, "ca.pem", kit.intermediate.pem)
    write(tmp_path, "leaf.pem", leaf.pem)
    result = openssl(
        "ocsp", "-respin", "resp.der", "-issuer", "ca.pem", "-VAfile", "ca.pem",
        "-cert", "leaf.pem", "-no_nonce", cwd=tmp_path, check=False,
    )  # fmt: skip
    assert "Response verify OK" in result.stderr, result.stderr
    return result.stdout


def test_openssl_verifies_the_ocsp_responses(tmp_path: Path, kit: Kit) -> None:
    good = make_ocsp_response(kit.intermediate, kit.good.certificate, revoked_at=None)
    assert "leaf.pem: good" in _ocsp_status(tmp_path, kit, good, kit.good)
    revoked = make_ocsp_response(
        kit.intermediate, kit.revoked.certificate, revoked_at=now() - timedelta(hours=1)
    )
    assert "leaf.pem: revoked" in _ocsp_status(tmp_path, kit, revoked, kit.revoked)
    unknown = make_ocsp_response(
        kit.intermediate, kit.good.certificate, revoked_at=None, unknown=True
    )
    assert "leaf.pem: unknown" in _ocsp_status(tmp_path, kit, unknown, kit.good)


def _subject(issued: Issued) -> dict[str, tuple[str, str]]:
    """dotted OID -> (ASN.1 string type, value)."""
    out = {}
    for rdn in issued.parsed.subject.chosen:
        for attr in rdn:
            value = attr["value"]
            # 795's attributes are unknown to asn1crypto: parse them by their own tag.
            chosen = value.chosen if isinstance(value, x509.DirectoryString) else value.parsed
            out[attr["type"].dotted] = (type(chosen).__name__, chosen.native)
    return out


def test_the_ru_profile_follows_fsb_order_795(kit: Kit) -> None:
    subject = _subject(kit.good)
    assert subject["1.2.643.100.3"] == ("NumericString", "11223344595")
    assert subject["1.2.643.3.131.1.1"] == ("NumericString", "500100732259")
    assert subject["2.5.4.4"] == ("UTF8String", "Иванов")
    assert subject["2.5.4.42"] == ("UTF8String", "Иван Иванович")
    assert subject["2.5.4.6"] == ("PrintableString", "RU")
    extensions = {e["extn_id"].dotted: e for e in kit.good.parsed["tbs_certificate"]["extensions"]}
    assert extensions["1.2.643.100.111"]["extn_value"].parsed.native == "idp dev kit"
    issuer_tool = x509.Sequence.load(extensions["1.2.643.100.112"]["extn_value"].native)
    assert len(issuer_tool) == 4
    assert kit.good.parsed.key_usage_value.native == {"digital_signature", "non_repudiation"}
    assert [p["policy_identifier"].dotted for p in kit.good.parsed.certificate_policies_value] == [
        "1.2.643.100.113.1"
    ]
    assert kit.good.parsed.crl_distribution_points[0].url == "http://127.0.0.1:9/crl/ca.crl"
    assert kit.good.parsed.ocsp_urls == ["http://127.0.0.1:9/ocsp/ca"]


def test_the_eidas_profile_carries_the_qc_statements(kit: Kit) -> None:
    subject = _subject(kit.eidas)
    assert subject["2.5.4.5"] == ("PrintableString", "PNOEE-38001085718")
    assert subject["2.5.4.4"] == ("UTF8String", "Tamm")
    assert subject["2.5.4.42"] == ("UTF8String", "Mari")
    # pyHanko's own QCStatements spec reads what the kit wrote.
    statements = qualified_asn1.get_qc_statements(kit.eidas.parsed)
    by_id = {s["statement_id"].native: s for s in statements}
    assert {"qc_compliance", "qc_sscd", "qc_type", "1.3.6.1.5.5.7.11.2"} <= set(by_id)
    assert by_id["qc_type"]["statement_info"].native == ["qct_esign"]
    semantics = x509.Sequence.load(by_id["1.3.6.1.5.5.7.11.2"]["statement_info"].dump())
    assert semantics[0].dump() == x509.ObjectIdentifier("0.4.0.194121.1.1").dump()


def test_the_plain_profile_has_no_qualified_markers(kit: Kit) -> None:
    ids = {e["extn_id"].dotted for e in kit.plain.parsed["tbs_certificate"]["extensions"]}
    assert not ids & {"1.2.643.100.111", "1.2.643.100.112", "1.3.6.1.5.5.7.1.3"}
    assert kit.plain.parsed.certificate_policies_value is None


def test_key_usage_is_configurable(kit: Kit) -> None:
    person = make_person(
        kit.intermediate, kit.good.algo, snils="11223344595", surname="А", given_names="Б",
        key_usage=("key_encipherment",),
    )  # fmt: skip
    assert person.parsed.key_usage_value.native == {"key_encipherment"}
