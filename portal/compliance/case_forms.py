"""The forms the case page shows its viewer: one per action the policy
lets them take (the page's `CaseView` says which), the one just sent kept
with its data and errors."""

from __future__ import annotations

import uuid
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from portal.accounts.models import Role
from portal.compliance import actions
from portal.compliance.forms import (
    AssignForm,
    ExtendForm,
    MoveForm,
    NoteForm,
    RecuseForm,
    RevealForm,
    ShareForm,
    TakeForm,
    choices,
    decide_form,
)
from portal.compliance.pages import CaseView
from portal.disputes.decisions import OUTCOME_NAMES
from portal.disputes.models import Dispute
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
    forms["moves"] = [(to, make(f"move-{to.value}", MoveForm)) for to in view.moves]
    if view.can_extend:
        forms["extend"] = make("extend", ExtendForm)
    if view.can_decide:
        decide = make("decide", decide_form(record_labels(session, view.dispute)))
        decide.outcome.choices = choices([("", _("Choose…"))] + [(o.value, OUTCOME_NAMES[o]) for o in view.outcomes])
        record_choices(decide, view.outcomes)
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


def record_choices(form, outcomes) -> None:
    """The choices of the per-record fields of a decision form."""
    for field in form:
        if field.short_name.startswith("record_"):
            field.choices = choices([("", _("As decided above"))] + [(o.value, OUTCOME_NAMES[o]) for o in outcomes])
