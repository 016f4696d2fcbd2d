"""The security audit log: one row per security-relevant event, written in the same
transaction as the change it describes, so a rolled-back change leaves no false record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from idp.db.models import AuditEvent
from idp.security.network import truncated_address


def record(
    session: AsyncSession,
    event: str,
    *,
    at: datetime,
    outcome: str = "success",
    actor: str | None = None,
    account_id: object | None = None,
    client_id: str | None = None,
    ip: str | None = None,
    **details: Any,
) -> None:
    session.add(
        AuditEvent(
            at=at,
            event=event,
            outcome=outcome,
            actor=actor,
            account_id=str(account_id) if account_id is not None else None,
            client_id=client_id,
            ip=truncated_address(ip),
            details=details,
        )
    )
