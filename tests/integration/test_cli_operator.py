"""The operator commands (issue 9): ``idp clients list|show|update|delete|rotate-secret``,
``clients create`` refusing a taken name, ``idp accounts find|show|disable|enable|delete``,
``idp sessions list --account IDENTIFIER`` and ``idp notifications list``.

Each backend gets a fresh database and no server, so "nothing written" is checked as "not
one row of any table changed". Commands run ``idp.cli.main`` in this process, configured only
through ``IDP_*`` variables (a subprocess costs seconds; ``test_cli.py`` and the last test here
run the installed script itself)."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import secrets
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from idp.accounts.errors import InvalidCredentials
from idp.accounts.identifiers import format_snils
from idp.accounts.service import authenticate
from idp.clients.service import DuplicateName, NewClient, create_client
from idp.context import Context
from idp.db.models import Account, AuditEvent, Client, QueuedJob
from idp.db.sealed import attach_vault
from idp.notify.outbox import enqueue as enqueue_message
from idp.security.pii import PersonalDataVault
from idp.security.sealing import Keyring
from idp.security.tokens import digest
from idp.sessions.service import start_session
from idp.settings import Settings
from tests.support.cli_kit import Result, run_in_process, run_script, snapshot
from tests.support.factories import PASSWORD, random_phone, random_snils

IDP = str(Path(sys.executable).parent / "idp")
KEK = base64.urlsafe_b64encode(b"o" * 32).decode().rstrip("=")
REDIRECT = "https://a.example/cb"
GRACE = 7 * 86400


@dataclass
class Operator:
    url: str
    env: dict[str, str]
    engine: AsyncEngine
    ctx: Context

    async def run(self, *args: str) -> Result:
        return await run_in_process(self.env, *args)

    async def rows(self) -> dict[str, list[tuple[Any, ...]]]:
        return await snapshot(self.engine)

    async def refused(self, *args: str, code: int = 2) -> str:
        """The command is refused in one line and not one row changes."""
        before = await self.rows()
        line = (await self.run(*args)).refused(code)
        assert await self.rows() == before
        return line

    async def client(self, client_id: str) -> Any:
        async with self.engine.connect() as connection:
            return (await connection.execute(select(Client).filter_by(client_id=client_id))).one()

    async def account(self, account_id: str) -> Any:
        async with self.engine.connect() as connection:
            found = await connection.execute(select(Account).filter_by(id=uuid.UUID(account_id)))
            return found.one()


def _pg(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@pytest.fixture(scope="module")
async def op(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Operator]:
    home = tmp_path_factory.mktemp(f"operator-{backend}")
    server = os.environ.get("IDP_TEST_POSTGRES_URL", "")
    pg_name = f"idp_op_{secrets.token_hex(4)}"
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{home / 'op.db'}"
    else:
        if not server:
            pytest.fail("IDP_TEST_POSTGRES_URL is not set: run the suite with `make test`")
        admin = await asyncpg.connect(_pg(server))
        try:
            await admin.execute(f'CREATE DATABASE "{pg_name}"')
        finally:
            await admin.close()
        url = server.rsplit("/", 1)[0] + "/" + pg_name
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    env.update(
        IDP_DATABASE_URL=url,
        IDP_VAR_DIR=str(home / "var"),
        IDP_KEY_ENCRYPTION_KEY=KEK,
        IDP_ACCOUNT_DELETION_GRACE=str(GRACE),
    )
    assert (await run_in_process(env, "migrate", "--json")).json()["status"] == "migrated"
    engine = create_async_engine(url, poolclass=NullPool)
    attach_vault(engine, PersonalDataVault(Keyring(b"o" * 32)))
    ctx = Context.build(Settings(database_url=url, var_dir=home / "var", key_encryption_key=KEK))
    try:
        yield Operator(url, env, engine, ctx)
    finally:
        await ctx.close()
        await engine.dispose()
        if backend != "sqlite":
            admin = await asyncpg.connect(_pg(server))
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
            finally:
                await admin.close()


async def _client(op: Operator, *options: str, name: str | None = None) -> dict[str, Any]:
    name = name or f"Налоговая {secrets.token_hex(3)}"
    args = ["clients", "create", "--name", name, "--redirect-uri", REDIRECT, *options]
    out = (await op.run(*args, "--json")).json()
    return {**out, "name": name}


@dataclass
class Someone:
    id: str
    sub: str
    phone: str
    email: str
    snils: str


async def _person(op: Operator) -> Someone:
    phone, snils = random_phone(), random_snils()
    email = f"op-{secrets.token_hex(5)}@example.ru"
    out = await op.run(
        "accounts", "create", "--first-name", "Анна", "--last-name", "Смирнова",
        "--phone", phone, "--email", email, "--snils", snils, "--password", PASSWORD,
        "--level", "standard", "--json",
    )  # fmt: skip
    created = out.json()
    return Someone(created["id"], created["sub"], phone, email, snils)


# --- clients -------------------------------------------------------------------------------


async def test_a_second_client_with_the_same_name_needs_force(op: Operator) -> None:
    first = await _client(op)
    line = await op.refused(
        "clients", "create", "--name", first["name"], "--redirect-uri", REDIRECT, "--json"
    )
    assert first["client_id"] in line
    assert "--force" in line
    again = await _client(op, "--force", name=first["name"])
    assert again["client_id"] != first["client_id"]
    assert (await op.client(again["client_id"])).name == first["name"]


async def test_clients_list_shows_every_client_as_json_and_as_a_table(op: Operator) -> None:
    a = await _client(op)
    b = await _client(op, "--auth-method", "none", "--min-level", "standard")
    listed = (await op.run("clients", "list", "--json")).json()["clients"]
    by_id = {c["client_id"]: c for c in listed}
    assert by_id[b["client_id"]] == {
        "client_id": b["client_id"],
        "name": b["name"],
        "auth_method": "none",
        "min_level": "standard",
        "grant_types": ["authorization_code", "refresh_token"],
        "redirect_uris": 1,
    }
    assert a["client_id"] in by_id
    table = (await op.run("clients", "list")).table().splitlines()
    assert table[0].split() == [
        "CLIENT",
        "ID",
        "NAME",
        "AUTH",
        "METHOD",
        "MIN",
        "LEVEL",
        "GRANT",
        "TYPES",
    ]
    [row] = [line for line in table if line.startswith(b["client_id"])]
    assert b["name"] in row
    assert "none" in row
    assert "standard" in row
    assert a["client_secret"] not in "\n".join(table)


async def test_clients_show_prints_everything_registered_but_never_the_secret(
    op: Operator,
) -> None:
    created = await _client(
        op,
        "--redirect-uri", "https://a.example/second",
        "--post-logout-redirect-uri", "https://a.example/bye",
        "--backchannel-logout-uri", "https://a.example/logout/back",
        "--frontchannel-logout-uri", "https://a.example/logout/front",
        "--grant-type", "authorization_code",
        "--grant-type", "client_credentials",
        "--scope", "openid", "--scope", "snils",
        "--min-level", "confirmed",
        "--forbid-confirmation-method", "post",
        "--no-consent",
    )  # fmt: skip
    secret, client_id = created["client_secret"], created["client_id"]
    shown = await op.run("clients", "show", client_id, "--json")
    details = shown.json()
    created_at = details.pop("created_at")
    assert created_at
    assert details == {
        "client_id": client_id,
        "name": created["name"],
        "auth_method": "client_secret_basic",
        "has_secret": True,
        "redirect_uris": [REDIRECT, "https://a.example/second"],
        "post_logout_redirect_uris": ["https://a.example/bye"],
        "backchannel_logout_uri": "https://a.example/logout/back",
        "frontchannel_logout_uri": "https://a.example/logout/front",
        "frontchannel_logout_session_required": True,
        "grant_types": ["authorization_code", "client_credentials"],
        "scopes": ["openid", "snils"],
        "min_level": "confirmed",
        "forbidden_confirmation_methods": ["post"],
        "require_consent": False,
        "id_token_signed_response_alg": "ES256",
        "jwks": None,
    }
    readable = (await op.run("clients", "show", client_id)).table()
    for text in ("https://a.example/second", "https://a.example/logout/back", "confirmed", "post"):
        assert text in readable
    for output in (shown.out, readable):
        assert secret not in output
        assert digest(secret) not in output


async def test_clients_update_changes_the_given_fields_only(op: Operator) -> None:
    created = await _client(op, "--backchannel-logout-uri", "https://a.example/back")
    client_id = created["client_id"]
    before = await op.client(client_id)
    out = await op.run(
        "clients", "update", client_id,
        "--name", "Пенсионный фонд " + secrets.token_hex(2),
        "--redirect-uri", "https://b.example/cb",
        "--scope", "openid", "--scope", "email",
        "--min-level", "standard",
        "--no-consent",
        "--clear", "backchannel-logout-uri",
        "--json",
    )  # fmt: skip
    assert out.json() == {
        "client_id": client_id,
        "changed": [
            "backchannel_logout_uri",
            "min_level",
            "name",
            "redirect_uris",
            "require_consent",
            "scopes",
        ],
    }
    after = await op.client(client_id)
    assert after.name.startswith("Пенсионный фонд")
    assert after.redirect_uris == ["https://b.example/cb"]
    assert after.scopes == ["openid", "email"]
    assert after.min_level == "standard"
    assert after.require_consent is False
    assert after.backchannel_logout_uri is None
    # Untouched: the secret, the grants, the method, the algorithm.
    for column in ("secret_hash", "grant_types", "auth_method", "id_token_signed_response_alg"):
        assert getattr(after, column) == getattr(before, column), column
    unchanged = await op.run("clients", "update", client_id, "--min-level", "standard", "--json")
    assert unchanged.json() == {"client_id": client_id, "changed": []}
    async with op.engine.connect() as connection:
        audit = (
            await connection.execute(
                select(AuditEvent).filter_by(event="client.updated", client_id=client_id)
            )
        ).all()
    assert len(audit) == 1


BAD_UPDATES = {
    "http_redirect_to_a_remote_host": ["--redirect-uri", "http://b.example/cb"],
    "redirect_with_fragment": ["--redirect-uri", "https://b.example/cb#x"],
    "unknown_scope": ["--scope", "admin"],
    "bad_level": ["--min-level", "gold"],
    "empty_name": ["--name", " "],
    "frontchannel_on_another_origin": ["--frontchannel-logout-uri", "https://c.example/f"],
    "backchannel_to_cloud_metadata": [
        "--backchannel-logout-uri", "https://169.254.169.254/latest/meta-data/",
    ],
    "switch_to_public": ["--auth-method", "none"],
    "clear_and_give": [
        "--clear", "backchannel-logout-uri", "--backchannel-logout-uri", "https://a.example/b",
    ],
    "clear_unknown": ["--clear", "redirect-uri"],
    "jwks_without_private_key_jwt_not_json": ["--jwks", "{nope"],
}  # fmt: skip


@pytest.mark.parametrize("options", BAD_UPDATES.values(), ids=BAD_UPDATES.keys())
async def test_bad_updates_are_refused_and_change_nothing(op: Operator, options: list[str]) -> None:
    created = await _client(op)
    await op.refused("clients", "update", created["client_id"], *options, "--json")


async def test_renaming_to_a_taken_name_needs_force(op: Operator) -> None:
    taken = await _client(op)
    other = await _client(op)
    line = await op.refused("clients", "update", other["client_id"], "--name", taken["name"])
    assert "--force" in line
    forced = await op.run(
        "clients", "update", other["client_id"], "--name", taken["name"], "--force", "--json"
    )
    assert forced.json()["changed"] == ["name"]


async def test_rotate_secret_prints_the_new_secret_once_and_the_old_one_is_gone(
    op: Operator,
) -> None:
    created = await _client(op)
    out = (await op.run("clients", "rotate-secret", created["client_id"], "--json")).json()
    assert set(out) == {"client_id", "client_secret"}
    assert out["client_secret"] != created["client_secret"]
    row = await op.client(created["client_id"])
    assert row.secret_hash == digest(out["client_secret"])
    shown = (await op.run("clients", "show", created["client_id"], "--json")).out
    assert out["client_secret"] not in shown
    readable = (await op.run("clients", "rotate-secret", created["client_id"])).table()
    assert "client secret:" in readable


async def test_a_client_without_a_secret_gets_none_by_rotation(op: Operator) -> None:
    public = await _client(op, "--auth-method", "none")
    line = await op.refused("clients", "rotate-secret", public["client_id"], "--json")
    assert "no secret" in line


async def test_clients_delete_removes_the_client(op: Operator) -> None:
    created = await _client(op)
    out = (await op.run("clients", "delete", created["client_id"], "--json")).json()
    assert out == {"client_id": created["client_id"], "deleted": True}
    async with op.engine.connect() as connection:
        left = await connection.execute(select(Client).filter_by(client_id=created["client_id"]))
        assert left.all() == []
    await op.refused("clients", "show", created["client_id"])


@pytest.mark.parametrize(
    "command",
    [
        ["clients", "show", "no-such-client"],
        ["clients", "update", "no-such-client", "--name", "X"],
        ["clients", "delete", "no-such-client"],
        ["clients", "rotate-secret", "no-such-client"],
    ],
    ids=["show", "update", "delete", "rotate-secret"],
)
async def test_an_unknown_client_id_is_refused(op: Operator, command: list[str]) -> None:
    line = await op.refused(*command, "--json")
    assert "no client with id 'no-such-client'" in line


# --- accounts ------------------------------------------------------------------------------


async def test_accounts_find_by_phone_email_or_snils_in_any_form(op: Operator) -> None:
    person = await _person(op)
    national = "8 (" + person.phone[2:5] + ") " + person.phone[5:8] + "-" + person.phone[8:]
    for identifier in (
        person.phone,
        national,
        person.email,
        person.email.upper(),
        person.snils,
        format_snils(person.snils),
    ):
        found = (await op.run("accounts", "find", identifier, "--json")).json()["accounts"]
        assert [a["id"] for a in found] == [person.id], identifier
        assert found[0]["status"] == "active"
        assert found[0]["level"] == "standard"
    readable = (await op.run("accounts", "find", person.email)).table()
    assert person.id in readable
    assert "email" in readable
    nobody = (await op.run("accounts", "find", random_phone(), "--json")).json()
    assert nobody == {"accounts": []}
    assert (await op.run("accounts", "find", random_phone())).table() == "no accounts\n"


@pytest.mark.parametrize(
    "identifier", ["12345", "not-an-address@", "Иванов", "112-233-445 96", " "]
)
async def test_a_malformed_identifier_is_refused_without_echoing_it(
    op: Operator, identifier: str
) -> None:
    line = await op.refused("accounts", "find", identifier, "--json")
    assert "not a phone number, an e-mail address or a SNILS" in line
    if identifier.strip():
        assert identifier not in line  # personal data stays out of messages


async def test_accounts_show_prints_level_status_and_contacts(op: Operator) -> None:
    person = await _person(op)
    for ref in (person.id, person.sub, person.phone, format_snils(person.snils)):
        shown = (await op.run("accounts", "show", ref, "--json")).json()
        assert shown["id"] == person.id, ref
    assert shown["level"] == "standard"
    assert shown["status"] == "active"
    assert shown["last_name"] == "Смирнова"
    assert shown["first_name"] == "Анна"
    assert shown["snils"] == format_snils(person.snils)
    assert shown["contacts"] == [
        {"kind": "email", "value": person.email, "confirmed": True},
        {"kind": "phone", "value": person.phone, "confirmed": True},
    ]
    assert shown["delete_after"] is None
    assert shown["live_sessions"] == 0
    readable = (await op.run("accounts", "show", person.id)).table()
    for text in ("standard", "active", person.phone, person.email, "KIND"):
        assert text in readable


@pytest.mark.parametrize("action", ["show", "disable", "enable", "delete"])
async def test_an_unknown_or_malformed_account_is_refused(op: Operator, action: str) -> None:
    line = await op.refused("accounts", action, str(uuid.uuid4()))
    assert "no account with id or sub" in line
    line = await op.refused("accounts", action, random_phone())
    assert "no account has this" in line
    await op.refused("accounts", action, "12345")


async def test_disable_blocks_login_and_enable_restores_it(op: Operator) -> None:
    person = await _person(op)
    out = (await op.run("accounts", "disable", person.email, "--json")).json()
    assert out["id"] == person.id
    assert out["status"] == "disabled"
    assert (await op.account(person.id)).status == "disabled"
    with pytest.raises(InvalidCredentials):
        await authenticate(op.ctx, person.phone, PASSWORD, "192.0.2.7")
    line = await op.refused("accounts", "disable", person.id, code=3)
    assert "disabled already" in line

    assert (await op.run("accounts", "enable", person.id, "--json")).json()["status"] == "active"
    account = await authenticate(op.ctx, person.phone, PASSWORD, "192.0.2.7")
    assert str(account.id) == person.id
    line = await op.refused("accounts", "enable", person.id, code=3)
    assert "active already" in line
    async with op.engine.connect() as connection:
        events = (
            await connection.scalars(
                select(AuditEvent.event)
                .where(AuditEvent.account_id == person.id, AuditEvent.event.like("account.%"))
                .order_by(AuditEvent.id)
            )
        ).all()
    assert events == ["account.created", "account.disabled", "account.enabled"]


async def test_delete_marks_for_deletion_after_the_grace_and_enable_undoes_it(
    op: Operator,
) -> None:
    person = await _person(op)
    before = op.ctx.clock.now()
    out = (await op.run("accounts", "delete", person.snils, "--json")).json()
    assert out["status"] == "deleting"
    row = await op.account(person.id)
    assert row.status == "deleting"
    assert before + timedelta(seconds=GRACE) <= row.delete_after
    assert row.delete_after <= op.ctx.clock.now() + timedelta(seconds=GRACE)
    with pytest.raises(InvalidCredentials):
        await authenticate(op.ctx, person.email, PASSWORD, "192.0.2.8")
    line = await op.refused("accounts", "delete", person.id, code=3)
    assert "marked for deletion already" in line
    shown = (await op.run("accounts", "show", person.id, "--json")).json()
    assert shown["status"] == "deleting"
    assert shown["delete_after"]

    assert (await op.run("accounts", "enable", person.id, "--json")).json()["status"] == "active"
    row = await op.account(person.id)
    assert row.status == "active"
    assert row.delete_after is None
    # A disabled account may be marked for deletion too.
    (await op.run("accounts", "disable", person.id, "--json")).json()
    assert (await op.run("accounts", "delete", person.id, "--json")).json()["status"] == "deleting"


# --- sessions and notifications --------------------------------------------------------------


async def test_sessions_list_takes_an_id_phone_email_or_snils(op: Operator) -> None:
    person = await _person(op)
    async with op.ctx.db.transaction() as session:
        account = await session.get(Account, uuid.UUID(person.id))
        assert account is not None
        record, _ = start_session(
            session, account, amr=["pwd"], now=op.ctx.clock.now(),
            settings=op.ctx.settings.sessions, user_agent="Mozilla/5.0 (X11; Linux x86_64) "
            "Firefox/130.0", ip="203.0.113.9",
        )  # fmt: skip
    for ref in (person.id, person.sub, person.phone, person.email, format_snils(person.snils)):
        listed = (await op.run("sessions", "list", "--account", ref, "--json")).json()
        assert [s["id"] for s in listed["sessions"]] == [str(record.id)], ref
    readable = (await op.run("sessions", "list", "--account", person.phone)).table()
    assert str(record.id) in readable
    assert "LAST SEEN" in readable
    await op.refused("sessions", "list", "--account", "12345")
    await op.refused("sessions", "list", "--account", random_phone())


async def test_notifications_list_shows_pending_and_failed_without_contents(
    op: Operator,
) -> None:
    recipient = f"secret-{secrets.token_hex(4)}@example.ru"
    code = "739184"
    now = op.ctx.clock.now()
    async with op.ctx.db.transaction() as session:
        waiting = enqueue_message(
            session, op.ctx.keyring, channel="email", to=recipient, template="email_code",
            locale="ru", params={"code": code}, now=now, settings=op.ctx.settings.notify,
        )  # fmt: skip
        failed = enqueue_message(
            session, op.ctx.keyring, channel="sms", to=random_phone(), template="phone_code",
            locale="ru", params={"code": code}, now=now, settings=op.ctx.settings.notify,
        )  # fmt: skip
        sent = enqueue_message(
            session, op.ctx.keyring, channel="sms", to=random_phone(), template="phone_code",
            locale="ru", params={"code": code}, now=now, settings=op.ctx.settings.notify,
        )  # fmt: skip
    async with op.ctx.db.transaction() as session:
        await session.execute(
            update(QueuedJob)
            .where(QueuedJob.id == failed)
            .values(status="failed", attempts=3, last_error="gateway answered HTTP 503",
                    finished_at=now, result="expired")
        )  # fmt: skip
        await session.execute(
            update(QueuedJob).where(QueuedJob.id == sent).values(status="done", finished_at=now)
        )
    listed = await op.run("notifications", "list", "--json")
    rows = {n["id"]: n for n in listed.json()["notifications"]}
    assert str(sent) not in rows
    assert rows[str(waiting)]["status"] == "pending"
    assert rows[str(waiting)]["kind"] == "email_code"
    assert rows[str(waiting)]["channel"] == "email"
    assert rows[str(waiting)]["tries"] == 0
    assert rows[str(failed)]["status"] == "failed"
    assert rows[str(failed)]["channel"] == "sms"
    assert rows[str(failed)]["tries"] == 3
    assert rows[str(failed)]["last_error"] == "gateway answered HTTP 503"
    only_failed = (await op.run("notifications", "list", "--status", "failed", "--json")).json()
    assert {n["id"] for n in only_failed["notifications"]} == {str(failed)}
    readable = (await op.run("notifications", "list")).table()
    assert "gateway answered HTTP 503" in readable
    assert "LAST ERROR" in readable
    for output in (listed.out, readable):
        assert recipient not in output
        assert code not in output
    await op.refused("notifications", "list", "--limit", "0")
    await op.refused("notifications", "list", "--status", "sent")


async def test_the_installed_script_runs_the_operator_commands(op: Operator) -> None:
    person = await _person(op)
    found = await run_script(op.env, IDP, "accounts", "find", person.phone, "--json")
    assert [a["id"] for a in found.json()["accounts"]] == [person.id]
    listed = await run_script(op.env, IDP, "clients", "list", "--json")
    assert isinstance(listed.json()["clients"], list)
    bad = await run_script(op.env, IDP, "accounts", "find", "12345")
    assert bad.refused().startswith("idp: the identifier is not")
    assert json.loads((await run_script(op.env, IDP, "notifications", "list", "--json")).out)


async def test_ten_registrations_racing_for_one_name_leave_one_client(op: Operator) -> None:
    name = f"Гонка {secrets.token_hex(3)}"

    async def one() -> str:
        try:
            await create_client(
                op.ctx, NewClient(name=name, redirect_uris=[REDIRECT]), unique_name=True
            )
        except DuplicateName:
            return "refused"
        return "created"

    outcomes = await asyncio.gather(*(one() for _ in range(10)))

    assert outcomes.count("created") == 1, outcomes
    assert outcomes.count("refused") == 9
    async with op.engine.connect() as connection:
        named = (await connection.execute(select(Client).filter_by(name=name))).all()
    assert len(named) == 1


async def test_the_account_commands_log_no_personal_data(
    op: Operator, caplog: pytest.LogCaptureFixture
) -> None:
    person = await _person(op)
    caplog.set_level(logging.DEBUG)
    for command in (
        ["accounts", "find", person.phone],
        ["accounts", "show", person.email],
        ["accounts", "disable", format_snils(person.snils)],
        ["accounts", "delete", person.phone],
        ["accounts", "enable", person.email],
        ["sessions", "list", "--account", person.phone],
    ):
        assert (await op.run(*command, "--json")).code == 0, command
    await op.refused("accounts", "find", person.phone[:-4])
    assert caplog.records  # the capture works (the engine logs its statements at DEBUG)
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    for value in (person.phone, person.phone[2:], person.email, person.snils, "Смирнова"):
        assert value not in logged
