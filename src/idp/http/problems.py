"""How the REST API documents its errors: RFC 9457 problem details, one ``type`` per error."""

from __future__ import annotations

from typing import Any

# A component (``idp.http.openapi`` adds it): FastAPI registers components only for response
# models, and files those under application/json, which these responses never are.
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Problem details (RFC 9457); the members after `instance` are this API's "
    "extension members, present only where they apply.",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {
            "type": "string",
            "format": "uri-reference",
            "description": "{issuer}/problems/{slug}: stable per kind of problem",
        },
        "title": {"type": "string", "description": "Short, the same for every occurrence"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "This occurrence, for a person to read"},
        "instance": {
            "type": "string",
            "format": "uri-reference",
            "description": "The path that was requested",
        },
        "errors": {
            "type": "array",
            "description": "Field-level errors (422)",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "code": {
                        "type": "string",
                        "description": "A stable code for the rule the field broke, where the "
                        "API gives one (personal data), for a client to translate",
                    },
                },
            },
        },
        "attempts_left": {"type": "integer", "description": "Wrong codes still allowed"},
    },
}
PROBLEM: dict[str, str] = {"$ref": "#/components/schemas/Problem"}

_DESCRIPTIONS = {
    400: "The code is wrong or has expired",
    401: "Not authenticated, or a wrong login or password",
    403: "The CSRF check failed, or not allowed",
    404: "Not found, or expired",
    409: "In conflict with the account's state",
    415: "The body is not JSON",
    422: "Invalid fields, listed in errors[]",
    429: "Too many attempts: wait Retry-After seconds",
    503: "The server is busy (password hashing is saturated): retry after Retry-After seconds",
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status as application/problem+json."""
    documented: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {
            "description": _DESCRIPTIONS.get(code, "Problem details (RFC 9457)"),
            "content": {"application/problem+json": {"schema": PROBLEM}},
        }
        if code in (429, 503):
            entry["headers"] = {
                "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
            }
        documented[code] = entry
    return documented
