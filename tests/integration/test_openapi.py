"""The committed ``openapi.yaml``: equal to a fresh export, a well-formed OpenAPI 3.1 document,
and true to the app (every documented operation exists; every advertised endpoint is there)."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml  # type: ignore[import-untyped]
from starlette.routing import Match

from idp.app import create_app
from idp.oidc.discovery import metadata
from idp.settings import Settings
from tests.support.live import LiveServer

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "openapi.yaml"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
PATH_ITEM_KEYS = METHODS | {"summary", "description", "servers", "parameters", "$ref"}
STATUS = re.compile(r"^([1-5][0-9][0-9]|[1-5]XX|default)$")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"only local references are expected: {ref}"
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict), f"unresolved $ref {ref}"
        assert part in node, f"unresolved $ref {ref}"
        node = node[part]
    return node


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


async def test_the_committed_document_equals_a_fresh_export(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "idp.openapi_export",
        cwd=tmp_path,
        env={**env, "PYTHONWARNINGS": "error"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    assert err == b""
    assert out == COMMITTED.read_bytes(), "openapi.yaml is stale: run `make openapi`"
    # The export wrote nothing where it ran (no ./var, no key file).
    assert await asyncio.to_thread(lambda: list(tmp_path.iterdir())) == []


def test_it_is_a_well_formed_openapi_3_1_document(document: dict[str, Any]) -> None:
    assert re.fullmatch(r"3\.1\.[0-9]+", document["openapi"])
    for field in ("title", "version"):
        assert isinstance(document["info"][field], str)
        assert document["info"][field]
    assert document["paths"]
    schemes = document.get("components", {}).get("securitySchemes", {})
    operation_ids: list[str] = []
    for path, item in document["paths"].items():
        assert path.startswith("/"), path
        assert set(item) <= PATH_ITEM_KEYS, (path, set(item) - PATH_ITEM_KEYS)
        assert set(item) & METHODS, f"{path} has no operation"
    for path, method, operation in _operations(document):
        where = f"{method.upper()} {path}"
        if "operationId" in operation:
            operation_ids.append(operation["operationId"])
        responses = operation.get("responses")
        assert isinstance(responses, dict), f"{where} has no responses"
        assert responses, f"{where} has no responses"
        for status, response in responses.items():
            assert STATUS.match(str(status)), (where, status)
            if "$ref" in response:
                response = _resolve(document, response["$ref"])
            assert isinstance(response.get("description"), str), f"{where} {status}: description"
            for media, content in response.get("content", {}).items():
                assert "/" in media, (where, status, media)
                assert isinstance(content, dict), (where, status, media)
        if "requestBody" in operation:
            body = operation["requestBody"]
            assert body.get("content"), f"{where}: requestBody without content"
        declared = {
            (p["name"], p["in"])
            for p in [*item_parameters(document, path), *operation.get("parameters", [])]
        }
        for parameter in operation.get("parameters", []):
            assert parameter["in"] in ("query", "header", "path", "cookie"), where
            assert "schema" in parameter or "content" in parameter, where
            if parameter["in"] == "path":
                assert parameter.get("required") is True, where
        for name in re.findall(r"{([^}]+)}", path):
            assert (name, "path") in declared, f"{where}: path parameter {name} undeclared"
        for requirement in operation.get("security", document.get("security", [])):
            assert set(requirement) <= set(schemes), (where, requirement)
    assert len(operation_ids) == len(set(operation_ids)), "operationIds must be unique"
    for node in _walk(document):
        if isinstance(node, dict) and isinstance(node.get("$ref"), str):
            _resolve(document, node["$ref"])


def item_parameters(document: dict[str, Any], path: str) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = document["paths"][path].get("parameters", [])
    return parameters


PROTOCOL = {
    "/.well-known/openid-configuration": {"get"},
    "/jwks": {"get"},
    "/authorize": {"get", "post"},
    "/token": {"post"},
    "/userinfo": {"get", "post"},
    "/introspect": {"post"},
    "/revoke": {"post"},
    "/healthz": {"get"},
    "/readyz": {"get"},
}


def test_the_protocol_endpoints_are_described(document: dict[str, Any]) -> None:
    paths = document["paths"]
    for path, methods in PROTOCOL.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))
    schemes = document["components"]["securitySchemes"]
    assert {s["scheme"] for s in schemes.values() if s["type"] == "http"} >= {"basic", "bearer"}

    def form_fields(operation: dict[str, Any]) -> set[str]:
        media = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]
        schema = media["schema"]
        if "$ref" in schema:
            schema = _resolve(document, schema["$ref"])
        return set(schema["properties"])

    token = paths["/token"]["post"]
    assert {"grant_type", "code", "redirect_uri", "code_verifier", "refresh_token"} <= form_fields(
        token
    )
    assert {"client_id", "client_secret", "client_assertion"} <= form_fields(token)
    assert {"token", "token_type_hint"} <= form_fields(paths["/introspect"]["post"])
    assert {"token", "token_type_hint"} <= form_fields(paths["/revoke"]["post"])
    assert {"response_type", "client_id", "redirect_uri", "code_challenge"} <= form_fields(
        paths["/authorize"]["post"]
    )
    query = {p["name"] for p in paths["/authorize"]["get"]["parameters"] if p["in"] == "query"}
    assert {"response_type", "client_id", "redirect_uri", "scope", "state", "nonce"} <= query
    assert {"code_challenge", "code_challenge_method", "prompt", "max_age"} <= query

    # RFC 6749 §5.2 error objects on the JSON endpoints.
    error = document["components"]["schemas"]["OAuthError"]
    assert error["required"] == ["error"]
    assert {"error", "error_description"} <= set(error["properties"])
    for path, status in (("/token", "400"), ("/token", "401"), ("/introspect", "401")):
        content = paths[path]["post"]["responses"][status]["content"]["application/json"]
        assert content["schema"] == {"$ref": "#/components/schemas/OAuthError"}
    for path in ("/token", "/introspect", "/revoke"):
        assert {"clientSecretBasic": []} in paths[path]["post"]["security"]
    for method in ("get", "post"):
        assert paths["/userinfo"][method]["security"] == [{"bearerAccessToken": []}]
    token_ok = paths["/token"]["post"]["responses"]["200"]["content"]["application/json"]
    token_schema = _resolve(document, token_ok["schema"]["$ref"])
    assert {"access_token", "token_type", "expires_in", "id_token"} <= set(
        token_schema["properties"]
    )


async def test_the_document_is_true_to_the_app(document: dict[str, Any], tmp_path: Path) -> None:
    kek = base64.urlsafe_b64encode(b"o" * 32).decode().rstrip("=")
    settings = Settings(
        database_url="sqlite+aiosqlite:///:memory:",
        var_dir=tmp_path,
        key_encryption_key=kek,
        dev_mode=True,  # as `make openapi` builds it
    )
    app = create_app(settings, run_jobs=False)
    try:

        def served(path: str, method: str) -> bool:
            concrete = re.sub(r"{[^}]+}", "00000000-0000-4000-8000-000000000000", path)
            scope = {"type": "http", "path": concrete, "method": method.upper(), "root_path": ""}
            scope |= {"headers": [], "query_string": b""}
            return any(route.matches(scope)[0] == Match.FULL for route in app.router.routes)

        missing = [(m, p) for p, m, _ in _operations(document) if not served(p, m)]
        assert served("/token", "post")  # the probe works ...
        assert not served("/token", "delete")  # ... both ways
    finally:
        await app.state.ctx.close()
    assert missing == [], "documented operations the app does not serve"
    # Everything discovery advertises is described.
    advertised = {
        value.removeprefix(settings.issuer)
        for key, value in metadata(settings).items()
        if key.endswith("_endpoint") or key == "jwks_uri"
    }
    assert advertised <= set(document["paths"]), advertised - set(document["paths"])


def _problem_schema(document: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = document["components"]["schemas"]["Problem"]
    return schema


def test_every_rest_error_is_a_documented_problem(document: dict[str, Any]) -> None:
    """RFC 9457 on the REST API: every error status is application/problem+json with the
    Problem schema; FastAPI's HTTPValidationError (never sent) is nowhere."""
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas
    problem = _problem_schema(document)
    assert problem["required"] == ["type", "title", "status"]
    assert {"type", "title", "status", "detail", "instance", "errors"} <= set(problem["properties"])
    checked = 0
    for path, method, operation in _operations(document):
        if not path.startswith("/api/"):
            continue
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            assert response["content"] == {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            }, (method, path, status)
            checked += 1
        if operation.get("parameters") or operation.get("requestBody"):
            assert "422" in operation["responses"], (method, path)
    assert checked > 40


def test_who_may_call_each_rest_operation_is_declared(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["csrfToken"] == {**schemes["csrfToken"], "in": "header", "name": "X-CSRF-Token"}
    assert schemes["sessionCookie"]["in"] == "cookie"
    cookie_and_csrf = {"sessionCookie": [], "browserCookie": [], "csrfToken": []}
    paths = document["paths"]
    assert paths["/api/v1/me/csrf"]["get"]["security"] == [{"sessionCookie": []}]
    assert paths["/api/v1/me/sessions"]["get"]["security"] == [{"sessionCookie": []}]
    assert paths["/api/v1/me/sessions"]["delete"]["security"] == [cookie_and_csrf]
    assert paths["/api/v1/me/sessions/{session_id}"]["delete"]["security"] == [cookie_and_csrf]
    assert paths["/api/v1/me/password"]["post"]["security"] == [
        cookie_and_csrf,
        {"firstPartyBearer": []},
    ]
    for path in ("/api/v1/login", "/api/v1/logout"):
        assert paths[path]["post"]["security"] == [{"browserCookie": [], "csrfToken": []}]
    # Every operation under /api/v1/me needs the caller, and every unsafe one the CSRF header
    # with the cookies.
    for path, method, operation in _operations(document):
        if path.startswith("/api/v1/me"):
            requirements = operation.get("security")
            assert requirements, (method, path)
            if method != "get":
                assert all("csrfToken" in r for r in requirements if "sessionCookie" in r), (
                    method,
                    path,
                )


def test_the_registration_and_reset_tokens_are_required_headers(document: dict[str, Any]) -> None:
    seen = 0
    for path, method, operation in _operations(document):
        for parameter in operation.get("parameters", []):
            if parameter["name"] in ("X-Registration-Token", "X-Reset-Token"):
                assert parameter["in"] == "header"
                assert parameter["required"] is True, (method, path)
                assert parameter["schema"]["type"] == "string", (method, path)
                seen += 1
    assert seen == 5


def test_links_lead_to_operations_that_exist(document: dict[str, Any]) -> None:
    operations = {op["operationId"]: (p, op) for p, _, op in _operations(document)}
    found = 0
    for path, method, operation in _operations(document):
        for status, response in operation["responses"].items():
            for name, link in response.get("links", {}).items():
                _, target = operations[link["operationId"]]
                names = {(p["in"], p["name"]) for p in target.get("parameters", [])}
                for parameter in link["parameters"]:
                    where, _, bare = parameter.rpartition(".")
                    assert (where or "path", bare) in names, (method, path, status, name)
                found += 1
    assert found >= 9


def test_userinfo_refusals_are_the_challenge_alone(document: dict[str, Any]) -> None:
    for method in ("get", "post"):
        responses = document["paths"]["/userinfo"][method]["responses"]
        for status in ("401", "403"):
            assert "content" not in responses[status]
            assert responses[status]["headers"]["WWW-Authenticate"]["required"] is True


async def test_the_served_document_is_openapi_yaml(
    document: dict[str, Any], server: LiveServer
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.json() == document
