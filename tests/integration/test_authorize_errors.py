"""The authorization endpoint's refusals (RFC 6749 §4.1.2.1, RFC 9700 §2.1 and §4.1.3,
OIDC Core §3.1.2, RFC 8252 §7.3).

Until the client and its redirect URI are trusted, errors are an HTML page with no Location;
after that they go back to the client with ``state`` and ``iss`` (RFC 9207).
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

import httpx
import pytest

from idp.context import Context
from tests.support.browser import Browser, query
from tests.support.factories import RP, Person, make_rp
from tests.support.flows import auth_params, log_in
from tests.support.live import LiveServer


def assert_error_page(response: httpx.Response) -> None:
    assert response.status_code == 400, (response.status_code, response.headers)
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")


def redirected_error(response: httpx.Response, rp: RP, params: dict[str, str], issuer: str) -> str:
    """The ``error`` of a redirect back to the client, after checking ``state`` and ``iss``."""
    assert response.status_code == 303, (response.status_code, response.text[:300])
    location = response.headers["location"]
    assert location.startswith(rp.redirect_uri + "?"), location
    answer = query(location)
    assert "code" not in answer
    assert answer["state"] == params["state"]
    assert answer["iss"] == issuer
    return answer["error"]


def goes_to_login(response: httpx.Response) -> bool:
    location = urlsplit(response.headers.get("location", ""))
    return response.status_code == 303 and location.path.startswith("/interaction/")


async def test_the_way_to_the_login_pages_is_an_absolute_url(
    browser: Browser, rp: RP, server: LiveServer
) -> None:
    """openapi.yaml documents the 303's Location as a URI: absolute, under the issuer."""
    response = await browser.authorize(auth_params(rp)[0])
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(f"{server.url}/interaction/"), location
    assert (await browser.get(location)).status_code == 200


async def test_unknown_client_shows_a_page(browser: Browser, rp: RP) -> None:
    params, _ = auth_params(rp, client_id="no-such-client")
    assert_error_page(await browser.authorize(params))


async def test_missing_client_id_shows_a_page(browser: Browser, rp: RP) -> None:
    params, _ = auth_params(rp)
    del params["client_id"]
    assert_error_page(await browser.authorize(params))


async def test_missing_redirect_uri_shows_a_page(browser: Browser, rp: RP) -> None:
    params, _ = auth_params(rp)
    del params["redirect_uri"]
    assert_error_page(await browser.authorize(params))


@pytest.mark.parametrize(
    "redirect_uri",
    [
        pytest.param("https://rp.example/cb/", id="trailing-slash"),
        pytest.param("https://RP.example/cb", id="host-case"),
        pytest.param("https://rp.example/CB", id="path-case"),
        pytest.param("HTTPS://rp.example/cb", id="scheme-case"),
        pytest.param("https://rp.example/cb?extra=1", id="extra-query"),
        pytest.param("https://rp.example/cb/more", id="path-suffix"),
        pytest.param("https://rp.example/cbx", id="name-suffix"),
        pytest.param("https://rp.example/x/../cb", id="dot-segments"),
        pytest.param("https://rp.example@evil.example/cb", id="userinfo-evil-host"),
        pytest.param("https://user@rp.example/cb", id="userinfo"),
        pytest.param("https://rp.example/cb#frag", id="fragment"),
        pytest.param("https://rp.example:8443/cb", id="other-port"),
        pytest.param("https://rp.example:443/cb", id="explicit-default-port"),
        pytest.param("https://rp.example/%63b", id="percent-encoding"),
        pytest.param("http://rp.example/cb", id="http-scheme"),
        pytest.param("https://evil.example/cb", id="other-host"),
    ],
)
async def test_unregistered_redirect_uri_shows_a_page(
    browser: Browser, rp: RP, redirect_uri: str
) -> None:
    params, _ = auth_params(rp, redirect_uri=redirect_uri)
    assert_error_page(await browser.authorize(params))


async def make_native(ctx: Context) -> RP:
    return await make_rp(
        ctx, redirect_uri="http://127.0.0.1:5000/cb", auth_method="none", require_consent=False
    )


async def test_loopback_redirect_accepts_another_port(ctx: Context, browser: Browser) -> None:
    native = await make_native(ctx)
    params, _ = auth_params(native, redirect_uri="http://127.0.0.1:61234/cb")
    assert goes_to_login(await browser.authorize(params))


async def test_a_web_client_on_loopback_keeps_its_port(ctx: Context, browser: Browser) -> None:
    # RFC 9700 §4.1.1, RFC 8252 §7.3: only native apps (public clients) get the port exception;
    # another port on the web client's host may be another program's.
    web = await make_rp(ctx, redirect_uri="http://127.0.0.1:47100/cb", require_consent=False)
    params, _ = auth_params(web, redirect_uri="http://127.0.0.1:48101/cb")
    assert_error_page(await browser.authorize(params))
    params, _ = auth_params(web)
    assert goes_to_login(await browser.authorize(params))


@pytest.mark.parametrize(
    "redirect_uri",
    [
        pytest.param("http://127.0.0.1:61234/other", id="other-path"),
        pytest.param("http://127.0.0.2:5000/cb", id="other-address"),
        pytest.param("http://localhost:5000/cb", id="localhost-name"),
        pytest.param("https://127.0.0.1:5000/cb", id="other-scheme"),
        pytest.param("http://127.0.0.1:61234/cb?x=1", id="extra-query"),
        pytest.param("http://u@127.0.0.1:61234/cb", id="userinfo"),
    ],
)
async def test_loopback_redirect_still_matches_the_rest(
    ctx: Context, browser: Browser, redirect_uri: str
) -> None:
    native = await make_native(ctx)
    params, _ = auth_params(native, redirect_uri=redirect_uri)
    assert_error_page(await browser.authorize(params))


async def test_missing_response_type_is_redirected(
    server: LiveServer, browser: Browser, rp: RP
) -> None:
    params, _ = auth_params(rp)
    del params["response_type"]
    response = await browser.authorize(params)
    assert redirected_error(response, rp, params, server.url) == "invalid_request"


@pytest.mark.parametrize("response_type", ["token", "code id_token", "id_token token", "id_token"])
async def test_implicit_and_hybrid_are_unsupported(
    server: LiveServer, browser: Browser, rp: RP, response_type: str
) -> None:
    params, _ = auth_params(rp, response_type=response_type)
    response = await browser.authorize(params)
    assert redirected_error(response, rp, params, server.url) == "unsupported_response_type"


async def test_missing_pkce_is_invalid_request(
    server: LiveServer, browser: Browser, rp: RP
) -> None:
    params, _ = auth_params(rp)
    del params["code_challenge"], params["code_challenge_method"]
    response = await browser.authorize(params)
    assert redirected_error(response, rp, params, server.url) == "invalid_request"


@pytest.mark.parametrize("method", ["plain", None, "s256", "S512"])
async def test_only_s256_is_accepted(
    server: LiveServer, browser: Browser, rp: RP, method: str | None
) -> None:
    params, _ = auth_params(rp)
    if method is None:
        del params["code_challenge_method"]
    else:
        params["code_challenge_method"] = method
    response = await browser.authorize(params)
    assert redirected_error(response, rp, params, server.url) == "invalid_request"


@pytest.mark.parametrize(
    "challenge",
    [
        pytest.param("short", id="too-short"),
        pytest.param("A" * 44, id="too-long"),
        pytest.param("A" * 42 + "=", id="padding"),
        pytest.param("A" * 42 + "+", id="plus"),
        pytest.param("A" * 42 + "/", id="slash"),
    ],
)
async def test_malformed_challenge_is_invalid_request(
    server: LiveServer, browser: Browser, rp: RP, challenge: str
) -> None:
    params, _ = auth_params(rp, code_challenge=challenge)
    response = await browser.authorize(params)
    assert redirected_error(response, rp, params, server.url) == "invalid_request"


@pytest.mark.parametrize(
    ("name", "error"),
    [("request", "request_not_supported"), ("request_uri", "request_uri_not_supported")],
)
async def test_request_objects_are_not_supported(
    server: LiveServer, browser: Browser, rp: RP, name: str, error: str
) -> None:
    value = "eyJhbGciOiJub25lIn0.e30." if name == "request" else "https://rp.example/req.jwt"
    params, _ = auth_params(rp, **{name: value})
    response = await browser.authorize(params)
    assert redirected_error(response, rp, params, server.url) == error


@pytest.mark.parametrize("scope", ["openid snils", "openid admin", ""])
async def test_scope_not_allowed_is_invalid_scope(
    server: LiveServer, browser: Browser, rp: RP, scope: str
) -> None:
    params, _ = auth_params(rp, scope=scope)
    response = await browser.authorize(params)
    assert redirected_error(response, rp, params, server.url) == "invalid_scope"


@pytest.mark.parametrize("name", ["client_id", "redirect_uri", "state", "scope"])
async def test_repeated_parameter_shows_a_page(browser: Browser, rp: RP, name: str) -> None:
    params, _ = auth_params(rp)
    pairs = [*params.items(), (name, params[name])]
    response = await browser.get("/authorize?" + urlencode(pairs))
    assert_error_page(response)


@pytest.mark.parametrize("size", [2049, 10_000, 60_000])
async def test_oversized_query_parameter_is_a_client_error(
    browser: Browser, rp: RP, size: int
) -> None:
    params, _ = auth_params(rp, state="s" * size)
    response = await browser.authorize(params)
    assert 400 <= response.status_code < 500, response.status_code
    assert "location" not in response.headers


@pytest.mark.parametrize("size", [2049, 60_000, 70_000])
async def test_oversized_posted_parameter_is_a_client_error(
    browser: Browser, rp: RP, size: int
) -> None:
    params, _ = auth_params(rp, state="s" * size)
    response = await browser.http.post("/authorize", data=params)
    assert 400 <= response.status_code < 500, response.status_code
    assert "location" not in response.headers


async def test_unknown_parameters_are_ignored(browser: Browser, rp: RP) -> None:
    params, _ = auth_params(rp, foo="bar", vendor_x="1")
    assert goes_to_login(await browser.authorize(params))


async def test_post_works_like_get(browser: Browser, rp: RP) -> None:
    params, _ = auth_params(rp)
    response = await browser.http.post("/authorize", data=params)
    assert goes_to_login(response)
    page = await browser.get(response.headers["location"])
    assert page.status_code == 200
    assert 'name="password"' in page.text


async def test_post_errors_are_redirected_like_get(
    server: LiveServer, browser: Browser, rp: RP
) -> None:
    params, _ = auth_params(rp, response_type="token")
    response = await browser.http.post("/authorize", data=params)
    assert redirected_error(response, rp, params, server.url) == "unsupported_response_type"


async def test_prompt_none_without_session_is_login_required(
    server: LiveServer, browser: Browser, rp: RP
) -> None:
    params, _ = auth_params(rp, prompt="none")
    response = await browser.authorize(params)
    assert redirected_error(response, rp, params, server.url) == "login_required"


async def test_prompt_none_with_session_returns_a_code(
    server: LiveServer, browser: Browser, rp: RP, person: Person
) -> None:
    await log_in(browser, rp, person)
    params, _ = auth_params(rp, prompt="none")
    response = await browser.authorize(params)
    assert response.status_code == 303
    answer = query(response.headers["location"])
    assert answer["code"]
    assert answer["state"] == params["state"]
    assert answer["iss"] == server.url


@pytest.mark.parametrize("extra", [{"prompt": "login"}, {"max_age": "0"}])
async def test_reauthentication_shows_the_login_form(
    browser: Browser, rp: RP, person: Person, extra: dict[str, str]
) -> None:
    await log_in(browser, rp, person)
    params, _ = auth_params(rp, **extra)
    response = await browser.authorize(params)
    assert goes_to_login(response), response.headers.get("location")
    page = await browser.get(response.headers["location"])
    assert page.status_code == 200
    assert 'name="password"' in page.text


@pytest.mark.parametrize(
    "prompt", ["bogus", "none login", "none consent", "LOGIN"], ids=lambda p: p.replace(" ", "+")
)
async def test_bad_prompt_is_invalid_request(
    server: LiveServer, browser: Browser, rp: RP, prompt: str
) -> None:
    params, _ = auth_params(rp, prompt=prompt)
    response = await browser.authorize(params)
    assert redirected_error(response, rp, params, server.url) == "invalid_request"


@pytest.mark.parametrize("max_age", ["-1", "abc", "1.5", "٣"])
async def test_bad_max_age_is_invalid_request(
    server: LiveServer, browser: Browser, rp: RP, max_age: str
) -> None:
    params, _ = auth_params(rp, max_age=max_age)
    response = await browser.authorize(params)
    assert redirected_error(response, rp, params, server.url) == "invalid_request"


async def test_authorize_sends_no_cors_headers(browser: Browser, rp: RP) -> None:
    params, _ = auth_params(rp)
    response = await browser.get(
        "/authorize?" + urlencode(params), headers={"Origin": "https://evil.example"}
    )
    assert goes_to_login(response)
    assert not any(name.lower().startswith("access-control-") for name in response.headers)


async def test_authorize_preflight_is_not_allowed(browser: Browser) -> None:
    response = await browser.http.options(
        "/authorize",
        headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-methods" not in response.headers
    assert response.status_code < 500


async def test_cancel_on_the_login_page_returns_access_denied(
    server: LiveServer, browser: Browser, rp: RP
) -> None:
    params, _ = auth_params(rp)
    first = await browser.authorize(params)
    page = await browser.get(first.headers["location"])
    response = await browser.submit(page, {"decision": "deny"})
    assert redirected_error(response, rp, params, server.url) == "access_denied"


CONTROL_CHARACTERS = ["\x00", "\x01", "\t", "\n", "\x1b", "\x7f", "\x85", "\x9f"]


@pytest.mark.parametrize(
    "name",
    ["state", "nonce", "login_hint", "ui_locales", "acr_values", "prompt", "display", "max_age",
     "scope", "response_mode", "claims_locales", "vendor_extension"],
)  # fmt: skip
@pytest.mark.parametrize("char", CONTROL_CHARACTERS, ids=lambda c: f"U+{ord(c):04X}")
async def test_control_characters_are_invalid_request(
    server: LiveServer, browser: Browser, rp: RP, name: str, char: str
) -> None:
    # PostgreSQL's text and jsonb refuse NUL; no parameter value carries control characters.
    params, _ = auth_params(rp)
    params[name] = f"{params.get(name, 'x')}{char}y"
    response = await browser.authorize(params)
    assert response.status_code == 303, (response.status_code, response.text[:300])
    answer = query(response.headers["location"])
    assert response.headers["location"].startswith(rp.redirect_uri + "?")
    assert answer["error"] == "invalid_request"
    assert "code" not in answer
    assert answer["iss"] == server.url
    # A state that cannot be a state is not echoed back.
    assert answer.get("state") == (None if name == "state" else params["state"])


async def test_control_characters_in_a_posted_request_are_invalid_request(
    browser: Browser, rp: RP
) -> None:
    params, _ = auth_params(rp, login_hint="a\x00b")
    response = await browser.http.post("/authorize", data=params)
    assert response.status_code == 303
    assert query(response.headers["location"])["error"] == "invalid_request"
