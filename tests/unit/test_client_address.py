"""The client's address behind trusted proxies: X-Forwarded-For counted from the right."""

from __future__ import annotations

import ipaddress

import pytest

from idp.http.client_address import resolve

PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8:ffff::/48")]


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        # No header: the peer.
        ("10.0.0.5", [], "10.0.0.5"),
        # One proxy: the address it saw, whatever the client wrote on the left.
        ("10.0.0.5", ["198.51.100.7"], "198.51.100.7"),
        ("10.0.0.5", ["1.2.3.4, 198.51.100.7"], "198.51.100.7"),
        ("10.0.0.5", ["1.2.3.4", "198.51.100.7"], "198.51.100.7"),  # repeated headers
        # A chain of trusted proxies is skipped.
        ("10.0.0.5", ["6.6.6.6, 198.51.100.7, 10.1.1.1, 10.2.2.2"], "198.51.100.7"),
        # Every hop trusted: the leftmost one.
        ("10.0.0.5", ["10.9.9.9, 10.1.1.1"], "10.9.9.9"),
        # Garbage to the left of a trusted hop stops the walk there.
        ("10.0.0.5", ["not-an-ip, 10.1.1.1"], "10.1.1.1"),
        # Ports and brackets are shed; IPv4-mapped IPv6 is IPv4.
        ("10.0.0.5", ["[2001:db8::1]:4711"], "2001:db8::1"),
        ("10.0.0.5", ["198.51.100.7:4711"], "198.51.100.7"),
        ("::ffff:10.0.0.5", ["198.51.100.7"], "198.51.100.7"),
        ("2001:db8:ffff::1", ["2001:db8::2"], "2001:db8::2"),
        # A peer that is not a trusted proxy: its header is the client's own words.
        ("203.0.113.9", ["198.51.100.7"], "203.0.113.9"),
    ],
)
def test_forwarded_for_is_counted_from_the_right(
    peer: str, headers: list[str], expected: str
) -> None:
    assert resolve(peer, headers, PROXIES) == expected


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert resolve("10.0.0.5", ["198.51.100.7"], []) == "10.0.0.5"


def test_no_peer_is_no_address() -> None:
    assert resolve(None, ["198.51.100.7"], PROXIES) is None
