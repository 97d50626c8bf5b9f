"""What the subject sees of who accessed their file: access events with
filters and pages, each with the institution, purpose, legal basis,
channel, outcome and what was disclosed. Staff appear by role only.

The page has two lists, each paged on its own: what others did (an
institution's query, what it registered or furnished, an officer opening a
case or revealing the name), first; and the subject's own activity (their
views and downloads, the authorities they granted, the lock, their account,
their disputes' steps), which would otherwise bury the first."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from portal.access.models import Complaint
from portal.accounts.models import User
from portal.audit.events import open_detail, proof_bundles
from portal.audit.models import AccessEvent, Disclosure, EventKind, Outcome
from portal.crypto import Vault
from portal.disputes.models import Dispute
from portal.institutions.models import Institution
from portal.records.models import Subject
from portal.transparency import log

PAGE_SIZE = 25  # every event is kept and shown: at least the last two years
MAX_PROOFS = 100  # event ids in one request for proofs (a page has 25)

# Someone other than the subject's side looked at the file or changed it.
BY_OTHERS = frozenset(
    {
        EventKind.INSTITUTION_QUERY,
        EventKind.AUTHORISATION_REGISTERED,
        EventKind.RECORD_FURNISHED,
        EventKind.CASE_VIEWED,
        EventKind.IDENTITY_REVEALED,
    }
)
# ... and did it without the subject asking for it: "I did not authorise
# this" is offered on these alone (never on the subject's own grant, nor on
# their dispute being sent to the furnisher).
UNASKED = frozenset({EventKind.INSTITUTION_QUERY, EventKind.AUTHORISATION_REGISTERED, EventKind.IDENTITY_REVEALED})


class Section(StrEnum):
    OTHERS = "others"
    OWN = "own"


@dataclass(frozen=True)
class Filters:
    institution_id: uuid.UUID | None = None
    purpose: str | None = None
    outcome: Outcome | None = None
    since: date | None = None
    until: date | None = None


@dataclass(frozen=True)
class AccessRow:
    id: uuid.UUID
    occurred_at: datetime
    kind: EventKind
    outcome: Outcome
    channel: str
    purpose: str | None
    institution: Institution | None
    actor_role: str | None
    detail: dict[str, Any]
    log_index: int | None
    pending: bool  # queued: the integrator has not given it its leaf yet
    disclosed: bool
    complained: bool  # a complaint from before complaints became disputes
    dispute_id: uuid.UUID | None = None  # the latest dispute of this access
    actor_user_id: uuid.UUID | None = None

    @property
    def unasked(self) -> bool:
        """Someone else acted without the subject asking: it can be disputed as not authorised."""
        return self.kind in UNASKED


@dataclass
class AccessPage:
    rows: list[AccessRow]
    page: int
    pages: int
    total: int


def _conditions(subject: Subject, filters: Filters, section: Section) -> list:
    by_others = AccessEvent.kind.in_(sorted(BY_OTHERS))
    where = [AccessEvent.subject_id == subject.id, by_others if section is Section.OTHERS else ~by_others]
    if filters.institution_id:
        where.append(AccessEvent.institution_id == filters.institution_id)
    if filters.purpose:
        where.append(AccessEvent.purpose == filters.purpose)
    if filters.outcome:
        where.append(AccessEvent.outcome == filters.outcome)
    if filters.since:
        where.append(AccessEvent.occurred_at >= datetime.combine(filters.since, time.min, UTC))
    if filters.until:
        where.append(AccessEvent.occurred_at < datetime.combine(filters.until + timedelta(days=1), time.min, UTC))
    return where


def access_page(
    session: Session, vault: Vault, subject: Subject, filters: Filters, page: int, section: Section = Section.OTHERS
) -> AccessPage:
    """One page of one section of the log; LookupError past its last page."""
    where = _conditions(subject, filters, section)
    total = session.execute(select(func.count()).select_from(AccessEvent).where(*where)).scalar_one()
    pages = max(1, -(-total // PAGE_SIZE))
    if page > pages:
        raise LookupError(page)
    # One statement for the page: each event with its institution, the
    # actor's role, and whether it was disclosed, complained of, disputed
    # (the latest dispute) or still waits for the log.
    disclosed = exists().where(Disclosure.event_id == AccessEvent.id)
    complained = exists().where(Complaint.event_id == AccessEvent.id)
    disputed = (
        select(Dispute.id)
        .where(Dispute.access_event_id == AccessEvent.id)
        .order_by(Dispute.filed_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    found = session.execute(
        select(AccessEvent, Institution, User.role, disclosed, complained, disputed, log.is_queued(AccessEvent.id))
        .outerjoin(Institution, Institution.id == AccessEvent.institution_id)
        .outerjoin(User, User.id == AccessEvent.actor_user_id)
        .where(*where)
        .order_by(AccessEvent.occurred_at.desc(), AccessEvent.id)
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    cipher = vault.cipher(session, subject.data_key_id)
    rows = []
    for e, institution, actor_role, was_disclosed, was_complained, dispute_id, waiting in found:
        detail, _salt = open_detail(cipher, e)
        rows.append(
            AccessRow(
                e.id,
                e.occurred_at,
                e.kind,
                e.outcome,
                e.channel,
                e.purpose,
                institution,
                actor_role.value if actor_role is not None else None,
                detail,
                e.log_index,
                bool(waiting) and e.log_index is None,
                bool(was_disclosed),
                bool(was_complained),
                dispute_id,
                e.actor_user_id,
            )
        )
    return AccessPage(rows, page, pages, total)


def proofs_of(session: Session, vault: Vault, subject: Subject, ids: list[uuid.UUID]) -> dict[str, Any]:
    """The proof bundles of these events of the subject, by event id, in one
    answer (the page checks all its entries with one request), and the ids
    in the log whose checkpoint the witnesses have not vouched for yet. Ids
    that are not the subject's events, or not in the log yet, have none."""
    events = session.scalars(
        select(AccessEvent).where(AccessEvent.id.in_(ids), AccessEvent.subject_id == subject.id)
    ).all()
    bundles = {str(event_id): bundle for event_id, bundle in proof_bundles(session, vault, events).items()}
    waiting = [str(e.id) for e in events if e.log_index is not None and str(e.id) not in bundles]
    return {"bundles": bundles, "waiting": waiting}


def filter_choices(session: Session, subject: Subject) -> tuple[list[Institution], list[str]]:
    """The institutions and purposes that occur in the subject's events:
    what the filters offer (no event is decrypted for this)."""
    institutions = session.scalars(
        select(Institution)
        .where(
            Institution.id.in_(
                select(AccessEvent.institution_id).where(AccessEvent.subject_id == subject.id).distinct()
            )
        )
        .order_by(Institution.code)
    ).all()
    purposes = sorted(
        filter(
            None, session.scalars(select(AccessEvent.purpose).where(AccessEvent.subject_id == subject.id).distinct())
        )
    )
    return list(institutions), purposes
