"""The scopes a client may be registered for and the claims each releases (OIDC Core §5.4).

They live with the clients, below ``idp.oidc``, because registering a client checks them and
the protocol code reads them too.
"""

from __future__ import annotations

SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "openid": ("sub",),
    "profile": ("name", "family_name", "given_name", "middle_name", "updated_at"),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "snils": ("snils",),
    "offline_access": (),
}
SCOPES_SUPPORTED = tuple(SCOPE_CLAIMS)
DEFAULT_CLIENT_SCOPES = ("openid", "profile", "email", "phone")
