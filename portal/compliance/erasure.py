"""Erasure requests: a person asks for their credit file to be erased, on a
ground, and an officer decides within DEADLINE_DAYS. Accepting carries it
out at once by crypto-shredding the file (`accounts.services.shred_subject`:
the subject's data key destroyed, the person's login closed); the receipt
goes to the person's addresses first, under a key of its own
(`accounts.closure.send_receipt`). Refusing gives a reason the person reads
on the request's page and in a message. Each step is an access event of the
file; the decision's is written before the key goes, so the log keeps its
leaf and `portal audit verify` passes afterwards.

Operators erase a file too, under the two-person rule (the operator console's
proposals); this is the subject's own way in. Services flush, never commit."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import ForeignKey, LargeBinary, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.accounts import sessions
from portal.accounts.closure import forget_messages, send_receipt
from portal.accounts.models import Role, User
from portal.accounts.services import shred_subject, user_email
from portal.audit.events import open_detail, record_event
from portal.audit.models import AccessEvent, EventKind, Outcome
from portal.compliance import policy
from portal.compliance.reveal import MaskedSubject
from portal.crypto import Vault
from portal.db import Base, new_id, str_enum, utcnow
from portal.disputes.messages import tell_subject
from portal.i18n import DEFAULT, N_, Refusal, day
from portal.i18n import lazy as _l
from portal.localtime import day_of, zone
from portal.localtime import today as local_today
from portal.records.models import CreditRecord, RecordVersion, Subject
from portal.records.services import hold_subject, view_subject

DEADLINE_DAYS = 30  # calendar days from the day the request was filed
MAX_STATEMENT = 2000
MAX_REASON = 2000
PAGE_SIZE = 20


class ErasureStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"  # carried out: the file was shredded
    REFUSED = "refused"


class ErasureGround(StrEnum):
    NOT_NEEDED = "not_needed"  # no longer needed for the purpose it was collected for
    CONSENT_WITHDRAWN = "consent_withdrawn"
    UNLAWFUL = "unlawful"  # collected or used unlawfully
    OBJECTION = "objection"  # the person objects to its use
    OTHER = "other"


GROUND_NAMES = {
    ErasureGround.NOT_NEEDED: _l("It is no longer needed for the purpose it was collected for"),
    ErasureGround.CONSENT_WITHDRAWN: _l("I withdraw the consent it was collected on"),
    ErasureGround.UNLAWFUL: _l("It was collected or used unlawfully"),
    ErasureGround.OBJECTION: _l("I object to its use"),
    ErasureGround.OTHER: _l("Another ground (explain below)"),
}
STATUS_NAMES = {
    ErasureStatus.OPEN: _l("Waiting for a decision"),
    ErasureStatus.ACCEPTED: _l("Accepted: the file was erased"),
    ErasureStatus.REFUSED: _l("Refused"),
}


class ErasureRequest(Base):
    """The statement and a refusal's reason are sealed under the subject's
    data key: after an erasure nothing of them can be read."""

    __tablename__ = "erasure_requests"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id"), index=True)
    filed_by_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    filed_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_on: Mapped[date]
    ground: Mapped[ErasureGround] = mapped_column(str_enum(ErasureGround, 24))
    statement_ct: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[ErasureStatus] = mapped_column(str_enum(ErasureStatus, 16), index=True, default=ErasureStatus.OPEN)
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    reason_ct: Mapped[bytes | None] = mapped_column(LargeBinary)


class ErasureRefusal(Refusal):
    """A step that is not allowed; the message says why."""


class AlreadyOpen(ErasureRefusal):
    def __init__(self, request_id: uuid.UUID) -> None:
        super().__init__(N_("You already have an erasure request waiting for a decision."))
        self.request_id = request_id


def may_request(user: User) -> bool:
    """A person, for their own file (a firm's file is not erased on a
    representative's request here)."""
    return Role(user.role) is Role.PERSON and user.is_active and user.subject_id is not None


def days_left(request: ErasureRequest, today: date | None = None) -> int:
    return (request.due_on - (today or local_today())).days


# -- the person ---------------------------------------------------------------------
def file_request(
    session: Session, vault: Vault, user: User, ground: ErasureGround, statement: str, today: date | None = None
) -> ErasureRequest:
    """File the person's request; one at a time per file. Raises
    ErasureRefusal (AlreadyOpen) before anything is written."""
    if not may_request(user) or user.subject_id is None:
        raise ErasureRefusal(N_("Only a person can ask for their own file to be erased."))
    statement = (statement or "").strip()
    if ground is ErasureGround.OTHER and not statement:
        raise ErasureRefusal(N_("Explain the ground of your request."))
    if len(statement) > MAX_STATEMENT:
        raise ErasureRefusal(
            N_("The explanation is at most %(max)d characters (%(given)d given)."),
            max=MAX_STATEMENT,
            given=len(statement),
        )
    subject = session.get_one(Subject, user.subject_id)
    hold_subject(session, subject, exclusive=True)  # two requests filed at once: the second sees the first
    if (open_id := _open_request(session, subject.id)) is not None:
        raise AlreadyOpen(open_id)
    filed = today or local_today()
    request = ErasureRequest(
        id=new_id(),
        subject_id=subject.id,
        filed_by_user_id=user.id,
        filed_at=utcnow(),
        due_on=filed + timedelta(days=DEADLINE_DAYS),
        ground=ground,
        status=ErasureStatus.OPEN,
    )
    vault.cipher(session, subject.data_key_id).seal_field(request, "statement", statement)
    session.add(request)
    session.flush()
    record_event(
        session,
        vault,
        subject,
        EventKind.ERASURE_REQUESTED,
        channel="web",
        actor_user_id=user.id,
        detail={"request_id": str(request.id), "ground": ground.value, "role": Role(user.role).value},
    )
    return request


def _open_request(session: Session, subject_id: uuid.UUID) -> uuid.UUID | None:
    return session.scalar(
        select(ErasureRequest.id).where(
            ErasureRequest.subject_id == subject_id, ErasureRequest.status == ErasureStatus.OPEN
        )
    )


def own_requests(session: Session, user: User) -> list[ErasureRequest]:
    if user.subject_id is None:
        return []
    return list(
        session.scalars(
            select(ErasureRequest)
            .where(ErasureRequest.subject_id == user.subject_id)
            .order_by(ErasureRequest.filed_at.desc())
        )
    )


def load_own(session: Session, user: User, request_id: uuid.UUID) -> ErasureRequest | None:
    """The person's own request; None for anyone else's (a page not found)."""
    if not may_request(user):
        return None
    request = session.get(ErasureRequest, request_id)
    return request if request is not None and request.subject_id == user.subject_id else None


@dataclass(frozen=True)
class RequestView:
    request: ErasureRequest
    statement: str
    reason: str | None  # a refusal's reason
    days_left: int

    @property
    def ground_label(self) -> str:
        return str(GROUND_NAMES[self.request.ground])

    @property
    def status_label(self) -> str:
        return str(STATUS_NAMES[self.request.status])

    @property
    def is_open(self) -> bool:
        return self.request.status is ErasureStatus.OPEN

    @property
    def overdue(self) -> bool:
        return self.is_open and self.days_left < 0


def request_view(session: Session, vault: Vault, request: ErasureRequest, today: date | None = None) -> RequestView:
    """The request as its subject (or an officer) reads it; the subject must
    not be shredded."""
    cipher = vault.cipher(session, session.get_one(Subject, request.subject_id).data_key_id)
    return RequestView(
        request, cipher.open_text(request, "statement"), cipher.open_field(request, "reason"), days_left(request, today)
    )


# -- officers ------------------------------------------------------------------------
@dataclass(frozen=True)
class QueueRow:
    request: ErasureRequest
    subject: MaskedSubject | None  # None once erased
    days_left: int

    @property
    def status_label(self) -> str:
        return str(STATUS_NAMES[self.request.status])

    @property
    def ground_label(self) -> str:
        return str(GROUND_NAMES[self.request.ground])

    @property
    def overdue(self) -> bool:
        return self.request.status is ErasureStatus.OPEN and self.days_left < 0


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    page: int
    pages: int
    total: int


def queue(session: Session, vault: Vault, officer: User, decided: bool, page: int = 1) -> QueuePage:
    """Open requests, the soonest due first (overdue ones at the top); or,
    with `decided`, the decided ones, newest first. Never those about a
    subject the officer is linked to. Raises LookupError past the last
    page."""
    where = [ErasureRequest.status != ErasureStatus.OPEN if decided else ErasureRequest.status == ErasureStatus.OPEN]
    if linked := policy.linked_subjects(session, officer):
        where.append(ErasureRequest.subject_id.not_in(linked))
    total = session.scalar(select(func.count()).select_from(ErasureRequest).where(*where)) or 0
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if page > pages:
        raise LookupError(page)
    order = (
        (ErasureRequest.decided_at.desc(), ErasureRequest.id)
        if decided
        else (ErasureRequest.due_on, ErasureRequest.filed_at, ErasureRequest.id)
    )
    found = session.scalars(
        select(ErasureRequest).where(*where).order_by(*order).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ).all()
    today = local_today()
    return QueuePage([QueueRow(r, _masked(session, vault, r), days_left(r, today)) for r in found], page, pages, total)


def _masked(session: Session, vault: Vault, request: ErasureRequest) -> MaskedSubject | None:
    subject = session.get_one(Subject, request.subject_id)
    return None if subject.shredded_at is not None else MaskedSubject.of(view_subject(session, vault, subject))


def load_for_officer(
    session: Session, officer: User, request_id: uuid.UUID, for_update: bool = False
) -> ErasureRequest | None:
    """The request, for officers and supervisors not linked to its subject;
    None otherwise (a page not found)."""
    if not policy.is_staff(officer):
        return None
    request = session.get(ErasureRequest, request_id, with_for_update=for_update)
    if request is None or policy.is_linked(session, officer, request.subject_id):
        return None
    return request


@dataclass(frozen=True)
class CaseView:
    """An erasure request as the officer deciding it reads it."""

    row: QueueRow
    view: RequestView | None  # None once the file was erased
    records: int
    negative: int

    @property
    def request(self) -> ErasureRequest:
        return self.row.request


def case_view(session: Session, vault: Vault, request: ErasureRequest, officer: User) -> CaseView:
    """The request, its subject masked and the size of the file; opening it
    is an access event of the file (once per officer, request and day)."""
    row = QueueRow(request, _masked(session, vault, request), days_left(request))
    if row.subject is None:
        return CaseView(row, None, 0, 0)
    _record_view(session, vault, request, officer)
    current = (RecordVersion.record_id == CreditRecord.id) & (RecordVersion.version == CreditRecord.current_version)
    counts = session.execute(
        select(func.count(), func.count().filter(RecordVersion.is_negative.is_(True)))
        .select_from(CreditRecord)
        .join(RecordVersion, current)
        .where(CreditRecord.subject_id == request.subject_id)
    ).one()
    return CaseView(row, request_view(session, vault, request), counts[0], counts[1])


def _record_view(session: Session, vault: Vault, request: ErasureRequest, officer: User) -> None:
    subject = session.get_one(Subject, request.subject_id)
    cipher = vault.cipher(session, subject.data_key_id)
    since = datetime.combine(day_of(utcnow()), time.min, zone())
    for event in session.scalars(
        select(AccessEvent).where(
            AccessEvent.subject_id == subject.id,
            AccessEvent.kind == EventKind.ERASURE_VIEWED,
            AccessEvent.actor_user_id == officer.id,
            AccessEvent.occurred_at >= since,
        )
    ):
        if open_detail(cipher, event)[0].get("request_id") == str(request.id):
            return
    record_event(
        session,
        vault,
        subject,
        EventKind.ERASURE_VIEWED,
        channel="staff",
        actor_user_id=officer.id,
        detail={"request_id": str(request.id), "role": Role(officer.role).value},
    )


def _require_open(request: ErasureRequest) -> None:
    if request.status is not ErasureStatus.OPEN:
        raise ErasureRefusal(N_("This request was decided already; reload the page."))


def accept(session: Session, vault: Vault, request: ErasureRequest, officer: User) -> int:
    """Carry the request out: the decision's event, the receipt to every
    address of the person, then the file crypto-shredded and the person's
    sessions ended. Returns how many receipts were sent."""
    _require_open(request)
    subject = session.get_one(Subject, request.subject_id, with_for_update=True)
    if subject.shredded_at is not None:
        raise ErasureRefusal(N_("This file was erased already."))
    record_event(
        session,
        vault,
        subject,
        EventKind.ERASURE_DECIDED,
        channel="staff",
        actor_user_id=officer.id,
        detail={"request_id": str(request.id), "decision": "accepted", "role": Role(officer.role).value},
    )
    logins = session.scalars(select(User).where(User.subject_id == subject.id, User.role == Role.PERSON)).all()
    sent = _send_receipts(session, vault, request, subject, logins)
    for login in logins:
        sessions.revoke_all(session, login)
    forget_messages(session, [subject.data_key_id, *(u.data_key_id for u in logins)])
    shred_subject(session, vault, subject)
    request.status, request.decided_at, request.decided_by_id = ErasureStatus.ACCEPTED, utcnow(), officer.id
    session.flush()
    return sent


def _send_receipts(
    session: Session, vault: Vault, request: ErasureRequest, subject: Subject, logins: Sequence[User]
) -> int:
    """To each active login's address in its language, and to the contact
    on file (in the portal's default) when it is another address."""
    to: dict[str, str] = {}
    for login in logins:
        if login.is_active:
            to.setdefault(user_email(session, vault, login).lower(), login.locale or DEFAULT)
    contact = vault.cipher(session, subject.data_key_id).open_field(subject, "contact_email")
    if contact:
        to.setdefault(contact.strip().lower(), DEFAULT)
    filed = day_of(request.filed_at)
    for email, locale in to.items():
        with force_locale(locale):
            send_receipt(
                session,
                vault,
                email,
                _("Your credit file was erased"),
                _(
                    "As you asked on %(filed)s, your credit file was erased on %(today)s. The key that protected it "
                    "was destroyed, so nothing in it can be read any more, by anyone, and your account on the portal "
                    "is closed.\n\nThe public log of accesses keeps its entries, which reveal nothing about you. "
                    "This is the last message about this file.",
                    filed=day(filed),
                    today=day(local_today()),
                ),
            )
    return len(to)


def refuse(session: Session, vault: Vault, request: ErasureRequest, officer: User, reason: str) -> None:
    """Refuse with a reason the person reads (their request's page, and a
    message in their language)."""
    _require_open(request)
    reason = (reason or "").strip()
    if not reason:
        raise ErasureRefusal(N_("Give the reason for the refusal: the person reads it."))
    if len(reason) > MAX_REASON:
        raise ErasureRefusal(
            N_("The reason is at most %(max)d characters (%(given)d given)."), max=MAX_REASON, given=len(reason)
        )
    subject = session.get_one(Subject, request.subject_id)
    vault.cipher(session, subject.data_key_id).seal_field(request, "reason", reason)
    request.status, request.decided_at, request.decided_by_id = ErasureStatus.REFUSED, utcnow(), officer.id
    session.flush()
    record_event(
        session,
        vault,
        subject,
        EventKind.ERASURE_DECIDED,
        channel="staff",
        outcome=Outcome.REFUSED,
        actor_user_id=officer.id,
        detail={"request_id": str(request.id), "decision": "refused", "role": Role(officer.role).value},
    )
    filed = day_of(request.filed_at)

    def compose() -> tuple[str, str]:
        return _("Your erasure request was refused"), _(
            "An officer refused your request of %(filed)s to erase your credit file, for this reason:\n\n"
            "%(reason)s\n\nYour file stays as it was. You may ask again on other grounds, or complain to the "
            "supervisory authority.",
            filed=day(filed),
            reason=reason,
        )

    tell_subject(session, vault, subject, compose)
