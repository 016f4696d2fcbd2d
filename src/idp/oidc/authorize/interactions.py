"""Pending authorization requests that wait for the person, bound to the browser that
started them.

One interaction finishes once. The submit that finishes it claims it first (``hold``, a
guarded update whose row lock makes a concurrent submit wait for our commit), then stores the
answer it gives (``seal_outcome``). A second submit of the same form (a double click, two
tabs) finds it held and gets that same answer (``outcome``), never a second code.
"""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from idp.context import Context
from idp.db.models import AuthorizationCode, Interaction
from idp.oidc.authorize.decide import issue_code
from idp.oidc.authorize.request import AuthorizationRequest
from idp.security.tokens import digest, new_token
from idp.sessions.service import LiveSession

_SEAL_PURPOSE = "interaction-outcome"
_HINT_PURPOSE = "interaction-login-hint"


def stored_request(
    ctx: Context, interaction_id: str, request: AuthorizationRequest
) -> dict[str, Any]:
    """The request as the interaction keeps it: the ``login_hint`` (a phone, an e-mail or a
    SNILS) sealed, bound to this interaction, the rest as it came."""
    data = request.to_json()
    hint = data.pop("login_hint", None)
    if hint:
        sealed = ctx.keyring.seal(_HINT_PURPOSE, hint.encode(), interaction_id)
        data["login_hint_sealed"] = base64.urlsafe_b64encode(sealed).decode()
    return data


def loaded_request(ctx: Context, row: Interaction) -> AuthorizationRequest:
    data = dict(row.request)
    sealed = data.pop("login_hint_sealed", None)
    if sealed:
        raw = ctx.keyring.open(_HINT_PURPOSE, base64.urlsafe_b64decode(sealed), row.id)
        data["login_hint"] = raw.decode()
    return AuthorizationRequest.from_json(data)


class AlreadyFinished(Exception):
    """Another submit of this interaction finished it first: repeat its ``outcome``."""


def start(
    session: AsyncSession, ctx: Context, request: AuthorizationRequest, browser_id: str
) -> str:
    now = ctx.clock.now()
    interaction_id = new_token(24)
    session.add(
        Interaction(
            id=interaction_id,
            client_id=request.client_id,
            request=stored_request(ctx, interaction_id, request),
            browser_hash=digest(browser_id),
            created_at=now,
            expires_at=now + timedelta(seconds=ctx.settings.sessions.interaction_ttl),
        )
    )
    return interaction_id


async def forget_login(session: AsyncSession, interaction_id: str) -> bool:
    """The person was not who the session says ("not you?"): the pending interaction no longer
    counts a login as done in it, and asks for one again. False once it has finished."""
    forgotten = await session.execute(
        update(Interaction)
        .where(Interaction.id == interaction_id, Interaction.finished_at.is_(None))
        .values(session_id=None, account_id=None)
        .execution_options(synchronize_session=False)
    )
    return bool(forgotten.rowcount == 1)  # type: ignore[attr-defined]


async def hold(session: AsyncSession, ctx: Context, interaction_id: str) -> bool:
    """Claim the interaction for finishing: True for exactly one caller, ever."""
    held = await session.execute(
        update(Interaction)
        .where(Interaction.id == interaction_id, Interaction.finished_at.is_(None))
        .values(finished_at=ctx.clock.now())
        .execution_options(synchronize_session=False)
    )
    return bool(held.rowcount == 1)  # type: ignore[attr-defined]


async def seal_outcome(
    session: AsyncSession,
    ctx: Context,
    interaction_id: str,
    request: AuthorizationRequest,
    location: str,
    *,
    code_hash: str | None = None,
) -> None:
    """Keep the answer of a held interaction (sealed: it may carry a code). The row now outlives
    the login until it expires, so the request it keeps loses the ``login_hint`` (a phone or an
    e-mail, personal data nothing needs any more)."""
    sealed = ctx.keyring.seal(_SEAL_PURPOSE, location.encode(), interaction_id)
    await session.execute(
        update(Interaction)
        .where(Interaction.id == interaction_id)
        .values(
            outcome=sealed,
            code_hash=code_hash,
            request=stored_request(ctx, interaction_id, replace(request, login_hint=None)),
        )
        .execution_options(synchronize_session=False)
    )


async def finish_with_code(
    session: AsyncSession,
    ctx: Context,
    interaction_id: str,
    request: AuthorizationRequest,
    live: LiveSession,
    *,
    held: bool = False,
) -> str:
    """Claim the interaction (unless the caller ``held`` it), issue its one code, keep the
    answer for a second submit, and return it (the redirect to the client)."""
    if not held and not await hold(session, ctx, interaction_id):
        raise AlreadyFinished
    issued = await issue_code(session, ctx, request, live)
    await seal_outcome(
        session, ctx, interaction_id, request, issued.location, code_hash=issued.code_hash
    )
    return issued.location


async def outcome(session: AsyncSession, ctx: Context, interaction_id: str) -> str | None:
    """The answer a finished interaction gave, while repeating it is harmless: a code in it
    is repeated only while nobody has redeemed it and it has not expired."""
    row = await session.scalar(
        select(Interaction)
        .where(Interaction.id == interaction_id)
        .execution_options(populate_existing=True)
    )
    now = ctx.clock.now()
    if row is None or row.outcome is None or row.expires_at <= now:
        return None
    if row.code_hash is not None:
        code = await session.get(AuthorizationCode, row.code_hash)
        if code is None or code.consumed_at is not None or code.expires_at <= now:
            return None
    return ctx.keyring.open(_SEAL_PURPOSE, row.outcome, interaction_id).decode()
