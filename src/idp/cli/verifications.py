"""``idp verifications list|retry``: the registry checks of the standard level, for operators
(never personal data: ids, the account's ``sub``, kinds, states, reason codes, the job).

A check is *stuck* when it is open (queued, sent or waiting) but its job is settled (failed,
or expired at its deadline) or gone: nothing will move it any more. ``retry`` gives it a fresh
job with its state back to queued; the check keeps its id, the registry's idempotency key. A
check failed for a registry's reason (``registry_timeout``, ``registry_rejected``) is retried
the same way; one failed for the person's data (``person_mismatch``…) is refused.
"""

from __future__ import annotations

import argparse
import uuid
from typing import Any

from idp.cli.kit import Parser, add_json, int_between, run, show
from idp.errors import BadInput, WrongState

STATES = ("queued", "sent", "waiting", "succeeded", "failed", "superseded")
COLUMNS = [
    ("id", "ID"),
    ("account", "ACCOUNT"),
    ("kind", "KIND"),
    ("state", "STATE"),
    ("reason", "REASON"),
    ("attempts", "SENT"),
    ("age", "AGE"),
    ("job", "JOB"),
]


def register(commands: Any) -> None:
    verifications = commands.add_parser(
        "verifications", help="registry checks of personal data (never the data)"
    ).add_subparsers(
        dest="verifications_command", required=True, parser_class=Parser, metavar="ACTION"
    )
    listing = verifications.add_parser("list", help="registry checks, newest first")
    listing.add_argument("--state", choices=STATES, action="append", help="only checks in S")
    listing.add_argument(
        "--account", metavar="ACCOUNT", help="only this account's (id, sub, phone, e-mail, SNILS)"
    )
    listing.add_argument(
        "--stuck", action="store_true", help="only open checks whose job is settled or gone"
    )
    listing.add_argument(
        "--limit", type=int_between(1, 100_000), default=100, help="at most this many"
    )
    add_json(listing)
    listing.set_defaults(func=cmd_list)

    retry = verifications.add_parser(
        "retry", help="give a stuck check (or every stuck check) a fresh job"
    )
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("check", nargs="?", metavar="CHECK-ID", help="the check's id")
    which.add_argument("--stuck", action="store_true", help="every stuck check")
    add_json(retry)
    retry.set_defaults(func=cmd_retry)


def describe(line: Any, now: Any) -> dict[str, Any]:
    check = line.check
    return {
        "id": str(check.id),
        "account": line.sub,
        "kind": check.kind,
        "state": check.state,
        "reason": check.reason,
        "fields": check.fields.split(",") if check.fields else [],
        "revision": check.revision,
        "attempts": check.attempts,
        "age": int((now - check.created_at).total_seconds()),
        "job": line.job_status or "missing",
        "job_result": line.job_result,
        "stuck": line.stuck,
        "created_at": check.created_at.isoformat(),
        "finished_at": check.finished_at.isoformat() if check.finished_at else None,
    }


def cmd_list(args: argparse.Namespace) -> int:
    from idp.accounts.operator.service import resolve_account
    from idp.levels.verification.service import list_checks

    async def action(ctx: Any) -> dict[str, Any]:
        async with ctx.db.read() as session:
            account_id = None
            if args.account is not None:
                account_id = (await resolve_account(session, ctx, args.account)).id
            lines = await list_checks(
                session,
                states=args.state,
                account_id=account_id,
                stuck=args.stuck,
                limit=args.limit,
            )
        now = ctx.clock.now()
        return {"checks": [describe(line, now) for line in lines]}

    show(run(action), args.json, rows="checks", columns=COLUMNS)
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    check_id = None
    if args.check is not None:
        try:
            check_id = uuid.UUID(args.check)
        except ValueError:
            raise BadInput(f"not a check id: {args.check!r}") from None

    async def action(ctx: Any) -> dict[str, Any]:
        if check_id is not None:
            return {"retried": [await retry_one(ctx, check_id)]}
        return {"retried": await retry_stuck(ctx)}

    show(run(action), args.json, rows="retried", columns=[("id", "CHECK"), ("job", "NEW JOB")])
    return 0


async def retry_one(ctx: Any, check_id: uuid.UUID) -> dict[str, str]:
    from idp.levels.verification.service import retry_check

    async with ctx.db.transaction() as session:
        job = await retry_check(session, ctx.settings.registries, check_id, now=ctx.clock.now())
    return {"id": str(check_id), "job": str(job.id)}


async def retry_stuck(ctx: Any, *, page: int = 1000) -> list[dict[str, str]]:
    """Every stuck check, oldest first, a page at a time (each in its own transaction); one
    that a worker or another operator moved meanwhile is passed over."""
    from idp.levels.verification.service import stuck_checks

    retried = []
    last = None
    while True:
        async with ctx.db.read() as session:
            checks = await stuck_checks(session, after=last, limit=page)
        for check in checks:
            try:
                retried.append(await retry_one(ctx, check.id))
            except WrongState:
                continue
        if len(checks) < page:
            return retried
        last = checks[-1]
