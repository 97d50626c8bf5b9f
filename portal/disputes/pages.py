"""The subject's side of disputes, as view models: the dispute page (timeline, evidence, letter, who was told,
statements); the filing page's choices are in `choices`, the list in
`listing`. Each builder that shows the
subject's data writes the access event of that view, in the caller's
transaction (services flush, never commit). Authorisation happened before:
builders take the `SubjectAccess` and the objects that `portal.accounts.authz`
loaded. What the subject does from these pages is in `actions`."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.authz import SubjectAccess
from portal.accounts.models import Role, User
from portal.audit.events import open_detail, record_event
from portal.audit.models import AccessEvent, EventKind
from portal.crypto import Vault
from portal.disputes import evidence as ev
from portal.disputes import lifecycle, services, sharing
from portal.disputes.choices import EventSummary, RecordChoice, event_summary, record_choices
from portal.disputes.letter import Letter, NoticeView, letter, recipients
from portal.disputes.models import (
    Dispute,
    DisputeItem,
    DisputeOutcome,
    DisputeReason,
    DisputeStatus,
    DisputeStep,
    Evidence,
    RecordStatement,
    StepKind,
)
from portal.disputes.names import (
    MEDIA_NAMES,
    STEP_NAMES,
    WHO_NAMES,
    Labelled,
    days_phrase,
    outcome_label,
    short_reference,
)
from portal.disputes.statements import MAX_STATEMENT as MAX_RECORD_STATEMENT
from portal.disputes.statements import statements_for
from portal.institutions.models import Institution
from portal.records.pages import SubjectHeader
from portal.records.services import view_subject

MAX_NOTE = lifecycle.MAX_NOTE
MAX_STATEMENT = services.MAX_STATEMENT


def log_view(
    session: Session, vault: Vault, user: User, access: SubjectAccess, kind: EventKind, **detail: Any
) -> AccessEvent:
    """The access event of a view or download; an agent's names the delegation."""
    detail["role"] = Role(user.role).value
    if access.delegation is not None:
        detail["via_delegation"] = str(access.delegation.id)
    return record_event(session, vault, access.subject, kind, channel="web", actor_user_id=user.id, detail=detail)


# -- the dispute page ------------------------------------------------------------------
@dataclass(frozen=True)
class StepLine:
    at: datetime
    step: StepKind
    who: str  # a key of WHO_NAMES: officers are never named
    note: str | None
    detail: dict[str, Any]

    @property
    def who_label(self) -> str:
        return str(WHO_NAMES[self.who])

    @property
    def what(self) -> str:
        if self.step is StepKind.EXTENDED and isinstance(self.detail.get("days"), int):
            return ngettext(
                "Deadline extended by %(num)d day", "Deadline extended by %(num)d days", self.detail["days"]
            )
        if (
            self.step is StepKind.EVIDENCE_ADDED
            and isinstance(self.detail.get("evidence"), int)
            and self.detail["evidence"]
        ):
            return ngettext("%(num)d file added", "%(num)d files added", self.detail["evidence"])
        if self.step is StepKind.RESOLVED and self.detail.get("outcome"):
            return _("Decided: %(outcome)s", outcome=outcome_label(self.detail["outcome"]))
        return str(STEP_NAMES.get(self.step, self.step.value))


def removed_label(removed: list[str]) -> str:
    """What the disarm took out of a file, in the reader's language."""
    return ", ".join(_(r) for r in removed)


@dataclass(frozen=True)
class EvidenceLine:
    id: uuid.UUID
    number: int
    media_type: str
    size: int
    created_at: datetime
    by_you: bool
    # The furnishers the file went to, once the case was sent for checking.
    sent_to: list[Institution] = field(default_factory=list)
    # What the disarm removed before storing it (catalog messages).
    removed: list[str] = field(default_factory=list)
    name: str | None = None  # the name it was uploaded with (None: kept before names were)
    # The furnishers the officer held it back from, and why, once the case was sent.
    held_from: list[sharing.Held] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.name or _("File %(n)d", n=self.number)

    @property
    def removed_label(self) -> str:
        return removed_label(self.removed)

    @property
    def kind_label(self) -> str:
        return MEDIA_NAMES.get(self.media_type, self.media_type)

    @property
    def size_label(self) -> str:
        if self.size >= 1024 * 1024:
            return _("%(n)s MB", n=f"{self.size / (1024 * 1024):.1f}")
        return _("%(n)s kB", n=max(1, math.ceil(self.size / 1024)))


@dataclass(frozen=True)
class RecordLine:
    record: RecordChoice
    statements: list[str]
    can_add_statement: bool  # after "verified as accurate", once per record and dispute


@dataclass
class DisputePage(Labelled):
    id: uuid.UUID
    reference: str
    subject: SubjectHeader
    status: DisputeStatus
    reason: DisputeReason
    outcome: DisputeOutcome | None
    filed_at: datetime
    due_on: date
    days_left: int
    paused: bool
    lock_version: int
    statement: str
    records: list[RecordLine]
    event: EventSummary | None
    timeline: list[StepLine]
    evidence: list[EvidenceLine]
    request: str | None  # what the officer asked for, while waiting for the subject
    extensions: list[StepLine]
    letter: Letter | None = None
    recipients: list[NoticeView] = field(default_factory=list)

    @property
    def waiting_for_you(self) -> bool:
        return self.status is DisputeStatus.WAITING_FOR_SUBJECT

    @property
    def days_phrase(self) -> str:
        return days_phrase(self.days_left)

    @property
    def files_left(self) -> int:
        return max(0, ev.MAX_FILES - len(self.evidence))

    def record(self, record_id: uuid.UUID) -> RecordChoice | None:
        return next((r.record for r in self.records if r.record.id == record_id), None)


def _who(step: DisputeStep, roles: dict[uuid.UUID, Role], events: dict[uuid.UUID, AccessEvent]) -> str:
    if step.actor_user_id is not None:
        return "officer" if roles.get(step.actor_user_id, Role.OFFICER).is_staff else "you"
    event = events.get(step.event_id) if step.event_id else None
    if (event is not None and event.institution_id is not None) or step.step is StepKind.FURNISHER_ANSWERED:
        return "furnisher"
    return "portal"


def dispute_page(
    session: Session, vault: Vault, user: User, access: SubjectAccess, dispute: Dispute, log: bool = True
) -> DisputePage:
    subject = access.subject
    cipher = vault.cipher(session, subject.data_key_id)
    steps = session.scalars(
        select(DisputeStep).where(DisputeStep.dispute_id == dispute.id).order_by(DisputeStep.at, DisputeStep.id)
    ).all()
    events = (
        {
            e.id: e
            for e in session.scalars(
                select(AccessEvent).where(AccessEvent.id.in_([s.event_id for s in steps if s.event_id]))
            )
        }
        if steps
        else {}
    )
    roles = {
        u.id: Role(u.role)
        for u in session.scalars(
            select(User).where(
                User.id.in_({s.actor_user_id for s in steps if s.actor_user_id} | {dispute.filed_by_user_id})
            )
        )
    }
    timeline = []
    for step in steps:
        event = events.get(step.event_id) if step.event_id else None
        detail = open_detail(cipher, event)[0] if event is not None else {}
        timeline.append(
            StepLine(step.at, StepKind(step.step), _who(step, roles, events), cipher.open_field(step, "note"), detail)
        )
    items = session.scalars(select(DisputeItem).where(DisputeItem.dispute_id == dispute.id)).all()
    record_ids = [i.record_id for i in items]
    verified = {i.record_id for i in items if i.decided(dispute) == DisputeOutcome.VERIFIED_ACCURATE}
    choices = record_choices(session, vault, subject, record_ids, include_deleted=True)
    statements = statements_for(session, vault, subject, record_ids)
    stated = set(session.scalars(select(RecordStatement.record_id).where(RecordStatement.dispute_id == dispute.id)))
    lines = [
        RecordLine(c, statements.get(c.id, []), c.id in verified and c.id not in stated and not c.deleted)
        for c in choices
    ]
    files = session.scalars(
        select(Evidence).where(Evidence.dispute_id == dispute.id).order_by(Evidence.created_at, Evidence.id)
    ).all()
    uploaders = (
        {
            u.id: Role(u.role)
            for u in session.scalars(
                select(User).where(User.id.in_({f.uploaded_by_user_id for f in files if f.uploaded_by_user_id}))
            )
        }
        if files
        else {}
    )
    was_sent = sharing.forwarded(session, [dispute.id])
    sent = sharing.recipients(session, dispute) if was_sent else {}
    held = sharing.held_back(session, cipher, dispute) if was_sent else {}
    evidence = [
        EvidenceLine(
            f.id,
            n,
            f.media_type,
            f.size,
            f.created_at,
            f.uploaded_by_user_id is not None and not uploaders.get(f.uploaded_by_user_id, Role.OFFICER).is_staff,
            sent.get(f.id, []),
            list(f.removed or []),
            ev.original_name(cipher, f),
            held.get(f.id, []),
        )
        for n, f in enumerate(files, 1)
    ]
    status = DisputeStatus(dispute.status)
    asked = [s for s in timeline if s.step is StepKind.WAITING_FOR_SUBJECT]
    page = DisputePage(
        dispute.id,
        short_reference(dispute.id),
        SubjectHeader.of(view_subject(session, vault, subject)),
        status,
        DisputeReason(dispute.reason),
        DisputeOutcome(dispute.outcome) if dispute.outcome else None,
        dispute.filed_at,
        dispute.due_on,
        lifecycle.days_left(dispute),
        dispute.paused_since is not None,
        dispute.lock_version,
        services.statement(session, vault, dispute),
        lines,
        event_summary(session, session.get(AccessEvent, dispute.access_event_id) if dispute.access_event_id else None),
        timeline,
        evidence,
        asked[-1].note if asked and status is DisputeStatus.WAITING_FOR_SUBJECT else None,
        [s for s in timeline if s.step is StepKind.EXTENDED],
    )
    if status is DisputeStatus.RESOLVED:
        page.letter = letter(session, vault, dispute)
        page.recipients = recipients(session, dispute)
    if log:
        log_view(session, vault, user, access, EventKind.SELF_QUERY, what="dispute", dispute_id=str(dispute.id))
    return page


__all__ = [
    "MAX_NOTE",
    "MAX_RECORD_STATEMENT",
    "MAX_STATEMENT",
    "DisputePage",
    "dispute_page",
    "log_view",
    "short_reference",
]
