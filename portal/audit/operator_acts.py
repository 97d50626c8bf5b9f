"""The operators' journal: one row per administrator's act that is not an
access event of a subject's file (see `OperatorAct`). Written in the same
transaction as the act, by the console and the command line alike."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.audit.models import OperatorAct

PER_PAGE = 50


def record(
    session: Session,
    *,
    actor_id: uuid.UUID | None,
    action: str,
    target_kind: str,
    target: str,
    channel: str = "web",
    **detail: Any,
) -> OperatorAct:
    act = OperatorAct(
        actor_user_id=actor_id, channel=channel, action=action, target_kind=target_kind, target=target, detail=detail
    )
    session.add(act)
    session.flush()
    return act


def page_of(session: Session, page: int, per_page: int = PER_PAGE) -> tuple[Sequence[OperatorAct], int]:
    """The newest acts first, one page, and how many there are in all."""
    total = session.scalar(select(func.count()).select_from(OperatorAct)) or 0
    rows = session.scalars(
        select(OperatorAct)
        .order_by(OperatorAct.at.desc(), OperatorAct.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return rows, total
