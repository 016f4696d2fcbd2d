"""The one OpenAPI document: what ``/api/openapi.json`` serves and ``make openapi`` writes.

FastAPI describes the REST routes; the protocol endpoints read their own parameters and are
described by hand (``idp.oidc.openapi_protocol``), handed in by the app factory. This module
merges the two and makes the document say what the error handlers do:
- every REST error is RFC 9457 problem+json (``components.schemas.Problem``); FastAPI's own
  ``HTTPValidationError`` never answers here, so it is replaced and removed;
- the security schemes the REST routes declare (``security(...)``), with the CSRF header as
  part of the cookie requirement on unsafe methods.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from idp.http import cookies
from idp.http.problems import PROBLEM, PROBLEM_SCHEMA, problems
from idp.http.routing import API_PREFIX

Document = dict[str, Any]
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "sessionCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": cookies.SESSION,
        "description": "The SSO session cookie, set by POST /api/v1/login or the login page "
        "(named __Host-idp_session under https).",
    },
    "browserCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": cookies.BROWSER,
        "description": "The browser cookie the CSRF token is bound to, set by GET /api/v1/csrf "
        "(named __Host-idp_browser under https).",
    },
    "csrfToken": {
        "type": "apiKey",
        "in": "header",
        "name": "X-CSRF-Token",
        "description": "The token from GET /api/v1/csrf (or GET /api/v1/me/csrf), bound to the "
        "browser cookie; required with the cookies on unsafe methods.",
    },
    "firstPartyBearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token (scope openid) of a client listed in "
        "first_party_clients; no cookie and no CSRF header then.",
    },
}

# Security requirements: all schemes of one object together; any one object of the list.
Requirement = dict[str, list[str]]
_COOKIE_WITH_CSRF: Requirement = {"sessionCookie": [], "browserCookie": [], "csrfToken": []}
SESSION: list[Requirement] = [{"sessionCookie": []}]
SESSION_WITH_CSRF: list[Requirement] = [_COOKIE_WITH_CSRF]
CALLER: list[Requirement] = [{"sessionCookie": []}, {"firstPartyBearer": []}]
CALLER_WITH_CSRF: list[Requirement] = [_COOKIE_WITH_CSRF, {"firstPartyBearer": []}]
BROWSER_WITH_CSRF: list[Requirement] = [{"browserCookie": [], "csrfToken": []}]


def security(requirements: list[Requirement]) -> dict[str, Any]:
    """``openapi_extra=`` for a route: who may call it (the schemes above)."""
    return {"security": [dict(r) for r in requirements]}


def build(
    app: FastAPI,
    paths: Mapping[str, Mapping[str, Any]],
    components: Mapping[str, Mapping[str, Any]],
    tags: list[dict[str, str]],
) -> Document:
    """FastAPI's document for ``app`` with ``paths``/``components`` merged in; a path operation
    or a component defined twice is an error."""
    # Plain, unshared containers: YAML would emit aliases for shared ones.
    document = _plain(_fastapi_document(app))
    _merge(document, paths, components, tags)
    _problems_everywhere(document)
    _add_components(document)
    result: Document = _plain(document)
    return result


def install(app: FastAPI, make: Callable[[], Document]) -> None:
    """Serve ``make()`` (built once) as the app's document."""

    def openapi() -> Document:
        if app.openapi_schema is None:
            app.openapi_schema = make()
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _fastapi_document(app: FastAPI) -> Document:
    return get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )


def _plain(document: Document) -> Document:
    copied: Document = json.loads(json.dumps(document))
    return copied


def _merge(
    document: Document,
    paths: Mapping[str, Mapping[str, Any]],
    components: Mapping[str, Mapping[str, Any]],
    tags: list[dict[str, str]],
) -> None:
    target_paths: dict[str, dict[str, Any]] = document.setdefault("paths", {})
    for path, operations in paths.items():
        item = target_paths.setdefault(path, {})
        for method, operation in operations.items():
            if method in item:
                raise ValueError(f"{method.upper()} {path} is described twice")
            item[method] = operation
    target: dict[str, dict[str, Any]] = document.setdefault("components", {})
    for section, entries in components.items():
        section_target = target.setdefault(section, {})
        for name, value in entries.items():
            if name in section_target:
                raise ValueError(f"components.{section}.{name} is defined twice")
            section_target[name] = value
    known = {tag["name"] for tag in document.get("tags", [])}
    document.setdefault("tags", []).extend(t for t in tags if t["name"] not in known)


def _problems_everywhere(document: Document) -> None:
    """FastAPI documents a 422 of its own shape on every route with parameters; the REST API
    answers every error, that 422 included, as a problem (``idp.http.errors``)."""
    for path, item in document.get("paths", {}).items():
        if not path.startswith(API_PREFIX):
            continue
        for method in METHODS:
            responses = item.get(method, {}).get("responses", {})
            for status, response in list(responses.items()):
                if not (status.isdigit() and int(status) >= 400):
                    continue
                if "application/problem+json" in response.get("content", {}):
                    response["content"] = {"application/problem+json": {"schema": PROBLEM}}
                else:  # FastAPI's own 422 (its HTTPValidationError shape is never sent)
                    responses[status] = problems(int(status))[int(status)]
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    for name in _FASTAPI_VALIDATION:
        schemas.pop(name, None)


def _add_components(document: Document) -> None:
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    name = PROBLEM["$ref"].rsplit("/", 1)[1]
    if name in schemas:
        raise ValueError(f"components.schemas.{name} is defined twice")
    schemas[name] = PROBLEM_SCHEMA
    schemes = components.setdefault("securitySchemes", {})
    for scheme, definition in SECURITY_SCHEMES.items():
        if scheme in schemes:
            raise ValueError(f"components.securitySchemes.{scheme} is defined twice")
        schemes[scheme] = definition
    components["schemas"] = dict(sorted(schemas.items()))
    components["securitySchemes"] = dict(sorted(schemes.items()))


def links(status: int, /, **targets: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entry for ``status`` naming the operations its answer leads to (OpenAPI
    links: what a client, or a stateful test, can call next with the values it got)."""
    return {status: {"links": targets}}


def link(operation_id: str, **parameters: str) -> dict[str, Any]:
    """One link; a parameter outside the path is named ``{in}.{name}``, as in
    ``header.X-Registration-Token``."""
    return {"operationId": operation_id, "parameters": dict(parameters)}
