"""Registering the demo client at start-up (dev mode only), the way an operator would."""

from __future__ import annotations

from idp.clients.service import NewClient, Registry, put_builtin_client

DEMO_CLIENT_ID = "idp-demo"
DEMO_CLIENT_NAME = "idp demo"
DEMO_SCOPES = ["openid", "profile", "email", "phone"]


def demo_client(issuer: str) -> NewClient:
    """A public client (PKCE, no secret) whose URIs live under this issuer's ``/demo``."""
    return NewClient(
        name=DEMO_CLIENT_NAME,
        client_id=DEMO_CLIENT_ID,
        redirect_uris=[f"{issuer}/demo/callback"],
        post_logout_redirect_uris=[f"{issuer}/demo"],
        auth_method="none",
        grant_types=["authorization_code", "refresh_token"],
        scopes=list(DEMO_SCOPES),
        require_consent=True,  # the demo shows the consent page a real service meets
    )


async def register_demo_client(registry: Registry) -> bool:
    """Create ``idp-demo`` or bring it up to this issuer (its redirect URIs follow the port).
    Idempotent and safe when several instances start at once. True when it was created."""
    async with registry.db.transaction() as session:
        created = await put_builtin_client(
            session, registry, demo_client(registry.settings.issuer), actor="dev-mode"
        )
    registry.clients.forget(DEMO_CLIENT_ID)  # after the commit: no stale copy cached again
    return created
