"""Confirming the account with a qualified e-signature over the REST API: ask for a challenge,
submit the signature over it, and (dev mode only) have the development CA sign it."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import Depends, Request, Response

from idp.http import cookies
from idp.http.deps import Ctx, client_ip
from idp.http.json_route import JsonRoute
from idp.http.openapi import CALLER_WITH_CSRF, security
from idp.http.problems import problems
from idp.http.routing import ApiRouter
from idp.levels.qes import sequence, service
from idp.levels.qes.errors import DevSignerOff
from idp.levels.qes.schemas import (
    ChallengeOut,
    ConfirmationBody,
    ConfirmationOut,
    DevSignatureBody,
    DevSignatureOut,
)
from idp.levels.qes.service import Checker, DevSigner
from idp.levels.qes.submission import decode_submission
from idp.sessions.auth import RecentCaller
from idp.web.i18n import request_locale

router = ApiRouter(prefix="/api/v1/me/qes", tags=["account"], route_class=JsonRoute)


def signature_checker(request: Request) -> Checker:
    """The app's one checker, built at start-up (``idp.app``)."""
    checker: Checker = request.app.state.signature_checker
    return checker


CheckerDep = Annotated[Checker, Depends(signature_checker)]


def _no_store(response: Response) -> None:
    response.headers["Cache-Control"] = "no-store"


@router.post(
    "/challenges",
    status_code=201,
    response_model=ChallengeOut,
    responses=problems(401, 403, 409, 429),
    openapi_extra=security(CALLER_WITH_CSRF),
)
async def new_challenge(ctx: Ctx, caller: RecentCaller, response: Response) -> ChallengeOut:
    """A one-time text to sign with a qualified certificate, valid
    ``signatures.challenge_ttl`` seconds; the account's earlier unused ones end. Only a
    standard account may ask (409 ``level-too-low``, ``already-confirmed``), at most
    ``signatures.challenges_per_hour`` an hour (429). The login must be recent
    (``reauthentication-required`` otherwise)."""
    async with ctx.db.transaction() as session:
        issued = await service.issue_challenge(session, ctx, caller.account.id, now=ctx.clock.now())
    _no_store(response)
    return ChallengeOut(
        id=issued.id,
        content=issued.content,
        content_base64=base64.b64encode(issued.content.encode()).decode(),
        expires_at=issued.expires_at,
    )


# 503 here is the verification's, not the password hashing's that ``problems`` describes.
CONFIRM_PROBLEMS = problems(401, 403, 404, 409, 410, 413, 415, 422, 503)
CONFIRM_PROBLEMS[503] = {
    **CONFIRM_PROBLEMS[503],
    "description": "The signature cannot be checked now (verification-unavailable): send it "
    "again after Retry-After seconds",
}


@router.post(
    "/confirmations",
    response_model=ConfirmationOut,
    responses=CONFIRM_PROBLEMS,
    openapi_extra=security(CALLER_WITH_CSRF),
)
async def confirm(
    body: ConfirmationBody,
    request: Request,
    ctx: Ctx,
    caller: RecentCaller,
    checker: CheckerDep,
    response: Response,
) -> ConfirmationOut:
    """Submit the signature over a challenge; once per challenge (409 ``challenge-used``,
    410 ``challenge-expired``, 404). A signature that does not confirm the account is 422
    ``signature-refused`` with ``code``: the verification's reason (``malformed``,
    ``untrusted``, ``revoked``, ``expired``, ``bad_signature``, …), ``organization-certificate``
    (an organization's certificate: OGRN or its INN in it) or ``identity-mismatch``
    with ``fields`` (``snils``, ``name``). A body over 64 KiB is 413. When the signature cannot
    be checked now (the checker is saturated, or the check ran out of time) the answer is 503
    ``verification-unavailable`` with Retry-After, and the challenge stays open: send the same
    signature again after that many seconds. On success the account is confirmed (method
    ``qes``) and the browser's session gets a new cookie."""
    submission = decode_submission(
        body.signature, body.certificates, max_bytes=ctx.settings.signatures.max_signature_bytes
    )
    browser = caller.session_id if caller.client_id is None else None
    outcome = await sequence.submit(
        ctx,
        checker,
        caller.account.id,
        body.challenge_id,
        submission,
        session_id=browser,
        ip=client_ip(request),
        locale=request_locale(request),
    )
    if outcome.cookie is not None and outcome.cookie_max_age is not None:
        # The session's absolute limit did not restart: the cookie lasts what it has left.
        cookies.write(
            response, cookies.SESSION, outcome.cookie, ctx.settings, max_age=outcome.cookie_max_age
        )
    _no_store(response)
    return ConfirmationOut(
        level="confirmed", confirmation_method="qes", certificate_fingerprint=outcome.fingerprint
    )


def dev_signer(request: Request) -> DevSigner:
    """The development signer, dev mode only: 404 before anything else is looked at."""
    signer: DevSigner | None = getattr(request.app.state, "dev_signer", None)
    if signer is None:
        raise DevSignerOff("Not found.")
    return signer


@router.post(
    "/dev-signature",
    response_model=DevSignatureOut,
    responses=problems(401, 403, 404, 409, 410),
    openapi_extra=security(CALLER_WITH_CSRF),
    include_in_schema=False,
)
async def dev_signature(
    signer: Annotated[DevSigner, Depends(dev_signer)],
    body: DevSignatureBody,
    ctx: Ctx,
    caller: RecentCaller,
    response: Response,
) -> DevSignatureOut:
    """Dev mode only (404 otherwise): the challenge signed by a development certificate made
    for the account's verified SNILS and names, as a signing plug-in would (409
    ``no-verified-identity`` for an account without them)."""
    async with ctx.db.read() as session:
        wanted = await service.to_sign(
            session, ctx, caller.account.id, body.challenge_id, now=ctx.clock.now()
        )
    signature = await signer.sign(wanted.content.encode(), wanted.holder)
    _no_store(response)
    return DevSignatureOut(signature=base64.b64encode(signature).decode())
