"""Downloading a trust list named by URL (``settings.signatures.trust_sources``, ``idp trust
import URL``). The operator names these URLs, so the egress guard for outsiders' URLs does not
apply; still every hop must be https, or plain http to this machine (tests, a local mirror)
when the download began there, never more than ``MAX_REDIRECTS`` redirects (followed here, each
hop checked: no downgrade from https to http), no proxy from the environment, no compressed
body, and never more than ``MAX_LIST_BYTES``."""

from __future__ import annotations

import ssl
from urllib.parse import urljoin, urlsplit

import httpx

from idp.signatures.revocation.fetcher import encoding_problem, host_is_encodable
from idp.signatures.trust.formats import MAX_LIST_BYTES
from idp.signatures.trust.xmlsafe import UnreadableSource

TIMEOUT = 120.0  # the Russian list is tens of MB from a slow server
MAX_REDIRECTS = 3
_REDIRECTS = (301, 302, 303, 307, 308)
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def is_url(source: str) -> bool:
    return source.lower().startswith(("https://", "http://"))


def hop_problem(url: str, *, secure_so_far: bool) -> str | None:
    """Why one hop of a download is refused, or None: https always; plain http only to this
    machine, and only while no earlier hop was https (a redirect never downgrades)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError:
        return "not a valid URL"
    if not host_is_encodable(host):
        return f"{_printable(host)}: not a valid host name"
    scheme = parts.scheme.lower()
    if scheme == "https":
        return None
    if scheme == "http" and host in _LOOPBACK and not secure_so_far:
        return None
    if scheme == "http" and secure_so_far:
        return f"{_printable(host)}: a redirect from https to plain http is refused"
    return f"{_printable(host)}: a trust list is downloaded over https only"


async def fetch_list(url: str, *, ssl_context: ssl.SSLContext | None = None) -> bytes:
    """The body at ``url``; ``UnreadableSource`` with one line for anything else.
    ``ssl_context``: the https trust (default: the system's; tests pass their own CA)."""
    problem = hop_problem(url, secure_so_far=False)
    if problem is not None:
        raise UnreadableSource(problem)
    host = _printable(urlsplit(url).hostname or "")
    try:
        async with httpx.AsyncClient(
            timeout=TIMEOUT,
            follow_redirects=False,  # followed below, each hop checked
            trust_env=False,  # no proxy, no netrc, no CA bundle from the environment
            verify=ssl_context or True,
            headers={"Accept-Encoding": "identity"},  # see encoding_problem
        ) as client:
            return await _follow(client, url)
    except UnreadableSource:
        raise
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise UnreadableSource(f"{host}: {reason}") from None
    except (UnicodeError, ValueError) as exc:  # a host or URL the layers below refuse
        raise UnreadableSource(f"{host}: unusable URL ({type(exc).__name__})") from None


async def _follow(client: httpx.AsyncClient, url: str) -> bytes:
    secure = False
    for _ in range(MAX_REDIRECTS + 1):
        problem = hop_problem(url, secure_so_far=secure)
        if problem is not None:
            raise UnreadableSource(problem)
        secure = secure or url.lower().startswith("https:")
        host = _printable(urlsplit(url).hostname or "")
        async with client.stream("GET", url) as response:
            if response.status_code in _REDIRECTS and "location" in response.headers:
                url = urljoin(url, response.headers["location"])
                continue
            if response.status_code != 200:
                raise UnreadableSource(f"{host}: HTTP {response.status_code}")
            encoding = encoding_problem(response)
            if encoding is not None:
                raise UnreadableSource(f"{host}: {encoding}")
            chunks, size = [], 0
            async for chunk in response.aiter_raw():
                size += len(chunk)
                if size > MAX_LIST_BYTES:
                    raise UnreadableSource(f"{host}: larger than {MAX_LIST_BYTES} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
    raise UnreadableSource(
        f"{_printable(urlsplit(url).hostname or '')}: more than {MAX_REDIRECTS} redirects"
    )


def _printable(host: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in host[:80])
