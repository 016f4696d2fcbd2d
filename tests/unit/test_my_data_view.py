"""What the "My data" page says, without a server: every refusal the validation can give has a
text in both languages, the citizenship list, the saved data as the form shows it, and the
progress (checks in a fixed order, mismatched fields by their labels, level changes in words)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from idp.console.my_data import view
from idp.levels.personal_data.validation import CODES, FIELDS, PersonalDataInput, check
from idp.web.i18n import LOCALES, Translator

LOCALE_DIR = Path(view.__file__).parents[2] / "web" / "locales"


@pytest.mark.parametrize("lang", LOCALES)
def test_every_refusal_of_the_validation_has_a_text(lang: str) -> None:
    t = Translator(lang)
    missing = [code for code in CODES if not t.has(f"my_data_code_{code}")]
    assert missing == []


def test_the_page_texts_exist_in_both_languages() -> None:
    ru = json.loads((LOCALE_DIR / "ru" / "my_data.json").read_text(encoding="utf-8"))
    en = json.loads((LOCALE_DIR / "en" / "my_data.json").read_text(encoding="utf-8"))
    assert ru.keys() == en.keys()
    assert all(value.strip() for value in [*ru.values(), *en.values()])


@pytest.mark.parametrize("lang", LOCALES)
def test_field_errors_in_the_form_order_and_one_per_field(lang: str) -> None:
    t = Translator(lang)
    _, errors = check({"snils": "123", "last_name": "", "inn": "12"}, today=date(2026, 1, 1))
    shown = view.field_errors(t, [error.as_dict() for error in errors])
    assert list(shown) == [f for f in FIELDS if f in shown]
    assert shown["last_name"] == t("my_data_code_required")
    assert shown["snils"] == t("my_data_code_snils_format")
    unknown = view.field_errors(t, [{"field": "inn", "code": "new_rule"}, {"field": "x"}])
    assert unknown == {"inn": t("my_data_err_invalid")}


@pytest.mark.parametrize("lang", LOCALES)
def test_russia_comes_first_then_the_countries_by_name(lang: str) -> None:
    t = Translator(lang)
    shown = view.countries(t)
    assert shown[0] == ("RUS", t("country_RUS"))
    names = [name for _, name in shown[1:]]
    assert names == sorted(names)
    assert len(shown) == len(set(view.COUNTRIES)) > 50
    assert all(t.has(f"country_{code}") for code in view.COUNTRIES)
    assert all(len(code) == 3 and code.isupper() for code in view.COUNTRIES)


def test_before_the_first_save_the_form_holds_the_account_names() -> None:
    values = view.stored_values(None, ("Петров", "Иван", None))
    assert values["last_name"] == "Петров"
    assert values["middle_name"] == ""
    assert values["citizenship"] == "RUS"
    assert values["document_kind"] == "ru_passport"
    assert values["snils"] == ""


def test_the_saved_data_as_the_form_shows_it() -> None:
    data = PersonalDataInput(
        last_name="Петров",
        first_name="Иван",
        middle_name=None,
        sex="male",
        birth_date=date(1985, 4, 12),
        birth_place="г. Москва",
        citizenship="RUS",
        document_kind="ru_passport",
        document_series="4506",
        document_number="123456",
        document_issued_on=date(2005, 5, 20),
        document_issuer_code="770-001",
        document_issuer="ОВД",
        snils="08765430300",
        inn=None,
    )
    values = view.stored_values(data, ("Другой", "Человек", "Совсем"))
    assert values["last_name"] == "Петров"
    assert values["middle_name"] == ""
    assert values["birth_date"] == "1985-04-12"
    assert values["snils"] == "087-654-303 00"
    assert values["inn"] == ""
    # What the form shows passes the validation as it is.
    parsed, errors = check(values, today=date(2026, 1, 1))
    assert errors == []
    assert parsed == data


@dataclass
class Check:
    kind: str
    state: str
    reason: str | None = None
    fields: tuple[str, ...] = ()


@dataclass
class Change:
    from_level: str
    to_level: str
    reason: str
    at: datetime


def test_the_progress_in_a_fixed_order_with_fields_and_reasons_in_words() -> None:
    t = Translator("en")
    at = datetime(2026, 12, 2, 13, 0, tzinfo=UTC)
    shown = view.progress_view(
        t,
        level="simplified",
        has_data=True,
        none_because=None,
        checks=[
            Check("inn", "waiting"),
            Check("person", "failed", "person_mismatch", ("last_name", "birth_date")),
            Check("document", "succeeded"),
        ],
        history=[Change("standard", "simplified", "data_changed", at), Change("a", "b", "new", at)],
    )
    assert [c.kind for c in shown.checks] == ["person", "document", "inn"]
    assert shown.checks[0].fields == "Last name, Date of birth"
    assert shown.checks[1].fields is None
    assert shown.open
    assert shown.failed
    assert not shown.all_succeeded
    assert [h.why for h in shown.history] == ["you changed checked data", "new"]


@pytest.mark.parametrize("lang", LOCALES)
@pytest.mark.parametrize(
    "reason", ["registry_checks", "data_changed", "operator", "qes", "service_center", "post"]
)
def test_every_level_change_reason_has_words(lang: str, reason: str) -> None:
    assert Translator(lang).has(f"my_data_why_{reason}")


def test_settled_checks_are_not_open() -> None:
    shown = view.progress_view(
        Translator("ru"),
        level="standard",
        has_data=True,
        none_because=None,
        checks=[Check("person", "succeeded"), Check("document", "succeeded")],
        history=[],
    )
    assert not shown.open
    assert shown.all_succeeded
    nothing = view.progress_view(
        Translator("ru"),
        level="simplified",
        has_data=True,
        none_because="foreign_without_snils",
        checks=[],
        history=[],
    )
    assert not nothing.open
    assert not nothing.all_succeeded
