"""Firms' credit repair: a firm whose administrative penalty is past its
minimum publicity period applies, with a commitment letter and proof of
rectification, to end its publicity early (NDRC Measures on credit repair,
2023: publicity of a penalty may end once its minimum period has passed and
the firm has rectified). The application is a case of its own kind; the
officer decides it like any other (approved: the record is no longer
disclosed)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.crypto import Vault
from portal.disputes import evidence as ev
from portal.disputes.models import Dispute, DisputeKind, DisputeReason, Regime
from portal.disputes.services import disputed_records, file_dispute
from portal.disputes.statements import statements_for
from portal.i18n import N_, Refusal
from portal.localtime import today as local_today
from portal.records.models import Category, CreditRecord, Subject, SubjectKind
from portal.records.pages import RecordMarks
from portal.records.services import add_years, current_version, open_payload

# Without the furnisher's "minimum_publicity_until", the longest minimum
# period (serious cases: one year from the decision) applies.
DEFAULT_MINIMUM_YEARS = 1


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def repair_from(category: Category | str, payload: dict[str, Any]) -> date | None:
    """The first day a repair may be asked for this record; None when the
    record is not an administrative penalty (or has no dates)."""
    if Category(category) is not Category.ADMINISTRATIVE_PENALTY:
        return None
    if until := _day(payload.get("minimum_publicity_until")):
        return until + timedelta(days=1)
    if decided := _day(payload.get("decided_on")):
        return add_years(decided, DEFAULT_MINIMUM_YEARS)
    return None


def apply(
    session: Session,
    vault: Vault,
    subject: Subject,
    by_user: User,
    record_id: uuid.UUID | str,
    statement: str,
    commitment: ev.Upload | None,
    proof: Sequence[ev.Upload],
    today: date | None = None,
    regime: Regime | str = Regime.CN_20_DAYS,
) -> Dispute:
    """File a credit-repair application, answered within the deadline
    `regime`; everything is checked before anything is written. The caller
    has checked that `by_user` may act for the firm."""
    today = today or local_today()
    if subject.kind is not SubjectKind.FIRM:
        raise Refusal(N_("Credit repair is for firms' administrative penalties."))
    try:
        rid = record_id if isinstance(record_id, uuid.UUID) else uuid.UUID(str(record_id))
    except ValueError:
        raise Refusal(N_("Choose a record from your own report.")) from None
    record = session.get(CreditRecord, rid)
    if record is None or record.subject_id != subject.id:
        raise Refusal(N_("Choose a record from your own report."))
    if record.deleted_at is not None or record.publicity_ended_at is not None:
        raise Refusal(N_("This record is no longer disclosed; there is nothing to repair."))
    payload = open_payload(vault.cipher(session, subject.data_key_id), current_version(session, record))
    start = repair_from(record.category, payload)
    if start is None:
        raise Refusal(N_("Credit repair applies only to administrative penalties."))
    if today < start:
        raise Refusal(N_("Repair may be asked from %(day)s, when the minimum publicity period has passed."), day=start)
    if commitment is None or not commitment.data:
        raise ev.EvidenceRejected(N_("Attach the signed commitment letter."))
    if not [p for p in proof if p.data]:
        raise ev.EvidenceRejected(N_("Attach proof of rectification (for example the receipt of the fine paid)."))
    files = [commitment, *[p for p in proof if p.data]]
    return file_dispute(
        session,
        vault,
        subject,
        by_user,
        [record.id],
        DisputeReason.CREDIT_REPAIR,
        statement,
        files,
        regime=regime,
        today=today,
        kind=DisputeKind.CREDIT_REPAIR,
    )


def repair_dates(
    session: Session, vault: Vault, subject: Subject, records: Sequence[CreditRecord]
) -> dict[uuid.UUID, date]:
    """For the report: the date from which repair may be asked, by record."""
    if subject.kind is not SubjectKind.FIRM:
        return {}
    cipher = vault.cipher(session, subject.data_key_id)
    out: dict[uuid.UUID, date] = {}
    for record in records:
        if (
            record.category is not Category.ADMINISTRATIVE_PENALTY
            or record.publicity_ended_at is not None
            or record.deleted_at is not None
        ):
            continue
        if start := repair_from(record.category, open_payload(cipher, current_version(session, record))):
            out[record.id] = start
    return out


def record_marks(session: Session, vault: Vault, subject: Subject, records: Sequence[CreditRecord]) -> RecordMarks:
    """What disputes and credit repair did to `records`, for their views."""
    ids = [r.id for r in records]
    return RecordMarks(
        disputed_records(session, ids),
        statements_for(session, vault, subject, ids),
        repair_dates(session, vault, subject, records),
    )


__all__ = ["apply", "record_marks", "repair_dates", "repair_from"]
