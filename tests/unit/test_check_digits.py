"""Check digits of SNILS, INN (10 and 12), OGRN and OGRNIP: the known values of the research
notes (§B2, synthetic numbers, cross-checked with python-stdnum where it is right), and the
algorithms' properties over generated numbers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idp.levels.personal_data.check_digits import (
    inn10_check,
    inn10_valid,
    inn12_checks,
    inn12_valid,
    inn_valid,
    ogrn_check,
    ogrn_valid,
    ogrnip_check,
    ogrnip_valid,
    snils_checksum,
    snils_valid,
    snils_with_check,
)

MANY = settings(max_examples=500, deadline=None)
DIGITS = "0123456789"


def digits(n: int) -> st.SearchStrategy[str]:
    return st.text(DIGITS, min_size=n, max_size=n)


# --- known values (notes §B2) -----------------------------------------------------------------

VALID_SNILS = [
    "43134012718",
    "08765430300",  # sum 202 → 202 mod 101 = 0 → 00
    "00150062867",  # sum 67
    "02237015400",  # sum 100 → 00
    "50025008300",  # sum 101 → 00
    "21698256400",  # sum 201 → 100 → 00
    "50575806595",  # sum 196 → 95
    "11223344595",  # the pension fund's own worked example
]
VALID_INN10 = ["7777244350", "7724636629", "7766791489", "7749251518"]
VALID_INN12 = ["773390622613", "775719328234", "777199679974", "776775959845"]
VALID_OGRN = ["1027703807075", "1027732396086", "1027778504291", "1022200525819"]
VALID_OGRNIP = [
    "304776376905987",
    "304775817845092",
    "385768585948949",
    "304772025109232",  # remainder 12: python-stdnum 2.2 refuses it wrongly
]


@pytest.mark.parametrize("value", VALID_SNILS)
def test_known_valid_snils(value: str) -> None:
    assert snils_valid(value)
    assert snils_with_check(value[:9]) == value


@pytest.mark.parametrize(
    "value", ["43134012719", "08765430301", "4313401271", "431340127180", "4313401271a", ""]
)
def test_known_invalid_snils(value: str) -> None:
    assert not snils_valid(value)


@pytest.mark.parametrize("value", ["00100199842", "00000000199", "00000000100"])
def test_snils_up_to_001_001_998_has_no_check_number(value: str) -> None:
    assert snils_valid(value)


@pytest.mark.parametrize("check", ["00", "01", "42", "99"])
def test_a_snils_body_of_nine_zeros_is_refused(check: str) -> None:
    assert not snils_valid("000000000" + check)


def test_the_first_snils_with_a_check_number_is_checked() -> None:
    good = snils_with_check("001001999")
    assert snils_valid(good)
    assert not snils_valid(good[:9] + f"{(int(good[9:]) + 1) % 100:02d}")


@pytest.mark.parametrize("value", VALID_INN10)
def test_known_valid_inn10(value: str) -> None:
    assert inn10_valid(value)
    assert inn_valid(value)
    assert not inn12_valid(value)


@pytest.mark.parametrize("value", VALID_INN12)
def test_known_valid_inn12(value: str) -> None:
    assert inn12_valid(value)
    assert inn_valid(value)
    assert not inn10_valid(value)


@pytest.mark.parametrize(
    "value", ["7777244351", "773390622614", "773390622603", "77772443", "77772443500", "777724435x"]
)
def test_known_invalid_inn(value: str) -> None:
    assert not inn_valid(value)


@pytest.mark.parametrize("value", VALID_OGRN)
def test_known_valid_ogrn(value: str) -> None:
    assert ogrn_valid(value)


@pytest.mark.parametrize(
    "value", ["1027703807076", "2027703807075", "102770380707", "3027703807075"]
)
def test_known_invalid_ogrn(value: str) -> None:
    assert not ogrn_valid(value)


@pytest.mark.parametrize("value", VALID_OGRNIP)
def test_known_valid_ogrnip(value: str) -> None:
    assert ogrnip_valid(value)


@pytest.mark.parametrize("value", ["304776376905988", "404776376905987", "30477637690598"])
def test_known_invalid_ogrnip(value: str) -> None:
    assert not ogrnip_valid(value)


def test_ogrnip_takes_the_last_digit_of_a_remainder_above_nine() -> None:
    body = "30477202510923"
    assert int(body) % 13 == 12
    assert ogrnip_check(body) == "2"


# --- properties ---------------------------------------------------------------------------


def _one_digit_changed(value: str, position: int, step: int) -> str:
    position %= len(value)
    changed = str((int(value[position]) + step) % 10)
    return value[:position] + changed + value[position + 1 :]


@MANY
@given(body=digits(9).filter(lambda d: int(d) > 1_001_998))
def test_a_snils_body_with_its_check_number_is_valid(body: str) -> None:
    value = body + f"{snils_checksum(body):02d}"
    assert snils_valid(value)
    assert 0 <= snils_checksum(body) <= 99


@MANY
@given(
    body=digits(9).filter(lambda d: int(d) > 1_001_998),
    check=digits(2),
)
def test_a_snils_with_any_other_check_number_is_invalid(body: str, check: str) -> None:
    assert snils_valid(body + check) == (int(check) == snils_checksum(body))


@MANY
@given(body=digits(9).filter(lambda d: int(d) > 1_001_998), step=st.integers(1, 9))
def test_changing_a_snils_check_digit_breaks_it(body: str, step: int) -> None:
    value = snils_with_check(body)
    for position in (9, 10):
        assert not snils_valid(_one_digit_changed(value, position, step))


@MANY
@given(body=digits(10), position=st.integers(0, 11), step=st.integers(1, 9))
def test_changing_any_one_digit_of_a_person_inn_breaks_it(
    body: str, position: int, step: int
) -> None:
    value = body + inn12_checks(body)
    assert inn12_valid(value)
    # The second check digit covers the first, so no single change can keep both right.
    assert not inn12_valid(_one_digit_changed(value, position, step))


@MANY
@given(body=digits(9), step=st.integers(1, 9))
def test_changing_an_inn10_check_digit_breaks_it(body: str, step: int) -> None:
    value = body + inn10_check(body)
    assert inn10_valid(value)
    assert not inn10_valid(_one_digit_changed(value, 9, step))


@MANY
@given(tail=digits(11), lead=st.sampled_from("15"), step=st.integers(1, 9))
def test_an_ogrn_body_with_its_check_digit_is_valid(tail: str, lead: str, step: int) -> None:
    body = lead + tail
    value = body + ogrn_check(body)
    assert ogrn_valid(value)
    assert not ogrn_valid(_one_digit_changed(value, 12, step))


@MANY
@given(tail=digits(13), step=st.integers(1, 9))
def test_an_ogrnip_body_with_its_check_digit_is_valid(tail: str, step: int) -> None:
    body = "3" + tail
    value = body + ogrnip_check(body)
    assert ogrnip_valid(value)
    assert not ogrnip_valid(_one_digit_changed(value, 14, step))


@MANY
@given(st.text(max_size=20))
def test_the_checks_never_raise_and_take_only_ascii_digits(value: str) -> None:
    for check in (snils_valid, inn_valid, ogrn_valid, ogrnip_valid):
        if check(value):
            assert value.isascii()
            assert value.isdigit()
