"""How disputes are named to people: reasons, statuses, steps, outcomes
and the short reference, in the reader's language (lazily translated: the
names are read when a page or a message is made)."""

from __future__ import annotations

import uuid

from flask_babel import ngettext

from portal.disputes.models import DisputeOutcome, DisputeReason, DisputeStatus, StepKind
from portal.i18n import lazy as _l

OUTCOME_NAMES = {
    DisputeOutcome.CORRECTED: _l("Corrected"),
    DisputeOutcome.DELETED: _l("Deleted"),
    DisputeOutcome.VERIFIED_ACCURATE: _l("Verified as accurate"),
    DisputeOutcome.UNVERIFIABLE: _l("Unverifiable, marked"),
    DisputeOutcome.REPAIRED: _l("Credit repair approved"),
    DisputeOutcome.REPAIR_REFUSED: _l("Credit repair refused"),
}
REASON_NAMES = {
    DisputeReason.NOT_MINE: _l("This is not mine"),
    DisputeReason.WRONG_AMOUNT: _l("Wrong amount"),
    DisputeReason.WRONG_DATES: _l("Wrong dates"),
    DisputeReason.PAID_OR_SETTLED: _l("Paid or settled"),
    DisputeReason.IDENTITY_THEFT: _l("Identity theft"),
    DisputeReason.OUTDATED: _l("Outdated: it should have left the file"),
    DisputeReason.UNAUTHORISED_ACCESS: _l("An access I did not authorise"),
    DisputeReason.OTHER: _l("Something else"),
    DisputeReason.CREDIT_REPAIR: _l("Credit repair application"),
}
# What a subject may choose when filing (credit repair is an application of its own).
FILING_REASONS = [r for r in DisputeReason if r is not DisputeReason.CREDIT_REPAIR]
STATUS_NAMES = {
    DisputeStatus.SUBMITTED: _l("Received"),
    DisputeStatus.ACKNOWLEDGED: _l("Acknowledged"),
    DisputeStatus.UNDER_REVIEW: _l("Under review"),
    DisputeStatus.WAITING_FOR_FURNISHER: _l("Being checked with the furnisher"),
    DisputeStatus.WAITING_FOR_SUBJECT: _l("Waiting for you"),
    DisputeStatus.RESOLVED: _l("Decided"),
    DisputeStatus.WITHDRAWN: _l("Withdrawn"),
}
STEP_NAMES = {
    StepKind.FILED: _l("Dispute filed"),
    StepKind.ACKNOWLEDGED: _l("Receipt acknowledged"),
    StepKind.UNDER_REVIEW: _l("Review under way"),
    StepKind.WAITING_FOR_FURNISHER: _l("Sent to the furnisher to check"),
    StepKind.WAITING_FOR_SUBJECT: _l("You were asked for something"),
    StepKind.RESOLVED: _l("Decided"),
    StepKind.WITHDRAWN: _l("Withdrawn"),
    StepKind.EXTENDED: _l("Deadline extended"),
    StepKind.EVIDENCE_ADDED: _l("Evidence or a reply added"),
    StepKind.ASSIGNED: _l("Taken up by an officer"),
    StepKind.RELEASED: _l("Handed to another officer"),
    StepKind.FURNISHER_ANSWERED: _l("The furnisher answered"),
    StepKind.STATEMENT_ADDED: _l("Statement added beside a record"),
}
WHO_NAMES = {
    "you": _l("you"),
    "officer": _l("an officer"),
    "furnisher": _l("the furnisher"),
    "portal": _l("the portal"),
}
MEDIA_NAMES = {"application/pdf": "PDF", "image/png": "PNG", "image/jpeg": "JPEG"}


def reason_label(reason: DisputeReason | str) -> str:
    return str(REASON_NAMES.get(DisputeReason(reason), reason))


def status_label(status: DisputeStatus | str) -> str:
    return str(STATUS_NAMES.get(DisputeStatus(status), status))


def outcome_label(outcome: DisputeOutcome | str | None) -> str:
    return str(OUTCOME_NAMES.get(DisputeOutcome(outcome), outcome)) if outcome else ""


def short_reference(dispute_id: uuid.UUID) -> str:
    """How a dispute is named to people: enough to tell it apart."""
    return "D-" + dispute_id.hex[:8].upper()


def days_phrase(days: int) -> str:
    if days < 0:
        return ngettext("%(num)d day overdue", "%(num)d days overdue", -days)
    return ngettext("%(num)d day left", "%(num)d days left", days)


class Labelled:
    """The translated names of a dispute's status, reason and outcome, for
    the view models that have these three fields."""

    status: DisputeStatus
    reason: DisputeReason
    outcome: DisputeOutcome | None

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    @property
    def status_label(self) -> str:
        return status_label(self.status)

    @property
    def reason_label(self) -> str:
        return reason_label(self.reason)

    @property
    def outcome_label(self) -> str:
        return outcome_label(self.outcome)
