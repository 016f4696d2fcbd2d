"""When a POST to ``/authorize`` or ``/logout`` is re-posted from our own origin
(``idp.web.repost``): only a cross-site POST that came without the SSO cookie, once."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import pytest

from tests.support.browser import Browser
from tests.support.factories import RP
from tests.support.flows import auth_params
from tests.support.live import LiveServer

MARKER = "idp_same_site_repost"
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def is_repost(response_text: str) -> bool:
    return 'id="repost"' in response_text


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Sec-Fetch-Site": "cross-site"}, id="fetch-metadata"),
        pytest.param({"Origin": "http://localhost:9"}, id="other-origin"),
        pytest.param({"Origin": "null"}, id="opaque-origin"),
        pytest.param({"Sec-Fetch-Site": "cross-site", "Origin": "http://localhost:9"}, id="both"),
    ],
)
async def test_a_cross_site_post_authorize_is_reposted_with_the_same_parameters(
    browser: Browser, rp: RP, headers: dict[str, str]
) -> None:
    params, _ = auth_params(rp, login_hint='a"<b>&', ui_locales="en")
    response = await browser.http.post("/authorize", data=params, headers=headers)
    assert response.status_code == 200, response.headers.get("location")
    assert is_repost(response.text)
    assert 'action="/authorize"' in response.text
    fields = {html.unescape(k): html.unescape(v) for k, v in _HIDDEN.findall(response.text)}
    assert fields == {**params, MARKER: "1"}
    assert 'src="/static/repost.js"' in response.text
    assert "<button" in response.text  # works without JavaScript
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "form-action 'self' https://rp.example;" in csp
    assert "set-cookie" not in response.headers  # the browser's cookies stay as they are
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("headers", "extra"),
    [
        pytest.param({"Sec-Fetch-Site": "cross-site"}, {MARKER: "1"}, id="already-reposted"),
        pytest.param({"Sec-Fetch-Site": "same-origin"}, {}, id="same-origin"),
        pytest.param({"Sec-Fetch-Site": "same-site"}, {}, id="same-site-sends-lax-cookies"),
        pytest.param({"Sec-Fetch-Site": "none"}, {}, id="typed-by-the-person"),
        pytest.param({}, {}, id="no-browser-headers"),
        pytest.param({"Origin": "PLACEHOLDER"}, {}, id="our-origin"),
    ],
)
async def test_other_posts_are_answered_at_once(
    server: LiveServer, browser: Browser, rp: RP, headers: dict[str, str], extra: dict[str, str]
) -> None:
    headers = {k: server.url if v == "PLACEHOLDER" else v for k, v in headers.items()}
    params, _ = auth_params(rp, **extra)
    response = await browser.http.post("/authorize", data=params, headers=headers)
    assert response.status_code == 303
    assert urlsplit(response.headers["location"]).path.startswith("/interaction/")


async def test_a_post_with_the_session_cookie_is_answered_at_once(browser: Browser, rp: RP) -> None:
    browser.http.cookies.set("idp_session", "x" * 43)
    params, _ = auth_params(rp)
    response = await browser.http.post(
        "/authorize", data=params, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert response.status_code == 303


async def test_a_bad_request_is_refused_before_any_repost(browser: Browser, rp: RP) -> None:
    params, _ = auth_params(rp, redirect_uri="https://evil.example/cb")
    response = await browser.http.post(
        "/authorize", data=params, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert response.status_code == 400
    assert not is_repost(response.text)


async def test_a_cross_site_post_logout_is_reposted(browser: Browser, rp: RP) -> None:
    data = {"client_id": rp.client_id, "state": "s"}
    response = await browser.http.post(
        "/logout", data=data, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert response.status_code == 200
    assert is_repost(response.text)
    assert 'action="/logout"' in response.text
    fields = dict(_HIDDEN.findall(response.text))
    assert fields == {**data, MARKER: "1"}
    reposted = await browser.http.post(
        "/logout", data=fields, headers={"Sec-Fetch-Site": "same-origin"}
    )
    assert not is_repost(reposted.text)
