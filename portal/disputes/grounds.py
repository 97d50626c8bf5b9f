"""What each record's decision rests on: its furnisher's answer (or that it
gave none, or was never asked), the outcomes each answer allows, those it
allows only with a reason the outcome letter states (a departure), and
those it refuses (`RULES`); and where the decision form starts each record
(`starting_points`). Reads only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.crypto import Vault
from portal.disputes.letter import Method
from portal.disputes.lifecycle import MAX_NOTE, DisputeError
from portal.disputes.models import Answer, Dispute, DisputeItem, DisputeKind, DisputeOutcome, FurnisherResponse
from portal.disputes.sharing import forwarded
from portal.i18n import N_
from portal.records.models import CreditRecord, Subject
from portal.records.services import current_version, open_payload

MAX_DEPARTURE = MAX_NOTE  # characters of the reason for departing from a furnisher's answer


class Verdict(StrEnum):
    """What deciding a record an outcome needs, given the furnisher's answer."""

    ALLOWED = "allowed"  # follows from the answer (or nothing was asked)
    DEPARTURE = "departure"  # departs from it: only with a reason the letter states
    REFUSED = "refused"  # impossible: no correction to apply


A, V = DisputeOutcome, Verdict
# The basis of a record's decision (a Method code) x the outcome chosen.
# "Corrected" needs a correction, so it is refused wherever none was sent.
RULES: dict[str, dict[DisputeOutcome, Verdict]] = {
    Method.FURNISHER_VERIFIED: {
        A.VERIFIED_ACCURATE: V.ALLOWED,
        A.CORRECTED: V.REFUSED,
        A.DELETED: V.DEPARTURE,
        A.UNVERIFIABLE: V.DEPARTURE,
    },
    Method.FURNISHER_CORRECTED: {
        A.CORRECTED: V.ALLOWED,
        A.VERIFIED_ACCURATE: V.DEPARTURE,
        A.DELETED: V.DEPARTURE,
        A.UNVERIFIABLE: V.DEPARTURE,
    },
    Method.FURNISHER_COULD_NOT_VERIFY: {
        A.DELETED: V.ALLOWED,
        A.UNVERIFIABLE: V.ALLOWED,
        A.VERIFIED_ACCURATE: V.DEPARTURE,
        A.CORRECTED: V.REFUSED,
    },
    # Sent, and the furnisher had not answered when the officer decided.
    Method.NOT_ANSWERED: {
        A.DELETED: V.ALLOWED,
        A.UNVERIFIABLE: V.ALLOWED,
        A.VERIFIED_ACCURATE: V.DEPARTURE,
        A.CORRECTED: V.REFUSED,
    },
    # Never sent to the furnisher: the officer's own review of the record and the evidence.
    Method.OFFICER_REVIEW: {
        A.DELETED: V.ALLOWED,
        A.UNVERIFIABLE: V.ALLOWED,
        A.VERIFIED_ACCURATE: V.ALLOWED,
        A.CORRECTED: V.REFUSED,
    },
}
# What each answer leads to when the officer follows it.
FOLLOWS = {
    Method.FURNISHER_VERIFIED: A.VERIFIED_ACCURATE,
    Method.FURNISHER_CORRECTED: A.CORRECTED,
    Method.FURNISHER_COULD_NOT_VERIFY: A.UNVERIFIABLE,
}
BASIS_OF_ANSWER = {
    Answer.VERIFIED_ACCURATE: Method.FURNISHER_VERIFIED,
    Answer.CORRECTED: Method.FURNISHER_CORRECTED,
    Answer.CANNOT_VERIFY: Method.FURNISHER_COULD_NOT_VERIFY,
}
# Departures the portal itself states (marked for the catalog; shown translated).
OUTDATED_CORRECTION = N_(
    "The furnisher's correction was written against an older version of the record, so it could not be applied."
)
del A, V


def basis(response: FurnisherResponse | None, sent: bool) -> str:
    """What a record's decision rests on: the furnisher's answer, or, with
    none, whether the case was sent to it (a Method code)."""
    if response is not None:
        return BASIS_OF_ANSWER[Answer(response.answer)]
    return Method.NOT_ANSWERED if sent else Method.OFFICER_REVIEW


def verdict(kind: DisputeKind, on: str, outcome: DisputeOutcome, response: FurnisherResponse | None = None) -> Verdict:
    """Whether a record whose decision rests on `on` may be decided
    `outcome`. Credit repair ends a penalty's publicity: the answers,
    about accuracy, do not bind it."""
    if kind is DisputeKind.CREDIT_REPAIR:
        return Verdict.ALLOWED
    if (
        on == Method.FURNISHER_CORRECTED
        and response is not None
        and response.correction_ct is None
        and response.corrected_version
        and outcome is DisputeOutcome.VERIFIED_ACCURATE
    ):
        return Verdict.ALLOWED  # corrected when sent, before corrections waited: accurate as corrected
    return RULES[on][outcome]


def suggested(kind: DisputeKind, on: str) -> DisputeOutcome | None:
    """The outcome a record's decision starts from (the decision form's
    choice before the officer changes it)."""
    return FOLLOWS.get(on) if kind is DisputeKind.OBJECTION else None


class RecordRefused(DisputeError):
    """A decision refused because of one record: which, and whether its
    outcome ("outcome") or its reason for departing ("departure") is wrong."""

    def __init__(self, record_id: uuid.UUID, part: str, message: str, **params: Any) -> None:
        super().__init__(message, **params)
        self.record_id, self.part = record_id, part


@dataclass(frozen=True)
class RecordDecision:
    """A record's decision as the officer gives it: the outcome and, when
    it departs from the furnisher's answer, why (the subject reads it)."""

    outcome: DisputeOutcome | str
    departure: str | None = None


@dataclass(frozen=True)
class StartingPoint:
    """Where a record's decision starts: its furnisher's answer (or none),
    what the decision rests on, and the outcome that follows from it."""

    record_id: uuid.UUID
    reference: str
    answer: Answer | None
    basis: str
    suggested: DisputeOutcome | None


def starting_points(session: Session, vault: Vault, dispute: Dispute) -> list[StartingPoint]:
    """Each record's starting point, in the order of the case's records
    (for the decision form, which the officer holding the case sees)."""
    rows = session.execute(
        select(DisputeItem, CreditRecord, FurnisherResponse)
        .join(CreditRecord, CreditRecord.id == DisputeItem.record_id)
        .outerjoin(FurnisherResponse, FurnisherResponse.item_id == DisputeItem.id)
        .where(DisputeItem.dispute_id == dispute.id)
        .order_by(CreditRecord.created_at, CreditRecord.id)
    ).all()
    sent = dispute.id in forwarded(session, [dispute.id])
    cipher = vault.cipher(session, session.get_one(Subject, dispute.subject_id).data_key_id)
    kind = DisputeKind(dispute.kind)
    out = []
    for _item, record, response in rows:
        on = basis(response, sent)
        out.append(
            StartingPoint(
                record.id,
                reference_of(session, cipher, record),
                Answer(response.answer) if response is not None else None,
                on,
                suggested(kind, on),
            )
        )
    return out


def outdated(response: FurnisherResponse, record: CreditRecord) -> bool:
    """A correction still waiting, written against an older version than
    the record's: applying it would undo what the furnisher sent since."""
    return (
        response.correction_ct is not None
        and response.proposed_on_version is not None
        and response.proposed_on_version != record.current_version
    )


def reference_of(session: Session, cipher, record: CreditRecord) -> str:
    return str(open_payload(cipher, current_version(session, record)).get("reference", ""))


__all__ = [
    "BASIS_OF_ANSWER",
    "FOLLOWS",
    "MAX_DEPARTURE",
    "OUTDATED_CORRECTION",
    "RULES",
    "RecordDecision",
    "RecordRefused",
    "StartingPoint",
    "Verdict",
    "basis",
    "outdated",
    "reference_of",
    "starting_points",
    "suggested",
    "verdict",
]
