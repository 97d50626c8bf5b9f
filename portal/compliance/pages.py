"""The view model of the case page: everything it shows, the subject
masked, and which of its forms the viewer gets, each asked of `policy` (the
rules the actions enforce)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal.accounts.models import Role, User
from portal.accounts.services import display_name
from portal.audit.models import AccessEvent, EventKind
from portal.compliance import policy
from portal.compliance.assignment import assignable_officers
from portal.compliance.notes import NoteView, notes
from portal.compliance.policy import Act
from portal.compliance.reveal import MaskedSubject
from portal.compliance.staff import staff_names
from portal.crypto import Vault
from portal.disputes import decisions, sharing
from portal.disputes import evidence as ev
from portal.disputes.lifecycle import days_left
from portal.disputes.models import (
    OUTCOMES,
    Answer,
    Dispute,
    DisputeItem,
    DisputeKind,
    DisputeOutcome,
    DisputeStatus,
    DisputeStep,
    Evidence,
    FurnisherResponse,
    StepKind,
)
from portal.disputes.pages import removed_label
from portal.disputes.responses import proposed_correction
from portal.institutions.models import Institution
from portal.records.models import CreditRecord, Subject
from portal.records.pages import RecordView, VersionView, proposed_view
from portal.records.pages import record_views as report_record_views
from portal.records.services import view_subject
from portal.repair.services import record_marks


@dataclass(frozen=True)
class AnswerView:
    record_id: uuid.UUID
    institution: Institution | None
    answer: Answer
    reviewed: str
    corrected_version: int | None  # once applied
    created_at: datetime
    proposed: VersionView | None = None  # a correction awaiting the decision
    proposed_on: int | None = None  # the version it was written against
    current_version: int | None = None
    outdated: bool = False  # the furnisher sent a newer version since: the proposal would undo it


@dataclass(frozen=True)
class StepView:
    at: datetime
    step: StepKind
    actor: str  # "staff", "subject" or "portal"
    actor_name: str | None  # staff only
    note: str | None


@dataclass(frozen=True)
class EvidenceView:
    id: uuid.UUID
    stored_name: str
    media_type: str
    size: int
    created_at: datetime
    removed: list[str]  # what the disarm took out before it was kept
    number: int = 0  # its place among the case's files, from 1
    name: str | None = None  # the name it was uploaded with (None: kept before names were)

    @property
    def removed_label(self) -> str:
        return removed_label(self.removed)

    @property
    def label(self) -> str:
        """The uploaded name, or a neutral label for files kept without one."""
        return self.name or _("File %(n)d", n=self.number)


@dataclass(frozen=True)
class AccessDisputed:
    occurred_at: datetime
    kind: EventKind
    institution: Institution | None
    purpose: str | None


@dataclass(frozen=True)
class CaseView:
    dispute: Dispute
    subject: MaskedSubject
    statement: str
    records: list[RecordView]
    access: AccessDisputed | None
    evidence: list[EvidenceView]
    furnishers: list[Institution]
    # For each file, the furnishers it goes to (`sharing`).
    file_recipients: dict[uuid.UUID, list[Institution]]
    # For each file the viewer may send, the furnishers it does not go to yet.
    share_to: dict[uuid.UUID, list[Institution]]
    # For each file held back from some furnisher, from which and why.
    held: dict[uuid.UUID, list[sharing.Held]]
    # What sending the case decides, file by file and furnisher by furnisher (the holder only).
    pending: list[sharing.Pending]
    # Where each record's decision starts (the holder of a case they may decide).
    starting_points: list[decisions.StartingPoint]
    answers: list[AnswerView]
    steps: list[StepView]
    notes: list[NoteView]
    days_left: int | None
    assigned_name: str | None
    # The viewer holds the case: they see the records' details, the
    # furnishers' notes and what changed.
    assigned_to_viewer: bool
    # The forms the viewer gets, each exactly when `policy` lets the action through.
    can_take: bool
    can_assign_others: bool
    officers: list[tuple[uuid.UUID, str, Role]]
    moves: list[DisputeStatus]
    can_decide: bool
    can_extend: bool
    can_share: bool
    can_note: bool
    can_reveal: bool
    can_open_files: bool
    can_recuse: bool
    outcomes: tuple[DisputeOutcome, ...]
    letter: Any  # decisions.Letter once decided
    recipients: list

    @property
    def overdue(self) -> bool:
        return self.days_left is not None and self.days_left < 0

    @property
    def paused(self) -> bool:
        return self.dispute.is_open and self.dispute.paused_since is not None


def evidence_views(session: Session, vault: Vault, dispute: Dispute) -> list[EvidenceView]:
    """The case's files in the order they came, each under the name it was uploaded with."""
    cipher = vault.cipher(session, session.get_one(Subject, dispute.subject_id).data_key_id)
    rows = session.scalars(
        select(Evidence).where(Evidence.dispute_id == dispute.id).order_by(Evidence.created_at, Evidence.id)
    )
    return [
        EvidenceView(
            e.id,
            e.stored_name,
            e.media_type,
            e.size,
            e.created_at,
            list(e.removed or []),
            n,
            ev.original_name(cipher, e),
        )
        for n, e in enumerate(rows, 1)
    ]


def case_view(session: Session, vault: Vault, dispute: Dispute, viewer: User, today: date | None = None) -> CaseView:
    """Everything the case page shows, the subject masked. The caller loaded
    the case with `load_case` and records the view (`record_case_view`)."""
    subject = session.get_one(Subject, dispute.subject_id)
    cipher = vault.cipher(session, subject.data_key_id)
    open_ = dispute.is_open
    me = policy.viewer(session, viewer)
    assigned = policy.holds(me, dispute)

    items = session.scalars(select(DisputeItem).where(DisputeItem.dispute_id == dispute.id)).all()
    record_ids = [i.record_id for i in items]
    records = (
        session.scalars(
            select(CreditRecord)
            .where(CreditRecord.id.in_(record_ids))
            .order_by(CreditRecord.created_at, CreditRecord.id)
            .options(selectinload(CreditRecord.versions))
        ).all()
        if record_ids
        else []
    )
    record_views = report_record_views(session, vault, subject, records, record_marks(session, vault, subject, records))

    access = None
    if dispute.access_event_id is not None:
        event = session.get(AccessEvent, dispute.access_event_id)
        if event is not None:
            access = AccessDisputed(
                event.occurred_at,
                EventKind(event.kind),
                session.get(Institution, event.institution_id) if event.institution_id else None,
                event.purpose,
            )

    item_records = {i.id: i.record_id for i in items}
    responses = session.scalars(
        select(FurnisherResponse)
        .where(FurnisherResponse.dispute_id == dispute.id)
        .order_by(FurnisherResponse.created_at)
    ).all()
    institutions = (
        {
            i.id: i
            for i in session.scalars(
                select(Institution).where(Institution.id.in_({r.institution_id for r in responses}))
            )
        }
        if responses
        else {}
    )
    by_id = {r.id: r for r in records}
    answers = []
    for r in responses:
        record_id = item_records[r.item_id]  # every answer is to an item of this case
        record = by_id.get(record_id)
        proposed = proposed_correction(cipher, r)
        current = record.current_version if record else None
        answers.append(
            AnswerView(
                record_id,
                institutions.get(r.institution_id),
                Answer(r.answer),
                cipher.open_field(r, "reviewed") or "",
                r.corrected_version,
                r.created_at,
                proposed_view(proposed, (current or 0) + 1, r.created_at) if proposed else None,
                r.proposed_on_version,
                current,
                record is not None and decisions.outdated(r, record),
            )
        )

    steps = session.scalars(
        select(DisputeStep).where(DisputeStep.dispute_id == dispute.id).order_by(DisputeStep.at, DisputeStep.id)
    ).all()
    actors = (
        {
            u.id: u
            for u in session.scalars(
                select(User).where(User.id.in_({s.actor_user_id for s in steps if s.actor_user_id}))
            )
        }
        if steps
        else {}
    )
    names = staff_names(session, vault, actors.keys())
    step_views = []
    for s in steps:
        actor = actors.get(s.actor_user_id) if s.actor_user_id else None
        if actor is None:
            kind, name = "portal", None
        elif Role(actor.role).is_staff:
            kind, name = "staff", names.get(actor.id)
        else:
            kind, name = "subject", None
        step_views.append(StepView(s.at, StepKind(s.step), kind, name, cipher.open_field(s, "note")))

    evidence = evidence_views(session, vault, dispute)
    assigned_name = None
    if dispute.assigned_officer_id is not None:
        holder = session.get(User, dispute.assigned_officer_id)
        assigned_name = display_name(session, vault, holder) if holder is not None else None
    can_assign_others = policy.can_assign(me, dispute)
    furnishers = sharing.case_furnishers(session, dispute.id)
    file_recipients = sharing.recipients(session, dispute, furnishers)
    facts = policy.case_facts(session, dispute)
    can_share = policy.can_act(me, dispute, Act.SHARE, facts)
    share_to = {}
    if can_share:
        for e in evidence:
            gets = {i.id for i in file_recipients.get(e.id, [])}
            if left := [i for i in furnishers if i.id not in gets]:
                share_to[e.id] = left
    can_decide = policy.can_decide(me, dispute)
    return CaseView(
        dispute=dispute,
        subject=MaskedSubject.of(view_subject(session, vault, subject)),
        statement=cipher.open_field(dispute, "statement") or "",
        records=record_views,
        access=access,
        evidence=evidence,
        furnishers=furnishers,
        file_recipients=file_recipients,
        share_to=share_to,
        held=sharing.held_back(session, cipher, dispute, furnishers),
        pending=sharing.pending(session, cipher, dispute) if assigned and open_ else [],
        starting_points=decisions.starting_points(session, vault, dispute) if can_decide else [],
        answers=answers,
        steps=step_views,
        notes=notes(session, vault, dispute),
        days_left=days_left(dispute, today) if open_ else None,
        assigned_name=assigned_name,
        assigned_to_viewer=assigned,
        can_take=policy.can_take(me, dispute),
        can_assign_others=can_assign_others,
        officers=assignable_officers(session, vault) if can_assign_others else [],
        moves=policy.moves(me, dispute, facts),
        can_decide=can_decide,
        can_extend=policy.can_act(me, dispute, Act.EXTEND),
        can_share=can_share,
        can_note=policy.can_act(me, dispute, Act.NOTE),
        can_reveal=policy.can_act(me, dispute, Act.REVEAL),
        can_open_files=policy.can_act(me, dispute, Act.OPEN_FILE),
        can_recuse=policy.can_recuse(me, dispute),
        outcomes=OUTCOMES[DisputeKind(dispute.kind)],
        letter=None if open_ else decisions.letter(session, vault, dispute),
        recipients=[] if open_ else decisions.recipients(session, dispute),
    )


__all__ = ["AccessDisputed", "AnswerView", "CaseView", "EvidenceView", "StepView", "case_view", "evidence_views"]
