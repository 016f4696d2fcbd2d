"""The rules a person's data must meet, once, for the REST API and the "My data" page alike.

``parse(raw, today=…)`` takes the flat fields as sent (JSON values or form strings) and returns
a :class:`PersonalDataInput` with every value normalised, or raises ``ValidationFailed`` whose
``errors`` list each refused field: ``{"field", "code", "message"}``. ``code`` is stable (a page
translates it, see ``CODES``); ``message`` is English and never quotes the value. Keys that are
not fields (a form's CSRF token) are ignored here; the REST schema refuses them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from itertools import pairwise

from idp.errors import ValidationFailed
from idp.levels.personal_data.check_digits import inn10_valid, inn12_valid, snils_valid

RU_PASSPORT, FOREIGN_PASSPORT = "ru_passport", "foreign_passport"
DOCUMENT_KINDS = (RU_PASSPORT, FOREIGN_PASSPORT)
SEXES = ("male", "female")
RUSSIA = "RUS"
EARLIEST_BIRTH = date(1900, 1, 1)
PASSPORT_AGE = 14

NAME_MAX = 100
PLACE_MAX = 200
ISSUER_MAX = 200
FOREIGN_SERIES_MAX = 10
FOREIGN_NUMBER_MAX = 20
RAW_MAX = 1000  # anything longer is refused before it is looked at

FIELDS = (
    "last_name",
    "first_name",
    "middle_name",
    "sex",
    "birth_date",
    "birth_place",
    "citizenship",
    "document_kind",
    "document_series",
    "document_number",
    "document_issued_on",
    "document_issuer_code",
    "document_issuer",
    "snils",
    "inn",
)

# Every error code ``parse`` gives, with its English message (a page translates the code).
CODES: dict[str, str] = {
    "required": "This field is required.",
    "type": "Must be text.",
    "encoding": "Must be valid UTF-8 text.",
    "control_characters": "Must not contain control characters.",
    "invisible_characters": "Must not contain invisible or unassigned characters.",
    "combining_marks": "Too many accent marks on one letter.",
    "too_long": "Too long.",
    "name_ru": "Use Russian letters, spaces, hyphens and apostrophes, as in the passport.",
    "name_letters": "Use Latin or Cyrillic letters, spaces, hyphens and apostrophes.",
    "name_mixed": "Write the name in one alphabet, Latin or Cyrillic.",
    "choice": "Not one of the allowed values.",
    "date_format": "Give the date as YYYY-MM-DD.",
    "date_invalid": "This date does not exist.",
    "birth_future": "The birth date cannot be in the future.",
    "birth_too_early": "The birth date cannot be before 1900-01-01.",
    "too_young": "A Russian passport is issued from the age of 14.",
    "issued_future": "The issue date cannot be in the future.",
    "issued_before_birth": "The issue date cannot be before the birth date.",
    "issued_before_14": "A Russian passport is issued on or after the 14th birthday.",
    "citizenship": "Give the country as three capital letters (ISO 3166-1 alpha-3), e.g. RUS.",
    "ru_citizen_document": "A citizen of Russia gives a Russian passport.",
    "foreign_citizen_document": "A foreign citizen gives a foreign passport.",
    "ru_series": "A Russian passport's series is 4 digits.",
    "ru_number": "A Russian passport's number is 6 digits.",
    "foreign_series": "Up to 10 Latin letters and digits.",
    "foreign_number": "1 to 20 Latin letters and digits.",
    "issuer_code": "The issuing unit's code is 6 digits: NNN-NNN.",
    "issuer_code_foreign": "Only a Russian passport has an issuing unit's code.",
    "snils_required": "A citizen of Russia gives the SNILS.",
    "snils_format": "The SNILS is 11 digits: 123-456-789 64.",
    "snils_check": "The SNILS's check number is wrong: check the digits.",
    "inn_format": "A person's INN is 12 digits.",
    "inn_check": "The INN's check digits are wrong: check the digits.",
    "inn_legal_entity": "This is an organisation's INN (10 digits); give the person's, 12 digits.",
}

# Default-ignorable code points (Unicode DerivedCoreProperties.txt, Default_Ignorable_Code_Point):
# invisible however they are written, fillers such as U+3164 included although they count as
# letters, so that two values that look the same are never two different values.
_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),  # bidi embeddings and overrides
    (0x2060, 0x206F),  # bidi isolates (2066..2069) among them
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
COMBINING_RUN_MAX = 2  # accent marks on one letter: more is a stack to hide or fake text
# The letters a foreign name may hold: Basic Latin, Latin-1 Supplement, Latin Extended-A (the
# letters of European names), the Romanian comma-below letters (Ș ș Ț ț) and the Cyrillic
# block. Small capitals, IPA and other look-alikes fall outside.
_NAME_BLOCKS = (
    ("latin", 0x0041, 0x024F),
    ("cyrillic", 0x0400, 0x04FF),
)
_LATIN_EXTENDED_B_ALLOWED = frozenset(range(0x0218, 0x021C))
_RU_LETTERS = frozenset("АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдеёжзийклмнопрстуфхцчшщъыьэюя")
_NAME_SEPARATORS = frozenset(" -'’")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CITIZENSHIP = re.compile(r"[A-Z]{3}")
_RU_SERIES = re.compile(r"[0-9]{4}")
_RU_NUMBER = re.compile(r"[0-9]{6}")
_FOREIGN_SERIES = re.compile(r"[A-Z0-9]{1,10}")
_FOREIGN_NUMBER = re.compile(r"[A-Z0-9]{1,20}")
_ISSUER_CODE = re.compile(r"([0-9]{3})[- ]?([0-9]{3})")
_SEPARATORS = re.compile(r"[\s-]")


@dataclass(frozen=True, slots=True)
class PersonalDataInput:
    """A person's data, checked and normalised: names NFKC, free text NFC, single spaces,
    numbers as bare digits (the SNILS too), the issuing unit's code as ``NNN-NNN``, codes
    upper case."""

    last_name: str
    first_name: str
    middle_name: str | None
    sex: str
    birth_date: date
    birth_place: str
    citizenship: str
    document_kind: str
    document_series: str | None
    document_number: str
    document_issued_on: date
    document_issuer_code: str | None
    document_issuer: str | None
    snils: str | None
    inn: str | None


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    code: str

    @property
    def message(self) -> str:
        return CODES[self.code]

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


def parse(raw: Mapping[str, object], *, today: date) -> PersonalDataInput:
    """The data, or ``ValidationFailed`` naming every refused field (nothing is written)."""
    data, errors = check(raw, today=today)
    if data is None:
        raise ValidationFailed(
            "Some fields are invalid.", errors=[error.as_dict() for error in errors]
        )
    return data


def check(
    raw: Mapping[str, object], *, today: date
) -> tuple[PersonalDataInput | None, list[FieldError]]:
    """``parse`` without raising: the data, or None and the errors (a page shows them)."""
    form = _Form(raw)
    kind = form.choice("document_kind", DOCUMENT_KINDS)
    russian_document = kind == RU_PASSPORT
    last = form.name("last_name", required=True, russian=russian_document)
    first = form.name("first_name", required=True, russian=russian_document)
    middle = form.name("middle_name", required=False, russian=russian_document)
    sex = form.choice("sex", SEXES)
    birth = form.date("birth_date")
    if birth is not None:
        if birth > today:
            form.fail("birth_date", "birth_future")
            birth = None
        elif birth < EARLIEST_BIRTH:
            form.fail("birth_date", "birth_too_early")
            birth = None
        elif russian_document and _birthday(birth, PASSPORT_AGE) > today:
            form.fail("birth_date", "too_young")
            birth = None
    place = form.text("birth_place", required=True, max_length=PLACE_MAX)
    citizenship = form.citizenship()
    if citizenship is not None and kind is not None:
        if citizenship == RUSSIA and kind != RU_PASSPORT:
            form.fail("document_kind", "ru_citizen_document")
        elif citizenship != RUSSIA and kind != FOREIGN_PASSPORT:
            form.fail("document_kind", "foreign_citizen_document")
    series, number, code, issuer = form.document(kind)
    issued = form.date("document_issued_on")
    if issued is not None:
        if issued > today:
            form.fail("document_issued_on", "issued_future")
            issued = None
        elif birth is not None and issued < birth:
            form.fail("document_issued_on", "issued_before_birth")
            issued = None
        elif birth is not None and russian_document and issued < _birthday(birth, PASSPORT_AGE):
            form.fail("document_issued_on", "issued_before_14")
            issued = None
    snils = form.snils(required=citizenship == RUSSIA)
    inn = form.inn()
    if form.errors:
        return None, sorted(form.errors, key=lambda e: FIELDS.index(e.field))
    assert last and first and sex and birth and place and citizenship and kind  # noqa: PT018
    assert number is not None
    assert issued is not None
    return (
        PersonalDataInput(
            last_name=last,
            first_name=first,
            middle_name=middle,
            sex=sex,
            birth_date=birth,
            birth_place=place,
            citizenship=citizenship,
            document_kind=kind,
            document_series=series,
            document_number=number,
            document_issued_on=issued,
            document_issuer_code=code,
            document_issuer=issuer,
            snils=snils,
            inn=inn,
        ),
        [],
    )


def _birthday(birth: date, years: int) -> date:
    """The birthday ``years`` after ``birth`` (a 29 February's is 1 March in other years)."""
    try:
        return birth.replace(year=birth.year + years)
    except ValueError:
        return date(birth.year + years, 3, 1)


def _ignorable(char: str) -> bool:
    point = ord(char)
    return any(low <= point <= high for low, high in _IGNORABLE)


def _bad_character(value: str) -> str | None:
    marks = 0
    for char in value:
        category = unicodedata.category(char)
        if category == "Cs":
            return "encoding"  # bytes that were not UTF-8 arrive as lone surrogates
        if category == "Cc":
            return "control_characters"
        if category in ("Cf", "Co", "Cn") or _ignorable(char):
            return "invisible_characters"
        marks = marks + 1 if category.startswith("M") else 0
        if marks > COMBINING_RUN_MAX:
            return "combining_marks"
    return None


def _script(char: str) -> str | None:
    """``latin`` or ``cyrillic`` for a letter a foreign name may hold, else None."""
    if not unicodedata.category(char).startswith("L"):
        return None
    point = ord(char)
    if 0x0180 <= point <= 0x024F and point not in _LATIN_EXTENDED_B_ALLOWED:
        return None  # Latin Extended-B: only the Romanian letters
    for script, low, high in _NAME_BLOCKS:
        if low <= point <= high:
            return script
    return None


class _Form:
    def __init__(self, raw: Mapping[str, object]) -> None:
        self.raw = raw
        self.errors: list[FieldError] = []

    def fail(self, field: str, code: str) -> None:
        """Record the field's error (its first one only)."""
        if not any(error.field == field for error in self.errors):  # one error per field
            self.errors.append(FieldError(field, code))

    def text(self, field: str, *, required: bool, max_length: int) -> str | None:
        """The value NFC-normalised, trimmed, with runs of white space folded to one space;
        None for a value absent, null or blank (an error if it is required)."""
        value = self.raw.get(field)
        if value is None or value == "":
            if required:
                self.fail(field, "required")
            return None
        if not isinstance(value, str):
            self.fail(field, "type")
            return None
        if len(value) > RAW_MAX:
            self.fail(field, "too_long")
            return None
        bad = _bad_character(value)
        if bad is not None:
            self.fail(field, bad)
            return None
        value = " ".join(unicodedata.normalize("NFC", value).split())
        if not value:
            if required:
                self.fail(field, "required")
            return None
        if len(value) > max_length:
            self.fail(field, "too_long")
            return None
        return value

    def name(self, field: str, *, required: bool, russian: bool) -> str | None:
        value = self.text(field, required=required, max_length=NAME_MAX)
        if value is None:
            return None
        # NFKC: a ligature (ﬁ) or a full-width letter becomes the letters it stands for, and
        # the letter rules below judge those.
        value = " ".join(unicodedata.normalize("NFKC", value).split())
        if not value:
            self.fail(field, "name_ru" if russian else "name_letters")
            return None
        if len(value) > NAME_MAX:
            self.fail(field, "too_long")
            return None
        value = value.replace("’", "'")
        if not _name_shape(value):
            self.fail(field, "name_ru" if russian else "name_letters")
            return None
        letters = [c for c in value if c not in _NAME_SEPARATORS]
        if russian:
            if not all(c in _RU_LETTERS for c in letters):
                self.fail(field, "name_ru")
                return None
            return value
        scripts = {_script(c) for c in letters}
        if None in scripts:
            self.fail(field, "name_letters")
            return None
        if len(scripts) > 1:
            self.fail(field, "name_mixed")
            return None
        return value

    def choice(self, field: str, allowed: tuple[str, ...]) -> str | None:
        value = self.text(field, required=True, max_length=32)
        if value is not None and value not in allowed:
            self.fail(field, "choice")
            return None
        return value

    def date(self, field: str) -> date | None:
        value = self.text(field, required=True, max_length=10)
        if value is None:
            return None
        if not _DATE.fullmatch(value):
            self.fail(field, "date_format")
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.fail(field, "date_invalid")
            return None

    def citizenship(self) -> str | None:
        value = self.text("citizenship", required=True, max_length=3)
        if value is not None and not _CITIZENSHIP.fullmatch(value):
            self.fail("citizenship", "citizenship")
            return None
        return value

    def document(self, kind: str | None) -> tuple[str | None, str | None, str | None, str | None]:
        """Series, number, issuing unit's code and issuer, by the document's kind."""
        series = self.text("document_series", required=kind == RU_PASSPORT, max_length=32)
        number = self.text("document_number", required=True, max_length=32)
        code = self.text("document_issuer_code", required=kind == RU_PASSPORT, max_length=16)
        issuer = self.text("document_issuer", required=kind == RU_PASSPORT, max_length=ISSUER_MAX)
        if kind == RU_PASSPORT:
            if series is not None:
                series = series.replace(" ", "")
                if not _RU_SERIES.fullmatch(series):
                    self.fail("document_series", "ru_series")
                    series = None
            if number is not None:
                number = number.replace(" ", "")
                if not _RU_NUMBER.fullmatch(number):
                    self.fail("document_number", "ru_number")
                    number = None
            if code is not None:
                matched = _ISSUER_CODE.fullmatch(code)
                code = f"{matched[1]}-{matched[2]}" if matched else None
                if code is None:
                    self.fail("document_issuer_code", "issuer_code")
        elif kind == FOREIGN_PASSPORT:
            if series is not None:
                series = series.replace(" ", "").upper()
                if not _FOREIGN_SERIES.fullmatch(series):
                    self.fail("document_series", "foreign_series")
                    series = None
            if number is not None:
                number = number.replace(" ", "").upper()
                if not _FOREIGN_NUMBER.fullmatch(number):
                    self.fail("document_number", "foreign_number")
                    number = None
            if code is not None:
                self.fail("document_issuer_code", "issuer_code_foreign")
                code = None
        return series, number, code, issuer

    def snils(self, *, required: bool) -> str | None:
        value = self.text("snils", required=False, max_length=20)
        if value is None:
            if required:
                self.fail("snils", "snils_required")
            return None
        digits = _SEPARATORS.sub("", value)
        if not (len(digits) == 11 and digits.isascii() and digits.isdigit()):
            self.fail("snils", "snils_format")
            return None
        if not snils_valid(digits):
            self.fail("snils", "snils_check")
            return None
        return digits

    def inn(self) -> str | None:
        value = self.text("inn", required=False, max_length=20)
        if value is None:
            return None
        digits = value.replace(" ", "")
        if not (digits.isascii() and digits.isdigit()):
            self.fail("inn", "inn_format")
            return None
        if len(digits) == 10:
            self.fail("inn", "inn_legal_entity" if inn10_valid(digits) else "inn_format")
            return None
        if len(digits) != 12:
            self.fail("inn", "inn_format")
            return None
        if not inn12_valid(digits):
            self.fail("inn", "inn_check")
            return None
        return digits


def _name_shape(value: str) -> bool:
    """Letters in words joined by one space, hyphen or apostrophe; no separator at either end."""
    if value[0] in _NAME_SEPARATORS or value[-1] in _NAME_SEPARATORS:
        return False
    return not any(a in _NAME_SEPARATORS and b in _NAME_SEPARATORS for a, b in pairwise(value))
