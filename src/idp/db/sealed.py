"""Column types for personal data: sealed at rest, found only through a keyed blind index.

A ``Sealed`` column is encrypted when written and opened when read, so domain code handles
plain values and the database only ever sees ciphertext. It cannot be compared in SQL (the
ciphertext is random each time): lookups go through a ``BlindIndex`` column holding a keyed
hash of the same value, which a query compares with the plain value and the type hashes.

The vault is attached to each engine's dialect by ``attach_vault``: a type decorator sees the
dialect and nothing else of the connection, and an engine without a vault must fail loudly
rather than write plaintext.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Dialect, LargeBinary, String
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import TypeDecorator

_ATTRIBUTE = "idp_vault"


class ColumnVault(Protocol):
    def seal_column(self, field: str, value: str) -> bytes: ...
    def open_column(self, field: str, sealed: bytes) -> str: ...
    def blind_index(self, field: str, normalized_value: str) -> str: ...


class NoVault(RuntimeError):
    """Personal data touched through an engine that was given no vault."""


def attach_vault(engine: AsyncEngine | Engine, vault: ColumnVault) -> None:
    setattr(engine.dialect, _ATTRIBUTE, vault)


def _vault(dialect: Dialect) -> ColumnVault:
    vault: ColumnVault | None = getattr(dialect, _ATTRIBUTE, None)
    if vault is None:
        raise NoVault("this engine has no vault: personal data cannot be sealed or opened")
    return vault


class Sealed(TypeDecorator[str]):
    """A text value stored encrypted (AES-256-GCM, random nonce, the column in the AAD)."""

    impl = LargeBinary
    cache_ok = True

    class Comparator(TypeDecorator.Comparator[str]):
        def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
            # An equality against ciphertext silently matches nothing: refuse it outright.
            raise TypeError("a sealed column cannot be compared in SQL; use its blind index")

    comparator_factory = Comparator

    def __init__(self, field: str) -> None:
        super().__init__()
        self.field = field

    def process_bind_param(self, value: str | None, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        return _vault(dialect).seal_column(self.field, value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return _vault(dialect).open_column(self.field, bytes(value))


class SealedCode(Sealed):
    """A sealed choice stored as a fixed-length code, so the ciphertext's length does not tell
    which value it holds (``male`` and ``female`` differ by two bytes; ``M`` and ``F`` do not).
    Code reads and writes the values; only the codes reach the vault."""

    cache_ok = True

    def __init__(self, field: str, codes: tuple[tuple[str, str], ...]) -> None:
        super().__init__(field)
        if len({len(code) for _, code in codes}) != 1:
            raise ValueError("the codes of a sealed choice must all have one length")
        self.codes = codes

    def process_bind_param(self, value: str | None, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        code = dict(self.codes).get(value)
        if code is None:
            raise ValueError(f"not a value of {self.field}")  # never the value itself
        return super().process_bind_param(code, dialect)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        code = super().process_result_value(value, dialect)
        if code is None:
            return None
        return {c: v for v, c in self.codes}[code]


class BlindIndex(TypeDecorator[str]):
    """A keyed hash of a normalized value: assign and compare the plain value, store the hash."""

    impl = String(64)
    cache_ok = True

    def __init__(self, field: str) -> None:
        super().__init__()
        self.field = field

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return _vault(dialect).blind_index(self.field, value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else str(value)
