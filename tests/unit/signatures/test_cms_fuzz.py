"""``cms.open_cms`` and ``cms.check_signature`` on their own against hostile bytes: random
input, and valid RSA, ECDSA and GOST CMS mutated (bit flips, bytes overwritten, inserted,
deleted, cut short), with and without certificates given alongside. They return or raise
CmsRefused, never anything else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

from asn1crypto import cms
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idp.signatures.algorithms.registry import load_algorithms
from idp.signatures.cms import CmsRefused, SignedCms, check_signature, open_cms
from idp.signatures.dev import pki
from idp.signatures.result import Reason
from tests.support.signature_kit import CONTENT, person

ALGORITHMS = load_algorithms(["pyca", "gost"])
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ALGOS: tuple[pki.KeyAlgo, ...] = ("rsa2048", "p256", "gost256")


@cache
def valid(algo: pki.KeyAlgo) -> bytes:
    return pki.sign_cms(CONTENT, person(algo))


@cache
def signer(algo: pki.KeyAlgo) -> bytes:
    info = cms.ContentInfo.load(valid(algo))
    return bytes(info["content"]["certificates"][0].chosen.dump())


def check(der: bytes, certificates: tuple[bytes, ...] = ()) -> SignedCms | CmsRefused:
    now = datetime.now(UTC)
    try:
        opened = open_cms(
            der,
            CONTENT,
            certificates=certificates,
            signed_after=now - timedelta(minutes=5),
            signed_before=now + timedelta(minutes=5),
            algorithms=ALGORITHMS,
        )
        return check_signature(opened, ALGORITHMS)
    except CmsRefused as refused:
        found = refused
    assert found.detail, "a refusal says what failed"
    return found


def test_the_valid_ones_pass() -> None:
    for algo in ALGOS:
        assert isinstance(check(valid(algo)), SignedCms), algo


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes(data: bytes) -> None:
    result = check(data)
    assert isinstance(result, CmsRefused)
    assert result.reason is Reason.MALFORMED


@FUZZ
@given(st.binary(min_size=1, max_size=2000))
def test_random_bytes_behind_a_sequence_header(body: bytes) -> None:
    # Past the first tag, so that the parser goes further in.
    size = len(body).to_bytes(2, "big")
    check(b"\x30\x82" + size + body)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[pki.KeyAlgo, bytes]:
    algo = draw(st.sampled_from(ALGOS))
    der = bytearray(valid(algo))
    for _ in range(draw(st.integers(1, 6))):
        if not der:
            break
        position = draw(st.integers(0, len(der) - 1))
        action = draw(st.sampled_from(["flip", "set", "insert", "delete", "cut"]))
        if action == "flip":
            der[position] ^= 1 << draw(st.integers(0, 7))
        elif action == "set":
            der[position] = draw(st.integers(0, 255))
        elif action == "insert":
            der[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del der[position : position + draw(st.integers(1, 8))]
        else:
            del der[position:]
    return algo, bytes(der)


@FUZZ
@given(mutated())
def test_mutated_cms(case: tuple[pki.KeyAlgo, bytes]) -> None:
    algo, der = case
    result = check(der)
    if isinstance(result, SignedCms):  # a change the signature does not cover
        assert result.signer == signer(algo)


@FUZZ
@given(mutated(), st.lists(st.binary(max_size=300), max_size=2))
def test_mutated_cms_with_certificates_alongside(
    case: tuple[pki.KeyAlgo, bytes], junk: list[bytes]
) -> None:
    algo, der = case
    check(der, (signer(algo), *junk))
