"""The pooled httpx client for outbound calls to relying parties.

Direct connections go through ``PinnedBackend`` (one pool for https, one for plain http, each
judging addresses by its own scheme). A proxy is used only when the operator names one
(``proxy``) or asks for the environment's (``trust_env_proxy``: ``HTTPS_PROXY``, ``HTTP_PROXY``,
``ALL_PROXY``, minus ``NO_PROXY``): a variable set for other programs must not silently route
around the address checks. Through a proxy, the proxy resolves the name and connects, so it is
the proxy that must do the egress filtering; the IdP still applies the URI rules (scheme,
literal addresses) first.
"""

from __future__ import annotations

import ssl
import urllib.request
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from urllib.request import (  # type: ignore[attr-defined]  # public, missing from typeshed
    proxy_bypass_environment,
)

import httpcore
import httpx

from idp.egress.backend import Connector, PinnedBackend, Resolver
from idp.egress.policy import address_problem
from idp.egress.streams import AsyncioConnector


class PinnedTransport(httpx.AsyncHTTPTransport):
    def __init__(
        self, backend: PinnedBackend, ssl_context: ssl.SSLContext, limits: httpx.Limits
    ) -> None:
        super().__init__(verify=ssl_context, limits=limits, trust_env=False)
        # httpx has no public way to hand its pool a network backend: replace the pool it built
        # with the same pool on ours (httpx's exception mapping around the pool stays).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )

    @property
    def idle(self) -> bool:
        """No request is using any of this pool's connections."""
        return all(connection.is_idle() for connection in self._pool.connections)


def proxies_from(proxy: str | None, *, trust_env: bool) -> dict[str, str]:
    """The proxies by scheme (``all`` for every one) that outbound calls use: the one the
    operator names, else the environment's when trusted, else none."""
    if proxy:
        return {"all": proxy}
    if trust_env:
        return urllib.request.getproxies_environment()
    return {}


Origin = tuple[str, str, int]  # scheme, host, port


class EgressTransport(httpx.AsyncBaseTransport):
    """Sends each request directly on a pinned pool of its own origin, or through the proxy
    named for it (``proxies_from``).

    One pool per origin rather than one for all: httpcore's pool scans every connection it
    holds whenever a request starts or ends, which costs O(n²) over a fan-out to n relying
    parties (about 0.4 s of CPU for 100). Pools of origins nobody is using are closed once
    there are more than ``max_origins``.
    """

    def __init__(
        self,
        direct: dict[str, Callable[[], PinnedTransport]],
        *,
        ssl_context: ssl.SSLContext,
        limits: httpx.Limits,
        proxies: dict[str, str],
        max_origins: int = 1024,
    ) -> None:
        self._direct = direct
        self._ssl_context = ssl_context
        self._limits = limits
        self._proxies = proxies
        self._max_origins = max_origins
        self._origins: OrderedDict[Origin, PinnedTransport] = OrderedDict()
        self._via: dict[str, httpx.AsyncBaseTransport] = {}

    def proxy_for(self, url: httpx.URL) -> str | None:
        proxy = self._proxies.get(url.scheme) or self._proxies.get("all")
        if not proxy or proxy_bypass_environment(url.host, self._proxies):
            return None
        return proxy if "://" in proxy else f"http://{proxy}"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        proxy = self.proxy_for(request.url)
        if proxy is None:
            transport: httpx.AsyncBaseTransport = await self._pool_for(request.url)
        else:
            transport = self._via.get(proxy) or self._via.setdefault(
                proxy,
                httpx.AsyncHTTPTransport(
                    verify=self._ssl_context, limits=self._limits, proxy=proxy, trust_env=False
                ),
            )
        return await transport.handle_async_request(request)

    async def _pool_for(self, url: httpx.URL) -> PinnedTransport:
        scheme = url.scheme
        origin = (scheme, url.host, url.port or (443 if scheme == "https" else 80))
        pool = self._origins.get(origin)
        if pool is not None:
            self._origins.move_to_end(origin)
            return pool
        if scheme not in self._direct:
            raise httpx.UnsupportedProtocol(f"{scheme!r} is not an egress scheme")
        await self._close_idle_origins()
        pool = self._origins[origin] = self._direct[scheme]()
        return pool

    async def _close_idle_origins(self) -> None:
        for origin, pool in list(self._origins.items()):
            if len(self._origins) < self._max_origins:
                return
            if pool.idle:
                del self._origins[origin]
                await pool.aclose()

    async def aclose(self) -> None:
        pools, self._origins = list(self._origins.values()), OrderedDict()
        for transport in [*pools, *self._via.values()]:
            await transport.aclose()


def default_ssl_context(ca_file: str | None = None) -> ssl.SSLContext:
    """The system's trust store (``SSL_CERT_FILE`` honoured), or only ``ca_file`` when given."""
    if ca_file:
        return ssl.create_default_context(cafile=ca_file)
    return ssl.create_default_context()


def build_client(
    *,
    allow_private: bool,
    connect_timeout: float,
    request_timeout: float,
    resolve_timeout: float,
    max_connections: int,
    ssl_context: ssl.SSLContext,
    resolver: Resolver | None = None,
    connector: Connector | None = None,
    proxies: dict[str, str] | None = None,
    user_agent: str = "idp",
) -> httpx.AsyncClient:
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=30.0,
    )

    def pool(secure: bool) -> PinnedTransport:
        policy = partial(address_problem, secure=secure, allow_private=allow_private)
        backend = PinnedBackend(
            policy,
            resolve_timeout=resolve_timeout,
            resolver=resolver,
            connector=connector or AsyncioConnector(),
        )
        return PinnedTransport(backend, ssl_context, limits)

    transport = EgressTransport(
        {"https": partial(pool, True), "http": partial(pool, False)},
        ssl_context=ssl_context,
        limits=limits,
        proxies=proxies or {},
    )
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(request_timeout, connect=connect_timeout),
        follow_redirects=False,
        trust_env=False,  # proxies are EgressTransport's business, certificates ssl_context's
        headers={"User-Agent": user_agent},
    )
