"""Who among the staff may see and do what with a case: the one place of
these rules. The services enforce them (`require`), and the case page
offers a button only where the same function says yes.

- See: an officer or a supervisor, not linked to the case's subject (a
  declared conflict, their own file, a firm they act or acted for), the
  subject still on file. Anyone else: the case does not exist (404).
- Take: an officer or supervisor who could hold the case takes an open
  one nobody holds; a supervisor may also take it from its holder.
- Assign: a supervisor gives an open case to another officer who could
  hold it.
- Act (the steps, notes, reveal, files): only the officer holding it.
- Declare a conflict: any officer or supervisor who sees the case.

A rule answers with the refusal it raises (None: allowed). What a case
allows next (its status, a furnisher yet to answer) is the lifecycle's to
refuse; the page asks the same table (`TRANSITIONS`) and facts
(`case_facts`), and tests/compliance/test_policy.py holds the two together."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from sqlalchemy import false, or_, select
from sqlalchemy.orm import Session

from portal.accounts.models import FirmDelegation, Role, User
from portal.disputes.lifecycle import TRANSITIONS, DisputeError, StaleDispute
from portal.disputes.models import Dispute, DisputeItem, DisputeStatus, Evidence, FurnisherResponse, OfficerConflict
from portal.i18n import N_, Refusal
from portal.records.models import CreditRecord, Subject

# Who may hold a case; administrators run the system, not cases.
CASE_ROLES = frozenset({Role.OFFICER, Role.SUPERVISOR})
S = DisputeStatus


class CaseNotFound(LookupError):
    """No such case, or one the actor may not see (answer 404)."""


class NotAssigned(DisputeError):
    """The actor sees the case but it is not assigned to them."""

    def __init__(self) -> None:
        super().__init__(N_("Take this case before acting on it; until then you see it read-only."))


class AssignmentRefused(DisputeError):
    pass


# -- the facts: who the viewer is linked to --------------------------------------------
def linked_subjects(session: Session, officer: User) -> set[uuid.UUID]:
    """The subjects an officer is linked to: declared conflicts, their own
    file, and every firm they hold (or held, or granted) a delegation for."""
    ids = set(session.scalars(select(OfficerConflict.subject_id).where(OfficerConflict.officer_user_id == officer.id)))
    if officer.subject_id is not None:
        ids.add(officer.subject_id)
    ids.update(
        session.scalars(
            select(FirmDelegation.firm_id).where(
                or_(FirmDelegation.agent_id == officer.id, FirmDelegation.granted_by_id == officer.id)
            )
        )
    )
    return ids


def is_linked(session: Session, officer: User, subject_id: uuid.UUID) -> bool:
    return subject_id in linked_subjects(session, officer)


@dataclass(frozen=True)
class Viewer:
    """A user with the facts the rules need about them."""

    user: User
    linked: frozenset[uuid.UUID]  # subjects whose cases they must not see or hold

    @property
    def id(self) -> uuid.UUID:
        return self.user.id

    @property
    def role(self) -> Role:
        return Role(self.user.role)

    @property
    def is_staff(self) -> bool:
        return self.role in CASE_ROLES


def is_staff(user) -> bool:
    """An officer or a supervisor (a User, a Viewer or the signed-in principal)."""
    return Role(user.role) in CASE_ROLES


def viewer(session: Session, user: User) -> Viewer:
    # Links matter only to staff: nobody else sees or holds a case anyway.
    return Viewer(user, frozenset(linked_subjects(session, user)) if is_staff(user) else frozenset())


# -- see -------------------------------------------------------------------------------
def can_see(viewer: Viewer, dispute: Dispute | None, subject: Subject | None) -> bool:
    return (
        viewer.is_staff
        and dispute is not None
        and subject is not None
        and subject.id == dispute.subject_id
        and subject.shredded_at is None
        and subject.id not in viewer.linked
    )


def load_case(session: Session, user: User, dispute_id: uuid.UUID) -> Dispute:
    """The case, if `user` may see it (`can_see`); CaseNotFound otherwise."""
    if not is_staff(user):  # before any query: nobody else learns whether the case exists
        raise CaseNotFound(dispute_id)
    dispute = session.get(Dispute, dispute_id)
    subject = session.get(Subject, dispute.subject_id) if dispute is not None else None
    if dispute is None or not can_see(viewer(session, user), dispute, subject):
        raise CaseNotFound(dispute_id)
    return dispute


def load_file(session: Session, dispute: Dispute, evidence_id: uuid.UUID) -> Evidence:
    """A file of this case (loaded with `load_case`); CaseNotFound for a
    file of another case, or none."""
    row = session.get(Evidence, evidence_id)
    if row is None or row.dispute_id != dispute.id:
        raise CaseNotFound(evidence_id)
    return row


def visible(viewer: Viewer) -> list:
    """`can_see` as SQL conditions on Dispute joined to its Subject (the queue)."""
    if not viewer.is_staff:
        return [false()]
    where: list = [Subject.shredded_at.is_(None)]
    if viewer.linked:
        where.append(Dispute.subject_id.notin_(viewer.linked))
    return where


# -- take and assign -----------------------------------------------------------------------
def holds(user, dispute: Dispute) -> bool:
    """`user` (a User or a Viewer) is the officer the case is assigned to."""
    return is_staff(user) and dispute.assigned_officer_id is not None and dispute.assigned_officer_id == user.id


def _stale(dispute: Dispute, expected_version: int | None) -> StaleDispute | None:
    if expected_version is not None and expected_version != dispute.lock_version:
        return StaleDispute(dispute.id)
    return None


def _assigner_refusal(actor: Viewer, other: bool) -> Refusal | None:
    if not actor.is_staff:
        return AssignmentRefused(N_("Only officers and supervisors take cases."))
    if other and actor.role is not Role.SUPERVISOR:
        return AssignmentRefused(N_("Only a supervisor can assign a case to another officer."))
    return None


def _closed_refusal(dispute: Dispute) -> Refusal | None:
    if not dispute.is_open:
        return DisputeError(N_("This case is closed; it can no longer be assigned."))
    return None


def assignment_refusal(
    actor: Viewer, dispute: Dispute, target: Viewer | None = None, expected_version: int | None = None
) -> Refusal | None:
    """Why `actor` may not take the case (no `target`) or give it to
    `target`, or None. Nobody linked to the subject holds the case; a case
    held by someone else moves only at a supervisor's hand. A version given
    is checked once the case is known to be open, as the forms need."""
    target = target or actor
    own = target.id == actor.id
    if refusal := _assigner_refusal(actor, not own):
        return refusal
    if not target.is_staff or not target.user.is_active:
        return AssignmentRefused(N_("A case can be assigned only to an active officer or supervisor."))
    if refusal := _closed_refusal(dispute) or _stale(dispute, expected_version):
        return refusal
    if dispute.subject_id in target.linked:
        return AssignmentRefused(
            N_(
                "You are linked to the subject of this case (a declared conflict, your own file or a firm you act "
                "for); you cannot take it."
            )
            if own
            else N_(
                "This officer is linked to the subject of this case (a declared conflict, their own file or a firm "
                "they act for); choose another officer."
            )
        )
    if dispute.assigned_officer_id == target.id:
        return DisputeError(
            N_("This case is already assigned to you.") if own else N_("This case is already assigned to that officer.")
        )
    if dispute.assigned_officer_id is not None and actor.role is not Role.SUPERVISOR:
        return AssignmentRefused(N_("This case is already assigned to another officer; a supervisor can reassign it."))
    return None


def can_take(viewer: Viewer, dispute: Dispute) -> bool:
    return assignment_refusal(viewer, dispute) is None


def can_assign(viewer: Viewer, dispute: Dispute) -> bool:
    """`viewer` may give the case to someone else; whether to a given
    officer is `assignment_refusal` with that target (the form's choice)."""
    return (_assigner_refusal(viewer, other=True) or _closed_refusal(dispute)) is None


# -- act -------------------------------------------------------------------------------------
class Act(enum.Enum):
    ACKNOWLEDGE = "acknowledge"
    REVIEW = "review"  # start (or resume) the review
    SEND = "send"  # to the furnishers
    ASK_SUBJECT = "ask_subject"
    DECIDE = "decide"
    EXTEND = "extend"
    NOTE = "note"
    REVEAL = "reveal"  # the subject's name and identifier
    SHARE = "share"  # send a file to some of the furnishers
    OPEN_FILE = "open_file"


# The steps an officer takes with a button, in the page's order, and the status each leads to.
MOVES = {
    Act.ACKNOWLEDGE: S.ACKNOWLEDGED,
    Act.REVIEW: S.UNDER_REVIEW,
    Act.SEND: S.WAITING_FOR_FURNISHER,
    Act.ASK_SUBJECT: S.WAITING_FOR_SUBJECT,
}
MOVE_ACTS = {status: act for act, status in MOVES.items()}
# Where an officer may move a case with a button; resolving is a decision,
# withdrawing belongs to the subject.
OFFICER_MOVES = frozenset(MOVES.values())
LEADS_TO = {**MOVES, Act.DECIDE: S.RESOLVED}


def act_refusal(user, dispute: Dispute, act: Act | None, expected_version: int | None = None) -> Refusal | None:
    """Why `user` may not do `act` on the case, or None: only its holder
    acts (None: a step no button offers, refused after this by the service).
    Whether the case's status allows the act is the lifecycle's to refuse;
    a version given is checked after who acts, as the forms need."""
    if not holds(user, dispute):
        return NotAssigned()
    return _stale(dispute, expected_version)


@dataclass(frozen=True)
class CaseFacts:
    """What the rules need to know of a case beyond its own row."""

    furnishers: int = 0  # furnishers of its records
    unanswered: int = 0  # its records no furnisher has answered for yet


def case_facts(session: Session, dispute: Dispute) -> CaseFacts:
    rows = session.execute(
        select(CreditRecord.furnisher_id, FurnisherResponse.id)
        .select_from(DisputeItem)
        .join(CreditRecord, CreditRecord.id == DisputeItem.record_id)
        .outerjoin(FurnisherResponse, FurnisherResponse.item_id == DisputeItem.id)
        .where(DisputeItem.dispute_id == dispute.id)
    ).all()
    return CaseFacts(
        len({furnisher for furnisher, _answer in rows}), sum(1 for _furnisher, answer in rows if answer is None)
    )


def _status_allows(dispute: Dispute, act: Act, facts: CaseFacts) -> bool:
    """What the case allows now, as the lifecycle and `sharing` enforce it:
    a step that follows its status (`TRANSITIONS`), sending it only while a
    furnisher has yet to answer, an extension while open, a file sent while
    open in a case over several furnishers; notes, reveal and files also
    once closed."""
    status = DisputeStatus(dispute.status)
    if act in LEADS_TO and LEADS_TO[act] not in TRANSITIONS[status]:
        return False
    if act is Act.SEND:
        return facts.unanswered > 0
    if act is Act.EXTEND:
        return status.is_open
    if act is Act.SHARE:
        return status.is_open and facts.furnishers > 1
    return True


def can_act(user, dispute: Dispute, act: Act, facts: CaseFacts | None = None) -> bool:
    """`facts`: `case_facts` of the case, needed for SEND and SHARE (none
    known: neither is allowed)."""
    return act_refusal(user, dispute, act) is None and _status_allows(dispute, act, facts or CaseFacts())


def can_decide(user, dispute: Dispute) -> bool:
    return can_act(user, dispute, Act.DECIDE)


def moves(user, dispute: Dispute, facts: CaseFacts | None = None) -> list[DisputeStatus]:
    """The statuses `user` may move the case to with a button, in order."""
    return [status for act, status in MOVES.items() if can_act(user, dispute, act, facts)]


# -- declare a conflict -------------------------------------------------------------------
def recusal_refusal(user, dispute: Dispute, expected_version: int | None = None) -> Refusal | None:
    if not is_staff(user):
        return NotAssigned()
    return _stale(dispute, expected_version)


def can_recuse(user, dispute: Dispute) -> bool:
    return recusal_refusal(user, dispute) is None


def require(refusal: Refusal | None) -> None:
    """Raise the refusal a rule answered, if any."""
    if refusal is not None:
        raise refusal


__all__ = [
    "CASE_ROLES",
    "MOVES",
    "MOVE_ACTS",
    "OFFICER_MOVES",
    "Act",
    "AssignmentRefused",
    "CaseFacts",
    "CaseNotFound",
    "NotAssigned",
    "Viewer",
    "act_refusal",
    "assignment_refusal",
    "can_act",
    "can_assign",
    "can_decide",
    "can_recuse",
    "can_see",
    "can_take",
    "case_facts",
    "holds",
    "is_linked",
    "is_staff",
    "linked_subjects",
    "load_case",
    "load_file",
    "moves",
    "recusal_refusal",
    "require",
    "viewer",
    "visible",
]
