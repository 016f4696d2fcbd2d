"""What the confirmation tests share: a logged-in API client of a person, a challenge, the
challenge rows."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
from sqlalchemy import select

from idp.context import Context
from idp.db.models import SignatureChallenge
from tests.support.api_kit import Api
from tests.support.factories import Person

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
