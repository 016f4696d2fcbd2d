"""Downloading a trust list (``trust.fetch``) from a real server on loopback: what is refused
before a byte of the body is read, and how far redirects may go."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from idp.signatures.trust.fetch import fetch_list
from idp.signatures.trust.xmlsafe import UnreadableSource
from tests.integration.signatures.test_revocation import gzip_bomb, max_rss_bytes
from tests.support.live import LiveServer, free_port
from tests.support.tls_ca import LocalCA

Handler = Callable[[Request], Awaitable[Response]]


@dataclass
class Lists:
    handlers: dict[str, Handler] = field(default_factory=dict)
    seen: list[Request] = field(default_factory=list)

    async def __call__(self, request: Request) -> Response:
        self.seen.append(request)
        handler = self.handlers.get(request.url.path)
        return Response(status_code=404) if handler is None else await handler(request)


@pytest.fixture(scope="module")
def live_lists() -> Iterator[tuple[Lists, LiveServer]]:
    state = Lists()

    async def endpoint(request: Request) -> Response:
        return await state(request)

    live = LiveServer(Starlette(routes=[Route("/{path:path}", endpoint)]), free_port()).start()
    yield state, live
    live.stop()


@pytest.fixture(scope="module")
def tls_lists(
    live_lists: tuple[Lists, LiveServer], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LocalCA, str]]:
    """The same handlers over https (a throwaway CA the client is told to trust)."""
    state, _ = live_lists
    ca = LocalCA.create(tmp_path_factory.mktemp("tls"))
    chain, key = ca.issue("127.0.0.1")

    async def endpoint(request: Request) -> Response:
        return await state(request)

    app = Starlette(routes=[Route("/{path:path}", endpoint)])
    live = LiveServer(app, free_port(), ssl_certfile=str(chain), ssl_keyfile=str(key)).start()
    yield ca, live.url
    live.stop()


@pytest.fixture
def lists(live_lists: tuple[Lists, LiveServer]) -> tuple[Lists, str]:
    state, live = live_lists
    state.handlers.clear()
    state.seen.clear()
    return state, live.url


async def test_a_compressed_list_is_refused_before_its_body_is_read(
    lists: tuple[Lists, str],
) -> None:
    state, url = lists
    bomb = gzip_bomb(256 << 20)

    async def stacked(request: Request) -> Response:
        return Response(bomb, headers={"Content-Encoding": "gzip, gzip"})

    state.handlers["/tsl.xml"] = stacked
    before = max_rss_bytes()
    with pytest.raises(UnreadableSource, match=r"^127\.0\.0\.1: Content-Encoding gzip, gzip"):
        await fetch_list(f"{url}/tsl.xml")
    assert max_rss_bytes() - before < 100 << 20
    assert [r.headers.get("accept-encoding") for r in state.seen] == ["identity"]


@pytest.mark.parametrize(
    "url",
    [
        "https://ßß--.example/x",
        "https://" + "a" * 64 + ".example/tsl.xml",
        "https://xn--a.example/tsl.xml",
        "https://[::1/tsl.xml",
        "https:///tsl.xml",
    ],
)
async def test_a_url_the_layers_below_refuse_is_unreadable_in_one_line(url: str) -> None:
    with pytest.raises(UnreadableSource) as caught:
        await fetch_list(url)
    assert "\n" not in str(caught.value)


def redirect(to: str) -> Handler:
    async def handler(request: Request) -> Response:
        return Response(status_code=302, headers={"Location": to})

    return handler


def body(data: bytes) -> Handler:
    async def handler(request: Request) -> Response:
        return Response(data)

    return handler


async def test_redirects_are_followed_three_hops_at_most(lists: tuple[Lists, str]) -> None:
    state, url = lists
    state.handlers["/tsl.xml"] = body(b"<list/>")
    for hop, to in [("/a", "/b"), ("/b", "/c"), ("/c", "/tsl.xml"), ("/d", "/a")]:
        state.handlers[hop] = redirect(to)
    assert await fetch_list(f"{url}/a") == b"<list/>"
    state.seen.clear()
    with pytest.raises(UnreadableSource, match=r"^127\.0\.0\.1: more than 3 redirects$"):
        await fetch_list(f"{url}/d")
    assert [r.url.path for r in state.seen] == ["/d", "/a", "/b", "/c"]


async def test_a_redirect_never_leaves_https_or_this_machine_for_plain_http(
    lists: tuple[Lists, str], tls_lists: tuple[LocalCA, str]
) -> None:
    state, url = lists
    ca, secure = tls_lists
    state.handlers["/tsl.xml"] = body(b"<list/>")
    state.handlers["/away"] = redirect("http://lists.example.com/tsl.xml")
    state.handlers["/down"] = redirect(f"{url}/tsl.xml")
    state.handlers["/up"] = redirect(f"{secure}/tsl.xml")
    trusted = ca.client_context()
    assert await fetch_list(f"{secure}/tsl.xml", ssl_context=trusted) == b"<list/>"
    assert await fetch_list(f"{url}/up", ssl_context=trusted) == b"<list/>"
    with pytest.raises(UnreadableSource, match=r"^lists\.example\.com: .* over https only$"):
        await fetch_list(f"{url}/away")
    state.seen.clear()
    with pytest.raises(UnreadableSource, match="a redirect from https to plain http is refused"):
        await fetch_list(f"{secure}/down", ssl_context=trusted)
    assert [r.url.path for r in state.seen] == ["/down"]


async def test_no_proxy_is_taken_from_the_environment(
    lists: tuple[Lists, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state, url = lists
    state.handlers["/tsl.xml"] = body(b"<list/>")
    dead = f"http://127.0.0.1:{free_port()}"
    for name in ("ALL_PROXY", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.setenv(name, dead)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert await fetch_list(f"{url}/tsl.xml") == b"<list/>"
