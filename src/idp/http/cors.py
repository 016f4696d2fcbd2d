"""CORS for the REST API only, for the exact front-end origins in ``settings.cors_origins``.

Credentials (the SSO and browser cookies) are allowed, so origins are matched exactly, never by
wildcard. Nothing outside ``/api/`` ever gets a CORS header: RFC 9700 §2.6 forbids CORS on the
authorization endpoint, and the pages have no use for it. A refused preflight gets a 403 with
no CORS header at all.
"""

from __future__ import annotations

from collections.abc import Collection

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_PREFIX = "/api/"
ALLOWED_METHODS = ("GET", "POST", "DELETE")
ALLOWED_HEADERS = (
    "content-type",
    "accept",
    "accept-language",
    "authorization",
    "x-csrf-token",
    "x-registration-token",
    "x-reset-token",
)
EXPOSED_HEADERS = "Retry-After, WWW-Authenticate, Location"
MAX_AGE = "600"


class ApiCors:
    def __init__(self, app: ASGIApp, origins: Collection[str]) -> None:
        self.app = app
        self.origins = frozenset(origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not self.origins
            or not str(scope["path"]).startswith(API_PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        allowed = origin is not None and origin in self.origins
        if (
            scope["method"] == "OPTIONS"
            and origin is not None
            and "access-control-request-method" in headers
        ):
            await self._preflight(headers, origin if allowed else None)(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                response_headers.append("Vary", "Origin")
                if allowed and origin is not None:
                    response_headers["Access-Control-Allow-Origin"] = origin
                    response_headers["Access-Control-Allow-Credentials"] = "true"
                    response_headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_cors)

    @staticmethod
    def _preflight(headers: Headers, origin: str | None) -> Response:
        method = headers["access-control-request-method"]
        requested = [
            h.strip().lower()
            for h in headers.get("access-control-request-headers", "").split(",")
            if h.strip()
        ]
        vary = {"Vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"}
        if (
            origin is None
            or method not in ALLOWED_METHODS
            or any(h not in ALLOWED_HEADERS for h in requested)
        ):
            return Response(status_code=403, headers=vary)
        return Response(
            status_code=204,
            headers={
                **vary,
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Credentials": "true",
                "Access-Control-Allow-Methods": ", ".join(ALLOWED_METHODS),
                "Access-Control-Allow-Headers": ", ".join(ALLOWED_HEADERS),
                "Access-Control-Max-Age": MAX_AGE,
            },
        )
