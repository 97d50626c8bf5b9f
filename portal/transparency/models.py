"""Storage of the log: the queue of leaves waiting to be sequenced, leaf
hashes in order, the hashes of complete subtrees by (level, index) so roots
and proofs take O(log n) reads, one head row that sequences appends, and
the signed checkpoints."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import LOG_INDEX, Base, utcnow


class LogQueue(Base):
    """A leaf waiting for the integrator: written in the transaction of the
    action it records (so no action exists without it), sequenced later in
    a batch. `ref` names what the leaf is for (an access event's id)."""

    __tablename__ = "log_queue"

    # BIGINT on PostgreSQL, INTEGER (the rowid) on SQLite: both count up.
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    ref: Mapped[uuid.UUID] = mapped_column(unique=True)
    leaf_data: Mapped[bytes] = mapped_column(LargeBinary(32))
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)


class LogHead(Base):
    """A single row (id 1). Appending updates it first, which takes its row
    lock (PostgreSQL) or the write lock (SQLite): appends are sequenced, so
    two writers never produce a fork or a gap. Only the integrator appends:
    no request waits on this row."""

    __tablename__ = "log_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(LOG_INDEX, default=0)


class LogLeaf(Base):
    __tablename__ = "log_leaves"

    index: Mapped[int] = mapped_column(LOG_INDEX, primary_key=True, autoincrement=False)
    # SHA-256(0x00 || d), d = SHA-256(salt || canonical JSON of the event).
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    # d itself, the entry the tiles API serves (a commitment: no personal
    # data). Empty for leaves appended before it was kept until
    # `portal audit fill-entries` recomputes it from the event.
    leaf_data: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    appended_at: Mapped[datetime] = mapped_column(default=utcnow)


class LogNode(Base):
    """The hash of the complete subtree of 2**level leaves starting at leaf
    index * 2**level (level 0: the leaf hashes themselves)."""

    __tablename__ = "log_nodes"

    level: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(LOG_INDEX, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class Checkpoint(Base):
    """A signed note (C2SP signed-note format) over a tree size and root."""

    __tablename__ = "checkpoints"

    size: Mapped[int] = mapped_column(LOG_INDEX, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    key_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Cosignature(Base):
    """A witness's cosignature on a checkpoint (C2SP tlog-cosignature): the
    signature line as the witness returned it, checked before it was kept."""

    __tablename__ = "checkpoint_cosignatures"

    size: Mapped[int] = mapped_column(
        LOG_INDEX, ForeignKey("checkpoints.size", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    witness: Mapped[str] = mapped_column(String(100), primary_key=True)
    # The key it was made with: a witness whose key changes under the same
    # name vouches anew, its old cosignatures count no more.
    key_id: Mapped[bytes] = mapped_column(LargeBinary(4), primary_key=True)
    line: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime] = mapped_column()  # the witness's time in the cosignature
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
