"""Creating clients and people through the same services the CLI uses."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass, field

from idp.accounts.identifiers import snils_checksum
from idp.accounts.service import NewAccount, create_by_operator, prepare_operator_account
from idp.clients.service import NewClient, create_client
from idp.context import Context
from idp.db.models import Account

PASSWORD = "Correct-Horse-42"


def random_phone() -> str:
    return "+7999" + "".join(random.choices("0123456789", k=7))


def random_snils() -> str:
    nine = "".join(random.choices("0123456789", k=9))
    while nine[:3] == "000":
        nine = "".join(random.choices("0123456789", k=9))
    return nine + f"{snils_checksum(nine):02d}"


@dataclass
class Person:
    account: Account
    phone: str
    email: str
    snils: str
    password: str = PASSWORD


@dataclass
class RP:
    client_id: str
    client_secret: str | None
    redirect_uri: str
    scopes: list[str] = field(default_factory=list)


async def create_account(ctx: Context, data: NewAccount) -> Account:
    """``idp accounts create`` as the CLI runs it: checked and hashed, then stored."""
    ready = await prepare_operator_account(ctx, data)
    async with ctx.db.transaction() as session:
        return await create_by_operator(session, ctx, ready)


async def make_person(
    ctx: Context, *, level: str = "simplified", method: str | None = None
) -> Person:
    phone, snils = random_phone(), random_snils()
    email = f"user-{secrets.token_hex(6)}@example.ru"
    account = await create_account(
        ctx,
        NewAccount(
            first_name="Иван",
            last_name="Петров",
            middle_name="Сергеевич",
            phone=phone,
            email=email,
            snils=snils,
            password=PASSWORD,
            level=level,
            confirmation_method=method,
        ),
    )
    return Person(account, phone, email, snils)


async def make_rp(
    ctx: Context, *, redirect_uri: str = "https://rp.example/cb", **options: object
) -> RP:
    data = NewClient(
        name=str(options.pop("name", "Налоговая служба")), redirect_uris=[redirect_uri], **options
    )  # type: ignore[arg-type]
    created = await create_client(ctx, data)
    return RP(created.client_id, created.client_secret, redirect_uri, data.scopes)
