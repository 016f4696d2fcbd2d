"""Telling a person something on every confirmed contact of theirs, through the outbox in the
caller's transaction (account changes, personal data changes, the level's registry checks)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from idp.context import Context
from idp.db.models import Contact
from idp.notify import outbox


def notify_contacts(
    session: AsyncSession,
    ctx: Context,
    contacts: Iterable[Contact],
    *,
    template: str,
    locale: str,
    params: dict[str, str] | None = None,
    skip: uuid.UUID | None = None,
) -> int:
    """One message per confirmed contact (except ``skip``); returns how many were queued."""
    queued = 0
    for contact in contacts:
        if contact.confirmed_at is None or contact.id == skip:
            continue
        outbox.enqueue(
            session,
            ctx.keyring,
            channel="sms" if contact.kind == "phone" else "email",
            to=contact.value,
            template=template,
            locale=locale,
            params=params or {},
            now=ctx.clock.now(),
            settings=ctx.settings.notify,
        )
        queued += 1
    return queued


async def notify_account(
    session: AsyncSession,
    ctx: Context,
    account_id: uuid.UUID,
    *,
    template: str,
    locale: str,
    params: dict[str, str] | None = None,
) -> int:
    """One message per confirmed contact of the account; returns how many were queued."""
    contacts = await session.scalars(
        select(Contact)
        .where(Contact.account_id == account_id, Contact.confirmed_at.is_not(None))
        .order_by(Contact.kind, Contact.created_at)
    )
    return notify_contacts(session, ctx, contacts, template=template, locale=locale, params=params)
