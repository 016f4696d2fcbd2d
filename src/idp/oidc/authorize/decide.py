"""What an authorization request leads to, given the browser's session: a code, or a page.

This is evaluated on the first visit and again after each step the person takes (login,
consent), so every rule is checked on the final state, never skipped by a shortcut.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from idp.clients.model import ClientInfo
from idp.context import Context
from idp.db.models import AuthorizationCode, Consent
from idp.errors import (
    ConsentRequired,
    ErrorForClient,
    LoginRequired,
    UnmetAuthenticationRequirements,
)
from idp.levels.policy import Unmet, check_requirements
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
    wants_consent = client.require_consent and not consent_given
    if wants_consent and (
        "consent" in request.prompt or not await consent_covers(session, request, live)
    ):
        if not interactive:
            raise ErrorForClient(
                ConsentRequired("Consent is needed."), request.redirect_uri, request.state
            )
        return ShowConsent()
    return Ready(live)


async def issue_code(
    session: AsyncSession, ctx: Context, request: AuthorizationRequest, live: LiveSession
) -> str:
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
    return with_params(
        request.redirect_uri, {"code": code, "state": request.state, "iss": ctx.settings.issuer}
    )


async def remember_consent(
    session: AsyncSession, ctx: Context, request: AuthorizationRequest, live: LiveSession
) -> None:
    consent = await session.get(Consent, (live.account.id, request.client_id))
    now = ctx.clock.now()
    if consent is None:
        session.add(
            Consent(
                account_id=live.account.id,
                client_id=request.client_id,
                scopes=sorted(set(request.scope)),
                granted_at=now,
            )
        )
    else:
        consent.scopes = sorted(set(consent.scopes) | set(request.scope))
        consent.granted_at = now
