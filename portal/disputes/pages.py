"""The subject's side of disputes, as view models: the filing page's
choices, the list, the dispute page (timeline, evidence, letter, who was
told, statements) and the letter as printed. Each builder that shows the
subject's data writes the access event of that view, in the caller's
transaction (services flush, never commit). Authorisation happened before:
builders take the `SubjectAccess` that `load_subject` returned, and
`dispute_of` / `evidence_of` answer None (so 404) for anything that is not
this subject's."""
from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Sequence

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from portal.accounts.authz import SubjectAccess
from portal.accounts.models import Role, User
from portal.audit.events import open_detail, record_event
from portal.audit.models import AccessEvent, EventKind
from portal.audit.names import EVENT_NAMES, PURPOSE_NAMES
from portal.crypto import Vault
from portal.disputes import decisions, lifecycle, services, sharing
from portal.disputes import evidence as ev
from portal.disputes.models import (
    OPEN_STATUSES,
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
from portal.i18n import day
from portal.institutions.models import Institution
from portal.notifications.services import notify
from portal.records.models import Category, CreditRecord, RecordVersion, Subject
from portal.records.pages import CATEGORY_NAMES, REPORT_PAGE_SIZE, SubjectHeader
from portal.records.services import open_payload, view_subject

PAGE_SIZE = 20
DASHBOARD_DISPUTES = 5
MAX_NOTE = lifecycle.MAX_NOTE
MAX_STATEMENT = services.MAX_STATEMENT
MAX_RECORD_STATEMENT = decisions.MAX_STATEMENT

REASON_NAMES = {
    DisputeReason.NOT_MINE: _l("This is not mine"),
    DisputeReason.WRONG_AMOUNT: _l("Wrong amount"),
    DisputeReason.WRONG_DATES: _l("Wrong dates"),
    DisputeReason.PAID_OR_SETTLED: _l("Paid or settled"),
    DisputeReason.IDENTITY_THEFT: _l("Identity theft"),
    DisputeReason.OUTDATED: _l("Outdated: it should have left the file"),
    DisputeReason.UNAUTHORISED_ACCESS: _l("An access I did not authorise"),
    DisputeReason.OTHER: _l("Something else"),
    DisputeReason.CREDIT_REPAIR: _l("Credit repair application"),
}
# What a subject may choose when filing (credit repair is an application of its own).
FILING_REASONS = [r for r in DisputeReason if r is not DisputeReason.CREDIT_REPAIR]
STATUS_NAMES = {
    DisputeStatus.SUBMITTED: _l("Received"),
    DisputeStatus.ACKNOWLEDGED: _l("Acknowledged"),
    DisputeStatus.UNDER_REVIEW: _l("Under review"),
    DisputeStatus.WAITING_FOR_FURNISHER: _l("Being checked with the furnisher"),
    DisputeStatus.WAITING_FOR_SUBJECT: _l("Waiting for you"),
    DisputeStatus.RESOLVED: _l("Decided"),
    DisputeStatus.WITHDRAWN: _l("Withdrawn"),
}
STEP_NAMES = {
    StepKind.FILED: _l("Dispute filed"),
    StepKind.ACKNOWLEDGED: _l("Receipt acknowledged"),
    StepKind.UNDER_REVIEW: _l("Review under way"),
    StepKind.WAITING_FOR_FURNISHER: _l("Sent to the furnisher to check"),
    StepKind.WAITING_FOR_SUBJECT: _l("You were asked for something"),
    StepKind.RESOLVED: _l("Decided"),
    StepKind.WITHDRAWN: _l("Withdrawn"),
    StepKind.EXTENDED: _l("Deadline extended"),
    StepKind.EVIDENCE_ADDED: _l("Evidence or a reply added"),
    StepKind.ASSIGNED: _l("Taken up by an officer"),
    StepKind.RELEASED: _l("Handed to another officer"),
    StepKind.FURNISHER_ANSWERED: _l("The furnisher answered"),
    StepKind.STATEMENT_ADDED: _l("Statement added beside a record"),
}
WHO_NAMES = {"you": _l("you"), "officer": _l("an officer"), "furnisher": _l("the furnisher"),
             "portal": _l("the portal")}
MEDIA_NAMES = {"application/pdf": "PDF", "image/png": "PNG", "image/jpeg": "JPEG"}


def reason_label(reason: DisputeReason | str) -> str:
    return str(REASON_NAMES.get(DisputeReason(reason), reason))


def status_label(status: DisputeStatus | str) -> str:
    return str(STATUS_NAMES.get(DisputeStatus(status), status))


def outcome_label(outcome: DisputeOutcome | str | None) -> str:
    return str(decisions.OUTCOME_NAMES.get(DisputeOutcome(outcome), outcome)) if outcome else ""


def short_reference(dispute_id: uuid.UUID) -> str:
    """How a dispute is named to people: enough to tell it apart."""
    return "D-" + dispute_id.hex[:8].upper()


def days_phrase(days: int) -> str:
    if days < 0:
        return ngettext("%(num)d day overdue", "%(num)d days overdue", -days)
    return ngettext("%(num)d day left", "%(num)d days left", days)


# -- loading, each scoped to the subject (None: the caller answers 404) ------------
def dispute_of(session: Session, subject: Subject, dispute_id: uuid.UUID) -> Dispute | None:
    dispute = session.get(Dispute, dispute_id)
    return dispute if dispute is not None and dispute.subject_id == subject.id else None


def evidence_of(session: Session, dispute: Dispute, evidence_id: uuid.UUID) -> Evidence | None:
    """A file of this very dispute: another dispute's id in the URL is 404,
    even when both are the same subject's."""
    row = session.get(Evidence, evidence_id)
    return row if row is not None and row.dispute_id == dispute.id else None


def event_of(session: Session, subject: Subject, event_id: uuid.UUID) -> AccessEvent | None:
    event = session.get(AccessEvent, event_id)
    return event if event is not None and event.subject_id == subject.id else None


def _log(session: Session, vault: Vault, user: User, access: SubjectAccess, kind: EventKind, **detail: Any) -> None:
    """The access event of a view or download; an agent's names the delegation."""
    detail["role"] = Role(user.role).value
    if access.delegation is not None:
        detail["via_delegation"] = str(access.delegation.id)
    record_event(session, vault, access.subject, kind, channel="web", actor_user_id=user.id, detail=detail)


# -- records and events as the pages name them -------------------------------------
@dataclass(frozen=True)
class RecordChoice:
    """A record as the filing page and the dispute page show it."""

    id: uuid.UUID
    category: Category
    furnisher: Institution | None
    reference: str
    disputed: bool
    deleted: bool
    unverifiable: bool
    report_page: int

    @property
    def category_label(self) -> str:
        return str(CATEGORY_NAMES.get(self.category, self.category))

    def label(self, locale: str) -> str:
        furnisher = "—" if self.furnisher is None else (
            self.furnisher.name if locale.startswith("zh") else self.furnisher.name_en)
        text = f"{self.category_label} · {furnisher}"
        if self.reference:
            text += " · " + _("reference %(ref)s", ref=self.reference)
        if self.disputed:
            text += " (" + _("under dispute") + ")"
        return text


_CATEGORY_ORDER = case({c: i for i, c in enumerate(Category)}, value=CreditRecord.category)


def record_choices(session: Session, vault: Vault, subject: Subject,
                   ids: Sequence[uuid.UUID] | None = None, include_deleted: bool = False) -> list[RecordChoice]:
    """The subject's records (these `ids` only, when given), in the order
    of the report; each knows the report page it is on."""
    order = session.scalars(select(CreditRecord.id).where(CreditRecord.subject_id == subject.id)
                            .order_by(_CATEGORY_ORDER, CreditRecord.created_at.desc(), CreditRecord.id)).all()
    position = {rid: n for n, rid in enumerate(order)}
    query = select(CreditRecord).where(CreditRecord.subject_id == subject.id)
    if ids is not None:
        if not ids:
            return []
        query = query.where(CreditRecord.id.in_(list(ids)))
    records = [r for r in session.scalars(query) if include_deleted or r.deleted_at is None]
    records.sort(key=lambda r: position.get(r.id, 0))
    if not records:
        return []
    versions = {(v.record_id, v.version): v for v in session.scalars(select(RecordVersion).where(
        RecordVersion.record_id.in_([r.id for r in records])))}
    furnishers = {i.id: i for i in session.scalars(select(Institution).where(
        Institution.id.in_({r.furnisher_id for r in records})))}
    disputed = services.disputed_records(session, [r.id for r in records])
    cipher = vault.cipher(session, subject.data_key_id)
    out = []
    for r in records:
        version = versions.get((r.id, r.current_version))
        reference = str(open_payload(cipher, version).get("reference") or "") if version else ""
        out.append(RecordChoice(r.id, r.category, furnishers.get(r.furnisher_id), reference, r.id in disputed,
                                r.deleted_at is not None, r.unverifiable_since is not None,
                                position.get(r.id, 0) // REPORT_PAGE_SIZE + 1))
    return out


@dataclass(frozen=True)
class EventSummary:
    id: uuid.UUID
    occurred_at: datetime
    kind: EventKind
    institution: Institution | None
    purpose: str | None

    @property
    def kind_label(self) -> str:
        return str(EVENT_NAMES.get(self.kind, self.kind.value))

    @property
    def purpose_label(self) -> str:
        return str(PURPOSE_NAMES.get(self.purpose, self.purpose)) if self.purpose else ""


def event_summary(session: Session, event: AccessEvent | None) -> EventSummary | None:
    if event is None:
        return None
    institution = session.get(Institution, event.institution_id) if event.institution_id else None
    return EventSummary(event.id, event.occurred_at, EventKind(event.kind), institution, event.purpose)


def open_dispute_of_event(session: Session, subject: Subject, event_id: uuid.UUID) -> uuid.UUID | None:
    """An open dispute of this access event, if there is one."""
    return session.scalar(select(Dispute.id).where(Dispute.subject_id == subject.id,
                                                   Dispute.access_event_id == event_id,
                                                   Dispute.status.in_(OPEN_STATUSES))
                          .order_by(Dispute.filed_at).limit(1))


# -- evidence files as received ------------------------------------------------------
def upload_errors(uploads: Sequence[ev.Upload], already: int = 0) -> list[str]:
    """Everything wrong with the files chosen, for the page, in the reader's
    language (the services check again before writing, stopping at the
    first). Content decides, never the name."""
    if already + len(uploads) > ev.MAX_FILES:
        try:
            ev.check_files(uploads, already)
        except ev.EvidenceRejected as exc:
            return [exc.translated()]
    errors = []
    for upload in uploads:
        try:
            ev.check_content(upload)
        except ev.EvidenceRejected as exc:
            errors.append(exc.translated())
    return errors


# -- filing ----------------------------------------------------------------------------
def file(session: Session, vault: Vault, access: SubjectAccess, by_user: User, record_ids: Sequence[uuid.UUID],
         reason: str, statement: str, uploads: Sequence[ev.Upload],
         access_event_id: uuid.UUID | None) -> Dispute:
    """File the dispute and acknowledge its receipt to the subject's people.
    Raises what `services.file_dispute` raises, before anything is written."""
    dispute = services.file_dispute(session, vault, access.subject, by_user, record_ids, reason, statement,
                                    files=uploads, access_event_id=access_event_id)
    _acknowledge_receipt(session, vault, access.subject, dispute, by_user)
    return dispute


def _acknowledge_receipt(session: Session, vault: Vault, subject: Subject, dispute: Dispute, by_user: User) -> None:
    """In-app and by e-mail to the subject's own people (and to the agent
    who filed it, when an agent did)."""
    reference, due_on = short_reference(dispute.id), dispute.due_on
    days = lifecycle.days_left(dispute)

    def compose() -> tuple[str, str]:
        return (_("We received your dispute %(ref)s", ref=reference),
                _("Your dispute %(ref)s was received. It will be answered by %(due)s (%(days)s). On the "
                  "portal, under Disputes, you can follow it, add evidence or withdraw it.",
                  ref=reference, due=day(due_on), days=days_phrase(days)))

    decisions.tell_subject(session, vault, subject, compose,
                           also=[by_user] if Role(by_user.role) is Role.FIRM_AGENT else [])


# -- the list --------------------------------------------------------------------------
class _Labelled:
    """The translated names of a dispute's status, reason and outcome."""
    status: DisputeStatus
    reason: DisputeReason
    outcome: DisputeOutcome | None

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    @property
    def status_label(self) -> str:
        return status_label(self.status)

    @property
    def reason_label(self) -> str:
        return reason_label(self.reason)

    @property
    def outcome_label(self) -> str:
        return outcome_label(self.outcome)


@dataclass(frozen=True)
class ListRow(_Labelled):
    id: uuid.UUID
    reference: str
    status: DisputeStatus
    reason: DisputeReason
    outcome: DisputeOutcome | None
    filed_at: datetime
    due_on: date
    days_left: int | None  # open ones only
    paused: bool
    records: int

    @property
    def days_phrase(self) -> str:
        return days_phrase(self.days_left) if self.days_left is not None else ""


@dataclass(frozen=True)
class ListPage:
    subject: SubjectHeader
    rows: list[ListRow]
    page: int
    pages: int
    total: int
    open_count: int


_OPEN_FIRST = case((Dispute.status.in_(OPEN_STATUSES), 0), else_=1)


def _rows(session: Session, disputes: Sequence[Dispute]) -> list[ListRow]:
    ids = [d.id for d in disputes]
    counts = dict(session.execute(select(DisputeItem.dispute_id, func.count()).where(
        DisputeItem.dispute_id.in_(ids)).group_by(DisputeItem.dispute_id)).all()) if ids else {}
    return [ListRow(d.id, short_reference(d.id), DisputeStatus(d.status), DisputeReason(d.reason),
                    DisputeOutcome(d.outcome) if d.outcome else None, d.filed_at, d.due_on,
                    lifecycle.days_left(d) if d.is_open else None, d.paused_since is not None,
                    counts.get(d.id, 0)) for d in disputes]


def summary(session: Session, dispute: Dispute) -> ListRow:
    """One dispute as the list shows it (no personal data)."""
    return _rows(session, [dispute])[0]


def dispute_list(session: Session, vault: Vault, user: User, access: SubjectAccess, page: int) -> ListPage:
    """Open disputes first (the nearest deadline first), then closed ones,
    newest first. LookupError for a page past the last."""
    subject = access.subject
    where = Dispute.subject_id == subject.id
    total = session.scalar(select(func.count()).select_from(Dispute).where(where)) or 0
    open_count = session.scalar(select(func.count()).select_from(Dispute).where(
        where, Dispute.status.in_(OPEN_STATUSES))) or 0
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if page > pages:
        raise LookupError(page)
    disputes = session.scalars(select(Dispute).where(where)
                               .order_by(_OPEN_FIRST, case((Dispute.status.in_(OPEN_STATUSES), Dispute.due_on)),
                                         Dispute.filed_at.desc(), Dispute.id)
                               .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    _log(session, vault, user, access, EventKind.SELF_QUERY, what="disputes", page=page)
    return ListPage(SubjectHeader.of(view_subject(session, vault, subject)), _rows(session, disputes), page, pages,
                    total, open_count)


@dataclass(frozen=True)
class DashboardDisputes:
    open_count: int
    total: int
    rows: list[ListRow]  # the open ones with the nearest deadlines


def dashboard_disputes(session: Session, subject: Subject) -> DashboardDisputes:
    """For the dashboard (which records its own view): no personal data."""
    where = Dispute.subject_id == subject.id
    total = session.scalar(select(func.count()).select_from(Dispute).where(where)) or 0
    open_ = session.scalars(select(Dispute).where(where, Dispute.status.in_(OPEN_STATUSES))
                            .order_by(Dispute.due_on, Dispute.filed_at)).all()
    return DashboardDisputes(len(open_), total, _rows(session, open_[:DASHBOARD_DISPUTES]))


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
            return ngettext("Deadline extended by %(num)d day", "Deadline extended by %(num)d days",
                            self.detail["days"])
        if self.step is StepKind.EVIDENCE_ADDED and isinstance(self.detail.get("evidence"), int) \
                and self.detail["evidence"]:
            return ngettext("%(num)d file added", "%(num)d files added", self.detail["evidence"])
        if self.step is StepKind.RESOLVED and self.detail.get("outcome"):
            return _("Decided: %(outcome)s", outcome=outcome_label(self.detail["outcome"]))
        return str(STEP_NAMES.get(self.step, self.step.value))


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
class DisputePage(_Labelled):
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
    letter: decisions.Letter | None = None
    recipients: list[decisions.NoticeView] = field(default_factory=list)

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


def dispute_page(session: Session, vault: Vault, user: User, access: SubjectAccess, dispute: Dispute,
                 log: bool = True) -> DisputePage:
    subject = access.subject
    cipher = vault.cipher(session, subject.data_key_id)
    steps = session.scalars(select(DisputeStep).where(DisputeStep.dispute_id == dispute.id)
                            .order_by(DisputeStep.at, DisputeStep.id)).all()
    events = {e.id: e for e in session.scalars(select(AccessEvent).where(
        AccessEvent.id.in_([s.event_id for s in steps if s.event_id])))} if steps else {}
    roles = {u.id: Role(u.role) for u in session.scalars(select(User).where(
        User.id.in_({s.actor_user_id for s in steps if s.actor_user_id} | {dispute.filed_by_user_id})))}
    timeline = []
    for step in steps:
        event = events.get(step.event_id) if step.event_id else None
        detail = open_detail(cipher, event)[0] if event is not None else {}
        timeline.append(StepLine(step.at, StepKind(step.step), _who(step, roles, events),
                                 cipher.open_field(step, "note"), detail))
    items = session.scalars(select(DisputeItem).where(DisputeItem.dispute_id == dispute.id)).all()
    record_ids = [i.record_id for i in items]
    verified = {i.record_id for i in items if i.decided(dispute) == DisputeOutcome.VERIFIED_ACCURATE}
    choices = record_choices(session, vault, subject, record_ids, include_deleted=True)
    statements = decisions.statements_for(session, vault, subject, record_ids)
    stated = set(session.scalars(select(RecordStatement.record_id).where(RecordStatement.dispute_id == dispute.id)))
    lines = [RecordLine(c, statements.get(c.id, []), c.id in verified and c.id not in stated and not c.deleted)
             for c in choices]
    files = session.scalars(select(Evidence).where(Evidence.dispute_id == dispute.id)
                            .order_by(Evidence.created_at, Evidence.id)).all()
    uploaders = {u.id: Role(u.role) for u in session.scalars(select(User).where(
        User.id.in_({f.uploaded_by_user_id for f in files if f.uploaded_by_user_id})))} if files else {}
    sent = sharing.recipients(session, dispute) if sharing.forwarded(session, [dispute.id]) else {}
    evidence = [EvidenceLine(f.id, n, f.media_type, f.size, f.created_at,
                             f.uploaded_by_user_id is not None
                             and not uploaders.get(f.uploaded_by_user_id, Role.OFFICER).is_staff,
                             sent.get(f.id, []))
                for n, f in enumerate(files, 1)]
    status = DisputeStatus(dispute.status)
    asked = [s for s in timeline if s.step is StepKind.WAITING_FOR_SUBJECT]
    page = DisputePage(
        dispute.id, short_reference(dispute.id), SubjectHeader.of(view_subject(session, vault, subject)), status,
        DisputeReason(dispute.reason), DisputeOutcome(dispute.outcome) if dispute.outcome else None,
        dispute.filed_at, dispute.due_on, lifecycle.days_left(dispute), dispute.paused_since is not None,
        dispute.lock_version, services.statement(session, vault, dispute), lines,
        event_summary(session, session.get(AccessEvent, dispute.access_event_id) if dispute.access_event_id
                      else None),
        timeline, evidence, asked[-1].note if asked and status is DisputeStatus.WAITING_FOR_SUBJECT else None,
        [s for s in timeline if s.step is StepKind.EXTENDED])
    if status is DisputeStatus.RESOLVED:
        page.letter = decisions.letter(session, vault, dispute)
        page.recipients = decisions.recipients(session, dispute)
    if log:
        _log(session, vault, user, access, EventKind.SELF_QUERY, what="dispute", dispute_id=str(dispute.id))
    return page


# -- what the subject does on a dispute -------------------------------------------------
class ReplyRefused(ValueError):
    """The message says why, for the page; nothing was written."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__(" ".join(messages))
        self.messages = messages


def reply(session: Session, vault: Vault, dispute: Dispute, by_user: User, note: str | None,
          uploads: Sequence[ev.Upload]) -> None:
    """Files, a note, or both, added to an open dispute, with what is wrong
    said in the reader's language. Replying does not move the status: the
    officer does."""
    note = (note or "").strip() or None
    if not dispute.is_open:
        raise ReplyRefused([_("This dispute is closed; nothing more can be added.")])
    errors = upload_errors(uploads, already=len(dispute.evidence))
    if note is not None and len(note) > MAX_NOTE:
        errors.append(_("A note is at most %(n)d characters.", n=MAX_NOTE))
    if note is None and not uploads:
        errors.append(_("Add a file or write a note."))
    if errors:
        raise ReplyRefused(errors)
    services.add_evidence(session, vault, dispute, by_user, uploads, note)
    _tell_officer(session, vault, dispute)


def _tell_officer(session: Session, vault: Vault, dispute: Dispute) -> None:
    """The officer on the case hears of a reply in-app (no personal data)."""
    if dispute.assigned_officer_id is None:
        return
    officer = session.get(User, dispute.assigned_officer_id)
    if officer is None or not officer.is_active:
        return
    notify(session, vault, key_id=officer.data_key_id, user=officer,
           title=_("New evidence on dispute %(ref)s", ref=short_reference(dispute.id)),
           body=_("The subject added evidence or a reply to dispute %(ref)s.", ref=short_reference(dispute.id)))


def withdraw(session: Session, vault: Vault, dispute: Dispute, by_user: User, note: str | None,
             expected_version: int | None) -> DisputeStep:
    """Raises lifecycle.DisputeError (StaleDispute included) with a message."""
    return lifecycle.advance(session, vault, dispute, DisputeStatus.WITHDRAWN, by_user, note=note,
                             expected_version=expected_version)


def evidence_file(session: Session, vault: Vault, user: User, access: SubjectAccess, dispute: Dispute,
                  row: Evidence) -> tuple[bytes, str, str]:
    """(content, media type, stored name); the download is recorded."""
    data, media_type, name = ev.read(vault.cipher(session, access.subject.data_key_id), row)
    _log(session, vault, user, access, EventKind.EXPORT, what="evidence", dispute_id=str(dispute.id),
         evidence_id=str(row.id))
    return data, media_type, name


def log_letter_download(session: Session, vault: Vault, user: User, access: SubjectAccess, dispute: Dispute) -> None:
    _log(session, vault, user, access, EventKind.EXPORT, what="outcome letter", format="pdf",
         dispute_id=str(dispute.id))
