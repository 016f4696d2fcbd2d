"""Route kinds: which of the three error renderings a route answers in.

- ``PROTOCOL``: the OAuth/OIDC endpoints a relying party calls (token, userinfo, introspection,
  revocation, discovery, JWKS): RFC 6749 JSON.
- ``API``: the REST API under ``/api/``: RFC 9457 problem+json.
- ``PAGE``: what a browser navigates to, including the two protocol endpoints a person's
  browser is sent to (authorization, logout): an HTML page, or for an error the client must hear
  of once its redirect URI is trusted, the redirect with ``error``, ``state`` and ``iss``
  (RFC 6749 §4.1.2.1).

A router declares its kind (``ProtocolRouter()``, ``ApiRouter(...)``, ``PageRouter()``); the
route that matched is in the ASGI scope, so every error handler (the catch-all 500 included)
knows the kind. A request that matched no route (404), or that was refused before routing (413),
is classed by its path.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import Any, ClassVar

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import Scope


class RouteKind(StrEnum):
    PROTOCOL = "protocol"
    API = "api"
    PAGE = "page"


class ProtocolRoute(APIRoute):
    kind: ClassVar[RouteKind] = RouteKind.PROTOCOL


class ApiRoute(APIRoute):
    kind: ClassVar[RouteKind] = RouteKind.API


class PageRoute(APIRoute):
    kind: ClassVar[RouteKind] = RouteKind.PAGE


class ApiMount(Mount):
    """A mounted ASGI app of the API's kind (the registry simulator in dev mode)."""

    kind: ClassVar[RouteKind] = RouteKind.API


class ProtocolRouter(APIRouter):
    def __init__(self, **options: Any) -> None:
        super().__init__(route_class=ProtocolRoute, **options)


class ApiRouter(APIRouter):
    """``route_class`` may be a subclass of ``ApiRoute`` (such as ``JsonRoute``)."""

    def __init__(self, *, route_class: type[ApiRoute] = ApiRoute, **options: Any) -> None:
        super().__init__(route_class=route_class, **options)


class PageRouter(APIRouter):
    def __init__(self, **options: Any) -> None:
        options.setdefault("include_in_schema", False)  # pages are not the API
        super().__init__(route_class=PageRoute, **options)


API_PREFIX = "/api/"
_PROTOCOL_PREFIXES = ("/.well-known/",)


def kind_of_path(path: str) -> RouteKind:
    """The kind of a path no route answered: the API's prefix, discovery's, else a page."""
    if path == API_PREFIX.rstrip("/") or path.startswith(API_PREFIX):
        return RouteKind.API
    if path.startswith(_PROTOCOL_PREFIXES):
        return RouteKind.PROTOCOL
    return RouteKind.PAGE


def _routes(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    # FastAPI keeps an included router as one entry holding the router; create_app includes
    # every router without a prefix, so its routes' own paths are the paths served.
    for route in routes:
        included = getattr(route, "original_router", None)
        if isinstance(included, APIRouter):
            yield from _routes(included.routes)
        else:
            yield route


def _matching(scope: Scope) -> list[BaseRoute]:
    """The app's routes that match the request's path (whatever its method)."""
    routes: list[BaseRoute] = getattr(scope.get("app"), "routes", [])
    return [route for route in _routes(routes) if route.matches(scope)[0] is not Match.NONE]


def route_kind(scope: Scope) -> RouteKind:
    """The kind of the route that took the request, else of the first one its path matches
    (a request refused before routing), else by its path."""
    for route in [scope.get("route")] if "route" in scope else _matching(scope)[:1]:
        declared = getattr(route, "kind", None)
        if isinstance(declared, RouteKind):
            return declared
    return kind_of_path(scope.get("path", "/"))


def allowed_methods(scope: Scope) -> str:
    """Every method the request's path answers (RFC 9110 §10.2.1), not only those of the first
    route Starlette tried: one path may be served by several routes (GET and POST apart)."""
    methods: set[str] = set()
    for route in _matching(scope):
        methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))
