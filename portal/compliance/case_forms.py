"""The forms the case page shows its viewer: one per action the policy
lets them take (the page's `CaseView` says which), the one just sent kept
with its data and errors. The decision form starts each record from its
furnisher's answer and leads to a page to check before it is final; the
form that sends the case to the furnishers sends every file unless the
officer holds one back, saying why."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session
from wtforms import BooleanField, SelectField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal.accounts.models import Role
from portal.compliance import actions
from portal.compliance.forms import (
    AssignForm,
    CaseForm,
    ExtendForm,
    MoveForm,
    NoteForm,
    RecuseForm,
    RevealForm,
    ShareForm,
    TakeForm,
    choices,
)
from portal.compliance.pages import CaseView
from portal.disputes.decisions import MAX_DEPARTURE, OUTCOME_NAMES, RecordDecision, StartingPoint
from portal.disputes.lifecycle import MAX_NOTE as MAX_STEP_NOTE
from portal.disputes.models import Dispute, DisputeKind, DisputeStatus
from portal.disputes.sharing import MAX_REASON as MAX_HOLD_REASON
from portal.disputes.sharing import Pending
from portal.i18n import lazy as _l
from portal.i18n import local_name
from portal.records.pages import CATEGORY_NAMES


def case_forms(session: Session, view: CaseView, given: dict[str, Any], stale: bool) -> tuple[dict[str, Any], set[str]]:
    """The forms the case page shows the viewer (and the names of those
    made): the one just sent (`given`, with its data and errors), the others
    fresh. Fresh forms carry the version shown; so does the one sent when
    it was refused as stale, since the page now shows the case as it is."""
    version = view.dispute.lock_version
    forms: dict[str, Any] = {}
    made: set[str] = set()

    def make(name: str, cls):
        made.add(name)
        form = given.get(name)
        if form is None:
            form = cls(formdata=None, prefix=name)
            form.show_version(version)
        elif stale:
            form.show_version(version)
        return form

    if view.can_take:
        forms["take"] = make("take", TakeForm)
    if view.can_assign_others:
        assign = make("assign", AssignForm)
        assign.officer.choices = choices(
            [("", _("Choose…"))]
            + [
                (str(i), f"{name} ({_('supervisor') if role is Role.SUPERVISOR else _('officer')})")
                for i, name, role in view.officers
            ]
        )
        forms["assign"] = assign
    forms["moves"] = [
        (
            to,
            make(
                f"move-{to.value}",
                send_form(view.pending, {e.id: e.label for e in view.evidence}, len(view.furnishers) == 1)
                if to is DisputeStatus.WAITING_FOR_FURNISHER
                else MoveForm,
            ),
        )
        for to in view.moves
    ]
    if view.can_extend:
        forms["extend"] = make("extend", ExtendForm)
    if view.can_decide:
        decide = make("decide", decision_form(session, view.dispute, view.starting_points))
        setup_decision(decide, view.outcomes)
        forms["decide"] = decide
    shares = {}
    for evidence_id, left in view.share_to.items():
        form = make(f"share-{evidence_id.hex}", ShareForm)
        form.furnishers.choices = choices((str(i.id), local_name(i)) for i in left)
        shares[evidence_id] = form
    forms["share"] = shares
    if view.can_recuse:
        forms["recuse"] = make("recuse", RecuseForm)
    if view.can_note:
        forms["note"] = make("note", NoteForm)
    if view.can_reveal:
        forms["reveal"] = make("reveal", RevealForm)
    return forms, made


def record_labels(session: Session, dispute: Dispute) -> list[tuple[uuid.UUID, str]]:
    return [
        (record_id, f"{CATEGORY_NAMES[category]} · {local_name(furnisher)}")
        for record_id, category, furnisher in actions.case_records(session, dispute)
    ]


# -- the decision ----------------------------------------------------------------------------
class DecisionForm(CaseForm):
    """Each record's decision (`record_<hex>`, starting from its furnisher's
    answer) and the reason for departing from that answer (`why_<hex>`);
    `outcome` for a case about no record (an access). The case page sends
    it to the check page; that page sends it back hidden, to confirm it or
    to change it."""

    reason = TextAreaField(
        _l("Reason for the decision (the subject reads it in the outcome letter)"),
        validators=[DataRequired(message=_l("A decision needs a reason.")), Length(max=MAX_STEP_NOTE)],
    )
    submit = SubmitField(_l("Check the decision"))
    confirm = SubmitField(_l("Confirm and send"))
    change = SubmitField(_l("Change"))
    points: list[StartingPoint] = []
    labels: dict[uuid.UUID, str] = {}  # each record: category, furnisher and reference

    def rows(self) -> Iterator[tuple[StartingPoint, Any, Any]]:
        """(starting point, decision field, reason field) per record."""
        for p in self.points:
            yield p, self[f"record_{p.record_id.hex}"], self._fields.get(f"why_{p.record_id.hex}")

    def decision(self) -> tuple[str, dict[uuid.UUID, RecordDecision]]:
        """The case's outcome (the one most of its records get; on a tie,
        the first record's) and each record's decision."""
        if not self.points:
            return self["outcome"].data, {}
        chosen = {
            p.record_id: RecordDecision(field.data, ((why.data if why is not None else "") or "").strip() or None)
            for p, field, why in self.rows()
        }
        counts = Counter(str(c.outcome) for c in chosen.values())
        outcome = max(counts, key=counts.__getitem__)  # on a tie, the first record's (Counter keeps their order)
        return outcome, chosen

    def fields_to_carry(self) -> list[Any]:
        """The fields the check page sends back hidden."""
        skip = {"csrf_token", "submit", "confirm", "change"}
        return [f for f in self if f.short_name not in skip]


def decision_form(session: Session, dispute: Dispute, points: list[StartingPoint]) -> type[DecisionForm]:
    """The decision form of a case, one decision per record starting from
    its furnisher's answer (`points`: `decisions.starting_points`)."""
    names = dict(record_labels(session, dispute))
    labels = {p.record_id: " · ".join(filter(None, [names.get(p.record_id, ""), p.reference])) for p in points}
    fields: dict[str, Any] = {"points": list(points), "labels": labels}
    if not points:
        fields["outcome"] = SelectField(_l("Outcome"), validators=[DataRequired(message=_l("Choose an outcome."))])
    objection = DisputeKind(dispute.kind) is DisputeKind.OBJECTION
    for p in points:
        fields[f"record_{p.record_id.hex}"] = SelectField(
            _("Decision for %(record)s", record=labels[p.record_id]),
            default=p.suggested.value if p.suggested else "",
            validators=[DataRequired(message=_l("Choose a decision for this record."))],
        )
        if objection:
            fields[f"why_{p.record_id.hex}"] = TextAreaField(
                _l("If your decision departs from the furnisher's answer, why (the subject reads it)"),
                validators=[Optional(), Length(max=MAX_DEPARTURE)],
            )
    return type("CaseDecisionForm", (DecisionForm,), fields)


def setup_decision(form: DecisionForm, outcomes) -> None:
    """The choices of a decision form."""
    for field in form:
        if field.short_name == "outcome" or field.short_name.startswith("record_"):
            field.choices = choices([("", _("Choose…"))] + [(o.value, OUTCOME_NAMES[o]) for o in outcomes])


# -- sending the case --------------------------------------------------------------------------
class SendForm(MoveForm):
    """Sending the case to its furnishers: every file goes unless the
    officer ticks `hold_<file hex>_<furnisher hex>` and says why
    (`why_<file hex>_<furnisher hex>`)."""

    pending: list[Pending] = []
    names: dict[uuid.UUID, str] = {}

    def pairs(self) -> Iterator[tuple[Pending, Any, Any]]:
        for p in self.pending:
            key = f"{p.evidence_id.hex}_{p.institution.id.hex}"
            yield p, self[f"hold_{key}"], self[f"why_{key}"]

    def holds(self) -> dict[tuple[uuid.UUID, uuid.UUID], str]:
        """The files held back, and why."""
        return {(p.evidence_id, p.institution.id): why.data or "" for p, hold, why in self.pairs() if hold.data}

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        for _p, hold, why in self.pairs():
            if hold.data and not (why.data or "").strip():
                why.errors = [*why.errors, _("Say why you hold this file back.")]
                valid = False
        return valid


def send_form(pending: list[Pending], names: dict[uuid.UUID, str], single: bool) -> type[MoveForm]:
    """The form of the step that sends the case (a plain move when there
    is no file to decide about)."""
    if not pending:
        return MoveForm
    fields: dict[str, Any] = {"pending": list(pending), "names": dict(names)}
    for p in pending:
        key = f"{p.evidence_id.hex}_{p.institution.id.hex}"
        name = names.get(p.evidence_id, "")
        fields[f"hold_{key}"] = BooleanField(
            _("Hold back %(file)s", file=name)
            if single
            else _("Hold back %(file)s from %(furnisher)s", file=name, furnisher=local_name(p.institution)),
            default=p.held is not None,
        )
        fields[f"why_{key}"] = TextAreaField(
            _l("Why you hold it back (the subject reads it)"),
            default=p.held or "",
            validators=[Optional(), Length(max=MAX_HOLD_REASON)],
        )
    return type("CaseSendForm", (SendForm,), fields)
