"""Hostile input never escapes the checker: random bytes and mutated valid CMS (bit flips,
truncations) give a Verification, ``malformed`` or another reason."""

from __future__ import annotations

from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idp.signatures.checker import SignatureChecker
from idp.signatures.dev import pki
from idp.signatures.result import Reason, Verification
from tests.support.signature_kit import (
    CONTENT,
    CrlsInMemory,
    checker,
    crls,
    person,
    run,
    verify_with,
)


@cache
def valid() -> bytes:
    return pki.sign_cms(CONTENT, person("p256"))


@cache
def revocation() -> CrlsInMemory:
    # Made once: signing the four CRLs (GOST 512 in pure Python among them) for every
    # example was most of these tests' time. The source keeps no state between examples.
    return crls()


def fresh() -> SignatureChecker:
    return checker(revocation=revocation())


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.one_of(st.binary(max_size=600), st.text(max_size=300)))
def test_random_input(data: bytes | str) -> None:
    result = run(verify_with(fresh(), data))
    assert isinstance(result, Verification)
    assert result.reason is not None


@FUZZ
@given(st.data())
def test_mutated_cms(data: st.DataObject) -> None:
    der = bytearray(valid())
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(der) - 1))
        der[position] ^= 1 << data.draw(st.integers(0, 7))
    result = run(verify_with(fresh(), bytes(der)))
    assert isinstance(result, Verification)
    assert result.reason is not Reason.REVOKED  # a flip never passes as something else's fact


@FUZZ
@given(st.integers(0, 2000))
def test_truncated_cms(cut: int) -> None:
    der = valid()
    result = run(verify_with(fresh(), der[: min(cut, len(der) - 1)]))
    assert result.reason is Reason.MALFORMED
