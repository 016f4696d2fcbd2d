"""Every error, rendered in the format of the route it hit (``idp.http.routing``).

Routes raise an ``IdpError`` and never build an error response by hand. The framework's own
refusals (404, 405, 413, request validation) and any unexpected exception become an
``IdpError`` too, so they answer in the route's format: RFC 6749 JSON on protocol routes,
RFC 9457 problem+json on the REST API, ``error.html`` on pages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import quote

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from idp.errors import (
    ContentTooLarge,
    ErrorForClient,
    HttpProblem,
    IdpError,
    MethodNotAllowed,
    NotFound,
    OAuthError,
    ProblemError,
    UnexpectedError,
    ValidationFailed,
)
from idp.http.responses import error_redirect, problem_json, protocol_json
from idp.http.routing import RouteKind, allowed_methods, route_kind

log = logging.getLogger("idp")

PageRenderer = Callable[[Request, IdpError], Response]


def render(request: Request, error: IdpError) -> Response:
    issuer: str = request.app.state.ctx.settings.issuer
    if isinstance(error, ErrorForClient):
        return error_redirect(error.redirect_uri, error.error, error.state, issuer)
    kind = route_kind(request.scope)
    if kind is RouteKind.PROTOCOL:
        return protocol_json(error)
    if kind is RouteKind.API:
        problem = error if isinstance(error, ProblemError) else _as_problem(error)
        return problem_json(problem, _instance(request), issuer=issuer)
    return _page(request, error)


def _instance(request: Request) -> str:
    # RFC 9457 §3.1.5: a URI reference, so the path percent-encoded as on the wire, never the
    # decoded text (which may hold spaces, controls or any other character sent encoded).
    return quote(request.url.path, safe="/:@!$&'()*+,;=-._~", errors="replace")


def _as_problem(error: IdpError) -> ProblemError:
    # A protocol error raised under /api/ (a shared helper): its code is the problem's title.
    if error.status_code >= 500:
        return UnexpectedError()
    title = error.error if isinstance(error, OAuthError) else type(error).__name__
    problem = HttpProblem(error.status_code, title)
    problem.description = error.description
    return problem


def _page(request: Request, error: IdpError) -> Response:
    # Pages are rendered by ``idp.web`` (above this kit), handed in by ``install``.
    render_page: PageRenderer = request.app.state.render_error_page
    return render_page(request, error)


def from_http_exception(request: Request, exc: StarletteHTTPException) -> IdpError:
    if exc.status_code == 404:
        return NotFound()
    if exc.status_code == 405:
        allow = allowed_methods(request.scope) or (exc.headers or {}).get("Allow", "")
        return MethodNotAllowed(allow)
    return HttpProblem(exc.status_code, str(exc.detail))


def from_validation_error(request: Request, exc: RequestValidationError) -> IdpError:
    errors = [
        {
            "field": ".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]),
            "message": e["msg"],
        }
        for e in exc.errors()
    ]
    failed = ValidationFailed("Some fields are invalid.", errors=errors)
    if route_kind(request.scope) is not RouteKind.API:
        # Only the REST API speaks 422; a page or a protocol endpoint refuses the request.
        failed.status_code = 400
    return failed


def install(app: FastAPI, render_page: PageRenderer) -> None:
    app.state.render_error_page = render_page

    @app.exception_handler(IdpError)
    async def _idp(request: Request, exc: IdpError) -> Response:
        return render(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return render(request, from_validation_error(request, exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return render(request, from_http_exception(request, exc))


def too_large(scope: Scope) -> Response:
    """The 413 of ``BodyLimit``, in the format of the route the body was sent to."""
    return render(Request(scope), ContentTooLarge("request body too large"))


class UnexpectedErrors:
    """The catch-all 500, inside the header middleware (so it gets the security and CORS
    headers) and rendered in the route's format. The exception is logged, never shown."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise  # too late for an error page: let the server cut the response
            try:
                response = render(Request(scope, receive), UnexpectedError())
            except Exception:  # the error page itself failed (a template, the locale): plain text
                log.exception("rendering the error answer failed")
                response = PlainTextResponse("Internal Server Error", status_code=500)
            await response(scope, receive, send)
