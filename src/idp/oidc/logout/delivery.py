"""POSTing logout tokens to relying parties (Back-Channel Logout 1.0 §2.5-2.8).

Redirects are never followed, 200 and 204 are success, 400 is the RP's final "no", anything
else (timeouts, refused connections, 5xx) may be temporary and is retried later. Targets that
resolve to loopback, private or link-local addresses are refused unless allowed in settings
(server-side request forgery guard).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlencode, urlsplit

from idp.context import Context
from idp.oidc.logout.backchannel import DELIVERED, PENDING, REJECTED, Job, Outcome
from idp.oidc.logout.http_post import PostFailed, post_form
from idp.oidc.logout.token import logout_token


class BlockedTarget(Exception):
    pass


async def _check_target(uri: str) -> None:
    host = urlsplit(uri).hostname
    if host is None:
        raise BlockedTarget("no host")
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise BlockedTarget(f"{host} resolves to a non-public address")


class Deliverer:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._limit = asyncio.Semaphore(ctx.settings.logout.max_concurrency)

    async def close(self) -> None:
        return None

    async def deliver_all(self, jobs: list[Job]) -> list[Outcome]:
        return list(await asyncio.gather(*(self.deliver(job) for job in jobs)))

    async def deliver(self, job: Job) -> Outcome:
        async with self._limit:
            try:
                return await self._post(job)
            except BlockedTarget as exc:
                return Outcome(job.id, REJECTED, f"blocked: {exc}")
            except PostFailed as exc:
                return Outcome(job.id, PENDING, str(exc)[:300])
            except (OSError, LookupError) as exc:  # name resolution in the SSRF guard
                return Outcome(job.id, PENDING, f"{type(exc).__name__}: {exc}"[:300])

    async def _post(self, job: Job) -> Outcome:
        if self._ctx.settings.logout.block_private_addresses:
            await _check_target(job.uri)
        token = await logout_token(
            self._ctx,
            client_id=job.client_id,
            alg=job.alg,
            sub=job.sub,
            sid=job.sid,
            jti=job.jti,
            iat=job.iat,
        )
        settings = self._ctx.settings.logout
        status, body = await post_form(
            job.uri,
            urlencode({"logout_token": token}).encode(),
            connect_timeout=settings.connect_timeout,
            total_seconds=settings.request_timeout,
        )
        if status in (200, 204):
            return Outcome(job.id, DELIVERED)
        if status == 400:
            return Outcome(job.id, REJECTED, f"HTTP 400: {body.decode(errors='replace')}")
        return Outcome(job.id, PENDING, f"HTTP {status}")
