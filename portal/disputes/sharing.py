"""Which evidence files go to which furnisher. In a case about one
furnisher's records that furnisher gets every file; in a case spanning
several, the assigned officer sends each furnisher the files about its
records, so no institution receives what the subject sent about another's.
A furnisher fetches a file only once the case is sent and while it is open
(`responses`). Services flush, never commit."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.disputes.models import Dispute, DisputeItem, DisputeStep, Evidence, EvidenceShare, StepKind
from portal.disputes.versions import DisputeError, touch
from portal.i18n import N_
from portal.institutions.models import Institution
from portal.records.models import CreditRecord


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
    (besides the case being its own, sent and open)."""
    return or_(
        Evidence.dispute_id.in_(_single_furnisher_cases()),
        Evidence.id.in_(select(EvidenceShare.evidence_id).where(EvidenceShare.institution_id == institution_id)),
    )


def recipients(
    session: Session, dispute: Dispute, furnishers: list[Institution] | None = None
) -> dict[uuid.UUID, list[Institution]]:
    """For each file of the case, the furnishers it goes to (`furnishers`:
    the case's, when the caller has them already)."""
    furnishers = case_furnishers(session, dispute.id) if furnishers is None else furnishers
    files = [e.id for e in dispute.evidence]
    if len(furnishers) == 1:
        return {f: list(furnishers) for f in files}
    out: dict[uuid.UUID, list[Institution]] = {f: [] for f in files}
    by_id = {i.id: i for i in furnishers}
    for evidence_id, institution_id in session.execute(
        select(EvidenceShare.evidence_id, EvidenceShare.institution_id).where(EvidenceShare.evidence_id.in_(files))
    ):
        if institution_id in by_id:
            out[evidence_id].append(by_id[institution_id])
    for found in out.values():
        found.sort(key=lambda i: i.code)
    return out


def share(
    session: Session, dispute: Dispute, officer: User, evidence_id: uuid.UUID, institution_ids: Iterable[uuid.UUID]
) -> list[Institution]:
    """Send a file of a multi-furnisher case to some of its furnishers
    (those it already goes to stay). The caller checked that the officer
    holds the case and its version; the case's version moves, so a page
    showing the old shares is stale. Returns the furnishers added."""
    if not dispute.is_open:
        raise DisputeError(N_("This dispute is closed; its files go to no one any more."))
    row = session.get(Evidence, evidence_id)
    if row is None or row.dispute_id != dispute.id:
        raise LookupError(str(evidence_id))
    furnishers = {i.id: i for i in case_furnishers(session, dispute.id)}
    if len(furnishers) < 2:
        raise DisputeError(N_("This case is about one furnisher's records; it receives every file."))
    wanted = set(institution_ids)
    if not wanted:
        raise DisputeError(N_("Choose at least one furnisher."))
    if not wanted <= furnishers.keys():
        raise DisputeError(N_("Only a furnisher of a record in this case can receive its files."))
    already = set(session.scalars(select(EvidenceShare.institution_id).where(EvidenceShare.evidence_id == row.id)))
    added = [furnishers[i] for i in sorted(wanted - already, key=lambda i: furnishers[i].code)]
    if added:
        touch(session, dispute)
        session.add_all(
            EvidenceShare(evidence_id=row.id, institution_id=i.id, shared_by_user_id=officer.id) for i in added
        )
        session.flush()
    return added


__all__ = ["case_furnishers", "forwarded", "given_to", "recipients", "share"]
