"""``idp trust import|list|block``: the trust list of accredited CAs.

``import`` reads a certificate file, a directory of them, an ETSI TS 119 612 trusted list or
the Russian accredited-CA list (a path or an https URL) and makes the list agree with it: new
CAs added, windows updated, CAs the same source no longer lists withdrawn. Input that cannot be
read, names no CA, or no longer names more than 10 % of the source's CAs (unless ``--force``)
is refused in one line (exit 2) with nothing written. ``block`` distrusts one CA for good
(on-call's switch): withdrawn at once, and no later import of any list trusts it again.
"""

from __future__ import annotations

import argparse
from typing import Any

from idp.cli.kit import Parser, add_json, run, show

COLUMNS = [
    ("fingerprint", "FINGERPRINT"),
    ("name", "NAME"),
    ("source_kind", "KIND"),
    ("accredited_from", "FROM"),
    ("accredited_until", "UNTIL"),
    ("not_after", "NOT AFTER"),
    ("withdrawn_at", "WITHDRAWN"),
    ("blocked_at", "BLOCKED"),
]


def register(commands: Any) -> None:
    trust = commands.add_parser("trust", help="the trust list of accredited CAs").add_subparsers(
        dest="trust_command", required=True, parser_class=Parser, metavar="ACTION"
    )
    imports = trust.add_parser(
        "import", help="import CA certificates or a trusted list (file, directory or URL)"
    )
    imports.add_argument(
        "source",
        metavar="FILE_OR_DIR_OR_URL",
        help="certificates (PEM/DER), a directory of them, an ETSI or Russian CA list",
    )
    imports.add_argument(
        "--force",
        action="store_true",
        help="import even if the list no longer names more than 10 %% of its source's CAs",
    )
    add_json(imports)
    imports.set_defaults(func=cmd_import)

    listing = trust.add_parser("list", help="the trusted CAs")
    listing.add_argument("--all", action="store_true", help="withdrawn and blocked CAs too")
    add_json(listing)
    listing.set_defaults(func=cmd_list)

    block = trust.add_parser(
        "block", help="distrust a CA at once: withdrawn, and no list trusts it again"
    )
    block.add_argument("fingerprint", metavar="FINGERPRINT", help="its SHA-256, hex")
    add_json(block)
    block.set_defaults(func=cmd_block)


def _time(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def describe(anchor: Any) -> dict[str, Any]:
    return {
        "fingerprint": anchor.fingerprint,
        "name": anchor.name,
        "subject": anchor.subject,
        "source_kind": anchor.source_kind,
        "source": anchor.source,
        "accredited_from": _time(anchor.accredited_from),
        "accredited_until": _time(anchor.accredited_until),
        "not_after": _time(anchor.not_after),
        "withdrawn": anchor.withdrawn_at is not None,
        "withdrawn_at": _time(anchor.withdrawn_at),
        "blocked": anchor.blocked_at is not None,
        "blocked_at": _time(anchor.blocked_at),
    }


def cmd_import(args: argparse.Namespace) -> int:
    from idp.signatures.trust.service import import_parsed, read_source, source_name

    async def action(ctx: Any) -> dict[str, Any]:
        parsed = await read_source(args.source)  # refused before any transaction begins
        async with ctx.db.transaction() as session:
            report = await import_parsed(
                session, parsed, source_name(args.source), now=ctx.clock.now(), force=args.force
            )
        return report.as_dict()

    show(
        run(action),
        args.json,
        tables={
            "refused": [("entry", "ENTRY"), ("reason", "REASON")],
            "kept": [("entry", "ENTRY"), ("reason", "REASON")],
        },
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from idp.signatures.trust.service import list_anchors

    async def action(ctx: Any) -> dict[str, Any]:
        async with ctx.db.read() as session:
            anchors = await list_anchors(session, include_withdrawn=args.all)
        return {"anchors": [describe(anchor) for anchor in anchors]}

    show(run(action), args.json, rows="anchors", columns=COLUMNS)
    return 0


def cmd_block(args: argparse.Namespace) -> int:
    from idp.signatures.trust.service import block_anchor

    async def action(ctx: Any) -> dict[str, Any]:
        async with ctx.db.transaction() as session:
            report = await block_anchor(session, args.fingerprint, now=ctx.clock.now())
        return report.as_dict()

    show(run(action), args.json)
    return 0
