"""The three renderings of an error: OAuth JSON, problem+json, and a page."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, RedirectResponse

from idp.errors import InsufficientScope, InvalidClient, InvalidToken, OAuthError, ProblemError
from idp.security.redirect_uris import with_params

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def oauth_json(error: OAuthError) -> JSONResponse:
    body: dict[str, Any] = {"error": error.error}
    if error.description:
        body["error_description"] = error.description
    headers = dict(NO_STORE)
    if isinstance(error, InvalidClient):
        # RFC 6749 §5.2: 401 with WWW-Authenticate for a failed client authentication.
        headers["WWW-Authenticate"] = 'Basic realm="idp", charset="UTF-8"'
    if isinstance(error, InvalidToken | InsufficientScope):
        headers["WWW-Authenticate"] = bearer_challenge(error)
    return JSONResponse(body, status_code=error.status_code, headers=headers)


def bearer_challenge(error: OAuthError | None) -> str:
    # RFC 6750 §3: no error code when the request carried no token at all.
    if error is None:
        return 'Bearer realm="idp"'
    description = error.description.replace('"', "'")
    return f'Bearer realm="idp", error="{error.error}", error_description="{description}"'


def error_redirect(
    redirect_uri: str, error: OAuthError, state: str | None, issuer: str
) -> RedirectResponse:
    location = with_params(
        redirect_uri,
        {
            "error": error.error,
            "error_description": error.description or None,
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
    if error.description:
        body["detail"] = error.description
    if instance:
        body["instance"] = instance
    body.update(error.extra)
    headers = {"Cache-Control": "no-store"}
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    challenge = getattr(error, "www_authenticate", None)
    if challenge is not None:
        headers["WWW-Authenticate"] = challenge
    return JSONResponse(
        body, status_code=error.status_code, media_type="application/problem+json", headers=headers
    )
