"""The person's data for the standard level over the REST API, the registry checks it started
and the history of the account's level."""

from __future__ import annotations

from contextlib import suppress

from fastapi import Request, Response

from idp.errors import NotFound
from idp.http.deps import Ctx, client_ip
from idp.http.json_route import JsonRoute
from idp.http.openapi import CALLER, CALLER_WITH_CSRF, security
from idp.http.problems import problems
from idp.http.routing import ApiRouter
from idp.levels.personal_data import service
from idp.levels.personal_data.schemas import (
    LevelHistory,
    PersonalDataBody,
    PersonalDataOut,
    PersonalDataSaved,
    ProgressOut,
    data_out,
    history_out,
    progress_out,
)
from idp.levels.personal_data.validation import parse
from idp.levels.verification.rounds import REGISTRY_CHECK
from idp.sessions.auth import CurrentCaller, RecentCaller
from idp.web.i18n import request_locale

router = ApiRouter(prefix="/api/v1/me", tags=["account"], route_class=JsonRoute)


def _no_store(response: Response) -> None:
    response.headers["Cache-Control"] = "no-store"  # personal data (ASVS 5.0 14.3.2)


def _wake_checks(request: Request) -> None:
    # KeyError: no worker for the kind in this process; a worker's poll finds the jobs.
    with suppress(KeyError):
        request.app.state.jobs.wake(REGISTRY_CHECK)


@router.get(
    "/personal-data",
    response_model=PersonalDataOut,
    responses=problems(401, 403, 404),
    openapi_extra=security(CALLER),
)
async def get_personal_data(ctx: Ctx, caller: RecentCaller, response: Response) -> PersonalDataOut:
    """The person's data as last saved (404 before the first save). The login must be recent
    (``reauthentication-required`` otherwise, with the step-up challenge for a Bearer token), as
    the "My data" page asks before it shows the data."""
    async with ctx.db.read() as session:
        view = await service.load(session, caller.account.id)
    if view is None:
        raise NotFound("No personal data has been saved yet.")
    _no_store(response)
    return data_out(view)


@router.put(
    "/personal-data",
    response_model=PersonalDataSaved,
    responses=problems(401, 403, 409, 415, 422, 429),
    openapi_extra=security(CALLER_WITH_CSRF),
)
async def put_personal_data(
    body: PersonalDataBody,
    request: Request,
    ctx: Ctx,
    caller: RecentCaller,
    response: Response,
) -> PersonalDataSaved:
    """Replace the person's data. Changed data starts the registry checks it needs (a standard
    account drops to simplified until they succeed); identical data starts nothing. A SNILS
    another account logs in with is refused (409 ``snils-taken``). The login must be recent
    (``reauthentication-required`` otherwise), as for a contact change."""
    now = ctx.clock.now()
    data = parse(body.model_dump(), today=now.date())
    async with ctx.db.transaction() as session:
        saved = await service.save(
            session,
            ctx,
            caller.account.id,
            data,
            at=now,
            ip=client_ip(request),
            locale=request_locale(request),
        )
        view = await service.load(session, caller.account.id)
        progress = await service.progress(session, caller.account.id)
    if saved.jobs:
        _wake_checks(request)
    assert view is not None
    _no_store(response)
    return PersonalDataSaved(
        changed=saved.changed, data=data_out(view), progress=progress_out(progress)
    )


@router.get(
    "/verifications",
    response_model=ProgressOut,
    responses=problems(401, 403),
    openapi_extra=security(CALLER),
)
async def verifications(ctx: Ctx, caller: CurrentCaller, response: Response) -> ProgressOut:
    """The account's level and the registry checks of its data's current revision."""
    async with ctx.db.read() as session:
        found = await service.progress(session, caller.account.id)
    _no_store(response)
    return progress_out(found)


@router.get(
    "/level-history",
    response_model=LevelHistory,
    responses=problems(401, 403),
    openapi_extra=security(CALLER),
)
async def level_history(ctx: Ctx, caller: CurrentCaller, response: Response) -> LevelHistory:
    """Every change of the account's level: from, to, why, on what evidence, when."""
    async with ctx.db.read() as session:
        changes = await service.level_history(session, caller.account.id)
    _no_store(response)
    return history_out(changes)
