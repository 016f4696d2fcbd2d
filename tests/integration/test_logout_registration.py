"""A client whose back-channel logout URI the delivery policy would refuse is refused when it
is registered, with the reason, and nothing is written (the CLI cases are in test_cli.py)."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import func, select

from idp.clients.service import NewClient, create_client
from idp.context import Context
from idp.db.models import Client
from idp.errors import BadInput


def with_blocking(ctx: Context, block: bool) -> Context:
    logout = ctx.settings.logout.model_copy(update={"block_private_addresses": block})
    return dataclasses.replace(ctx, settings=ctx.settings.model_copy(update={"logout": logout}))


def new_client(uri: str) -> NewClient:
    return NewClient(
        name="Back-channel RP", redirect_uris=["https://rp.example/cb"], backchannel_logout_uri=uri
    )


async def count(ctx: Context) -> int:
    async with ctx.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(Client)) or 0)


REFUSED_WHILE_BLOCKING = {
    "http://rp.example/bc": "must use https",
    "http://8.8.8.8/bc": "plain http to the public address",
    "http://127.0.0.1:9000/bc": "127.0.0.1 is a loopback, private or reserved address",
    "https://127.0.0.1/bc": "127.0.0.1 is a loopback, private or reserved address",
    "https://[::1]/bc": "::1 is a loopback, private or reserved address",
    "https://[::ffff:127.0.0.1]/bc": "127.0.0.1 is a loopback, private or reserved address",
    "https://10.0.0.7/bc": "10.0.0.7 is a loopback, private or reserved address",
    "https://169.254.169.254/latest": "169.254.169.254 is a loopback, private or reserved",
    "https://0.0.0.0/bc": "is not a unicast address",
    "https://localhost/bc": "localhost is a loopback name",
    "https://rp.localhost/bc": "rp.localhost is a loopback name",
    "ftp://rp.example/bc": "must be an https URL",
    "https://exa mple.com/bc": "invalid host name",
    "https:///bc": "must name a host",
    # IPv6 forms that carry a loopback or private IPv4 address
    "https://[64:ff9b::7f00:1]/bc": "127.0.0.1 is a loopback, private or reserved address",
    "https://[::7f00:1]/bc": "127.0.0.1 is a loopback, private or reserved address",
    "https://[2002:a9fe:a9fe::1]/bc": "169.254.169.254 is a loopback, private or reserved",
    "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/bc": "127.0.0.1 is a loopback, private",
    "https://[64:ff9b:1::a00:7]/bc": "is a loopback, private or reserved address",
    **{
        f"https://{number}/bc": f"non-canonical IPv4 address {number!r}"
        for number in ("127.1", "0x7f000001", "2130706433", "0177.0.0.1", "0x7f.1")
    },
}
REFUSED_WHILE_ALLOWING = {
    **{
        f"https://{number}/bc": f"non-canonical IPv4 address {number!r}"
        for number in ("127.1", "0x7f000001", "2130706433", "0177.0.0.1", "10.1")
    },
    "http://rp.example/bc": "must use https",
    "http://8.8.8.8/bc": "plain http to the public address 8.8.8.8",
    "https://0.0.0.0/bc": "is not a unicast address",
}


@pytest.mark.parametrize(("uri", "reason"), REFUSED_WHILE_BLOCKING.items())
async def test_refused_while_private_addresses_are_blocked(
    ctx: Context, uri: str, reason: str
) -> None:
    before = await count(ctx)
    with pytest.raises(BadInput) as refused:
        await create_client(with_blocking(ctx, True), new_client(uri))
    assert str(refused.value).startswith(f"back-channel logout URI {uri!r}")
    assert reason in str(refused.value)
    assert await count(ctx) == before


@pytest.mark.parametrize(("uri", "reason"), REFUSED_WHILE_ALLOWING.items())
async def test_refused_even_where_private_addresses_are_allowed(
    ctx: Context, uri: str, reason: str
) -> None:
    before = await count(ctx)
    with pytest.raises(BadInput) as refused:
        await create_client(with_blocking(ctx, False), new_client(uri))
    assert reason in str(refused.value)
    assert await count(ctx) == before


@pytest.mark.parametrize(
    ("uri", "block"),
    [
        ("https://rp.example/bc", True),
        ("https://пример.рф/выход", True),
        ("https://93.184.215.14/bc", True),
        ("http://127.0.0.1:9000/bc", False),
        ("http://10.0.0.7/bc", False),
        ("http://localhost:8080/bc", False),
        ("https://169.254.169.254/bc", False),
        ("https://[64:ff9b::5db8:d70e]/bc", True),  # NAT64 of a public address
        ("https://[2002:5db8:d70e::1]/bc", True),  # 6to4 of a public address
        ("https://rp1.example/bc", True),
    ],
)
async def test_accepted(ctx: Context, uri: str, block: bool) -> None:
    created = await create_client(with_blocking(ctx, block), new_client(uri))
    assert created.client_id
