"""The registration's field rules, written once in the service, as the page and the REST API
both read them."""

from __future__ import annotations

from idp.accounts.registration.service import RegistrationInput, field_problems


def _input(**fields: str | bool | None) -> RegistrationInput:
    values: dict[str, str | bool | None] = {
        "last_name": "Иванова",
        "first_name": "Анна",
        "middle_name": None,
        "phone": "+79991234567",
        "email": None,
        "consent": True,
    }
    values.update(fields)
    return RegistrationInput(**values)  # type: ignore[arg-type]


def _codes(data: RegistrationInput) -> list[tuple[str, str]]:
    return [(p.field, p.code) for p in field_problems(data)]


def test_a_valid_registration_has_no_problems() -> None:
    assert field_problems(_input()) == []
    assert field_problems(_input(phone=None, email="anna@example.ru")) == []


def test_a_blank_name_is_required_and_a_wrong_one_is_refused_as_a_name() -> None:
    assert _codes(_input(last_name="  ", first_name="R2-D2")) == [
        ("last_name", "required"),
        ("first_name", "name"),
    ]


def test_a_middle_name_of_spaces_is_refused_as_a_name() -> None:
    assert _codes(_input(middle_name="   ")) == [("middle_name", "name")]


def test_contacts_are_checked_and_one_of_them_is_required() -> None:
    assert _codes(_input(phone="12", email="not-an-address")) == [
        ("phone", "phone"),
        ("email", "email"),
    ]
    assert _codes(_input(phone=" ", email=None)) == [("phone", "contact_required")]


def test_the_api_reports_field_and_message_without_the_page_code() -> None:
    (problem,) = field_problems(_input(phone=None, email=None))
    assert problem.field == "phone"
    assert problem.message == "Give a phone number or an e-mail address."


def test_registration_without_consent_to_the_processing_of_personal_data_is_refused() -> None:
    assert _codes(_input(consent=False)) == [("personal_data_consent", "consent_required")]
