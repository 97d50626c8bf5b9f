"""The furnisher's side of a dispute, through the API: the disputes of its
own records (and only the items that are its own), their evidence, and its
answer for each record. An institution sees a dispute only when it
furnished one of its records (`visible_dispute`) and a file only when it
goes to it (`given_evidence`); for anything else the answer is the same
NotFound, whether it exists or not. The API loads through these before it
acts (`portal.api.auth`). Everything is checked before anything is
written. Services flush, never commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.audit.events import record_event
from portal.audit.models import EventKind
from portal.crypto import Cipher, Vault
from portal.db import new_id, utcnow
from portal.disputes import evidence as ev
from portal.disputes import sharing
from portal.disputes.lifecycle import DisputeError, advance, write_step
from portal.disputes.models import Answer, Dispute, DisputeItem, DisputeStatus, Evidence, FurnisherResponse, StepKind
from portal.disputes.sharing import forwarded
from portal.institutions.models import ApiKey, Institution
from portal.records.models import CreditRecord, Subject
from portal.records.services import REFERENCE_INDEX, RecordInput

MAX_REVIEWED = 2000


class NotFound(LookupError):
    """No such dispute (or evidence) among those of the institution's records."""


class Conflict(DisputeError):
    """The answer clashes with the state of the case (a 409)."""


class Closed(Conflict):
    pass


class AlreadyAnswered(Conflict):
    pass


class AnswerRefused(ValueError):
    """A field of the answer that cannot be accepted, named by a JSON pointer."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__(errors[0]["detail"])
        self.errors = errors


# -- which disputes an institution sees ---------------------------------------------
def own_disputes(institution: Institution):
    """Ids of the disputes covering at least one record this institution furnished."""
    return (
        select(DisputeItem.dispute_id)
        .join(CreditRecord, CreditRecord.id == DisputeItem.record_id)
        .where(CreditRecord.furnisher_id == institution.id)
    )


def visible_dispute(
    session: Session, institution: Institution, dispute_id: uuid.UUID, for_update: bool = False
) -> Dispute:
    """The dispute, if it covers one of the institution's records; NotFound
    otherwise (unknown and someone else's alike)."""
    query = (
        select(Dispute)
        .join(Subject, Subject.id == Dispute.subject_id)
        .where(Dispute.id == dispute_id, Dispute.id.in_(own_disputes(institution)), Subject.shredded_at.is_(None))
    )
    if for_update:  # answers to one case are taken one at a time
        query = query.with_for_update(of=Dispute)
    dispute = session.scalar(query)
    if dispute is None:
        raise NotFound(str(dispute_id))
    return dispute


# -- evidence ---------------------------------------------------------------------------
@dataclass(frozen=True)
class EvidenceFile:
    content: bytes
    media_type: str
    name: str  # the uploaded name in plain ASCII, safe inside a quoted header parameter
    disposition: str = ""  # the whole Content-Disposition: the uploaded name, RFC 6266


def given_evidence(session: Session, institution: Institution, dispute: Dispute, evidence_id: uuid.UUID) -> Evidence:
    """A file of `dispute` (one the institution sees) that goes to it
    (`sharing`), while the case is sent and open; NotFound otherwise."""
    row = session.scalar(
        select(Evidence).where(
            Evidence.id == evidence_id, Evidence.dispute_id == dispute.id, sharing.given_to(institution.id)
        )
    )
    if row is None or not dispute.is_open or dispute.id not in forwarded(session, [dispute.id]):
        raise NotFound(str(evidence_id))
    return row


def send_evidence(
    session: Session, vault: Vault, institution: Institution, key: ApiKey, dispute: Dispute, row: Evidence
) -> EvidenceFile:
    """The file `given_evidence` found, checked against its hash; sending
    it is an access event the subject sees."""
    subject = session.get_one(Subject, dispute.subject_id)
    cipher = vault.cipher(session, subject.data_key_id)
    content, media_type, name = ev.read(cipher, row)
    record_event(
        session,
        vault,
        subject,
        EventKind.EVIDENCE_SENT,
        channel="api",
        institution_id=institution.id,
        detail={
            "dispute_id": str(dispute.id),
            "evidence_id": str(row.id),
            "media_type": media_type,
            "size": row.size,
            "sha256": bytes(row.sha256).hex(),
            "key_id": key.key_id,
        },
    )
    return EvidenceFile(content, media_type, name, ev.disposition(cipher, row))


# -- answers --------------------------------------------------------------------------------
@dataclass(frozen=True)
class AnswerInput:
    record_id: uuid.UUID
    answer: Answer
    reviewed: str
    correction: RecordInput | None = None


@dataclass(frozen=True)
class Answered:
    response: FurnisherResponse
    dispute: Dispute
    record_id: uuid.UUID


def proposed_correction(cipher: Cipher, response: FurnisherResponse) -> RecordInput | None:
    """The correction a furnisher sent with its answer, not applied yet."""
    sealed = cipher.open_field(response, "correction")
    return RecordInput.from_json(sealed) if sealed else None


def answer(
    session: Session,
    vault: Vault,
    institution: Institution,
    key: ApiKey,
    dispute: Dispute,
    given: AnswerInput,
    now: datetime | None = None,
) -> Answered:
    """The institution's answer for one of its records in an open dispute
    (loaded by `visible_dispute`, with `for_update`: answers to one case are
    taken one at a time): verified as accurate, could not verify, or
    corrected with the record as it should read (applied when an officer
    decides the case "corrected"). One answer per record. A case waiting
    for the furnisher goes back to review once every record has an answer."""
    reviewed = (given.reviewed or "").strip()
    if not reviewed or len(reviewed) > MAX_REVIEWED:
        raise AnswerRefused(
            [{"pointer": "/reviewed", "detail": f"say what was reviewed, in 1 to {MAX_REVIEWED} characters"}]
        )
    if (given.answer is Answer.CORRECTED) != (given.correction is not None):
        raise AnswerRefused(
            [
                {
                    "pointer": "/correction",
                    "detail": "is required when the answer is corrected"
                    if given.correction is None
                    else "is allowed only when the answer is corrected",
                }
            ]
        )
    if not dispute.is_open:
        raise Closed(
            f"This dispute is {DisputeStatus(dispute.status).value.replace('_', ' ')}; it takes no more answers."
        )
    found = session.execute(
        select(DisputeItem, CreditRecord)
        .join(CreditRecord, CreditRecord.id == DisputeItem.record_id)
        .where(
            DisputeItem.dispute_id == dispute.id,
            DisputeItem.record_id == given.record_id,
            CreditRecord.furnisher_id == institution.id,
        )
    ).first()
    if found is None:  # not in the dispute, or another furnisher's: one answer
        raise AnswerRefused([{"pointer": "/record_id", "detail": "is not one of your records in this dispute"}])
    item, record = found
    if session.scalar(select(FurnisherResponse.id).where(FurnisherResponse.item_id == item.id)) is not None:
        raise AlreadyAnswered("This record of the dispute has already been answered; an answer is final.")
    if given.correction is not None:
        _check_correction(vault, record, given.correction)
        if record.deleted_at is not None:
            raise Conflict("This record was deleted; it cannot be corrected.")

    subject = session.get_one(Subject, dispute.subject_id)
    now = now or utcnow()
    row = FurnisherResponse(
        id=new_id(),
        dispute_id=dispute.id,
        item_id=item.id,
        institution_id=institution.id,
        answer=given.answer,
        created_at=now,
        proposed_on_version=record.current_version if given.correction else None,
    )
    cipher = vault.cipher(session, subject.data_key_id)
    cipher.seal_field(row, "reviewed", reviewed)
    # The correction waits for the officer: it becomes the record's next
    # version only if the case is decided "corrected" (`decisions`).
    cipher.seal_field(row, "correction", given.correction.to_json() if given.correction else None)
    session.add(row)
    session.flush()
    detail = {"record_id": str(record.id), "answer": given.answer.value, "key_id": key.key_id}
    write_step(
        session, vault, dispute, StepKind.FURNISHER_ANSWERED, None, None, detail, now=now, institution_id=institution.id
    )
    if dispute.status == DisputeStatus.WAITING_FOR_FURNISHER and _all_answered(session, dispute):
        advance(session, vault, dispute, DisputeStatus.UNDER_REVIEW, None, now=now, institution_id=institution.id)
    return Answered(row, dispute, record.id)


def _check_correction(vault: Vault, record: CreditRecord, correction: RecordInput) -> None:
    errors = []
    if vault.blind_index(REFERENCE_INDEX, correction.reference) != record.reference_bidx:
        errors.append(
            {
                "pointer": "/correction/reference",
                "detail": "must be the disputed record's own reference: a correction is a new version of that record",
            }
        )
    if correction.category != record.category:
        errors.append(
            {
                "pointer": "/correction/category",
                "detail": f"must stay {record.category.value}, the category of the disputed record",
            }
        )
    if errors:
        raise AnswerRefused(errors)


def _all_answered(session: Session, dispute: Dispute) -> bool:
    items = session.execute(
        select(func.count()).select_from(DisputeItem).where(DisputeItem.dispute_id == dispute.id)
    ).scalar_one()
    answered = session.execute(
        select(func.count()).select_from(FurnisherResponse).where(FurnisherResponse.dispute_id == dispute.id)
    ).scalar_one()
    return items > 0 and answered >= items


__all__ = [
    "AlreadyAnswered",
    "AnswerInput",
    "AnswerRefused",
    "Answered",
    "Closed",
    "Conflict",
    "EvidenceFile",
    "NotFound",
    "answer",
    "given_evidence",
    "proposed_correction",
    "send_evidence",
    "visible_dispute",
]
