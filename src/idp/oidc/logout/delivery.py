"""POSTing logout tokens to relying parties (Back-Channel Logout 1.0 §2.5-2.8).

Redirects are never followed: a 3xx answer is rejected. 200 and 204 are success, 400 is the RP's
final "no", anything
else (timeouts, refused connections, TLS and protocol errors, 5xx) may be temporary and is
retried later. A target the egress policy refuses (``idp.egress.policy``) is rejected for good.
Every failure of one delivery becomes that job's ``Outcome``; none escapes past it into the batch.
"""

from __future__ import annotations

import asyncio
import logging
import ssl

import httpx

from idp.context import Context
from idp.egress.backend import Connector, Resolver
from idp.egress.client import build_client, default_ssl_context, proxies_from
from idp.egress.policy import BlockedTarget, uri_problem
from idp.oidc.logout.attempt import DELIVERED, PENDING, REJECTED, Job, Outcome
from idp.oidc.logout.token import logout_token
from idp.settings import LogoutSettings

log = logging.getLogger("idp.logout")

MAX_ERROR = 300
BODY_PEEK = 4096  # read this much of an answer so a kept-alive connection can be reused
MAX_REASON_PHRASE = 1024  # longer is a broken server, whatever its status code says


class Deliverer:
    """One pooled HTTP client per process, created at the first delivery, closed by ``close``.

    ``resolver``, ``connector`` and ``ssl_context`` replace the system's name lookup, TCP connect
    and trust store (tests); ``proxies`` the proxies the settings name (``proxy``,
    ``trust_env_proxy``); ``settings`` replaces ``ctx.settings.logout``.
    """

    def __init__(
        self,
        ctx: Context,
        *,
        settings: LogoutSettings | None = None,
        resolver: Resolver | None = None,
        connector: Connector | None = None,
        ssl_context: ssl.SSLContext | None = None,
        proxies: dict[str, str] | None = None,
    ) -> None:
        self._ctx = ctx
        self._settings = settings or ctx.settings.logout
        self._resolver = resolver
        self._connector = connector
        self._ssl_context = ssl_context
        self._proxies = proxies
        self._limit = asyncio.Semaphore(self._settings.max_concurrency)
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            settings = self._settings
            self._client = build_client(
                allow_private=not settings.block_private_addresses,
                connect_timeout=settings.connect_timeout,
                request_timeout=settings.request_timeout,
                resolve_timeout=settings.resolve_timeout,
                max_connections=settings.max_concurrency,
                ssl_context=self._ssl_context or default_ssl_context(settings.ca_file),
                resolver=self._resolver,
                connector=self._connector,
                proxies=(
                    self._proxies
                    if self._proxies is not None
                    else proxies_from(settings.proxy, trust_env=settings.trust_env_proxy)
                ),
                user_agent="idp-backchannel-logout",
            )
        return self._client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def deliver_all(self, jobs: list[Job]) -> list[Outcome]:
        return list(await asyncio.gather(*(self.deliver(job) for job in jobs)))

    async def deliver(self, job: Job) -> Outcome:
        async with self._limit:
            try:
                return await self._post(job)
            except BlockedTarget as exc:
                return _outcome(job, REJECTED, f"blocked: {exc}")
            except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                return _outcome(job, REJECTED, f"invalid URL: {exc}")
            except TimeoutError:
                return _outcome(job, PENDING, "timed out")
            except httpx.TimeoutException as exc:
                return _outcome(job, PENDING, f"timed out: {exc}" if str(exc) else "timed out")
            except (httpx.HTTPError, ssl.SSLError, OSError, ValueError) as exc:
                return _outcome(job, PENDING, f"{type(exc).__name__}: {exc}")
            except Exception as exc:  # one job's surprise must not end the others' batch
                log.exception("back-channel delivery %s failed unexpectedly", job.id)
                return _outcome(job, PENDING, f"{type(exc).__name__}: {exc}")

    async def _post(self, job: Job) -> Outcome:
        problem = uri_problem(job.uri, allow_private=not self._settings.block_private_addresses)
        if problem is not None:
            raise BlockedTarget(f"the URI {problem}")
        token = await logout_token(
            self._ctx,
            client_id=job.client_id,
            alg=job.alg,
            sub=job.sub,
            sid=job.sid,
            jti=job.jti,
            iat=job.iat,
        )
        async with asyncio.timeout(self._settings.request_timeout):
            request = self._http().build_request("POST", job.uri, data={"logout_token": token})
            response = await self._http().send(request, stream=True)
            try:
                body = await _peek(response)
            finally:
                await response.aclose()
        reason = response.extensions.get("reason_phrase", b"")
        if len(reason) > MAX_REASON_PHRASE:
            return _outcome(job, PENDING, f"malformed response: a {len(reason)}-byte status line")
        if response.status_code in (200, 204):
            return _outcome(job, DELIVERED)
        if 300 <= response.status_code < 400:
            # Never followed (the target could be anywhere) and never success: a final "no".
            return _outcome(
                job, REJECTED, f"HTTP {response.status_code}: redirects are not followed"
            )
        if response.status_code == 400:
            return _outcome(job, REJECTED, f"HTTP 400: {body[:200].decode(errors='replace')}")
        return _outcome(job, PENDING, f"HTTP {response.status_code}")


async def _peek(response: httpx.Response) -> bytes:
    seen = b""
    async for chunk in response.aiter_raw():
        seen += chunk
        if len(seen) >= BODY_PEEK:
            break
    return seen


def _outcome(job: Job, status: str, error: str | None = None) -> Outcome:
    return Outcome(job.id, status, None if error is None else error[:MAX_ERROR])
