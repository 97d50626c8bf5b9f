"""A case's version and the refusals of every step. `lock_version` is the
mapper's version counter: each change of a case moves it, so of two people
acting on one case at once the second is refused (StaleDispute) rather than
overwriting the first. Lower than the lifecycle, so that what the lifecycle
builds on (which files go to which furnisher) can refuse and move versions
too."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from portal.disputes.models import Dispute
from portal.i18n import N_, Refusal


class DisputeError(Refusal):
    """A step that is not allowed; the message says why."""


class IllegalTransition(DisputeError):
    pass


class StaleDispute(DisputeError):
    """Someone else changed the dispute first: reload and try again."""

    def __init__(self, dispute_id: uuid.UUID) -> None:
        super().__init__(N_("This case was changed by someone else in the meantime; reload it and try again."))
        self.dispute_id = dispute_id


def check_version(dispute: Dispute, expected_version: int | None) -> None:
    """StaleDispute when the page acted on showed an older version."""
    if expected_version is not None and expected_version != dispute.lock_version:
        raise StaleDispute(dispute.id)


def flush_dispute(session: Session, dispute: Dispute) -> None:
    dispute_id = dispute.id  # a failed flush expires the object
    try:
        session.flush()
    except StaleDataError:
        raise StaleDispute(dispute_id) from None


def touch(session: Session, dispute: Dispute) -> None:
    """Move the case's version now (an UPDATE, which also takes its row
    lock): StaleDispute if someone else moved it since it was read."""
    flag_modified(dispute, "status")
    flush_dispute(session, dispute)


__all__ = ["DisputeError", "IllegalTransition", "StaleDispute", "check_version", "flush_dispute", "touch"]
