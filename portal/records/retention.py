"""Retention as a lifecycle. Negative information leaves the file five years
after the behaviour ended (Regulation art. 16): the report counts the days
down over the last RETENTION_NOTICE_DAYS (`pages.VersionView`); on the day,
the daily job of `portal worker` removes the record (its payload, every
version's, overwritten: `services.REMOVED_PAYLOAD`), writes the access event
of the removal and tells the subject. The record's row and its versions'
clear columns stay: category, furnisher, status and dates are the bare fact
the log and earlier disclosures refer to.

Access events' details are kept EVENT_DETAIL_RETENTION_YEARS (at least
five) after they happened, then shredded (`audit.events.shred_detail`), with
the snapshot of what an institution was sent; the event's row and its leaf
stay, so the log still verifies.

Services flush, never commit; the worker commits each batch."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portal.audit.events import claim_cursor, record_event, shred_detail
from portal.audit.models import AccessEvent, Disclosure, EventKind
from portal.crypto import Vault
from portal.db import utcnow
from portal.i18n import day, local_name
from portal.institutions.models import Institution
from portal.localtime import today as local_today
from portal.records.models import Category, CreditRecord, RecordVersion, Subject
from portal.records.pages import CATEGORY_NAMES
from portal.records.services import EXPIRY_YEARS, REMOVED_PAYLOAD, add_years

# Every category keeps negative information as long: the Regulation sets
# one period. Kept per category so a rule for one can change alone.
RETENTION_YEARS: dict[Category, int] = dict.fromkeys(Category, EXPIRY_YEARS)
MIN_EVENT_DETAIL_YEARS = 5  # access events' details: never shorter than the records they describe
DETAIL_CURSOR = "detail_retention"  # how far the shredding of details has read the log
BATCH = 200  # records, and events, per transaction
CHANNEL = "system"  # the portal itself, by its rules: nobody acted

Compose = Callable[[], tuple[str, str]]
# Tells a subject's people (in their languages, or the contact on file) a
# message `compose()` writes in the current locale: `disputes.messages.tell_subject`,
# passed in by the worker since that area sits above this one.
Tell = Callable[[Session, Vault, Subject, Compose], Any]


def retention_end(category: Category, ended_on: date | None) -> date | None:
    """The day negative information of `category` that ended on `ended_on`
    leaves the file; None while it goes on."""
    return None if ended_on is None else add_years(ended_on, RETENTION_YEARS[category])


def past_retention(category: Category, ended_on: date | None, today: date) -> bool:
    """Whether negative information of `category` that ended on `ended_on`
    has left the file by `today` (it is not furnished, kept or disclosed).
    Ongoing information (no end date) never is."""
    end = retention_end(category, ended_on)
    return end is not None and end <= today


def event_detail_years(setting: Any) -> int:
    """EVENT_DETAIL_RETENTION_YEARS checked: a whole number of at least
    MIN_EVENT_DETAIL_YEARS. Raises ValueError saying why (the job then shreds
    nothing rather than too early)."""
    if isinstance(setting, bool) or not isinstance(setting, int | str):
        raise ValueError(f"setting EVENT_DETAIL_RETENTION_YEARS is {setting!r}; it must be a whole number of years")
    try:
        years = int(setting)
    except ValueError:
        raise ValueError(f"setting EVENT_DETAIL_RETENTION_YEARS is {setting!r}; it must be a whole number") from None
    if years < MIN_EVENT_DETAIL_YEARS:
        raise ValueError(
            f"setting EVENT_DETAIL_RETENTION_YEARS is {years}; access events' details are kept at least "
            f"{MIN_EVENT_DETAIL_YEARS} years"
        )
    return years


# -- records ---------------------------------------------------------------------
@dataclass(frozen=True)
class Removed:
    """A record removed, as the subject's receipt names it."""

    record_id: uuid.UUID
    category: Category
    furnisher_id: uuid.UUID
    ended_on: date | None
    expires_on: date


def due_records(session: Session, today: date, limit: int = BATCH) -> Sequence[CreditRecord]:
    """Records whose newest version is negative information past its
    retention and not removed yet, of subjects not shredded; the soonest
    expired first. Taken FOR UPDATE SKIP LOCKED: workers share them."""
    return session.scalars(
        select(CreditRecord)
        .join(
            RecordVersion,
            (RecordVersion.record_id == CreditRecord.id) & (RecordVersion.version == CreditRecord.current_version),
        )
        .join(Subject, Subject.id == CreditRecord.subject_id)
        .where(
            RecordVersion.is_negative.is_(True),
            RecordVersion.expires_on <= today,
            RecordVersion.payload_ct != REMOVED_PAYLOAD,
            Subject.shredded_at.is_(None),
        )
        .order_by(RecordVersion.expires_on, CreditRecord.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=CreditRecord)
    ).all()


def remove_record(session: Session, vault: Vault, record: CreditRecord, today: date) -> Removed:
    """Overwrite the payload of every version of `record` (older versions
    hold the same information) and write the access event of the removal,
    in the caller's transaction."""
    versions = session.scalars(select(RecordVersion).where(RecordVersion.record_id == record.id)).all()
    current = next(v for v in versions if v.version == record.current_version)
    if current.expires_on is None:
        raise ValueError(f"record {record.id} has no end of retention")
    for version in versions:
        version.payload_ct = REMOVED_PAYLOAD
    subject = session.get_one(Subject, record.subject_id)
    furnisher = session.get(Institution, record.furnisher_id)
    record_event(
        session,
        vault,
        subject,
        EventKind.RECORD_REMOVED,
        channel=CHANNEL,
        detail={
            "record_id": str(record.id),
            "category": record.category.value,
            "furnisher": furnisher.code if furnisher else None,
            "ended_on": current.ended_on.isoformat() if current.ended_on else None,
            "expires_on": current.expires_on.isoformat(),
            "removed_on": today.isoformat(),
            "versions": len(versions),
        },
    )
    session.flush()
    return Removed(record.id, record.category, record.furnisher_id, current.ended_on, current.expires_on)


def remove_due(session: Session, vault: Vault, tell: Tell, today: date, limit: int = BATCH) -> int:
    """Remove up to `limit` records past their retention; each subject is
    told once per batch, naming every record removed. Returns how many."""
    by_subject: dict[uuid.UUID, list[Removed]] = {}
    for record in due_records(session, today, limit):
        by_subject.setdefault(record.subject_id, []).append(remove_record(session, vault, record, today))
    for subject_id, removed in by_subject.items():
        furnishers = {
            i.id: i
            for i in session.scalars(select(Institution).where(Institution.id.in_({r.furnisher_id for r in removed})))
        }
        tell(session, vault, session.get_one(Subject, subject_id), _receipt(removed, furnishers, today))
    return sum(len(r) for r in by_subject.values())


def _receipt(removed: list[Removed], furnishers: dict[uuid.UUID, Institution], today: date) -> Compose:
    def compose() -> tuple[str, str]:
        lines = [
            _(
                "%(category)s from %(furnisher)s, which ended on %(ended)s.",
                category=CATEGORY_NAMES[r.category],
                furnisher=local_name(furnishers[r.furnisher_id]) if r.furnisher_id in furnishers else "—",
                ended=day(r.ended_on),
            )
            for r in removed
        ]
        body = _(
            "Negative information leaves your credit file five years after it ended. On %(today)s this was "
            "removed:\n\n%(records)s\n\nIts content is no longer held, and it is no longer disclosed to anyone. "
            'Your report shows that it was removed, and "Who accessed my data" records the removal.',
            today=day(today),
            records="\n".join(f"- {line}" for line in lines),
        )
        return _("Negative information left your credit file"), body

    return compose


# -- access events' details ----------------------------------------------------------
def detail_cutoff(now: datetime, years: int) -> datetime:
    """Events that happened before this moment are past their retention."""
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # 29 February
        return now.replace(year=now.year - years, day=28)


def shred_old_details(
    session: Session, vault: Vault, years: int, now: datetime | None = None, limit: int = BATCH
) -> int:
    """Shred the details of up to `limit` events older than `years`, in log
    order from where the last run stopped, with the snapshots of what was
    disclosed by them. Events of shredded subjects are passed (nothing of
    theirs can be read). Returns how many events were taken; 0 when none is
    due, or another worker holds the place (PostgreSQL)."""
    years = event_detail_years(years)
    now = now or utcnow()
    cutoff, on = detail_cutoff(now, years), local_today()
    cursor = claim_cursor(session, DETAIL_CURSOR)
    if cursor is None:
        return 0
    events = session.scalars(
        select(AccessEvent).where(AccessEvent.log_index > cursor.position).order_by(AccessEvent.log_index).limit(limit)
    ).all()
    taken = 0
    for event in events:
        if event.occurred_at >= cutoff:
            break  # the log is in time order, but for a batch's moments: the rest is younger
        subject = session.get_one(Subject, event.subject_id)
        if subject.shredded_at is None:
            shred_detail(vault.cipher(session, subject.data_key_id), event, on)
            session.execute(delete(Disclosure).where(Disclosure.event_id == event.id))
        if event.log_index is not None:  # always, by the query's condition
            cursor.position = event.log_index
        taken += 1
    session.flush()
    return taken


# -- the daily job ------------------------------------------------------------------
def run(session: Session, vault: Vault, tell: Tell, detail_years: int, today: date | None = None) -> int:
    """One batch of the daily job: records past their retention removed (and
    their subjects told), then details of access events past theirs
    shredded. Returns how much was done; run it until it returns 0."""
    done = remove_due(session, vault, tell, today or local_today())
    return done + shred_old_details(session, vault, detail_years)
