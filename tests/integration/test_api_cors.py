"""CORS: only the configured front-end origins, only under /api/, with credentials; never on
the authorization endpoint (RFC 9700 §2.6) and never for a wildcard."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import ValidationError

from idp.clock import OffsetClock
from idp.settings import Settings
from tests.support.api_kit import serve_variant
from tests.support.live import LiveServer

PORTAL = "https://portal.example"
EVIL = "https://evil.example"
CUSTOM_HEADERS = "content-type, x-csrf-token, x-registration-token, x-reset-token, authorization"


@pytest.fixture(scope="module")
async def cors_server(
    settings: Settings, clock: OffsetClock, server: LiveServer
) -> AsyncIterator[LiveServer]:
    """Beside the main test server (which migrated the database)."""
    variant = serve_variant(settings, clock, cors_origins=[PORTAL, "http://localhost:3000"])
    yield variant
    variant.stop()


@pytest.fixture
async def http(cors_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=cors_server.url) as client:
        yield client


def _preflight(origin: str, method: str = "POST", headers: str = CUSTOM_HEADERS) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


def _no_cors(response: httpx.Response) -> None:
    names = {name.lower() for name in response.headers}
    assert not {n for n in names if n.startswith("access-control-")}, dict(response.headers)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/login",
        "/api/v1/me/password",
        "/api/v1/password-resets",
        "/api/v1/registrations",
        "/api/v1/me/contacts",
    ],
)
async def test_a_preflight_from_the_front_end_is_allowed_with_credentials(
    http: httpx.AsyncClient, path: str
) -> None:
    response = await http.options(path, headers=_preflight(PORTAL))
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == PORTAL
    assert response.headers["access-control-allow-credentials"] == "true"
    allowed = {h.strip() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"x-csrf-token", "x-registration-token", "x-reset-token", "authorization"} <= allowed
    assert {"GET", "POST", "DELETE"} <= {
        m.strip() for m in response.headers["access-control-allow-methods"].split(",")
    }
    assert "Origin" in response.headers["vary"]


async def test_a_preflight_from_another_origin_or_for_other_headers_is_refused(
    http: httpx.AsyncClient,
) -> None:
    for headers in (
        _preflight(EVIL),
        _preflight(PORTAL + ".evil.example"),
        _preflight("null"),
        _preflight(PORTAL, method="PUT"),
        _preflight(PORTAL, headers="x-csrf-token, x-forwarded-for"),
    ):
        response = await http.options("/api/v1/login", headers=headers)
        assert response.status_code == 403, headers
        _no_cors(response)


async def test_actual_responses_carry_cors_headers_only_for_the_front_end(
    http: httpx.AsyncClient,
) -> None:
    allowed = await http.get("/api/v1/csrf", headers={"Origin": PORTAL})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == PORTAL
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "Retry-After" in allowed.headers["access-control-expose-headers"]
    assert "Origin" in allowed.headers["vary"]
    local = await http.get("/api/v1/csrf", headers={"Origin": "http://localhost:3000"})
    assert local.headers["access-control-allow-origin"] == "http://localhost:3000"
    refused = await http.get("/api/v1/csrf", headers={"Origin": EVIL})
    assert refused.status_code == 200  # the browser, not the server, withholds the answer
    _no_cors(refused)
    assert "Origin" in refused.headers["vary"]  # a cache must not reuse the portal's answer
    # Errors are readable by the front end too.
    problem = await http.post("/api/v1/login", json={}, headers={"Origin": PORTAL})
    assert problem.status_code in (403, 422)
    assert problem.headers["access-control-allow-origin"] == PORTAL


@pytest.mark.parametrize("path", ["/authorize", "/token", "/userinfo", "/", "/interaction/x"])
async def test_nothing_outside_the_api_gets_cors_headers(
    http: httpx.AsyncClient, path: str
) -> None:
    preflight = await http.options(path, headers=_preflight(PORTAL, method="GET", headers=""))
    _no_cors(preflight)
    plain = await http.get(path, headers={"Origin": PORTAL})
    _no_cors(plain)


async def test_without_configured_origins_the_api_has_no_cors(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        preflight = await http.options("/api/v1/login", headers=_preflight(PORTAL))
        _no_cors(preflight)
        plain = await http.get("/api/v1/csrf", headers={"Origin": PORTAL})
        _no_cors(plain)


@pytest.mark.parametrize(
    "origin", ["*", "portal.example", "https://portal.example/app", "ftp://portal.example"]
)
def test_settings_refuse_anything_but_exact_origins(origin: str) -> None:
    with pytest.raises(ValidationError):
        Settings(cors_origins=[origin])
    assert Settings(cors_origins=["https://portal.example/"]).cors_origins == [PORTAL]
