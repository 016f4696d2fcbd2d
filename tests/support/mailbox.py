"""Reading what the dev sink received: SMS codes and e-mail links sent to a test contact.

The outbox sends in the background, so every reader polls for a short while.
"""

from __future__ import annotations

import asyncio
import re

from sqlalchemy import func, select

from idp.context import Context
from idp.db.models import DevMessage

_CODE = re.compile(r"\b(\d{6,10})\b")
_LINK = re.compile(r"https?://\S+/confirm-email\?token=([A-Za-z0-9_-]+)")


async def last_message(ctx: Context, to: str, *, newer_than: int = 0) -> DevMessage:
    for _ in range(400):
        async with ctx.db.read() as session:
            found = (
                await session.scalars(
                    select(DevMessage)
                    .where(DevMessage.recipient == to, DevMessage.id > newer_than)
                    .order_by(DevMessage.id.desc())
                )
            ).first()
        if found is not None:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no message to {to}")


async def message_count(ctx: Context, to: str) -> int:
    async with ctx.db.read() as session:
        count = await session.scalar(
            select(func.count()).select_from(DevMessage).where(DevMessage.recipient == to)
        )
    return int(count or 0)


async def sms_code(ctx: Context, phone: str, *, newer_than: int = 0) -> tuple[str, int]:
    """The code in the latest SMS to ``phone`` and that message's id."""
    message = await last_message(ctx, phone, newer_than=newer_than)
    found = _CODE.search(message.body)
    assert found, message.body
    return found.group(1), message.id


async def email_link(ctx: Context, email: str) -> tuple[str, str]:
    """The confirmation link in the latest e-mail to ``email``, and its token."""
    message = await last_message(ctx, email)
    found = _LINK.search(message.body)
    assert found, message.body
    return found.group(0), found.group(1)
