"""Security headers on every response (RFC 9700 §4.16 clickjacking, §4.2.4 referrer leaks)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A full policy for pages that opt in (registration pages); ``{targets}`` lists origins forms
# may lead to, because Chromium applies form-action to the redirects that follow a POST too.
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self' {targets}; "
    "frame-ancestors 'none'; base-uri 'none'"
)
_COMMON = [
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
]
_FRAMING = [
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    """Pure ASGI (no BaseHTTPMiddleware overhead). A route may set its own CSP; we add the rest."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                extra = [h for h in _COMMON if h[0] not in names]
                if b"content-security-policy" not in names:
                    extra.append(
                        (b"content-security-policy", b"frame-ancestors 'none'; base-uri 'none'")
                    )
                if b"x-frame-options" not in names and b"x-frame-allowed" not in names:
                    extra.extend(_FRAMING)
                headers = [h for h in headers if h[0].lower() != b"x-frame-allowed"]
                message["headers"] = headers + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Refuse request bodies over a limit with 413 before anything parses them; ``refuse``
    renders the 413 in the format of the route the request was for."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int = 64 * 1024,
        refuse: Callable[[Scope], Response] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.refuse = refuse or _plain_refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = True
                if too_big:
                    await self.refuse(scope)(scope, receive, send)
                    return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except BodyTooLarge:
            await self.refuse(scope)(scope, receive, send)


class BodyTooLarge(Exception):
    """Raised from ``receive`` past the limit; ``BodyLimit`` turns it into 413. Body parsers
    must let it through."""


def _plain_refusal(_scope: Scope) -> Response:
    return Response("request body too large", status_code=413, media_type="text/plain")
