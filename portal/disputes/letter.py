"""The outcome letter as the subject reads it (on the dispute's page, by
e-mail and as a PDF), and who was sent a correction notice. The decision
writes the letter's body, sealed under the subject's key; this reads it
back in the reader's language and tells the subject (`tell_outcome`).

Each record's line says what its decision rests on, truthfully: what the
furnisher answered (or that it did not), and, where the officer departed
from that answer, that they did and why (`LetterChange.ground`)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import Role, User
from portal.crypto import Vault
from portal.disputes.messages import tell_subject
from portal.disputes.models import CorrectionNotice, Dispute, DisputeOutcome, OutcomeLetter
from portal.disputes.names import OUTCOME_NAMES
from portal.i18n import lazy as _l
from portal.institutions.models import Institution
from portal.notifications.services import Attachment
from portal.records.models import Subject


class Change:
    """What a decision did to a record, as the letter names it."""

    NEW_VERSION = "new_version"
    DELETED = "deleted"
    MARKED_UNVERIFIABLE = "marked_unverifiable"
    PUBLICITY_ENDED = "publicity_ended"
    UNCHANGED = "unchanged"


class Method:
    """How the decision was verified: the case's, and each record's basis."""

    FURNISHER_CORRECTED = "furnisher_corrected"
    FURNISHER_VERIFIED = "furnisher_verified"
    FURNISHER_COULD_NOT_VERIFY = "furnisher_could_not_verify"
    NO_ANSWER = "no_answer_by_deadline"
    NOT_ANSWERED = "not_answered"  # sent, and no answer yet when the officer decided
    OFFICER_REVIEW = "officer_review"  # not sent: the officer reviewed the record and the evidence
    PER_RECORD = "per_record"  # the records rest on different answers, or the officer departed from one


CHANGE_TEXT = {
    Change.NEW_VERSION: _l(
        "%(reference)s: corrected; version %(to)s replaces version %(from)s, which is never disclosed again."
    ),
    Change.DELETED: _l("%(reference)s: deleted; it is no longer disclosed."),
    Change.MARKED_UNVERIFIABLE: _l("%(reference)s: marked as unverifiable wherever it is disclosed."),
    Change.PUBLICITY_ENDED: _l("%(reference)s: its publicity has ended; it is no longer disclosed."),
    Change.UNCHANGED: _l("%(reference)s: unchanged."),
}
METHOD_TEXT = {
    Method.FURNISHER_CORRECTED: _l("The furnisher reviewed the record and furnished a correction."),
    Method.FURNISHER_VERIFIED: _l("The furnisher reviewed the record and confirmed it as accurate."),
    Method.FURNISHER_COULD_NOT_VERIFY: _l("The furnisher reviewed the record and could not verify it."),
    Method.NO_ANSWER: _l("The furnisher did not answer before the deadline."),
    Method.NOT_ANSWERED: _l("The furnisher had not answered when the case was decided."),
    Method.OFFICER_REVIEW: _l("A compliance officer reviewed the case and the evidence."),
    Method.PER_RECORD: _l(
        "Each record's check is stated below, with the officer's reasons wherever they departed from the "
        "furnisher's answer."
    ),
}
# What a record's decision rests on, record by record.
GROUND_TEXT = {
    Method.FURNISHER_VERIFIED: _l("%(reference)s: the furnisher reviewed it and confirmed it as accurate."),
    Method.FURNISHER_CORRECTED: _l("%(reference)s: the furnisher reviewed it and sent a correction."),
    Method.FURNISHER_COULD_NOT_VERIFY: _l("%(reference)s: the furnisher reviewed it and could not verify it."),
    Method.NO_ANSWER: _l("%(reference)s: the furnisher did not answer before the deadline."),
    Method.NOT_ANSWERED: _l("%(reference)s: the furnisher had not answered when the case was decided."),
    Method.OFFICER_REVIEW: _l(
        "%(reference)s: the furnisher was not asked; a compliance officer reviewed the record and the evidence."
    ),
}
# The officer's decision where it departs from the furnisher's answer.
DEPARTURE_TEXT = {
    DisputeOutcome.VERIFIED_ACCURATE: _l("The officer nevertheless kept the record as it is, because: %(why)s"),
    DisputeOutcome.DELETED: _l("The officer nevertheless deleted the record, because: %(why)s"),
    DisputeOutcome.UNVERIFIABLE: _l("The officer nevertheless marked the record as unverifiable, because: %(why)s"),
    DisputeOutcome.CORRECTED: _l("The officer nevertheless decided it corrected, because: %(why)s"),
}
# A record kept as it is although its furnisher did not confirm it: never "verified as accurate".
KEPT_NAME = _l("Kept as it is (not confirmed by the furnisher)")
# Departures the portal states itself (stored in English, shown translated).
SYSTEM_DEPARTURES = frozenset(
    {"The furnisher's correction was written against an older version of the record, so it could not be applied."}
)


@dataclass(frozen=True)
class LetterChange:
    record_id: uuid.UUID
    category: str
    reference: str
    change: str
    from_version: int | None
    to_version: int | None
    outcome: DisputeOutcome | None = None  # this record's decision (letters before: the case's)
    answer: str | None = None  # the furnisher's answer (Answer), when it gave one
    basis: str | None = None  # what the decision rests on (a Method code); None in letters before
    departure: str | None = None  # why the officer departed from the furnisher's answer

    @property
    def text(self) -> str:
        return str(
            CHANGE_TEXT[self.change] % {"reference": self.reference, "from": self.from_version, "to": self.to_version}
        )

    @property
    def kept_unconfirmed(self) -> bool:
        """Kept as it is although the furnisher did not confirm it."""
        return self.outcome is DisputeOutcome.VERIFIED_ACCURATE and self.departure is not None

    @property
    def ground(self) -> str | None:
        """What this record's decision rests on, and why the officer departed
        from the furnisher's answer if they did; None in letters before."""
        if self.basis is None or self.basis not in GROUND_TEXT:
            return None
        text = str(GROUND_TEXT[self.basis] % {"reference": self.reference})
        if self.departure and self.outcome in DEPARTURE_TEXT:
            why = _(self.departure) if self.departure in SYSTEM_DEPARTURES else self.departure
            text += " " + str(DEPARTURE_TEXT[self.outcome] % {"why": why})
        return text


@dataclass(frozen=True)
class Letter:
    dispute_id: uuid.UUID
    decided_at: datetime
    outcome: DisputeOutcome
    reason: str
    method_code: str
    change_rows: list[LetterChange]

    @property
    def outcomes(self) -> list[DisputeOutcome]:
        """The decisions taken, the case's first: more than one when records
        were decided differently."""
        out = [self.outcome]
        out += [c.outcome for c in self.change_rows if c.outcome is not None and c.outcome not in out]
        return out

    def name_of(self, change: LetterChange) -> str:
        """A record's decision as the letter names it."""
        return str(KEPT_NAME if change.kept_unconfirmed else OUTCOME_NAMES[change.outcome or self.outcome])

    @property
    def outcome_name(self) -> str:
        """The decisions taken, the case's first; each record's, as `name_of` names it."""
        if not self.change_rows:
            return str(OUTCOME_NAMES[self.outcome])
        rows = sorted(self.change_rows, key=lambda c: (c.outcome or self.outcome) is not self.outcome)
        return "; ".join(dict.fromkeys(self.name_of(c) for c in rows))

    @property
    def method(self) -> str:
        return str(METHOD_TEXT.get(self.method_code, self.method_code))

    @property
    def grounds(self) -> list[str]:
        """A line per record: what its decision rests on (letters before: none)."""
        return [g for c in self.change_rows if (g := c.ground) is not None]

    @property
    def changes(self) -> list[str]:
        """A line per record; each names its decision when they differ."""
        if len({self.name_of(c) for c in self.change_rows}) <= 1:
            return [c.text for c in self.change_rows]
        return [f"{self.name_of(c)}: {c.text}" for c in self.change_rows]

    @property
    def records(self) -> list[tuple[uuid.UUID, str, str]]:
        return [(c.record_id, c.category, c.reference) for c in self.change_rows]


def letter(session: Session, vault: Vault, dispute: Dispute) -> Letter | None:
    row = session.scalar(select(OutcomeLetter).where(OutcomeLetter.dispute_id == dispute.id))
    if row is None:
        return None
    subject = session.get_one(Subject, dispute.subject_id)
    return letter_of(dispute.id, json.loads(vault.cipher(session, subject.data_key_id).open_text(row, "body")))


def letter_of(dispute_id: uuid.UUID, body: dict) -> Letter:
    """The letter a decision's body makes (written, or previewed before the decision is final)."""
    return Letter(
        dispute_id,
        datetime.fromisoformat(body["decided_at"]),
        DisputeOutcome(body["outcome"]),
        body["reason"],
        body["method"],
        [
            LetterChange(
                uuid.UUID(c["record_id"]),
                c["category"],
                c["reference"],
                c["change"],
                c.get("from"),
                c.get("to"),
                DisputeOutcome(c["outcome"]) if c.get("outcome") else None,
                c.get("answer"),
                c.get("basis"),
                c.get("departure"),
            )
            for c in body["changes"]
        ],
    )


@dataclass(frozen=True)
class NoticeView:
    id: uuid.UUID
    institution: Institution
    record_id: uuid.UUID
    created_at: datetime
    acknowledged_at: datetime | None


def recipients(session: Session, dispute: Dispute) -> list[NoticeView]:
    """Who was told of the decision, and who has acknowledged."""
    rows = session.execute(
        select(CorrectionNotice, Institution)
        .join(Institution, Institution.id == CorrectionNotice.institution_id)
        .where(CorrectionNotice.dispute_id == dispute.id)
        .order_by(Institution.code, CorrectionNotice.created_at)
    ).all()
    return [NoticeView(n.id, i, n.record_id, n.created_at, n.acknowledged_at) for n, i in rows]


__all__ = [
    "CHANGE_TEXT",
    "METHOD_TEXT",
    "DEPARTURE_TEXT",
    "GROUND_TEXT",
    "KEPT_NAME",
    "Change",
    "Letter",
    "LetterChange",
    "Method",
    "NoticeView",
    "letter",
    "letter_of",
    "recipients",
]


def tell_outcome(
    session: Session,
    vault: Vault,
    subject: Subject,
    dispute: Dispute,
    outcome: DisputeOutcome,
    attach: Callable[[], list[Attachment]] | None = None,
) -> None:
    """The outcome letter itself, in-app and by e-mail (with `attach()`'s
    files: the letter's PDF)."""
    written = letter(session, vault, dispute)
    if written is None:  # `decide` writes the letter before it tells the subject
        raise LookupError(f"dispute {dispute.id} has no outcome letter to tell the subject")

    def compose() -> tuple[str, str]:
        lines = [
            _("Decision: %(outcome)s", outcome=written.outcome_name),
            _("Reason: %(reason)s", reason=written.reason),
            _("How it was verified: %(method)s", method=written.method),
            *[f"- {line}" for line in written.grounds],
            _("What changed:"),
            *[f"- {line}" for line in written.changes],
            "",
            _(
                "The letter (with a PDF copy) and the institutions that were told are on the dispute's page "
                "on the portal."
            ),
        ]
        return _("Your dispute has been decided: %(outcome)s", outcome=written.outcome_name), "\n".join(lines)

    filer = session.get_one(User, dispute.filed_by_user_id)
    tell_subject(session, vault, subject, compose, also=[filer] if filer.role is Role.FIRM_AGENT else [], attach=attach)
