"""Which passwords may be set: the ``portal`` rule and NIST SP 800-63B rev. 4 (``nist``)."""

from __future__ import annotations

import string

from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from idp.accounts.password_policy import MAX_LENGTH, is_common, password_problems
from idp.security.passwords import normalize

MANY = settings(max_examples=1000, deadline=None)
SOME = settings(max_examples=300, deadline=None)
PRINTABLE = string.ascii_letters + string.digits + string.punctuation + " "
NAME_CLASH = "must not contain your name or contacts"

# Text a person can type: no surrogates, no control characters.
typed = st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"])
CYRILLIC = "".join(chr(c) for c in range(0x410, 0x450)) + "Ёё"
# Letters people's names are written in here (exotic case rules such as Turkish dotless i
# would need locale-aware folding, which is not promised).
names = st.text(string.ascii_letters + CYRILLIC + "éèçñßøåæœ'-", min_size=3, max_size=20)


def portal_ok(password: str) -> bool:
    return (
        not is_common(normalize(password))  # the blocklist is data; tested with its own rules
        and 8 <= len(password) <= MAX_LENGTH
        and any(c in string.ascii_uppercase for c in password)
        and any(c in string.ascii_lowercase for c in password)
        and any(c in string.digits for c in password)
    )


# --- portal --------------------------------------------------------------------------------


@MANY
@given(st.text(PRINTABLE, max_size=300))
@example("Abcdef12")
@example("Kx7mQ2pw")
@example("Kx7mQ2p")
@example("abcdefg1")
@example("ABCDEFG1")
@example("Abcdefgh")
def test_portal_accepts_exactly_the_composition_rule(password: str) -> None:
    assert (password_problems(password, "portal", []) == []) == portal_ok(password)


@MANY
@given(st.text(PRINTABLE, min_size=5, max_size=100))
def test_portal_names_each_missing_class(body: str) -> None:
    assume(not is_common(normalize("Aa1" + body + "xxxxx")))
    for missing, alphabet in (
        ("upper-case", string.ascii_uppercase),
        ("lower-case", string.ascii_lowercase),
        ("digit", string.digits),
    ):
        stripped = "".join(c for c in body if c not in alphabet)
        complete = "Aa1" + stripped + "xxxxx"
        without = "".join(c for c in complete if c not in alphabet)
        assert password_problems(complete, "portal", []) == []
        problems = password_problems(without, "portal", [])
        assert any(missing in p for p in problems), (without, problems)


def test_portal_length_bounds() -> None:
    assert password_problems("Kx7mQ2p", "portal", []) == ["must be at least 8 characters"]
    assert password_problems("Kx7mQ2pw", "portal", []) == []
    assert password_problems("Kx7mQ2pw" * 32, "portal", []) == []
    assert password_problems("Kx7mQ2pw" * 32 + "z", "portal", []) == [
        f"must be at most {MAX_LENGTH} characters"
    ]


# --- nist ----------------------------------------------------------------------------------


@MANY
@given(st.text(typed, min_size=64, max_size=MAX_LENGTH))
@example("пароль " * 10)
@example("密码" * 40)
@example("🔐" * 64)
@example("e\u0301" * 40)  # NFD: 80 code points, 40 characters once composed
@example("\ufdfa" * 64)  # one code point each; NFKC spells each out in 18 letters
@example("\u3300" * 64)  # "アパート" squared: NFKC gives four characters
def test_nist_accepts_any_64_to_256_code_points(password: str) -> None:
    # SP 800-63B-4 §3.1.1.2: no composition rules; at least 64 characters SHOULD be allowed,
    # and "each Unicode code point SHALL be counted as a single character".
    assume(not is_common(normalize(password)))
    assert password_problems(password, "nist", []) == []


@MANY
@given(st.text(typed, max_size=14))
def test_nist_refuses_under_15_code_points(password: str) -> None:
    assert "must be at least 15 characters" in password_problems(password, "nist", [])


@MANY
@given(st.text(typed, min_size=15, max_size=63))
def test_nist_has_no_composition_rules(password: str) -> None:
    problems = password_problems(password, "nist", [])
    assert not any("contain a" in p or "contain an" in p for p in problems)


def test_nist_is_not_the_portal_rule() -> None:
    assert password_problems("violet kettle under nine bridges", "nist", []) == []
    assert password_problems("violet kettle under nine bridges", "portal", []) != []
    assert password_problems("Kx7mQ2pw", "nist", []) == ["must be at least 15 characters"]
    assert password_problems("x" * (MAX_LENGTH + 1), "nist", []) == [
        f"must be at most {MAX_LENGTH} characters"
    ]


# --- personal words ------------------------------------------------------------------------


@SOME
@given(
    policy=st.sampled_from(["portal", "nist"]),
    name=names,
    before=st.text(PRINTABLE, max_size=20),
    after=st.text(PRINTABLE, max_size=20),
    case=st.sampled_from([str, str.upper, str.lower, str.title]),
)
@example(policy="nist", name="Петров", before="", after="-1234567890Aa", case=str.upper)
@example(policy="portal", name="ivan", before="Aa1", after="", case=str.title)
# A name entered in full-width letters (an East Asian keyboard): the password is compared
# after NFKC, so the name must be too.
@example(policy="portal", name="Ｉｖａｎ", before="Aa1", after="", case=str)
def test_a_password_containing_the_name_is_refused(
    policy: str, name: str, before: str, after: str, case: object
) -> None:
    assert callable(case)
    password = before + case(name) + after
    assert NAME_CLASH in password_problems(password, policy, [name, "other"])


@SOME
@given(policy=st.sampled_from(["portal", "nist"]), password=st.text(PRINTABLE, max_size=40))
def test_short_personal_words_are_ignored(policy: str, password: str) -> None:
    assert NAME_CLASH not in password_problems(password + "Ли", policy, ["Ли", "", "  "])


def test_contacts_count_as_personal_words() -> None:
    problems = password_problems("Call+79991234567me", "portal", ["+79991234567"])
    assert problems == [NAME_CLASH]


@MANY
@given(
    st.text(max_size=300),
    st.sampled_from(["portal", "nist"]),
    st.lists(st.text(max_size=10), max_size=3),
)
def test_the_policy_never_raises(password: str, policy: str, personal: list[str]) -> None:
    problems = password_problems(password, policy, personal)
    assert all(isinstance(p, str) and p for p in problems)
