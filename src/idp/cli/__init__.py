"""The ``idp`` command (see CONTRACT.md): serve, worker, migrate, clients, accounts, keys,
sessions, jobs, deliveries, notifications, verifications, registry-sim, trust, dev.

Every command that prints data prints one JSON object with ``--json`` (a readable table
otherwise), exits 0 on success, 2 with a one-line reason on stderr for bad input (malformed,
an unknown id, a duplicate name) and 3 when the thing is in a state that does not allow the
change; nothing is written then. The operator commands live in ``clients.py``,
``accounts.py``, ``notifications.py`` and ``verifications.py`` beside this module;
``registry_sim.py`` runs the registry simulator; ``dev.py`` signs a challenge with the
development CA (dev mode only).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from idp.cli import accounts as accounts_commands
from idp.cli import clients as clients_commands
from idp.cli import dev as dev_commands
from idp.cli import notifications as notifications_commands
from idp.cli import registry_sim as registry_sim_command
from idp.cli import trust as trust_commands
from idp.cli import verifications as verifications_commands
from idp.cli.kit import (
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    EXIT_WRONG_STATE,
    add_json,
    int_between,
    jwks_option,
    show,
)
from idp.cli.kit import Parser as _Parser
from idp.cli.kit import emit as _emit
from idp.cli.kit import with_context as _with_context
from idp.errors import BadInput, WrongState
from idp.settings import REGISTRY_SIMULATOR_PATH, Settings

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILURE", "EXIT_WRONG_STATE", "build_parser", "main"]


DEFAULT_PORT = 8000
LIMIT = 100_000  # the most rows a listing prints


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from idp.context import check_settings
    from idp.notify.registry import check_notifiers

    settings = Settings()
    if settings.is_sqlite and args.workers > 1:
        print("idp: several workers need PostgreSQL (IDP_DATABASE_URL)", file=sys.stderr)
        return EXIT_BAD_INPUT
    own_simulator = settings.issuer.rstrip("/") + REGISTRY_SIMULATOR_PATH
    if args.workers > 1 and (settings.registries.http.base_url or "").startswith(own_simulator):
        # Each process would hold its own simulator: a request made in one is unknown to the
        # others, and its check would fail as refused.
        print(
            "idp: the built-in registry simulator runs in one process; with --workers run "
            "`idp registry-sim` and set IDP_REGISTRIES__HTTP__BASE_URL to it",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    check_notifiers(settings)  # an unknown plug-in name: one line now, not a worker's traceback
    check_settings(settings)  # a missing key-encryption key, key delays that disagree: the same
    # Without --port, listen where a loopback issuer says the server is: the two agree.
    port = args.port if args.port is not None else settings.loopback_port or DEFAULT_PORT
    if settings.loopback_port not in (None, port):
        # Allowed (a local balancer in front of several), but usually a slip: say so.
        print(
            f"idp: note: IDP_ISSUER is {settings.issuer} but this server listens on port {port}",
            file=sys.stderr,
        )
    options: dict[str, Any] = {
        "factory": True,
        "host": args.host,
        "port": port,
        "workers": args.workers,
        "proxy_headers": False,
        "server_header": False,
        "log_level": args.log_level,
        "access_log": args.access_log,
    }
    if args.workers > 1:
        uvicorn.run("idp.app:create_app", **options)
        return 0

    class Announcing(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started:  # listening, with the keys (and in dev mode the demo) ready
                print(f"idp is ready: open {settings.issuer}/", flush=True)

    server = Announcing(uvicorn.Config("idp.app:create_app", **options))
    server.run()
    return 0 if server.started else EXIT_FAILURE


def cmd_migrate(args: argparse.Namespace) -> int:
    from idp.context import key_encryption_key
    from idp.db.migrate import upgrade
    from idp.security.pii import PersonalDataVault
    from idp.security.sealing import Keyring

    settings = Settings()
    # Revisions that seal personal data already stored need the key (the same as the server's).
    vault = PersonalDataVault(Keyring(key_encryption_key(settings)))
    asyncio.run(upgrade(settings.database_url, vault=vault))

    async def keys(ctx: Any) -> dict[str, Any]:
        return {"created_keys": await ctx.keys.ensure_keys()}

    result = asyncio.run(_with_context(keys))
    _emit({"status": "migrated", **result}, args.json)
    return 0


def cmd_clients_create(args: argparse.Namespace) -> int:
    from idp.clients.service import NewClient, create_client

    jwks = jwks_option(args.jwks)
    data = NewClient(
        name=args.name,
        redirect_uris=args.redirect_uri or [],
        post_logout_redirect_uris=args.post_logout_redirect_uri or [],
        backchannel_logout_uri=args.backchannel_logout_uri,
        frontchannel_logout_uri=args.frontchannel_logout_uri,
        auth_method=args.auth_method,
        grant_types=args.grant_type or [],
        scopes=args.scope or [],
        min_level=args.min_level,
        forbidden_confirmation_methods=args.forbid_confirmation_method or [],
        require_consent=not args.no_consent,
        id_token_signed_response_alg=args.id_token_alg,
        jwks=jwks,
        client_id=args.client_id,
    )

    async def create(ctx: Any) -> dict[str, Any]:
        created = await create_client(ctx, data, unique_name=not args.force)
        out: dict[str, Any] = {"client_id": created.client_id}
        if created.client_secret is not None:
            out["client_secret"] = created.client_secret
        return out

    _emit(asyncio.run(_with_context(create)), args.json)
    return 0


def cmd_accounts_create(args: argparse.Namespace) -> int:
    from idp.accounts.service import NewAccount, create_by_operator, prepare_operator_account

    data = NewAccount(
        first_name=args.first_name,
        last_name=args.last_name,
        middle_name=args.middle_name,
        phone=args.phone,
        email=args.email,
        snils=args.snils,
        password=args.password,
        level=args.level,
        confirmation_method=args.confirmation_method,
    )

    async def create(ctx: Any) -> dict[str, Any]:
        ready = await prepare_operator_account(ctx, data)  # hashed with no transaction open
        async with ctx.db.transaction() as session:
            account = await create_by_operator(session, ctx, ready)
        return {"id": str(account.id), "sub": account.sub}

    _emit(asyncio.run(_with_context(create)), args.json)
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    if args.activate_in is not None and args.activate_in < 0:
        raise BadInput("--activate-in must not be negative")

    async def rotate(ctx: Any) -> dict[str, Any]:
        delay = ctx.settings.key_activation_delay if args.activate_in is None else args.activate_in
        kids = await ctx.keys.rotate(activate_in=delay)
        return {"new_keys": kids, "activate_in": delay}

    _emit(asyncio.run(_with_context(rotate)), args.json)
    return 0


def cmd_sessions_list(args: argparse.Namespace) -> int:
    from idp.accounts.operator.service import resolve_account
    from idp.sessions.service import live_sessions_of

    async def listing(ctx: Any) -> dict[str, Any]:
        async with ctx.db.read() as session:
            account = await resolve_account(session, ctx, args.account)
            records = await live_sessions_of(
                session, account.id, ctx.clock.now(), ctx.settings.sessions.idle_ttl
            )
        return {
            "sessions": [
                {
                    "id": str(r.id),
                    "sid": r.sid,
                    "created_at": r.created_at.isoformat(),
                    "last_seen_at": r.last_seen_at.isoformat(),
                    "ip": r.ip,
                    "device": r.user_agent,
                }
                for r in records
            ]
        }

    show(
        asyncio.run(_with_context(listing)),
        args.json,
        rows="sessions",
        columns=[
            ("id", "ID"),
            ("created_at", "STARTED"),
            ("last_seen_at", "LAST SEEN"),
            ("ip", "ADDRESS"),
            ("device", "DEVICE"),
        ],
    )
    return 0


def cmd_sessions_end(args: argparse.Namespace) -> int:
    """End every session of an account (a compromised account); running servers deliver the
    back-channel logouts from the job queue."""
    from idp.accounts.operator.service import resolve_account
    from idp.sessions.service import end_sessions, live_sessions_of, revoke_offline_access

    async def end(ctx: Any) -> dict[str, Any]:
        async with ctx.db.transaction() as session:
            account = await resolve_account(session, ctx, args.account)
            records = await live_sessions_of(
                session, account.id, ctx.clock.now(), ctx.settings.sessions.idle_ttl
            )
            ended = await end_sessions(
                session, ctx, records, reason="ended_by_operator", actor="operator", claim=False
            )
            # Offline access outlives sessions; ending everything must end it too.
            revoked = await revoke_offline_access(
                session, account.id, ctx.clock.now(), reason="ended_by_operator"
            )
        return {
            "ended": len(ended.session_ids),
            "notifications_queued": len(ended.jobs),
            "offline_grants_revoked": revoked,
        }

    _emit(asyncio.run(_with_context(end)), args.json)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """The job workers, the session sweep and maintenance, without HTTP, until SIGTERM/SIGINT.
    Run as many as you like beside ``idp serve`` (on PostgreSQL)."""
    import signal

    from idp.context import check_settings
    from idp.notify.registry import check_notifiers

    settings = Settings()
    check_notifiers(settings)  # the worker sends the messages: the same checks as `idp serve`
    check_settings(settings)

    async def work() -> None:
        from idp.background import Background
        from idp.context import Context

        ctx = Context.build(settings)
        background = Background(ctx)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping.set)
        try:
            await ctx.keys.ensure_keys()  # logout tokens are signed here
            background.start()
            print("idp worker: running", flush=True)
            await stopping.wait()
        finally:
            await background.stop()
            await ctx.close()

    asyncio.run(work())
    return 0


def cmd_jobs_list(args: argparse.Namespace) -> int:
    """Jobs for operators: state, tries and last error, never the payload."""
    from idp.jobs.repository import listing

    async def run(ctx: Any) -> dict[str, Any]:
        async with ctx.db.read() as session:
            rows = await listing(
                session,
                statuses=[args.status] if args.status else None,
                kind=args.kind,
                limit=args.limit,
            )
        return {
            "jobs": [
                {
                    "id": str(r.id),
                    "kind": r.kind,
                    "ref": r.ref,
                    "status": r.status,
                    "result": r.result,
                    "attempts": r.attempts,
                    "last_error": r.last_error,
                    "next_attempt_at": r.next_attempt_at.isoformat(),
                    "deadline": r.deadline.isoformat(),
                    "created_at": r.created_at.isoformat(),
                    "finished_at": r.finished_at.isoformat() if r.finished_at else None,
                }
                for r in rows
            ]
        }

    _emit(asyncio.run(_with_context(run)), args.json)
    return 0


def cmd_deliveries_list(args: argparse.Namespace) -> int:
    from idp.oidc.logout.deliveries import list_deliveries

    async def listing(ctx: Any) -> dict[str, Any]:
        async with ctx.db.read() as session:
            found = await list_deliveries(session, args.status, args.limit)
        return {"deliveries": found}

    _emit(asyncio.run(_with_context(listing)), args.json)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="idp", description="OpenID Connect identity provider")
    commands = parser.add_subparsers(
        dest="command", required=True, parser_class=_Parser, metavar="COMMAND"
    )

    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument(
        "--port",
        type=int_between(1, 65535),
        default=None,
        help="port to listen on (default: the port of a loopback IDP_ISSUER, else 8000)",
    )
    serve.add_argument(
        "--workers", type=int, default=1, help="server processes (more than one: PostgreSQL)"
    )
    serve.add_argument("--log-level", default="info", help="uvicorn's log level (info, debug…)")
    serve.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="log one line per request",
    )
    serve.set_defaults(func=cmd_serve)

    worker = commands.add_parser("worker", help="run the background jobs without HTTP")
    worker.set_defaults(func=cmd_worker)

    migrate = commands.add_parser("migrate", help="create or upgrade the database schema")
    add_json(migrate)
    migrate.set_defaults(func=cmd_migrate)

    clients = commands.add_parser("clients", help="relying parties").add_subparsers(
        dest="clients_command", required=True, parser_class=_Parser, metavar="ACTION"
    )
    create = clients.add_parser("create", help="register a relying party")
    create.add_argument("--name", required=True, help="the name people see on the consent page")
    clients_commands.add_client_options(create, creating=True)
    create.add_argument(
        "--auth-method",
        default="client_secret_basic",
        choices=["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        help="how the client authenticates at the token endpoint (none: a public client)",
    )
    create.add_argument("--client-id", help="choose the client_id (default: random)")
    create.add_argument(
        "--force", action="store_true", help="register even if another client has this name"
    )
    add_json(create)
    create.set_defaults(func=cmd_clients_create)
    clients_commands.register(clients)

    accounts = commands.add_parser("accounts", help="accounts").add_subparsers(
        dest="accounts_command", required=True, parser_class=_Parser, metavar="ACTION"
    )
    acreate = accounts.add_parser("create", help="register a person (service center)")
    acreate.add_argument("--first-name", required=True, help="given name")
    acreate.add_argument("--last-name", required=True, help="family name")
    acreate.add_argument("--middle-name", help="patronymic")
    acreate.add_argument("--phone", help="mobile phone to log in with (counts as confirmed)")
    acreate.add_argument("--email", help="e-mail address to log in with (counts as confirmed)")
    acreate.add_argument("--snils", help="SNILS to log in with, with or without separators")
    acreate.add_argument("--password", required=True, help="the first password")
    acreate.add_argument(
        "--level",
        required=True,
        choices=["simplified", "standard", "confirmed"],
        help="assurance level the account starts at",
    )
    acreate.add_argument(
        "--confirmation-method",
        choices=["service_center", "post", "qes"],
        help="how the identity was confirmed (the confirmed level only)",
    )
    add_json(acreate)
    acreate.set_defaults(func=cmd_accounts_create)
    accounts_commands.register(accounts)

    keys = commands.add_parser("keys", help="signing keys").add_subparsers(
        dest="keys_command", required=True, parser_class=_Parser, metavar="ACTION"
    )
    rotate = keys.add_parser("rotate", help="add new signing keys; old ones retire slowly")
    rotate.add_argument(
        "--activate-in",
        type=int,
        default=None,
        help="seconds the new keys are published before they sign (default: "
        "IDP_KEY_ACTIVATION_DELAY, 120); shorter than the JWKS max-age plus the key cache, "
        "relying parties may meet tokens signed with a key they have not seen",
    )
    add_json(rotate)
    rotate.set_defaults(func=cmd_keys_rotate)

    account_help = "the account: its id or sub, or a phone number, e-mail or SNILS"
    sessions = commands.add_parser("sessions", help="single sign-on sessions").add_subparsers(
        dest="sessions_command", required=True, parser_class=_Parser, metavar="ACTION"
    )
    slist = sessions.add_parser("list", help="an account's active sessions")
    slist.add_argument("--account", required=True, help=account_help)
    add_json(slist)
    slist.set_defaults(func=cmd_sessions_list)
    send = sessions.add_parser("end", help="end every session of an account, telling every RP")
    send.add_argument("--account", required=True, help=account_help)
    add_json(send)
    send.set_defaults(func=cmd_sessions_end)

    deliveries = commands.add_parser(
        "deliveries", help="back-channel logout deliveries"
    ).add_subparsers(
        dest="deliveries_command", required=True, parser_class=_Parser, metavar="ACTION"
    )
    dlist = deliveries.add_parser("list", help="deliveries by status (default: failed)")
    dlist.add_argument(
        "--status",
        default="failed",
        choices=["pending", "delivered", "rejected", "failed"],
        help="which deliveries to list",
    )
    dlist.add_argument(
        "--limit", type=int_between(1, LIMIT), default=100, help="at most this many, newest first"
    )
    add_json(dlist)
    dlist.set_defaults(func=cmd_deliveries_list)

    jobs = commands.add_parser("jobs", help="the background job queue").add_subparsers(
        dest="jobs_command", required=True, parser_class=_Parser, metavar="ACTION"
    )
    jlist = jobs.add_parser("list", help="jobs, newest first (no payloads)")
    jlist.add_argument(
        "--status", choices=["pending", "running", "done", "failed"], help="only jobs in this state"
    )
    jlist.add_argument("--kind", help="only this kind, e.g. backchannel_logout, notification")
    jlist.add_argument(
        "--limit", type=int_between(1, LIMIT), default=100, help="at most this many, newest first"
    )
    add_json(jlist)
    jlist.set_defaults(func=cmd_jobs_list)

    notifications_commands.register(commands)
    verifications_commands.register(commands)
    registry_sim_command.register(commands)
    trust_commands.register(commands)
    dev_commands.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except WrongState as exc:
        print(f"idp: {exc}", file=sys.stderr)
        return EXIT_WRONG_STATE
    except BadInput as exc:
        print(f"idp: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except SQLAlchemyError as exc:
        reason = str(exc.orig if hasattr(exc, "orig") and exc.orig else exc).splitlines()[0]
        print(f"idp: database error: {reason} (did you run `idp migrate`?)", file=sys.stderr)
        return EXIT_FAILURE
    except (OSError, ValueError) as exc:
        print(f"idp: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    return code


if __name__ == "__main__":
    sys.exit(main())
