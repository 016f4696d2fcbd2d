"""What an authorization request leads to, given the browser's session: a code, or a page.

This is evaluated on the first visit and again after each step the person takes (login,
consent), so every rule is checked on the final state, never skipped by a shortcut.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from idp.assurance.policy import Unmet, check_requirements
from idp.clients.model import ClientInfo
from idp.context import Context
from idp.db.models import AuthorizationCode, Consent
from idp.errors import (
    ConsentRequired,
    ErrorForClient,
    LoginRequired,
    UnmetAuthenticationRequirements,
)
from idp.oidc.authorize.request import AuthorizationRequest
from idp.security.redirect_uris import with_params
from idp.security.tokens import digest, new_token
from idp.sessions.service import LiveSession, record_participant, touch_if_stale


@dataclass(frozen=True, slots=True)
class ShowLogin:
    pass


@dataclass(frozen=True, slots=True)
class ShowConsent:
    pass


@dataclass(frozen=True, slots=True)
class ShowUnmet:
    unmet: Unmet


@dataclass(frozen=True, slots=True)
class Ready:
    live: LiveSession


Decision = ShowLogin | ShowConsent | ShowUnmet | Ready


def needs_login(
    request: AuthorizationRequest,
    live: LiveSession | None,
    ctx: Context,
    *,
    just_authenticated: bool,
) -> bool:
    if live is None:
        return True
    if just_authenticated:
        return False
    if "login" in request.prompt or "select_account" in request.prompt:
        return True
    if request.max_age is not None:
        # OIDC Core §3.1.2.1: re-authenticate when the last login is older than max_age.
        age = (ctx.clock.now() - live.record.auth_time).total_seconds()
        if age > request.max_age:
            return True
    return False


async def consent_covers(
    session: AsyncSession, request: AuthorizationRequest, live: LiveSession
) -> bool:
    consent = await session.get(Consent, (live.account.id, request.client_id))
    return consent is not None and set(request.scope) <= set(consent.scopes)


async def decide(
    session: AsyncSession,
    ctx: Context,
    client: ClientInfo,
    request: AuthorizationRequest,
    live: LiveSession | None,
    *,
    just_authenticated: bool = False,
    consent_given: bool = False,
) -> Decision:
    interactive = "none" not in request.prompt
    if needs_login(request, live, ctx, just_authenticated=just_authenticated):
        if not interactive:
            raise ErrorForClient(
                LoginRequired("The person is not logged in."), request.redirect_uri, request.state
            )
        return ShowLogin()
    assert live is not None
    account = live.account
    unmet = check_requirements(
        level=account.level,
        confirmation_method=account.confirmation_method,
        min_level=client.min_level,
        forbidden_methods=client.forbidden_confirmation_methods,
    )
    if unmet is not None:
        if not interactive:
            raise ErrorForClient(
                UnmetAuthenticationRequirements("The account does not meet this client's level."),
                request.redirect_uri,
                request.state,
            )
        return ShowUnmet(unmet)
    # Offline access is always consented to (OIDC Core §11), even where the client skips it.
    asks_offline = "offline_access" in request.scope
    wants_consent = (client.require_consent or asks_offline) and not consent_given
    if wants_consent and (
        "consent" in request.prompt or not await consent_covers(session, request, live)
    ):
        if not interactive:
            raise ErrorForClient(
                ConsentRequired("Consent is needed."), request.redirect_uri, request.state
            )
        return ShowConsent()
    return Ready(live)


@dataclass(frozen=True, slots=True)
class CodeRedirect:
    location: str  # the redirect URI with the code, state and iss
    code_hash: str


async def issue_code(
    session: AsyncSession, ctx: Context, request: AuthorizationRequest, live: LiveSession
) -> CodeRedirect:
    """Store a fresh code and return the redirect that carries it (with ``iss``, RFC 9207)."""
    now = ctx.clock.now()
    code = new_token(32)
    session.add(
        AuthorizationCode(
            code_hash=digest(code),
            client_id=request.client_id,
            account_id=live.account.id,
            session_id=live.record.id,
            redirect_uri=request.redirect_uri,
            scope=" ".join(request.scope),
            nonce=request.nonce,
            code_challenge=request.code_challenge,
            auth_time=live.record.auth_time,
            acr=live.account.level,
            amr=live.record.amr,
            sid=live.record.sid,
            expires_at=now + timedelta(seconds=ctx.settings.tokens.authorization_code_ttl),
        )
    )
    await record_participant(session, live.record.id, request.client_id, now)
    await touch_if_stale(session, live, now)
    location = with_params(
        request.redirect_uri, {"code": code, "state": request.state, "iss": ctx.settings.issuer}
    )
    return CodeRedirect(location, digest(code))


async def remember_consent(
    session: AsyncSession, ctx: Context, request: AuthorizationRequest, live: LiveSession
) -> None:
    """Add the request's scopes to the account's consent for the client. Two first consents
    at once (two tabs) must not collide: insert-or-nothing, then update the row under lock."""
    now = ctx.clock.now()
    scopes = sorted(set(request.scope))
    values = {
        "account_id": live.account.id,
        "client_id": request.client_id,
        "scopes": scopes,
        "granted_at": now,
    }
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    created = await session.execute(insert(Consent).values(**values).on_conflict_do_nothing())
    if created.rowcount == 1:  # type: ignore[attr-defined]
        return
    consent = await session.scalar(
        select(Consent)
        .where(Consent.account_id == live.account.id, Consent.client_id == request.client_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert consent is not None  # consents are deleted only with their account or client
    consent.scopes = sorted(set(consent.scopes) | set(scopes))
    consent.granted_at = now
