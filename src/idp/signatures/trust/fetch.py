"""Downloading a trust list named by URL (``settings.signatures.trust_sources``, ``idp trust
import URL``). The operator names these URLs, so the egress guard for outsiders' URLs does not
apply; still only https, or plain http to this machine (tests, a local mirror), and never more
than ``MAX_LIST_BYTES``."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from idp.signatures.revocation.fetcher import encoding_problem
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
    except httpx.HTTPError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UnreadableSource(f"{host}: {reason}") from None
