from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.db.base import Base


class CacheGeneration(Base):
    """One counter per cache that instances share: raised in the transaction of every change
    to what the cache holds; an instance that sees it move drops its cached copies."""

    __tablename__ = "cache_generations"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger)
