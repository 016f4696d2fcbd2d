"""How many code and link messages may go out, so that nobody can pump SMS at our cost or
starve a person of the codes they need.

Three caps, each an hourly window counted in the database (``send_counters``), taken
atomically with a guarded upsert (``idp.notify.send_counters``) in the sender's transaction:

- per purpose and target: registration codes to a phone never use up that phone's reset codes;
- per sender: a client address for unauthenticated sends (registration, reset), the account
  for its own contacts, whatever the targets (one address cannot reach many numbers);
- the paid-SMS budget across every instance, purpose and target
  (``IDP_NOTIFY__SMS_HOURLY_BUDGET``); reaching it is logged once per window and counted in
  ``idp_sms_budget_reached_total``, each refusal in ``idp_sms_budget_refused_total``.

A send refused by one cap takes nothing from the others. Keys are keyed hashes: the table
never holds a phone, an address or a client address.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from idp.metrics import Counter
from idp.notify import send_counters
from idp.notify.protocol import Channel
from idp.security.sealing import Keyring
from idp.settings import Settings

HOUR = timedelta(hours=1)
BUDGET_KEY = "sms-budget"

log = logging.getLogger("idp.notify.caps")
budget_reached = Counter(
    "idp_sms_budget_reached_total", "Hourly windows in which the paid-SMS budget was spent"
)
budget_refused = Counter(
    "idp_sms_budget_refused_total", "Code messages refused because the SMS budget was spent"
)


class SendCapped(Exception):
    """A cap refused the send; nothing was counted. ``budget``: the SMS budget did."""

    def __init__(self, retry_after: int, *, budget: bool = False) -> None:
        super().__init__(f"send capped, retry after {retry_after} s")
        self.retry_after = retry_after
        self.budget = budget


def cap_key(keyring: Keyring, scope: str, value: str) -> str:
    mac = hmac.new(keyring.subkey("send-caps"), f"{scope}\0{value}".encode(), hashlib.sha256)
    return f"{scope[:40]}:{mac.hexdigest()[:48]}"


async def _take(
    session: AsyncSession, key: str, limit: int, now: datetime, *, budget: bool = False
) -> int:
    sent = await send_counters.take(session, key, limit, now, HOUR)
    if sent is not None:
        return sent
    started = await send_counters.window_start(session, key)
    wait = (started + HOUR - now).total_seconds() if started else HOUR.total_seconds()
    raise SendCapped(max(1, math.ceil(wait)), budget=budget)


async def count(
    session: AsyncSession, keyring: Keyring, scope: str, value: str, limit: int, now: datetime
) -> None:
    """One hourly counter on any key (e.g. password resets asked per login)."""
    await _take(session, cap_key(keyring, scope, value), limit, now)


async def reserve(
    session: AsyncSession,
    keyring: Keyring,
    settings: Settings,
    *,
    purpose: str,
    channel: Channel,
    target: str,
    sender: str | None,
    now: datetime,
) -> None:
    """Count one code or link message, or raise ``SendCapped`` having counted nothing.

    ``sender`` is ``address:<client address>`` or ``account:<id>``; None when unknown."""
    verification = settings.verification
    taken: list[str] = []
    try:
        # Always in this order (sender, target, budget), so that two transactions never wait
        # for each other's counters in a cycle on PostgreSQL.
        if sender is not None:
            key = cap_key(keyring, "sender", sender)
            await _take(session, key, verification.max_sends_per_sender_per_hour, now)
            taken.append(key)
        key = cap_key(keyring, f"target:{purpose}", target)
        await _take(session, key, verification.max_sends_per_hour, now)
        taken.append(key)
        if channel == "sms":
            limit = settings.notify.sms_hourly_budget
            if await _take(session, BUDGET_KEY, limit, now, budget=True) == limit:
                # Once per window across instances: only one send reaches the limit exactly.
                budget_reached.inc()
                log.warning(
                    "the hourly SMS budget of %d messages is spent; code messages are refused "
                    "until the window ends",
                    limit,
                )
    except SendCapped as capped:
        for key in taken:
            await send_counters.give_back(session, key)
        if capped.budget:
            budget_refused.inc()
        raise
