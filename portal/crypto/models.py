from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, new_id, utcnow


class DataKey(Base):
    """A 256-bit data key, stored only wrapped by a key-encryption key.
    `wrapped` is NULL once destroyed (crypto-shredding)."""

    __tablename__ = "data_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    version: Mapped[int] = mapped_column(default=1)
    kek_version: Mapped[int | None] = mapped_column(index=True)
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    destroyed_at: Mapped[datetime | None]


class KekVersion(Base):
    """Each key-encryption key version this database has used, with a check
    value that detects a key file swapped for another."""

    __tablename__ = "kek_versions"

    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    check_value: Mapped[bytes] = mapped_column(LargeBinary(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KeyCheck(Base):
    """A check value per named key outside the KEK sequence (the blind-index
    key), so a replaced key file is refused instead of silently used."""

    __tablename__ = "key_checks"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    check_value: Mapped[bytes] = mapped_column(LargeBinary(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
