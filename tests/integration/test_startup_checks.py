"""Outside dev mode idp refuses to start, with one line naming the setting to fix, when messages
would go nowhere, when the key-encryption key would sit beside the SQLite database, or when the
issuer is not https. Dev mode starts anyway and says what it let through."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from idp.app import create_app
from idp.context import check_settings
from idp.settings import ConfigurationError, Settings
from idp.startup_checks import device_of, kek_location_problem
from tests.support.live import free_port
from tests.support.logout_kit import IDP, idp_env
from tests.support.production import production, production_env

SMS_MISSING = (
    "IDP_NOTIFY__SMS__URL is not set: SMS codes go to an HTTP gateway outside dev mode "
    "(or name a plug-in in IDP_NOTIFY__SMS_BACKEND)"
)
SMTP_MISSING = (
    "IDP_NOTIFY__SMTP__HOST is not set: e-mail goes to an SMTP server outside dev mode "
    "(or name a plug-in in IDP_NOTIFY__EMAIL_BACKEND)"
)
FIX_KEK = "set IDP_KEY_ENCRYPTION_KEY, or IDP_VAR_DIR to a directory on another volume"


async def _idp(env: dict[str, str], *args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        IDP,
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _env(settings: Settings, **change: str | None) -> dict[str, str]:
    env = idp_env(settings, **production_env())
    for name, value in change.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


async def _refused(env: dict[str, str], *args: str, cwd: Path | None = None) -> str:
    code, out, err = await _idp(env, *(args or ("serve", "--port", str(free_port()))), cwd=cwd)
    assert code == 1, (code, out, err)
    assert out == ""
    assert err.endswith("\n"), err
    assert err.count("\n") == 1, err  # one line, no traceback
    assert err.startswith("idp: ")
    return err[len("idp: ") : -1]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            {"IDP_ISSUER": "http://idp.example"},
            "IDP_ISSUER must be an https:// URL outside dev mode, not 'http://idp.example'",
            id="http-issuer",
        ),
        pytest.param({"IDP_NOTIFY__SMS__URL": None}, SMS_MISSING, id="no-sms-gateway"),
        pytest.param({"IDP_NOTIFY__SMTP__HOST": None}, SMTP_MISSING, id="no-smtp-host"),
        pytest.param(
            {"IDP_REGISTRIES__HTTP__BASE_URL": None},
            "IDP_REGISTRIES__HTTP__BASE_URL is not set: the http verifier needs a registry "
            "gateway outside dev mode (or name a plug-in in IDP_REGISTRIES__PERSON_VERIFIER, "
            "…__DOCUMENT_VERIFIER, …__TAX_VERIFIER)",
            id="no-registry-gateway",
        ),
        pytest.param(
            {"IDP_REGISTRIES__PERSON_VERIFIER": "memory", "IDP_REGISTRIES__TAX_VERIFIER": "memory"},
            "IDP_REGISTRIES__PERSON_VERIFIER=memory answers from a table in memory, matching "
            "everyone, outside dev mode: choose a verifier that asks the registries; "
            "IDP_REGISTRIES__TAX_VERIFIER=memory answers from a table in memory, matching "
            "everyone, outside dev mode: choose a verifier that asks the registries",
            id="memory-verifier",
        ),
        pytest.param(
            {"IDP_REGISTRIES__SERVE_SIMULATOR": "true"},
            "IDP_REGISTRIES__SERVE_SIMULATOR=true serves the registry simulator (an admin API "
            "without authentication, matching any data) outside dev mode: unset it",
            id="registry-simulator",
        ),
        pytest.param(
            {"IDP_REGISTRIES__HTTP__BASE_URL": "http://user:pa55@registries.example/?k=s3cret"},
            "IDP_REGISTRIES__HTTP__BASE_URL must be an https:// URL outside dev mode: personal "
            "data goes to the registry gateway",
            id="plain-http-registry-gateway",
        ),
        pytest.param(
            {"IDP_NOTIFY__SMS_BACKEND": "dev"},
            "IDP_NOTIFY__SMS_BACKEND=dev keeps messages in the database, unsent, outside dev "
            "mode: choose a notifier that delivers them",
            id="sms-to-the-dev-sink",
        ),
        pytest.param(
            {"IDP_NOTIFY__EMAIL_BACKEND": "memory"},
            "IDP_NOTIFY__EMAIL_BACKEND=memory keeps messages in the database, unsent, outside "
            "dev mode: choose a notifier that delivers them",
            id="email-to-the-fake",
        ),
        pytest.param(
            {"IDP_ISSUER": "http://idp.example", "IDP_NOTIFY__SMS__URL": None},
            f"IDP_ISSUER must be an https:// URL outside dev mode, not 'http://idp.example'; "
            f"{SMS_MISSING}",
            id="all-findings-on-one-line",
        ),
    ],
)
async def test_idp_serve_refuses_to_start_and_says_which_setting(
    settings: Settings, change: dict[str, str | None], message: str
) -> None:
    assert await _refused(_env(settings, **change)) == message
    # The worker sends the messages: it stops on the same line.
    assert await _refused(_env(settings, **change), "worker") == message


async def test_the_app_factory_refuses_too(settings: Settings) -> None:
    plain = production(settings, issuer="http://idp.example")
    with pytest.raises(ConfigurationError) as refused:
        create_app(plain, run_jobs=False)
    assert str(refused.value) == (
        "IDP_ISSUER must be an https:// URL outside dev mode, not 'http://idp.example'"
    )
    no_gateway = production(settings)
    no_gateway = no_gateway.model_copy(
        update={
            "notify": no_gateway.notify.model_copy(
                update={"sms": no_gateway.notify.sms.model_copy(update={"url": None})}
            )
        }
    )
    with pytest.raises(ConfigurationError, match=r"^IDP_NOTIFY__SMS__URL is not set"):
        create_app(no_gateway, run_jobs=False)


async def _serving(env: dict[str, str], port: int) -> str:
    """Start `idp serve`, wait until it is ready, stop it; its output."""
    process = await asyncio.create_subprocess_exec(
        *(IDP, "serve", "--port", str(port), "--no-access-log"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(timeout=2) as http:
            while True:
                assert process.returncode is None, "idp serve exited"
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "idp serve never became ready"
                await asyncio.sleep(0.2)
    finally:
        if process.returncode is None:
            process.terminate()
        out, _ = await asyncio.wait_for(process.communicate(), 60)
    return out.decode()


async def test_dev_mode_starts_and_warns_in_one_line(settings: Settings, migrated: str) -> None:
    port = free_port()
    env = _env(
        settings,
        IDP_DEV_MODE="true",
        IDP_ISSUER=f"http://127.0.0.1:{port}",
        IDP_NOTIFY__SMS__URL=None,  # no gateway: auto is the dev sink in dev mode
    )
    output = await _serving(env, port)
    [warning] = [line for line in output.splitlines() if "refuse to start" in line]
    assert warning == (
        "dev mode: outside it idp would refuse to start: IDP_ISSUER must be an https:// URL "
        f"outside dev mode, not 'http://127.0.0.1:{port}'; {SMS_MISSING}"
    )


async def test_production_settings_start_without_a_word(settings: Settings, migrated: str) -> None:
    output = await _serving(_env(settings), free_port())
    assert "refuse" not in output
    assert "dev mode" not in output


# --- the key-encryption key's place (SQLite: the key file beside the data) ----------------


def _sqlite_env(settings: Settings, database: Path, var_dir: Path | None) -> dict[str, str]:
    return _env(
        settings,
        IDP_DATABASE_URL=f"sqlite+aiosqlite:///{database}",
        IDP_VAR_DIR=None if var_dir is None else str(var_dir),
        IDP_KEY_ENCRYPTION_KEY=None,
    )


async def test_the_default_places_refuse_before_a_key_is_made(
    settings: Settings, tmp_path: Path
) -> None:
    """`./var/idp.db` and `./var/kek`, the defaults, in the directory the operator starts in."""
    env = _env(settings, IDP_DATABASE_URL=None, IDP_VAR_DIR=None, IDP_KEY_ENCRYPTION_KEY=None)
    expected = (
        "the key-encryption key var/kek would sit in the directory of the SQLite database "
        f"var/idp.db: {FIX_KEK}"
    )
    assert await _refused(env, cwd=tmp_path) == expected
    # Every command that would generate the key stops too: `idp migrate` first of all.
    assert await _refused(env, "migrate", cwd=tmp_path) == expected
    assert os.listdir(tmp_path) == []


async def test_a_key_directory_inside_the_database_directory_is_refused(
    settings: Settings, tmp_path: Path
) -> None:
    database, keys = tmp_path / "data" / "idp.db", tmp_path / "data" / "keys"
    assert await _refused(_sqlite_env(settings, database, keys)) == (
        f"the key-encryption key {keys / 'kek'} would sit in the directory of the SQLite "
        f"database {database}: {FIX_KEK}"
    )


async def test_a_key_directory_on_the_same_volume_is_refused(
    settings: Settings, tmp_path: Path
) -> None:
    database, keys = tmp_path / "data" / "idp.db", tmp_path / "secrets"
    assert await _refused(_sqlite_env(settings, database, keys), "migrate") == (
        f"the key-encryption key {keys / 'kek'} would sit on the same volume as the SQLite "
        f"database {database}: {FIX_KEK}"
    )
    assert not keys.exists()


@pytest.fixture
def other_volume(tmp_path: Path) -> Iterator[Path]:
    """A directory on another file system than ``tmp_path`` (a tmpfs)."""
    directory = Path("/dev/shm") / f"idp-test-{uuid.uuid4().hex}"  # noqa: S108 - unique name
    assert device_of(directory) != device_of(tmp_path), "no other volume (/dev/shm) here"
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


async def test_a_key_directory_on_another_volume_is_used(
    settings: Settings, tmp_path: Path, other_volume: Path
) -> None:
    database = tmp_path / "idp.db"
    code, out, err = await _idp(_sqlite_env(settings, database, other_volume), "migrate", "--json")
    assert code == 0, err
    assert '"status": "migrated"' in out
    assert (other_volume / "kek").stat().st_mode & 0o777 == 0o600
    assert database.exists()


def test_postgresql_has_no_database_file_to_compare(tmp_path: Path) -> None:
    # There the key is required outside dev mode (test_kek.py); no place is guessed.
    on_postgresql = Settings(
        database_url="postgresql+asyncpg://idp@db.example/idp",
        var_dir=tmp_path,
        key_encryption_key=None,
    )
    assert kek_location_problem(on_postgresql) is None
    with pytest.raises(ConfigurationError, match="IDP_KEY_ENCRYPTION_KEY is required"):
        check_settings(production(on_postgresql))


def test_a_configured_key_needs_no_place(settings: Settings, tmp_path: Path) -> None:
    beside = production(
        settings, database_url=f"sqlite+aiosqlite:///{tmp_path / 'idp.db'}", var_dir=tmp_path
    )
    assert beside.key_encryption_key is not None
    check_settings(beside)
    assert not (tmp_path / "kek").exists()
    assert os.listdir(tmp_path) == []


async def test_an_installation_told_to_move_its_key_keeps_the_key(
    settings: Settings, tmp_path: Path, other_volume: Path
) -> None:
    """An installation from before the check (``var/kek`` beside ``var/idp.db``) is told to
    move the key file itself; moving only ``IDP_VAR_DIR`` must not make a new key, which would
    open none of the sealed data (contacts, SNILS, signing keys)."""
    var = tmp_path / "var"
    database = var / "idp.db"
    before = {**_sqlite_env(settings, database, var), "IDP_DEV_MODE": "true"}
    code, _, err = await _idp(before, "migrate")  # dev mode let the key sit there
    assert code == 0, err
    kek = (var / "kek").read_text()

    assert await _refused(_sqlite_env(settings, database, var), "migrate") == (
        f"the key-encryption key {var / 'kek'} sits in the directory of the SQLite database "
        f"{database}: move {var / 'kek'} to a directory on another volume and set IDP_VAR_DIR "
        "to it, or put its content in IDP_KEY_ENCRYPTION_KEY (a new key would open none of "
        "the data sealed with it)"
    )
    moved_setting_only = _sqlite_env(settings, database, other_volume)
    for command in (("migrate",), ()):
        assert await _refused(moved_setting_only, *command) == (
            f"the key-encryption key {other_volume / 'kek'} does not exist, but the SQLite "
            f"database {database} holds data sealed with one: move the existing key file "
            "there, or put its content in IDP_KEY_ENCRYPTION_KEY (a new key would open none "
            "of that data)"
        )
    assert not (other_volume / "kek").exists()

    os.mkdir(other_volume)
    shutil.move(var / "kek", other_volume / "kek")  # what the message asks
    code, out, err = await _idp(moved_setting_only, "migrate", "--json")
    assert code == 0, err
    assert '"created_keys": []' in out  # the existing signing keys open with the moved key
    assert (other_volume / "kek").read_text() == kek
