"""Back-channel logout jobs in the words operators used before the job queue
(``idp deliveries list``): pending, delivered, rejected (the RP said 400), failed."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from idp.db.models import QueuedJob
from idp.jobs.queue import DONE, FAILED, PENDING, RUNNING
from idp.jobs.repository import listing
from idp.oidc.logout.attempt import DELIVERED, REJECTED
from idp.sessions.service import BACKCHANNEL_LOGOUT


def delivery_status(row: QueuedJob) -> str:
    if row.status in (PENDING, RUNNING):
        return "pending"
    if row.status == DONE:
        return DELIVERED
    return REJECTED if row.result == REJECTED else "failed"


async def list_deliveries(session: AsyncSession, status: str, limit: int) -> list[dict[str, Any]]:
    filters: dict[str, Any] = {
        "pending": {"statuses": [PENDING, RUNNING]},
        DELIVERED: {"statuses": [DONE]},
        REJECTED: {"statuses": [FAILED], "results": [REJECTED]},
        "failed": {"statuses": [FAILED], "exclude_results": [REJECTED]},
    }[status]
    rows = await listing(session, kind=BACKCHANNEL_LOGOUT, limit=limit, **filters)
    return [
        {
            "id": str(r.id),
            "client_id": r.ref,
            "uri": _uri(r.payload),
            "status": delivery_status(r),
            "attempts": r.attempts,
            "last_error": r.last_error,
            "created_at": r.created_at.isoformat(),
        }
        for r in rows
    ]


def _uri(payload: bytes) -> str | None:
    """The target of a back-channel payload (never sealed), or None if it cannot be read."""
    try:
        uri = json.loads(payload).get("uri")
    except (ValueError, AttributeError):  # not JSON, or JSON but not an object
        return None
    return uri if isinstance(uri, str) else None
