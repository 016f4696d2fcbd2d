"""Schemathesis hooks (``SCHEMATHESIS_HOOKS``) for the conformance test: real credentials for
every operation that needs some, given the way the document's security schemes say.

- The REST API: a person's SSO session (session and browser cookies, ``X-CSRF-Token``).
  Generated requests end the session they carry (``DELETE /api/v1/me/sessions``,
  ``POST /api/v1/logout``), so a static cookie would leave every later call a 401: this
  provider logs the person in through the REST API, as the portal's front end does, and
  schemathesis asks it again whenever an answer is 401. The login comes from an address of its
  own, so the run's failed logins never throttle it.
- The token, introspection and revocation endpoints: a confidential client's Basic credentials.
- Userinfo: a person's access token.

Credentials come from the environment the test sets (``CONFORMANCE_*``). Schemathesis still
leaves them out where it tests that an operation refuses a request without them.
"""

from __future__ import annotations

import base64
import os
import re
from typing import Any

import httpx
import schemathesis

LOGIN_ADDRESS = "198.51.100.78"  # TEST-NET-2, apart from the run's own address
_CLIENT_AUTH = re.compile(r"^/(token|introspect|revoke)$")


@schemathesis.auth(refresh_interval=3600)
class Credentials:
    def get(self, case: Any, context: Any) -> dict[str, str]:
        env = os.environ
        with httpx.Client(
            base_url=env["CONFORMANCE_BASE_URL"],
            headers={"X-Forwarded-For": LOGIN_ADDRESS},
            timeout=30,
        ) as http:
            csrf = http.get("/api/v1/csrf").raise_for_status().json()["csrf_token"]
            http.post(
                "/api/v1/login",
                json={"login": env["CONFORMANCE_LOGIN"], "password": env["CONFORMANCE_PASSWORD"]},
                headers={"X-CSRF-Token": csrf},
            ).raise_for_status()
            return {
                "session": str(http.cookies["idp_session"]),
                "browser": str(http.cookies["idp_browser"]),
                "csrf": str(csrf),
            }

    def set(self, case: Any, data: dict[str, str], context: Any) -> None:
        path: str = case.operation.path
        headers = dict(case.headers or {})
        if path.startswith("/api/v1/"):
            cookies = {**(case.cookies or {}), "idp_browser": data["browser"]}
            if path != "/api/v1/login":  # a login over a session would replace it
                cookies["idp_session"] = data["session"]
            case.cookies = cookies
            headers["X-CSRF-Token"] = data["csrf"]
        elif _CLIENT_AUTH.match(path):
            pair = (
                f"{os.environ['CONFORMANCE_CLIENT_ID']}:{os.environ['CONFORMANCE_CLIENT_SECRET']}"
            )
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        elif path == "/userinfo":
            headers["Authorization"] = f"Bearer {os.environ['CONFORMANCE_ACCESS_TOKEN']}"
        case.headers = headers
