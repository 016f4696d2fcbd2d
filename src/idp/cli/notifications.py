"""``idp notifications list``: messages waiting or failed, without contents or recipients."""

from __future__ import annotations

import argparse
from typing import Any

from idp.cli.kit import Parser, add_json, int_between, run, show

STATUSES = {"pending": ["pending", "running"], "failed": ["failed"]}


def register(commands: Any) -> None:
    notifications = commands.add_parser(
        "notifications", help="e-mail and SMS messages (never their contents)"
    ).add_subparsers(
        dest="notifications_command", required=True, parser_class=Parser, metavar="ACTION"
    )
    listing = notifications.add_parser(
        "list", help="messages waiting to be sent or failed for good, newest first"
    )
    listing.add_argument(
        "--status",
        choices=list(STATUSES),
        help="only waiting (pending, being sent) or only failed messages (default: both)",
    )
    listing.add_argument(
        "--limit", type=int_between(1, 100_000), default=100, help="at most this many"
    )
    add_json(listing)
    listing.set_defaults(func=cmd_list)


def describe(row: Any) -> dict[str, Any]:
    # The ref is "channel:template" (idp.notify.outbox); the payload, with the recipient and
    # the text, is never read here.
    channel, _, template = (row.ref or "").partition(":")
    return {
        "id": str(row.id),
        "kind": template or None,
        "channel": channel or None,
        "status": row.status,
        "result": row.result,
        "tries": row.attempts,
        "last_error": row.last_error,
        "created_at": row.created_at.isoformat(),
        "next_try_at": row.next_attempt_at.isoformat() if row.status != "failed" else None,
        "deadline": row.deadline.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
    }


def cmd_list(args: argparse.Namespace) -> int:
    from idp.jobs.repository import listing
    from idp.notify.outbox import NOTIFICATION

    statuses = STATUSES[args.status] if args.status else [*STATUSES["pending"], "failed"]

    async def action(ctx: Any) -> dict[str, Any]:
        async with ctx.db.read() as session:
            rows = await listing(session, statuses=statuses, kind=NOTIFICATION, limit=args.limit)
        return {"notifications": [describe(row) for row in rows]}

    show(
        run(action),
        args.json,
        rows="notifications",
        columns=[
            ("created_at", "CREATED"),
            ("kind", "KIND"),
            ("channel", "CHANNEL"),
            ("status", "STATUS"),
            ("tries", "TRIES"),
            ("last_error", "LAST ERROR"),
            ("next_try_at", "NEXT TRY"),
            ("finished_at", "FINISHED"),
        ],
    )
    return 0
