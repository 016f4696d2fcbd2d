"""Driving the account console (``/account``) as a browser without JavaScript does: GET a page,
post one of its forms with the page's CSRF token."""

from __future__ import annotations

import re
import secrets
from urllib.parse import quote

import httpx

from tests.support.browser import Browser
from tests.support.factories import Person

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def device(browser: Browser, user_agent: str, ip: str | None = None) -> Browser:
    """Give the "browser" a device: its User-Agent and its own address."""
    address = ip or f"198.51.100.{secrets.randbelow(250) + 1}"
    browser.http.headers.update({"User-Agent": user_agent, "X-Forwarded-For": address})
    return browser


def csrf_of(page: httpx.Response) -> str:
    found = _CSRF.search(page.text)
    assert found, page.text[:500]
    return found.group(1)


async def post(
    browser: Browser, page_url: str, action: str, data: dict[str, str] | None = None
) -> httpx.Response:
    """Open ``page_url`` and post the form ``action`` of it (with the page's CSRF token)."""
    page = await browser.get(page_url)
    assert page.status_code == 200, (page_url, page.status_code, page.text[:300])
    assert f'action="{action}"' in page.text, (action, page.text[:2000])
    return await browser.http.post(action, data={"csrf_token": csrf_of(page), **(data or {})})


async def console_login(browser: Browser, person: Person, back: str = "/account") -> None:
    """Log in on the console's own login page; it returns to ``back``."""
    page = await browser.get(f"/account/login?return={quote(back, safe='')}")
    assert page.status_code == 200, page.text[:300]
    done = await browser.http.post(
        "/account/login",
        data={
            "csrf_token": csrf_of(page),
            "return": back,
            "login": person.phone,
            "password": person.password,
        },
    )
    assert done.status_code == 303, done.text[:500]
    assert done.headers["location"] == back
