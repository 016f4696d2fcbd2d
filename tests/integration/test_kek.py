"""The key-encryption key (KEK): required where instances share PostgreSQL, generated atomically
where one process owns the data, never empty or short."""

from __future__ import annotations

import base64
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from idp.context import check_settings
from idp.security.sealing import load_or_create_kek
from idp.settings import ConfigurationError, Settings
from tests.support.live import free_port
from tests.support.logout_kit import idp_env, run_idp
from tests.support.production import production, production_env


def _without_kek(settings: Settings, **extra: str) -> dict[str, str]:
    env = idp_env(settings, **production_env(), **extra)
    del env["IDP_KEY_ENCRYPTION_KEY"]
    return env


async def test_postgresql_without_a_kek_refuses_to_start(
    backend: str, settings: Settings, database_url: str, tmp_path: Path
) -> None:
    alone = production(
        settings, database_url=database_url, var_dir=tmp_path / "var", key_encryption_key=None
    )
    if backend == "sqlite":
        # One process owns a SQLite file: the embedded default generates var/kek (outside dev
        # mode only on another volume than the database: test_startup_checks.py).
        check_settings(alone.model_copy(update={"dev_mode": True}))
        assert (tmp_path / "var" / "kek").exists()
        return
    with pytest.raises(ConfigurationError, match="IDP_KEY_ENCRYPTION_KEY is required"):
        check_settings(alone)
    assert not (tmp_path / "var").exists()
    # `idp serve` stops before it listens, with one line and no traceback.
    env = _without_kek(settings, IDP_VAR_DIR=str(tmp_path / "var"))
    code, _, err = await run_idp(env, "serve", "--port", str(free_port()))
    assert code != 0
    assert err.strip().count("\n") == 0, err
    assert "IDP_KEY_ENCRYPTION_KEY is required on PostgreSQL" in err, err
    assert not (tmp_path / "var" / "kek").exists()


def test_dev_mode_may_generate_the_kek(database_url: str, tmp_path: Path) -> None:
    check_settings(
        Settings(
            database_url=database_url, var_dir=tmp_path, dev_mode=True, key_encryption_key=None
        )
    )
    key = load_or_create_kek(None, tmp_path, may_generate=True)
    assert len(key) == 32
    assert (tmp_path / "kek").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["kek"]  # no temporary file left behind


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param(base64.urlsafe_b64encode(b"k" * 16).decode(), id="16-bytes"),
        pytest.param(base64.urlsafe_b64encode(b"k" * 31).decode(), id="31-bytes"),
        pytest.param("not base64 at all!", id="garbage"),
    ],
)
def test_an_empty_or_short_kek_is_refused(value: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="IDP_KEY_ENCRYPTION_KEY must be 32"):
        load_or_create_kek(value, tmp_path, may_generate=True)
    # ... and so is such a file (an old half-written var/kek), instead of deriving from nothing.
    (tmp_path / "kek").write_text(value)
    with pytest.raises(ConfigurationError, match="must be 32"):
        load_or_create_kek(None, tmp_path, may_generate=True)


def _race(directory: str) -> bytes:
    return load_or_create_kek(None, Path(directory), may_generate=True)


def test_processes_starting_at_once_share_one_complete_kek(tmp_path: Path) -> None:
    with ProcessPoolExecutor(max_workers=6) as pool:
        for round_ in range(15):
            directory = tmp_path / str(round_)
            keys = list(pool.map(_race, [str(directory)] * 12))
            assert all(len(k) == 32 for k in keys)
            assert len(set(keys)) == 1
            assert os.listdir(directory) == ["kek"]
