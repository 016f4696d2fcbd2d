"""The application factory: one ``Context`` per app, routers wired, errors rendered."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError
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
from idp.background import Background
from idp.clock import Clock
from idp.consents import routes as consent_routes
from idp.console import pages as console_pages
from idp.console import routes as console_routes
from idp.console.my_data import pages as my_data_pages
from idp.console.qes import pages as qes_pages
from idp.context import Context
from idp.demo import pages as demo_pages
from idp.demo.registration import register_demo_client
from idp.demo.setup import build_demo
from idp.errors import BadInput
from idp.http import errors, health, openapi
from idp.http.access_log import scrub_access_log
from idp.http.cors import ApiCors
from idp.http.headers import BodyLimit, SecurityHeaders
from idp.http.routing import ApiMount
from idp.levels import simulator
from idp.levels.personal_data import routes as personal_data_routes
from idp.levels.qes import routes as qes_routes
from idp.levels.qes.signing import Signing
from idp.notify.outbox import NOTIFICATION
from idp.notify.registry import check_notifiers
from idp.oidc import discovery, introspection, revocation, token_endpoint, userinfo
from idp.oidc.authorize import routes as authorize_routes
from idp.oidc.logout import end_session
from idp.oidc.openapi_protocol import TAGS, protocol_components, protocol_paths
from idp.sessions import routes as session_routes
from idp.settings import DEV_CA_PATH, REGISTRY_SIMULATOR_PATH, Settings
from idp.startup_checks import enforce
from idp.web import dev_mailbox, language, start_page, theme
from idp.web.error_page import render_error_page
from idp.web.render import PageScope

logger = logging.getLogger("idp")
DESCRIPTION = (
    "OpenID Connect identity provider. The protocol endpoints follow OpenID Connect Core 1.0, "
    "Discovery 1.0 and the OAuth 2.0 RFCs cited per operation."
)


def create_app(
    settings: Settings | None = None, *, clock: Clock | None = None, run_jobs: bool = True
) -> FastAPI:
    settings = settings or Settings()
    check_notifiers(settings)  # a wrong plug-in name stops start-up before anything is opened
    enforce(settings)  # outside dev mode: no SMS gateway, a KEK beside the database, http issuer
    scrub_access_log()
    page_theme = theme.load_theme(settings)  # a wrong theme stops start-up with one line
    ctx = Context.build(settings, clock)
    background = Background(ctx)
    demo = build_demo(ctx) if settings.dev_mode else None  # the built-in relying party
    signing = Signing(ctx)  # the e-signature checker; in dev mode the development CA

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await ctx.keys.ensure_keys()
        if demo is not None:
            try:
                await register_demo_client(ctx)
            except BadInput as exc:  # an issuer a redirect URI cannot use (http, not loopback)
                logger.warning("the demo relying party is not registered: %s", exc)
            except SQLAlchemyError as exc:  # a schema not migrated yet: /readyz says so
                logger.warning("the demo relying party is not registered: %s", type(exc).__name__)
        app.state.signature_checker = await signing.start()
        if run_jobs:
            background.start()
        try:
            yield
        finally:
            await background.stop()  # also the jobs run_now started, without run_jobs too
            await signing.close()
            if demo is not None:
                await demo.close()
            await ctx.close()

    app = FastAPI(
        title="idp",
        version=__version__,
        lifespan=lifespan,
        docs_url="/api/docs" if settings.dev_mode else None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        description=DESCRIPTION,
    )
    app.state.ctx = ctx
    app.state.demo = demo  # None outside dev mode: /demo is then 404
    app.state.theme = page_theme  # idp.web.render draws every page's frame with it
    app.state.jobs = background.jobs  # JobRunner: run_now after a commit (idp.jobs.deps)
    app.state.notifications = background.jobs.waker(NOTIFICATION)  # .wake() after a commit
    for module in (
        discovery,
        authorize_routes,
        token_endpoint,
        userinfo,
        introspection,
        revocation,
        end_session,
        session_routes,
        registration_routes,
        login_routes,
        account_routes,
        password_routes,
        contact_routes,
        personal_data_routes,
        qes_routes,
        consent_routes,
        console_routes,
        dev_mailbox,
        start_page,
        demo_pages,
        language,
        theme,
        registration_pages,
        email_link_pages,
        reset_pages,
        console_pages,
        my_data_pages,
        qes_pages,
        health,
    ):
        app.include_router(module.router)
    app.mount(
        "/static", StaticFiles(directory=Path(__file__).parent / "web" / "static"), name="static"
    )
    if settings.serves_registry_simulator:  # dev mode only (startup_checks): the http
        # verifier's far side
        app.router.routes.append(
            ApiMount(REGISTRY_SIMULATOR_PATH, simulator.build_app(), name="registry-sim")
        )
    dev_ca = signing.responder()
    if dev_ca is not None:  # dev mode only (startup_checks): the development CA's CRL and OCSP
        app.router.routes.append(ApiMount(DEV_CA_PATH, dev_ca, name="dev-ca"))
    app.state.dev_signer = signing.dev_signer  # None outside dev mode: the endpoint is 404
    errors.install(app, render_error_page)
    # The served document is the one `make openapi` writes, protocol endpoints included.
    openapi.install(app, lambda: openapi.build(app, protocol_paths(), protocol_components(), TAGS))
    app.add_middleware(BodyLimit, refuse=errors.too_large)
    app.add_middleware(errors.UnexpectedErrors)  # inside the headers: its 500 gets them too
    app.add_middleware(SecurityHeaders)  # outside BodyLimit: its 413 gets the headers too
    app.add_middleware(ApiCors, origins=settings.cors_origins)  # errors readable too
    app.add_middleware(PageScope)  # outermost: every page and error page sees its request
    return app
