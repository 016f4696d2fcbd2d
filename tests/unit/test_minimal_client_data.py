"""What is kept of a client: its network and its browser family, never more."""

from __future__ import annotations

import pytest

from idp.security.network import truncated_address
from idp.sessions.device_label import device_label


@pytest.mark.parametrize(
    ("client", "kept"),
    [
        ("203.0.113.77", "203.0.113.0"),
        ("203.0.113.77:51234", "203.0.113.0"),
        ("2001:db8:abcd:12:34::9", "2001:db8:abcd::"),
        ("[2001:db8:abcd:12::9]:443", "2001:db8:abcd::"),
        ("::ffff:198.51.100.9", "198.51.100.0"),
        ("not-an-address", None),
        ("", None),
        (None, None),
    ],
)
def test_an_address_is_kept_as_its_network(client: str | None, kept: str | None) -> None:
    assert truncated_address(client) == kept


@pytest.mark.parametrize(
    ("user_agent", "label"),
    [
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.5 Safari/605.1.15",
            "Safari on macOS",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/124.0.0.0 YaBrowser/24.6.0.0 Safari/537.36",
            "Yandex Browser on Linux",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; SM-X710) Chrome/126.0 Safari/537.36",
            "Chrome on Android",
        ),
        ("curl/8.5.0", "curl"),
        ("python-httpx/0.27.0", "python-httpx"),
        ("\x00\x01garbage", None),
        (None, None),
    ],
)
def test_a_browser_is_kept_as_family_and_system(user_agent: str | None, label: str | None) -> None:
    assert device_label(user_agent) == label
