"""Downloading a trust list named by URL (``settings.signatures.trust_sources``, ``idp trust
import URL``). The operator names these URLs, so the egress guard for outsiders' URLs does not
apply; still only https, or plain http to this machine (tests, a local mirror), and never more
than ``MAX_LIST_BYTES``."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from idp.signatures.revocation.fetcher import encoding_problem, host_is_encodable
from idp.signatures.trust.formats import MAX_LIST_BYTES
from idp.signatures.trust.xmlsafe import UnreadableSource

TIMEOUT = 120.0  # the Russian list is tens of MB from a slow server
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def is_url(source: str) -> bool:
    return source.lower().startswith(("https://", "http://"))


async def fetch_list(url: str) -> bytes:
    """The body at ``url``; ``UnreadableSource`` with one line for anything else."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        raise UnreadableSource("not a valid URL") from None
    if not host_is_encodable(host):
        raise UnreadableSource(f"{_printable(host)}: not a valid host name")
    if parts.scheme.lower() != "https" and host not in _LOOPBACK:
        raise UnreadableSource(f"{host}: a trust list is downloaded over https only")
    try:
        async with (
            httpx.AsyncClient(
                timeout=TIMEOUT,
                follow_redirects=True,
                max_redirects=3,
                headers={"Accept-Encoding": "identity"},  # see encoding_problem
            ) as client,
            client.stream("GET", url) as response,
        ):
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
    except UnreadableSource:
        raise
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise UnreadableSource(f"{_printable(host)}: {reason}") from None
    except (UnicodeError, ValueError) as exc:  # a host or URL the layers below refuse
        raise UnreadableSource(f"{_printable(host)}: unusable URL ({type(exc).__name__})") from None


def _printable(host: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in host[:80])
