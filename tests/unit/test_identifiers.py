"""Properties of the identifiers a person logs in with: SNILS, phone, e-mail."""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from idp.accounts.identifiers import (
    classify_login,
    format_snils,
    login_candidates,
    normalize_phone,
    normalize_snils,
    snils_checksum,
)

MANY = settings(max_examples=1000, deadline=None)
DIGITS = "0123456789"
E164 = re.compile(r"\+[1-9][0-9]{7,14}")

nine_digits = st.text(DIGITS, min_size=9, max_size=9)
two_digits = st.text(DIGITS, min_size=2, max_size=2)
separators = st.sampled_from(["", " ", "-", "  ", "\t", "\u00a0"])


def reference_check_number(nine: str) -> int:
    """The Pension Fund rule in its compact form: weights 9..1, then (sum mod 101) mod 100."""
    total = sum(int(d) * (9 - i) for i, d in enumerate(nine))
    return (total % 101) % 100


def reference_valid(eleven: str) -> bool:
    """Numbers up to 001-001-998 predate the check number: any two digits are accepted (but a
    body of nine zeros was never issued)."""
    if int(eleven[:9]) == 0:
        return False
    return int(eleven[:9]) <= 1_001_998 or reference_check_number(eleven[:9]) == int(eleven[9:])


# --- SNILS ---------------------------------------------------------------------------------


@MANY
@given(nine=nine_digits, check=two_digits)
@example(nine="112233445", check="95")  # the Pension Fund's own worked example
@example(nine="000000000", check="00")
@example(nine="000000000", check="42")
@example(nine="999999999", check="00")
@example(nine="001001998", check="42")  # the last number before the check number: format only
@example(nine="001001999", check="42")  # the first one with it
def test_snils_is_valid_iff_the_check_number_is_right(nine: str, check: str) -> None:
    expected = nine + check if reference_valid(nine + check) else None
    assert normalize_snils(nine + check) == expected


@MANY
@given(nine=nine_digits)
def test_snils_checksum_agrees_with_the_reference_rule(nine: str) -> None:
    assert snils_checksum(nine) == reference_check_number(nine)
    assert 0 <= snils_checksum(nine) <= 99


@MANY
@given(nine=nine_digits.filter(lambda d: int(d) > 0), a=separators, b=separators, c=separators)
def test_formatted_and_compact_snils_are_the_same(nine: str, a: str, b: str, c: str) -> None:
    compact = nine + f"{reference_check_number(nine):02d}"
    formatted = format_snils(compact)
    assert re.fullmatch(r"\d{3}-\d{3}-\d{3} \d{2}", formatted)
    assert normalize_snils(formatted) == compact
    assert normalize_snils(compact) == compact
    loose = f"{compact[:3]}{a}{compact[3:6]}{b}{compact[6:9]}{c}{compact[9:]}"
    assert normalize_snils(loose) == compact
    assert classify_login(formatted) == ("snils", compact)


@MANY
@given(st.text(max_size=40))
@example("١٢٣٤٥٦٧٨٩٦٤")  # Arabic-Indic digits are digits, but not ASCII ones
@example("123-456-789 6４")  # a full-width digit
@example("12345678964\n")
def test_snils_normaliser_never_raises_and_returns_eleven_ascii_digits(raw: str) -> None:
    result = normalize_snils(raw)
    if result is not None:
        assert re.fullmatch(r"[0-9]{11}", result)
        assert reference_valid(result)


@MANY
@given(nine=nine_digits, position=st.integers(0, 10), digit=st.sampled_from(DIGITS))
def test_one_wrong_digit_is_caught_unless_it_keeps_the_check(
    nine: str, position: int, digit: str
) -> None:
    good = nine + f"{reference_check_number(nine):02d}"
    typo = good[:position] + digit + good[position + 1 :]
    assert (normalize_snils(typo) is not None) == reference_valid(typo)


@MANY
@given(check=two_digits, a=separators)
def test_a_snils_body_of_nine_zeros_is_never_an_identifier(check: str, a: str) -> None:
    assert normalize_snils(f"000-000-000{a}{check}") is None
    assert all(kind != "snils" for kind, _ in login_candidates(f"000-000-000 {check}"))


# --- phone ---------------------------------------------------------------------------------


phone_like = st.one_of(
    st.text(max_size=30),
    st.text(alphabet="+8 -().0123456789", max_size=22),
    st.builds(lambda d: "+" + d, st.text(DIGITS, max_size=17)),
    st.builds(lambda d: "8" + d, st.text(DIGITS, min_size=10, max_size=10)),
)


@MANY
@given(phone_like)
@example("8 (999) 123-45-67")
@example("+7 999 123 45 67")
@example("+٧٩٩٩١٢٣٤٥٦٧")
def test_phone_normaliser_never_raises_and_is_idempotent(raw: str) -> None:
    result = normalize_phone(raw)
    if result is not None:
        assert E164.fullmatch(result), result
        assert normalize_phone(result) == result


@MANY
@given(st.text(DIGITS, min_size=10, max_size=10), separators)
def test_a_russian_national_number_becomes_plus_seven(rest: str, sep: str) -> None:
    national = "8" + sep + rest[:3] + sep + rest[3:]
    assert normalize_phone(national) == "+7" + rest
    assert normalize_phone("+7" + rest) == "+7" + rest


# --- the login field -----------------------------------------------------------------------


@MANY
@given(st.text(max_size=80))
@example("a@b")
@example("@")
@example("ivan@xn--80ak6aa92e.com")
@example("ivan@пример.рф")
@example("x" * 321)
def test_classify_login_never_raises(raw: str) -> None:
    result = classify_login(raw)
    if result is not None:
        kind, value = result
        assert kind in ("phone", "email", "snils")
        assert value == value.strip()
        assert classify_login(value) == result  # a normalised login classifies the same way


# --- a login read two ways (issue 8, item 14) --------------------------------------------


@MANY
@given(nine=st.text(DIGITS, min_size=8, max_size=8).map(lambda s: "8" + s))
def test_an_eleven_digit_snils_starting_with_8_is_also_a_phone(nine: str) -> None:
    digits = nine + f"{snils_checksum(nine):02d}"
    assert login_candidates(digits) == [("snils", digits), ("phone", "+7" + digits[1:])]
    assert classify_login(digits) == ("snils", digits)


def test_a_plain_phone_or_email_is_read_one_way() -> None:
    assert login_candidates("+7 999 123-45-67") == [("phone", "+79991234567")]
    assert login_candidates("User@Example.ru") == [("email", "user@example.ru")]
    assert login_candidates("") == []
