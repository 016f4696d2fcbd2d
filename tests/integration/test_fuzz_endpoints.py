"""Random, malformed, missing, oversized, repeated and non-ASCII input never makes the live
server answer 5xx: every endpoint a browser or a relying party can reach.

Requests go through a synchronous ``httpx.Client`` (the server runs in its own thread), so
hypothesis drives plain functions. Login attempts come from their own forwarded address, so
the failures they cause never throttle the rest of the suite.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
import yaml  # type: ignore[import-untyped]
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import DrawFn, composite
from jwt.algorithms import ECAlgorithm

from idp.context import Context
from idp.keys.store import generate_private_key
from idp.oidc.pkce import s256
from tests.support.factories import RP, Person, make_person, make_rp
from tests.support.live import LiveServer

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FUZZ_ADDRESS = "198.51.100.77"  # TEST-NET-2: failed logins here throttle nobody else
REDIRECT = "https://fuzz.example/cb"
VERIFIER = "v" * 43
BODY_LIMIT = 64 * 1024


@dataclass(frozen=True)
class World:
    confidential: RP
    public: RP
    machine: RP
    jwt_client: RP
    person: Person


@pytest.fixture(scope="module")
async def world(ctx: Context) -> World:
    jwk = ECAlgorithm.to_jwk(generate_private_key("ES256").public_key(), as_dict=True)
    return World(
        confidential=await make_rp(ctx, redirect_uri=REDIRECT, require_consent=True),
        public=await make_rp(ctx, redirect_uri="http://127.0.0.1:7/cb", auth_method="none"),
        machine=await make_rp(
            ctx, grant_types=["client_credentials"], scopes=["openid", "profile"]
        ),
        jwt_client=await make_rp(
            ctx, auth_method="private_key_jwt", jwks={"keys": [{**jwk, "kid": "fuzz"}]}
        ),
        person=await make_person(ctx),
    )


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=server.url,
        timeout=30,
        follow_redirects=False,
        headers={"X-Forwarded-For": FUZZ_ADDRESS},
    ) as client:
        yield client


# --- strategies ----------------------------------------------------------------------------

PARAMETER_NAMES = [
    "response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge",
    "code_challenge_method", "prompt", "max_age", "display", "login_hint", "ui_locales",
    "acr_values", "request", "request_uri", "response_mode", "grant_type", "code",
    "code_verifier", "refresh_token", "client_secret", "client_assertion",
    "client_assertion_type", "token", "token_type_hint", "access_token", "login", "password",
    "decision", "csrf_token", "id_token_hint", "post_logout_redirect_uri",
]  # fmt: skip
ODD_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8"), max_size=40),  # NUL, controls, astral planes
    st.sampled_from(["", " ", "\x00", "%", "%00", "%zz", "é", "😀", "a" * 2049, "0" * 11]),
    st.text(min_size=2049, max_size=2100),  # over the parameter limit
    st.integers().map(str),
)
CONTROLS = st.characters(min_codepoint=0, max_codepoint=0x9F).filter(
    lambda c: c < " " or c >= "\x7f"
)
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
# The REST API, as documented: every operation and every field name its schemas know.
OPENAPI = yaml.safe_load((Path(__file__).resolve().parents[2] / "openapi.yaml").read_text())
OPERATIONS = sorted(
    (method.upper(), path)
    for path, item in OPENAPI["paths"].items()
    for method in item
    if method in ("get", "post", "put", "patch", "delete")
)
JSON_FIELDS = sorted(
    {name for schema in OPENAPI["components"]["schemas"].values()
     for name in schema.get("properties", {})}
)  # fmt: skip
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=6,
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt_like(server: LiveServer, kids: list[str], client_ids: list[str]) -> st.SearchStrategy[str]:
    """Three base64url segments whose header and claims look right often enough to go deep."""
    header = st.fixed_dictionaries(
        {},
        optional={
            "alg": st.sampled_from(["ES256", "RS256", "EdDSA", "none", "HS256"]) | JSON_VALUES,
            "kid": st.sampled_from([*kids, "fuzz"]) | JSON_VALUES,
            "typ": st.sampled_from(["at+jwt", "JWT", "logout+jwt"]) | JSON_VALUES,
        },
    )
    ids = st.sampled_from([server.url, *client_ids]) | JSON_VALUES
    claims = st.fixed_dictionaries(
        {},
        optional={
            "iss": ids,
            "sub": ids,
            "aud": ids | st.lists(ids, max_size=2),
            "azp": ids,
            "exp": st.integers() | JSON_VALUES,
            "iat": st.integers() | JSON_VALUES,
            "jti": st.text(max_size=300) | JSON_VALUES,
            "client_id": ids,
            "gid": st.uuids().map(str) | JSON_VALUES,
            "sid": JSON_VALUES,
            "scope": st.sampled_from(["openid", "openid profile"]) | JSON_VALUES,
        },
    )
    return st.builds(
        lambda h, c, sig: (
            f"{_b64(json.dumps(h).encode())}.{_b64(json.dumps(c).encode())}.{_b64(sig)}"
        ),
        header,
        claims,
        st.binary(max_size=300),
    ) | st.builds(lambda a, b: f"{a}.{b}", st.text(max_size=20), st.text(max_size=20))


def header_text(max_size: int = 60) -> st.SearchStrategy[bytes]:
    # What HTTP/1.1 can carry in a header value: visible Latin-1, spaces and tabs.
    alphabet = st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f")
    return st.text(alphabet, max_size=max_size).map(lambda s: s.encode("latin-1"))


CONTENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded; charset=utf-16",
            "APPLICATION/X-WWW-FORM-URLENCODED",
            "application/json",
            "multipart/form-data",
            "multipart/form-data; boundary=x",
            "text/plain",
            "application/x-www-form-urlencoded; boundary=;;;",
        ]
    ),
    header_text(40),
)


@composite
def pairs(draw: DrawFn, values: st.SearchStrategy[str]) -> list[tuple[str, str]]:
    """Parameters in order, with names repeated at times and sometimes very many of them."""
    name = st.sampled_from(PARAMETER_NAMES) | st.text(max_size=12)
    items = draw(st.lists(st.tuples(name, values), max_size=draw(st.sampled_from([6, 12, 70]))))
    if items and draw(st.booleans()):
        items.append(items[draw(st.integers(0, len(items) - 1))])  # a duplicated parameter
    return items


@composite
def bodies(draw: DrawFn, values: st.SearchStrategy[str]) -> tuple[bytes | None, bytes | None]:
    """A body and a content type, matching or not."""
    kinds = ["form", "form", "form", "raw", "json", "json_shaped", "multipart", "huge"]
    kind = draw(st.sampled_from(kinds))
    if kind == "form":
        body = str(httpx.QueryParams(draw(pairs(values)))).encode()
        content_type = draw(
            st.just(b"application/x-www-form-urlencoded")
            | CONTENT_TYPES.map(lambda t: t.encode() if isinstance(t, str) else t)
        )
    elif kind == "raw":
        body = draw(st.binary(max_size=4000))
        content_type = draw(CONTENT_TYPES.map(lambda t: t.encode() if isinstance(t, str) else t))
    elif kind == "json":
        body = json.dumps(draw(JSON_VALUES)).encode()
        content_type = b"application/json"
    elif kind == "json_shaped":
        fields = st.sampled_from(JSON_FIELDS) | st.text(max_size=8)
        body = json.dumps(draw(st.dictionaries(fields, values | JSON_VALUES, max_size=6))).encode()
        content_type = b"application/json"
    elif kind == "multipart":
        name = draw(st.sampled_from(PARAMETER_NAMES))
        body = (
            b'--x\r\nContent-Disposition: form-data; name="' + name.encode() + b'"; '
            b'filename="a.txt"\r\n\r\n' + draw(st.binary(max_size=100)) + b"\r\n--x--\r\n"
        )
        content_type = b"multipart/form-data; boundary=x"
    else:
        body = b"token=" + b"a" * draw(st.integers(60_000, 70_000))
        content_type = b"application/x-www-form-urlencoded"
    if draw(st.booleans()) and kind != "huge":
        body = None if draw(st.booleans()) else body
    return body, content_type


def _header_safe(value: bytes) -> bytes:
    return bytes(b for b in value if b >= 0x20 and b != 0x7F).strip(b" ")


def send(
    http: httpx.Client,
    method: str,
    path: str,
    *,
    query: list[tuple[str, str]] | None = None,
    body: bytes | None = None,
    content_type: bytes | None = None,
    headers: dict[str, bytes] | None = None,
) -> httpx.Response:
    # HTTP/1.1 itself cannot carry control characters, or whitespace around a header value.
    all_headers = {name: _header_safe(value) for name, value in (headers or {}).items()}
    if content_type is not None:
        all_headers["content-type"] = _header_safe(content_type)
    try:
        response = http.request(
            method,
            path,
            params=query,
            content=body,
            headers=all_headers,  # type: ignore[arg-type]
        )
    except httpx.InvalidURL as exc:
        # httpx will not build a query over 64 KiB once percent-encoded: nothing was sent.
        if "too long" not in str(exc):
            raise
        return httpx.Response(414)
    except httpx.TransportError:
        # Over the body limit the server may answer 413 and close before the body is sent;
        # dropping any other connection is a failure.
        if len(body or b"") <= BODY_LIMIT:
            raise
        return httpx.Response(413)
    if response.status_code >= 500:
        # The server logs the error after answering; let it finish before pytest renders the
        # failure (CPython 3.11's traceback rendering is not thread-safe: gh-106905).
        time.sleep(0.3)
    assert response.status_code < 500, (
        f"{method} {response.request.url} headers={all_headers!r} body={(body or b'')[:300]!r}"
        f" -> {response.status_code} {response.text[:300]}"
    )
    for description in descriptions(response):
        assert DESCRIPTION.fullmatch(description), (method, response.request.url, description)
    return response


# RFC 6749 §4.1.2.1, §5.2: whatever the request held, an error's description keeps to this.
DESCRIPTION = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")


def descriptions(response: httpx.Response) -> list[str]:
    """Every error description an answer carries: JSON body, redirect and bearer challenge."""
    found = []
    json_types = ("application/json", "application/problem+json")
    if response.content and response.headers.get("content-type", "").startswith(json_types):
        body = response.json()  # an answer that says JSON is JSON (HEAD has no body)
        if isinstance(body, dict):
            found += [str(body[k]) for k in ("error_description", "detail") if k in body]
    location = parse_qs(urlsplit(response.headers.get("location", "")).query)
    found += location.get("error_description", [])
    challenge = re.search(
        r'error_description="([^"]*)"', response.headers.get("www-authenticate", "")
    )
    if challenge:
        found.append(challenge.group(1))
    return found


def basic(client_id: str, secret: str) -> bytes:
    return b"Basic " + base64.b64encode(f"{client_id}:{secret}".encode())


@composite
def authorization(draw: DrawFn, world: World) -> dict[str, bytes]:
    choice = draw(st.sampled_from(["none", "real", "wrong", "garbage", "bearer", "odd"]))
    rp = draw(st.sampled_from([world.confidential, world.machine]))
    assert rp.client_secret is not None
    if choice == "real":
        return {"authorization": basic(rp.client_id, rp.client_secret)}
    if choice == "wrong":
        return {"authorization": basic(draw(st.text(max_size=20)), draw(st.text(max_size=20)))}
    if choice == "garbage":
        return {"authorization": b"Basic " + draw(header_text())}
    if choice == "bearer":
        return {"authorization": b"Bearer " + draw(header_text(300))}
    if choice == "odd":
        return {"authorization": draw(header_text())}
    return {}


def values_for(world: World, server: LiveServer, kids: list[str]) -> st.SearchStrategy[str]:
    ids = [world.confidential.client_id, world.public.client_id, world.machine.client_id,
           world.jwt_client.client_id]  # fmt: skip
    known = st.sampled_from(
        [
            *ids,
            REDIRECT,
            world.public.redirect_uri,
            "code",
            "openid",
            "openid profile email phone snils offline_access",
            s256(VERIFIER),
            VERIFIER,
            "S256",
            "plain",
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "access_token",
            "none login",
            "allow",
            "deny",
            world.person.phone,
            world.person.password,
        ]
    )
    return st.one_of(known, ODD_TEXT, jwt_like(server, kids, ids))


@pytest.fixture
def kids(http: httpx.Client) -> list[str]:
    return [key["kid"] for key in http.get("/jwks").json()["keys"]]


# --- the properties ------------------------------------------------------------------------


@FUZZ
@given(data=st.data())
def test_authorize(
    http: httpx.Client, server: LiveServer, world: World, kids: list[str], data: st.DataObject
) -> None:
    values = values_for(world, server, kids)
    http.cookies.clear()
    if data.draw(st.booleans()):
        query = data.draw(pairs(values))
        send(http, "GET", "/authorize", query=query, headers=data.draw(authorization(world)))
    else:
        body, content_type = data.draw(bodies(values))
        send(http, "POST", "/authorize", body=body, content_type=content_type)


def valid_authorization_request(world: World) -> dict[str, str]:
    rp = world.confidential
    return {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "scope": "openid profile",
        "state": "fuzz-state",
        "nonce": "fuzz-nonce",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
        "login_hint": "+79990000000",
        "ui_locales": "ru en",
        "acr_values": "standard",
        "prompt": "login",
        "max_age": "600",
        "display": "page",
    }


@FUZZ
@given(data=st.data())
def test_authorize_with_one_parameter_changed(
    http: httpx.Client, server: LiveServer, world: World, data: st.DataObject
) -> None:
    # A valid request gets past the client and redirect checks, so a changed value reaches the
    # steps behind them and the interaction stored in the database.
    params = valid_authorization_request(world)
    name = data.draw(st.sampled_from([*params, "claims_locales", "response_mode", "vendor"]))
    value = data.draw(
        ODD_TEXT | st.builds(lambda c, s: f"{params.get(name, '')}{c}{s}", CONTROLS, st.text())
    )
    params[name] = value
    http.cookies.clear()
    if data.draw(st.booleans()):
        response = send(http, "GET", "/authorize", query=list(params.items()))
    else:
        body = str(httpx.QueryParams(params)).encode()
        response = send(
            http, "POST", "/authorize", body=body, content_type=b"application/x-www-form-urlencoded"
        )
    if CONTROL.search(value) and name not in ("client_id", "redirect_uri") and len(value) <= 2048:
        location = response.headers.get("location", "")
        assert location.startswith(REDIRECT + "?"), (response.status_code, location)
        assert "error=invalid_request" in location


@FUZZ
@given(data=st.data())
def test_token(
    http: httpx.Client, server: LiveServer, world: World, kids: list[str], data: st.DataObject
) -> None:
    values = values_for(world, server, kids)
    body, content_type = data.draw(bodies(values))
    headers = data.draw(authorization(world))
    send(http, "POST", "/token", body=body, content_type=content_type, headers=headers)


@FUZZ
@given(data=st.data())
def test_userinfo(
    http: httpx.Client, server: LiveServer, world: World, kids: list[str], data: st.DataObject
) -> None:
    values = values_for(world, server, kids)
    token = data.draw(jwt_like(server, kids, [world.confidential.client_id]) | ODD_TEXT)
    headers = data.draw(
        st.sampled_from(
            [{}, {"authorization": b"Bearer " + token.encode("utf-8", "replace")[:4000]}]
        )
        | authorization(world)
    )
    if data.draw(st.booleans()):
        send(http, "GET", "/userinfo", query=data.draw(pairs(values)), headers=headers)
    else:
        body, content_type = data.draw(bodies(values))
        send(http, "POST", "/userinfo", body=body, content_type=content_type, headers=headers)


@FUZZ
@given(data=st.data())
def test_introspect_and_revoke(
    http: httpx.Client, server: LiveServer, world: World, kids: list[str], data: st.DataObject
) -> None:
    values = values_for(world, server, kids)
    path = data.draw(st.sampled_from(["/introspect", "/revoke"]))
    if data.draw(st.booleans()):
        # A well-formed request from the real client, about a random token.
        rp = world.confidential
        assert rp.client_secret is not None
        fields = [("token", data.draw(values))]
        if data.draw(st.booleans()):
            fields.append(("token_type_hint", data.draw(values)))
        body: bytes | None = str(httpx.QueryParams(fields)).encode()
        content_type: bytes | None = b"application/x-www-form-urlencoded"
        headers = {"authorization": basic(rp.client_id, rp.client_secret)}
    else:
        body, content_type = data.draw(bodies(values))
        headers = data.draw(authorization(world))
    send(http, "POST", path, body=body, content_type=content_type, headers=headers)


def _start_interaction(http: httpx.Client, world: World) -> tuple[str, str | None]:
    """A real pending login: its id and the CSRF token of its page (bound to this browser)."""
    rp = world.confidential
    params = {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "scope": "openid profile",
        "state": "s",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
    }
    first = send(http, "GET", "/authorize", query=list(params.items()))
    assert first.status_code == 303, first.text[:300]
    interaction_id = first.headers["location"].rsplit("/", 1)[-1]
    page = send(http, "GET", f"/interaction/{interaction_id}")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    return interaction_id, token.group(1) if token else None


@FUZZ
@given(data=st.data())
def test_interaction_pages(
    http: httpx.Client, server: LiveServer, world: World, kids: list[str], data: st.DataObject
) -> None:
    values = values_for(world, server, kids)
    http.cookies.clear()
    real_id, csrf = _start_interaction(http, world)
    interaction_id = data.draw(st.just(real_id) | ODD_TEXT.map(lambda s: quote(s, safe="")))
    if data.draw(st.booleans()):
        http.cookies.clear()  # another browser
    if data.draw(st.booleans()):
        send(http, "GET", f"/interaction/{interaction_id}", query=data.draw(pairs(values)))
        return
    if data.draw(st.booleans()):
        fields = [
            ("csrf_token", data.draw(st.just(csrf or "") | ODD_TEXT)),
            *data.draw(
                st.lists(
                    st.tuples(st.sampled_from(["login", "password", "decision"]), values),
                    max_size=4,
                )
            ),
        ]
        body: bytes | None = str(httpx.QueryParams(fields)).encode()
        content_type: bytes | None = b"application/x-www-form-urlencoded"
    else:
        body, content_type = data.draw(bodies(values))
    send(http, "POST", f"/interaction/{interaction_id}", body=body, content_type=content_type)


@FUZZ
@given(data=st.data())
def test_logout(
    http: httpx.Client, server: LiveServer, world: World, kids: list[str], data: st.DataObject
) -> None:
    values = values_for(world, server, kids)
    http.cookies.clear()
    method, path = data.draw(
        st.sampled_from([("GET", "/logout"), ("POST", "/logout"), ("POST", "/logout/confirm"),
                         ("GET", "/logout/done")])
    )  # fmt: skip
    if method == "GET":
        send(http, method, path, query=data.draw(pairs(values)))
    else:
        body, content_type = data.draw(bodies(values))
        send(http, method, path, body=body, content_type=content_type)


@FUZZ
@given(data=st.data())
def test_every_documented_operation_and_unknown_routes(
    http: httpx.Client, server: LiveServer, world: World, kids: list[str], data: st.DataObject
) -> None:
    values = values_for(world, server, kids)
    segment = st.just("00000000-0000-4000-8000-000000000000") | ODD_TEXT.map(
        lambda s: quote(s, safe="")
    )
    documented = st.sampled_from(OPERATIONS).flatmap(
        lambda op: st.tuples(
            st.just(op[0]) | st.sampled_from(["GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD"]),
            st.just(op[1]),
        )
    )
    odd = st.tuples(
        st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"]),
        ODD_TEXT.map(lambda s: "/" + quote(s, safe="/"))
        | ODD_TEXT.map(lambda s: "/static/" + quote(s, safe="/")),
    )
    method, template = data.draw(documented | odd)
    path = re.sub(r"{[^}]+}", lambda _: data.draw(segment), template)
    body, content_type = data.draw(bodies(values))
    headers = data.draw(authorization(world))
    if data.draw(st.booleans()):
        headers["cookie"] = b"idp_session=" + data.draw(header_text())
    for name in ("x-csrf-token", "x-registration-token"):
        if data.draw(st.booleans()):
            headers[name] = data.draw(header_text())
    send(http, method, path, query=data.draw(pairs(values)), body=body,
         content_type=content_type, headers=headers)  # fmt: skip


GRANT = b"grant_type=authorization_code&code=x"
# Inputs that once made the server fail, replayed on every run (random search may miss them).
NASTY: dict[str, tuple[str, str, dict[str, bytes], bytes | None]] = {
    "basic_not_ascii_token": ("POST", "/token", {"authorization": b"Basic \x80\xe9"}, GRANT),
    "basic_not_ascii_introspect": ("POST", "/introspect", {"authorization": b"Basic \xff"}, b""),
    "basic_not_ascii_revoke": ("POST", "/revoke", {"authorization": b"Basic \xc3\xa9"}, b""),
    "basic_nul_client_id": ("POST", "/token", {"authorization": b"Basic ADo="}, GRANT),
    "form_nul_client_id": ("POST", "/token", {}, b"grant_type=x&client_id=%00"),
    "form_nul_introspect": ("POST", "/introspect", {}, b"token=x&client_id=a%00b"),
    "query_nul_client_id": ("GET", "/authorize?client_id=%00&redirect_uri=x", {}, None),
    "form_nul_authorize": ("POST", "/authorize", {}, b"client_id=%00"),
    "nul_interaction_id": ("GET", "/interaction/%00", {}, None),
    "nul_interaction_post": ("POST", "/interaction/a%00", {}, b"csrf_token=x"),
    "logout_nul_client_id": ("GET", "/logout?client_id=%00", {}, None),
}


@pytest.mark.parametrize("request_", NASTY.values(), ids=NASTY.keys())
def test_known_nasty_requests(
    http: httpx.Client, request_: tuple[str, str, dict[str, bytes], bytes | None]
) -> None:
    method, path, headers, body = request_
    http.cookies.set("idp_browser", "b" * 32)  # so the interaction id is looked up
    content_type = b"application/x-www-form-urlencoded" if body is not None else None
    send(http, method, path, body=body, content_type=content_type, headers=headers)
