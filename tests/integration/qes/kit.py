"""What the confirmation tests share: a logged-in API client of a person, a challenge, the
challenge rows, certificates and signatures of the test PKI."""

from __future__ import annotations

import base64
import os
import uuid
from typing import Any

import httpx
from sqlalchemy import select

from idp.context import Context
from idp.db.models import SignatureChallenge
from idp.settings import Settings
from idp.signatures.dev.keys import Issued
from tests.support.api_kit import Api
from tests.support.factories import Person
from tests.support.pki import TestPki

CHALLENGES = "/api/v1/me/qes/challenges"
CONFIRMATIONS = "/api/v1/me/qes/confirmations"
DEV_SIGNATURE = "/api/v1/me/qes/dev-signature"
# A DER SEQUENCE that is no CMS: decodes, passes the input checks, fails verification.
NOT_CMS = base64.b64encode(b"\x30\x03\x02\x01\x00").decode()


async def logged_in(base_url: str, person: Person) -> Api:
    api = Api(base_url)
    response = await api.login(person.phone, person.password)
    assert response.status_code == 200, response.text
    return api


async def challenge(api: Api) -> dict[str, Any]:
    response = await api.post(CHALLENGES, {})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def submit(api: Api, challenge_id: str, signature: str, **extra: Any) -> httpx.Response:
    return await api.post(
        CONFIRMATIONS, {"challenge_id": challenge_id, "signature": signature, **extra}
    )


async def challenge_row(ctx: Context, challenge_id: str) -> SignatureChallenge:
    async with ctx.db.read() as session:
        row = await session.get(SignatureChallenge, uuid.UUID(challenge_id))
    assert row is not None
    return row


async def challenges_of(ctx: Context, account_id: uuid.UUID) -> list[SignatureChallenge]:
    async with ctx.db.read() as session:
        rows = await session.scalars(
            select(SignatureChallenge).where(SignatureChallenge.account_id == account_id)
        )
        return list(rows)


def problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    body = dict(response.json())
    assert body["type"].endswith(f"/problems/{slug}"), body
    return body


# --- real signatures --------------------------------------------------------------------------

SURNAME = "Петров"  # tests.support.factories.make_person's names, as a certificate holds them
GIVEN_NAMES = "Иван Сергеевич"


def certificate_for(pki: TestPki, person: Person, **options: Any) -> Issued:
    """A P-256 qualified certificate (test PKI) naming the person's verified SNILS and names
    (``options``: other names or SNILS, ``revoked``, ``untrusted``, … as ``TestPki.person``)."""
    options.setdefault("snils", person.snils)
    options.setdefault("surname", SURNAME)
    options.setdefault("given_names", GIVEN_NAMES)
    return pki.person("p256", **options)


def signed(pki: TestPki, got: dict[str, Any], holder: Issued) -> str:
    """The challenge's text signed by ``holder`` (chain inside), as base64."""
    return base64.b64encode(pki.sign(got["content"].encode(), holder)).decode()


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """``IDP_*`` for the ``idp`` command on the session's database, var dir and issuer."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    env.update(
        IDP_DATABASE_URL=settings.database_url,
        IDP_VAR_DIR=str(settings.var_dir),
        IDP_KEY_ENCRYPTION_KEY=settings.key_encryption_key or "",
        IDP_ISSUER=settings.issuer,
        IDP_DEV_MODE="true",
    )
    env.update(extra)
    return env
