"""``idp dev sign``: a challenge signed as a person's signing plug-in would sign it, by a
certificate the development CA makes on the spot for the account's verified SNILS and names.

Paste the output into the console's ``/account/confirm`` page or send it as ``signature`` to
``POST /api/v1/me/qes/confirmations``. Dev mode with the development CA only (exit 3
otherwise, ``Settings.runs_dev_ca``); an unknown account, or one without verified data (below
the standard level, or without a SNILS), is exit 2. The SNILS and names never reach the
output except inside the certificate, which is the point.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import uuid
from pathlib import Path
from typing import Any

from idp.cli.kit import Parser, add_json, run
from idp.errors import BadInput, NotFound, WrongState
from idp.settings import Settings

MAX_CHALLENGE = 64 * 1024


def register(commands: Any) -> None:
    dev = commands.add_parser("dev", help="development helpers (dev mode only)").add_subparsers(
        dest="dev_command", required=True, parser_class=Parser, metavar="ACTION"
    )
    sign = dev.add_parser(
        "sign",
        help="sign a challenge with a development certificate for an account's verified data",
        description="Print the base64 CMS signature over the challenge's text by a certificate "
        "the development CA issues for the account's verified SNILS and names.",
    )
    sign.add_argument("account", metavar="ACCOUNT_ID", help="the account's id")
    text = sign.add_mutually_exclusive_group(required=True)
    text.add_argument("--challenge", metavar="TEXT", help="the challenge's text, exactly")
    text.add_argument(
        "--challenge-file",
        metavar="FILE",
        help="a file holding the challenge's text (- for standard input); one trailing "
        "newline is dropped, as a challenge never ends with one",
    )
    add_json(sign)
    sign.set_defaults(func=cmd_sign)


def _account_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise BadInput(f"not an account id: {text[:64]!r}") from None


def _challenge(args: argparse.Namespace) -> bytes:
    if args.challenge is not None:
        content = str(args.challenge).encode()
    else:
        try:
            if args.challenge_file == "-":
                content = sys.stdin.buffer.read(MAX_CHALLENGE + 1)
            else:
                with Path(args.challenge_file).open("rb") as file:
                    content = file.read(MAX_CHALLENGE + 1)
        except OSError as exc:
            raise BadInput(f"--challenge-file: {exc.strerror or exc}") from None
        content = content.removesuffix(b"\n").removesuffix(b"\r")
    if not content:
        raise BadInput("the challenge is empty")
    if len(content) > MAX_CHALLENGE:
        raise BadInput(f"the challenge is longer than {MAX_CHALLENGE} bytes")
    return content


def cmd_sign(args: argparse.Namespace) -> int:
    from idp.levels.qes.errors import NoVerifiedIdentity
    from idp.levels.qes.service import holder_of
    from idp.levels.qes.signing import DevCASigner, load_dev_ca

    settings = Settings()
    ca = load_dev_ca(settings) if settings.dev_mode else None
    if ca is None:
        raise WrongState(
            "the development CA runs in dev mode only (IDP_DEV_MODE=true, "
            "IDP_SIGNATURES__DEV_CA not false)"
        )
    account_id = _account_id(args.account)
    content = _challenge(args)

    async def action(ctx: Any) -> dict[str, Any]:
        async with ctx.db.read() as session:
            try:
                holder = await holder_of(session, ctx, account_id)
            except NotFound:
                raise BadInput(f"no such account: {account_id}") from None
            except NoVerifiedIdentity:
                raise BadInput(
                    f"account {account_id} has no verified SNILS and names (the standard or "
                    "confirmed level)"
                ) from None
        signature = await DevCASigner(ca).sign(content, holder)
        return {"account": str(account_id), "signature": base64.b64encode(signature).decode()}

    out = run(action)
    print(json.dumps(out) if args.json else out["signature"])
    return 0
