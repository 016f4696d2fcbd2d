"""The session API's contract (pydantic models, documented in openapi.yaml)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ClientRef(BaseModel):
    client_id: str
    name: str


class SessionView(BaseModel):
    id: str = Field(description="Session identifier, for ending it")
    current: bool = Field(description="This is the session making the request")
    device: str | None = Field(
        description='The browser family and system, e.g. "Firefox on Windows" (never the full '
        "User-Agent)"
    )
    address: str | None = Field(
        description="The client's network at login (IPv4 /24, IPv6 /48), never the full address"
    )
    created_at: datetime
    last_seen_at: datetime
    auth_time: datetime
    clients: list[ClientRef] = Field(description="Sites that received tokens in this session")


class SessionList(BaseModel):
    sessions: list[SessionView]


class EndedSessions(BaseModel):
    ended: int = Field(description="How many sessions were ended")
