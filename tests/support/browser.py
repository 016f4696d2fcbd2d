"""A minimal cookie-keeping HTTP "browser" for protocol tests (real pages run in Chromium)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_ACTION = re.compile(r'<form method="post" action="([^"]+)"')


def form_fields(page: str) -> tuple[str, str]:
    action = _ACTION.search(page)
    token = _CSRF.search(page)
    assert action, "the page has no form"
    assert token, "the form has no CSRF token"
    return html.unescape(action.group(1)), token.group(1)


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@dataclass
class Step:
    response: httpx.Response

    @property
    def location(self) -> str:
        return self.response.headers["location"]


class Browser:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.AsyncClient(base_url=base_url, follow_redirects=False, timeout=30)

    async def close(self) -> None:
        await self.http.aclose()

    async def get(self, url: str, **kwargs: object) -> httpx.Response:
        return await self.http.get(url, **kwargs)  # type: ignore[arg-type]

    async def authorize(self, params: dict[str, str]) -> httpx.Response:
        return await self.http.get("/authorize?" + urlencode(params))

    async def submit(
        self, page: httpx.Response, data: dict[str, str], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        action, token = form_fields(page.text)
        return await self.http.post(action, data={"csrf_token": token, **data}, headers=headers)

    async def follow_to_client(self, response: httpx.Response, redirect_prefix: str) -> str:
        """Follow our own redirects until one leaves for the client; return that URL."""
        for _ in range(10):
            assert response.status_code in (302, 303), (response.status_code, response.text[:500])
            location = response.headers["location"]
            if location.startswith(redirect_prefix):
                return location
            response = await self.http.get(location)
            if response.status_code == 200:
                raise AssertionError(f"stopped at a page: {location}")
        raise AssertionError("too many redirects")
