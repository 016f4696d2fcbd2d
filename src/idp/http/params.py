"""Reading protocol parameters: each at most once (RFC 6749 §3.1), bounded in size."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from starlette.datastructures import FormData
from starlette.requests import Request

from idp.errors import InvalidRequest
from idp.http.headers import BodyTooLarge

MAX_FIELDS = 64
FORM_TYPE = "application/x-www-form-urlencoded"

# Parameters the protocol endpoints define. An error names only these: any other name was chosen
# by whoever sent the request, and echoing it would put their text into our answer (and, at the
# authorization endpoint, into the redirect to the client).
KNOWN_PARAMETERS = frozenset(
    {
        "acr_values", "assertion", "claims", "client_assertion", "client_assertion_type",
        "client_id", "client_secret", "code", "code_challenge", "code_challenge_method",
        "code_verifier", "display", "grant_type", "id_token_hint", "login_hint", "max_age",
        "nonce", "post_logout_redirect_uri", "prompt", "redirect_uri", "refresh_token",
        "request", "request_uri", "resource", "response_mode", "response_type", "scope",
        "state", "token", "token_type_hint", "ui_locales", "logout_hint", "claims_locales",
    }
)  # fmt: skip


# C0 controls, DEL and C1 controls (Unicode category Cc). No protocol parameter has a use for
# them (RFC 6749 Appendix A limits state, scope and codes to visible ASCII), PostgreSQL's text
# and jsonb refuse NUL, and a control character echoed into a page or a log line misleads.
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f]")


def _named(name: str) -> str:
    return f"parameter {name!r}" if name in KNOWN_PARAMETERS else "a parameter"


def has_control_characters(value: str) -> bool:
    return CONTROL_CHARACTERS.search(value) is not None


def refuse_control_characters(
    params: Mapping[str, str], error: type[InvalidRequest] = InvalidRequest
) -> None:
    """``invalid_request`` (or the endpoint's subclass of it) when any value holds a control
    character. Endpoints call it where the error can be answered properly: at the authorization
    endpoint, once the redirect URI is trusted, so the client hears about it."""
    for name, value in params.items():
        if has_control_characters(value):
            raise error(f"{_named(name)} contains control characters")


def _collect(items: Iterable[tuple[str, object]], max_length: int) -> dict[str, str]:
    params: dict[str, str] = {}
    for count, (name, value) in enumerate(items, start=1):
        if count > MAX_FIELDS:
            raise InvalidRequest("too many parameters")
        if not isinstance(value, str):
            raise InvalidRequest("file uploads are not accepted")
        if name in params:
            raise InvalidRequest(f"{_named(name)} is repeated")
        if len(value) > max_length:
            raise InvalidRequest(f"{_named(name)} is too long")
        if value == "":
            continue  # OAuth 2.0 §3.1: parameters sent without a value are treated as omitted
        params[name] = value
    return params


async def read_form(request: Request, max_length: int) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        raise InvalidRequest(f"the body must be {FORM_TYPE}")
    try:
        form: FormData = await request.form(max_files=0, max_fields=MAX_FIELDS)
    except BodyTooLarge:
        raise  # BodyLimit answers 413
    except Exception as exc:  # malformed bodies from python-multipart come in many types
        raise InvalidRequest("the body could not be parsed") from exc
    return _collect(form.multi_items(), max_length)


async def read_params(request: Request, max_length: int) -> dict[str, str]:
    """Query parameters for GET, form parameters for POST (OIDC Core §3.1.2.1 allows both)."""
    if request.method == "POST":
        return await read_form(request, max_length)
    return _collect(request.query_params.multi_items(), max_length)
