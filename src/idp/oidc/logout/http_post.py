"""The one HTTP exchange back-channel logout needs: POST a small form, read the status code.

A dedicated minimal HTTP/1.1 client, because fan-out to hundreds of relying parties is CPU-bound
in the client: httpx spends about a millisecond of CPU per request, this about a tenth of that.
It never follows redirects, sends ``Connection: close`` and reads only the status line (and a
little of the body, for the operator's error message).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from functools import cache
from urllib.parse import urlsplit


class PostFailed(Exception):
    pass


@cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


async def post_form(
    url: str, body: bytes, *, connect_timeout: float, total_seconds: float
) -> tuple[int, bytes]:
    """(status, the first bytes of the body) or ``PostFailed``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PostFailed(f"not an http(s) URL: {url}")
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request = (
        f"POST {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "User-Agent: idp-backchannel-logout\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    try:
        async with asyncio.timeout(total_seconds):
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    parts.hostname,
                    port,
                    ssl=_tls() if secure else None,
                    server_hostname=parts.hostname if secure else None,
                ),
                connect_timeout,
            )
            try:
                writer.write(request)
                await writer.drain()
                status_line = await reader.readline()
                head = await reader.read(1024) if status_line else b""
            finally:
                writer.close()
                with contextlib.suppress(OSError, ssl.SSLError):
                    await writer.wait_closed()
    except TimeoutError as exc:
        raise PostFailed("timed out") from exc
    except (OSError, ssl.SSLError) as exc:
        raise PostFailed(f"{type(exc).__name__}: {exc}") from exc
    pieces = status_line.split(b" ", 2)
    if len(pieces) < 2 or not pieces[0].startswith(b"HTTP/1.") or not pieces[1].isdigit():
        raise PostFailed("not an HTTP response")
    body_start = head.split(b"\r\n\r\n", 1)[-1][:200]
    return int(pieces[1]), body_start
