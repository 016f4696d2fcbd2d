"""OpenID Connect Discovery 1.0 §3 and RFC 8414 metadata, and the JWKS (RFC 7517)."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from idp.assurance.policy import LEVEL_NAMES
from idp.clients.scopes import SCOPES_SUPPORTED
from idp.http.deps import Ctx
from idp.http.routing import ProtocolRouter
from idp.keys.store import SUPPORTED_ALGS
from idp.oidc.claims import claims_supported
from idp.oidc.client_auth import ASSERTION_ALGS
from idp.settings import Settings
from idp.web.i18n import LOCALES

router = ProtocolRouter()
AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
_PUBLIC = {"Access-Control-Allow-Origin": "*"}


def metadata(settings: Settings) -> dict[str, Any]:
    base = settings.issuer
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/authorize",
        "token_endpoint": f"{base}/token",
        "userinfo_endpoint": f"{base}/userinfo",
        "jwks_uri": f"{base}/jwks",
        "introspection_endpoint": f"{base}/introspect",
        "revocation_endpoint": f"{base}/revoke",
        "end_session_endpoint": f"{base}/logout",
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": True,
        "frontchannel_logout_session_supported": True,
        "scopes_supported": list(SCOPES_SUPPORTED),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(SUPPORTED_ALGS),
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "introspection_endpoint_auth_methods_supported": AUTH_METHODS[:3],
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": claims_supported(),
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "acr_values_supported": list(LEVEL_NAMES),
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "display_values_supported": ["page", "popup", "touch", "wap"],
        "ui_locales_supported": list(LOCALES),
        "claims_locales_supported": list(LOCALES),
        "authorization_response_iss_parameter_supported": True,
    }


@router.get("/.well-known/openid-configuration", include_in_schema=False)
async def openid_configuration(ctx: Ctx) -> JSONResponse:
    return JSONResponse(
        metadata(ctx.settings), headers={"Cache-Control": "public, max-age=300", **_PUBLIC}
    )


@router.get("/.well-known/oauth-authorization-server", include_in_schema=False)
async def oauth_metadata(ctx: Ctx) -> JSONResponse:
    return await openid_configuration(ctx)


@router.get("/jwks", include_in_schema=False)
async def jwks(ctx: Ctx) -> JSONResponse:
    return JSONResponse(
        await ctx.keys.jwks(),
        media_type="application/jwk-set+json",
        # Keys activate only after this (plus the key cache) has passed: settings.check.
        headers={"Cache-Control": f"public, max-age={ctx.settings.jwks_max_age}", **_PUBLIC},
    )
