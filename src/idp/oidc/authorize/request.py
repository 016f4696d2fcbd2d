"""Validating an authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1-2).

Validation is an ordered list of small named steps. The first two decide whether the redirect
URI can be trusted; their errors are shown as a page and never redirected (RFC 6749 §4.1.2.1).
After them, errors go back to the client with ``state`` and ``iss``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from idp.assurance.policy import LEVEL_NAMES
from idp.clients.cache import ClientCache
from idp.clients.model import ClientInfo
from idp.errors import (
    ErrorForClient,
    InvalidRequest,
    InvalidScope,
    OAuthError,
    RequestNotSupported,
    RequestUriNotSupported,
    UnauthorizedClient,
    UnsupportedResponseType,
    UntrustedRedirect,
)
from idp.http.params import has_control_characters, refuse_control_characters
from idp.oidc import pkce
from idp.security.redirect_uris import matches_registered

PROMPTS = {"none", "login", "consent", "select_account"}
DISPLAYS = {"page", "popup", "touch", "wap"}


@dataclass(slots=True)
class AuthorizationRequest:
    client_id: str
    redirect_uri: str
    state: str | None = None
    scope: list[str] = field(default_factory=list)
    nonce: str | None = None
    code_challenge: str | None = None
    prompt: list[str] = field(default_factory=list)
    max_age: int | None = None
    login_hint: str | None = None
    ui_locales: str | None = None
    acr_values: list[str] = field(default_factory=list)
    display: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuthorizationRequest:
        return cls(**data)


@dataclass(slots=True)
class Draft:
    params: dict[str, str]
    client: ClientInfo | None = None
    request: AuthorizationRequest | None = None

    @property
    def state(self) -> str | None:
        state = self.params.get("state")
        # A state with control characters was refused; echoing it would hand them on.
        return None if state is None or has_control_characters(state) else state


Step = Callable[[Draft, ClientCache], Awaitable[None]]


async def find_client(draft: Draft, clients: ClientCache) -> None:
    client_id = draft.params.get("client_id")
    if not client_id:
        raise UntrustedRedirect("invalid_request", "The request has no client_id.")
    client = await clients.get(client_id)
    if client is None:
        raise UntrustedRedirect("invalid_client", "This application is not registered.")
    draft.client = client


async def trust_redirect_uri(draft: Draft, _clients: ClientCache) -> None:
    assert draft.client is not None
    uri = draft.params.get("redirect_uri")
    # OIDC Core §3.1.2.1: redirect_uri is REQUIRED, and must match a registered one exactly.
    if not uri:
        raise UntrustedRedirect("invalid_request", "The request has no redirect_uri.")
    if not matches_registered(uri, draft.client.redirect_uris, native=draft.client.is_public):
        raise UntrustedRedirect(
            "invalid_request", "The redirect_uri is not registered for this application."
        )
    draft.request = AuthorizationRequest(client_id=draft.client.client_id, redirect_uri=uri)


async def check_characters(draft: Draft, _clients: ClientCache) -> None:
    refuse_control_characters(draft.params)


async def refuse_request_objects(draft: Draft, _clients: ClientCache) -> None:
    # OIDC Core §6: an OP that does not support request objects answers with these codes.
    if "request" in draft.params:
        raise RequestNotSupported("Request objects are not supported.")
    if "request_uri" in draft.params:
        raise RequestUriNotSupported("request_uri is not supported.")


async def check_response_type(draft: Draft, _clients: ClientCache) -> None:
    assert draft.client is not None
    response_type = draft.params.get("response_type")
    if not response_type:
        raise InvalidRequest("response_type is required.")
    if response_type != "code":
        # RFC 9700 §2.1.2: no implicit or hybrid flows.
        raise UnsupportedResponseType("Only response_type=code is supported.")
    if "authorization_code" not in draft.client.grant_types:
        raise UnauthorizedClient("This client may not use the authorization code flow.")
    mode = draft.params.get("response_mode")
    if mode not in (None, "query"):
        raise InvalidRequest("Only response_mode=query is supported.")


async def check_scope(draft: Draft, _clients: ClientCache) -> None:
    assert draft.client is not None
    assert draft.request is not None
    requested = draft.params.get("scope", "").split()
    if not requested:
        raise InvalidScope("scope is required.")
    unknown = [s for s in requested if not draft.client.may_request(s)]
    if unknown:
        raise InvalidScope("A requested scope is not allowed for this client.")
    # Keep order, drop repeats.
    draft.request.scope = list(dict.fromkeys(requested))


async def check_pkce(draft: Draft, _clients: ClientCache) -> None:
    assert draft.request is not None
    challenge = draft.params.get("code_challenge")
    method = draft.params.get("code_challenge_method")
    if challenge is None:
        # PKCE is required for every client, public or confidential (RFC 9700 §2.1.1).
        raise InvalidRequest("code_challenge is required (PKCE with S256).")
    if method != "S256":
        # A missing method means "plain" (RFC 7636 §4.3), which we do not accept.
        raise InvalidRequest("code_challenge_method must be S256.")
    if not pkce.valid_challenge(challenge):
        raise InvalidRequest("code_challenge is malformed.")
    draft.request.code_challenge = challenge


async def check_oidc_parameters(draft: Draft, _clients: ClientCache) -> None:
    request = draft.request
    assert request is not None
    params = draft.params
    request.state = params.get("state")
    request.nonce = params.get("nonce")
    if request.nonce is not None and len(request.nonce) > 512:
        raise InvalidRequest("nonce is too long.")
    prompt = params.get("prompt", "").split()
    if any(p not in PROMPTS for p in prompt):
        raise InvalidRequest("prompt has an unknown value.")
    if "none" in prompt and len(prompt) > 1:
        raise InvalidRequest("prompt=none cannot be combined with other values.")
    request.prompt = prompt
    if "max_age" in params:
        raw = params["max_age"]
        if not raw.isascii() or not raw.isdigit() or len(raw) > 10:
            raise InvalidRequest("max_age must be a non-negative integer.")
        request.max_age = int(raw)
    display = params.get("display")
    if display is not None and display not in DISPLAYS:
        raise InvalidRequest("display has an unknown value.")
    request.display = display
    request.login_hint = params.get("login_hint")
    request.ui_locales = params.get("ui_locales")
    # acr_values are voluntary (OIDC Core §3.1.2.1); unknown values are ignored, and a token
    # never claims more than the account has.
    request.acr_values = [v for v in params.get("acr_values", "").split() if v in LEVEL_NAMES]


async def limit_offline_access(draft: Draft, _clients: ClientCache) -> None:
    # OIDC Core §11: offline access needs prompt=consent, else the request for it is ignored;
    # and it means a refresh token, so a client that may not refresh never gets it.
    request, client = draft.request, draft.client
    assert request is not None
    assert client is not None
    if "offline_access" in request.scope and (
        "consent" not in request.prompt or "refresh_token" not in client.grant_types
    ):
        request.scope = [s for s in request.scope if s != "offline_access"]


STEPS: tuple[Step, ...] = (
    find_client,
    trust_redirect_uri,
    check_characters,
    refuse_request_objects,
    check_response_type,
    check_scope,
    check_pkce,
    check_oidc_parameters,
    limit_offline_access,
)


async def validate(params: dict[str, str], clients: ClientCache) -> AuthorizationRequest:
    """Run the steps in order. Raises ``UntrustedRedirect`` (show a page) or ``ErrorForClient``
    (redirect the error to the client)."""
    draft = Draft(params)
    for step in STEPS:
        try:
            await step(draft, clients)
        except OAuthError as exc:
            assert draft.request is not None
            raise ErrorForClient(exc, draft.request.redirect_uri, draft.state) from exc
    assert draft.request is not None
    return draft.request
