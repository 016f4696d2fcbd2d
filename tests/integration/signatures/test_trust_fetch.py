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
