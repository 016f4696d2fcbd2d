"""The token endpoint's refusals (RFC 6749 §2.3, §3.2, §5.2; RFC 9700 §2.4) and the client
credentials grant (RFC 6749 §4.4)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest

from idp.context import Context
from idp.errors import BadInput
from tests.support.browser import Browser
from tests.support.factories import RP, Person, make_rp
from tests.support.flows import log_in, redeem
from tests.support.live import LiveServer


@pytest.fixture
async def http(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        yield client


def creds(rp: RP) -> tuple[str, str]:
    assert rp.client_secret is not None
    return rp.client_id, rp.client_secret


def oauth_error(response: httpx.Response, status: int = 400) -> str:
    assert response.status_code == status, response.text
    assert response.headers["cache-control"] == "no-store"
    error: str = response.json()["error"]
    return error


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


async def test_missing_grant_type_is_invalid_request(http: httpx.AsyncClient, rp: RP) -> None:
    response = await http.post("/token", data={"code": "x"}, auth=creds(rp))
    assert oauth_error(response) == "invalid_request"


@pytest.mark.parametrize(
    "grant_type",
    ["password", "implicit", "urn:ietf:params:oauth:grant-type:device_code", "token"],
)
async def test_unknown_grant_type_is_unsupported(
    http: httpx.AsyncClient, rp: RP, grant_type: str
) -> None:
    data = {"grant_type": grant_type, "username": "u", "password": "p"}
    response = await http.post("/token", data=data, auth=creds(rp))
    assert oauth_error(response) == "unsupported_grant_type"


async def test_grant_the_client_may_not_use_is_unauthorized_client(
    http: httpx.AsyncClient, rp: RP
) -> None:
    response = await http.post("/token", data={"grant_type": "client_credentials"}, auth=creds(rp))
    assert oauth_error(response) == "unauthorized_client"


async def test_refresh_without_that_grant_is_unauthorized_client(
    ctx: Context, http: httpx.AsyncClient
) -> None:
    rp = await make_rp(ctx, grant_types=["authorization_code"], require_consent=False)
    data = {"grant_type": "refresh_token", "refresh_token": "anything"}
    response = await http.post("/token", data=data, auth=creds(rp))
    assert oauth_error(response) == "unauthorized_client"


async def test_code_flow_client_without_refresh_grant_gets_no_refresh_token(
    ctx: Context, http: httpx.AsyncClient, browser: Browser, person: Person
) -> None:
    rp = await make_rp(ctx, grant_types=["authorization_code"], require_consent=False)
    callback, verifier, _ = await log_in(browser, rp, person)
    response = await redeem(http, rp, callback["code"], verifier)
    assert response.status_code == 200
    assert "refresh_token" not in response.json()


@pytest.mark.parametrize(
    "how",
    ["wrong-secret", "unknown-client", "malformed-basic", "post-for-basic-client"],
)
async def test_failed_client_authentication_is_401(
    http: httpx.AsyncClient, rp: RP, how: str
) -> None:
    data = {"grant_type": "authorization_code", "code": "x", "redirect_uri": rp.redirect_uri}
    headers: dict[str, str] = {}
    if how == "wrong-secret":
        headers = basic(rp.client_id, "not-the-secret")
    elif how == "unknown-client":
        headers = basic("no-such-client", "whatever")
    elif how == "malformed-basic":
        headers = {"Authorization": "Basic !!!not-base64!!!"}
    else:
        client_id, secret = creds(rp)
        data |= {"client_id": client_id, "client_secret": secret}
    response = await http.post("/token", data=data, headers=headers)
    assert oauth_error(response, 401) == "invalid_client"
    assert response.headers["www-authenticate"].lower().startswith("basic")


async def test_no_client_credentials_is_401(http: httpx.AsyncClient, rp: RP) -> None:
    data = {"grant_type": "authorization_code", "code": "x", "redirect_uri": rp.redirect_uri}
    response = await http.post("/token", data=data)
    assert oauth_error(response, 401) == "invalid_client"
    assert "www-authenticate" in response.headers


async def test_public_client_id_alone_does_not_authenticate_a_confidential_client(
    http: httpx.AsyncClient, rp: RP
) -> None:
    data = {"grant_type": "authorization_code", "code": "x", "client_id": rp.client_id}
    response = await http.post("/token", data=data)
    assert oauth_error(response, 401) == "invalid_client"


async def test_two_authentication_methods_is_invalid_request(
    http: httpx.AsyncClient, rp: RP
) -> None:
    client_id, secret = creds(rp)
    data = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    response = await http.post("/token", data=data, auth=(client_id, secret))
    assert oauth_error(response) == "invalid_request"


@pytest.mark.parametrize("field", ["client_assertion_type", "client_assertion"])
async def test_an_empty_assertion_field_beside_basic_is_invalid_request(
    ctx: Context, http: httpx.AsyncClient, field: str
) -> None:
    """Sent empty, a parameter counts as omitted (RFC 6749 §3.1), but an assertion field next
    to Basic credentials is a second method tried (§2.3), and the documented enum has no ""."""
    service = await make_rp(ctx, grant_types=["client_credentials"], require_consent=False)
    data = {"grant_type": "client_credentials"}
    assert (await http.post("/token", data=data, auth=creds(service))).status_code == 200
    response = await http.post("/token", data={**data, field: ""}, auth=creds(service))
    assert oauth_error(response) == "invalid_request"


async def test_an_empty_assertion_type_of_a_public_client_is_as_if_omitted(
    ctx: Context, http: httpx.AsyncClient, browser: Browser, person: Person
) -> None:
    public = await make_rp(ctx, auth_method="none", redirect_uri="http://127.0.0.1:9/cb")
    answer, verifier, _ = await log_in(browser, public, person)
    response = await redeem(http, public, answer["code"], verifier, client_assertion_type="")
    assert response.status_code == 200, response.text


async def test_success_is_not_cached(
    http: httpx.AsyncClient, browser: Browser, rp: RP, person: Person
) -> None:
    callback, verifier, _ = await log_in(browser, rp, person)
    response = await redeem(http, rp, callback["code"], verifier)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"grant_type": "client_credentials"}'),
        ("text/plain", b"grant_type=client_credentials"),
        ("multipart/form-data; boundary=xyz", b"--xyz\r\n"),
        (None, b"grant_type=client_credentials"),
    ],
)
async def test_body_that_is_not_a_form_is_invalid_request(
    http: httpx.AsyncClient, rp: RP, content_type: str | None, body: bytes
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = await http.post("/token", content=body, headers=headers, auth=creds(rp))
    assert oauth_error(response) == "invalid_request"


async def test_repeated_parameter_is_invalid_request(http: httpx.AsyncClient, rp: RP) -> None:
    body = "grant_type=authorization_code&code=a&code=b&redirect_uri=https%3A%2F%2Frp.example%2Fcb"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    response = await http.post("/token", content=body, headers=headers, auth=creds(rp))
    assert oauth_error(response) == "invalid_request"


async def test_get_is_not_allowed(http: httpx.AsyncClient, rp: RP) -> None:
    response = await http.get("/token", params={"grant_type": "client_credentials"}, auth=creds(rp))
    assert response.status_code == 405


# --- client_credentials ------------------------------------------------------------------------


async def test_client_credentials_issues_a_token(ctx: Context, http: httpx.AsyncClient) -> None:
    service = await make_rp(ctx, grant_types=["client_credentials"], require_consent=False)
    response = await http.post(
        "/token", data={"grant_type": "client_credentials"}, auth=creds(service)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["access_token"]
    assert "refresh_token" not in body
    assert "id_token" not in body
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("scope", ["openid", "profile", "openid profile"])
async def test_client_credentials_refuses_person_scopes(
    ctx: Context, http: httpx.AsyncClient, scope: str
) -> None:
    service = await make_rp(ctx, grant_types=["client_credentials"], require_consent=False)
    data = {"grant_type": "client_credentials", "scope": scope}
    response = await http.post("/token", data=data, auth=creds(service))
    assert oauth_error(response) == "invalid_scope"


async def test_public_client_cannot_use_client_credentials(
    ctx: Context, http: httpx.AsyncClient
) -> None:
    public = await make_rp(ctx, auth_method="none", require_consent=False)
    data = {"grant_type": "client_credentials", "client_id": public.client_id}
    response = await http.post("/token", data=data)
    assert response.status_code in (400, 401), response.text
    assert response.json()["error"] in ("unauthorized_client", "invalid_client")


async def test_public_client_cannot_be_registered_for_client_credentials(ctx: Context) -> None:
    with pytest.raises(BadInput):
        await make_rp(ctx, auth_method="none", grant_types=["client_credentials"])
