"""Models every REST route may answer with (documented in openapi.yaml)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CsrfToken(BaseModel):
    csrf_token: str = Field(description="Send as the X-CSRF-Token header on unsafe requests")
