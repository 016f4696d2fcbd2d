"""What the list readers hand to ``formats``, and the value parsing they share."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

# The Russian list writes local times without an offset; they are Moscow's (UTC+3, no DST).
MOSCOW = timezone(timedelta(hours=3))


@dataclass(frozen=True, slots=True)
class ListedCA:
    """One certificate as a list gives it, before it is checked to be a CA's."""

    certificate: bytes  # DER
    name: str | None = None
    accredited_from: datetime | None = None
    accredited_until: datetime | None = None
    withdrawn: bool = False
    refusal: str | None = None  # why the list itself says it is not for e-signatures


def decode_base64(value: str | None) -> bytes | None:
    if not value:
        return None
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def parse_time(value: str | None, *, naive_zone: timezone = UTC) -> datetime | None:
    """An xsd:dateTime (``Z`` or an offset; without one, in ``naive_zone``), or None."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=naive_zone)
    return moment.astimezone(UTC)
