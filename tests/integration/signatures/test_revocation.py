"""RevocationFetcher against a real CRL and OCSP server on loopback: caching by nextUpdate
(counted by the server's request counter), single-flight, and every way a fetch fails."""

from __future__ import annotations

import asyncio
import gzip
import resource
import ssl
import struct
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID
from httpcore import AsyncNetworkStream
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from idp.clock import FrozenClock
from idp.egress.backend import SocketOption
from idp.settings import SignaturesSettings
from idp.signatures.result import RevocationBusy, RevocationUnavailable
from idp.signatures.revocation.fetcher import MAX_URLS_PER_KIND, RevocationFetcher, url_problem
from tests.support.live import LiveServer, free_port

Handler = Callable[[Request], Awaitable[Response]]


@dataclass
class Responder:
    """What the server answers per path, and how many requests each path got."""

    handlers: dict[str, Handler] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)

    async def __call__(self, request: Request) -> Response:
        path = request.url.path
        self.hits[path] = self.hits.get(path, 0) + 1
        handler = self.handlers.get(path)
        if handler is None:
            return Response(status_code=404)
        return await handler(request)


@dataclass(frozen=True)
class CA:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def make_ca() -> CA:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Test Revocation CA"))
        .issuer_name(_name("Test Revocation CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return CA(key, cert)


def make_user(ca: CA, serial: int) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(f"user {serial}"))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(ca.key, hashes.SHA256())
    )


def make_crl(ca: CA, next_update: datetime) -> bytes:
    now = datetime.now(UTC)
    revoked = x509.RevokedCertificateBuilder().serial_number(666).revocation_date(now).build()
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(now - timedelta(hours=2))
        .next_update(next_update)
        .add_revoked_certificate(revoked)
        .sign(ca.key, hashes.SHA256())
    )
    return crl.public_bytes(serialization.Encoding.DER)


def ocsp_answer(ca: CA, request: ocsp.OCSPRequest, next_update: datetime | None) -> bytes:
    now = datetime.now(UTC)
    user = make_user(ca, request.serial_number)
    response = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=user,
            issuer=ca.certificate,
            algorithm=hashes.SHA1(),  # noqa: S303 - the CertID hash RFC 5019 asks for
            cert_status=ocsp.OCSPCertStatus.GOOD,
            this_update=now - timedelta(minutes=1),
            next_update=next_update,
            revocation_time=None,
            revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, ca.certificate)
        .sign(ca.key, hashes.SHA256())
    )
    return response.public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def responder() -> Iterator[tuple[Responder, LiveServer]]:
    state = Responder()

    async def endpoint(request: Request) -> Response:
        return await state(request)

    app = Starlette(routes=[Route("/{path:path}", endpoint, methods=["GET", "POST"])])
    live = LiveServer(app, free_port()).start()
    yield state, live
    live.stop()


@pytest.fixture(scope="module")
def ca() -> CA:
    return make_ca()


@pytest.fixture
def server(responder: tuple[Responder, LiveServer]) -> tuple[Responder, str]:
    state, live = responder
    state.handlers.clear()
    state.hits.clear()
    return state, live.url


@pytest.fixture
def frozen() -> FrozenClock:
    return FrozenClock()


def settings(**changes: object) -> SignaturesSettings:
    return SignaturesSettings(**{"revocation_timeout": 2.0, **changes})


@pytest.fixture
async def fetcher(frozen: FrozenClock) -> AsyncIterator[RevocationFetcher]:
    f = RevocationFetcher(settings(), allow_private=True, clock=frozen)
    yield f
    await f.aclose()


def gzip_bomb(size: int) -> bytes:
    """``size`` zero bytes gzipped twice, built without ever holding them: a few KB that
    ``Content-Encoding: gzip, gzip`` turns back into ``size`` bytes. Deflate blocks ended by a
    full flush do not depend on what came before, so one block repeated is the stream."""
    block = 1 << 20
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    one = deflate.compress(bytes(block)) + deflate.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(size // block):
        crc = zlib.crc32(bytes(block), crc)
    inner = (
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # gzip header (RFC 1952)
        + one * (size // block)
        + zlib.compressobj(9, zlib.DEFLATED, -15).flush()  # the empty final block
        + struct.pack("<II", crc, size & 0xFFFFFFFF)
    )
    return gzip.compress(inner, 9)


def max_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def serve(data: bytes, *, status: int = 200, delay: float = 0.0) -> Handler:
    async def handler(request: Request) -> Response:
        if delay:
            await asyncio.sleep(delay)
        return Response(data, status_code=status, media_type="application/pkix-crl")

    return handler


async def test_a_crl_is_fetched_once_and_served_from_the_cache_until_its_next_update(
    server: tuple[Responder, str], fetcher: RevocationFetcher, ca: CA, frozen: FrozenClock
) -> None:
    state, url = server
    crl = make_crl(ca, frozen.now() + timedelta(hours=1))
    state.handlers["/ca.crl"] = serve(crl)
    assert await fetcher.crl(f"{url}/ca.crl") == crl
    assert await fetcher.crl(f"{url}/ca.crl") == crl
    assert state.hits["/ca.crl"] == 1

    frozen.advance(3599)
    await fetcher.crl(f"{url}/ca.crl")
    assert state.hits["/ca.crl"] == 1
    frozen.advance(2)  # past nextUpdate: fetched again
    await fetcher.crl(f"{url}/ca.crl")
    assert state.hits["/ca.crl"] == 2


async def test_thirty_verifications_at_once_make_one_download(
    server: tuple[Responder, str], fetcher: RevocationFetcher, ca: CA, frozen: FrozenClock
) -> None:
    state, url = server
    crl = make_crl(ca, frozen.now() + timedelta(hours=1))
    state.handlers["/slow.crl"] = serve(crl, delay=0.3)
    answers = await asyncio.gather(*(fetcher.crl(f"{url}/slow.crl") for _ in range(30)))
    assert answers == [crl] * 30
    assert state.hits["/slow.crl"] == 1


async def test_a_stale_crl_is_returned_but_not_kept(
    server: tuple[Responder, str], fetcher: RevocationFetcher, ca: CA, frozen: FrozenClock
) -> None:
    state, url = server
    state.handlers["/stale.crl"] = serve(make_crl(ca, frozen.now() - timedelta(minutes=1)))
    await fetcher.crl(f"{url}/stale.crl")
    await fetcher.crl(f"{url}/stale.crl")
    assert state.hits["/stale.crl"] == 2


async def test_a_pem_crl_is_read_as_der(
    server: tuple[Responder, str], fetcher: RevocationFetcher, ca: CA, frozen: FrozenClock
) -> None:
    state, url = server
    der = make_crl(ca, frozen.now() + timedelta(hours=1))
    pem = x509.load_der_x509_crl(der).public_bytes(serialization.Encoding.PEM)
    state.handlers["/pem.crl"] = serve(pem)
    assert await fetcher.crl(f"{url}/pem.crl") == der


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        (b"<html>not found</html>", 200, "not a DER CertificateList"),
        (b"\x30\x03\x02\x01\x01", 200, "not a DER CertificateList"),
        (b"", 200, "not a DER CertificateList"),
        (b"oops", 500, "HTTP 500"),
        (b"", 404, "HTTP 404"),
    ],
)
async def test_a_bad_answer_is_unavailable_and_its_url_rests_for_the_failure_ttl(
    server: tuple[Responder, str],
    fetcher: RevocationFetcher,
    frozen: FrozenClock,
    body: bytes,
    status: int,
    expected: str,
) -> None:
    state, url = server
    state.handlers["/bad.crl"] = serve(body, status=status)
    with pytest.raises(RevocationUnavailable) as caught:
        await fetcher.crl(f"{url}/bad.crl")
    assert str(caught.value) == f"CRL from 127.0.0.1: {expected}"
    frozen.advance(29)
    with pytest.raises(RevocationUnavailable) as caught:
        await fetcher.crl(f"{url}/bad.crl")
    assert str(caught.value).startswith(f"CRL from 127.0.0.1: {expected} (failed recently")
    assert state.hits["/bad.crl"] == 1
    frozen.advance(2)  # past revocation_failure_ttl: asked again, and the failure not kept
    with pytest.raises(RevocationUnavailable, match=f"^CRL from 127.0.0.1: {expected}$"):
        await fetcher.crl(f"{url}/bad.crl")
    assert state.hits["/bad.crl"] == 2


async def test_a_slow_server_times_out(
    server: tuple[Responder, str], ca: CA, frozen: FrozenClock
) -> None:
    state, url = server
    state.handlers["/hang.crl"] = serve(make_crl(ca, frozen.now() + timedelta(hours=1)), delay=3)
    fetcher = RevocationFetcher(settings(revocation_timeout=0.3), allow_private=True, clock=frozen)
    started = asyncio.get_running_loop().time()
    with pytest.raises(RevocationUnavailable, match=r"^CRL from 127\.0\.0\.1: no answer within"):
        await fetcher.crl(f"{url}/hang.crl")
    assert asyncio.get_running_loop().time() - started < 2
    await fetcher.aclose()


async def test_an_oversized_crl_is_refused_whether_or_not_its_length_is_declared(
    server: tuple[Responder, str], frozen: FrozenClock
) -> None:
    state, url = server
    state.handlers["/big.crl"] = serve(b"\x30" * 10_000)

    async def endless(request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10_000):  # 10 s and 40 MB if read to the end
                await asyncio.sleep(0.001)
                yield b"\x30" * 4096

        return StreamingResponse(chunks())

    state.handlers["/endless.crl"] = endless
    fetcher = RevocationFetcher(
        settings(revocation_max_bytes=4096), allow_private=True, clock=frozen
    )
    started = asyncio.get_running_loop().time()
    for path in ("/big.crl", "/endless.crl"):
        with pytest.raises(RevocationUnavailable, match="larger than 4096 bytes"):
            await fetcher.crl(f"{url}{path}")
    assert asyncio.get_running_loop().time() - started < 2  # it stopped reading
    await fetcher.aclose()


async def test_private_addresses_are_refused_unless_allowed(
    server: tuple[Responder, str], ca: CA, frozen: FrozenClock
) -> None:
    state, url = server
    state.handlers["/ca.crl"] = serve(make_crl(ca, frozen.now() + timedelta(hours=1)))
    port = url.rsplit(":", 1)[1]

    class Answer:  # a public-looking name that resolves to loopback (DNS rebinding)
        async def resolve(self, host: str, port: int) -> list[str]:
            return ["127.0.0.1"]

    fetcher = RevocationFetcher(
        settings(revocation_ports=[int(port)]), allow_private=False, clock=frozen, resolver=Answer()
    )
    for target, why in [
        (f"{url}/ca.crl", "the URL is refused: 127.0.0.1 is a loopback"),
        (f"http://localhost:{port}/ca.crl", "the URL is refused: localhost is a loopback name"),
        (f"http://crl.example.com:{port}/ca.crl", "crl.example.com resolves to 127.0.0.1"),
    ]:
        with pytest.raises(RevocationUnavailable, match=why):
            await fetcher.crl(target)
    assert state.hits.get("/ca.crl", 0) == 0
    await fetcher.aclose()


def test_plain_http_is_allowed_to_public_hosts_unlike_the_back_channel() -> None:
    assert url_problem("http://crl.example.ru/ca.crl", allow_private=False) is None
    assert url_problem("https://ocsp.example.ru/", allow_private=False) is None
    assert url_problem("http://8.8.8.8/ca.crl", allow_private=False) is None
    assert url_problem("ldap://ldap.example.ru/cn=CA", allow_private=False) is not None
    assert url_problem("http://10.1.2.3/ca.crl", allow_private=False) is not None
    assert url_problem("http://127.1/ca.crl", allow_private=True) is not None
    assert url_problem("http://user@crl.example.ru/", allow_private=False) is not None
    assert url_problem("http://127.0.0.1/ca.crl", allow_private=True) is None


async def test_a_redirect_is_followed_and_checked_again(
    server: tuple[Responder, str], fetcher: RevocationFetcher, ca: CA, frozen: FrozenClock
) -> None:
    state, url = server
    crl = make_crl(ca, frozen.now() + timedelta(hours=1))
    state.handlers["/moved.crl"] = serve(crl)

    async def moved(request: Request) -> Response:
        return Response(status_code=301, headers={"Location": "/moved.crl"})

    async def to_metadata(request: Request) -> Response:
        return Response(status_code=302, headers={"Location": "http://169.254.169.254/x"})

    state.handlers["/old.crl"] = moved
    state.handlers["/sneaky.crl"] = to_metadata
    assert await fetcher.crl(f"{url}/old.crl") == crl
    strict = RevocationFetcher(settings(), allow_private=False, clock=frozen)
    with pytest.raises(RevocationUnavailable):
        await strict.crl(f"{url}/sneaky.crl")
    await strict.aclose()


async def test_ocsp_is_asked_by_post_and_cached_per_certificate(
    server: tuple[Responder, str], fetcher: RevocationFetcher, ca: CA, frozen: FrozenClock
) -> None:
    state, url = server
    seen: list[ocsp.OCSPRequest] = []

    async def answer(request: Request) -> Response:
        assert request.method == "POST"
        assert request.headers["content-type"] == "application/ocsp-request"
        parsed = ocsp.load_der_ocsp_request(await request.body())
        seen.append(parsed)
        body = ocsp_answer(ca, parsed, frozen.now() + timedelta(minutes=10))
        return Response(body, media_type="application/ocsp-response")

    state.handlers["/ocsp"] = answer
    one, two = make_user(ca, 1001), make_user(ca, 1002)
    der = [c.public_bytes(serialization.Encoding.DER) for c in (one, two)]
    first = await fetcher.ocsp(f"{url}/ocsp", der[0], ca.der)
    assert ocsp.load_der_ocsp_response(first).serial_number == 1001
    assert await fetcher.ocsp(f"{url}/ocsp", der[0], ca.der) == first
    assert state.hits["/ocsp"] == 1
    sha1 = hashes.SHA1()  # noqa: S303 - the CertID hash RFC 5019 asks for
    expected = ocsp.OCSPRequestBuilder().add_certificate(one, ca.certificate, sha1).build()
    assert seen[0].issuer_key_hash == expected.issuer_key_hash
    assert seen[0].issuer_name_hash == expected.issuer_name_hash

    await fetcher.ocsp(f"{url}/ocsp", der[1], ca.der)  # another certificate: its own answer
    assert state.hits["/ocsp"] == 2
    frozen.advance(601)
    await fetcher.ocsp(f"{url}/ocsp", der[0], ca.der)
    assert state.hits["/ocsp"] == 3


async def test_an_ocsp_answer_without_next_update_is_kept_five_minutes(
    server: tuple[Responder, str], fetcher: RevocationFetcher, ca: CA, frozen: FrozenClock
) -> None:
    state, url = server

    async def answer(request: Request) -> Response:
        parsed = ocsp.load_der_ocsp_request(await request.body())
        return Response(ocsp_answer(ca, parsed, None))

    state.handlers["/ocsp"] = answer
    user = make_user(ca, 7).public_bytes(serialization.Encoding.DER)
    await fetcher.ocsp(f"{url}/ocsp", user, ca.der)
    frozen.advance(299)
    await fetcher.ocsp(f"{url}/ocsp", user, ca.der)
    assert state.hits["/ocsp"] == 1
    frozen.advance(2)
    await fetcher.ocsp(f"{url}/ocsp", user, ca.der)
    assert state.hits["/ocsp"] == 2


async def test_an_unsuccessful_or_garbled_ocsp_answer_is_unavailable(
    server: tuple[Responder, str], fetcher: RevocationFetcher, ca: CA
) -> None:
    state, url = server
    refusal = ocsp.OCSPResponseBuilder.build_unsuccessful(
        ocsp.OCSPResponseStatus.UNAUTHORIZED
    ).public_bytes(serialization.Encoding.DER)
    state.handlers["/refuses"] = serve(refusal)
    state.handlers["/garbage"] = serve(b"\x00garbage")
    user = make_user(ca, 9).public_bytes(serialization.Encoding.DER)
    with pytest.raises(RevocationUnavailable, match="responder says unauthorized"):
        await fetcher.ocsp(f"{url}/refuses", user, ca.der)
    with pytest.raises(RevocationUnavailable, match="not a DER OCSPResponse"):
        await fetcher.ocsp(f"{url}/garbage", user, ca.der)
    with pytest.raises(RevocationUnavailable, match="cannot build an OCSP request"):
        await fetcher.ocsp(f"{url}/garbage", b"not a certificate", ca.der)
    assert state.hits["/garbage"] == 1


async def test_an_unreachable_server_is_unavailable(
    fetcher: RevocationFetcher,
) -> None:
    with pytest.raises(RevocationUnavailable, match=r"^CRL from 127\.0\.0\.1: "):
        await fetcher.crl(f"http://127.0.0.1:{free_port()}/ca.crl")


async def test_a_compressed_answer_is_refused_before_its_body_is_read(
    server: tuple[Responder, str], fetcher: RevocationFetcher
) -> None:
    state, url = server
    bomb = gzip_bomb(256 << 20)
    assert len(bomb) < 8192
    asked: list[str] = []

    async def stacked(request: Request) -> Response:
        asked.append(request.headers.get("accept-encoding", ""))
        return Response(bomb, headers={"Content-Encoding": "gzip, gzip"})

    state.handlers["/bomb.crl"] = stacked
    before = max_rss_bytes()
    with pytest.raises(RevocationUnavailable, match=r"Content-Encoding gzip, gzip is refused"):
        await fetcher.crl(f"{url}/bomb.crl")
    assert max_rss_bytes() - before < 100 << 20
    assert asked == ["identity"]


class Refuses:
    """No name is answered and no connection made: nothing reaches the network."""

    async def resolve(self, host: str, port: int) -> list[str]:
        raise OSError("no lookups in this test")

    async def connect(
        self,
        address: str,
        port: int,
        connect_timeout: float | None,
        local_address: str | None,
        socket_options: Iterable[SocketOption] | None,
    ) -> AsyncNetworkStream:
        raise OSError("no connections in this test")


_TLS = ssl.create_default_context()  # one for all: loading the trust store takes a while


def isolated(**changes: object) -> RevocationFetcher:
    return RevocationFetcher(
        settings(**changes),
        allow_private=True,
        resolver=Refuses(),
        connector=Refuses(),
        ssl_context=_TLS,
    )


@pytest.mark.parametrize(
    "host",
    ["ßß--.example", "a" * 64 + ".example", "xn--a.example", "xn--.example", "é" * 70 + ".ru"],
)
async def test_a_host_the_layers_below_refuse_is_unavailable(host: str) -> None:
    fetcher = isolated()
    try:
        with pytest.raises(RevocationUnavailable, match="invalid host name"):
            await fetcher.crl(f"http://{host}/ca.crl")
        user, issuer = make_ca().der, make_ca().der
        with pytest.raises(RevocationUnavailable, match="invalid host name"):
            await fetcher.ocsp(f"http://{host}/", user, issuer)
    finally:
        await fetcher.aclose()


_label = st.from_regex(r"(xn--)?[a-zA-Z0-9\u00c0-\u024f\u0400-\u04ff\-_ß]{0,70}", fullmatch=True)
_hosts = st.one_of(
    st.lists(_label, min_size=1, max_size=4).map(".".join),
    st.text(max_size=80),
    st.ip_addresses().map(lambda a: f"[{a}]" if a.version == 6 else str(a)),
)
_urls = st.one_of(
    st.text(max_size=200),
    st.builds(
        lambda scheme, host, port, path: f"{scheme}://{host}{port}/{path}",
        st.sampled_from(["http", "https", "HTTP", "ftp", "ldap"]),
        _hosts,
        st.one_of(st.just(""), st.integers(-1, 70000).map(lambda p: f":{p}"), st.text(max_size=6)),
        st.text(max_size=40),
    ),
)


@examples(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(url=_urls)
def test_any_url_gives_an_answer_or_unavailable_never_another_exception(url: str) -> None:
    async def fetch() -> None:
        fetcher = isolated(revocation_timeout=1.0)
        try:
            await fetcher.crl(url)
        except RevocationUnavailable as exc:
            problems.append(str(exc))
        finally:
            await fetcher.aclose()

    problems: list[str] = []

    asyncio.run(fetch())
    assert all(len(p.splitlines()) == 1 for p in problems)


async def test_a_dead_responder_costs_its_timeout_once_per_failure_window(
    server: tuple[Responder, str], ca: CA, frozen: FrozenClock
) -> None:
    state, url = server
    state.handlers["/dead"] = serve(b"", delay=3)
    fetcher = RevocationFetcher(settings(revocation_timeout=0.3), allow_private=True, clock=frozen)
    users = [make_user(ca, serial).public_bytes(serialization.Encoding.DER) for serial in (1, 2)]
    loop = asyncio.get_running_loop()
    try:
        with pytest.raises(RevocationUnavailable, match="no answer within"):
            await fetcher.ocsp(f"{url}/dead", users[0], ca.der)
        started = loop.time()
        for user in users:  # another certificate, same responder: refused at once
            with pytest.raises(RevocationUnavailable, match="failed recently"):
                await fetcher.ocsp(f"{url}/dead", user, ca.der)
        assert loop.time() - started < 0.1
        assert state.hits["/dead"] == 1
    finally:
        await fetcher.aclose()


async def test_the_cache_is_bounded_by_bytes(
    server: tuple[Responder, str], ca: CA, frozen: FrozenClock
) -> None:
    state, url = server
    crls = [make_crl(ca, frozen.now() + timedelta(hours=1)) for _ in range(3)]
    for i, crl in enumerate(crls):
        state.handlers[f"/{i}.crl"] = serve(crl)
    budget = len(crls[0]) + len(crls[1]) + len(crls[2]) // 2  # two fit, not three
    fetcher = RevocationFetcher(
        settings(revocation_cache_bytes=budget), allow_private=True, clock=frozen
    )
    try:
        for i in range(3):
            await fetcher.crl(f"{url}/{i}.crl")
        for i in (1, 2, 0):
            await fetcher.crl(f"{url}/{i}.crl")
        assert [state.hits[f"/{i}.crl"] for i in range(3)] == [2, 1, 1]  # the oldest went
        tiny = RevocationFetcher(settings(revocation_cache_bytes=16), allow_private=True)
        for _ in range(2):
            await tiny.crl(f"{url}/1.crl")  # larger than the whole cache: used, not kept
        assert state.hits["/1.crl"] == 3
        await tiny.aclose()
    finally:
        await fetcher.aclose()


async def test_an_answer_is_kept_no_longer_than_its_max_age_whatever_its_next_update(
    server: tuple[Responder, str], fetcher: RevocationFetcher, ca: CA, frozen: FrozenClock
) -> None:
    state, url = server
    state.handlers["/year.crl"] = serve(make_crl(ca, frozen.now() + timedelta(days=365)))

    async def answer(request: Request) -> Response:
        parsed = ocsp.load_der_ocsp_request(await request.body())
        return Response(ocsp_answer(ca, parsed, frozen.now() + timedelta(days=365)))

    state.handlers["/ocsp"] = answer
    user = make_user(ca, 77).public_bytes(serialization.Encoding.DER)
    await fetcher.crl(f"{url}/year.crl")
    await fetcher.ocsp(f"{url}/ocsp", user, ca.der)
    frozen.advance(3599)
    await fetcher.ocsp(f"{url}/ocsp", user, ca.der)
    assert state.hits["/ocsp"] == 1
    frozen.advance(2)  # ocsp_max_age: 3600 s
    await fetcher.ocsp(f"{url}/ocsp", user, ca.der)
    assert state.hits["/ocsp"] == 2
    frozen.advance(86400 - 3601 - 1)
    await fetcher.crl(f"{url}/year.crl")
    assert state.hits["/year.crl"] == 1
    frozen.advance(2)  # crl_max_age: a day
    await fetcher.crl(f"{url}/year.crl")
    assert state.hits["/year.crl"] == 2


async def test_the_checker_can_make_the_fetcher_forget_an_answer(
    server: tuple[Responder, str], fetcher: RevocationFetcher, ca: CA, frozen: FrozenClock
) -> None:
    state, url = server
    state.handlers["/ca.crl"] = serve(make_crl(ca, frozen.now() + timedelta(hours=1)))

    async def answer(request: Request) -> Response:
        parsed = ocsp.load_der_ocsp_request(await request.body())
        return Response(ocsp_answer(ca, parsed, frozen.now() + timedelta(minutes=10)))

    state.handlers["/ocsp"] = answer
    one, two = (make_user(ca, s).public_bytes(serialization.Encoding.DER) for s in (5, 6))
    await fetcher.crl(f"{url}/ca.crl")
    fetcher.invalidate(f"{url}/ca.crl")
    await fetcher.crl(f"{url}/ca.crl")
    assert state.hits["/ca.crl"] == 2

    await fetcher.ocsp(f"{url}/ocsp", one, ca.der)
    await fetcher.ocsp(f"{url}/ocsp", two, ca.der)
    fetcher.invalidate_ocsp(f"{url}/ocsp", one, ca.der)
    fetcher.invalidate_ocsp(f"{url}/ocsp", b"not a certificate", ca.der)  # ignored
    await fetcher.ocsp(f"{url}/ocsp", one, ca.der)
    await fetcher.ocsp(f"{url}/ocsp", two, ca.der)
    assert state.hits["/ocsp"] == 3  # only the forgotten answer was asked again
    fetcher.invalidate(f"{url}/ocsp")
    await fetcher.ocsp(f"{url}/ocsp", two, ca.der)
    assert state.hits["/ocsp"] == 4


def test_public_hosts_are_asked_on_the_web_ports_only() -> None:
    assert url_problem("http://crl.example.ru:80/ca.crl", allow_private=False) is None
    assert url_problem("https://ocsp.example.ru:443/", allow_private=False) is None
    for url in ("http://crl.example.ru:25/ca.crl", "https://8.8.8.8:8443/", "http://a.ru:8080/"):
        problem = url_problem(url, allow_private=False)
        assert problem is not None
        assert problem.startswith("names port")
    assert url_problem("http://a.ru:8080/", allow_private=False, ports=(8080,)) is None
    assert url_problem("http://127.0.0.1:8080/ca.crl", allow_private=True) is None
    assert MAX_URLS_PER_KIND == 2


async def test_the_port_rule_applies_before_any_lookup() -> None:
    strict = RevocationFetcher(
        settings(), allow_private=False, resolver=Refuses(), connector=Refuses()
    )
    other = RevocationFetcher(
        settings(revocation_ports=[8080]),
        allow_private=False,
        resolver=Refuses(),
        connector=Refuses(),
    )
    try:
        with pytest.raises(RevocationUnavailable, match=r"the URL names port 8080 \(only 80, 443"):
            await strict.crl("http://crl.example.ru:8080/ca.crl")
        with pytest.raises(RevocationUnavailable, match=r"name lookup of crl\.example\.ru failed"):
            await other.crl("http://crl.example.ru:8080/ca.crl")
    finally:
        await strict.aclose()
        await other.aclose()


async def test_a_process_runs_at_most_revocation_concurrency_fetches_at_once(
    server: tuple[Responder, str], ca: CA, frozen: FrozenClock
) -> None:
    state, url = server
    crl = make_crl(ca, frozen.now() + timedelta(hours=1))
    running, most = 0, 0

    async def slow(request: Request) -> Response:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.1)
        running -= 1
        return Response(crl)

    for i in range(6):
        state.handlers[f"/{i}.crl"] = slow
    fetcher = RevocationFetcher(
        settings(revocation_concurrency=2), allow_private=True, clock=frozen
    )
    try:
        answers = await asyncio.gather(*(fetcher.crl(f"{url}/{i}.crl") for i in range(6)))
    finally:
        await fetcher.aclose()
    assert answers == [crl] * 6
    assert most == 2


async def test_a_fetch_that_waited_for_a_slot_does_not_rest_its_url(
    server: tuple[Responder, str], ca: CA, frozen: FrozenClock
) -> None:
    state, url = server
    crl = make_crl(ca, frozen.now() + timedelta(hours=1))
    state.handlers["/hog.crl"] = serve(crl, delay=1.0)
    state.handlers["/fine.crl"] = serve(crl, delay=0.1)
    fetcher = RevocationFetcher(
        settings(revocation_concurrency=1, revocation_timeout=0.3),
        allow_private=True,
        clock=frozen,
    )
    try:
        hog, fine = await asyncio.gather(
            fetcher.crl(f"{url}/hog.crl"), fetcher.crl(f"{url}/fine.crl"), return_exceptions=True
        )
        assert isinstance(hog, RevocationUnavailable)
        assert not isinstance(hog, RevocationBusy)
        assert "waiting for one of revocation_concurrency's slots" not in str(hog)
        assert isinstance(fine, RevocationBusy)  # the checker answers "try again later"
        assert "waiting for one of revocation_concurrency's slots" in str(fine)
        assert await fetcher.crl(f"{url}/fine.crl") == crl  # asked again at once, not rested
        with pytest.raises(RevocationUnavailable, match="failed recently"):
            await fetcher.crl(f"{url}/hog.crl")  # the slow URL itself is rested
    finally:
        await fetcher.aclose()
