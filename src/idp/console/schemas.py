"""The sign-in history's contract (pydantic models, documented in openapi.yaml)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class SignInItem(BaseModel):
    at: datetime
    device: str | None = Field(
        description='The browser family and system, e.g. "Firefox on Windows" (never the full '
        "User-Agent); null for logins recorded before it was kept"
    )
    network: str | None = Field(
        description="The client's network (IPv4 /24, IPv6 /48), never the full address"
    )
    current: bool = Field(description="This login started the session making the request")
    via: str | None = Field(
        description="Where the login happened: page (an RP's login page), console, api, "
        "registration"
    )


class SignInList(BaseModel):
    sign_ins: list[SignInItem] = Field(description="Newest first, at most the last 20")
