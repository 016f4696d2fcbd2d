"""``idp accounts find|show|disable|enable|delete`` (``create`` is in ``idp.cli``).

``find`` and ``show`` print personal data (names, contacts, SNILS) to the operator's terminal
only: nothing here logs it, and audit records name only the account id."""

from __future__ import annotations

import argparse
from typing import Any

from idp.cli.kit import add_json, run, show

ACCOUNT = "the account: its id or sub, or a phone number, e-mail or SNILS naming one account"


def register(accounts: Any) -> None:
    find = accounts.add_parser("find", help="accounts by phone, e-mail or SNILS")
    find.add_argument(
        "identifier",
        metavar="IDENTIFIER",
        help="a phone number, e-mail or SNILS, in any form the login page takes",
    )
    add_json(find)
    find.set_defaults(func=cmd_find)

    detail = accounts.add_parser("show", help="an account's level, status and contacts")
    detail.add_argument("account", metavar="ID", help=ACCOUNT)
    add_json(detail)
    detail.set_defaults(func=cmd_show)

    for name, func, text in (
        ("disable", cmd_disable, "block logins and end every session (RPs are told)"),
        ("enable", cmd_enable, "undo disable or a pending deletion"),
        (
            "delete",
            cmd_delete,
            "end every session now and delete the account after the grace period "
            "(IDP_ACCOUNT_DELETION_GRACE)",
        ),
    ):
        change = accounts.add_parser(name, help=text)
        change.add_argument("account", metavar="ID", help=ACCOUNT)
        add_json(change)
        change.set_defaults(func=func)


def cmd_find(args: argparse.Namespace) -> int:
    from idp.accounts.operator.service import find_accounts

    async def action(ctx: Any) -> dict[str, Any]:
        async with ctx.db.read() as session:
            matches = await find_accounts(session, ctx, args.identifier)
        return {
            "accounts": [
                {
                    "id": str(m.account.id),
                    "sub": m.account.sub,
                    "found_by": m.by,
                    "level": m.account.level,
                    "status": m.account.status,
                    "created_at": m.account.created_at.isoformat(),
                }
                for m in matches
            ]
        }

    show(
        run(action),
        args.json,
        rows="accounts",
        columns=[
            ("id", "ID"),
            ("found_by", "FOUND BY"),
            ("level", "LEVEL"),
            ("status", "STATUS"),
            ("created_at", "CREATED"),
        ],
    )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from idp.accounts.operator.service import account_view, resolve_account
    from idp.sessions.service import live_sessions_of

    async def action(ctx: Any) -> dict[str, Any]:
        async with ctx.db.read() as session:
            account = await resolve_account(session, ctx, args.account)
            view = await account_view(session, ctx, account)
            live = await live_sessions_of(
                session, account.id, ctx.clock.now(), ctx.settings.sessions.idle_ttl
            )
        a = view.account
        return {
            "id": str(a.id),
            "sub": a.sub,
            "last_name": a.last_name,
            "first_name": a.first_name,
            "middle_name": a.middle_name,
            "level": a.level,
            "confirmation_method": a.confirmation_method,
            "status": a.status,
            "delete_after": a.delete_after.isoformat() if a.delete_after else None,
            "snils": view.snils,
            "has_password": a.password_hash is not None,
            "live_sessions": len(live),
            "created_at": a.created_at.isoformat(),
            "updated_at": a.updated_at.isoformat(),
            "contacts": [
                {"kind": c.kind, "value": c.value, "confirmed": c.confirmed} for c in view.contacts
            ],
        }

    show(
        run(action),
        args.json,
        tables={"contacts": [("kind", "KIND"), ("value", "VALUE"), ("confirmed", "CONFIRMED")]},
    )
    return 0


def _transition(args: argparse.Namespace, change: str) -> int:
    from idp.accounts.operator import service

    operation = {
        "disable": service.disable_account,
        "enable": service.enable_account,
        "delete": service.delete_account,
    }[change]

    async def action(ctx: Any) -> dict[str, Any]:
        async with ctx.db.transaction() as session:
            account = await service.resolve_account(session, ctx, args.account)
            done = await operation(session, ctx, account)
        return {
            "id": str(done.account_id),
            "status": done.status,
            "delete_after": done.delete_after.isoformat() if done.delete_after else None,
            "sessions_ended": done.sessions_ended,
            "logouts_queued": done.logouts_queued,
            "offline_grants_revoked": done.offline_grants_revoked,
        }

    show(run(action), args.json)
    return 0


def cmd_disable(args: argparse.Namespace) -> int:
    return _transition(args, "disable")


def cmd_enable(args: argparse.Namespace) -> int:
    return _transition(args, "enable")


def cmd_delete(args: argparse.Namespace) -> int:
    return _transition(args, "delete")
