"""The ``idp`` console script as operators run it (CONTRACT.md, "The idp command").

Each backend gets its own fresh database (a new SQLite file, a new PostgreSQL database), and
every command runs as a real subprocess configured only through ``IDP_*`` variables.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from jwt.algorithms import ECAlgorithm
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from idp.accounts.errors import InvalidCredentials
from idp.accounts.identifiers import format_snils
from idp.accounts.service import authenticate
from idp.context import Context
from idp.db.base import Base
from idp.db.models import Account, Client, Contact, SigningKey
from idp.db.sealed import attach_vault
from idp.keys.store import generate_private_key
from idp.security.pii import PersonalDataVault
from idp.security.sealing import Keyring
from idp.security.tokens import digest
from idp.settings import Settings
from tests.support.cli_kit import Result
from tests.support.factories import PASSWORD, random_phone, random_snils

IDP = Path(sys.executable).parent / "idp"
KEK = base64.urlsafe_b64encode(b"c" * 32).decode().rstrip("=")
REDIRECT = "https://a.example/cb"


@dataclass
class Cli:
    url: str
    env: dict[str, str]
    cwd: Path
    engine: AsyncEngine
    first_migrate: Result

    async def run(self, *args: str) -> Result:
        process = await asyncio.create_subprocess_exec(
            str(IDP),
            *args,
            env=self.env,
            cwd=self.cwd,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=120)
        assert process.returncode is not None
        return Result(process.returncode, out.decode(), err.decode())

    async def rows(self) -> dict[str, int]:
        """Row counts of every table: "nothing written" means none of these moved."""
        async with self.engine.connect() as connection:
            return {
                table.name: (await connection.execute(select(func.count()).select_from(table)))
                .scalars()
                .one()
                for table in Base.metadata.sorted_tables
            }

    async def one(self, model: Any, **where: Any) -> Any:
        async with self.engine.connect() as connection:
            rows = (await connection.execute(select(model).filter_by(**where))).all()
        assert len(rows) == 1, rows
        return rows[0]

    def settings(self) -> Settings:
        return Settings(database_url=self.url, var_dir=self.cwd / "var", key_encryption_key=KEK)


def _pg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _create_pg_database(url: str, name: str) -> str:
    admin = await asyncpg.connect(_pg_dsn(url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return url.rsplit("/", 1)[0] + "/" + name


async def _drop_pg_database(url: str, name: str) -> None:
    admin = await asyncpg.connect(_pg_dsn(url))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="module")
async def cli(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cli]:
    home = tmp_path_factory.mktemp(f"cli-{backend}")
    pg_name = None
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{home / 'cli.db'}"
    else:
        server = os.environ.get("IDP_TEST_POSTGRES_URL")
        if not server:
            pytest.fail("IDP_TEST_POSTGRES_URL is not set: run the suite with `make test`")
        pg_name = f"idp_cli_{secrets.token_hex(4)}"
        url = await _create_pg_database(server, pg_name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    env.update(
        IDP_DATABASE_URL=url,
        IDP_VAR_DIR=str(home / "var"),
        IDP_KEY_ENCRYPTION_KEY=KEK,
        PYTHONWARNINGS="error",
    )
    engine = create_async_engine(url, poolclass=NullPool)
    attach_vault(engine, PersonalDataVault(Keyring(b"c" * 32)))  # the KEK the commands get
    cli = Cli(url, env, home, engine, Result(-1, "", ""))
    cli.first_migrate = await cli.run("migrate", "--json")
    try:
        yield cli
    finally:
        await engine.dispose()
        if pg_name is not None:
            await _drop_pg_database(os.environ["IDP_TEST_POSTGRES_URL"], pg_name)


async def _create_client(cli: Cli, *options: str) -> Result:
    name = f"Налоговая {secrets.token_hex(3)}"  # a name another client has needs --force
    return await cli.run(
        "clients", "create", "--name", name, "--redirect-uri", REDIRECT, *options, "--json"
    )


def _public_jwks() -> str:
    key = generate_private_key("ES256").public_key()
    jwk = ECAlgorithm.to_jwk(key, as_dict=True)
    return json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig"}]})


# --- migrate -------------------------------------------------------------------------------


async def test_migrate_prints_json_creates_keys_and_is_repeatable(cli: Cli) -> None:
    first = cli.first_migrate.json()
    assert first["status"] == "migrated"
    assert len(first["created_keys"]) == 3  # ES256, RS256, EdDSA
    before = await cli.rows()
    assert before["signing_keys"] >= 3
    again = (await cli.run("migrate", "--json")).json()
    assert again == {"status": "migrated", "created_keys": []}
    assert await cli.rows() == before


async def test_commands_on_an_unmigrated_database_fail_with_one_line(
    cli: Cli, backend: str, tmp_path: Path
) -> None:
    if backend != "sqlite":
        pg_name = f"idp_empty_{secrets.token_hex(4)}"
        url = await _create_pg_database(os.environ["IDP_TEST_POSTGRES_URL"], pg_name)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    empty = Cli(url, {**cli.env, "IDP_DATABASE_URL": url}, tmp_path, cli.engine, cli.first_migrate)
    try:
        line = (await _create_client(empty)).refused(1)  # not migrated: not bad input
        assert "idp migrate" in line
    finally:
        if backend != "sqlite":
            await _drop_pg_database(os.environ["IDP_TEST_POSTGRES_URL"], pg_name)


# --- clients create ------------------------------------------------------------------------


async def test_clients_create_prints_exactly_id_and_secret(cli: Cli) -> None:
    before = await cli.rows()
    out = (await _create_client(cli)).json()
    assert set(out) == {"client_id", "client_secret"}
    assert len(out["client_secret"]) >= 32
    row = await cli.one(Client, client_id=out["client_id"])
    assert row.secret_hash == digest(out["client_secret"])  # only a hash is stored
    assert row.auth_method == "client_secret_basic"
    assert row.redirect_uris == [REDIRECT]
    assert row.grant_types == ["authorization_code", "refresh_token"]
    assert row.require_consent is True
    after = await cli.rows()
    assert after["clients"] == before["clients"] + 1


async def test_a_public_client_gets_no_secret(cli: Cli) -> None:
    out = (await _create_client(cli, "--auth-method", "none")).json()
    assert set(out) == {"client_id"}
    row = await cli.one(Client, client_id=out["client_id"])
    assert row.auth_method == "none"
    assert row.secret_hash is None


async def test_every_contract_option_is_accepted_and_stored(cli: Cli) -> None:
    options = [
        ("--name", "Портал услуг"),
        ("--redirect-uri", REDIRECT),
        ("--redirect-uri", "http://127.0.0.1:8765/cb"),
        ("--post-logout-redirect-uri", "https://a.example/bye"),
        ("--backchannel-logout-uri", "https://a.example/logout/back"),
        ("--frontchannel-logout-uri", "https://a.example/logout/front"),
        ("--auth-method", "client_secret_post"),
        ("--grant-type", "authorization_code"),
        ("--grant-type", "refresh_token"),
        ("--grant-type", "client_credentials"),
        ("--scope", "openid"),
        ("--scope", "profile"),
        ("--scope", "snils"),
        ("--scope", "offline_access"),
        ("--min-level", "confirmed"),
        ("--forbid-confirmation-method", "post"),
        ("--forbid-confirmation-method", "qes"),
    ]
    flat = [part for option in options for part in option]
    out = (await cli.run("clients", "create", *flat, "--no-consent", "--json")).json()
    assert set(out) == {"client_id", "client_secret"}
    row = await cli.one(Client, client_id=out["client_id"])
    assert row.name == "Портал услуг"
    assert row.redirect_uris == [REDIRECT, "http://127.0.0.1:8765/cb"]
    assert row.post_logout_redirect_uris == ["https://a.example/bye"]
    assert row.backchannel_logout_uri == "https://a.example/logout/back"
    assert row.frontchannel_logout_uri == "https://a.example/logout/front"
    assert row.auth_method == "client_secret_post"
    assert row.grant_types == ["authorization_code", "refresh_token", "client_credentials"]
    assert row.scopes == ["openid", "profile", "snils", "offline_access"]
    assert row.min_level == "confirmed"
    assert row.forbidden_confirmation_methods == ["post", "qes"]
    assert row.require_consent is False


async def test_private_key_jwt_takes_a_jwks_inline_or_from_a_file(cli: Cli, tmp_path: Path) -> None:
    jwks = _public_jwks()
    inline = (await _create_client(cli, "--auth-method", "private_key_jwt", "--jwks", jwks)).json()
    assert set(inline) == {"client_id"}
    row = await cli.one(Client, client_id=inline["client_id"])
    assert row.jwks == json.loads(jwks)
    assert row.secret_hash is None
    path = tmp_path / "jwks.json"
    path.write_text(jwks)
    from_file = await _create_client(cli, "--auth-method", "private_key_jwt", "--jwks", f"@{path}")
    assert set(from_file.json()) == {"client_id"}


BAD_CLIENTS = {
    "http_redirect_to_a_remote_host": ["--redirect-uri", "http://b.example/cb"],
    "redirect_with_fragment": ["--redirect-uri", "https://b.example/cb#frag"],
    "redirect_with_userinfo": ["--redirect-uri", "https://user@b.example/cb"],
    "relative_redirect": ["--redirect-uri", "/cb"],
    "unknown_scope": ["--scope", "openid", "--scope", "admin"],
    "bad_level": ["--min-level", "gold"],
    "bad_confirmation_method": ["--forbid-confirmation-method", "telepathy"],
    "bad_grant_type": ["--grant-type", "password"],
    "bad_auth_method": ["--auth-method", "client_secret_jwt"],
    "frontchannel_on_another_origin": [
        "--frontchannel-logout-uri", "https://b.example/logout",
    ],
    "frontchannel_on_another_port": [
        "--frontchannel-logout-uri", "https://a.example:8443/logout",
    ],
    "post_logout_over_http": ["--post-logout-redirect-uri", "http://a.example/bye"],
    "backchannel_with_fragment": ["--backchannel-logout-uri", "https://a.example/l#x"],
    "backchannel_over_http_to_a_public_host": [
        "--backchannel-logout-uri", "http://a.example/logout/back",
    ],
    "backchannel_to_loopback": ["--backchannel-logout-uri", "https://127.0.0.1:8443/back"],
    "backchannel_to_cloud_metadata": [
        "--backchannel-logout-uri", "https://169.254.169.254/latest/meta-data/",
    ],
    "private_key_jwt_without_jwks": ["--auth-method", "private_key_jwt"],
    "jwks_not_json": ["--auth-method", "private_key_jwt", "--jwks", "{nope"],
    "jwks_with_a_private_key": [
        "--auth-method", "private_key_jwt", "--jwks", '{"keys": [{"kty": "EC", "d": "x"}]}',
    ],
    "jwks_file_missing": ["--auth-method", "private_key_jwt", "--jwks", "@/nonexistent/jwks"],
    "public_client_credentials": [
        "--auth-method", "none", "--grant-type", "client_credentials",
    ],
    "empty_name": ["--name", " "],
}  # fmt: skip


@pytest.mark.parametrize("options", BAD_CLIENTS.values(), ids=BAD_CLIENTS.keys())
async def test_bad_client_input_is_refused_with_one_line_and_nothing_written(
    cli: Cli, options: list[str]
) -> None:
    before = await cli.rows()
    (await _create_client(cli, *options)).refused()
    assert await cli.rows() == before


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("http://a.example/logout/back", "must use https"),
        ("https://10.1.2.3/back", "10.1.2.3 is a loopback, private or reserved address"),
        ("https://localhost/back", "localhost is a loopback name"),
    ],
)
async def test_a_backchannel_uri_that_would_never_be_delivered_to_is_refused_with_the_reason(
    cli: Cli, uri: str, reason: str
) -> None:
    before = await cli.rows()
    line = (await _create_client(cli, "--backchannel-logout-uri", uri)).refused()
    assert "back-channel logout URI" in line
    assert reason in line
    assert await cli.rows() == before


async def test_a_client_without_redirect_uri_is_refused(cli: Cli) -> None:
    before = await cli.rows()
    (await cli.run("clients", "create", "--name", "X", "--json")).refused()
    assert await cli.rows() == before


# --- accounts create -----------------------------------------------------------------------


def _account_args(
    *,
    level: str = "simplified",
    method: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    snils: str | None = None,
    password: str = PASSWORD,
) -> list[str]:
    args = ["accounts", "create", "--first-name", "Иван", "--last-name", "Петров"]
    for flag, value in (("--phone", phone), ("--email", email), ("--snils", snils)):
        if value is not None:
            args += [flag, value]
    args += ["--password", password, "--level", level]
    if method is not None:
        args += ["--confirmation-method", method]
    return [*args, "--json"]


def _email() -> str:
    return f"cli-{secrets.token_hex(6)}@example.ru"


LEVELS = {
    "simplified_by_phone": {"level": "simplified", "phone": True},
    "standard_by_email": {"level": "standard", "email": True},
    "confirmed_by_snils_service_center": {
        "level": "confirmed", "method": "service_center", "snils": True,
    },
    "confirmed_with_everything_by_post": {
        "level": "confirmed", "method": "post", "phone": True, "email": True, "snils": True,
    },
    "confirmed_by_qes": {"level": "confirmed", "method": "qes", "phone": True},
}  # fmt: skip


@pytest.mark.parametrize("case", LEVELS.values(), ids=LEVELS.keys())
async def test_accounts_create_at_each_level(cli: Cli, case: dict[str, Any]) -> None:
    phone = random_phone() if case.get("phone") else None
    email = _email() if case.get("email") else None
    snils = random_snils() if case.get("snils") else None
    before = await cli.rows()
    out = (
        await cli.run(
            *_account_args(
                level=case["level"], method=case.get("method"), phone=phone, email=email,
                snils=snils,
            )
        )
    ).json()  # fmt: skip
    assert set(out) == {"id", "sub"}
    account_id = uuid.UUID(out["id"])
    account = await cli.one(Account, id=account_id)
    assert account.sub == out["sub"]
    assert account.level == case["level"]
    assert account.confirmation_method == case.get("method")
    assert account.status == "active"
    assert (account.snils_bidx is not None) == (snils is not None)
    if snils is not None:
        assert snils.encode() not in account.snils_enc  # stored sealed, never in clear
    contacts = await cli.rows()
    given = [c for c in (phone, email) if c]
    assert contacts["contacts"] == before["contacts"] + len(given)
    for value in given:
        contact = await cli.one(Contact, account_id=account_id, value_lookup=value)
        assert contact.confirmed_at is not None  # the operator path confirms contacts


BAD_ACCOUNTS = {
    "confirmed_without_method": {"level": "confirmed", "phone": True},
    "method_below_confirmed": {"level": "standard", "method": "post", "phone": True},
    "unknown_level": {"level": "gold", "phone": True},
    "unknown_method": {"level": "confirmed", "method": "telepathy", "phone": True},
    "weak_password": {"level": "simplified", "phone": True, "password": "password"},
    "short_password": {"level": "simplified", "phone": True, "password": "Aa1"},
    "password_with_the_name": {"level": "simplified", "phone": True, "password": "Petrov-Петров1"},
    "snils_with_a_wrong_check_number": {"level": "simplified", "snils": "112-233-445 96"},
    "snils_too_short": {"level": "simplified", "snils": "112-233-445"},
    "bad_phone": {"level": "simplified", "phone": "12345"},
    "bad_email": {"level": "simplified", "email": "not-an-address"},
    "no_identifier": {"level": "simplified"},
}


@pytest.mark.parametrize("case", BAD_ACCOUNTS.values(), ids=BAD_ACCOUNTS.keys())
async def test_bad_account_input_is_refused_with_one_line_and_nothing_written(
    cli: Cli, case: dict[str, Any]
) -> None:
    phone = random_phone() if case.get("phone") is True else case.get("phone")
    before = await cli.rows()
    result = await cli.run(
        *_account_args(
            level=case["level"],
            method=case.get("method"),
            phone=phone,
            email=case.get("email"),
            snils=case.get("snils"),
            password=case.get("password", PASSWORD),
        )
    )
    result.refused()
    assert await cli.rows() == before


async def test_a_taken_phone_email_or_snils_is_refused(cli: Cli) -> None:
    phone, email, snils = random_phone(), _email(), random_snils()
    (await cli.run(*_account_args(phone=phone, email=email, snils=snils))).json()
    before = await cli.rows()
    national = "8 (" + phone[2:5] + ") " + phone[5:8] + "-" + phone[8:10] + "-" + phone[10:]
    for taken in (
        {"phone": phone},
        {"phone": national},  # the same number, written as Russians write it
        {"email": email},
        {"email": email.upper()},
        {"snils": snils},
        {"snils": format_snils(snils)},
    ):
        line = (await cli.run(*_account_args(**taken))).refused()
        assert "already" in line, line
    assert await cli.rows() == before


async def test_the_created_person_logs_in_by_phone_email_and_snils(cli: Cli) -> None:
    phone, email, snils = random_phone(), _email(), random_snils()
    out = (
        await cli.run(
            *_account_args(level="confirmed", method="qes", phone=phone, email=email, snils=snils)
        )
    ).json()
    ctx = Context.build(cli.settings())
    try:
        national = "8" + phone[2:]
        for login in (phone, national, email, email.upper(), snils, format_snils(snils)):
            account = await authenticate(ctx, login, PASSWORD, "192.0.2.1")
            assert str(account.id) == out["id"], login
            assert account.sub == out["sub"]
        with pytest.raises(InvalidCredentials):
            await authenticate(ctx, phone, PASSWORD + "x", "192.0.2.1")
    finally:
        await ctx.close()


# --- keys rotate ---------------------------------------------------------------------------


async def test_keys_rotate_adds_keys_that_sign_later(cli: Cli) -> None:
    before = await cli.rows()
    started = datetime.now(UTC)
    out = (await cli.run("keys", "rotate", "--json")).json()
    assert set(out) == {"new_keys", "activate_in"}
    assert out["activate_in"] == 120  # IDP_KEY_ACTIVATION_DELAY: past the JWKS max-age + cache
    assert len(out["new_keys"]) == 3
    after = await cli.rows()
    assert after["signing_keys"] == before["signing_keys"] + 3
    for kid in out["new_keys"]:
        row = await cli.one(SigningKey, kid=kid)
        assert row.deactivated_at is None
        assert started + timedelta(seconds=115) < row.activates_at
        assert row.activates_at < datetime.now(UTC) + timedelta(seconds=125)
        assert b"PRIVATE KEY" not in row.private_enc
    async with cli.engine.connect() as connection:
        keys = (await connection.execute(select(SigningKey))).all()
    retiring = [k for k in keys if k.kid not in out["new_keys"] and k.deactivated_at is not None]
    assert {k.alg for k in retiring} == {"ES256", "RS256", "EdDSA"}
    new_start = {k.activates_at for k in keys if k.kid in out["new_keys"]}
    assert len(new_start) == 1
    # The old keys sign until the new ones start, then stay published for the token lifetime.
    assert any(k.deactivated_at == next(iter(new_start)) for k in retiring)
    assert all(
        k.published_until is not None and k.published_until > k.deactivated_at for k in retiring
    )


async def test_keys_rotate_refuses_a_negative_delay(cli: Cli) -> None:
    before = await cli.rows()
    (await cli.run("keys", "rotate", "--activate-in", "-5", "--json")).refused()
    assert await cli.rows() == before
