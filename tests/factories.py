"""Test data made through the portal's own services, never by writing rows
by hand: what a test sets up is what the portal itself would have written
(sealed fields, blind indexes, log leaves, access events). Each factory
takes the session and vault, flushes, and never commits."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from portal.accounts import two_factor
from portal.accounts.models import Role, User
from portal.accounts.services import create_user
from portal.audit.integrator import integrate_all
from portal.audit.log_routes import log_signer
from portal.crypto import Vault
from portal.db import Session
from portal.disputes.evidence import Upload
from portal.disputes.models import Dispute, DisputeReason
from portal.disputes.services import file_dispute
from portal.institutions.models import Institution, InstitutionKind
from portal.institutions.services import NewInstitution, create_institution
from portal.records.models import Category, CreditRecord, RecordStatus, RecordVersion, Subject, SubjectKind
from portal.records.services import RecordInput, create_subject, furnish


def integrate(s: Session) -> int:
    """What `portal worker` does moments after each action: the queued
    access events become leaves of the log, a checkpoint signed per batch.
    Commits (each batch is a transaction); needs an app context."""
    return integrate_all(s, log_signer())


PERSON_A, PERSON_B = "11010519491231002X", "110105198001010016"
FIRM_F, FIRM_G = "91350100M000100Y43", "91110000600037341L"
LOAN = {"currency": "CNY", "principal": "50000.00", "balance": "0.00"}
SETTLED_ON = date(2023, 3, 1)  # when a negative record of `record` ended


def institution(
    s: Session,
    v: Vault,
    code: str = "test-bank",
    kind: InstitutionKind = InstitutionKind.BANK,
    purposes: Iterable[str] = ("loan_approval",),
    *,
    name: str | None = None,
    name_en: str | None = None,
    contact: str = "联系人",
    email: str | None = None,
) -> Institution:
    """An institution allowed `purposes`; names default to its code."""
    return create_institution(
        s,
        v,
        NewInstitution(
            code, name or code, name_en or code.title(), kind, list(purposes), contact, email or f"{code}@inst.example"
        ),
    )


def person(
    s: Session, v: Vault, identifier: str = PERSON_A, name: str = "张三", contact_email: str | None = None
) -> Subject:
    return create_subject(s, v, SubjectKind.PERSON, identifier, name, contact_email)


def firm(
    s: Session, v: Vault, identifier: str = FIRM_F, name: str = "福州示例科技有限公司", contact_email: str | None = None
) -> Subject:
    return create_subject(s, v, SubjectKind.FIRM, identifier, name, contact_email)


def record(
    s: Session,
    v: Vault,
    furnisher: Institution,
    subject: Subject,
    reference: str,
    *,
    negative: bool = False,
    category: Category = Category.LOAN,
    status: RecordStatus | None = None,
    ended_on: date | None = None,
    details: dict[str, Any] | None = None,
) -> RecordVersion:
    """A record furnished by `furnisher`: by default a loan, active, or
    settled on SETTLED_ON when `negative`."""
    if status is None:
        status = RecordStatus.SETTLED if negative else RecordStatus.ACTIVE
    if negative and ended_on is None and status is RecordStatus.SETTLED:
        ended_on = SETTLED_ON
    return furnish(
        s,
        v,
        furnisher,
        subject,
        RecordInput(category, reference, status, negative, ended_on, dict(LOAN if details is None else details)),
    )


def user(
    s: Session,
    v: Vault,
    role: Role,
    email: str,
    subject: Subject | None = None,
    *,
    password: str | None = None,
    second_factor: bool = False,
    display_name: str | None = None,
) -> User:
    """A user named after the e-mail's local part; with `second_factor`,
    TOTP turned on (staff and representatives can do nothing without it)."""
    made = create_user(
        s,
        v,
        role=role,
        email=email,
        display_name=display_name or email.split("@")[0],
        password=password,
        subject_id=subject.id if subject else None,
    )
    if second_factor:
        two_factor.enable(s, v, made, two_factor.new_secret())
    return made


def dispute(
    s: Session,
    v: Vault,
    subject: Subject,
    filer: User,
    records: Iterable[CreditRecord | RecordVersion | uuid.UUID],
    reason: DisputeReason = DisputeReason.WRONG_AMOUNT,
    statement: str = "The balance is wrong.",
    *,
    files: Sequence[Upload] = (),
    today: date | None = None,
) -> Dispute:
    """A dispute filed by `filer` through the filing service."""
    return file_dispute(
        s, v, subject, filer, [_record_id(r) for r in records], reason, statement, files=files, today=today
    )


def _record_id(r: CreditRecord | RecordVersion | uuid.UUID) -> uuid.UUID:
    if isinstance(r, RecordVersion):
        return r.record_id
    return r.id if isinstance(r, CreditRecord) else r
