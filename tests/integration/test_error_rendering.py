"""Every error answers in the format of the route it hit: RFC 6749 JSON on protocol endpoints,
RFC 9457 problem+json under /api/, the HTML error page on pages; the catch-all 500 included.

The 500s come from a real failure (the tables the routes read are renamed away under a running
server, on its own throwaway database) and from routes that only this test adds to its app.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from idp.app import create_app
from idp.clock import OffsetClock
from idp.db.migrate import upgrade
from idp.errors import IdpError
from idp.http.routing import ApiRouter, PageRouter, ProtocolRouter
from idp.settings import Settings
from tests.support.live import LiveServer, free_port

BROKEN_TABLES = ("clients", "browser_sessions", "interactions")
RENDER_FAILS = "/test-errors/page-whose-error-page-fails"


class Boom(Exception):
    """What the test-only routes raise: nothing in the service knows it."""


def _test_routers() -> list[ProtocolRouter | ApiRouter | PageRouter]:
    protocol = ProtocolRouter()
    api = ApiRouter(prefix="/api/v1/test-errors")
    pages = PageRouter()

    @protocol.post("/test-errors/protocol")
    async def protocol_boom() -> None:
        raise Boom("secret detail")

    @api.get("/boom")
    async def api_boom() -> None:
        raise Boom("secret detail")

    @pages.get("/test-errors/page")
    async def page_boom() -> None:
        raise Boom("secret detail")

    @pages.get(RENDER_FAILS)
    async def page_whose_error_page_fails() -> None:
        raise Boom("secret detail")

    @pages.get("/test-errors/count")
    async def page_count(n: int) -> dict[str, int]:
        return {"n": n}

    @protocol.get("/test-errors/protocol-count")
    async def protocol_count(n: int) -> dict[str, int]:
        return {"n": n}

    return [protocol, api, pages]


async def _fresh_database(settings: Settings, tmp: Path) -> tuple[str, str | None]:
    """A migrated database of its own (and, on PostgreSQL, its name, to drop it after)."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        return f"sqlite+aiosqlite:///{tmp / 'broken.db'}", None
    name = f"idp_errors_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False), name


@pytest.fixture(scope="module")
async def broken_server(
    settings: Settings, clock: OffsetClock, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[LiveServer, str]]:
    database_url, pg_name = await _fresh_database(settings, tmp_path_factory.mktemp("errors"))
    await upgrade(database_url)
    port = free_port()
    own = settings.model_copy(
        update={"database_url": database_url, "issuer": f"http://127.0.0.1:{port}"}
    )
    app = create_app(own, clock=clock, run_jobs=False)
    for router in _test_routers():
        app.include_router(router)
    render_page = app.state.render_error_page

    def render_page_failing_on_one_path(request: Request, error: IdpError) -> Response:
        if request.url.path == RENDER_FAILS:
            raise Boom("the template is broken")
        return render_page(request, error)

    app.state.render_error_page = render_page_failing_on_one_path
    live = LiveServer(app, port).start()
    engine = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        for table in BROKEN_TABLES:
            await connection.execute(text(f"ALTER TABLE {table} RENAME TO {table}_gone"))
    await engine.dispose()
    try:
        yield live, own.issuer
    finally:
        live.stop()
        if pg_name is not None:
            admin = create_async_engine(settings.database_url, isolation_level="AUTOCOMMIT")
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE "{pg_name}" WITH (FORCE)'))
            await admin.dispose()


@pytest.fixture
def broken(broken_server: tuple[LiveServer, str]) -> Iterator[httpx.Client]:
    live, _ = broken_server
    with httpx.Client(base_url=live.url, timeout=30, follow_redirects=False) as client:
        yield client


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30, follow_redirects=False) as client:
        yield client


def _logged(caplog: pytest.LogCaptureFixture, path: str) -> bool:
    return any(
        record.levelno == logging.ERROR and path in record.getMessage() and record.exc_info
        for record in caplog.records
    )


def _is_oauth_500(response: httpx.Response) -> None:
    assert response.status_code == 500, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": "server_error"}
    assert response.headers["cache-control"] == "no-store"


def _is_problem_500(response: httpx.Response, issuer: str, path: str) -> None:
    assert response.status_code == 500, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": f"{issuer}/problems/server-error",
        "title": "Internal server error",
        "status": 500,
        "instance": path,
    }


def _is_page_500(response: httpx.Response) -> None:
    assert response.status_code == 500, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "Something went wrong" in response.text
    assert "server_error" in response.text
    # The security headers still apply: the 500 is rendered inside their middleware.
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


# --- the catch-all 500, on real routes over a broken database ----------------------------------


def test_token_endpoint_answers_a_failure_as_oauth_json(
    broken: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="idp"):
        response = broken.post(
            "/token", data={"grant_type": "client_credentials"}, auth=("someone", "secret")
        )
    _is_oauth_500(response)
    assert _logged(caplog, "/token")


def test_rest_api_answers_a_failure_as_problem_json(
    broken: httpx.Client, broken_server: tuple[LiveServer, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="idp"):
        broken.cookies.set("idp_session", "s" * 43)
        response = broken.get("/api/v1/me")
    _is_problem_500(response, broken_server[1], "/api/v1/me")
    assert _logged(caplog, "/api/v1/me")


def test_page_answers_a_failure_as_the_error_page(
    broken: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    path = "/interaction/" + "i" * 32
    with caplog.at_level(logging.ERROR, logger="idp"):
        broken.cookies.set("idp_browser", "b" * 32)
        response = broken.get(path, headers={"Accept-Language": "en"})
    _is_page_500(response)
    assert _logged(caplog, path)


def test_error_page_is_in_the_browsers_language(broken: httpx.Client) -> None:
    broken.cookies.set("idp_browser", "b" * 32)
    response = broken.get("/interaction/" + "i" * 32, headers={"Accept-Language": "ru"})
    assert response.status_code == 500
    assert "Что-то пошло не так" in response.text


# --- the catch-all 500 on routes of each kind that raise what nothing expects ------------------


def test_unexpected_exception_on_each_kind(
    broken: httpx.Client, broken_server: tuple[LiveServer, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="idp"):
        protocol = broken.post("/test-errors/protocol")
        api = broken.get("/api/v1/test-errors/boom")
        page = broken.get("/test-errors/page", headers={"Accept-Language": "en"})
    _is_oauth_500(protocol)
    _is_problem_500(api, broken_server[1], "/api/v1/test-errors/boom")
    _is_page_500(page)
    for response in (protocol, api, page):
        assert "secret detail" not in response.text
    for path in ("/test-errors/protocol", "/api/v1/test-errors/boom", "/test-errors/page"):
        assert _logged(caplog, path), path
    assert any(r.exc_info and r.exc_info[0] is Boom for r in caplog.records)


def test_a_failing_error_page_still_answers_500_in_plain_text(
    broken: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="idp"):
        response = broken.get(RENDER_FAILS)
    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert any("rendering the error answer failed" in r.getMessage() for r in caplog.records)


def test_validation_error_on_a_page_is_the_error_page(broken: httpx.Client) -> None:
    response = broken.get(
        "/test-errors/count", params={"n": "many"}, headers={"Accept-Language": "en"}
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "The request has invalid fields" in response.text


def test_validation_error_on_a_protocol_route_is_invalid_request(broken: httpx.Client) -> None:
    response = broken.get("/test-errors/protocol-count", params={"n": "many"})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"


# --- 404, 405 and 413 in the kind of the path they hit ----------------------------------------


def test_404_under_api_is_problem_json(http: httpx.Client, settings: Settings) -> None:
    response = http.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == f"{settings.issuer}/problems/not-found"
    assert problem["status"] == 404
    assert problem["instance"] == "/api/v1/no-such-thing"


@pytest.mark.parametrize(
    ("sent", "instance"),
    [
        ("/api/v1/registrations/%E4%90%87", "/api/v1/registrations/%E4%90%87"),
        ("/api/v1/me/contacts/a%20b%03/resend", "/api/v1/me/contacts/a%20b%03/resend"),
        ("/api/v1/no%FFsuch", "/api/v1/no%EF%BF%BDsuch"),  # not UTF-8: U+FFFD, encoded
    ],
)
def test_a_problems_instance_is_a_uri_reference(
    http: httpx.Client, sent: str, instance: str
) -> None:
    """RFC 9457 §3.1.5 (and openapi.yaml's uri-reference): percent-encoded, never raw text."""
    response = http.post(sent)
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["instance"] == instance


def test_404_page_is_html(http: httpx.Client) -> None:
    response = http.get("/no-such-page", headers={"Accept-Language": "en"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "There is no such page." in response.text


def test_404_under_well_known_is_oauth_json(http: httpx.Client) -> None:
    response = http.get("/.well-known/no-such-document")
    assert response.status_code == 404
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("method", ["PUT", "OPTIONS", "PATCH", "HEAD"])
def test_405_under_api_lists_every_allowed_method(
    http: httpx.Client, settings: Settings, method: str
) -> None:
    # GET and DELETE on this path are two routes: Allow names both, not only the first.
    response = http.request(method, "/api/v1/me/sessions")
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == "DELETE, GET"
    assert response.headers["content-type"] == "application/problem+json"
    if method != "HEAD":
        assert response.json()["type"] == f"{settings.issuer}/problems/method-not-allowed"


def test_405_on_a_page_is_html_with_allow(http: httpx.Client) -> None:
    response = http.put("/register", headers={"Accept-Language": "en"})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.headers["content-type"].startswith("text/html")
    assert "This page cannot be used this way." in response.text


def test_405_on_a_protocol_endpoint_is_oauth_json(http: httpx.Client) -> None:
    response = http.get("/token")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/token", "application/json"),
        ("/api/v1/login", "application/problem+json"),
        ("/register", "text/html; charset=utf-8"),
    ],
)
def test_413_answers_in_the_kind_of_the_path(
    http: httpx.Client, path: str, content_type: str
) -> None:
    body = b"x=" + b"a" * (64 * 1024)
    response = http.post(
        path, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == content_type


def _all(server: LiveServer) -> Iterator[BaseRoute]:
    pending = list(getattr(server.app, "routes", []))
    while pending:
        route = pending.pop()
        included = getattr(route, "original_router", None)
        if included is not None:
            pending.extend(included.routes)
        else:
            yield route


def test_every_route_declares_its_kind(server: LiveServer) -> None:
    """A route module says its kind (ProtocolRouter, ApiRouter, PageRouter), and the kind of
    every route under /api/ is the API's. Only what FastAPI and Starlette add themselves (the
    OpenAPI document, the static files, in dev mode the docs page) is classed by its path."""
    kinds = {getattr(route, "path", ""): getattr(route, "kind", None) for route in _all(server)}
    undeclared = sorted(path for path, kind in kinds.items() if kind is None)
    assert server.app.state.ctx.settings.dev_mode  # the test server; FastAPI adds /api/docs
    assert undeclared == ["/api/docs", "/api/openapi.json", "/docs/oauth2-redirect", "/static"]
    assert {str(kind) for path, kind in kinds.items() if path.startswith("/api/") and kind} == {
        "api"
    }
    assert str(kinds["/token"]) == "protocol"
    assert str(kinds["/authorize"]) == "page"
