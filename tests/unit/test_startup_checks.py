"""The start-up checks as pure functions of the settings (the refusals themselves, end to end:
tests/integration/test_startup_checks.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from idp.settings import NotifySettings, Settings
from idp.startup_checks import issuer_problem, kek_location_problem, notifier_problems, sqlite_file


@pytest.mark.parametrize(
    ("issuer", "refused"),
    [
        ("https://idp.example", False),
        ("https://idp.example:8443/tenant", False),
        ("http://idp.example", True),
        ("http://127.0.0.1:8000", True),
        ("idp.example", True),
    ],
)
def test_only_an_https_issuer_passes(issuer: str, refused: bool) -> None:
    assert (issuer_problem(issuer) is not None) is refused


@pytest.mark.parametrize(
    ("url", "file"),
    [
        ("sqlite+aiosqlite:///./var/idp.db", Path("var/idp.db")),
        ("sqlite+aiosqlite:////srv/idp/idp.db", Path("/srv/idp/idp.db")),
        ("sqlite+aiosqlite:///:memory:", None),
        ("sqlite+aiosqlite://", None),
        ("postgresql+asyncpg://idp@db.example/idp", None),
    ],
)
def test_the_sqlite_file_is_read_from_the_url(url: str, file: Path | None) -> None:
    assert sqlite_file(url) == file


def _notify(**chosen: object) -> Settings:
    return Settings(notify=NotifySettings.model_validate(chosen))


def test_every_channel_needs_somewhere_to_send() -> None:
    assert [p.split(" ")[0] for p in notifier_problems(_notify())] == [
        "IDP_NOTIFY__SMS__URL",
        "IDP_NOTIFY__SMTP__HOST",
    ]
    ready = _notify(sms={"url": "https://sms.example"}, smtp={"host": "smtp.example"})
    assert notifier_problems(ready) == []
    # A third party's plug-in checks its own section when it is built.
    assert notifier_problems(_notify(sms_backend="pigeon", email_backend="owl")) == []
    assert [p.split(" ")[0] for p in notifier_problems(_notify(sms_backend="dev"))][-1] == (
        "IDP_NOTIFY__SMS_BACKEND=dev"
    )


def _sqlite(database: Path, var_dir: Path) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{database}", var_dir=var_dir, key_encryption_key=None
    )


def test_the_key_file_must_live_on_another_volume_than_the_database() -> None:
    volumes = {Path("/data"): 1, Path("/secrets"): 2, Path("/data-too"): 1}

    def device(path: Path) -> int:
        return next(v for root, v in volumes.items() if path.is_relative_to(root))

    database = Path("/data/idp/idp.db")
    inside = kek_location_problem(_sqlite(database, Path("/data/idp/keys")), device)
    assert inside is not None
    assert "in the directory of the SQLite database /data/idp/idp.db" in inside
    same = kek_location_problem(_sqlite(database, Path("/data-too")), device)
    assert same is not None
    assert "on the same volume as the SQLite database" in same
    assert kek_location_problem(_sqlite(database, Path("/secrets/idp")), device) is None
    configured = _sqlite(database, Path("/data")).model_copy(update={"key_encryption_key": "k"})
    assert kek_location_problem(configured, device) is None
