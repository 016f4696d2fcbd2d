"""Finding a pending authorization request (an interaction) that waits for this browser.

The login page and the self-service pages it links to (registration, password reset) both
look it up, so it sits below them; ``idp.oidc.authorize.interactions`` starts one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from idp.db.models import Interaction
from idp.security.tokens import digest, same


async def find(
    session: AsyncSession,
    now: datetime,
    interaction_id: str,
    browser_id: str | None,
    *,
    include_finished: bool = False,
) -> Interaction | None:
    """The interaction if it exists, is current, and belongs to this browser; a finished one
    only with ``include_finished`` (to repeat its answer to a second submit)."""
    if not browser_id or len(interaction_id) > 64 or "\x00" in interaction_id:
        return None  # PostgreSQL text cannot hold NUL: no such interaction exists
    row = await session.get(Interaction, interaction_id)
    if row is None or row.expires_at <= now:
        return None
    if row.finished_at is not None and not include_finished:
        return None
    if not same(row.browser_hash, digest(browser_id)):
        return None
    return row


def ui_locales(row: Interaction) -> str | None:
    """The RP's ``ui_locales`` (OIDC Core §3.1.2.1) that the pending request carries."""
    value = row.request.get("ui_locales")
    return value if isinstance(value, str) else None
