"""Consents and legal bases: who may query a subject's report, for what
purpose, until when. A subject grants and revokes on the portal; an
institution may register a signed written authorisation instead. Post-loan
management (an existing contract) and court enforcement need no consent but
are shown. Every institution query is decided in `basis`.

Services flush, never commit; each change writes its access event in the
caller's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import has_request_context
from flask_babel import get_locale, gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.access.models import Consent, ConsentKind
from portal.accounts.models import User
from portal.audit.events import record_event
from portal.audit.models import EventKind
from portal.audit.names import PURPOSE_NAMES
from portal.audit.purposes import Purpose
from portal.crypto import Vault
from portal.db import new_id, utcnow
from portal.i18n import N_, Refusal, local_name
from portal.institutions.models import Institution
from portal.localtime import today as local_today
from portal.records.models import CreditRecord, RecordStatus, RecordVersion, Subject
from portal.records.pages import Furnisher
from portal.records.services import add_years, hold_subject

# What a subject (or a signed paper) can authorise. Post-loan management and
# court enforcement rest on a contract or the law; self-query is the
# subject's own and never an institution's.
CONSENTABLE = frozenset(
    {Purpose.LOAN_APPROVAL, Purpose.CREDIT_CARD_APPROVAL, Purpose.GUARANTEE_REVIEW, Purpose.EMPLOYMENT_SCREENING}
)
MAX_VALIDITY_YEARS = 1
# A contract is "existing" while its record is open.
OPEN_STATUSES = (RecordStatus.ACTIVE, RecordStatus.OVERDUE)


class ConsentError(Refusal):
    """A grant or registration that breaks a rule; `field` names the input
    at fault (purpose, valid_until, document_sha256, scope). `str()` is
    English for the API; `translated()` names the purpose and the
    institution in the reader's words for pages."""

    def __init__(self, field: str, message: str, institution: Institution | None = None, **params: Any) -> None:
        if institution is not None:
            params["institution"] = institution.name_en
        super().__init__(message, **params)
        self.field, self.institution = field, institution

    def translated(self) -> str:
        params = dict(self.params)
        if "purpose" in params:
            params["purpose"] = str(PURPOSE_NAMES.get(params["purpose"], params["purpose"]))
        if self.institution is not None:
            params["institution"] = local_name(self.institution)
        return gettext(self.message, **params)


# -- granting, revoking, registering ------------------------------------------------
def check_request(institution: Institution, purpose: str, valid_until: date, today: date) -> Purpose:
    """The checks that do not depend on the subject: run them before looking
    the subject up, so the answer never tells whether someone is on file."""
    return _check(institution, purpose, valid_until, today)


def _check(institution: Institution, purpose: str, valid_until: date, today: date) -> Purpose:
    try:
        chosen = Purpose(purpose)
    except ValueError:
        raise ConsentError("purpose", N_("Choose one of the purposes offered.")) from None
    if chosen not in CONSENTABLE:
        raise ConsentError(
            "purpose",
            N_("A query for %(purpose)s rests on a contract or the law, not on a consent."),
            purpose=chosen.value,
        )
    if chosen.value not in institution.allowed_purposes:
        raise ConsentError(
            "purpose",
            N_("%(institution)s may not query for %(purpose)s."),
            institution=institution,
            purpose=chosen.value,
        )
    if valid_until < today:
        raise ConsentError("valid_until", N_("The end date is in the past."))
    if valid_until > add_years(today, MAX_VALIDITY_YEARS):
        raise ConsentError("valid_until", N_("An authority lasts at most %(num)d year."), num=MAX_VALIDITY_YEARS)
    return chosen


def grant(
    session: Session,
    vault: Vault,
    subject: Subject,
    institution: Institution,
    purpose: str,
    valid_until: date,
    by_user: User,
    *,
    today: date | None = None,
) -> Consent:
    """The subject (or its representative) authorises an institution."""
    chosen = _check(institution, purpose, valid_until, today or local_today())
    consent = Consent(
        id=new_id(),
        subject_id=subject.id,
        institution_id=institution.id,
        purpose=chosen.value,
        kind=ConsentKind.GRANT,
        valid_until=valid_until,
        granted_by_user_id=by_user.id,
        created_at=utcnow(),
    )
    session.add(consent)
    session.flush()
    record_event(
        session,
        vault,
        subject,
        EventKind.CONSENT_GRANTED,
        channel="web",
        actor_user_id=by_user.id,
        institution_id=institution.id,
        purpose=chosen.value,
        detail={"consent": str(consent.id), "valid_until": valid_until.isoformat(), "role": by_user.role.value},
    )
    return consent


def revoke(session: Session, vault: Vault, subject: Subject, consent_id: uuid.UUID, by_user: User) -> Consent | None:
    """Revoke one of the subject's consents, of either kind, at once. None
    when the subject has no such consent; revoking twice changes nothing."""
    hold_subject(session, subject, exclusive=True)  # queries under way finish first
    consent = session.scalar(select(Consent).where(Consent.id == consent_id, Consent.subject_id == subject.id))
    if consent is None or consent.revoked_at is not None:
        return consent
    consent.revoked_at = utcnow()
    session.flush()
    record_event(
        session,
        vault,
        subject,
        EventKind.CONSENT_REVOKED,
        channel="web",
        actor_user_id=by_user.id,
        institution_id=consent.institution_id,
        purpose=consent.purpose,
        detail={"consent": str(consent.id), "kind": consent.kind.value, "role": by_user.role.value},
    )
    return consent


def register_written(
    session: Session,
    vault: Vault,
    institution: Institution,
    subject: Subject,
    purpose: str,
    valid_until: date,
    document_sha256: bytes,
    scope_text: str,
    *,
    today: date | None = None,
) -> Consent:
    """An institution registers a signed written authorisation: the portal
    keeps the document's hash and the scope as described, and shows both to
    the subject, who may revoke it like any grant."""
    chosen = _check(institution, purpose, valid_until, today or local_today())
    if len(document_sha256) != 32:
        raise ConsentError("document_sha256", N_("A SHA-256 hash is 32 bytes."))
    if not scope_text.strip():
        raise ConsentError("scope", N_("Describe what the signed authorisation covers."))
    consent = Consent(
        id=new_id(),
        subject_id=subject.id,
        institution_id=institution.id,
        purpose=chosen.value,
        kind=ConsentKind.WRITTEN,
        valid_until=valid_until,
        document_hash=document_sha256,
        created_at=utcnow(),
    )
    vault.cipher(session, subject.data_key_id).seal_field(consent, "scope", scope_text.strip())
    session.add(consent)
    session.flush()
    record_event(
        session,
        vault,
        subject,
        EventKind.AUTHORISATION_REGISTERED,
        channel="api",
        institution_id=institution.id,
        purpose=chosen.value,
        detail={
            "consent": str(consent.id),
            "valid_until": valid_until.isoformat(),
            "document_sha256": document_sha256.hex(),
        },
    )
    return consent


def grantable_institutions(session: Session, purposes: Iterable[Purpose]) -> list[Institution]:
    """The institutions a subject may authorise for one of `purposes`."""
    wanted = {Purpose(p).value for p in purposes}
    return [
        i for i in session.scalars(select(Institution).order_by(Institution.code)) if wanted & set(i.allowed_purposes)
    ]


# -- what the subject sees -------------------------------------------------------------
@dataclass(frozen=True)
class ConsentView:
    id: uuid.UUID
    institution: Furnisher
    purpose: str
    kind: ConsentKind
    valid_until: date
    status: str  # live, expired or revoked
    created_at: datetime
    revoked_at: datetime | None
    document_hash: str | None  # hex, written authorisations only
    scope: str | None

    @property
    def institution_name(self) -> str:
        """In the page's language; the Chinese name outside a request."""
        return self.institution.label(str(get_locale()) if has_request_context() else "zh")


def status_of(consent: Consent, today: date) -> str:
    if consent.revoked_at is not None:
        return "revoked"
    return "live" if consent.is_live(today) else "expired"


def list_for_subject(session: Session, vault: Vault, subject: Subject, today: date | None = None) -> list[ConsentView]:
    """Every consent the subject gave or an institution registered, newest
    first, live, expired and revoked alike."""
    today = today or local_today()
    rows = session.execute(
        select(Consent, Institution)
        .join(Institution, Institution.id == Consent.institution_id)
        .where(Consent.subject_id == subject.id)
        .order_by(Consent.created_at.desc(), Consent.id)
    ).all()
    if not rows:
        return []
    cipher = vault.cipher(session, subject.data_key_id)
    return [
        ConsentView(
            c.id,
            Furnisher(i.code, i.name, i.name_en),
            c.purpose,
            c.kind,
            c.valid_until,
            status_of(c, today),
            c.created_at,
            c.revoked_at,
            c.document_hash.hex() if c.document_hash else None,
            cipher.open_field(c, "scope"),
        )
        for c, i in rows
    ]


def existing_contracts(session: Session, subject: Subject) -> list[Furnisher]:
    """Institutions that may query for post-loan management without a new
    consent, because they hold an open record about the subject: shown to
    the subject beside the consents."""
    # A subquery, not DISTINCT: PostgreSQL cannot compare the JSON column.
    furnishers = (
        select(CreditRecord.furnisher_id)
        .join(
            RecordVersion,
            (RecordVersion.record_id == CreditRecord.id) & (RecordVersion.version == CreditRecord.current_version),
        )
        .where(
            CreditRecord.subject_id == subject.id,
            RecordVersion.status.in_(OPEN_STATUSES),
            CreditRecord.deleted_at.is_(None),
        )
    )
    rows = session.scalars(select(Institution).where(Institution.id.in_(furnishers)).order_by(Institution.code))
    return [
        Furnisher(i.code, i.name, i.name_en) for i in rows if Purpose.POST_LOAN_MANAGEMENT.value in i.allowed_purposes
    ]
