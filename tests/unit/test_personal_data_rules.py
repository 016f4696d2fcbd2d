"""The rules of a person's data (``idp.levels.personal_data.validation``), shared by the REST
API and the "My data" page: each field's refusals name the field and a stable code, good data is
normalised, and generated valid data always passes."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idp.errors import ValidationFailed
from idp.levels.personal_data.check_digits import inn10_check, inn12_checks, snils_with_check
from idp.levels.personal_data.validation import CODES, FIELDS, check, parse

TODAY = date(2026, 6, 15)
MANY = settings(max_examples=300, deadline=None)

RU: dict[str, Any] = {
    "last_name": "Петрова",
    "first_name": "Анна",
    "middle_name": "Сергеевна",
    "sex": "female",
    "birth_date": "1990-05-17",
    "birth_place": "г. Москва",
    "citizenship": "RUS",
    "document_kind": "ru_passport",
    "document_series": "4506",
    "document_number": "123456",
    "document_issued_on": "2010-06-01",
    "document_issuer_code": "770-001",
    "document_issuer": "ОВД района Арбат г. Москвы",
    "snils": "431-340-127 18",
    "inn": "773390622613",
}
FOREIGN: dict[str, Any] = {
    "last_name": "Müller",
    "first_name": "Jörg",
    "sex": "male",
    "birth_date": "1985-02-03",
    "birth_place": "Berlin",
    "citizenship": "DEU",
    "document_kind": "foreign_passport",
    "document_number": "C01X00T47",
    "document_issued_on": "2020-01-10",
}


def errors_of(raw: dict[str, Any]) -> dict[str, str]:
    data, errors = check(raw, today=TODAY)
    assert (data is None) == bool(errors)
    return {e.field: e.code for e in errors}


def test_good_russian_data_is_normalised() -> None:
    data = parse(
        {
            **RU,
            "last_name": "  Петрова ",
            "first_name": "Анна  Мария",
            "document_series": "45 06",
            "document_issuer_code": "770001",
            "snils": "43134012718",
        },
        today=TODAY,
    )
    assert data.last_name == "Петрова"
    assert data.first_name == "Анна Мария"
    assert data.document_series == "4506"
    assert data.document_issuer_code == "770-001"
    assert data.snils == "43134012718"
    assert data.birth_date == date(1990, 5, 17)
    assert data.document_issued_on == date(2010, 6, 1)


def test_names_are_nfc() -> None:
    decomposed = "Е\u0308жикова"  # Е + combining diaeresis: NFC gives Ё
    assert parse({**RU, "last_name": decomposed}, today=TODAY).last_name == "Ёжикова"


def test_good_foreign_data_needs_no_snils_series_or_issuer() -> None:
    data = parse(FOREIGN, today=TODAY)
    assert data.snils is None
    assert data.document_series is None
    assert data.document_issuer_code is None
    assert data.document_number == "C01X00T47"


def test_an_empty_middle_name_is_none() -> None:
    assert parse({**RU, "middle_name": ""}, today=TODAY).middle_name is None
    assert parse({**RU, "middle_name": "   "}, today=TODAY).middle_name is None


def test_parse_raises_validation_failed_naming_fields() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse({**RU, "snils": "43134012719", "sex": "x"}, today=TODAY)
    errors = caught.value.extra["errors"]
    assert {e["field"] for e in errors} == {"snils", "sex"}
    for error in errors:
        assert error["message"] == CODES[error["code"]]
        assert "43134012719" not in error["message"]


@pytest.mark.parametrize("field", [f for f in FIELDS if f not in ("middle_name", "inn")])
def test_every_required_field_is_required(field: str) -> None:
    raw = {k: v for k, v in RU.items() if k != field}
    assert field in errors_of(raw) or field == "document_kind"
    if field == "document_kind":  # without a kind, the citizenship cannot be matched to it
        assert errors_of(raw)["document_kind"] == "required"


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize(
    ("value", "code"),
    [
        (123, "type"),
        (1.5, "type"),
        (True, "type"),
        ([], "type"),
        ({}, "type"),
        ("a\x00b", "control_characters"),
        ("a\nb", "control_characters"),
        ("a\x85b", "control_characters"),
        ("a\u200bb", "invisible_characters"),
        ("a\u202eb", "invisible_characters"),
        ("a\ud800b", "encoding"),
        ("x" * 1001, "too_long"),
    ],
    ids=[
        "int",
        "float",
        "bool",
        "list",
        "dict",
        "nul",
        "newline",
        "c1",
        "zero-width",
        "bidi",
        "surrogate",
        "huge",
    ],
)
def test_bad_values_in_every_field(field: str, value: object, code: str) -> None:
    assert errors_of({**RU, field: value}).get(field) == code


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("last_name", "Ivanova", "name_ru"),
        ("last_name", "Петрова1", "name_ru"),
        ("last_name", "-Петрова", "name_ru"),
        ("last_name", "Петрова--Водкина", "name_ru"),
        ("last_name", "Ә" + "лиева", "name_ru"),
        ("first_name", "а" * 101, "too_long"),
        ("middle_name", "Sergeevna", "name_ru"),
        ("sex", "Female", "choice"),
        ("sex", "other", "choice"),
        ("birth_date", "17.05.1990", "date_format"),
        ("birth_date", "1990-02-30", "date_invalid"),
        ("birth_date", "１９９０-05-17", "date_format"),
        ("birth_date", "2026-06-16", "birth_future"),
        ("birth_date", "1899-12-31", "birth_too_early"),
        ("birth_date", "2012-06-16", "too_young"),
        ("birth_place", "м" * 201, "too_long"),
        ("citizenship", "rus", "citizenship"),
        ("citizenship", "RU", "citizenship"),
        ("citizenship", "DEU", None),  # the document must change too (below)
        ("document_kind", "foreign_passport", "ru_citizen_document"),
        ("document_kind", "id_card", "choice"),
        ("document_series", "450", "ru_series"),
        ("document_series", "45A6", "ru_series"),
        ("document_number", "12345", "ru_number"),
        ("document_number", "1234567", "ru_number"),
        ("document_issued_on", "2026-06-16", "issued_future"),
        ("document_issued_on", "1990-05-16", "issued_before_birth"),
        ("document_issued_on", "2004-05-16", "issued_before_14"),
        ("document_issued_on", "2010-13-01", "date_invalid"),
        ("document_issuer_code", "77-0001", "issuer_code"),
        ("document_issuer_code", "7700011", "issuer_code"),
        ("document_issuer", "", "required"),
        ("document_issuer", "о" * 201, "too_long"),
        ("snils", "", "snils_required"),
        ("snils", "43134012719", "snils_check"),
        ("snils", "4313401271", "snils_format"),
        ("snils", "431340127１8", "snils_format"),
        ("snils", "000-000-000 00", "snils_check"),
        ("snils", "00000000042", "snils_check"),
        ("inn", "7777244350", "inn_legal_entity"),
        ("inn", "7777244351", "inn_format"),
        ("inn", "773390622614", "inn_check"),
        ("inn", "77339062261", "inn_format"),
        ("inn", "77339O622613", "inn_format"),
    ],
)
def test_the_rules_of_each_field(field: str, value: str, code: str | None) -> None:
    found = errors_of({**RU, field: value})
    if code is None:
        assert field not in found
    else:
        assert found.get(field) == code, found


def test_a_passport_issued_on_the_14th_birthday_is_accepted() -> None:
    assert errors_of({**RU, "birth_date": "1996-06-01", "document_issued_on": "2010-06-01"}) == {}


def test_someone_turning_14_today_may_hold_a_russian_passport() -> None:
    assert errors_of({**RU, "birth_date": "2012-06-15", "document_issued_on": "2026-06-15"}) == {}


def test_a_29_february_birthday_turns_14_on_1_march() -> None:
    born = {**RU, "birth_date": "2008-02-29"}
    assert errors_of({**born, "document_issued_on": "2022-02-28"}) == {
        "document_issued_on": "issued_before_14"
    }
    assert errors_of({**born, "document_issued_on": "2022-03-01"}) == {}


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("last_name", "Müller-Петров", "name_mixed"),
        ("last_name", "Ἀθηνᾶ", "name_letters"),
        ("last_name", "Li 2", "name_letters"),
        ("document_kind", "ru_passport", "foreign_citizen_document"),
        ("document_series", "AB-12", "foreign_series"),
        ("document_series", "A" * 11, "foreign_series"),
        ("document_number", "C01X00T47Z" * 2 + "1", "foreign_number"),
        ("document_number", "№123", "foreign_number"),
        ("document_issuer_code", "770-001", "issuer_code_foreign"),
        ("snils", "43134012719", "snils_check"),
        ("document_issued_on", "1985-02-02", "issued_before_birth"),
    ],
)
def test_the_rules_of_a_foreign_passport(field: str, value: str, code: str) -> None:
    assert errors_of({**FOREIGN, field: value}).get(field) == code


def test_a_foreign_citizen_may_give_a_snils_and_a_cyrillic_name() -> None:
    data = parse({**FOREIGN, "last_name": "Мюллер", "snils": "43134012718"}, today=TODAY)
    assert data.snils == "43134012718"
    assert data.last_name == "Мюллер"


def test_a_young_foreigner_is_not_held_to_the_russian_passport_age() -> None:
    young = {**FOREIGN, "birth_date": "2020-01-01", "document_issued_on": "2021-01-01"}
    assert errors_of(young) == {}


def test_unknown_keys_are_ignored_for_the_page() -> None:
    assert errors_of({**RU, "csrf_token": "x"}) == {}


# --- properties ---------------------------------------------------------------------------

digits = st.text("0123456789", min_size=1, max_size=1)


@st.composite
def russian_data(draw: st.DrawFn) -> dict[str, Any]:
    born = draw(st.dates(date(1900, 1, 1), TODAY.replace(year=TODAY.year - 14)))
    fourteenth = (
        born.replace(year=born.year + 14)
        if (born.month, born.day) != (2, 29)
        else (date(born.year + 14, 3, 1))
    )
    issued = draw(st.dates(fourteenth, TODAY))
    snils_body = draw(
        st.text("0123456789", min_size=9, max_size=9).filter(lambda d: int(d) > 1_001_998)
    )
    inn_body = draw(st.text("0123456789", min_size=10, max_size=10))
    return {
        **RU,
        "birth_date": born.isoformat(),
        "document_issued_on": issued.isoformat(),
        "snils": snils_with_check(snils_body),
        "inn": draw(st.one_of(st.none(), st.just(inn_body + inn12_checks(inn_body)))),
        "document_series": draw(st.text("0123456789", min_size=4, max_size=4)),
        "document_number": draw(st.text("0123456789", min_size=6, max_size=6)),
    }


@MANY
@given(russian_data())
def test_generated_valid_data_passes(raw: dict[str, Any]) -> None:
    data = parse(raw, today=TODAY)
    assert data.snils == raw["snils"]
    assert data.inn == raw["inn"]


@MANY
@given(russian_data(), st.integers(9, 10), st.integers(1, 9))
def test_a_changed_snils_check_digit_is_refused(
    raw: dict[str, Any], position: int, step: int
) -> None:
    snils = raw["snils"]
    wrong = snils[:position] + str((int(snils[position]) + step) % 10) + snils[position + 1 :]
    assert errors_of({**raw, "snils": wrong}) == {"snils": "snils_check"}


@MANY
@given(russian_data(), st.integers(0, 11), st.integers(1, 9))
def test_a_changed_inn_digit_is_refused(raw: dict[str, Any], position: int, step: int) -> None:
    inn = raw["inn"] or "773390622613"
    wrong = inn[:position] + str((int(inn[position]) + step) % 10) + inn[position + 1 :]
    assert errors_of({**raw, "inn": wrong}) == {"inn": "inn_check"}


@MANY
@given(st.text(st.characters(codec="utf-8"), min_size=9, max_size=9))
def test_any_legal_entity_inn_is_refused_as_such(body: str) -> None:
    nine = "".join(c for c in body if c in "0123456789").ljust(9, "7")[:9]
    assert errors_of({**RU, "inn": nine + inn10_check(nine)}) == {"inn": "inn_legal_entity"}


@MANY
@given(
    st.dictionaries(
        st.sampled_from(FIELDS), st.one_of(st.text(max_size=30), st.none(), st.integers())
    )
)
def test_check_never_raises_and_names_only_fields(raw: dict[str, Any]) -> None:
    data, errors = check({**RU, **raw}, today=TODAY)
    assert (data is None) == bool(errors)
    assert {e.field for e in errors} <= set(FIELDS)
    assert all(e.code in CODES for e in errors)


def test_today_moves_the_age_limit() -> None:
    turning = {**RU, "birth_date": "2012-06-16", "document_issued_on": "2026-06-16"}
    assert errors_of(turning)["birth_date"] == "too_young"
    assert check(turning, today=TODAY + timedelta(days=1))[1] == []


def test_errors_come_in_the_order_of_the_fields() -> None:
    raw = {**RU, "inn": "1", "last_name": "x1", "citizenship": "ru", "sex": "?"}
    _, errors = check(raw, today=TODAY)
    assert [e.field for e in errors] == ["last_name", "sex", "citizenship", "inn"]


# --- Unicode tricks ---------------------------------------------------------------------------

IGNORABLE = [
    "\u3164",  # HANGUL FILLER: a "letter" that shows nothing
    "\u034f",  # COMBINING GRAPHEME JOINER
    "\u00ad",  # SOFT HYPHEN
    *(chr(c) for c in range(0x200B, 0x2010)),
    *(chr(c) for c in range(0x2060, 0x2070)),
    *(chr(c) for c in range(0xFE00, 0xFE10)),
    "\ufeff",
    "\uffa0",
    "\U000e0041",  # a tag character
]
BIDI = [*(chr(c) for c in range(0x202A, 0x202F)), *(chr(c) for c in range(0x2066, 0x206A))]


@pytest.mark.parametrize("field", ["birth_place", "document_issuer"])
@pytest.mark.parametrize("char", IGNORABLE + BIDI, ids=lambda c: f"U+{ord(c):04X}")
def test_free_text_refuses_invisible_and_bidi_characters(field: str, char: str) -> None:
    assert errors_of({**RU, field: f"г. Мос{char}ква"}) == {field: "invisible_characters"}


@pytest.mark.parametrize("field", ["birth_place", "document_issuer"])
def test_free_text_refuses_more_than_two_combining_marks_in_a_row(field: str) -> None:
    assert errors_of({**RU, field: "г. Москва\u0301\u0308"}) == {}  # two marks: accepted
    assert errors_of({**RU, field: "г. Моск\u0301\u0308\u0301ва"}) == {field: "combining_marks"}
    zalgo = "г. Москва" + "\u0336" * 20
    assert errors_of({**RU, field: zalgo}) == {field: "combining_marks"}


@pytest.mark.parametrize("field", ["last_name", "first_name", "middle_name"])
@pytest.mark.parametrize("char", IGNORABLE, ids=lambda c: f"U+{ord(c):04X}")
def test_names_refuse_invisible_characters(field: str, char: str) -> None:
    found = errors_of({**FOREIGN, field: f"Mül{char}ler"})
    assert set(found) == {field}
    assert found[field] in ("invisible_characters", "name_letters")


def test_a_ligature_in_a_name_becomes_its_letters() -> None:
    data = parse(
        {
            **FOREIGN,
            "first_name": "Jo\ufb01na",
            "last_name": "Ｍüller",
            "middle_name": "Anna\u02b0",
        },
        today=TODAY,
    )
    assert data.first_name == "Jofina"
    assert data.last_name == "Müller"
    assert data.middle_name == "Annah"  # a modifier letter h is an h


@pytest.mark.parametrize(
    "name",
    [
        "\u1d00nna",  # LATIN LETTER SMALL CAPITAL A
        "\u0250nna",  # LATIN SMALL LETTER TURNED A (IPA)
        "Ann\u0251",  # LATIN SMALL LETTER ALPHA (IPA)
        "\u026anna",  # LATIN LETTER SMALL CAPITAL I (IPA)
        "Anna\u02bb",  # MODIFIER LETTER TURNED COMMA
        "\u01c0Anna",  # LATIN LETTER DENTAL CLICK (a bar)
        "\u1c80nna",  # CYRILLIC SMALL LETTER ROUNDED VE (Cyrillic Extended-C)
        "\u0561nna",  # ARMENIAN SMALL LETTER AYB
        "\u00b5ller",  # MICRO SIGN: NFKC makes it a Greek mu
    ],
)
def test_a_foreign_name_refuses_look_alike_letters(name: str) -> None:
    assert errors_of({**FOREIGN, "first_name": name}) == {"first_name": "name_letters"}


@pytest.mark.parametrize(
    "name", ["Łukasz", "Şahin", "Ștefan", "Țurcanu", "Øyvind", "Åsa", "Grüße", "Dvořák", "Čapek"]
)
def test_a_foreign_name_keeps_the_letters_of_european_names(name: str) -> None:
    assert parse({**FOREIGN, "last_name": name}, today=TODAY).last_name == name


def test_a_russian_name_in_nfkc_is_the_same_name() -> None:
    decomposed = "Соловьи\u0306"  # й as и and a combining breve
    assert parse({**RU, "last_name": decomposed}, today=TODAY).last_name == "Соловьй"
