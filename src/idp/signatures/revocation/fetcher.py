"""CRLs and OCSP responses over HTTP for the checker (``protocol.RevocationSource``).

The URLs come from certificates, that is from whoever made the certificate, so every request
goes through the egress guard (``idp.egress``): the name is resolved once and the connection
pinned to the checked address; loopback, private and reserved addresses are refused unless
``allow_private`` (tests, dev mode). Unlike the back-channel calls, plain http to a public
address is allowed: CRL distribution points and OCSP responders are http by design (RFC 5280
§4.2.1.13, RFC 6960 Appendix A.1), the answers being signed and checked by the path validation.

Every answer is checked for shape only here (a CRL must parse as a CertificateList, an OCSP
response as a successful OCSPResponse); its signature and freshness are the checker's to judge.
Answers are cached per process until their own nextUpdate but never longer than
``crl_max_age`` / ``ocsp_max_age``; an answer without one is kept for ``UNDATED_TTL`` (5
minutes), so a responder that never says is still not asked per signature. The cache is bounded
by count and by bytes. Any failure raises ``RevocationUnavailable`` with one line naming the host
and what failed, and that URL is not asked again for ``revocation_failure_ttl`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta
from functools import partial
from urllib.parse import urljoin, urlsplit

import httpx
import idna
from asn1crypto import crl, ocsp, pem

from idp.clock import Clock, SystemClock
from idp.egress.backend import Connector, PinnedBackend, Resolver
from idp.egress.client import EgressTransport, PinnedTransport, default_ssl_context
from idp.egress.policy import BlockedTarget, address_problem, uri_problem
from idp.egress.streams import AsyncioConnector
from idp.settings import SignaturesSettings
from idp.signatures.result import RevocationBusy, RevocationUnavailable
from idp.signatures.revocation.cache import Fetched, RecentFailures, SharedCache
from idp.signatures.revocation.ocsp_request import build_query

log = logging.getLogger("idp.signatures.revocation")

# The checker tries at most this many OCSP URLs and this many CRL URLs of one certificate:
# a certificate listing a hundred of them must not make a verification wait for each.
MAX_URLS_PER_KIND = 2
DEFAULT_PORTS = (80, 443)
BUSY_SHARE = 0.1  # a timeout after waiting longer than this share of it for a slot is "busy"

UNDATED_TTL = timedelta(minutes=5)
MAX_REDIRECTS = 3  # CAs move their CRLs; a chain longer than this is not a CA's doing
_REDIRECTS = (301, 302, 303, 307, 308)
OCSP_REQUEST = "application/ocsp-request"
OCSP_RESPONSE = "application/ocsp-response"


class _Busy(RevocationBusy):
    """A timeout after waiting long for a fetch slot: the process's fault, not the URL's, so
    the URL is not remembered as failing, and the checker answers "try again later" rather
    than judge the signature without it."""


def url_problem(
    url: str, *, allow_private: bool, ports: Collection[int] = DEFAULT_PORTS
) -> str | None:
    """Why a CRL or OCSP URL is refused before any lookup, or None. The back-channel rules
    (``uri_problem``) judge the https form of the URL: the same host, address and syntax
    rules, without the one that confines plain http to private addresses. Public hosts are
    asked on ``ports`` only (a certificate must not make this server knock on a mail or
    database port elsewhere); where private addresses are allowed (dev, tests) any port."""
    if not url.lower().startswith(("http://", "https://")):
        return "is not an http or https URL"
    scheme, rest = url.split(":", 1)
    problem = uri_problem(f"https:{rest}", allow_private=allow_private)
    if problem is not None:
        return problem
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    if not host_is_encodable(host):
        return f"has an invalid host name {host[:80]!r}"
    port = parts.port or (443 if scheme.lower() == "https" else 80)
    if not allow_private and port not in ports:
        return f"names port {port} (only {', '.join(map(str, sorted(ports)))} are asked)"
    return None


def host_is_encodable(host: str) -> bool:
    """Whether ``host`` (an address or a name) has the one ASCII form every layer below agrees
    on: IDNA 2008 for a name with non-ASCII letters (what httpx sends), labels of 1..63
    characters, 253 in all, ``xn--`` labels that decode. What does not would fail deep in
    httpx, idna or getaddrinfo with exceptions of their own."""
    if host.startswith("[") or ":" in host:
        return True  # an IPv6 literal: uri_problem judged it as an address
    try:
        ascii_host = host if host.isascii() else idna.encode(host).decode("ascii")
        labels = ascii_host.split(".")
        if len(ascii_host) > 253 or not all(0 < len(label) <= 63 for label in labels):
            return False
        for label in labels:
            if label.lower().startswith("xn--"):
                idna.decode(label)
    except (UnicodeError, ValueError):  # idna.IDNAError is a UnicodeError
        return False
    return True


def _host(url: str) -> str:
    """The URL's host for a one-line message: printable, at most 80 characters."""
    try:
        host = urlsplit(url).hostname or "?"
    except ValueError:
        return "?"
    return "".join(c if c.isprintable() else "?" for c in host[:80])


class RevocationFetcher:
    """``clock``: judges nextUpdate (tests move it). ``resolver``, ``connector``: the name
    lookup and the TCP connection (tests answer names without DNS and refuse connections).
    ``ssl_context``: the https trust (default: the system's)."""

    def __init__(
        self,
        settings: SignaturesSettings,
        *,
        allow_private: bool,
        clock: Clock | None = None,
        resolver: Resolver | None = None,
        connector: Connector | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._settings = settings
        self._allow_private = allow_private
        self._clock = clock or SystemClock()
        self._cache = SharedCache(
            settings.revocation_cache_size,
            self._clock,
            max_bytes=settings.revocation_cache_bytes,
        )
        self._failures = RecentFailures(settings.revocation_failure_ttl, self._clock)
        # One fetcher per process (the checker's): this bounds the process's fetches.
        self._slots = asyncio.Semaphore(settings.revocation_concurrency)
        self._http = _client(settings, allow_private, resolver, connector, ssl_context)

    async def crl(self, url: str) -> bytes:
        fetch = partial(self._remembered, url, partial(self._fetch_crl, url))
        return await self._cache.get(("crl", url), fetch)

    async def ocsp(self, url: str, certificate: bytes, issuer: bytes) -> bytes:
        try:
            query = build_query(certificate, issuer)
        except ValueError as exc:
            raise RevocationUnavailable(f"OCSP at {_host(url)}: {exc}") from None
        key = ("ocsp", url, query.issuer_key_hash, query.serial)
        fetch = partial(self._remembered, url, partial(self._fetch_ocsp, url, query.body))
        return await self._cache.get(key, fetch)

    def invalidate(self, url: str) -> None:
        """Forget every answer kept from ``url`` (its CRL, its OCSP answers): the checker calls
        this when it rejects one (a bad signature, stale), so the next ask fetches again."""
        self._cache.discard(lambda key: isinstance(key, tuple) and key[1] == url)

    def invalidate_ocsp(self, url: str, certificate: bytes, issuer: bytes) -> None:
        """Forget the one OCSP answer kept for ``certificate`` from ``url``."""
        try:
            query = build_query(certificate, issuer)
        except ValueError:
            return  # nothing can have been kept for it
        key = ("ocsp", url, query.issuer_key_hash, query.serial)
        self._cache.discard(lambda found: found == key)

    async def aclose(self) -> None:
        await self._cache.aclose()
        await self._http.aclose()

    async def _remembered(self, url: str, fetch: Callable[[], Awaitable[Fetched]]) -> Fetched:
        """``fetch``, unless ``url`` failed within ``revocation_failure_ttl``: then that
        failure again at once (the negative cache)."""
        known = self._failures.recent(url)
        if known is not None:
            raise RevocationUnavailable(f"{known} (failed recently, not asked again yet)")
        try:
            return await fetch()
        except _Busy:
            raise
        except RevocationUnavailable as exc:
            self._failures.remember(url, str(exc))
            raise

    async def _fetch_crl(self, url: str) -> Fetched:
        data = await self._download("CRL", url, None)
        if data.lstrip().startswith(b"-----BEGIN"):  # some CAs serve PEM despite RFC 5280
            try:
                _, _, data = pem.unarmor(data.strip())
            except ValueError:
                raise RevocationUnavailable(f"CRL from {_host(url)}: bad PEM") from None
        next_update = crl_next_update(data, _host(url))
        return data, self._until(next_update, self._settings.crl_max_age)

    async def _fetch_ocsp(self, url: str, body: bytes) -> Fetched:
        data = await self._download("OCSP", url, body)
        next_update = ocsp_next_update(data, _host(url))
        return data, self._until(next_update, self._settings.ocsp_max_age)

    def _until(self, next_update: datetime | None, max_age: int) -> datetime:
        """Until when an answer is kept: its nextUpdate (``UNDATED_TTL`` without one), never
        more than ``max_age`` seconds: a CA that says "next year" is still asked again, so a
        revocation it publishes early is seen."""
        now = self._clock.now()
        until = next_update if next_update is not None else now + UNDATED_TTL
        return min(until, now + timedelta(seconds=max_age))

    async def _download(self, what: str, url: str, body: bytes | None) -> bytes:
        host = _host(url)
        timeout = self._settings.revocation_timeout
        loop = asyncio.get_running_loop()
        asked = loop.time()
        waited: float | None = None  # how long it waited for a slot, once it had one
        try:
            # Waiting for a slot counts against the timeout: a verification never waits
            # longer than revocation_timeout for one answer, however busy the process is.
            async with asyncio.timeout(timeout), self._slots:
                waited = loop.time() - asked
                return await self._follow(what, url, body)
        except TimeoutError:
            if waited is None or waited > BUSY_SHARE * timeout:
                # The process was busy: the URL did not have its time, so it is not rested.
                raise _Busy(
                    f"{what} from {host}: no answer within {timeout:g} s, "
                    f"{waited if waited is not None else timeout:.1f} s of it waiting for one "
                    "of revocation_concurrency's slots"
                ) from None
            raise RevocationUnavailable(
                f"{what} from {host}: no answer within {timeout:g} s"
            ) from None
        except BlockedTarget as exc:
            raise RevocationUnavailable(f"{what} from {host}: refused: {exc}") from None
        except RevocationUnavailable:
            raise
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError) as exc:
            raise RevocationUnavailable(f"{what} from {host}: {_first_line(exc)}") from None
        except (UnicodeError, ValueError) as exc:  # a host or URL the layers below refuse
            raise RevocationUnavailable(
                f"{what} from {host}: unusable URL ({type(exc).__name__})"
            ) from None
        except Exception as exc:
            # The checker's contract is RevocationUnavailable for any failure (fail closed);
            # what was not foreseen is logged to be understood, not raised into verification.
            log.warning("revocation fetch failed host=%s error=%s", host, type(exc).__name__)
            raise RevocationUnavailable(
                f"{what} from {host}: unexpected {type(exc).__name__}"
            ) from None

    async def _follow(self, what: str, url: str, body: bytes | None) -> bytes:
        for _ in range(MAX_REDIRECTS + 1):
            problem = url_problem(
                url, allow_private=self._allow_private, ports=self._settings.revocation_ports
            )
            if problem is not None:
                raise RevocationUnavailable(f"{what} from {_host(url)}: the URL {problem}")
            request = (
                self._http.build_request("GET", url)
                if body is None
                else self._http.build_request(
                    "POST", url, content=body, headers={"Content-Type": OCSP_REQUEST}
                )
            )
            response = await self._http.send(request, stream=True)
            try:
                if response.status_code in _REDIRECTS and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code != 200:
                    raise RevocationUnavailable(
                        f"{what} from {_host(url)}: HTTP {response.status_code}"
                    )
                encoding = encoding_problem(response)
                if encoding is not None:
                    raise RevocationUnavailable(f"{what} from {_host(url)}: {encoding}")
                return await self._read(what, url, response)
            finally:
                await response.aclose()
        raise RevocationUnavailable(
            f"{what} from {_host(url)}: more than {MAX_REDIRECTS} redirects"
        )

    async def _read(self, what: str, url: str, response: httpx.Response) -> bytes:
        limit = self._settings.revocation_max_bytes
        too_big = RevocationUnavailable(f"{what} from {_host(url)}: larger than {limit} bytes")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise too_big
        chunks, size = [], 0
        async for chunk in response.aiter_raw():  # never decoded: see encoding_problem
            size += len(chunk)
            if size > limit:
                raise too_big  # stop reading: the rest is never downloaded
            chunks.append(chunk)
        return b"".join(chunks)


def encoding_problem(response: httpx.Response) -> str | None:
    """Why a response's body is refused for its Content-Encoding, or None. Only ``identity``
    is asked for and read: httpx decodes each chunk of a compressed body in one go, so a few
    KB of stacked gzip (``Content-Encoding: gzip, gzip``) become gigabytes in memory before
    any byte limit can count them. CRLs and OCSP answers are DER, compressing them gains
    little."""
    codings = [
        c.strip().lower()
        for c in response.headers.get("content-encoding", "").split(",")
        if c.strip()
    ]
    if all(coding == "identity" for coding in codings):
        return None
    return f"Content-Encoding {', '.join(codings)[:60]} is refused (only identity is read)"


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0][:200] if text.strip() else type(exc).__name__


def crl_next_update(data: bytes, host: str) -> datetime | None:
    """The CRL's nextUpdate; raises ``RevocationUnavailable`` if it is not a CertificateList."""
    try:
        parsed = crl.CertificateList.load(data, strict=True)
        tbs = parsed["tbs_cert_list"]
        tbs["this_update"].native  # noqa: B018 - parsing is lazy: touch what must be there
        parsed["signature"].native  # noqa: B018
        next_update = tbs["next_update"].native
    except (ValueError, TypeError, KeyError):
        raise RevocationUnavailable(f"CRL from {host}: not a DER CertificateList") from None
    return next_update if isinstance(next_update, datetime) else None


def ocsp_next_update(data: bytes, host: str) -> datetime | None:
    """The earliest nextUpdate of the response's answers; raises ``RevocationUnavailable``
    unless it is a successful basic OCSPResponse."""
    try:
        parsed = ocsp.OCSPResponse.load(data, strict=True)
        status = parsed["response_status"].native
    except (ValueError, TypeError, KeyError):
        raise RevocationUnavailable(f"OCSP from {host}: not a DER OCSPResponse") from None
    if status != "successful":
        raise RevocationUnavailable(f"OCSP from {host}: responder says {status}")
    try:
        basic = parsed.basic_ocsp_response
        responses = basic["tbs_response_data"]["responses"]
        updates: list[datetime | None] = [single["next_update"].native for single in responses]
        basic["signature"].native  # noqa: B018 - parsing is lazy
    except (ValueError, TypeError, KeyError, AttributeError):
        raise RevocationUnavailable(f"OCSP from {host}: not a basic OCSP response") from None
    if not updates:
        raise RevocationUnavailable(f"OCSP from {host}: the response holds no answer")
    dated = [update for update in updates if isinstance(update, datetime)]
    return min(dated) if len(dated) == len(updates) else None


def _client(
    settings: SignaturesSettings,
    allow_private: bool,
    resolver: Resolver | None,
    connector: Connector | None,
    ssl_context: ssl.SSLContext | None,
) -> httpx.AsyncClient:
    """Direct connections only (no proxy from the environment), one pinned pool per origin,
    every address judged as for https: public always, private only when allowed."""
    context = ssl_context or default_ssl_context()
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=16, keepalive_expiry=30.0)
    policy = partial(address_problem, secure=True, allow_private=allow_private)

    def pool() -> PinnedTransport:
        backend = PinnedBackend(
            policy,
            resolve_timeout=settings.revocation_timeout,
            resolver=resolver,
            connector=connector or AsyncioConnector(),
        )
        return PinnedTransport(backend, context, limits)

    transport = EgressTransport(
        {"https": pool, "http": pool}, ssl_context=context, limits=limits, proxies={}
    )
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(settings.revocation_timeout),
        follow_redirects=False,  # followed by hand, each hop's URL checked again
        trust_env=False,
        headers={
            "User-Agent": "idp",
            "Accept": f"{OCSP_RESPONSE}, application/pkix-crl, */*",
            "Accept-Encoding": "identity",  # see encoding_problem
        },
    )
