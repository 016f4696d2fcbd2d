"""The REST API's contract for a person's data, its checks and the level history.

The request model checks types, sizes and characters (a field holding control characters or
bytes that were not UTF-8 is named in the 422); the rules themselves (letters, check digits,
dates, ages, which document for which citizenship) are ``validation.parse``'s, shared with the
"My data" page.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from idp.levels.personal_data.service import (
    CheckView,
    LevelChangeView,
    PersonalDataView,
    Progress,
)


def _plain_text(value: str) -> str:
    for char in value:
        category = unicodedata.category(char)
        if category == "Cs":
            raise ValueError("must be valid UTF-8 text")
        if category == "Cc":
            raise ValueError("must not contain control characters")
    return value


Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100),
    AfterValidator(_plain_text),
    Field(
        description="Letters, spaces, hyphens and apostrophes; Russian letters for a Russian "
        "passport, Latin or Cyrillic (one of them) for a foreign one"
    ),
]
IsoDate = Annotated[
    str,
    StringConstraints(min_length=10, max_length=10),
    AfterValidator(_plain_text),
    Field(description="YYYY-MM-DD", examples=["1990-05-17"]),
]
Place = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_plain_text)]
Short = Annotated[str, StringConstraints(max_length=32), AfterValidator(_plain_text)]

_EXAMPLE: dict[str, Any] = {
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


class PersonalDataBody(BaseModel):
    """The whole of a person's data (PUT replaces it)."""

    model_config = ConfigDict(
        extra="forbid", strict=True, json_schema_extra={"examples": [_EXAMPLE]}
    )

    last_name: Name
    first_name: Name
    middle_name: Name | None = None
    sex: Literal["male", "female"]
    birth_date: IsoDate
    birth_place: Place
    citizenship: Annotated[
        str,
        StringConstraints(min_length=3, max_length=3),
        AfterValidator(_plain_text),
        Field(description="ISO 3166-1 alpha-3, upper case; RUS for Russia"),
    ]
    document_kind: Literal["ru_passport", "foreign_passport"] = Field(
        description="ru_passport for a citizen of Russia, foreign_passport for anyone else"
    )
    document_series: Short | None = Field(
        default=None,
        description="Russian passport: 4 digits (spaces allowed); foreign: up to 10 letters "
        "and digits, optional",
    )
    document_number: Short = Field(
        description="Russian passport: 6 digits; foreign: 1 to 20 letters and digits"
    )
    document_issued_on: IsoDate
    document_issuer_code: Short | None = Field(
        default=None, description="Russian passport only, required there: NNN-NNN"
    )
    document_issuer: Place | None = Field(
        default=None, description="Who issued the document; required for a Russian passport"
    )
    snils: Short | None = Field(
        default=None,
        description="123-456-789 64 or 11 digits; required for a citizen of Russia",
    )
    inn: Short | None = Field(
        default=None, description="A person's INN, 12 digits (an organisation's is refused)"
    )


class PersonalDataOut(BaseModel):
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
    snils: str | None = Field(description="11 digits")
    inn: str | None
    revision: int = Field(description="Grows with every save that changed something")
    updated_at: datetime


class CheckOut(BaseModel):
    id: str
    kind: Literal["person", "document", "inn"] = Field(
        description="person: the pension fund (name, SNILS, sex, birth date); document: the "
        "interior ministry; inn: the tax service"
    )
    state: Literal["queued", "sent", "waiting", "succeeded", "failed", "superseded"]
    reason: str | None = Field(
        description="Why it failed (or, while open, registry_unavailable): person_mismatch, "
        "person_unknown, person_deceased, snils_taken, document_mismatch, document_invalid, "
        "document_lost, document_unknown, inn_mismatch, inn_unknown, registry_timeout, "
        "registry_rejected"
    )
    fields: list[str] = Field(description="For a mismatch: the fields that do not match")
    updated_at: datetime
    finished_at: datetime | None


class ProgressOut(BaseModel):
    level: str = Field(description="simplified, standard or confirmed")
    confirmation_method: str | None
    revision: int | None = Field(description="The data's current revision; null without data")
    checks: list[CheckOut] = Field(description="The current revision's checks")
    none_because: str | None = Field(
        description="Why no check can run (foreign_without_snils: a foreign citizen without a "
        "SNILS stays simplified)"
    )
    settled: bool = Field(description="Every check has its final answer")


class PersonalDataSaved(BaseModel):
    changed: bool = Field(description="False when the data was identical: nothing started")
    data: PersonalDataOut
    progress: ProgressOut


class LevelChangeOut(BaseModel):
    from_level: str
    to_level: str
    reason: str = Field(description="registry_checks, data_changed, operator, qes, …")
    evidence: str | None
    at: datetime


class LevelHistory(BaseModel):
    changes: list[LevelChangeOut] = Field(description="Newest first")


def data_out(view: PersonalDataView) -> PersonalDataOut:
    d = view.data
    return PersonalDataOut(
        last_name=d.last_name,
        first_name=d.first_name,
        middle_name=d.middle_name,
        sex=d.sex,
        birth_date=d.birth_date,
        birth_place=d.birth_place,
        citizenship=d.citizenship,
        document_kind=d.document_kind,
        document_series=d.document_series,
        document_number=d.document_number,
        document_issued_on=d.document_issued_on,
        document_issuer_code=d.document_issuer_code,
        document_issuer=d.document_issuer,
        snils=d.snils,
        inn=d.inn,
        revision=view.revision,
        updated_at=view.updated_at,
    )


def check_out(check: CheckView) -> CheckOut:
    return CheckOut(
        id=str(check.id),
        kind=check.kind,
        state=check.state,
        reason=check.reason,
        fields=list(check.fields),
        updated_at=check.updated_at,
        finished_at=check.finished_at,
    )


def progress_out(progress: Progress) -> ProgressOut:
    return ProgressOut(
        level=progress.level,
        confirmation_method=progress.confirmation_method,
        revision=progress.revision,
        checks=[check_out(c) for c in progress.checks],
        none_because=progress.none_because,
        settled=progress.settled,
    )


def history_out(changes: list[LevelChangeView]) -> LevelHistory:
    return LevelHistory(
        changes=[
            LevelChangeOut(
                from_level=c.from_level,
                to_level=c.to_level,
                reason=c.reason,
                evidence=c.evidence,
                at=c.at,
            )
            for c in changes
        ]
    )
