"""The consent API's contract (pydantic models, documented in openapi.yaml)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ConsentItem(BaseModel):
    client_id: str
    client_name: str
    scopes: list[str] = Field(description="The scopes the person allowed the client")
    granted_at: datetime = Field(description="When the person last allowed (more) scopes")


class ConsentList(BaseModel):
    consents: list[ConsentItem]


class ConsentWithdrawn(BaseModel):
    client_id: str
    revoked_grants: int = Field(
        description="Grants of the client for this account revoked with the consent (their "
        "refresh and access tokens stop working)"
    )
