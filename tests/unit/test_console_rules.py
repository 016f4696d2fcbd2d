"""The console's small rules: where a login may return to, the next level, when a change
needs the password again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from idp.assurance.policy import Level
from idp.console.page_kit import login_url, reauth_url, safe_return
from idp.console.service import next_level, reauth_needed
from idp.db.models import Account, BrowserSession
from idp.sessions.service import LiveSession


@pytest.mark.parametrize(
    "value", ["/account", "/account/password", "/account/sign-ins", "/account/contacts"]
)
def test_console_pages_are_kept(value: str) -> None:
    assert safe_return(value) == value


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "https://evil.example/account",
        "//evil.example/account",
        "/account/../logout",
        "/account/password?x=1",
        "/account/a/b",
        "/accounts",
        "/account\n",
        "/ACCOUNT",
        "javascript:alert(1)",
    ],
)
def test_anything_else_returns_to_the_overview(value: str | None) -> None:
    assert safe_return(value) == "/account"


def test_urls_carry_the_return_encoded() -> None:
    assert login_url("/account/sessions") == "/account/login?return=%2Faccount%2Fsessions"
    assert reauth_url("https://evil.example") == "/account/reauth?return=%2Faccount"


def test_next_level() -> None:
    assert next_level("simplified") == Level.STANDARD
    assert next_level("standard") == Level.CONFIRMED
    assert next_level("confirmed") is None


def _live(auth_time: datetime) -> LiveSession:
    record = BrowserSession(id=uuid.uuid4(), auth_time=auth_time)
    return LiveSession(record, Account(id=uuid.uuid4()))


def test_a_login_counts_as_recent_for_the_window_only() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert not reauth_needed(_live(now - timedelta(seconds=300)), now, 300)
    assert reauth_needed(_live(now - timedelta(seconds=301)), now, 300)
