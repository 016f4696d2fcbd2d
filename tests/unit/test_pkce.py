"""PKCE (RFC 7636), S256 only."""

from __future__ import annotations

import string

from hypothesis import example, given, settings
from hypothesis import strategies as st

from idp.oidc.pkce import s256, valid_challenge, verifier_matches

MANY = settings(max_examples=1000, deadline=None)
UNRESERVED = string.ascii_letters + string.digits + "-._~"  # RFC 7636 §4.1


def test_s256_matches_rfc_7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert s256(verifier) == challenge
    assert valid_challenge(challenge)
    assert verifier_matches(verifier, challenge)
    assert not verifier_matches(verifier, challenge[:-1] + "N")
    assert not verifier_matches(verifier[:-1] + "Y", challenge)


@MANY
@given(st.text(UNRESERVED, max_size=200))
@example("a" * 42)
@example("a" * 43)
@example("a" * 128)
@example("a" * 129)
def test_verifier_length_is_43_to_128(verifier: str) -> None:
    assert verifier_matches(verifier, s256(verifier)) == (43 <= len(verifier) <= 128)


@MANY
@given(
    st.text(UNRESERVED, min_size=43, max_size=128),
    st.integers(0, 127),
    st.characters(codec="utf-8", exclude_characters=UNRESERVED),
)
@example("a" * 43, 42, "\n")
@example("a" * 43, 0, "+")
@example("a" * 43, 10, "/")
@example("a" * 43, 10, "=")
def test_a_verifier_outside_the_unreserved_alphabet_never_matches(
    verifier: str, position: int, bad: str
) -> None:
    position %= len(verifier)
    tainted = verifier[:position] + bad + verifier[position + 1 :]
    assert not verifier_matches(tainted, s256(tainted))


@MANY
@given(st.text(UNRESERVED, min_size=43, max_size=128), st.text(UNRESERVED, min_size=43))
def test_a_different_verifier_never_matches(verifier: str, other: str) -> None:
    if other != verifier:
        assert not verifier_matches(other, s256(verifier))


@MANY
@given(st.text(max_size=200))
def test_challenges_are_43_base64url_characters(raw: str) -> None:
    assert valid_challenge(s256(raw))
    expected = len(raw) == 43 and all(c in string.ascii_letters + string.digits + "-_" for c in raw)
    assert valid_challenge(raw) == expected


@MANY
@given(
    st.one_of(st.text(max_size=200), st.text(UNRESERVED, min_size=43, max_size=128)),
    st.text(max_size=60),
)
@example("a" * 43, "é")
def test_verifier_matches_never_raises(verifier: str, challenge: str) -> None:
    assert verifier_matches(verifier, challenge) in (True, False)
