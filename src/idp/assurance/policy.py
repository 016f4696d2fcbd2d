"""Assurance levels and what a relying party may demand of them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Level(StrEnum):
    SIMPLIFIED = "simplified"
    STANDARD = "standard"
    CONFIRMED = "confirmed"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Level.SIMPLIFIED: 1, Level.STANDARD: 2, Level.CONFIRMED: 3}


class ConfirmationMethod(StrEnum):
    SERVICE_CENTER = "service_center"
    POST = "post"
    QES = "qes"


LEVEL_NAMES = tuple(level.value for level in Level)
CONFIRMATION_METHOD_NAMES = tuple(method.value for method in ConfirmationMethod)


@dataclass(frozen=True, slots=True)
class Unmet:
    reason: str  # "level" | "method"
    required: str
    actual: str | None


def check_requirements(
    *,
    level: str,
    confirmation_method: str | None,
    min_level: str,
    forbidden_methods: list[str] | tuple[str, ...],
) -> Unmet | None:
    """Whether an account may receive tokens for a client; None when it may."""
    if Level(level).rank < Level(min_level).rank:
        return Unmet("level", min_level, level)
    if level == Level.CONFIRMED and confirmation_method in forbidden_methods:
        return Unmet("method", ",".join(forbidden_methods), confirmation_method)
    return None


def level_claims(level: str, confirmation_method: str | None) -> dict[str, str]:
    """The contract's claims: ``acr`` and ``assurance_level`` name the level; the method only
    when confirmed."""
    claims = {"acr": level, "assurance_level": level}
    if level == Level.CONFIRMED and confirmation_method:
        claims["confirmation_method"] = confirmation_method
    return claims
