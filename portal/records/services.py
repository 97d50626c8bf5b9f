"""Rules for subjects and credit records. Services flush, never commit."""

from __future__ import annotations

import json
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.crypto import Cipher, Vault
from portal.crypto.models import DataKey
from portal.db import new_id, utcnow
from portal.institutions.models import Institution
from portal.records.identifiers import InvalidIdentifier, validate_resident_id, validate_uscc
from portal.records.models import Category, CreditRecord, RecordStatus, RecordVersion, Subject, SubjectKind

EXPIRY_YEARS = 5
# What a version's sealed payload becomes once its record left the file
# (records.retention): no ciphertext, nothing to open. The version's clear
# columns (status, negative, dates) stay as the bare fact of what was held.
REMOVED_PAYLOAD = b"removed"
IDENTIFIER_INDEX = "subject.identifier.{kind}"  # per kind: some numbers are valid as both
REFERENCE_INDEX = "record.reference"


class Ambiguous(LookupError):
    """An identifier valid as both kinds, with a subject of each on file."""


class SubjectExists(ValueError):
    pass


class RecordDeleted(ValueError):
    """The furnisher's reference names a record a dispute decision deleted:
    it is furnished again only with a certification of its accuracy."""

    def __init__(self, record_id: uuid.UUID) -> None:
        super().__init__(
            "This record was deleted after a dispute; furnish it again only if you certify that it is accurate."
        )
        self.record_id = record_id


def validate_identifier(kind: SubjectKind, identifier: str) -> str:
    return validate_resident_id(identifier) if kind is SubjectKind.PERSON else validate_uscc(identifier)


def expiry_date(is_negative: bool, ended_on: date | None) -> date | None:
    """Negative information leaves the file five years after the behaviour
    ended (Regulation art. 16); 29 February ends on 28 February."""
    if not is_negative or ended_on is None:
        return None
    return add_years(ended_on, EXPIRY_YEARS)


def add_years(day: date, years: int) -> date:
    """The same day `years` later; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


# -- subjects -------------------------------------------------------------
def build_subject(
    vault: Vault, kind: SubjectKind, identifier: str, name: str, contact_email: str | None = None
) -> tuple[DataKey, Subject, Cipher]:
    """A new subject and its data key, not yet in a session (the demo loader
    inserts these in bulk)."""
    identifier = validate_identifier(kind, identifier)
    if not name.strip():
        raise ValueError("A subject needs a name.")
    key, cipher = vault.new_key()
    subject = Subject(
        id=new_id(),
        kind=kind,
        data_key_id=key.id,
        created_at=utcnow(),
        identifier_bidx=identifier_index(vault, kind, identifier),
    )
    cipher.seal_field(subject, "identifier", identifier)
    cipher.seal_field(subject, "name", name.strip())
    cipher.seal_field(subject, "contact_email", contact_email)
    return key, subject, cipher


def create_subject(
    session: Session, vault: Vault, kind: SubjectKind, identifier: str, name: str, contact_email: str | None = None
) -> Subject:
    if find_subject(session, vault, kind, identifier) is not None:
        raise SubjectExists("A subject with this identifier is already on file.")
    return _make_subject(session, vault, kind, identifier, name, contact_email)


def _make_subject(
    session: Session, vault: Vault, kind: SubjectKind, identifier: str, name: str, contact_email: str | None
) -> Subject:
    key, subject, cipher = build_subject(vault, kind, identifier, name, contact_email)
    vault.add_key(session, key, cipher)
    session.add(subject)
    session.flush()
    return subject


def subject_on_file(
    session: Session,
    vault: Vault,
    kind: SubjectKind,
    identifier: str,
    name: str,
    contact_email: str | None = None,
    *,
    looked_up: bool = False,
) -> tuple[Subject, bool]:
    """The subject with this identifier, made with this name when not on
    file; returns it and whether it was made (`looked_up`: the caller has
    just found it not on file). Of two transactions making the same subject
    at once, the one that loses (the unique blind index) takes the subject
    the other made."""
    if not looked_up and (found := find_subject(session, vault, kind, identifier)) is not None:
        return found, False
    try:
        with session.begin_nested():
            return _make_subject(session, vault, kind, identifier, name, contact_email), True
    except (IntegrityError, SubjectExists):
        found = find_subject(session, vault, kind, identifier)
        if found is None:
            raise
        return found, False


def hold_subject(session: Session, subject: Subject, *, exclusive: bool) -> None:
    """Order the queries of one subject against what withdraws their basis,
    with a lock of that subject alone (none that every request shares): a
    query holds the subject's row shared while it decides and records, a
    withdrawal (a consent revoked, the file locked) holds it exclusively, so
    no query acts on a basis withdrawn before it. The row is read again
    under the lock. SQLite has one writer: taking its write lock now (a
    no-op UPDATE) orders them the same way."""
    session.flush()  # a subject made in this transaction is in it
    read_again = select(Subject).where(Subject.id == subject.id).execution_options(populate_existing=True)
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(Subject)
            .where(Subject.id == subject.id)
            .values(id=subject.id)
            .execution_options(synchronize_session=False)
        )
    else:
        read_again = read_again.with_for_update(read=not exclusive)
    session.scalars(read_again).one()  # consumed: the row is read, and loaded into `subject`


def find_subject(session: Session, vault: Vault, kind: SubjectKind, identifier: str) -> Subject | None:
    identifier = validate_identifier(kind, identifier)
    return session.scalar(select(Subject).where(Subject.identifier_bidx == identifier_index(vault, kind, identifier)))


def find_by_identifier(session: Session, vault: Vault, identifier: str, kind: SubjectKind | None) -> Subject | None:
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


def identifier_index(vault: Vault, kind: SubjectKind, normalised: str) -> bytes:
    return vault.blind_index(IDENTIFIER_INDEX.format(kind=kind.value), normalised)


@dataclass(frozen=True)
class SubjectView:
    id: uuid.UUID
    kind: SubjectKind
    identifier: str
    name: str


def view_subject(session: Session, vault: Vault, subject: Subject) -> SubjectView:
    cipher = vault.cipher(session, subject.data_key_id)
    return SubjectView(
        subject.id, subject.kind, cipher.open_text(subject, "identifier"), cipher.open_text(subject, "name")
    )


# -- records --------------------------------------------------------------
@dataclass
class RecordInput:
    category: Category
    reference: str
    status: RecordStatus
    is_negative: bool
    ended_on: date | None = None
    details: dict[str, Any] = field(default_factory=dict)  # amounts, dates, case numbers

    def __post_init__(self) -> None:
        self.reference = normalise_reference(self.reference)

    def payload(self) -> str:
        return json.dumps({"reference": self.reference, **self.details}, ensure_ascii=False, sort_keys=True)

    def to_json(self) -> str:
        """The whole input, to keep (sealed) and furnish later (`from_json`)."""
        return json.dumps(
            {
                "category": self.category.value,
                "reference": self.reference,
                "status": self.status.value,
                "is_negative": self.is_negative,
                "ended_on": self.ended_on.isoformat() if self.ended_on else None,
                "details": self.details,
            },
            ensure_ascii=False,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> RecordInput:
        data = json.loads(text)
        return cls(
            Category(data["category"]),
            data["reference"],
            RecordStatus(data["status"]),
            bool(data["is_negative"]),
            date.fromisoformat(data["ended_on"]) if data["ended_on"] else None,
            data["details"],
        )


def normalise_reference(reference: str) -> str:
    """A furnisher's reference as compared: full-width folded, no spaces,
    upper case, so "ln-1 " and "LN-1" are one record."""
    value = "".join(unicodedata.normalize("NFKC", reference).split()).upper()
    if not value:
        raise ValueError("A record needs the furnisher's reference.")
    return value


def build_version(cipher: Cipher, record_id: uuid.UUID, version: int, data: RecordInput) -> RecordVersion:
    row = RecordVersion(
        id=new_id(),
        record_id=record_id,
        version=version,
        status=data.status,
        is_negative=data.is_negative,
        ended_on=data.ended_on,
        expires_on=expiry_date(data.is_negative, data.ended_on),
        furnished_at=utcnow(),
    )
    cipher.seal_field(row, "payload", data.payload())
    return row


def build_record(
    vault: Vault, cipher: Cipher, subject_id: uuid.UUID, furnisher_id: uuid.UUID, data: RecordInput
) -> tuple[CreditRecord, RecordVersion]:
    record = CreditRecord(
        id=new_id(),
        subject_id=subject_id,
        furnisher_id=furnisher_id,
        category=data.category,
        reference_bidx=vault.blind_index(REFERENCE_INDEX, data.reference),
        current_version=1,
        created_at=utcnow(),
    )
    return record, build_version(cipher, record.id, 1, data)


def furnish(
    session: Session, vault: Vault, furnisher: Institution, subject: Subject, data: RecordInput, certified: bool = False
) -> RecordVersion:
    """A new record, or a new version when the furnisher's reference is
    already on file for this subject; older versions stay in the history.
    A record deleted by a dispute decision comes back only `certified`
    (the furnisher certifies its accuracy); otherwise RecordDeleted, raised
    before anything is written."""
    record = furnished_record(session, vault, furnisher, data)
    return furnish_onto(session, vault, furnisher, subject, data, record, certified)


def furnished_record(session: Session, vault: Vault, furnisher: Institution, data: RecordInput) -> CreditRecord | None:
    """The furnisher's record with the reference of `data`, if on file."""
    return session.scalar(
        select(CreditRecord).where(
            CreditRecord.furnisher_id == furnisher.id,
            CreditRecord.reference_bidx == vault.blind_index(REFERENCE_INDEX, data.reference),
        )
    )


def furnish_onto(
    session: Session,
    vault: Vault,
    furnisher: Institution,
    subject: Subject,
    data: RecordInput,
    record: CreditRecord | None,
    certified: bool = False,
) -> RecordVersion:
    """`furnish`, given the furnisher's record of that reference (None: a
    new one) as `furnished_record` found it."""
    cipher = vault.cipher(session, subject.data_key_id)
    if record is None:
        record, version = build_record(vault, cipher, subject.id, furnisher.id, data)
        session.add_all([record, version])
    else:
        if record.subject_id != subject.id or record.category != data.category:
            raise ValueError("This reference is already used for another subject or category.")
        if record.deleted_at is not None:
            if not certified:
                raise RecordDeleted(record.id)
            record.deleted_at = None
        record.current_version += 1
        version = build_version(cipher, record.id, record.current_version, data)
        session.add(version)
    session.flush()
    return version


def current_version(session: Session, record: CreditRecord) -> RecordVersion:
    """The record's newest version, which every record has."""
    return session.scalars(
        select(RecordVersion).where(
            RecordVersion.record_id == record.id, RecordVersion.version == record.current_version
        )
    ).one()


def open_payload(cipher: Cipher, version: RecordVersion) -> dict[str, Any]:
    """The furnished content; empty once removed past its retention."""
    if is_removed(version):
        return {}
    return json.loads(cipher.open_text(version, "payload"))


def is_removed(version: RecordVersion) -> bool:
    """Whether this version's content was shredded past its retention."""
    return version.payload_ct == REMOVED_PAYLOAD
