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
    device: str | None = Field(description="The browser's User-Agent")
    address: str | None = Field(description="The client address at login")
    created_at: datetime
    last_seen_at: datetime
    auth_time: datetime
    clients: list[ClientRef] = Field(description="Sites that received tokens in this session")


class SessionList(BaseModel):
    sessions: list[SessionView]


class EndedSessions(BaseModel):
    ended: int = Field(description="How many sessions were ended")
