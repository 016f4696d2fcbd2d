"""Device cookies: recognised only for the accounts that logged in from this browser."""

from __future__ import annotations

import uuid

from idp.security.devices import MAX_ACCOUNTS, DeviceCookies
from idp.security.sealing import Keyring


def devices(kek: bytes = b"k" * 32) -> DeviceCookies:
    return DeviceCookies(Keyring(kek))


def test_a_cookie_is_known_only_for_the_accounts_it_was_given_for() -> None:
    cookies = devices()
    mine, other = uuid.uuid4(), uuid.uuid4()
    cookie = cookies.remember(None, mine)
    assert cookies.knows(cookie, mine)
    assert not cookies.knows(cookie, other)
    assert not cookies.knows(None, mine)
    assert not cookies.knows("garbage", mine)


def test_the_tag_cannot_be_made_without_the_key() -> None:
    account = uuid.uuid4()
    cookie = devices().remember(None, account)
    assert not devices(b"x" * 32).knows(cookie, account)


def test_a_browser_keeps_its_nonce_and_its_last_accounts() -> None:
    cookies = devices()
    accounts = [uuid.uuid4() for _ in range(MAX_ACCOUNTS + 1)]
    first = cookies.remember(None, accounts[0])
    cookie = first
    for account in accounts[1:]:
        cookie = cookies.remember(cookie, account)
    assert cookie.split(".")[0] == first.split(".")[0]  # one nonce per browser
    assert not cookies.knows(cookie, accounts[0])  # the oldest was let go
    assert all(cookies.knows(cookie, a) for a in accounts[1:])
    again = cookies.remember(cookie, accounts[-1])
    assert again.count(".") == cookie.count(".")  # no duplicate tag


def test_the_counter_is_per_device_and_account() -> None:
    cookies = devices()
    account = uuid.uuid4()
    one, two = cookies.remember(None, account), cookies.remember(None, account)
    assert cookies.counter_id(one, account) != cookies.counter_id(two, account)
    assert cookies.counter_id(one, account) != cookies.counter_id(one, uuid.uuid4())
    assert one.split(".")[0] not in cookies.counter_id(one, account)
