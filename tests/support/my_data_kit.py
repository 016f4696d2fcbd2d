"""The "My data" page's form (``/account/personal-data``) filled with data the registry simulator
accepts (tests/support/registry_kit.py; data not among its seeds matches), and the seeded cases
that fail; plus reading the stored rows back."""

from __future__ import annotations

import random
import uuid

from sqlalchemy import func, select

from idp.context import Context
from idp.db.models import LevelChange, PersonalData, RegistryCheck
from tests.support.factories import Person

PAGE = "/account/personal-data"
INVALID_PASSPORT = ("4506", "000001")  # the simulator's seed: document_invalid
_INN12_WEIGHTS = ((7, 2, 4, 10, 3, 5, 9, 4, 6, 8), (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8))
_SEEDED_INNS = {"775719328234", "776775959845"}


def random_inn() -> str:
    """A person's INN (12 digits) with the right check digits, not one of the seeds."""
    while True:
        digits = [random.randint(0, 9) for _ in range(10)]
        digits[0] = random.randint(1, 9)
        for weights in _INN12_WEIGHTS:
            digits.append(sum(d * w for d, w in zip(digits, weights, strict=True)) % 11 % 10)
        inn = "".join(map(str, digits))
        if inn not in _SEEDED_INNS:
            return inn


def random_passport() -> tuple[str, str]:
    """Series and number of a Russian passport that is not among the simulator's seeds."""
    return f"{random.randint(4600, 4699)}", f"{random.randint(100000, 999999)}"


def russian_form(person: Person, **changes: str) -> dict[str, str]:
    """A Russian citizen's data, as the form posts it, that every registry confirms."""
    series, number = random_passport()
    form = {
        "last_name": "Петров",
        "first_name": "Иван",
        "middle_name": "Сергеевич",
        "sex": "male",
        "birth_date": "1985-04-12",
        "birth_place": "г. Москва",
        "citizenship": "RUS",
        "document_kind": "ru_passport",
        "document_series": series,
        "document_number": number,
        "document_issued_on": "2005-05-20",
        "document_issuer_code": "770-001",
        "document_issuer": "ОВД района Арбат г. Москвы",
        "snils": person.snils,
        "inn": random_inn(),
    }
    form.update(changes)
    return form


def foreign_form(**changes: str) -> dict[str, str]:
    """A foreign citizen without a SNILS: nothing any registry could check."""
    form = {
        "last_name": "Müller",
        "first_name": "Anna",
        "middle_name": "",
        "sex": "female",
        "birth_date": "1990-02-03",
        "birth_place": "Berlin",
        "citizenship": "DEU",
        "document_kind": "foreign_passport",
        "document_series": "",
        "document_number": f"C{random.randint(10_000_000, 99_999_999)}",
        "document_issued_on": "2019-06-01",
        "document_issuer_code": "",
        "document_issuer": "Stadt Berlin",
        "snils": "",
        "inn": "",
    }
    form.update(changes)
    return form


async def stored(ctx: Context, account_id: uuid.UUID) -> PersonalData | None:
    async with ctx.db.read() as session:
        return await session.get(PersonalData, account_id)


async def written(ctx: Context, account_id: uuid.UUID) -> tuple[int, int, int]:
    """How many personal data rows, registry checks and level changes the account has."""
    async with ctx.db.read() as session:
        counts = []
        for model in (PersonalData, RegistryCheck, LevelChange):
            counts.append(
                await session.scalar(
                    select(func.count()).select_from(model).where(model.account_id == account_id)
                )
                or 0
            )
    return counts[0], counts[1], counts[2]
