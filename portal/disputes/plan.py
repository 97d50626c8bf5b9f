"""A decision planned before anything is written: each record's outcome,
checked against its furnisher's answer (`grounds`), what it will do to the
record and the outcome letter's body. `decisions` writes what the plan
says; its preview shows the letter the plan makes. Reads only."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.crypto import Vault
from portal.disputes.grounds import (
    FOLLOWS,
    MAX_DEPARTURE,
    OUTDATED_CORRECTION,
    RecordDecision,
    RecordRefused,
    Verdict,
    basis,
    outdated,
    reference_of,
    verdict,
)
from portal.disputes.letter import Change, Method
from portal.disputes.lifecycle import DisputeError
from portal.disputes.models import (
    OUTCOMES,
    Answer,
    Dispute,
    DisputeItem,
    DisputeKind,
    DisputeOutcome,
    FurnisherResponse,
)
from portal.disputes.sharing import forwarded
from portal.i18n import N_
from portal.records.models import CreditRecord, Subject


@dataclass
class Line:
    item: DisputeItem
    record: CreditRecord
    reference: str
    response: FurnisherResponse | None
    basis: str
    outcome: DisputeOutcome
    departure: str | None


@dataclass
class Plan:
    outcome: DisputeOutcome
    reason: str
    subject: Subject
    cipher: Any
    lines: list[Line]
    method: str


def outcome_of(given: DisputeOutcome | str, dispute: Dispute) -> DisputeOutcome:
    try:
        outcome = DisputeOutcome(given)
    except ValueError:
        raise DisputeError(N_("Choose an outcome from the list.")) from None
    if outcome not in OUTCOMES[DisputeKind(dispute.kind)]:
        raise DisputeError(N_("This outcome does not apply to this kind of case."))
    return outcome


def plan(
    session: Session,
    vault: Vault,
    dispute: Dispute,
    actor: User | None,
    outcome: DisputeOutcome | str,
    reason: str,
    per_record: Mapping[uuid.UUID, DisputeOutcome | str | RecordDecision],
) -> Plan:
    """Each record's decision, checked against its furnisher's answer;
    nothing is written. With no actor (the deadline passed), what was
    answered in time is decided as answered and the rest is `outcome`."""
    outcome = outcome_of(outcome, dispute)
    if not (reason or "").strip():
        raise DisputeError(N_("A decision needs a reason."))
    kind = DisputeKind(dispute.kind)
    rows = session.execute(
        select(DisputeItem, CreditRecord)
        .join(CreditRecord, CreditRecord.id == DisputeItem.record_id)
        .where(DisputeItem.dispute_id == dispute.id)
        .order_by(CreditRecord.created_at, CreditRecord.id)
    ).all()
    answers = {
        r.item_id: r
        for r in session.scalars(select(FurnisherResponse).where(FurnisherResponse.dispute_id == dispute.id))
    }
    sent = dispute.id in forwarded(session, [dispute.id])
    subject = session.get_one(Subject, dispute.subject_id)
    cipher = vault.cipher(session, subject.data_key_id)
    records = {record.id for _item, record in rows}
    given: dict[uuid.UUID, RecordDecision] = {}
    for record_id, chosen in per_record.items():
        if record_id not in records:
            raise DisputeError(N_("Choose a record of this dispute."))
        given[record_id] = chosen if isinstance(chosen, RecordDecision) else RecordDecision(chosen)
    lines = []
    for item, record in rows:
        response = answers.get(item.id)
        on = basis(response, sent)
        reference = reference_of(session, cipher, record)
        departure = None
        if actor is None:  # the deadline passed: as answered, or `outcome`
            mine = FOLLOWS.get(on, outcome) if response is not None and kind is DisputeKind.OBJECTION else outcome
            if mine is DisputeOutcome.CORRECTED and response is not None and outdated(response, record):
                mine, departure = outcome, OUTDATED_CORRECTION
            if response is None:
                on = Method.NO_ANSWER
        else:
            choice = given.get(record.id)
            mine = outcome_of(choice.outcome, dispute) if choice else outcome
            rule = verdict(kind, on, mine, response)
            if rule is Verdict.REFUSED:
                if len(rows) == 1:
                    raise RecordRefused(
                        record.id,
                        "outcome",
                        N_(
                            "No correction has been furnished for this case: wait for the furnisher's answer, "
                            "or choose another outcome."
                        ),
                    )
                if choice is not None:
                    raise RecordRefused(
                        record.id,
                        "outcome",
                        N_("No correction has been furnished for %(reference)s: choose another outcome for it."),
                        reference=reference,
                    )
                raise DisputeError(
                    N_(
                        "No correction has been furnished for %(reference)s, so this case cannot be decided "
                        "“corrected” as a whole: choose an outcome for each record."
                    ),
                    reference=reference,
                )
            if mine is DisputeOutcome.CORRECTED and response is not None and outdated(response, record):
                raise RecordRefused(
                    record.id,
                    "outcome",
                    N_(
                        "The furnisher has changed this record since it proposed its correction "
                        "(the record is at version %(now)d, the correction was written against "
                        "version %(then)d): choose another outcome."
                    ),
                    now=record.current_version,
                    then=response.proposed_on_version,
                )
            if rule is Verdict.DEPARTURE:
                departure = ((choice.departure if choice else None) or "").strip() or None
                if departure is None:
                    raise RecordRefused(
                        record.id,
                        "departure",
                        N_(
                            "The decision for %(reference)s departs from the furnisher's answer: say why. "
                            "The subject reads it in the outcome letter."
                        ),
                        reference=reference,
                    )
                if len(departure) > MAX_DEPARTURE:
                    raise RecordRefused(
                        record.id,
                        "departure",
                        N_("The reason for %(reference)s is too long: at most %(n)d characters."),
                        reference=reference,
                        n=MAX_DEPARTURE,
                    )
        lines.append(Line(item, record, reference, response, on, mine, departure))
    if actor is None:
        method = Method.NO_ANSWER
    else:
        bases = {line.basis for line in lines}
        departed = any(line.departure for line in lines)
        method = bases.pop() if len(bases) == 1 and not departed else Method.PER_RECORD
        if not lines:
            method = Method.OFFICER_REVIEW
    return Plan(outcome, reason.strip(), subject, cipher, lines, method)


def predicted_versions(line: Line) -> dict[str, int] | None:
    """The versions a correction would change, before it is applied."""
    response = line.response
    if response is None or Answer(response.answer) is not Answer.CORRECTED:
        return None
    if response.correction_ct is None and response.corrected_version:
        return {"from": response.corrected_version - 1, "to": response.corrected_version}
    if line.outcome is DisputeOutcome.CORRECTED and not outdated(response, line.record):
        return {"from": line.record.current_version, "to": line.record.current_version + 1}
    return None


def change(line: Line, versions: dict[str, int] | None, unverifiable_policy: str) -> dict[str, Any]:
    """What the decision does to one record, as the letter's body states it."""
    mine = line.outcome
    change: dict[str, Any] = {
        "record_id": str(line.record.id),
        "category": line.record.category.value,
        "reference": line.reference,
        "outcome": mine.value,
        "answer": Answer(line.response.answer).value if line.response is not None else None,
        "basis": line.basis,
    }
    if line.departure:
        change["departure"] = line.departure
    deletes = mine is DisputeOutcome.DELETED or (
        mine is DisputeOutcome.UNVERIFIABLE and unverifiable_policy == "delete"
    )
    if deletes:
        change["change"] = Change.DELETED
    elif mine is DisputeOutcome.UNVERIFIABLE:
        change["change"] = Change.MARKED_UNVERIFIABLE
    elif mine is DisputeOutcome.REPAIRED:
        change["change"] = Change.PUBLICITY_ENDED
    elif versions:
        change["change"] = Change.NEW_VERSION
        change.update(versions)
    else:  # verified as accurate, repair refused, or nothing to apply
        change["change"] = Change.UNCHANGED
    return change


def body(dispute: Dispute, plan: Plan, now: datetime, changes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "dispute_id": str(dispute.id),
        "outcome": plan.outcome.value,
        "reason": plan.reason,
        "decided_at": now.isoformat(),
        "method": plan.method,
        "changes": changes,
    }


__all__ = ["Line", "Plan", "body", "change", "outcome_of", "plan", "predicted_versions"]
