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


def proxies_from(proxy: str | None, *, trust_env: bool) -> dict[str, str]:
    """The proxies by scheme (``all`` for every one) that outbound calls use: the one the
    operator names, else the environment's when trusted, else none."""
    if proxy:
        return {"all": proxy}
    if trust_env:
        return urllib.request.getproxies_environment()
    return {}


class EgressTransport(httpx.AsyncBaseTransport):
    """Sends each request directly on the pinned pool of its scheme, or through the proxy
    named for it (``proxies_from``)."""

    def __init__(
        self,
        direct: dict[str, httpx.AsyncBaseTransport],
        *,
        ssl_context: ssl.SSLContext,
        limits: httpx.Limits,
        proxies: dict[str, str],
    ) -> None:
        self._direct = direct
        self._ssl_context = ssl_context
        self._limits = limits
        self._proxies = proxies
        self._via: dict[str, httpx.AsyncBaseTransport] = {}

    def proxy_for(self, url: httpx.URL) -> str | None:
        proxy = self._proxies.get(url.scheme) or self._proxies.get("all")
        if not proxy or proxy_bypass_environment(url.host, self._proxies):
            return None
        return proxy if "://" in proxy else f"http://{proxy}"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        proxy = self.proxy_for(request.url)
        if proxy is None:
            transport = self._direct[request.url.scheme]
        else:
            transport = self._via.get(proxy) or self._via.setdefault(
                proxy,
                httpx.AsyncHTTPTransport(
                    verify=self._ssl_context, limits=self._limits, proxy=proxy, trust_env=False
                ),
            )
        return await transport.handle_async_request(request)

    async def aclose(self) -> None:
        for transport in [*self._direct.values(), *self._via.values()]:
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
        {"https": pool(True), "http": pool(False)},
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
