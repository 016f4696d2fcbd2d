"""Scopes and the claims they release (OIDC Core §5.4), plus our own level claims."""

from __future__ import annotations

from typing import Any

from idp.assurance.policy import level_claims
from idp.clients.scopes import SCOPE_CLAIMS
from idp.db.models import Account, Contact
from idp.security.pii import PersonalDataVault

LEVEL_CLAIMS = ("acr", "assurance_level", "confirmation_method")


def claims_supported() -> list[str]:
    names = {claim for claims in SCOPE_CLAIMS.values() for claim in claims}
    names.update(LEVEL_CLAIMS)
    names.update({"iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "sid", "azp"})
    return sorted(names)


def user_claims(
    account: Account,
    contacts: list[Contact],
    scopes: set[str],
    vault: PersonalDataVault,
) -> dict[str, Any]:
    claims: dict[str, Any] = {"sub": account.sub}
    claims.update(level_claims(account.level, account.confirmation_method))
    if "profile" in scopes:
        parts = [account.last_name, account.first_name, account.middle_name]
        claims["name"] = " ".join(p for p in parts if p)
        claims["family_name"] = account.last_name
        claims["given_name"] = account.first_name
        if account.middle_name:
            claims["middle_name"] = account.middle_name
        claims["updated_at"] = int(account.updated_at.timestamp())
    confirmed = {c.kind: c for c in contacts if c.confirmed_at is not None}
    if "email" in scopes and "email" in confirmed:
        claims["email"] = confirmed["email"].value
        claims["email_verified"] = True
    if "phone" in scopes and "phone" in confirmed:
        claims["phone_number"] = confirmed["phone"].value
        claims["phone_number_verified"] = True
    if "snils" in scopes and account.snils_enc is not None:
        claims["snils"] = vault.decrypt("snils", account.snils_enc, str(account.id))
    return claims
