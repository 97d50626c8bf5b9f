"""What the institution API does, behind its thin routes: furnishing a
record, answering a report query, registering a written authorisation, and
the furnisher's side of disputes and correction notices (whose rules live
in portal.disputes.responses and portal.disputes.notices; here they are
shaped for the API).
Each checks everything before it writes and records its access event in the
same transaction. A refused request (4xx) writes nothing, except a refused
report query, which stays recorded for the subject (`keep_refused_attempt`).
Services flush, never commit."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.access import consents
from portal.access.basis import Basis, legal_basis
from portal.access.models import Consent
from portal.api.problems import PREFIX
from portal.api.schemas import AuthorisationRequest, FurnishRequest
from portal.audit import disclosures
from portal.audit.events import canonical_json, record_event
from portal.audit.models import AccessEvent, EventKind, Outcome
from portal.audit.purposes import Purpose
from portal.crypto import Vault
from portal.db import keep_refused_attempt
from portal.disputes import inbox, notices, responses
from portal.disputes.messages import tell_subject
from portal.disputes.models import Answer, DisputeStatus
from portal.disputes.services import disputed_records
from portal.disputes.statements import statements_for
from portal.i18n import local_name
from portal.institutions.models import ApiKey, Institution
from portal.localtime import today as local_today
from portal.records.documents import record_document
from portal.records.models import CreditRecord, RecordVersion, Subject
from portal.records.pages import REPORT_ORDER
from portal.records.retention import past_retention, retention_end
from portal.records.services import (
    RecordDeleted,
    find_subject,
    furnish_onto,
    furnished_record,
    hold_subject,
    subject_on_file,
    view_subject,
)


class Conflict(ValueError):
    """The request clashes with what is on file (a 409)."""


class CategoryNotAllowed(PermissionError):
    """A record of a category the operator has not allowed this institution
    to furnish (a 403)."""

    def __init__(self, category: str) -> None:
        super().__init__(category)
        self.category = category


class PastRetention(ValueError):
    """Negative information whose five years ended before today: it may not
    be furnished at all (a 422)."""

    def __init__(self, left_on: date) -> None:
        super().__init__(left_on.isoformat())
        self.left_on = left_on


# -- furnishing --------------------------------------------------------------------------
@dataclass(frozen=True)
class Furnished:
    version: RecordVersion
    subject_created: bool


def furnish_record(
    session: Session, vault: Vault, institution: Institution, key: ApiKey, data: FurnishRequest
) -> Furnished:
    """A new record or a new version, about a subject found by identifier.
    A subject not on file is created with the name given: furnishing is how
    subjects arrive. A reference of this furnisher already used for another
    subject or category is a Conflict, and a record a dispute decision
    deleted is RecordDeleted unless the furnisher certifies its accuracy:
    both found before anything is written. A record furnished again on
    such a certification is told to the subject. A category the operator
    did not allow it is CategoryNotAllowed, and negative information whose
    retention already ended is PastRetention, both before anything is read:
    its allowed categories came with its API key."""
    category = data.record.category.value
    if institution.allowed_categories is not None and category not in institution.allowed_categories:
        raise CategoryNotAllowed(category)
    record = data.record
    if record.is_negative and past_retention(record.category, record.ended_on, local_today()):
        raise PastRetention(retention_end(record.category, record.ended_on) or local_today())
    ref = data.subject
    subject = find_subject(session, vault, ref.kind, ref.identifier)
    existing = furnished_record(session, vault, institution, data.record)
    recertified = _check_reference(existing, subject, data)
    created = False
    if subject is None:
        subject, created = subject_on_file(
            session, vault, ref.kind, ref.identifier, ref.name or "", ref.contact_email, looked_up=True
        )
        if not created:  # another furnishing made the subject a moment ago: its records count
            existing = furnished_record(session, vault, institution, data.record)
            recertified = _check_reference(existing, subject, data)
    version = furnish_onto(session, vault, institution, subject, data.record, existing, data.certify_accurate)
    record_event(
        session,
        vault,
        subject,
        EventKind.RECORD_FURNISHED,
        channel="api",
        institution_id=institution.id,
        detail={
            "record": str(version.record_id),
            "version": version.version,
            "category": data.record.category.value,
            "key_id": key.key_id,
            **({"subject_created": True} if created else {}),
            **({"recertified": True} if recertified else {}),
        },
    )
    if recertified:
        _tell_of_recertification(session, vault, subject, institution)
    return Furnished(version, created)


def _check_reference(existing: CreditRecord | None, subject: Subject | None, data: FurnishRequest) -> bool:
    """Refuse a reference already used for another subject or category, and
    a record a dispute deleted unless certified; True when it is furnished
    again on a certification."""
    if existing is not None and (
        subject is None or existing.subject_id != subject.id or existing.category != data.record.category
    ):
        raise Conflict("This reference is already used for another subject or category.")
    if existing is not None and existing.deleted_at is not None:
        if not data.certify_accurate:
            raise RecordDeleted(existing.id)
        return True
    return False


def _tell_of_recertification(session: Session, vault: Vault, subject: Subject, institution: Institution) -> None:
    def compose() -> tuple[str, str]:
        name = local_name(institution)
        return (
            _("%(institution)s furnished a deleted record again", institution=name),
            _(
                "%(institution)s furnished again a record that had been deleted after a dispute, and certified "
                "that it is accurate. See it in your credit report; if it is wrong, you can dispute it again.",
                institution=name,
            ),
        )

    tell_subject(session, vault, subject, compose)


# -- written authorisations ---------------------------------------------------------------
def register_authorisation(
    session: Session, vault: Vault, institution: Institution, data: AuthorisationRequest
) -> Consent | None:
    """None when the subject is not on file. ConsentError names the field;
    it is raised the same whether or not the subject is on file."""
    consents.check_request(institution, data.purpose.value, data.valid_until, local_today())
    subject = find_subject(session, vault, data.subject.kind, data.subject.identifier)
    if subject is None:
        return None
    return consents.register_written(
        session, vault, institution, subject, data.purpose.value, data.valid_until, data.document_sha256, data.scope
    )


# -- report queries -------------------------------------------------------------------------
@dataclass(frozen=True)
class QueryResult:
    basis: Basis
    event: AccessEvent
    body: bytes | None = None  # the canonical JSON sent, when served
    sha256: str | None = None

    def sent(self) -> tuple[bytes, str]:
        """What a served query sent: the report's bytes and their SHA-256."""
        if self.body is None or self.sha256 is None:
            raise ValueError("the query was refused: no report was sent")
        return self.body, self.sha256


def query_report(
    session: Session,
    vault: Vault,
    institution: Institution,
    key: ApiKey,
    subject: Subject,
    purpose: Purpose,
    consent_id: uuid.UUID | None,
    today: date,
) -> QueryResult:
    """Decide, record the attempt (served or refused: exactly one event),
    and when served build the report and keep what was sent. The subject is
    told by the worker (`access.notify.tell_of_queries`), off this request."""
    # Hold the subject before deciding: a revocation or a lock committed
    # before this query is then seen by it, and one under way waits for it,
    # so nothing is served on a basis already withdrawn.
    hold_subject(session, subject, exclusive=False)
    basis = legal_basis(session, subject, institution, purpose, consent_id, today)
    event = record_event(
        session,
        vault,
        subject,
        EventKind.INSTITUTION_QUERY,
        channel="api",
        outcome=Outcome.SERVED if basis.allowed else Outcome.REFUSED,
        institution_id=institution.id,
        purpose=purpose.value,
        basis=basis.reason.value,
        detail={**basis.detail(), "key_id": key.key_id},
    )
    if not basis.allowed:
        # Answered with a 403, yet the subject sees the attempt and is told.
        keep_refused_attempt(session)
        return QueryResult(basis, event)
    report = institution_report(session, vault, subject, institution, purpose, basis, event, today)
    body = canonical_json(report)
    disclosures.store(session, vault, subject, event, body)
    return QueryResult(basis, event, body, hashlib.sha256(body).hexdigest())


def institution_report(
    session: Session,
    vault: Vault,
    subject: Subject,
    institution: Institution,
    purpose: Purpose,
    basis: Basis,
    event: AccessEvent,
    today: date,
) -> dict[str, Any]:
    """The report as an institution may see it: the current version of each
    record only (corrections replace, earlier versions are never disclosed
    again), no negative information past its expiry, nothing a dispute
    decision deleted or whose publicity has ended; unverifiable records
    marked so, and the subject's statements beside their records."""
    rows = session.execute(
        select(CreditRecord, RecordVersion, Institution)
        .join(
            RecordVersion,
            (RecordVersion.record_id == CreditRecord.id) & (RecordVersion.version == CreditRecord.current_version),
        )
        .join(Institution, Institution.id == CreditRecord.furnisher_id)
        .where(
            CreditRecord.subject_id == subject.id,
            CreditRecord.deleted_at.is_(None),
            CreditRecord.publicity_ended_at.is_(None),
            (RecordVersion.expires_on.is_(None)) | (RecordVersion.expires_on > today),
        )
        .order_by(*REPORT_ORDER)
    ).all()
    cipher = vault.cipher(session, subject.data_key_id)
    who = view_subject(session, vault, subject)
    ids = [r.id for r, _, _ in rows]
    disputed = disputed_records(session, ids)
    statements = statements_for(session, vault, subject, ids)
    return {
        "query": {
            "id": str(event.id),
            "at": event.occurred_at.isoformat(),
            "institution": institution.code,
            "purpose": purpose.value,
            "basis": basis.reason.value,
            "consent": str(basis.consent_id) if basis.consent_id else None,
        },
        "subject": {"kind": who.kind.value, "identifier": who.identifier, "name": who.name},
        "records": [record_document(cipher, r, v, f, r.id in disputed, statements.get(r.id, [])) for r, v, f in rows],
    }


# -- disputes of the institution's records, and correction notices --------------------------
def _next(offset: int, shown: int, total: int) -> int | None:
    return offset + shown if shown and offset + shown < total else None


def dispute_page(
    session: Session, vault: Vault, institution: Institution, params: dict[str, Any], today: date
) -> dict[str, Any]:
    page = inbox.disputes_for(session, vault, institution, params["status"], params["limit"], params["offset"], today)
    return {
        "disputes": [_dispute(d) for d in page.disputes],
        "total": page.total,
        "limit": params["limit"],
        "offset": params["offset"],
        "next_offset": _next(params["offset"], len(page.disputes), page.total),
    }


def evidence_href(dispute_id: uuid.UUID, evidence_id: uuid.UUID) -> str:
    return f"{PREFIX}/disputes/{dispute_id}/evidence/{evidence_id}"


def _dispute(d: inbox.DisputeView) -> dict[str, Any]:
    return {
        "id": str(d.id),
        "reason": d.reason.value,
        "status": d.status.value,
        "filed_at": d.filed_at.isoformat(),
        "due_on": d.due_on.isoformat(),
        "days_left": d.days_left,
        "forwarded": d.forwarded,
        "statement": d.statement,
        "items": [
            {
                "record_id": str(i.record_id),
                "reference": i.reference,
                "version": i.version,
                "answered": i.answer is not None,
                "answer": i.answer.value if i.answer else None,
                "decision": i.decision.value if i.decision else None,
            }
            for i in d.items
        ],
        "evidence": [
            {
                "id": str(e.id),
                "href": evidence_href(d.id, e.id),
                "name": e.name,
                "media_type": e.media_type,
                "size": e.size,
                "sha256": e.sha256,
                "removed": e.removed,
            }
            for e in d.evidence
        ],
    }


def answered(done: responses.Answered) -> dict[str, Any]:
    r = done.response
    return {
        "id": str(r.id),
        "dispute_id": str(r.dispute_id),
        "record_id": str(done.record_id),
        "answer": Answer(r.answer).value,
        "corrected_version": r.corrected_version,
        "dispute_status": DisputeStatus(done.dispute.status).value,
    }


_ACKNOWLEDGED = {"false": False, "true": True, "all": None}


def notice_page(session: Session, vault: Vault, institution: Institution, params: dict[str, Any]) -> dict[str, Any]:
    page = notices.list_for_institution(
        session, vault, institution, _ACKNOWLEDGED[params["acknowledged"].value], params["limit"], params["offset"]
    )
    return {
        "notices": [
            {
                "id": str(n.id),
                "dispute_id": str(n.dispute_id),
                "record_id": str(n.record_id),
                "created_at": n.created_at.isoformat(),
                "acknowledged_at": _moment(n.acknowledged_at),
                "body": n.body,
            }
            for n in page.notices
        ],
        "total": page.total,
        "limit": params["limit"],
        "offset": params["offset"],
        "next_offset": _next(params["offset"], len(page.notices), page.total),
    }


def _moment(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
