"""The JSON renderings of an error: RFC 6749 JSON (and its redirect), RFC 9457 problem+json.
The page rendering is ``idp.web.render.error_page``; ``idp.http.errors`` picks one by route."""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import JSONResponse, RedirectResponse, Response

from idp.errors import (
    IdpError,
    InsufficientScope,
    InvalidClient,
    InvalidToken,
    OAuthError,
    ProblemError,
)
from idp.security.redirect_uris import with_params

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# RFC 6749 §4.1.2.1, §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E.
_OUTSIDE_DESCRIPTION = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")
MAX_DESCRIPTION = 300


def description_text(description: str) -> str:
    """An error's description as every error answer carries it: only the characters RFC 6749
    allows, bounded. Descriptions are written not to quote the request; this is the net under
    that rule, so no quote, backslash, control or look-alike character a sender chose ever
    reaches a header, a redirect or the client's error page."""
    return _OUTSIDE_DESCRIPTION.sub("", description)[:MAX_DESCRIPTION].strip()


def oauth_json(error: OAuthError) -> Response:
    headers = {**NO_STORE, **extra_headers(error)}
    if isinstance(error, InvalidToken | InsufficientScope):
        # RFC 6750 §3: a protected resource tells its error in the challenge, and the same way
        # whether or not a token was sent (the 401 without one has no error code, and no body).
        headers["WWW-Authenticate"] = bearer_challenge(error)
        return Response(status_code=error.status_code, headers=headers)
    body: dict[str, Any] = {"error": error.error}
    if description_text(error.description) and error.expose:
        body["error_description"] = description_text(error.description)
    if isinstance(error, InvalidClient):
        # RFC 6749 §5.2: 401 with WWW-Authenticate for a failed client authentication.
        headers["WWW-Authenticate"] = 'Basic realm="idp", charset="UTF-8"'
    return JSONResponse(body, status_code=error.status_code, headers=headers)


def protocol_json(error: IdpError) -> Response:
    """Any error on a protocol route: its RFC 6749 code, else ``invalid_request`` (a refused
    request) or ``server_error``."""
    if isinstance(error, OAuthError):
        return oauth_json(error)
    body: dict[str, Any] = {
        "error": "server_error" if error.status_code >= 500 else "invalid_request"
    }
    description = description_text(error.description or getattr(error, "title", ""))
    if description and error.expose and error.status_code < 500:
        body["error_description"] = description
    return JSONResponse(
        body, status_code=error.status_code, headers={**NO_STORE, **extra_headers(error)}
    )


def extra_headers(error: IdpError) -> dict[str, str]:
    """The headers an error's status calls for (RFC 9110 §10.2.3 Retry-After, §10.2.1 Allow,
    RFC 6750 §3 WWW-Authenticate)."""
    headers: dict[str, str] = {}
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    allow = getattr(error, "allow", None)
    if allow is not None:
        headers["Allow"] = str(allow)
    challenge = getattr(error, "www_authenticate", None)
    if challenge is not None:
        headers["WWW-Authenticate"] = str(challenge)
    return headers


def bearer_challenge(error: OAuthError | None) -> str:
    # RFC 6750 §3: no error code when the request carried no token at all.
    if error is None:
        return 'Bearer realm="idp"'
    description = description_text(error.description)
    return f'Bearer realm="idp", error="{error.error}", error_description="{description}"'


def error_redirect(
    redirect_uri: str, error: OAuthError, state: str | None, issuer: str
) -> RedirectResponse:
    location = with_params(
        redirect_uri,
        {
            "error": error.error,
            "error_description": description_text(error.description) or None,
            "state": state,
            "iss": issuer,  # RFC 9207 on errors too
        },
    )
    return RedirectResponse(location, status_code=303)


def problem_json(
    error: ProblemError, instance: str | None = None, *, issuer: str = "https://idp.example"
) -> JSONResponse:
    # RFC 9457 §3.1.1: a stable URI per problem type, under the issuer that answers.
    body: dict[str, Any] = {
        "type": f"{issuer}/problems/{error.type_slug}"
        if error.type_slug != "about:blank"
        else "about:blank",
        "title": error.title,
        "status": error.status_code,
    }
    if description_text(error.description) and error.expose:
        body["detail"] = description_text(error.description)
    if instance:
        body["instance"] = instance
    body.update(error.extra)
    headers = {"Cache-Control": "no-store", **extra_headers(error)}
    return JSONResponse(
        body, status_code=error.status_code, media_type="application/problem+json", headers=headers
    )
