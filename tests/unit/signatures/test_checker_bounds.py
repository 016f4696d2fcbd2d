"""What a hostile signature can make the checker do: certificates crafted to branch under a
trusted name (bounded path search, at most ``MAX_CERTIFICATES``), certificates their issuer never
signed (no revocation URL of theirs is asked), and an untrusted signer refused before its
signature's arithmetic."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from idp.signatures.algorithms.registry import algorithms_named
from idp.signatures.cms import MAX_CERTIFICATES
from idp.signatures.dev import keys, pki
from idp.signatures.paths import (
    MAX_SIGNATURE_CHECKS,
    PathRefused,
    candidate_paths,
    parsed_anchors,
)
from idp.signatures.result import Reason
from tests.support.signature_kit import (
    CONTENT,
    Recording,
    anchor,
    checker,
    person,
    resigned,
    root,
    run,
    verify_with,
)


def branching(per_level: int, levels: int) -> tuple[pki.Issued, pki.Issued, list[bytes]]:
    """The reviewer's construction: ``per_level`` CA certificates at each of ``levels`` levels,
    all with one key, each level's naming the next level as issuer and the top level naming the
    trusted root (its name and key id, not its signature): per_level**levels paths for a
    builder that lists them all. Returns the root, the signer and the CA certificates."""
    trusted = pki.make_root("Accredited Root", "p256")
    key = keys.new_key("p256")
    spki = keys.public_key_info(key)
    start = pki.now() - timedelta(days=1)
    chain = []
    for level in range(1, levels + 1):
        top = level == levels
        for _ in range(per_level):
            chain.append(
                pki._issue(
                    issuer_key=key,
                    issuer_name=trusted.parsed.subject if top else pki.ca_name(f"L{level + 1}"),
                    issuer_spki=trusted.parsed.public_key.dump() if top else spki,
                    subject_name=pki.ca_name(f"L{level}"),
                    subject_key=key,
                    algo="p256",
                    not_before=start,
                    not_after=start + timedelta(days=30),
                    extensions=[pki._ext("basic_constraints", {"ca": True}, critical=True)],
                ).certificate
            )
    signer = pki._issue(
        issuer_key=key,
        issuer_name=pki.ca_name("L1"),
        issuer_spki=spki,
        subject_name=pki.person_name(
            "ru", snils="11223344595", surname="Иванова", given_names="Мария"
        ),
        subject_key=keys.new_key("p256"),
        algo="p256",
        not_before=start,
        not_after=start + timedelta(days=30),
        extensions=[pki._key_usage(("digital_signature",))],
    )
    return trusted, signer, chain


def test_branching_certificates_do_not_make_the_path_search_explode() -> None:
    # 2**16 paths: pyhanko's builder listed them all (9 s here) before validating each.
    trusted, signer, chain = branching(2, 16)
    anchors = parsed_anchors((anchor(trusted),))
    started = time.monotonic()
    with pytest.raises(PathRefused) as refused:
        candidate_paths(signer.certificate, chain, anchors, algorithms_named(["pyca", "gost"]))
    assert refused.value.reason is Reason.UNTRUSTED
    assert time.monotonic() - started < 2


def test_branching_certificates_in_a_signature_are_refused_fast() -> None:
    trusted, signer, chain = branching(2, 16)
    der = pki.sign_cms(CONTENT, signer, chain=chain)
    started = time.monotonic()
    result = run(verify_with(checker(anchor(trusted)), der))
    assert time.monotonic() - started < 2
    assert result.reason is Reason.MALFORMED, result
    assert str(MAX_CERTIFICATES) in result.detail


def test_branching_within_the_certificate_limit_is_untrusted_and_fast() -> None:
    trusted, signer, chain = branching(2, 4)  # 8 CA certificates and the signer
    der = pki.sign_cms(CONTENT, signer, chain=chain)
    started = time.monotonic()
    result = run(verify_with(checker(anchor(trusted)), der))
    assert time.monotonic() - started < 2
    assert result.reason is Reason.UNTRUSTED, result


def test_the_path_search_checks_a_bounded_number_of_signatures() -> None:
    trusted, signer, chain = branching(3, 3)
    algorithms = algorithms_named(["pyca"])
    counted = Counting(algorithms)
    with pytest.raises(PathRefused):
        candidate_paths(signer.certificate, chain, parsed_anchors((anchor(trusted),)), counted)  # type: ignore[arg-type]
    assert 0 < counted.calls <= MAX_SIGNATURE_CHECKS


class Counting:
    """The algorithm plug-ins, counting the signatures verified."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.calls = 0

    def for_signature(self, oid: str) -> object:
        plugin = self.inner.for_signature(oid)  # type: ignore[attr-defined]
        outer = self

        class Counted:
            def verify(self, **arguments: object) -> bool:
                outer.calls += 1
                return bool(plugin.verify(**arguments))

        return Counted() if plugin is not None else None

    def for_digest(self, oid: str) -> object:
        return self.inner.for_digest(oid)  # type: ignore[attr-defined]


def test_more_certificates_than_the_limit_are_malformed() -> None:
    signer = person("p256")
    strangers = [pki.make_root(f"Other {i}", "p256").certificate for i in range(MAX_CERTIFICATES)]
    der = pki.sign_cms(CONTENT, signer, chain=strangers)
    assert run(verify_with(checker(), der)).reason is Reason.MALFORMED


def test_copies_of_one_certificate_count_once() -> None:
    signer = person("p256")
    der = pki.sign_cms(CONTENT, signer, chain=[signer.certificate] * 3)
    given = [signer.certificate] * (MAX_CERTIFICATES + 2)
    assert run(verify_with(checker(), der, certificates=given)).ok


def forged_by_stranger(issuer: pki.Issued, **options: object) -> pki.Issued:
    """A certificate naming ``issuer`` (its name and key id) but signed by another key."""
    stranger = pki.make_root("Mallory", issuer.algo)
    impostor = pki.Issued(issuer.certificate, stranger.key, issuer.algo)
    return pki.make_person(
        impostor,
        issuer.algo,
        snils="11223344595",
        surname="Иванова",
        given_names="Мария",
        **options,  # type: ignore[arg-type]
    )


def test_a_certificate_the_anchor_did_not_sign_is_untrusted_and_its_urls_never_asked() -> None:
    forged = forged_by_stranger(
        root("p256"),
        crl_url="http://169.254.169.254/latest/meta-data",
        ocsp_url="http://victim.example:25/",
    )
    source = Recording()
    der = pki.sign_cms(CONTENT, forged)
    result = run(verify_with(checker(anchor(root("p256")), revocation=source), der))
    assert result.reason is Reason.UNTRUSTED, result
    assert source.asked == []


def test_a_forged_copy_of_the_intermediate_is_not_asked_about() -> None:
    top = root("p256")
    ca = pki.make_intermediate(top, "Issuing CA", "p256", crl_url="http://ca.test/root.crl")
    # The same name and key as the real CA, signed by a stranger, pointing at the attacker.
    stranger = pki.make_root("Mallory", "p256")
    forged_ca = pki._issue(
        issuer_key=keys.private_key(stranger),
        issuer_name=top.parsed.subject,
        issuer_spki=top.parsed.public_key.dump(),
        subject_name=ca.parsed.subject,
        subject_key=keys.private_key(ca),
        algo="p256",
        not_before=pki.now() - timedelta(days=1),
        not_after=pki.now() + timedelta(days=100),
        extensions=[
            pki._ext("basic_constraints", {"ca": True}, critical=True),
            pki._key_usage(("digital_signature", "key_cert_sign", "crl_sign")),
            *pki._revocation_pointers("http://attacker.test/x.crl", "http://attacker.test/ocsp"),
        ],
    )
    signer = person("p256", issuer=ca, crl_url="http://ca.test/ca.crl")
    source = Recording(
        crls={
            "http://ca.test/root.crl": pki.make_crl(top, []),
            "http://ca.test/ca.crl": pki.make_crl(ca, []),
        }
    )
    for chain in ([forged_ca.certificate, ca.certificate], [ca.certificate, forged_ca.certificate]):
        der = pki.sign_cms(CONTENT, signer, chain=chain)
        source.asked.clear()
        result = run(verify_with(checker(anchor(top), revocation=source), der))
        assert result.ok, result
        assert not [url for url in source.asked if "attacker" in url], source.asked


def test_an_untrusted_signer_is_refused_before_its_signature_is_checked() -> None:
    # A bad signature by an untrusted certificate: "untrusted" (the path is sought first and
    # the GOST arithmetic is never paid for), not "bad_signature".
    stranger = pki.make_root("Stranger", "gost512")
    signer = person("gost512", issuer=stranger)
    der = pki.sign_cms(CONTENT, signer, tamper="signature")
    assert run(verify_with(checker(), der)).reason is Reason.UNTRUSTED
    # Trusted, the same tampering is a bad signature.
    der = pki.sign_cms(CONTENT, person("gost512"), tamper="signature")
    assert run(verify_with(checker(), der)).reason is Reason.BAD_SIGNATURE


def test_a_certificate_signed_by_an_end_entity_is_untrusted_and_its_urls_never_asked() -> None:
    # The holder of a trusted qualified certificate (no CA bit) signs a certificate of their
    # own with their key, naming URLs of their choice, and sends their certificate as chain.
    legit = person("p256")
    mine = pki.make_person(
        legit,
        "p256",
        snils="11223344595",
        surname="Иванова",
        given_names="Мария Петровна",
        crl_url="http://attacker.example/huge.crl",
        ocsp_url="http://attacker.example/ocsp",
    )
    source = Recording()
    der = pki.sign_cms(CONTENT, mine, chain=[legit.certificate])
    result = run(verify_with(checker(anchor(root("p256")), revocation=source), der))
    assert result.reason is Reason.UNTRUSTED, result
    assert source.asked == []
    # No signature is even checked with the end entity's key.
    counted = Counting(algorithms_named(["pyca"]))
    with pytest.raises(PathRefused):
        candidate_paths(
            mine.certificate,
            [legit.certificate],
            parsed_anchors((anchor(root("p256")),)),
            counted,  # type: ignore[arg-type]
        )
    assert counted.calls == 0


def test_a_ca_whose_key_usage_lacks_key_cert_sign_issues_nothing() -> None:
    top = root("p256")
    ca = pki.make_intermediate(top, "Signing-only CA", "p256", crl_url="http://ca.test/root.crl")
    signing_only = resigned(
        ca,
        top,
        drop={"key_usage"},
        add=(pki._key_usage(("digital_signature", "crl_sign")),),
    )
    signer = person("p256", issuer=ca, crl_url="http://attacker.test/ca.crl")
    source = Recording()
    der = pki.sign_cms(CONTENT, signer, chain=[signing_only.certificate])
    result = run(verify_with(checker(anchor(top), revocation=source), der))
    assert result.reason is Reason.UNTRUSTED, result
    assert source.asked == []


def test_a_path_longer_than_a_ca_s_path_length_constraint_is_not_sought() -> None:
    top = root("p256")
    ca = pki.make_intermediate(top, "Issuing CA", "p256", crl_url="http://ca.test/root.crl")
    # ``ca`` says pathLenConstraint 0: no CA may stand below it.
    sub = pki.make_intermediate(ca, "Sub CA", "p256", crl_url="http://attacker.test/sub.crl")
    signer = person("p256", issuer=sub, crl_url="http://attacker.test/signer.crl")
    source = Recording()
    der = pki.sign_cms(CONTENT, signer, chain=[sub.certificate, ca.certificate])
    result = run(verify_with(checker(anchor(top), revocation=source), der))
    assert result.reason is Reason.UNTRUSTED, result
    assert source.asked == []
