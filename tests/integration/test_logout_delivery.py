"""Back-channel logout delivery on the pooled httpx client: answers the old hand-written client
mis-read, the SSRF guard that connects to the address it checked, TLS with the real host name,
name-lookup timeouts, URL encoding and proxies. Real servers on loopback; names are answered by
an injected resolver and every connection to a non-loopback address is refused by an injected
connector, so no packet leaves loopback."""

from __future__ import annotations

import asyncio
import ipaddress
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import httpcore
import pytest

from idp.context import Context
from idp.egress.backend import SocketOption, SystemResolver
from idp.egress.client import EgressTransport, build_client, default_ssl_context
from idp.egress.streams import AsyncioConnector
from idp.oidc.logout.attempt import DELIVERED, PENDING, REJECTED, Job
from idp.oidc.logout.delivery import Deliverer
from idp.settings import LogoutSettings, Settings
from tests.support.raw_rp import RawRP
from tests.support.rp_server import FakeRP, RPServer
from tests.support.tls_ca import LocalCA

PUBLIC = "93.184.215.14"  # never contacted: the recording connector refuses it
BLOCKING = LogoutSettings(
    block_private_addresses=True, request_timeout=3.0, connect_timeout=1.0, resolve_timeout=0.3
)
ALLOWING = BLOCKING.model_copy(update={"block_private_addresses": False})


def job(uri: str, client_id: str = "rp-test") -> Job:
    return Job(
        uuid.uuid4(), client_id, uri, "sub-1", "sid-1", "ES256", uuid.uuid4().hex, int(time.time())
    )


class ScriptedResolver:
    """Answers the n-th lookup with the n-th answer (the last one from then on)."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return self.answers[min(len(self.asked), len(self.answers)) - 1]


class HangingResolver:
    async def resolve(self, host: str, port: int) -> list[str]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


class RecordingConnector:
    """Connects to loopback for real; records and refuses every other address."""

    def __init__(self) -> None:
        self.attempts: list[tuple[str, int]] = []
        self._real = AsyncioConnector()  # the default connector

    async def connect(
        self,
        address: str,
        port: int,
        connect_timeout: float | None,
        local_address: str | None,
        socket_options: Iterable[SocketOption] | None,
    ) -> httpcore.AsyncNetworkStream:
        self.attempts.append((address, port))
        if not ipaddress.ip_address(address).is_loopback:
            raise httpcore.ConnectError(f"test: no packets to {address}")
        return await self._real.connect(
            address, port, connect_timeout, local_address, socket_options
        )


@pytest.fixture
async def raw() -> AsyncIterator[list[RawRP]]:
    started: list[RawRP] = []
    yield started
    for rp in started:
        await rp.stop()


async def serve(started: list[RawRP], rp: RawRP) -> RawRP:
    started.append(await rp.start())
    return rp


@pytest.fixture
def ca(tmp_path: Path) -> LocalCA:
    return LocalCA.create(tmp_path / "ca")


async def deliver(deliverer: Deliverer, *jobs: Job) -> list[tuple[str, str | None]]:
    try:
        return [(o.status, o.error) for o in await deliverer.deliver_all(list(jobs))]
    finally:
        await deliverer.close()


# --- answers ---------------------------------------------------------------------------------


async def test_a_status_line_without_reason_phrase_is_delivered(
    ctx: Context, raw: list[RawRP]
) -> None:
    rp = await serve(raw, RawRP(answer=b"HTTP/1.1 204\r\n\r\n"))
    [(status, error)] = await deliver(
        Deliverer(ctx, settings=ALLOWING), job(f"http://127.0.0.1:{rp.port}/bc")
    )
    assert (status, error) == (DELIVERED, None)
    [arrival] = rp.arrivals
    assert arrival.request_line == "POST /bc HTTP/1.1"
    assert arrival.headers["content-type"] == "application/x-www-form-urlencoded"
    assert arrival.body.startswith(b"logout_token=ey")


async def test_a_70_kb_status_line_fails_its_own_job_and_the_healthy_rp_is_delivered(
    ctx: Context, settings: Settings, raw: list[RawRP]
) -> None:
    long_reason = await serve(
        raw, RawRP(answer=b"HTTP/1.1 200 " + b"x" * 70_000 + b"\r\nContent-Length: 0\r\n\r\n")
    )
    garbage = await serve(raw, RawRP(answer=b"HTTP/1.1 " + b"9" * 70_000 + b"\r\n\r\n"))
    healthy = FakeRP(settings.issuer, client_id="healthy")
    server = RPServer(healthy).start()
    try:
        outcomes = await deliver(
            Deliverer(ctx, settings=ALLOWING),
            job(f"http://127.0.0.1:{long_reason.port}/bc"),
            job(f"{server.url}/backchannel", client_id="healthy"),
            job(f"http://127.0.0.1:{garbage.port}/bc"),
        )
    finally:
        server.stop()
    assert [status for status, _ in outcomes] == [PENDING, DELIVERED, PENDING]
    assert "status line" in (outcomes[0][1] or "")
    assert outcomes[2][1]
    assert len(healthy.received) == 1
    assert healthy.problems == []


# --- the SSRF guard --------------------------------------------------------------------------


async def test_a_name_rebound_to_loopback_never_gets_a_connection_there(
    ctx: Context, raw: list[RawRP]
) -> None:
    listener = await serve(raw, RawRP())
    resolver = ScriptedResolver([PUBLIC], ["127.0.0.1"])
    connector = RecordingConnector()
    deliverer = Deliverer(ctx, settings=BLOCKING, resolver=resolver, connector=connector)
    uri = f"https://rebind.example:{listener.port}/bc"

    first = await deliver(deliverer, job(uri))
    second = await deliver(deliverer, job(uri))  # the retry: the name now says 127.0.0.1

    assert first[0][0] == PENDING  # the public address was tried (and refused by the test)
    assert second[0][0] == REJECTED
    assert "127.0.0.1" in (second[0][1] or "")
    assert connector.attempts == [(PUBLIC, listener.port)]  # checked once, connected there
    assert resolver.asked == ["rebind.example", "rebind.example"]
    assert listener.connections == 0


@pytest.mark.parametrize(
    "answer",
    [
        [PUBLIC, "127.0.0.1"],
        ["169.254.169.254"],
        ["::ffff:127.0.0.1"],
        ["10.0.0.7"],
        # IPv6 forms that carry a private or loopback IPv4 address and reach it
        ["64:ff9b::7f00:1"],  # NAT64 of 127.0.0.1
        ["64:ff9b::a9fe:a9fe"],  # NAT64 of 169.254.169.254
        ["::7f00:1"],  # IPv4-compatible 127.0.0.1
        ["2002:a00:7::1"],  # 6to4 of 10.0.0.7
        ["64:ff9b:1::a00:7"],  # local-use NAT64: the network decides what it reaches
    ],
)
async def test_a_name_with_any_forbidden_answer_is_refused_without_connecting(
    ctx: Context, raw: list[RawRP], answer: list[str]
) -> None:
    listener = await serve(raw, RawRP())
    connector = RecordingConnector()
    deliverer = Deliverer(
        ctx, settings=BLOCKING, resolver=ScriptedResolver(answer), connector=connector
    )
    [(status, error)] = await deliver(deliverer, job(f"https://rp.example:{listener.port}/bc"))
    assert status == REJECTED
    assert error is not None
    assert error.startswith("blocked: rp.example resolves to")
    assert connector.attempts == []
    assert listener.connections == 0


@pytest.mark.parametrize(
    "uri",
    [
        "https://127.0.0.1:{port}/bc",
        "https://[::1]:{port}/bc",
        "https://169.254.169.254/latest/meta-data/",
        "https://localhost:{port}/bc",
        "http://rp.example:{port}/bc",  # plain http to a public name
        # Numbers that resolvers read as 127.0.0.1
        "https://127.1:{port}/bc",
        "https://0x7f000001:{port}/bc",
        "https://2130706433:{port}/bc",
        "https://0177.0.0.1:{port}/bc",
        "https://[64:ff9b::7f00:1]:{port}/bc",
    ],
)
async def test_a_refused_uri_is_rejected_before_any_lookup(
    ctx: Context, raw: list[RawRP], uri: str
) -> None:
    listener = await serve(raw, RawRP())
    resolver = ScriptedResolver(["127.0.0.1"])
    connector = RecordingConnector()
    deliverer = Deliverer(ctx, settings=BLOCKING, resolver=resolver, connector=connector)
    [(status, error)] = await deliver(deliverer, job(uri.format(port=listener.port)))
    assert status == REJECTED
    assert (error or "").startswith("blocked: the URI")
    assert resolver.asked == []
    assert connector.attempts == []
    assert listener.connections == 0


async def test_plain_http_to_a_name_that_resolves_publicly_is_refused_even_when_private_allowed(
    ctx: Context,
) -> None:
    connector = RecordingConnector()
    deliverer = Deliverer(
        ctx, settings=ALLOWING, resolver=ScriptedResolver([PUBLIC]), connector=connector
    )
    [(status, error)] = await deliver(deliverer, job("http://rp.localhost/bc"))
    assert status == REJECTED
    assert "plain http" in (error or "")
    assert connector.attempts == []


async def test_a_name_lookup_times_out(ctx: Context) -> None:
    connector = RecordingConnector()
    deliverer = Deliverer(ctx, settings=BLOCKING, resolver=HangingResolver(), connector=connector)
    started = time.monotonic()
    [(status, error)] = await deliver(deliverer, job("https://slow-dns.example/bc"))
    assert time.monotonic() - started < BLOCKING.resolve_timeout + 1.0
    assert status == PENDING
    assert "name lookup of slow-dns.example timed out" in (error or "")
    assert connector.attempts == []


# --- TLS, encoding, proxies ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "wire_name"), [("rp.test", "rp.test"), ("пример.test", "xn--e1afmkfd.test")]
)
async def test_tls_checks_the_certificate_against_the_real_host_name(
    ctx: Context, raw: list[RawRP], ca: LocalCA, name: str, wire_name: str
) -> None:
    rp = await serve(raw, RawRP(tls=ca.server_context(wire_name)))
    resolver = ScriptedResolver(["127.0.0.1"])
    connector = RecordingConnector()
    deliverer = Deliverer(
        ctx,
        settings=ALLOWING,
        resolver=resolver,
        connector=connector,
        ssl_context=ca.client_context(),
    )
    [(status, error)] = await deliver(deliverer, job(f"https://{name}:{rp.port}/bc"))
    assert (status, error) == (DELIVERED, None)
    assert resolver.asked == [wire_name]
    assert connector.attempts == [("127.0.0.1", rp.port)]
    assert rp.server_names == [wire_name]  # SNI carries the name, not the pinned address
    assert rp.arrivals[0].headers["host"] == f"{wire_name}:{rp.port}"


async def test_tls_refuses_a_certificate_for_another_name(
    ctx: Context, raw: list[RawRP], ca: LocalCA
) -> None:
    rp = await serve(raw, RawRP(tls=ca.server_context("other.test", "127.0.0.1")))
    deliverer = Deliverer(
        ctx,
        settings=ALLOWING,
        resolver=ScriptedResolver(["127.0.0.1"]),
        connector=RecordingConnector(),
        ssl_context=ca.client_context(),
    )
    [(status, error)] = await deliver(deliverer, job(f"https://rp.test:{rp.port}/bc"))
    assert status == PENDING
    assert "certificate" in (error or "").lower(), error
    assert rp.arrivals == []


async def test_the_ca_file_setting_is_trusted(ctx: Context, raw: list[RawRP], ca: LocalCA) -> None:
    rp = await serve(raw, RawRP(tls=ca.server_context("127.0.0.1")))
    settings = ALLOWING.model_copy(update={"ca_file": str(ca.ca_file)})
    [(status, error)] = await deliver(
        Deliverer(ctx, settings=settings), job(f"https://127.0.0.1:{rp.port}/bc")
    )
    assert (status, error) == (DELIVERED, None)
    untrusted = await deliver(
        Deliverer(ctx, settings=ALLOWING), job(f"https://127.0.0.1:{rp.port}/bc")
    )
    assert untrusted[0][0] == PENDING


async def test_a_non_ascii_url_is_percent_encoded(ctx: Context, raw: list[RawRP]) -> None:
    rp = await serve(raw, RawRP())
    uri = f"http://127.0.0.1:{rp.port}/выход/logout?rp=é&x=a b"
    [(status, _)] = await deliver(Deliverer(ctx, settings=ALLOWING), job(uri))
    assert status == DELIVERED
    target = "/%D0%B2%D1%8B%D1%85%D0%BE%D0%B4/logout?rp=%C3%A9&x=a%20b"
    assert rp.arrivals[0].request_line == f"POST {target} HTTP/1.1"
    assert rp.arrivals[0].request_line.isascii()


async def test_a_proxy_named_in_the_environment_carries_the_request_when_trusted(
    ctx: Context, raw: list[RawRP], monkeypatch: pytest.MonkeyPatch
) -> None:
    rp = await serve(raw, RawRP())
    proxy = await serve(raw, RawRP(answer=b"HTTP/1.1 204 No Content\r\n\r\n"))
    _proxy_environment(monkeypatch, proxy)
    trusting = ALLOWING.model_copy(update={"trust_env_proxy": True})
    [(status, _)] = await deliver(
        Deliverer(ctx, settings=trusting), job(f"http://127.0.0.1:{rp.port}/bc")
    )
    assert status == DELIVERED
    assert rp.connections == 0
    assert proxy.arrivals[0].request_line == f"POST http://127.0.0.1:{rp.port}/bc HTTP/1.1"

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    [(status, _)] = await deliver(
        Deliverer(ctx, settings=trusting), job(f"http://127.0.0.1:{rp.port}/bc")
    )
    assert status == DELIVERED
    assert len(rp.arrivals) == 1
    assert len(proxy.arrivals) == 1


async def test_a_redirect_is_rejected_and_not_followed(ctx: Context, raw: list[RawRP]) -> None:
    target = await serve(raw, RawRP())
    redirecting = await serve(
        raw,
        RawRP(
            answer=(
                f"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:{target.port}/bc"
                "\r\nContent-Length: 0\r\n\r\n"
            ).encode()
        ),
    )
    uri = f"http://127.0.0.1:{redirecting.port}/bc"
    [(status, error)] = await deliver(Deliverer(ctx, settings=ALLOWING), job(uri))
    assert (status, error) == (REJECTED, "HTTP 307: redirects are not followed")
    assert target.connections == 0


def _proxy_environment(monkeypatch: pytest.MonkeyPatch, proxy: RawRP) -> None:
    for variable in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")


async def test_a_proxy_in_the_environment_is_ignored_unless_trusted(
    ctx: Context, raw: list[RawRP], monkeypatch: pytest.MonkeyPatch
) -> None:
    rp = await serve(raw, RawRP())
    proxy = await serve(raw, RawRP(answer=b"HTTP/1.1 204 No Content\r\n\r\n"))
    _proxy_environment(monkeypatch, proxy)
    [(status, _)] = await deliver(
        Deliverer(ctx, settings=ALLOWING), job(f"http://127.0.0.1:{rp.port}/bc")
    )
    assert status == DELIVERED
    assert (len(rp.arrivals), proxy.connections) == (1, 0)


async def test_the_proxy_setting_carries_the_request(
    ctx: Context, raw: list[RawRP], monkeypatch: pytest.MonkeyPatch
) -> None:
    rp = await serve(raw, RawRP())
    proxy = await serve(raw, RawRP(answer=b"HTTP/1.1 204 No Content\r\n\r\n"))
    monkeypatch.setenv("IDP_LOGOUT__PROXY", f"http://127.0.0.1:{proxy.port}")
    monkeypatch.setenv("IDP_LOGOUT__TRUST_ENV_PROXY", "false")
    configured = Settings().logout.model_copy(update={"block_private_addresses": False})
    [(status, _)] = await deliver(
        Deliverer(ctx, settings=configured), job(f"http://127.0.0.1:{rp.port}/bc")
    )
    assert status == DELIVERED
    assert rp.connections == 0
    assert proxy.arrivals[0].request_line == f"POST http://127.0.0.1:{rp.port}/bc HTTP/1.1"


async def test_name_lookups_have_threads_of_their_own(ctx: Context) -> None:
    """Slow lookups (or anything else) filling the loop's default executor do not stop a
    delivery's name lookup."""
    loop = asyncio.get_running_loop()
    hold = threading.Event()
    blockers = [loop.run_in_executor(None, hold.wait, 30) for _ in range(64)]
    try:
        answers = await asyncio.wait_for(SystemResolver().resolve("localhost", 443), 5)
    finally:
        hold.set()
        await asyncio.gather(*blockers)
    assert "127.0.0.1" in answers or "::1" in answers


@pytest.mark.parametrize("uri", ["https://exa mple.com/bc", "https://[::1/bc", "ftp://a.example/"])
async def test_an_invalid_url_is_an_outcome_not_an_exception(ctx: Context, uri: str) -> None:
    connector = RecordingConnector()
    deliverer = Deliverer(
        ctx, settings=BLOCKING, resolver=ScriptedResolver([PUBLIC]), connector=connector
    )
    [(status, error)] = await deliver(deliverer, job(uri))
    assert status == REJECTED
    assert error
    assert connector.attempts == []


async def test_each_origin_has_its_own_pool_and_idle_pools_make_room(raw: list[RawRP]) -> None:
    rps = [await serve(raw, RawRP()) for _ in range(3)]
    client = build_client(
        allow_private=True,
        connect_timeout=1.0,
        request_timeout=3.0,
        resolve_timeout=1.0,
        max_connections=4,
        ssl_context=default_ssl_context(),
    )
    transport = client._transport
    assert isinstance(transport, EgressTransport)
    transport._max_origins = 2
    try:
        for rp in rps:
            response = await client.post(f"http://127.0.0.1:{rp.port}/bc", data={"a": "b"})
            assert response.status_code == 200
        again = await client.post(f"http://127.0.0.1:{rps[2].port}/bc", data={"a": "b"})
        assert again.status_code == 200
        # The first origin's idle pool was closed to make room; the last one was reused.
        assert [origin[2] for origin in transport._origins] == [rps[1].port, rps[2].port]
        assert [len(rp.arrivals) for rp in rps] == [1, 1, 2]
    finally:
        await client.aclose()
