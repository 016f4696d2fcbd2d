"""Registering relying parties and changing them (the operator's ``idp clients …``).

Every change to the registry raises the clients' cache generation in its transaction
(``ClientRepository.bump_generation``): each instance's ``ClientCache`` then drops what it
holds within its recheck interval, whichever process made the change."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from idp.assurance.policy import CONFIRMATION_METHOD_NAMES, LEVEL_NAMES
from idp.audit.log import record
from idp.clients.cache import ClientCache
from idp.clients.model import ClientInfo
from idp.clients.repository import ClientRepository
from idp.clients.scopes import DEFAULT_CLIENT_SCOPES, SCOPES_SUPPORTED
from idp.clock import Clock
from idp.db.engine import Database
from idp.db.models import Client
from idp.egress.policy import uri_problem
from idp.errors import BadInput
from idp.keys.store import SUPPORTED_ALGS
from idp.security.redirect_uris import registration_problem
from idp.security.tokens import digest, new_token
from idp.settings import Settings

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
DEFAULT_GRANT_TYPES = ("authorization_code", "refresh_token")  # when none is named


@dataclass(slots=True)
class NewClient:
    name: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    backchannel_logout_uri: str | None = None
    frontchannel_logout_uri: str | None = None
    auth_method: str = "client_secret_basic"
    grant_types: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)
    min_level: str = "simplified"
    forbidden_confirmation_methods: list[str] = field(default_factory=list)
    require_consent: bool = True
    id_token_signed_response_alg: str = "ES256"
    jwks: dict[str, Any] | None = None
    client_id: str | None = None


@dataclass(frozen=True, slots=True)
class CreatedClient:
    client_id: str
    client_secret: str | None


def _check_uri(label: str, uri: str) -> None:
    problem = registration_problem(uri)
    if problem:
        raise BadInput(f"{label} {uri!r} {problem}")


def _check_logout_uri(label: str, uri: str) -> None:
    _check_uri(label, uri)
    if urlsplit(uri).scheme not in ("http", "https"):
        raise BadInput(f"{label} must be an http(s) URL")


def _check_backchannel_uri(uri: str, *, block_private_addresses: bool) -> None:
    # The delivery applies the same policy: refuse here rather than accept a client whose
    # logout tokens would never be sent.
    problem = uri_problem(uri, allow_private=not block_private_addresses)
    if problem:
        raise BadInput(f"back-channel logout URI {uri!r} {problem}")


def validate(data: NewClient, *, block_private_addresses: bool = True) -> NewClient:
    """The checked registration; ``block_private_addresses`` is ``settings.logout``'s."""
    if not data.name.strip() or len(data.name) > 200:
        raise BadInput("name must be 1 to 200 characters")
    if data.auth_method not in AUTH_METHODS:
        raise BadInput(f"auth method must be one of {', '.join(AUTH_METHODS)}")
    grant_types = data.grant_types or list(DEFAULT_GRANT_TYPES)
    for grant in grant_types:
        if grant not in GRANT_TYPES:
            raise BadInput(f"grant type {grant!r} is not supported; use {', '.join(GRANT_TYPES)}")
    if data.auth_method == "none" and "client_credentials" in grant_types:
        raise BadInput("a public client (auth method none) cannot use client_credentials")
    if "authorization_code" in grant_types and not data.redirect_uris:
        raise BadInput("at least one --redirect-uri is needed for authorization_code")
    for uri in data.redirect_uris:
        _check_uri("redirect URI", uri)
    for uri in data.post_logout_redirect_uris:
        _check_uri("post-logout redirect URI", uri)
    if data.backchannel_logout_uri:
        _check_backchannel_uri(
            data.backchannel_logout_uri, block_private_addresses=block_private_addresses
        )
    if data.frontchannel_logout_uri:
        _check_logout_uri("front-channel logout URI", data.frontchannel_logout_uri)
        front = urlsplit(data.frontchannel_logout_uri)
        origins = {(urlsplit(u).scheme, urlsplit(u).netloc) for u in data.redirect_uris}
        # Front-Channel Logout 1.0 §2: same scheme, host and port as a redirect URI.
        if (front.scheme, front.netloc) not in origins:
            raise BadInput("the front-channel logout URI must share the origin of a redirect URI")
    scopes = data.scopes or list(DEFAULT_CLIENT_SCOPES)
    for scope in scopes:
        if scope not in SCOPES_SUPPORTED:
            raise BadInput(f"scope {scope!r} is not supported; use {', '.join(SCOPES_SUPPORTED)}")
    if data.min_level not in LEVEL_NAMES:
        raise BadInput(f"min level must be one of {', '.join(LEVEL_NAMES)}")
    for method in data.forbidden_confirmation_methods:
        if method not in CONFIRMATION_METHOD_NAMES:
            raise BadInput(
                f"confirmation method must be one of {', '.join(CONFIRMATION_METHOD_NAMES)}"
            )
    if data.id_token_signed_response_alg not in SUPPORTED_ALGS:
        raise BadInput(f"ID token algorithm must be one of {', '.join(SUPPORTED_ALGS)}")
    if data.auth_method == "private_key_jwt":
        keys = (data.jwks or {}).get("keys")
        if not isinstance(keys, list) or not keys:
            raise BadInput("private_key_jwt needs --jwks with the client's public keys")
        if any(isinstance(k, dict) and ("d" in k or "p" in k) for k in keys):
            raise BadInput("--jwks must contain public keys only")
    data.grant_types = grant_types
    data.scopes = scopes
    return data


def parse_jwks(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BadInput(f"--jwks is not JSON: {exc.msg}") from exc
    if not isinstance(value, dict) or not isinstance(value.get("keys"), list):
        raise BadInput('--jwks must be a JSON object {"keys": [...]}')
    return value


def new_client_id() -> str:
    """A random client_id that never starts with "-" (a command line would read it as an
    option: ``idp clients show -x…``)."""
    while (client_id := secrets.token_urlsafe(16)).startswith("-"):
        pass
    return client_id


class Registry(Protocol):
    """What registering a client uses of the app (the ``Context`` has all three; it is not
    imported here because it holds this package's cache)."""

    @property
    def db(self) -> Database: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def clients(self) -> ClientCache: ...

    @property
    def settings(self) -> Settings: ...


async def create_client(
    ctx: Registry, data: NewClient, *, unique_name: bool = False
) -> CreatedClient:
    """Register a client. With ``unique_name`` a name another client has is refused
    (``DuplicateName``); the check and the insert are one serialised change."""
    data = validate(data, block_private_addresses=ctx.settings.logout.block_private_addresses)
    client_id = data.client_id or new_client_id()
    secret = None if data.auth_method in ("none", "private_key_jwt") else new_token(32)
    async with ctx.db.transaction() as session:
        repo = ClientRepository(session)
        await repo.bump_generation()  # first: it serialises registry changes
        if await repo.get(client_id) is not None:
            raise BadInput(f"client {client_id!r} already exists")
        if unique_name:
            await _check_name_free(repo, data.name.strip(), except_id=None)
        repo.add(
            Client(
                client_id=client_id,
                name=data.name.strip(),
                secret_hash=digest(secret) if secret else None,
                auth_method=data.auth_method,
                redirect_uris=data.redirect_uris,
                post_logout_redirect_uris=data.post_logout_redirect_uris,
                backchannel_logout_uri=data.backchannel_logout_uri,
                frontchannel_logout_uri=data.frontchannel_logout_uri,
                frontchannel_logout_session_required=True,
                grant_types=data.grant_types,
                scopes=data.scopes,
                min_level=data.min_level,
                forbidden_confirmation_methods=data.forbidden_confirmation_methods,
                require_consent=data.require_consent,
                id_token_signed_response_alg=data.id_token_signed_response_alg,
                jwks=data.jwks,
                created_at=ctx.clock.now(),
            )
        )
        record(
            session,
            "client.created",
            at=ctx.clock.now(),
            actor="operator",
            client_id=client_id,
            auth_method=data.auth_method,
            min_level=data.min_level,
        )
    ctx.clients.forget(client_id)
    return CreatedClient(client_id, secret)


async def put_builtin_client(
    session: AsyncSession, ctx: Registry, data: NewClient, *, actor: str
) -> bool:
    """Register a client that idp itself brings (the dev-mode demo) under its fixed
    ``client_id``: created if absent, otherwise brought up to ``data`` (its redirect URIs follow
    the issuer). Safe when several instances start at once: one statement inserts, the others
    update the same row. No secret (a public client). True when this call created it."""
    if data.client_id is None or data.auth_method != "none":
        raise BadInput("a built-in client has a fixed client_id and no secret")
    data = validate(data, block_private_addresses=ctx.settings.logout.block_private_addresses)
    now = ctx.clock.now()
    repo = ClientRepository(session)
    await repo.bump_generation()  # other instances drop their copy (the issuer may have moved)
    created = await repo.put(
        {
            "client_id": data.client_id,
            "name": data.name.strip(),
            "secret_hash": None,
            "auth_method": data.auth_method,
            "redirect_uris": data.redirect_uris,
            "post_logout_redirect_uris": data.post_logout_redirect_uris,
            "backchannel_logout_uri": data.backchannel_logout_uri,
            "frontchannel_logout_uri": data.frontchannel_logout_uri,
            "frontchannel_logout_session_required": True,
            "grant_types": data.grant_types,
            "scopes": data.scopes,
            "min_level": data.min_level,
            "forbidden_confirmation_methods": data.forbidden_confirmation_methods,
            "require_consent": data.require_consent,
            "id_token_signed_response_alg": data.id_token_signed_response_alg,
            "jwks": data.jwks,
            "created_at": now,
        },
        keep=("created_at",),
    )
    if created:
        record(
            session,
            "client.created",
            at=now,
            actor=actor,
            client_id=data.client_id,
            auth_method=data.auth_method,
            min_level=data.min_level,
        )
    return created  # the caller forgets the cached copy once it has committed


class DuplicateName(BadInput):
    """Another client has this name (operators tell clients apart by name)."""


class UnknownClient(BadInput):
    pass


SECRET_METHODS = ("client_secret_basic", "client_secret_post")


async def _check_name_free(repo: ClientRepository, name: str, *, except_id: str | None) -> None:
    taken = [c for c in await repo.named(name) if c != except_id]
    if taken:
        raise DuplicateName(
            f"client {taken[0]!r} is already named {name!r}; give --force to use the name again"
        )


def secret_family(auth_method: str) -> str:
    return "secret" if auth_method in SECRET_METHODS else auth_method


async def registered_clients(session: AsyncSession) -> list[ClientInfo]:
    return [ClientInfo.from_row(row) for row in await ClientRepository(session).listing()]


async def registered_client(session: AsyncSession, client_id: str) -> Client:
    row = await ClientRepository(session).get(client_id)
    if row is None:
        raise UnknownClient(f"no client with id {client_id!r}")
    return row


@dataclass(slots=True)
class ClientChanges:
    """An operator's update: None leaves a field as it is; ``clear`` empties the named
    optional fields (``post_logout_redirect_uris``, ``backchannel_logout_uri``,
    ``frontchannel_logout_uri``, ``forbidden_confirmation_methods``)."""

    name: str | None = None
    redirect_uris: list[str] | None = None
    post_logout_redirect_uris: list[str] | None = None
    backchannel_logout_uri: str | None = None
    frontchannel_logout_uri: str | None = None
    auth_method: str | None = None
    grant_types: list[str] | None = None
    scopes: list[str] | None = None
    min_level: str | None = None
    forbidden_confirmation_methods: list[str] | None = None
    require_consent: bool | None = None
    id_token_signed_response_alg: str | None = None
    jwks: dict[str, Any] | None = None
    clear: set[str] = field(default_factory=set)


CLEARABLE = (
    "post_logout_redirect_uris",
    "backchannel_logout_uri",
    "frontchannel_logout_uri",
    "forbidden_confirmation_methods",
)
_FIELDS = (
    "name",
    "redirect_uris",
    "post_logout_redirect_uris",
    "backchannel_logout_uri",
    "frontchannel_logout_uri",
    "auth_method",
    "grant_types",
    "scopes",
    "min_level",
    "forbidden_confirmation_methods",
    "require_consent",
    "id_token_signed_response_alg",
    "jwks",
)


async def update_client(
    session: AsyncSession,
    ctx: Registry,
    client_id: str,
    changes: ClientChanges,
    *,
    unique_name: bool = True,
) -> list[str]:
    """Apply ``changes`` with the checks of registration; returns the fields that changed.
    A client keeps its kind of authentication: a secret (basic or post), keys, or none."""
    repo = ClientRepository(session)
    await repo.bump_generation()  # first: it serialises registry changes
    row = await registered_client(session, client_id)
    merged: dict[str, Any] = {name: getattr(row, name) for name in _FIELDS}
    for name in _FIELDS:
        value = getattr(changes, name)
        if value is not None:
            merged[name] = value
    for name in changes.clear:
        if name not in CLEARABLE:
            raise BadInput(f"{name} cannot be cleared")
        if getattr(changes, name) is not None:
            raise BadInput(f"{name} is both given and cleared")
        merged[name] = [] if name.endswith("s") else None
    if secret_family(merged["auth_method"]) != secret_family(row.auth_method):
        raise BadInput(
            f"a client using {row.auth_method} cannot switch to {merged['auth_method']}; "
            "register a new client instead"
        )
    checked = validate(
        NewClient(**{k: (list(v) if isinstance(v, list) else v) for k, v in merged.items()}),  # type: ignore[arg-type]
        block_private_addresses=ctx.settings.logout.block_private_addresses,
    )
    values = {name: getattr(checked, name) for name in _FIELDS}
    values["name"] = checked.name.strip()
    changed = sorted(name for name in _FIELDS if values[name] != getattr(row, name))
    if not changed:
        return []
    if "name" in changed and unique_name:
        await _check_name_free(repo, values["name"], except_id=client_id)
    if not await repo.change(client_id, {name: values[name] for name in changed}):
        raise UnknownClient(f"no client with id {client_id!r}")
    record(
        session,
        "client.updated",
        at=ctx.clock.now(),
        actor="operator",
        client_id=client_id,
        fields=changed,
    )
    return changed


async def rotate_secret(session: AsyncSession, ctx: Registry, client_id: str) -> str:
    """A new secret for a client that has one; the old one stops working at once."""
    repo = ClientRepository(session)
    await repo.bump_generation()
    row = await registered_client(session, client_id)
    secret = new_token(32)
    if not await repo.replace_secret(client_id, digest(secret)):
        raise BadInput(f"client {client_id!r} uses {row.auth_method}: it has no secret")
    record(
        session, "client.secret_rotated", at=ctx.clock.now(), actor="operator", client_id=client_id
    )
    return secret


async def delete_client(session: AsyncSession, ctx: Registry, client_id: str) -> None:
    """Delete a client with its grants, consents and pending codes: its refresh and access
    tokens stop working (an access token whose grant is gone is refused)."""
    repo = ClientRepository(session)
    await repo.bump_generation()
    if not await repo.remove(client_id):
        raise UnknownClient(f"no client with id {client_id!r}")
    record(session, "client.deleted", at=ctx.clock.now(), actor="operator", client_id=client_id)
