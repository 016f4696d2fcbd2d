"""The application factory: one ``Context`` per app, routers wired, errors rendered."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.staticfiles import StaticFiles

from idp import __version__
from idp.accounts import pages as email_link_pages
from idp.accounts import routes as account_routes
from idp.accounts.contacts import routes as contact_routes
from idp.accounts.login import routes as login_routes
from idp.accounts.passwords import pages as reset_pages
from idp.accounts.passwords import routes as password_routes
from idp.accounts.registration import pages as registration_pages
from idp.accounts.registration import routes as registration_routes
from idp.api import sessions as api_sessions
from idp.clock import Clock
from idp.context import Context
from idp.errors import OAuthError, ProblemError, ValidationFailed
from idp.http import health
from idp.http.cors import ApiCors
from idp.http.headers import BodyLimit, SecurityHeaders
from idp.http.responses import oauth_json, problem_json
from idp.jobs.maintenance import Maintenance
from idp.notify.dispatcher import NotificationDispatcher
from idp.oidc import discovery, introspection, revocation, token_endpoint, userinfo
from idp.oidc.authorize import routes as authorize_routes
from idp.oidc.logout import end_session
from idp.oidc.logout.dispatcher import LogoutDispatcher
from idp.settings import Settings
from idp.web import dev_mailbox

log = logging.getLogger("idp")


def create_app(
    settings: Settings | None = None, *, clock: Clock | None = None, run_jobs: bool = True
) -> FastAPI:
    settings = settings or Settings()
    ctx = Context.build(settings, clock)
    maintenance = Maintenance(ctx)
    dispatcher = LogoutDispatcher(ctx)
    notifications = NotificationDispatcher(ctx)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await ctx.keys.ensure_keys()
        if run_jobs:
            maintenance.start()
            dispatcher.start()
            notifications.start()
        try:
            yield
        finally:
            await notifications.stop()
            await dispatcher.stop()
            await maintenance.stop()
            await ctx.close()

    app = FastAPI(
        title="idp",
        version=__version__,
        lifespan=lifespan,
        docs_url="/api/docs" if settings.dev_mode else None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.ctx = ctx
    app.state.logout = dispatcher
    app.state.notifications = notifications
    for module in (
        discovery,
        authorize_routes,
        token_endpoint,
        userinfo,
        introspection,
        revocation,
        end_session,
        api_sessions,
        registration_routes,
        login_routes,
        account_routes,
        password_routes,
        contact_routes,
        dev_mailbox,
        registration_pages,
        email_link_pages,
        reset_pages,
        health,
    ):
        app.include_router(module.router)
    app.mount(
        "/static", StaticFiles(directory=Path(__file__).parent / "web" / "static"), name="static"
    )
    _install_error_handlers(app)
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)  # outside BodyLimit: its 413 gets the headers too
    app.add_middleware(ApiCors, origins=settings.cors_origins)  # outermost: errors readable too
    return app


def _install_error_handlers(app: FastAPI) -> None:
    issuer: str = app.state.ctx.settings.issuer

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> Response:
        return problem_json(exc, request.url.path, issuer=issuer)

    @app.exception_handler(OAuthError)
    async def _oauth(_request: Request, exc: OAuthError) -> Response:
        return oauth_json(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {
                "field": ".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]),
                "message": e["msg"],
            }
            for e in exc.errors()
        ]
        return problem_json(
            ValidationFailed("Some fields are invalid.", errors=errors),
            request.url.path,
            issuer=issuer,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return JSONResponse(
            {"title": str(exc.detail), "status": exc.status_code},
            status_code=exc.status_code,
            media_type="application/problem+json",
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"error": "server_error"}, status_code=500)
