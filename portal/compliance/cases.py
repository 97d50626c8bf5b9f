"""The officers' side of disputes: who may see and act on which case, the
queue, the case page's view model, notes between officers, and the masked
subject with its audited reveal.

Any staff user may see a case read-only, unless they are linked to its
subject (a declared conflict, their own file, a firm they act or acted
for): then the case does not exist for them. Only the officer the case is
assigned to acts on it. Officer screens show the subject masked; revealing
the name and identifier needs a reason and is an access event the subject
sees. Services flush, never commit."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from portal.accounts.models import FirmDelegation, Role, User
from portal.accounts.services import display_name
from portal.audit.events import open_detail, record_event
from portal.audit.models import AccessEvent, EventKind
from portal.crypto import Vault
from portal.db import new_id, utcnow
from portal.disputes import decisions, sharing
from portal.disputes.evidence import read as read_evidence
from portal.disputes.lifecycle import (
    TRANSITIONS,
    DisputeError,
    StaleDispute,
    advance,
    days_left,
    extend,
    touch,
    write_step,
)
from portal.disputes.models import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    OUTCOMES,
    Answer,
    Dispute,
    DisputeItem,
    DisputeKind,
    DisputeNote,
    DisputeOutcome,
    DisputeReason,
    DisputeStatus,
    DisputeStep,
    Evidence,
    FurnisherResponse,
    OfficerConflict,
    StepKind,
)
from portal.disputes.responses import proposed_correction
from portal.i18n import N_
from portal.institutions.models import Institution
from portal.localtime import day_of, zone
from portal.localtime import today as local_today
from portal.records.models import Category, CreditRecord, Subject, SubjectKind
from portal.records.pages import RecordView, VersionView, proposed_view
from portal.records.pages import mask_identifier as mask
from portal.records.pages import record_views as report_record_views
from portal.records.services import SubjectView, view_subject
from portal.repair.services import record_marks

PAGE_SIZE = 25
MAX_NOTE = 2000
MAX_REVEAL_REASON = 500
# Who may hold a case; administrators and the rest of the staff see cases read-only.
CASE_ROLES = frozenset({Role.OFFICER, Role.SUPERVISOR})
# Where an officer may move a case with a button; resolving goes through
# `decisions.decide`, withdrawing belongs to the subject.
OFFICER_MOVES = frozenset({DisputeStatus.ACKNOWLEDGED, DisputeStatus.UNDER_REVIEW,
                           DisputeStatus.WAITING_FOR_FURNISHER, DisputeStatus.WAITING_FOR_SUBJECT})
S = DisputeStatus


class CaseNotFound(LookupError):
    """No such case, or one the actor may not see (answer 404)."""


class NotAssigned(DisputeError):
    """The actor sees the case but it is not assigned to them."""

    def __init__(self) -> None:
        super().__init__(N_("Take this case before acting on it; until then you see it read-only."))


class AssignmentRefused(DisputeError):
    pass


# -- who may see what ----------------------------------------------------------------
def linked_subjects(session: Session, officer: User) -> set[uuid.UUID]:
    """The subjects an officer is linked to: declared conflicts, their own
    file, and every firm they hold (or held, or granted) a delegation for."""
    ids = set(session.scalars(select(OfficerConflict.subject_id)
                              .where(OfficerConflict.officer_user_id == officer.id)))
    if officer.subject_id is not None:
        ids.add(officer.subject_id)
    ids.update(session.scalars(select(FirmDelegation.firm_id).where(
        or_(FirmDelegation.agent_id == officer.id, FirmDelegation.granted_by_id == officer.id))))
    return ids


def is_linked(session: Session, officer: User, subject_id: uuid.UUID) -> bool:
    return subject_id in linked_subjects(session, officer)


def declare_conflict(session: Session, vault: Vault, officer: User, subject: Subject) -> int:
    """Record that `officer` is linked to `subject`; the open cases of the
    subject they hold go back to the queue, each with a timeline step (and
    a new version, so pages showing the old holder are stale). Returns how
    many."""
    if session.scalar(select(OfficerConflict.id).where(OfficerConflict.officer_user_id == officer.id,
                                                       OfficerConflict.subject_id == subject.id)) is None:
        session.add(OfficerConflict(officer_user_id=officer.id, subject_id=subject.id))
    held = session.scalars(select(Dispute).where(Dispute.subject_id == subject.id,
                                                 Dispute.assigned_officer_id == officer.id,
                                                 Dispute.status.in_(OPEN_STATUSES))).all()
    for dispute in held:
        dispute.assigned_officer_id = None
        touch(session, dispute)
        write_step(session, vault, dispute, StepKind.RELEASED, None, None,
                   {"previous_officer_id": str(officer.id), "why": "conflict_declared"}, touch=False)
    session.flush()
    return len(held)


def withdraw_conflict(session: Session, officer: User, subject: Subject) -> bool:
    """Remove a declaration made in error; False when there was none."""
    row = session.scalar(select(OfficerConflict).where(OfficerConflict.officer_user_id == officer.id,
                                                       OfficerConflict.subject_id == subject.id))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def conflicts_of(session: Session, officer: User) -> list[tuple[OfficerConflict, Subject]]:
    """The subjects `officer` declared, oldest declaration first."""
    return [(row, subject) for row, subject in session.execute(
        select(OfficerConflict, Subject).join(Subject, Subject.id == OfficerConflict.subject_id)
        .where(OfficerConflict.officer_user_id == officer.id).order_by(OfficerConflict.declared_at))]


def load_case(session: Session, viewer: User, dispute_id: uuid.UUID) -> Dispute:
    """The case, if `viewer` may see it: an officer or supervisor, not
    linked to the subject, and the subject still on file. Raises
    CaseNotFound otherwise."""
    if Role(viewer.role) not in CASE_ROLES:
        raise CaseNotFound(dispute_id)
    dispute = session.get(Dispute, dispute_id)
    if dispute is None:
        raise CaseNotFound(dispute_id)
    subject = session.get(Subject, dispute.subject_id)
    if subject is None or subject.shredded_at is not None or is_linked(session, viewer, subject.id):
        raise CaseNotFound(dispute_id)
    return dispute


def is_assigned(dispute: Dispute, officer: User) -> bool:
    return dispute.assigned_officer_id is not None and dispute.assigned_officer_id == officer.id


def require_assigned(dispute: Dispute, officer: User) -> None:
    if not is_assigned(dispute, officer) or Role(officer.role) not in CASE_ROLES:
        raise NotAssigned()


def _check_version(dispute: Dispute, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != dispute.lock_version:
        raise StaleDispute(dispute.id)


# -- masking and reveal --------------------------------------------------------------
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
    require_assigned(dispute, officer)
    reason = (reason or "").strip()
    if not reason:
        raise DisputeError(N_("Say why you need to see the name and identifier."))
    if len(reason) > MAX_REVEAL_REASON:
        raise DisputeError(N_("The reason is at most %(max)d characters (%(given)d given)."),
                           max=MAX_REVEAL_REASON, given=len(reason))
    subject = session.get(Subject, dispute.subject_id)
    view = view_subject(session, vault, subject)
    record_event(session, vault, subject, EventKind.IDENTITY_REVEALED, channel="staff", actor_user_id=officer.id,
                 detail={"dispute_id": str(dispute.id), "reason": reason, "role": Role(officer.role).value})
    return view


def record_case_view(session: Session, vault: Vault, dispute: Dispute, officer: User,
                     now: datetime | None = None) -> AccessEvent | None:
    """The CASE_VIEWED event of an officer opening a case: at most one per
    officer, case and day, so working a case does not flood the
    subject's log. Returns the event written, or None."""
    now = now or utcnow()
    subject = session.get(Subject, dispute.subject_id)
    cipher = vault.cipher(session, subject.data_key_id)
    today = datetime.combine(day_of(now), time.min, zone())
    for event in session.scalars(select(AccessEvent).where(
            AccessEvent.subject_id == subject.id, AccessEvent.kind == EventKind.CASE_VIEWED,
            AccessEvent.actor_user_id == officer.id, AccessEvent.occurred_at >= today)):
        detail, _salt = open_detail(cipher, event)
        if detail.get("dispute_id") == str(dispute.id) and detail.get("what") == "case":
            return None
    return record_event(session, vault, subject, EventKind.CASE_VIEWED, channel="staff", actor_user_id=officer.id,
                        detail={"dispute_id": str(dispute.id), "what": "case", "role": Role(officer.role).value})


def evidence_file(session: Session, vault: Vault, dispute: Dispute, officer: User,
                  evidence_id: uuid.UUID) -> tuple[bytes, str, str]:
    """(content, media type, stored name) of one file of the case, for the
    officer it is assigned to; every download is an access event. Raises
    NotAssigned, or CaseNotFound for a file of another case."""
    require_assigned(dispute, officer)
    row = session.get(Evidence, evidence_id)
    if row is None or row.dispute_id != dispute.id:
        raise CaseNotFound(evidence_id)
    subject = session.get(Subject, dispute.subject_id)
    content = read_evidence(vault.cipher(session, subject.data_key_id), row)
    record_event(session, vault, subject, EventKind.CASE_VIEWED, channel="staff", actor_user_id=officer.id,
                 detail={"dispute_id": str(dispute.id), "what": "evidence", "evidence_id": str(row.id),
                         "role": Role(officer.role).value})
    return content


# -- assignment -----------------------------------------------------------------------
def assign(session: Session, vault: Vault, dispute: Dispute, actor: User, officer: User | None = None,
           expected_version: int | None = None) -> DisputeStep:
    """`actor` takes the case (no `officer`), or a supervisor assigns it to
    `officer`. Nobody linked to the subject can hold the case; a case held
    by someone else is reassigned only by a supervisor."""
    target = officer or actor
    actor_role, target_role = Role(actor.role), Role(target.role)
    if actor_role not in CASE_ROLES:
        raise AssignmentRefused(N_("Only officers and supervisors take cases."))
    if target.id != actor.id and actor_role is not Role.SUPERVISOR:
        raise AssignmentRefused(N_("Only a supervisor can assign a case to another officer."))
    if target_role not in CASE_ROLES or not target.is_active:
        raise AssignmentRefused(N_("A case can be assigned only to an active officer or supervisor."))
    if not dispute.is_open:
        raise DisputeError(N_("This case is closed; it can no longer be assigned."))
    _check_version(dispute, expected_version)
    if is_linked(session, target, dispute.subject_id):
        raise AssignmentRefused(
            N_("You are linked to the subject of this case (a declared conflict, your own file or a firm you act "
               "for); you cannot take it.") if target.id == actor.id else
            N_("This officer is linked to the subject of this case (a declared conflict, their own file or a firm "
               "they act for); choose another officer."))
    if dispute.assigned_officer_id == target.id:
        raise DisputeError(N_("This case is already assigned to you.") if target.id == actor.id
                           else N_("This case is already assigned to that officer."))
    if dispute.assigned_officer_id is not None and actor_role is not Role.SUPERVISOR:
        raise AssignmentRefused(N_("This case is already assigned to another officer; a supervisor can "
                                   "reassign it."))
    previous = dispute.assigned_officer_id
    dispute.assigned_officer_id = target.id
    dispute_id = dispute.id
    try:
        session.flush()
    except StaleDataError:
        raise StaleDispute(dispute_id) from None
    detail: dict[str, Any] = {"officer_id": str(target.id)}
    if previous is not None:
        detail["previous_officer_id"] = str(previous)
    return write_step(session, vault, dispute, StepKind.ASSIGNED, actor, None, detail)


def assignable_officers(session: Session, vault: Vault) -> list[tuple[uuid.UUID, str, Role]]:
    """(id, display name, role) of everyone who may hold a case."""
    users = session.scalars(select(User).where(User.role.in_(CASE_ROLES), User.is_active.is_(True))).all()
    out = [(u.id, display_name(session, vault, u), Role(u.role)) for u in users]
    return sorted(out, key=lambda o: (o[1].casefold(), str(o[0])))


def recuse(session: Session, vault: Vault, dispute: Dispute, officer: User,
           expected_version: int | None = None) -> int:
    """An officer declares from a case that they are linked to its subject:
    the subject's cases disappear for them, and those they held go back to
    the queue (the case's version moves, so pages showing the old holder
    are stale). Returns how many cases went back."""
    if Role(officer.role) not in CASE_ROLES:
        raise NotAssigned()
    _check_version(dispute, expected_version)
    touch(session, dispute)
    return declare_conflict(session, vault, officer, session.get(Subject, dispute.subject_id))


# -- acting on a case (the assigned officer only) -------------------------------------
def officer_moves(dispute: Dispute) -> list[DisputeStatus]:
    """The steps an officer may take with a button from the current status."""
    current = DisputeStatus(dispute.status)
    order = [S.ACKNOWLEDGED, S.UNDER_REVIEW, S.WAITING_FOR_FURNISHER, S.WAITING_FOR_SUBJECT]
    return [s for s in order if s in TRANSITIONS[current] and s in OFFICER_MOVES]


def move(session: Session, vault: Vault, dispute: Dispute, officer: User, to: DisputeStatus | str,
         note: str | None = None, expected_version: int | None = None) -> DisputeStep:
    require_assigned(dispute, officer)
    try:
        to = DisputeStatus(to)
    except ValueError:
        raise DisputeError(N_("%(status)s is not a status of a dispute."), status=repr(to)) from None
    if to not in OFFICER_MOVES:
        raise DisputeError(N_("Use the decision form to resolve a case; only the subject withdraws one."))
    return advance(session, vault, dispute, to, officer, note=note, expected_version=expected_version)


def extend_deadline(session: Session, vault: Vault, dispute: Dispute, officer: User, days: int, reason: str,
                    expected_version: int | None = None) -> DisputeStep:
    require_assigned(dispute, officer)
    return extend(session, vault, dispute, officer, days, reason, expected_version=expected_version)


def decide(session: Session, vault: Vault, dispute: Dispute, officer: User, outcome: DisputeOutcome | str,
           reason: str, expected_version: int | None = None, per_record=None):
    require_assigned(dispute, officer)
    if not (reason or "").strip():
        raise DisputeError(N_("A decision needs a reason."))
    return decisions.decide(session, vault, dispute, officer, outcome, reason, expected_version=expected_version,
                            per_record=per_record)


def case_records(session: Session, dispute: Dispute) -> list[tuple[uuid.UUID, Category, Institution]]:
    """The records a case covers, with their category and furnisher (for
    the decision form: nothing sealed is opened)."""
    return [tuple(row) for row in session.execute(
        select(CreditRecord.id, CreditRecord.category, Institution)
        .join(DisputeItem, DisputeItem.record_id == CreditRecord.id)
        .join(Institution, Institution.id == CreditRecord.furnisher_id)
        .where(DisputeItem.dispute_id == dispute.id).order_by(CreditRecord.created_at, CreditRecord.id))]


def share_evidence(session: Session, dispute: Dispute, officer: User, evidence_id: uuid.UUID,
                   institution_ids, expected_version: int | None = None) -> list[Institution]:
    """Send a file of a case spanning several furnishers to some of them."""
    require_assigned(dispute, officer)
    _check_version(dispute, expected_version)
    return sharing.share(session, dispute, officer, evidence_id, institution_ids)


def add_note(session: Session, vault: Vault, dispute: Dispute, officer: User, text: str,
             expected_version: int | None = None) -> DisputeNote:
    """A note between officers, sealed under the subject's data key; the
    subject never sees it."""
    require_assigned(dispute, officer)
    _check_version(dispute, expected_version)
    text = (text or "").strip()
    if not text:
        raise DisputeError(N_("Write the note."))
    if len(text) > MAX_NOTE:
        raise DisputeError(N_("A note is at most %(max)d characters (%(given)d given)."), max=MAX_NOTE,
                           given=len(text))
    subject = session.get(Subject, dispute.subject_id)
    note = DisputeNote(id=new_id(), dispute_id=dispute.id, author_user_id=officer.id, created_at=utcnow())
    vault.cipher(session, subject.data_key_id).seal_field(note, "note", text)
    session.add(note)
    session.flush()
    return note


@dataclass(frozen=True)
class NoteView:
    id: uuid.UUID
    author: str
    created_at: datetime
    text: str


def notes(session: Session, vault: Vault, dispute: Dispute) -> list[NoteView]:
    subject = session.get(Subject, dispute.subject_id)
    cipher = vault.cipher(session, subject.data_key_id)
    rows = session.scalars(select(DisputeNote).where(DisputeNote.dispute_id == dispute.id)
                           .order_by(DisputeNote.created_at, DisputeNote.id)).all()
    names = _staff_names(session, vault, {n.author_user_id for n in rows})
    return [NoteView(n.id, names.get(n.author_user_id, "—"), n.created_at, cipher.open_field(n, "note"))
            for n in rows]


def _staff_names(session: Session, vault: Vault, ids) -> dict[uuid.UUID, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    users = session.scalars(select(User).where(User.id.in_(ids))).all()
    return {u.id: display_name(session, vault, u) for u in users if Role(u.role).is_staff}


# -- the queue --------------------------------------------------------------------------
STATUS_FILTERS = ("open", "closed", "all", *(s.value for s in DisputeStatus))


@dataclass(frozen=True)
class QueueFilters:
    status: str = "open"  # "open", "closed", "all" or one status
    reason: DisputeReason | None = None
    institution_id: uuid.UUID | None = None
    assigned: str | None = None  # "me", "unassigned" or None (anyone)


@dataclass(frozen=True)
class QueueRow:
    id: uuid.UUID
    kind: DisputeKind
    reason: DisputeReason
    status: DisputeStatus
    filed_at: datetime
    due_on: date
    days_left: int | None  # None once closed
    paused: bool
    furnishers: list[Institution]
    assigned_name: str | None
    assigned_to_me: bool

    @property
    def overdue(self) -> bool:
        return self.days_left is not None and self.days_left < 0


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    page: int
    pages: int
    total: int


def _queue_conditions(session: Session, officer: User, filters: QueueFilters) -> list:
    where: list = [Subject.shredded_at.is_(None)]
    linked = linked_subjects(session, officer)
    if linked:
        where.append(Dispute.subject_id.notin_(linked))
    if filters.status == "open":
        where.append(Dispute.status.in_(OPEN_STATUSES))
    elif filters.status == "closed":
        where.append(Dispute.status.in_(CLOSED_STATUSES))
    elif filters.status != "all":
        where.append(Dispute.status == DisputeStatus(filters.status))
    if filters.reason is not None:
        where.append(Dispute.reason == DisputeReason(filters.reason))
    if filters.institution_id is not None:
        furnished = exists().where(DisputeItem.dispute_id == Dispute.id, CreditRecord.id == DisputeItem.record_id,
                                   CreditRecord.furnisher_id == filters.institution_id)
        accessed = exists().where(AccessEvent.id == Dispute.access_event_id,
                                  AccessEvent.institution_id == filters.institution_id)
        where.append(or_(furnished, accessed))
    if filters.assigned == "me":
        where.append(Dispute.assigned_officer_id == officer.id)
    elif filters.assigned == "unassigned":
        where.append(Dispute.assigned_officer_id.is_(None))
    return where


def queue(session: Session, vault: Vault, officer: User, filters: QueueFilters | None = None, page: int = 1,
          today: date | None = None) -> QueuePage:
    """Cases `officer` may see, matching `filters`: open ones first by days
    left (overdue ones, most overdue first, at the top; a paused clock counts
    its frozen days), then closed ones, newest first. Raises LookupError for
    a page past the last one.

    Open cases that are not paused come in the order of their deadline
    straight from SQL, only as many as the page needs; paused ones (their
    days left are frozen, which SQL cannot compare portably) are few and
    merged in by their days left; closed ones follow, newest first."""
    filters = filters or QueueFilters()
    today = today or local_today()
    where = _queue_conditions(session, officer, filters)
    columns = (Dispute.id, Dispute.status, Dispute.due_on, Dispute.paused_since, Dispute.paused_days,
               Dispute.extended_days, Dispute.filed_at)
    base = select(*columns).join(Subject, Subject.id == Dispute.subject_id).where(*where)
    is_open = Dispute.status.in_(OPEN_STATUSES)
    counted = dict(session.execute(
        select(is_open, func.count()).select_from(Dispute).join(Subject, Subject.id == Dispute.subject_id)
        .where(*where).group_by(is_open)).all())
    open_total, total = counted.get(True, 0), sum(counted.values())
    pages = max(1, -(-total // PAGE_SIZE))
    if page < 1 or page > pages:
        raise LookupError(page)
    need = page * PAGE_SIZE

    def key(row) -> tuple:
        return (days_left(row, today), row.filed_at, str(row.id))

    running = session.execute(base.where(is_open, Dispute.paused_since.is_(None))
                              .order_by(Dispute.due_on, Dispute.filed_at, Dispute.id).limit(need)).all()
    paused = session.execute(base.where(is_open, Dispute.paused_since.is_not(None))).all()
    light = sorted([*running, *paused], key=key)[:need]
    if len(light) < need and open_total < need:
        light += session.execute(base.where(~is_open).order_by(Dispute.filed_at.desc(), Dispute.id)
                                 .limit(need - open_total)).all()
    shown = [r.id for r in light[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]]
    disputes = {d.id: d for d in session.scalars(select(Dispute).where(Dispute.id.in_(shown)))} if shown else {}
    furnishers = _case_furnishers(session, shown)
    names = _staff_names(session, vault, {d.assigned_officer_id for d in disputes.values()})
    rows = []
    for dispute_id in shown:
        d = disputes[dispute_id]
        open_ = d.is_open
        rows.append(QueueRow(d.id, DisputeKind(d.kind), DisputeReason(d.reason), DisputeStatus(d.status), d.filed_at,
                             d.due_on, days_left(d, today) if open_ else None, open_ and d.paused_since is not None,
                             furnishers.get(d.id, []),
                             names.get(d.assigned_officer_id) if d.assigned_officer_id else None,
                             d.assigned_officer_id == officer.id))
    return QueuePage(rows, page, pages, total)


def _case_furnishers(session: Session, dispute_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Institution]]:
    """The furnishers of each case's records (or the institution of the
    access it disputes), by code."""
    if not dispute_ids:
        return {}
    pairs = session.execute(
        select(DisputeItem.dispute_id, Institution)
        .join(CreditRecord, CreditRecord.id == DisputeItem.record_id)
        .join(Institution, Institution.id == CreditRecord.furnisher_id)
        .where(DisputeItem.dispute_id.in_(dispute_ids))).all()
    pairs += session.execute(
        select(Dispute.id, Institution)
        .join(AccessEvent, AccessEvent.id == Dispute.access_event_id)
        .join(Institution, Institution.id == AccessEvent.institution_id)
        .where(Dispute.id.in_(dispute_ids))).all()
    out: dict[uuid.UUID, dict[uuid.UUID, Institution]] = {}
    for dispute_id, institution in pairs:
        out.setdefault(dispute_id, {})[institution.id] = institution
    return {k: sorted(v.values(), key=lambda i: i.code) for k, v in out.items()}


def furnisher_choices(session: Session) -> list[Institution]:
    """Institutions that furnished a record some case covers, or whose
    access a case disputes."""
    furnished = select(CreditRecord.furnisher_id).join(DisputeItem, DisputeItem.record_id == CreditRecord.id)
    accessed = select(AccessEvent.institution_id).join(Dispute, Dispute.access_event_id == AccessEvent.id)
    return list(session.scalars(select(Institution).where(
        or_(Institution.id.in_(furnished), Institution.id.in_(accessed))).order_by(Institution.code)))


# -- the case page --------------------------------------------------------------------
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
    can_share: bool
    answers: list[AnswerView]
    steps: list[StepView]
    notes: list[NoteView]
    days_left: int | None
    assigned_name: str | None
    assigned_to_viewer: bool
    can_take: bool
    can_assign_others: bool
    officers: list[tuple[uuid.UUID, str, Role]]
    moves: list[DisputeStatus]
    can_decide: bool
    can_extend: bool
    outcomes: tuple[DisputeOutcome, ...]
    letter: Any  # decisions.Letter once decided
    recipients: list

    @property
    def overdue(self) -> bool:
        return self.days_left is not None and self.days_left < 0

    @property
    def paused(self) -> bool:
        return self.dispute.is_open and self.dispute.paused_since is not None


def case_view(session: Session, vault: Vault, dispute: Dispute, viewer: User, today: date | None = None) -> CaseView:
    """Everything the case page shows, the subject masked. The caller loaded
    the case with `load_case` and records the view (`record_case_view`)."""
    subject = session.get(Subject, dispute.subject_id)
    cipher = vault.cipher(session, subject.data_key_id)
    open_ = dispute.is_open
    assigned = is_assigned(dispute, viewer) and Role(viewer.role) in CASE_ROLES
    role = Role(viewer.role)

    items = session.scalars(select(DisputeItem).where(DisputeItem.dispute_id == dispute.id)).all()
    record_ids = [i.record_id for i in items]
    records = session.scalars(select(CreditRecord).where(CreditRecord.id.in_(record_ids))
                              .order_by(CreditRecord.created_at, CreditRecord.id)
                              .options(selectinload(CreditRecord.versions))).all() if record_ids else []
    record_views = report_record_views(session, vault, subject, records, record_marks(session, vault, subject, records))

    access = None
    if dispute.access_event_id is not None:
        event = session.get(AccessEvent, dispute.access_event_id)
        if event is not None:
            access = AccessDisputed(event.occurred_at, EventKind(event.kind),
                                    session.get(Institution, event.institution_id) if event.institution_id else None,
                                    event.purpose)

    item_records = {i.id: i.record_id for i in items}
    responses = session.scalars(select(FurnisherResponse).where(FurnisherResponse.dispute_id == dispute.id)
                                .order_by(FurnisherResponse.created_at)).all()
    institutions = {i.id: i for i in session.scalars(select(Institution).where(
        Institution.id.in_({r.institution_id for r in responses})))} if responses else {}
    by_id = {r.id: r for r in records}
    answers = []
    for r in responses:
        record = by_id.get(item_records.get(r.item_id))
        proposed = proposed_correction(cipher, r)
        current = record.current_version if record else None
        answers.append(AnswerView(item_records.get(r.item_id), institutions.get(r.institution_id), Answer(r.answer),
                                  cipher.open_field(r, "reviewed") or "", r.corrected_version, r.created_at,
                                  proposed_view(proposed, (current or 0) + 1, r.created_at) if proposed else None,
                                  r.proposed_on_version, current,
                                  record is not None and decisions.outdated(r, record)))

    steps = session.scalars(select(DisputeStep).where(DisputeStep.dispute_id == dispute.id)
                            .order_by(DisputeStep.at, DisputeStep.id)).all()
    actors = {u.id: u for u in session.scalars(select(User).where(
        User.id.in_({s.actor_user_id for s in steps if s.actor_user_id})))} if steps else {}
    staff_names = _staff_names(session, vault, actors.keys())
    step_views = []
    for s in steps:
        actor = actors.get(s.actor_user_id) if s.actor_user_id else None
        if actor is None:
            kind, name = "portal", None
        elif Role(actor.role).is_staff:
            kind, name = "staff", staff_names.get(actor.id)
        else:
            kind, name = "subject", None
        step_views.append(StepView(s.at, StepKind(s.step), kind, name, cipher.open_field(s, "note")))

    evidence = [EvidenceView(e.id, e.stored_name, e.media_type, e.size, e.created_at)
                for e in session.scalars(select(Evidence).where(Evidence.dispute_id == dispute.id)
                                         .order_by(Evidence.created_at, Evidence.id))]
    assigned_name = None
    if dispute.assigned_officer_id is not None:
        holder = session.get(User, dispute.assigned_officer_id)
        assigned_name = display_name(session, vault, holder) if holder is not None else None
    can_assign_others = open_ and role is Role.SUPERVISOR
    status = DisputeStatus(dispute.status)
    furnishers = sharing.case_furnishers(session, dispute.id)
    return CaseView(
        dispute=dispute,
        subject=MaskedSubject.of(view_subject(session, vault, subject)),
        statement=cipher.open_field(dispute, "statement") or "",
        records=record_views,
        access=access,
        evidence=evidence,
        furnishers=furnishers,
        file_recipients=sharing.recipients(session, dispute, furnishers),
        can_share=assigned and open_ and len(furnishers) > 1,
        answers=answers,
        steps=step_views,
        notes=notes(session, vault, dispute),
        days_left=days_left(dispute, today) if open_ else None,
        assigned_name=assigned_name,
        assigned_to_viewer=assigned,
        can_take=open_ and role in CASE_ROLES and not assigned
        and (dispute.assigned_officer_id is None or role is Role.SUPERVISOR),
        can_assign_others=can_assign_others,
        officers=assignable_officers(session, vault) if can_assign_others else [],
        moves=officer_moves(dispute) if assigned and open_ else [],
        can_decide=assigned and status is S.UNDER_REVIEW,
        can_extend=assigned and open_,
        outcomes=OUTCOMES[DisputeKind(dispute.kind)],
        letter=None if open_ else decisions.letter(session, vault, dispute),
        recipients=[] if open_ else decisions.recipients(session, dispute),
    )


__all__ = ["AssignmentRefused", "CaseNotFound", "CaseView", "MaskedSubject", "NotAssigned", "QueueFilters",
           "QueuePage", "QueueRow", "add_note", "assign", "assignable_officers", "case_records", "case_view", "decide",
           "evidence_file", "extend_deadline", "furnisher_choices", "is_linked", "linked_subjects", "load_case",
           "mask_identifier", "mask_name", "move", "notes", "queue", "record_case_view", "recuse", "reveal",
           "share_evidence"]
