"""What officers see of the subject, and what each look costs: screens show
the name and identifier masked; revealing them needs a reason, and
revealing, opening a case (once a day per officer) and downloading a file
are each an access event the subject sees. Services flush, never commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import Role, User
from portal.audit.events import open_detail, record_event
from portal.audit.models import AccessEvent, EventKind
from portal.compliance import policy
from portal.compliance.policy import Act
from portal.crypto import Vault
from portal.db import utcnow
from portal.disputes.evidence import read as read_evidence
from portal.disputes.lifecycle import DisputeError
from portal.disputes.models import Dispute
from portal.i18n import N_
from portal.localtime import day_of, zone
from portal.records.models import Subject, SubjectKind
from portal.records.pages import mask_identifier as mask
from portal.records.services import SubjectView, view_subject

MAX_REVEAL_REASON = 500


def mask_name(name: str) -> str:
    """The first character and two asterisks, whatever the length: 张**, A**."""
    name = (name or "").strip()
    return (name[:1] or "*") + "**"


def mask_identifier(identifier: str) -> str:
    """Officers see less than the subject: the first four and the last two
    characters."""
    return mask(identifier, head=4, tail=2)


@dataclass(frozen=True)
class MaskedSubject:
    kind: SubjectKind
    name: str
    identifier: str

    @classmethod
    def of(cls, view: SubjectView) -> MaskedSubject:
        return cls(view.kind, mask_name(view.name), mask_identifier(view.identifier))


def reveal(session: Session, vault: Vault, dispute: Dispute, officer: User, reason: str) -> SubjectView:
    """The subject's name and identifier in clear, for the officer the case
    is assigned to, with a reason. Written as an access event the subject
    sees (the reason and the case in its detail)."""
    policy.require(policy.act_refusal(officer, dispute, Act.REVEAL))
    reason = (reason or "").strip()
    if not reason:
        raise DisputeError(N_("Say why you need to see the name and identifier."))
    if len(reason) > MAX_REVEAL_REASON:
        raise DisputeError(
            N_("The reason is at most %(max)d characters (%(given)d given)."), max=MAX_REVEAL_REASON, given=len(reason)
        )
    subject = session.get_one(Subject, dispute.subject_id)
    view = view_subject(session, vault, subject)
    record_event(
        session,
        vault,
        subject,
        EventKind.IDENTITY_REVEALED,
        channel="staff",
        actor_user_id=officer.id,
        detail={"dispute_id": str(dispute.id), "reason": reason, "role": Role(officer.role).value},
    )
    return view


def record_case_view(
    session: Session, vault: Vault, dispute: Dispute, officer: User, now: datetime | None = None
) -> AccessEvent | None:
    """The CASE_VIEWED event of an officer opening a case: at most one per
    officer, case and day, so working a case does not flood the
    subject's log. Returns the event written, or None."""
    now = now or utcnow()
    subject = session.get_one(Subject, dispute.subject_id)
    cipher = vault.cipher(session, subject.data_key_id)
    today = datetime.combine(day_of(now), time.min, zone())
    for event in session.scalars(
        select(AccessEvent).where(
            AccessEvent.subject_id == subject.id,
            AccessEvent.kind == EventKind.CASE_VIEWED,
            AccessEvent.actor_user_id == officer.id,
            AccessEvent.occurred_at >= today,
        )
    ):
        detail, _salt = open_detail(cipher, event)
        if detail.get("dispute_id") == str(dispute.id) and detail.get("what") == "case":
            return None
    return record_event(
        session,
        vault,
        subject,
        EventKind.CASE_VIEWED,
        channel="staff",
        actor_user_id=officer.id,
        detail={"dispute_id": str(dispute.id), "what": "case", "role": Role(officer.role).value},
    )


def evidence_file(
    session: Session, vault: Vault, dispute: Dispute, officer: User, evidence_id: uuid.UUID
) -> tuple[bytes, str, str]:
    """(content, media type, stored name) of one file of the case, for the
    officer it is assigned to; every download is an access event. Raises
    NotAssigned, or CaseNotFound for a file of another case."""
    policy.require(policy.act_refusal(officer, dispute, Act.OPEN_FILE))
    row = policy.load_file(session, dispute, evidence_id)
    subject = session.get_one(Subject, dispute.subject_id)
    content = read_evidence(vault.cipher(session, subject.data_key_id), row)
    record_event(
        session,
        vault,
        subject,
        EventKind.CASE_VIEWED,
        channel="staff",
        actor_user_id=officer.id,
        detail={
            "dispute_id": str(dispute.id),
            "what": "evidence",
            "evidence_id": str(row.id),
            "role": Role(officer.role).value,
        },
    )
    return content


__all__ = [
    "MAX_REVEAL_REASON",
    "MaskedSubject",
    "evidence_file",
    "mask_identifier",
    "mask_name",
    "record_case_view",
    "reveal",
]
