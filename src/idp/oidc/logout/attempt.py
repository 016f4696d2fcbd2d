"""One try at delivering a logout token to one relying party: what is sent, and how it went."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

PENDING, DELIVERED, REJECTED = "pending", "delivered", "rejected"


@dataclass(frozen=True, slots=True)
class Job:
    id: uuid.UUID
    client_id: str
    uri: str
    sub: str
    sid: str
    alg: str  # the client's ID token algorithm signs its logout tokens too
    jti: str
    iat: int


@dataclass(frozen=True, slots=True)
class Outcome:
    job_id: uuid.UUID
    status: str  # DELIVERED, REJECTED, or PENDING (try again)
    error: str | None = None
