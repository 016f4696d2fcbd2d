"""The immutable view of a client used on hot paths (cached, shared between requests)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from idp.db.models import Client


@dataclass(frozen=True, slots=True)
class ClientInfo:
    client_id: str
    name: str
    secret_hash: str | None
    auth_method: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    backchannel_logout_uri: str | None
    frontchannel_logout_uri: str | None
    frontchannel_logout_session_required: bool
    grant_types: tuple[str, ...]
    scopes: tuple[str, ...]
    min_level: str
    forbidden_confirmation_methods: tuple[str, ...]
    require_consent: bool
    id_token_signed_response_alg: str
    jwks: dict[str, Any] | None

    @property
    def is_public(self) -> bool:
        return self.auth_method == "none"

    def may_request(self, scope: str) -> bool:
        # A client that may refresh may ask for offline access without listing it: OIDC Core
        # §11 still makes the request carry prompt=consent before it counts.
        if scope == "offline_access" and "refresh_token" in self.grant_types:
            return True
        return scope in self.scopes

    @classmethod
    def from_row(cls, row: Client) -> ClientInfo:
        return cls(
            client_id=row.client_id,
            name=row.name,
            secret_hash=row.secret_hash,
            auth_method=row.auth_method,
            redirect_uris=tuple(row.redirect_uris),
            post_logout_redirect_uris=tuple(row.post_logout_redirect_uris),
            backchannel_logout_uri=row.backchannel_logout_uri,
            frontchannel_logout_uri=row.frontchannel_logout_uri,
            frontchannel_logout_session_required=row.frontchannel_logout_session_required,
            grant_types=tuple(row.grant_types),
            scopes=tuple(row.scopes),
            min_level=row.min_level,
            forbidden_confirmation_methods=tuple(row.forbidden_confirmation_methods),
            require_consent=row.require_consent,
            id_token_signed_response_alg=row.id_token_signed_response_alg,
            jwks=row.jwks,
        )
