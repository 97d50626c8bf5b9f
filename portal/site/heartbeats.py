"""The background worker's heartbeat: each `portal worker` process (and the
job thread of a one-process `portal serve`) keeps one row, stamped every
round, which readiness and the metrics read. Requests never write it."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import String, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.db import Base, utcnow

# A row not stamped for this long belongs to a process that is gone.
FORGET_AFTER = timedelta(days=1)


class WorkerHeartbeat(Base):
    __tablename__ = "worker_heartbeats"

    worker: Mapped[str] = mapped_column(String(200), primary_key=True)  # host:pid
    beat_at: Mapped[datetime] = mapped_column(default=utcnow)


def this_worker() -> str:
    return f"{socket.gethostname()[:180]}:{os.getpid()}"


def beat(session: Session, worker: str) -> None:
    """Stamp this worker's row (one per process, so no other writer races
    for it) and drop the rows of processes silent for a day. Flushes."""
    now = utcnow()
    row = session.get(WorkerHeartbeat, worker)
    if row is None:
        session.add(WorkerHeartbeat(worker=worker, beat_at=now))
    else:
        row.beat_at = now
    session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.beat_at < now - FORGET_AFTER))
    session.flush()


def newest_beat(session: Session) -> datetime | None:
    return session.scalar(select(func.max(WorkerHeartbeat.beat_at)))
