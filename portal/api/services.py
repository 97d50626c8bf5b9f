"""What the institution API does, behind its thin routes: furnishing a
record, answering a report query, registering a written authorisation.
Each checks everything before it writes (a refused request commits, so
nothing may be half-written) and records its access event in the same
transaction. Services flush, never commit."""
from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from portal.access.notify import tell_subject_of_query
from portal.disputes.services import disputed_records
from portal.transparency import log
from portal.access import consents, disclosures
from portal.access.consents import Basis
from portal.access.events import canonical_json, record_event
from portal.access.models import AccessEvent, Consent, EventKind, Outcome
from portal.access.purposes import Purpose
from portal.api.schemas import AuthorisationRequest, FurnishRequest
from portal.crypto import Vault
from portal.institutions.models import ApiKey, Institution
from portal.records.identifiers import InvalidIdentifier
from portal.records.models import Category, CreditRecord, RecordVersion, Subject, SubjectKind
from portal.records.services import (REFERENCE_INDEX, create_subject, find_subject, furnish, open_payload,
                                     view_subject)


class Conflict(ValueError):
    """The request clashes with what is on file (a 409)."""


class Ambiguous(LookupError):
    """An identifier valid as both kinds, with a subject of each on file."""


# -- subjects by identifier ------------------------------------------------------------
def find_by_identifier(session: Session, vault: Vault, identifier: str,
                       kind: SubjectKind | None) -> Subject | None:
    """The subject with this identifier. Without a kind, it is inferred:
    a number valid as a resident id and as a credit code must name the one
    kind that is on file. Raises InvalidIdentifier when valid as neither."""
    if kind is not None:
        return find_subject(session, vault, kind, identifier)
    found, errors = [], []
    for candidate in (SubjectKind.PERSON, SubjectKind.FIRM):
        try:
            subject = find_subject(session, vault, candidate, identifier)
        except InvalidIdentifier as exc:
            errors.append(exc)
            continue
        if subject is not None:
            found.append(subject)
    if len(errors) == 2:
        raise InvalidIdentifier(f"{errors[0]} / {errors[1]}")
    if len(found) > 1:
        raise Ambiguous("This identifier is valid for a person and a firm: add kind=person or kind=firm.")
    return found[0] if found else None


# -- furnishing --------------------------------------------------------------------------
@dataclass(frozen=True)
class Furnished:
    version: RecordVersion
    subject_created: bool


def furnish_record(session: Session, vault: Vault, institution: Institution, key: ApiKey,
                   data: FurnishRequest) -> Furnished:
    """A new record or a new version, about a subject found by identifier.
    A subject not on file is created with the name given: furnishing is how
    subjects arrive. A reference of this furnisher already used for another
    subject or category is a Conflict, found before anything is written."""
    ref = data.subject
    subject = find_subject(session, vault, ref.kind, ref.identifier)
    existing = session.scalar(select(CreditRecord).where(
        CreditRecord.furnisher_id == institution.id,
        CreditRecord.reference_bidx == vault.blind_index(REFERENCE_INDEX, data.record.reference)))
    if existing is not None and (subject is None or existing.subject_id != subject.id
                                 or existing.category != data.record.category):
        raise Conflict("This reference is already used for another subject or category.")
    created = subject is None
    if created:
        subject = create_subject(session, vault, ref.kind, ref.identifier, ref.name or "", ref.contact_email)
    version = furnish(session, vault, institution, subject, data.record)
    record_event(session, vault, subject, EventKind.RECORD_FURNISHED, channel="api", institution_id=institution.id,
                 detail={"record": str(version.record_id), "version": version.version,
                         "category": data.record.category.value, "key_id": key.key_id,
                         **({"subject_created": True} if created else {})})
    return Furnished(version, created)


# -- written authorisations ---------------------------------------------------------------
def register_authorisation(session: Session, vault: Vault, institution: Institution,
                           data: AuthorisationRequest) -> Consent | None:
    """None when the subject is not on file. ConsentError names the field;
    it is raised the same whether or not the subject is on file."""
    consents.check_request(institution, data.purpose.value, data.valid_until, date.today())
    subject = find_subject(session, vault, data.subject.kind, data.subject.identifier)
    if subject is None:
        return None
    return consents.register_written(session, vault, institution, subject, data.purpose.value, data.valid_until,
                                     data.document_sha256, data.scope)


# -- report queries -------------------------------------------------------------------------
@dataclass(frozen=True)
class QueryResult:
    basis: Basis
    event: AccessEvent
    body: bytes | None = None  # the canonical JSON sent, when served
    sha256: str | None = None


def query_report(session: Session, vault: Vault, institution: Institution, key: ApiKey, subject: Subject,
                 purpose: Purpose, consent_id: uuid.UUID | None, today: date) -> QueryResult:
    """Decide, record the attempt (served or refused: exactly one event),
    and when served build the report and keep what was sent."""
    # Take the log's append lock before deciding: a revocation or a lock
    # committed before this query is then seen by it (its own event needs
    # the same lock), so nothing is served on a basis already withdrawn.
    log.lock_head(session)
    basis = consents.legal_basis(session, subject, institution, purpose, consent_id, today)
    event = record_event(session, vault, subject, EventKind.INSTITUTION_QUERY, channel="api",
                         outcome=Outcome.SERVED if basis.allowed else Outcome.REFUSED,
                         institution_id=institution.id, purpose=purpose.value,
                         detail={**basis.detail(), "key_id": key.key_id})
    tell_subject_of_query(session, vault, subject, institution, purpose.value, event.outcome)
    if not basis.allowed:
        return QueryResult(basis, event)
    report = institution_report(session, vault, subject, institution, purpose, basis, event, today)
    body = canonical_json(report)
    disclosures.store(session, vault, subject, event, body)
    return QueryResult(basis, event, body, hashlib.sha256(body).hexdigest())


_CATEGORY_ORDER = case({c: i for i, c in enumerate(Category)}, value=CreditRecord.category)


def institution_report(session: Session, vault: Vault, subject: Subject, institution: Institution,
                       purpose: Purpose, basis: Basis, event: AccessEvent, today: date) -> dict[str, Any]:
    """The report as an institution may see it: the current version of each
    record only (corrections replace, earlier versions are never disclosed
    again), and no negative information past its expiry."""
    rows = session.execute(
        select(CreditRecord, RecordVersion, Institution)
        .join(RecordVersion, (RecordVersion.record_id == CreditRecord.id)
              & (RecordVersion.version == CreditRecord.current_version))
        .join(Institution, Institution.id == CreditRecord.furnisher_id)
        .where(CreditRecord.subject_id == subject.id,
               (RecordVersion.expires_on.is_(None)) | (RecordVersion.expires_on > today))
        .order_by(_CATEGORY_ORDER, CreditRecord.created_at.desc(), CreditRecord.id)).all()
    cipher = vault.cipher(session, subject.data_key_id)
    who = view_subject(session, vault, subject)
    disputed = disputed_records(session, [r.id for r, _, _ in rows])
    return {
        "query": {"id": str(event.id), "at": event.occurred_at.isoformat(), "institution": institution.code,
                  "purpose": purpose.value, "basis": basis.reason.value,
                  "consent": str(basis.consent_id) if basis.consent_id else None},
        "subject": {"kind": who.kind.value, "identifier": who.identifier, "name": who.name},
        "records": [_record(cipher, r, v, f, r.id in disputed) for r, v, f in rows],
    }


def _record(cipher, record: CreditRecord, version: RecordVersion, furnisher: Institution,
            disputed: bool) -> dict[str, Any]:
    payload = open_payload(cipher, version)
    reference = payload.pop("reference", "")
    return {
        "id": str(record.id), "category": record.category.value,
        "furnisher": {"code": furnisher.code, "name": furnisher.name, "name_en": furnisher.name_en},
        "version": version.version, "status": version.status.value, "negative": version.is_negative,
        "ended_on": _iso(version.ended_on), "expires_on": _iso(version.expires_on),
        "furnished_at": version.furnished_at.isoformat(), "reference": reference, "details": payload,
        # "Under dispute" from the moment a dispute is filed; the subject's
        # statements come with the disputes' decisions.
        "disputed": disputed, "statements": [],
    }


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None

