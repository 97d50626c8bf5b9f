"""Which evidence files go to which furnisher. When the officer sends a case
to its furnishers, every file goes to every furnisher of the case unless the
officer holds it back from one, saying why (the subject reads the reason):
a file about another furnisher's record, say (`plan_send`, `record_send`).
Each decision is a row of EvidenceShare. Later the officer may send a file
held back, or one added since, to a furnisher (`share`). In a case about one
furnisher's records, a file that has no row goes to it (cases sent before
files were sent one by one, and files the subject adds once it is sent).
A furnisher fetches a file only once the case is sent and while it is open
(`responses`). Services flush, never commit."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.crypto import Cipher
from portal.db import new_id, utcnow
from portal.disputes.models import Dispute, DisputeItem, DisputeStep, Evidence, EvidenceShare, StepKind
from portal.disputes.versions import DisputeError, touch
from portal.i18n import N_
from portal.institutions.models import Institution
from portal.records.models import CreditRecord

Pair = tuple[uuid.UUID, uuid.UUID]  # (evidence id, institution id)
T = TypeVar("T")
MAX_REASON = 2000  # characters of the reason a file is held back


def case_furnishers(session: Session, dispute_id: uuid.UUID) -> list[Institution]:
    """The furnishers of the records a case covers, by code."""
    return list(
        session.scalars(
            select(Institution)
            .where(
                Institution.id.in_(
                    select(CreditRecord.furnisher_id)
                    .join(DisputeItem, DisputeItem.record_id == CreditRecord.id)
                    .where(DisputeItem.dispute_id == dispute_id)
                )
            )
            .order_by(Institution.code)
        )
    )


def forwarded(session: Session, dispute_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """The disputes an officer has sent to the furnishers."""
    return set(
        session.scalars(
            select(DisputeStep.dispute_id).where(
                DisputeStep.dispute_id.in_(dispute_ids), DisputeStep.step == StepKind.WAITING_FOR_FURNISHER
            )
        )
    )


def _single_furnisher_cases():
    """Ids of the cases whose records all come from one furnisher."""
    return (
        select(DisputeItem.dispute_id)
        .join(CreditRecord, CreditRecord.id == DisputeItem.record_id)
        .group_by(DisputeItem.dispute_id)
        .having(func.count(CreditRecord.furnisher_id.distinct()) == 1)
    )


def given_to(institution_id: uuid.UUID):
    """The condition on Evidence that the file is the institution's to fetch
    (besides the case being its own, sent and open): sent to it, or with no
    decision in a case about its records alone."""

    def rows(held: bool):
        return select(EvidenceShare.evidence_id).where(
            EvidenceShare.institution_id == institution_id, EvidenceShare.held_back.is_(held)
        )

    return or_(
        and_(Evidence.dispute_id.in_(_single_furnisher_cases()), Evidence.id.not_in(rows(True))),
        Evidence.id.in_(rows(False)),
    )


def _rows(session: Session, files: list[uuid.UUID]) -> dict[Pair, EvidenceShare]:
    if not files:
        return {}
    return {
        (row.evidence_id, row.institution_id): row
        for row in session.scalars(select(EvidenceShare).where(EvidenceShare.evidence_id.in_(files)))
    }


def _goes(row: EvidenceShare | None, single: bool) -> bool:
    return (row is None and single) or (row is not None and not row.held_back)


def recipients(
    session: Session, dispute: Dispute, furnishers: list[Institution] | None = None
) -> dict[uuid.UUID, list[Institution]]:
    """For each file of the case, the furnishers it goes to (`furnishers`:
    the case's, when the caller has them already)."""
    furnishers = case_furnishers(session, dispute.id) if furnishers is None else furnishers
    files = [e.id for e in dispute.evidence]
    rows = _rows(session, files)
    single = len(furnishers) == 1
    return {f: [i for i in furnishers if _goes(rows.get((f, i.id)), single)] for f in files}


@dataclass(frozen=True)
class Held:
    institution: Institution
    reason: str


def held_back(
    session: Session, cipher: Cipher, dispute: Dispute, furnishers: list[Institution] | None = None
) -> dict[uuid.UUID, list[Held]]:
    """For each file of the case held back from some furnisher, from which
    and why (`cipher`: the subject's)."""
    furnishers = case_furnishers(session, dispute.id) if furnishers is None else furnishers
    by_id = {i.id: i for i in furnishers}
    out: dict[uuid.UUID, list[Held]] = {}
    for (evidence_id, institution_id), row in _rows(session, [e.id for e in dispute.evidence]).items():
        if row.held_back and institution_id in by_id:
            out.setdefault(evidence_id, []).append(
                Held(by_id[institution_id], cipher.open_field(row, "held_back_reason") or "")
            )
    for found in out.values():
        found.sort(key=lambda h: h.institution.code)
    return out


# -- sending the case ---------------------------------------------------------------------
@dataclass(frozen=True)
class Pending:
    """A file and a furnisher the officer decides about when sending the
    case: by default the file goes; `held` is the reason it was held back
    before (offered again), or None."""

    evidence_id: uuid.UUID
    institution: Institution
    held: str | None = None


def pending(session: Session, cipher: Cipher, dispute: Dispute) -> list[Pending]:
    """What sending the case decides, file by file and furnisher by
    furnisher: every pair not sent yet. In a case about one furnisher's
    records that was sent before, a file with no decision went already."""
    furnishers = case_furnishers(session, dispute.id)
    files = sorted(dispute.evidence, key=lambda e: (e.created_at, e.id))
    rows = _rows(session, [e.id for e in files])
    sent_before = len(furnishers) == 1 and dispute.id in forwarded(session, [dispute.id])
    out = []
    for e in files:
        for i in furnishers:
            row = rows.get((e.id, i.id))
            if row is None and not sent_before:
                out.append(Pending(e.id, i))
            elif row is not None and row.held_back:
                out.append(Pending(e.id, i, cipher.open_field(row, "held_back_reason") or ""))
    return out


def plan_send(
    session: Session, cipher: Cipher, dispute: Dispute, holds: Mapping[Pair, str]
) -> list[tuple[Pending, str | None]]:
    """What sending the case will record: each pending pair, with the
    reason it is held back, or None when the file goes. Checks everything
    before anything is written: a file held back needs a reason."""
    offered = pending(session, cipher, dispute)
    known = {(p.evidence_id, p.institution.id) for p in offered}
    if not set(holds) <= known:
        raise DisputeError(N_("Only a file of this case that has not gone to a furnisher yet can be held back."))
    out: list[tuple[Pending, str | None]] = []
    for p in offered:
        key = (p.evidence_id, p.institution.id)
        if key not in holds:
            out.append((p, None))
            continue
        reason = (holds[key] or "").strip()
        if not reason:
            raise DisputeError(N_("Say why you hold the file back from %(furnisher)s."), furnisher=p.institution.code)
        if len(reason) > MAX_REASON:
            raise DisputeError(N_("The reason is too long: at most %(n)d characters."), n=MAX_REASON)
        out.append((p, reason))
    return out


def record_send(
    session: Session, cipher: Cipher, officer: User, plan: list[tuple[Pending, str | None]]
) -> list[EvidenceShare]:
    """Record what `plan_send` planned, once the case is sent (the caller
    moved it, which checked the officer and the case's version)."""
    rows = _rows(session, list({p.evidence_id for p, _reason in plan}))
    written = []
    now = utcnow()
    for p, reason in plan:
        row = rows.get((p.evidence_id, p.institution.id))
        if row is None:
            row = EvidenceShare(id=new_id(), evidence_id=p.evidence_id, institution_id=p.institution.id)
            session.add(row)
        row.shared_by_user_id, row.shared_at = officer.id, now
        row.held_back = reason is not None
        cipher.seal_field(row, "held_back_reason", reason)
        written.append(row)
    session.flush()
    return written


def send_case(
    session: Session, cipher: Cipher, officer: User, plan: list[tuple[Pending, str | None]], move: Callable[[], T]
) -> T:
    """Record `plan` and send the case (`move`: the step to "waiting for the
    furnisher", which checks the officer and the case's version), as one:
    a refused step leaves no file sent. The files are recorded first, so
    the step's access event counts what each furnisher receives."""
    with session.begin_nested():
        record_send(session, cipher, officer, plan)
        return move()


# -- a file sent later ------------------------------------------------------------------
def share(
    session: Session, dispute: Dispute, officer: User, evidence_id: uuid.UUID, institution_ids: Iterable[uuid.UUID]
) -> list[Institution]:
    """Send a file to some of the case's furnishers (those it already goes
    to stay; one it was held back from gets it now). The caller checked
    that the officer holds the case and its version; the case's version
    moves, so a page showing the old shares is stale. Returns the
    furnishers added."""
    if not dispute.is_open:
        raise DisputeError(N_("This dispute is closed; its files go to no one any more."))
    row = session.get(Evidence, evidence_id)
    if row is None or row.dispute_id != dispute.id:
        raise LookupError(str(evidence_id))
    furnishers = {i.id: i for i in case_furnishers(session, dispute.id)}
    wanted = set(institution_ids)
    if not wanted:
        raise DisputeError(N_("Choose at least one furnisher."))
    if not wanted <= furnishers.keys():
        raise DisputeError(N_("Only a furnisher of a record in this case can receive its files."))
    rows = _rows(session, [row.id])
    single = len(furnishers) == 1
    if single and not any(found.held_back for found in rows.values()):
        raise DisputeError(N_("This case is about one furnisher's records; it receives every file."))
    added = [
        furnishers[i]
        for i in sorted(wanted, key=lambda i: furnishers[i].code)
        if not _goes(rows.get((row.id, i)), single)
    ]
    if added:
        touch(session, dispute)
        for i in added:
            found = rows.get((row.id, i.id))
            if found is None:
                session.add(EvidenceShare(evidence_id=row.id, institution_id=i.id, shared_by_user_id=officer.id))
            else:  # held back before: it goes now, and the reason is no longer true
                found.held_back, found.held_back_reason_ct = False, None
                found.shared_by_user_id, found.shared_at = officer.id, utcnow()
        session.flush()
    return added


__all__ = [
    "Held",
    "Pending",
    "case_furnishers",
    "forwarded",
    "given_to",
    "held_back",
    "pending",
    "plan_send",
    "recipients",
    "record_send",
    "send_case",
    "share",
]
