"""The legal basis of an institution's query: `legal_basis` decides every
one (consent, written authorisation, existing contract, court enforcement,
or why it is refused), and its reason code goes into both the access event
and the API's problem body."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from flask_babel.speaklater import LazyString
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.access.consents import OPEN_STATUSES
from portal.access.models import Consent, ConsentKind
from portal.audit.purposes import Purpose
from portal.i18n import N_
from portal.i18n import lazy as _l
from portal.institutions.models import Institution, InstitutionKind
from portal.records.models import CreditRecord, RecordVersion, Subject


class Reason(StrEnum):
    # Served: the basis.
    CONSENT = "consent"
    WRITTEN_AUTHORISATION = "written_authorisation"
    EXISTING_CONTRACT = "existing_contract"
    COURT_ENFORCEMENT = "court_enforcement"
    # Refused: why.
    SELF_QUERY_NOT_FOR_INSTITUTIONS = "self_query_not_for_institutions"
    PURPOSE_NOT_ALLOWED = "purpose_not_allowed"
    FILE_LOCKED = "file_locked"
    NOT_A_COURT = "not_a_court"
    NO_EXISTING_CONTRACT = "no_existing_contract"
    CONSENT_REQUIRED = "consent_required"
    CONSENT_NOT_FOUND = "consent_not_found"
    CONSENT_PURPOSE_MISMATCH = "consent_purpose_mismatch"
    CONSENT_EXPIRED = "consent_expired"
    CONSENT_REVOKED = "consent_revoked"


# English, as the API sends them; marked for the catalog, so pages show the
# same words in the reader's language (NAMES).
MESSAGES = {
    Reason.CONSENT: N_("Served on the subject's consent."),
    Reason.WRITTEN_AUTHORISATION: N_("Served on a registered written authorisation."),
    Reason.EXISTING_CONTRACT: N_("Served for post-loan management of an open contract."),
    Reason.COURT_ENFORCEMENT: N_("Served to a court for enforcement (legal basis)."),
    Reason.SELF_QUERY_NOT_FOR_INSTITUTIONS: N_("Self-query is for the subject, never for an institution."),
    Reason.PURPOSE_NOT_ALLOWED: N_("This institution is not allowed to query for this purpose."),
    Reason.FILE_LOCKED: N_("The subject has locked their file: queries are refused (court enforcement excepted)."),
    Reason.NOT_A_COURT: N_("Only a court may query for court enforcement."),
    Reason.NO_EXISTING_CONTRACT: N_(
        "Post-loan management needs an open record furnished by this institution about the subject."
    ),
    Reason.CONSENT_REQUIRED: N_("This purpose needs a live consent of the subject for this institution."),
    Reason.CONSENT_NOT_FOUND: N_("No such consent for this subject and institution."),
    Reason.CONSENT_PURPOSE_MISMATCH: N_("The consent was given for another purpose."),
    Reason.CONSENT_EXPIRED: N_("The consent has expired."),
    Reason.CONSENT_REVOKED: N_("The subject revoked the consent."),
}
# The same words in the reader's language, keyed by the code events keep.
NAMES: dict[str, LazyString] = {reason.value: _l(message) for reason, message in MESSAGES.items()}
SERVED = (Reason.CONSENT, Reason.WRITTEN_AUTHORISATION, Reason.EXISTING_CONTRACT, Reason.COURT_ENFORCEMENT)


@dataclass(frozen=True)
class Basis:
    allowed: bool
    reason: Reason
    consent_id: uuid.UUID | None = None  # the consent named, when it is the subject's
    while_locked: bool = False  # court enforcement served despite the lock
    records: tuple[uuid.UUID, ...] = ()  # the open records of an existing contract

    @property
    def message(self) -> str:
        return MESSAGES[self.reason]

    def detail(self) -> dict[str, object]:
        """What the access event keeps of the decision."""
        out: dict[str, object] = {"reason": self.reason.value}
        if self.allowed:
            out["basis"] = self.reason.value
        if self.consent_id is not None:
            out["consent"] = str(self.consent_id)
        if self.while_locked:
            out["while_locked"] = True
        if self.records:
            out["records"] = [str(r) for r in self.records]
        return out


def _refuse(reason: Reason, consent: Consent | None = None) -> Basis:
    return Basis(False, reason, consent.id if consent else None)


def legal_basis(
    session: Session,
    subject: Subject,
    institution: Institution,
    purpose: Purpose,
    consent_id: uuid.UUID | None,
    today: date,
) -> Basis:
    """May `institution` query `subject`'s report for `purpose` today? The
    consent named by `consent_id` must be the subject's, for this
    institution and purpose, and live; without one named, a live one that
    matches is used. The lock is checked before any consent, so a locked
    file refuses even a live one; court enforcement and post-loan management
    are decided on their legal basis, whatever consent is named."""
    if purpose is Purpose.SELF_QUERY:
        return _refuse(Reason.SELF_QUERY_NOT_FOR_INSTITUTIONS)
    if purpose.value not in institution.allowed_purposes:
        return _refuse(Reason.PURPOSE_NOT_ALLOWED)
    if purpose is Purpose.COURT_ENFORCEMENT:
        if institution.kind is not InstitutionKind.COURT:
            return _refuse(Reason.NOT_A_COURT)
        return Basis(True, Reason.COURT_ENFORCEMENT, while_locked=subject.locked_at is not None)
    if subject.locked_at is not None:
        return _refuse(Reason.FILE_LOCKED)
    if purpose is Purpose.POST_LOAN_MANAGEMENT:
        records = _open_records(session, subject, institution)
        if not records:
            return _refuse(Reason.NO_EXISTING_CONTRACT)
        return Basis(True, Reason.EXISTING_CONTRACT, records=records)
    if consent_id is None:
        # A grant made on the portal is not known to the institution by id:
        # without one named, the live consent for this purpose is used.
        consent = _live_consent(session, subject, institution, purpose, today)
        if consent is None:
            return _refuse(Reason.CONSENT_REQUIRED)
    else:
        consent = session.scalar(
            select(Consent).where(
                Consent.id == consent_id, Consent.subject_id == subject.id, Consent.institution_id == institution.id
            )
        )
    if consent is None:
        return _refuse(Reason.CONSENT_NOT_FOUND)
    if consent.purpose != purpose.value:
        return _refuse(Reason.CONSENT_PURPOSE_MISMATCH, consent)
    if consent.revoked_at is not None:
        return _refuse(Reason.CONSENT_REVOKED, consent)
    if not consent.is_live(today):
        return _refuse(Reason.CONSENT_EXPIRED, consent)
    kind = Reason.WRITTEN_AUTHORISATION if consent.kind is ConsentKind.WRITTEN else Reason.CONSENT
    return Basis(True, kind, consent.id)


def _live_consent(
    session: Session, subject: Subject, institution: Institution, purpose: Purpose, today: date
) -> Consent | None:
    return session.scalar(
        select(Consent)
        .where(
            Consent.subject_id == subject.id,
            Consent.institution_id == institution.id,
            Consent.purpose == purpose.value,
            Consent.revoked_at.is_(None),
            Consent.valid_until >= today,
        )
        .order_by(Consent.valid_until.desc(), Consent.id)
        .limit(1)
    )


def _open_records(session: Session, subject: Subject, institution: Institution) -> tuple[uuid.UUID, ...]:
    rows = session.scalars(
        select(CreditRecord.id)
        .join(
            RecordVersion,
            (RecordVersion.record_id == CreditRecord.id) & (RecordVersion.version == CreditRecord.current_version),
        )
        .where(
            CreditRecord.subject_id == subject.id,
            CreditRecord.furnisher_id == institution.id,
            RecordVersion.status.in_(OPEN_STATUSES),
            CreditRecord.deleted_at.is_(None),
        )
        .order_by(CreditRecord.id)
    )
    return tuple(rows)
