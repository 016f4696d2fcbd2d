"""An httpcore network backend that connects to the address the policy checked.

httpcore asks its network backend to ``connect_tcp(host, port)`` and then does TLS itself with
the original host name (SNI and certificate check) and sends the original ``Host``. This backend
resolves the name once, with a timeout, refuses it if any answer is an address the policy
forbids, and connects to one of exactly those answers: there is no second lookup that a zero-TTL
name could rebind to 127.0.0.1 or 169.254.169.254 between the check and the connection.

The name lookup and the raw connection are one-method seams (``Resolver``, ``Connector``) so
tests can answer names and record connection attempts without sending packets off loopback.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Protocol

import anyio
import httpcore
from httpcore import AsyncNetworkBackend, AsyncNetworkStream

from idp.egress.policy import BlockedTarget, IPAddress

# The shape of httpcore's (private) SOCKET_OPTION alias.
SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)
AddressPolicy = Callable[[IPAddress], str | None]


class Resolver(Protocol):
    async def resolve(self, host: str, port: int) -> list[str]:
        """The addresses ``host`` resolves to, best first; raises ``OSError`` if none."""
        ...


class Connector(Protocol):
    async def connect(
        self,
        address: str,
        port: int,
        connect_timeout: float | None,
        local_address: str | None,
        socket_options: Iterable[SocketOption] | None,
    ) -> AsyncNetworkStream:
        """A TCP stream to this exact address (no name lookup)."""
        ...


# getaddrinfo blocks a thread until the name server answers (a timeout does not end it).
# Lookups get threads of their own, so slow name servers can hold at most these, never the
# event loop's default executor that the rest of the process shares (argon2 aside, file I/O).
DNS_THREADS = 8
_dns_pool: ThreadPoolExecutor | None = None


def _dns_threads() -> ThreadPoolExecutor:
    global _dns_pool  # one per process, created on first use
    if _dns_pool is None:
        _dns_pool = ThreadPoolExecutor(max_workers=DNS_THREADS, thread_name_prefix="idp-dns")
    return _dns_pool


class SystemResolver:
    async def resolve(self, host: str, port: int) -> list[str]:
        lookup = partial(
            socket.getaddrinfo, host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
        infos = await asyncio.get_running_loop().run_in_executor(_dns_threads(), lookup)
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


class AnyIOConnector:
    def __init__(self) -> None:
        self._backend = httpcore.AnyIOBackend()

    async def connect(
        self,
        address: str,
        port: int,
        connect_timeout: float | None,
        local_address: str | None,
        socket_options: Iterable[SocketOption] | None,
    ) -> AsyncNetworkStream:
        return await self._backend.connect_tcp(
            address, port, connect_timeout, local_address, socket_options
        )


class PinnedBackend(AsyncNetworkBackend):
    def __init__(
        self,
        policy: AddressPolicy,
        *,
        resolve_timeout: float,
        resolver: Resolver | None = None,
        connector: Connector | None = None,
    ) -> None:
        self._policy = policy
        self._resolve_timeout = resolve_timeout
        self._resolver = resolver or SystemResolver()
        self._connector = connector or AnyIOConnector()

    async def vetted(self, host: str, port: int) -> list[str]:
        """The addresses to connect to: every answer of one lookup, each allowed by the policy."""
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            addresses = await self._lookup(host, port)
        for address in addresses:
            problem = self._policy(address)
            if problem is not None:
                # One bad answer refuses the name: a mixed answer is how rebinding starts.
                raise BlockedTarget(f"{host} resolves to {address}: {problem}")
        return [str(address) for address in addresses]

    async def _lookup(self, host: str, port: int) -> list[IPAddress]:
        try:
            async with asyncio.timeout(self._resolve_timeout):
                answers = await self._resolver.resolve(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"name lookup of {host} timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"name lookup of {host} failed: {exc}") from exc
        if not answers:
            raise httpcore.ConnectError(f"name lookup of {host} gave no address")
        try:
            return [ipaddress.ip_address(answer) for answer in answers]
        except ValueError as exc:
            raise httpcore.ConnectError(f"name lookup of {host}: {exc}") from exc

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> AsyncNetworkStream:
        addresses = await self.vetted(host, port)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._connector.connect(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout, OSError) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[SocketOption] | None = None,
    ) -> AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not an egress target")

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)
