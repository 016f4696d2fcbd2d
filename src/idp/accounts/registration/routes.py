"""Self-registration over the REST API (the portal's front end)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Header, Request, status
from starlette.responses import Response

from idp.accounts import verification
from idp.accounts.registration import service as registration
from idp.accounts.registration.schemas import (
    EmailConfirmation,
    PasswordChoice,
    PhoneCode,
    PrivacyNotice,
    RegisteredAccount,
    RegistrationCreated,
    RegistrationRequest,
    RegistrationStatus,
    ResendResult,
)
from idp.http.deps import Ctx, client_ip
from idp.http.openapi import link, links
from idp.http.problems import problems
from idp.http.routing import ApiRouter
from idp.web.i18n import request_locale

router = ApiRouter(prefix="/api/v1", tags=["registration"])
PROBLEM = problems(400, 404, 409, 415, 422, 429)
_HELD = {
    "registration_id": "$response.body#/id",
    "header.X-Registration-Token": "$response.body#/token",
}
NEXT_STEPS = links(
    201,
    status=link("registration_status_api_v1_registrations__registration_id__get", **_HELD),
    confirm_phone=link(
        "confirm_phone_api_v1_registrations__registration_id__phone_confirm_post", **_HELD
    ),
    resend_phone=link(
        "resend_phone_api_v1_registrations__registration_id__phone_resend_post", **_HELD
    ),
    choose_password=link(
        "choose_password_api_v1_registrations__registration_id__password_post", **_HELD
    ),
)
# Required: without it nothing about a registration is told or changed (422 names the header).
RegistrationToken = Annotated[
    str, Header(alias="X-Registration-Token", description="The token returned at registration")
]


def _wake(request: Request) -> None:
    request.app.state.notifications.wake()


@router.get("/privacy-notice", response_model=PrivacyNotice)
async def privacy_notice(ctx: Ctx) -> PrivacyNotice:
    """The notice a registration asks consent to (Federal Law 152-FZ): show it to the person
    before they agree, and send its version with the registration."""
    url = ctx.settings.privacy_notice_url
    absolute = ctx.settings.issuer + url if url.startswith("/") else url
    return PrivacyNotice(url=absolute, version=ctx.settings.privacy_notice_version)


@router.post(
    "/registrations",
    status_code=status.HTTP_201_CREATED,
    response_model=RegistrationCreated,
    responses={**PROBLEM, **NEXT_STEPS},
)
async def register(body: RegistrationRequest, request: Request, ctx: Ctx) -> RegistrationCreated:
    locale = request_locale(request)
    data = registration.RegistrationInput(
        last_name=body.last_name,
        first_name=body.first_name,
        middle_name=body.middle_name,
        phone=body.phone,
        email=body.email,
        consent=body.personal_data_consent,
        notice_version=body.privacy_notice_version,
    )
    async with ctx.db.transaction() as session:
        started = await registration.start(session, ctx, data, locale, ip=client_ip(request))
    _wake(request)
    row = started.registration
    return RegistrationCreated(
        id=str(row.id),
        token=started.token,
        phone_code_sent=row.phone is not None,
        email_link_sent=row.email is not None,
        expires_at=row.expires_at,
        resend_after=ctx.settings.verification.resend_cooldown if row.phone else None,
    )


@router.get(
    "/registrations/{registration_id}", response_model=RegistrationStatus, responses=PROBLEM
)
async def registration_status(
    registration_id: uuid.UUID, ctx: Ctx, token: RegistrationToken
) -> RegistrationStatus:
    async with ctx.db.read() as session:
        row = await registration.load(session, ctx, registration_id, token)
        pending = await verification.latest(session, row.id, registration.PURPOSE, "sms")
    return RegistrationStatus(
        id=str(row.id),
        phone_confirmed=row.phone_confirmed_at is not None,
        email_confirmed=row.email_confirmed_at is not None,
        resend_after=verification.resend_available_in(ctx, pending) if pending else None,
        expires_at=row.expires_at,
    )


@router.post(
    "/registrations/{registration_id}/phone/confirm",
    response_model=RegistrationStatus,
    responses=PROBLEM,
)
async def confirm_phone(
    registration_id: uuid.UUID, body: PhoneCode, ctx: Ctx, token: RegistrationToken
) -> RegistrationStatus:
    async with ctx.db.transaction() as session:
        checked = await registration.confirm_phone(session, ctx, registration_id, token, body.code)
    if checked.problem is not None:
        raise checked.problem  # after the commit: the wrong attempt stays counted
    row = checked.registration
    return RegistrationStatus(
        id=str(row.id),
        phone_confirmed=True,
        email_confirmed=row.email_confirmed_at is not None,
        resend_after=None,
        expires_at=row.expires_at,
    )


@router.post(
    "/registrations/{registration_id}/phone/resend", response_model=ResendResult, responses=PROBLEM
)
async def resend_phone(
    registration_id: uuid.UUID, request: Request, ctx: Ctx, token: RegistrationToken
) -> ResendResult:
    async with ctx.db.transaction() as session:
        wait = await registration.resend_phone(
            session, ctx, registration_id, token, ip=client_ip(request)
        )
    _wake(request)
    return ResendResult(resend_after=wait)


@router.post(
    "/registrations/{registration_id}/password",
    status_code=status.HTTP_201_CREATED,
    response_model=RegisteredAccount,
    responses={**PROBLEM, **problems(503)},  # 503: password hashing is saturated
)
async def choose_password(
    registration_id: uuid.UUID, body: PasswordChoice, ctx: Ctx, token: RegistrationToken
) -> RegisteredAccount:
    async with ctx.db.read() as session:
        row = await registration.load(session, ctx, registration_id, token)
    registration.check_password_choice(ctx, row, body.password, body.password_repeat)
    password_hash = await ctx.passwords.hash(body.password)  # outside any transaction
    with registration.contact_taken(registration.CONTACT_TAKEN):
        async with ctx.db.transaction() as session:
            account = await registration.complete(
                session, ctx, registration_id, token, password_hash
            )
    return RegisteredAccount(sub=account.sub, level=account.level)


@router.post("/email-confirmations", status_code=status.HTTP_204_NO_CONTENT, responses=PROBLEM)
async def confirm_email(body: EmailConfirmation, request: Request, ctx: Ctx) -> Response:
    locale = request_locale(request)
    with registration.contact_taken(registration.EMAIL_TAKEN):
        async with ctx.db.transaction() as session:
            await registration.confirm_email(
                session, ctx, body.token, locale=locale, ip=client_ip(request)
            )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
