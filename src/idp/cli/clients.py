"""``idp clients list|show|update|delete|rotate-secret`` (``create`` is in ``idp.cli``)."""

from __future__ import annotations

import argparse
from typing import Any

from idp.cli.kit import add_json, jwks_option, run, show
from idp.clients.model import ClientInfo
from idp.db.models import Client

LEVELS = ["simplified", "standard", "confirmed"]
METHODS = ["service_center", "post", "qes"]
GRANTS = ["authorization_code", "refresh_token", "client_credentials"]
CLEAR = {
    "post-logout-redirect-uri": "post_logout_redirect_uris",
    "backchannel-logout-uri": "backchannel_logout_uri",
    "frontchannel-logout-uri": "frontchannel_logout_uri",
    "forbid-confirmation-method": "forbidden_confirmation_methods",
}


def add_client_options(parser: argparse.ArgumentParser, *, creating: bool) -> None:
    """The options ``create`` and ``update`` share. For ``update`` an option left out keeps the
    registered value, and a repeatable option given replaces the whole list."""
    again = "repeat for more" if creating else "repeat for more; replaces the registered list"
    parser.add_argument(
        "--redirect-uri",
        action="append",
        metavar="URI",
        help=f"where codes are sent (exact match); {again}",
    )
    parser.add_argument(
        "--post-logout-redirect-uri",
        action="append",
        metavar="URI",
        help=f"where the browser may go after logout; {again}",
    )
    parser.add_argument(
        "--backchannel-logout-uri",
        metavar="URI",
        help="the RP's Back-Channel Logout 1.0 endpoint (https)",
    )
    parser.add_argument(
        "--frontchannel-logout-uri",
        metavar="URI",
        help="the RP's Front-Channel Logout 1.0 page (the origin of a redirect URI)",
    )
    parser.add_argument(
        "--grant-type",
        action="append",
        choices=GRANTS,
        help="a grant the client may use (default: authorization_code and refresh_token); " + again,
    )
    parser.add_argument(
        "--scope",
        action="append",
        metavar="SCOPE",
        help=f"a scope the client may request (default: openid profile email phone); {again}",
    )
    parser.add_argument(
        "--min-level",
        default="simplified" if creating else None,
        choices=LEVELS,
        help="the lowest assurance level whose accounts may log in to it",
    )
    parser.add_argument(
        "--forbid-confirmation-method",
        action="append",
        choices=METHODS,
        help=f"refuse confirmed accounts confirmed this way; {again}",
    )
    if creating:
        parser.add_argument(
            "--no-consent", action="store_true", help="never ask people for consent"
        )
    else:
        parser.add_argument(
            "--consent",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="ask people for consent (--no-consent: never ask)",
        )
    parser.add_argument(
        "--id-token-alg",
        default="ES256" if creating else None,
        choices=["ES256", "RS256", "EdDSA"],
        help="the algorithm ID tokens are signed with",
    )
    parser.add_argument(
        "--jwks", metavar="JSON|@FILE", help="public JWK Set as JSON, or @file (private_key_jwt)"
    )


def register(clients: Any) -> None:
    listing = clients.add_parser("list", help="registered relying parties")
    add_json(listing)
    listing.set_defaults(func=cmd_list)

    detail = clients.add_parser("show", help="everything registered for a client (no secret)")
    detail.add_argument("client_id", metavar="ID", help="the client_id")
    add_json(detail)
    detail.set_defaults(func=cmd_show)

    update = clients.add_parser("update", help="change a client (checked as at registration)")
    update.add_argument("client_id", metavar="ID", help="the client_id")
    update.add_argument("--name", help="a new name")
    add_client_options(update, creating=False)
    update.add_argument(
        "--auth-method",
        choices=["client_secret_basic", "client_secret_post"],
        help="switch between the two ways of sending a secret",
    )
    update.add_argument(
        "--clear",
        action="append",
        choices=list(CLEAR),
        help="remove this optional setting altogether; repeat for more",
    )
    update.add_argument(
        "--force", action="store_true", help="rename even if another client has the name"
    )
    add_json(update)
    update.set_defaults(func=cmd_update)

    delete = clients.add_parser(
        "delete", help="delete a client with its grants and consents (its tokens stop working)"
    )
    delete.add_argument("client_id", metavar="ID", help="the client_id")
    add_json(delete)
    delete.set_defaults(func=cmd_delete)

    rotate = clients.add_parser(
        "rotate-secret", help="a new client secret, printed once; the old one stops working"
    )
    rotate.add_argument("client_id", metavar="ID", help="the client_id")
    add_json(rotate)
    rotate.set_defaults(func=cmd_rotate_secret)


def summary(info: ClientInfo) -> dict[str, Any]:
    return {
        "client_id": info.client_id,
        "name": info.name,
        "auth_method": info.auth_method,
        "min_level": info.min_level,
        "grant_types": list(info.grant_types),
        "redirect_uris": len(info.redirect_uris),
    }


def details(row: Client) -> dict[str, Any]:
    """Everything registered but the secret and its hash (``has_secret`` says whether there
    is one)."""
    return {
        "client_id": row.client_id,
        "name": row.name,
        "auth_method": row.auth_method,
        "has_secret": row.secret_hash is not None,
        "redirect_uris": list(row.redirect_uris),
        "post_logout_redirect_uris": list(row.post_logout_redirect_uris),
        "backchannel_logout_uri": row.backchannel_logout_uri,
        "frontchannel_logout_uri": row.frontchannel_logout_uri,
        "frontchannel_logout_session_required": row.frontchannel_logout_session_required,
        "grant_types": list(row.grant_types),
        "scopes": list(row.scopes),
        "min_level": row.min_level,
        "forbidden_confirmation_methods": list(row.forbidden_confirmation_methods),
        "require_consent": row.require_consent,
        "id_token_signed_response_alg": row.id_token_signed_response_alg,
        "jwks": row.jwks,
        "created_at": row.created_at.isoformat(),
    }


def cmd_list(args: argparse.Namespace) -> int:
    from idp.clients.service import registered_clients

    async def action(ctx: Any) -> dict[str, Any]:
        async with ctx.db.read() as session:
            found = await registered_clients(session)
        return {"clients": [summary(info) for info in found]}

    show(
        run(action),
        args.json,
        rows="clients",
        columns=[
            ("client_id", "CLIENT ID"),
            ("name", "NAME"),
            ("auth_method", "AUTH METHOD"),
            ("min_level", "MIN LEVEL"),
            ("grant_types", "GRANT TYPES"),
        ],
    )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from idp.clients.service import registered_client

    async def action(ctx: Any) -> dict[str, Any]:
        async with ctx.db.read() as session:
            return details(await registered_client(session, args.client_id))

    show(run(action), args.json)
    return 0


def _changes(args: argparse.Namespace) -> Any:
    from idp.clients.service import ClientChanges

    jwks = jwks_option(args.jwks)
    return ClientChanges(
        name=args.name,
        redirect_uris=args.redirect_uri,
        post_logout_redirect_uris=args.post_logout_redirect_uri,
        backchannel_logout_uri=args.backchannel_logout_uri,
        frontchannel_logout_uri=args.frontchannel_logout_uri,
        auth_method=args.auth_method,
        grant_types=args.grant_type,
        scopes=args.scope,
        min_level=args.min_level,
        forbidden_confirmation_methods=args.forbid_confirmation_method,
        require_consent=args.consent,
        id_token_signed_response_alg=args.id_token_alg,
        jwks=jwks,
        clear={CLEAR[name] for name in args.clear or []},
    )


def cmd_update(args: argparse.Namespace) -> int:
    from idp.clients.service import update_client

    changes = _changes(args)

    async def action(ctx: Any) -> dict[str, Any]:
        async with ctx.db.transaction() as session:
            changed = await update_client(
                session, ctx, args.client_id, changes, unique_name=not args.force
            )
        ctx.clients.forget(args.client_id)
        return {"client_id": args.client_id, "changed": changed}

    show(run(action), args.json)
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    from idp.clients.service import delete_client

    async def action(ctx: Any) -> dict[str, Any]:
        async with ctx.db.transaction() as session:
            await delete_client(session, ctx, args.client_id)
        ctx.clients.forget(args.client_id)
        return {"client_id": args.client_id, "deleted": True}

    show(run(action), args.json)
    return 0


def cmd_rotate_secret(args: argparse.Namespace) -> int:
    from idp.clients.service import rotate_secret

    async def action(ctx: Any) -> dict[str, Any]:
        async with ctx.db.transaction() as session:
            secret = await rotate_secret(session, ctx, args.client_id)
        ctx.clients.forget(args.client_id)
        return {"client_id": args.client_id, "client_secret": secret}

    show(run(action), args.json)
    return 0
