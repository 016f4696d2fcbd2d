"""The throttling tiers: which counters a password attempt is charged to.

- A browser with a device cookie known for the account (``idp.security.devices``) is judged
  by its own counter only: strangers' failures never keep the owner out.
- Any other attempt is charged per identifier typed (each reading of it, whether or not it
  belongs to an account, so a blocked phone and a blocked e-mail answer alike), per client
  address, and per account it matched, with a generous allowance for the account
  (``per_account_free_failures``) so a stranger cannot keep its owner out for long.

Keys hold keyed hashes, never the identifier or the address itself.
"""

from __future__ import annotations

import uuid

from idp.accounts.identifiers import IdentifierKind
from idp.accounts.throttle import Counter
from idp.context import Context
from idp.db.models import Account, Contact


def identifier_label(ctx: Context, kind: IdentifierKind | str, value: str) -> str:
    # A SNILS is known to the database only by its blind index; the label uses that.
    if kind == "snils":
        return "snils:" + ctx.vault.blind_index("snils", value)
    return f"{kind}:{value}"


def identifier_key(ctx: Context, label: str) -> str:
    return "id:" + ctx.vault.blind_index("throttle", label)[:48]


def address_key(ctx: Context, ip: str | None) -> str:
    return "ip:" + ctx.vault.blind_index("throttle", f"ip:{ip or 'unknown'}")[:48]


def account_key(account_id: uuid.UUID) -> str:
    return f"acct:{account_id}"


def device_key(ctx: Context, device: str, account_id: uuid.UUID) -> str:
    return "dev:" + ctx.devices.counter_id(device, account_id)


def for_stranger(
    ctx: Context, labels: list[str], ip: str | None, accounts: list[Account]
) -> list[Counter]:
    settings = ctx.settings.throttle
    return [
        *(Counter(identifier_key(ctx, label), settings.free_failures) for label in labels),
        Counter(address_key(ctx, ip), settings.per_address_free_failures, False),
        *(Counter(account_key(a.id), settings.per_account_free_failures) for a in accounts),
    ]


def for_device(ctx: Context, device: str, accounts: list[Account]) -> list[Counter]:
    free = ctx.settings.throttle.free_failures
    return [Counter(device_key(ctx, device, a.id), free) for a in accounts]


def cleared_by_login(ctx: Context, labels: list[str], account: Account) -> set[str]:
    """What a successful stranger-tier login clears: the identifiers typed and the account."""
    return {*(identifier_key(ctx, label) for label in labels), account_key(account.id)}


def account_counters(ctx: Context, account: Account, contacts: list[Contact]) -> list[str]:
    """Every counter strangers may have filled for an account (a password reset clears them)."""
    labels = [f"{c.kind}:{c.value}" for c in contacts if c.confirmed_at is not None]
    if account.snils_bidx:
        labels.append("snils:" + account.snils_bidx)
    return [*(identifier_key(ctx, label) for label in labels), account_key(account.id)]
