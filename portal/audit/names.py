"""What pages call access events, their actors and purposes, in both
languages."""

from __future__ import annotations

from flask_babel.speaklater import LazyString

from portal.audit.models import EventKind
from portal.audit.purposes import Purpose
from portal.i18n import lazy as _l

EVENT_NAMES = {
    EventKind.SELF_QUERY: _l("Viewed on the portal"),
    EventKind.EXPORT: _l("Downloaded from the portal"),
    EventKind.REGISTRATION: _l("Account opened"),
    EventKind.DELEGATION_GRANTED: _l("Agent authorised"),
    EventKind.DELEGATION_REVOKED: _l("Agent's access revoked"),
    EventKind.INVITATION_SENT: _l("Agent invited"),
    EventKind.INVITATION_CANCELLED: _l("Agent invitation cancelled"),
    EventKind.INSTITUTION_QUERY: _l("Report requested by an institution"),
    EventKind.RECORD_FURNISHED: _l("Record furnished or updated"),
    EventKind.CONSENT_GRANTED: _l("Authority granted"),
    EventKind.CONSENT_REVOKED: _l("Authority revoked"),
    EventKind.AUTHORISATION_REGISTERED: _l("Written authorisation registered"),
    EventKind.LOCK_SET: _l("File locked"),
    EventKind.LOCK_RELEASED: _l("File unlocked"),
    EventKind.COMPLAINT_FILED: _l("Complaint filed"),
    EventKind.DISPUTE_FILED: _l("Dispute filed"),
    EventKind.DISPUTE_STEP: _l("Dispute updated"),
    EventKind.CASE_VIEWED: _l("Dispute case opened by an officer"),
    EventKind.IDENTITY_REVEALED: _l("Name and identifier shown to an officer"),
    EventKind.EVIDENCE_SENT: _l("Dispute evidence sent to the furnisher"),
    EventKind.DISPUTE_FORWARDED: _l("Dispute sent to the furnisher for an answer"),
    EventKind.CORRECTION_NOTICE: _l("Correction notice sent to a recipient"),
    EventKind.ACCOUNT_RECOVERED: _l("Password reset by e-mail"),
    EventKind.SECOND_FACTOR_RESET: _l("Two-step sign-in turned off with a code sent to the contact on file"),
    EventKind.RECORD_REMOVED: _l("Record removed: its five years ended"),
    EventKind.ACCOUNT_CLOSED: _l("Account closed"),
    EventKind.ERASURE_REQUESTED: _l("Erasure of the file requested"),
    EventKind.ERASURE_VIEWED: _l("Erasure request opened by an officer"),
    EventKind.ERASURE_DECIDED: _l("Erasure request decided"),
}
STAFF_ROLES = {
    "officer": _l("compliance officer"),
    "supervisor": _l("supervisor"),
    "administrator": _l("administrator"),
}
CHANNEL_ACTORS = {
    "web": _l("You, on the portal"),
    "api": _l("An institution"),
    "staff": _l("Portal staff"),
    "system": _l("The portal, by the retention rules"),
}

# Keyed by str: purposes stored on events are looked up as plain strings.
PURPOSE_NAMES: dict[str, LazyString] = {
    Purpose.LOAN_APPROVAL: _l("Loan approval"),
    Purpose.CREDIT_CARD_APPROVAL: _l("Credit card approval"),
    Purpose.GUARANTEE_REVIEW: _l("Guarantee review"),
    Purpose.POST_LOAN_MANAGEMENT: _l("Post-loan management (existing contract)"),
    Purpose.EMPLOYMENT_SCREENING: _l("Employment screening"),
    Purpose.COURT_ENFORCEMENT: _l("Court enforcement (legal basis)"),
    Purpose.SELF_QUERY: _l("Self-query"),
}

# The operators' journal's acts (`OperatorAct.action`), in words.
OPERATOR_ACT_NAMES: dict[str, LazyString] = {
    "staff_invited": _l("Invited to the staff"),
    "invitation_accepted": _l("Accepted the staff invitation"),
    "invitation_withdrawn": _l("Staff invitation withdrawn"),
    "role_changed": _l("Role changed"),
    "staff_deactivated": _l("Account deactivated"),
    "staff_reactivated": _l("Account reactivated"),
    "conflict_recorded": _l("Conflict of interest recorded"),
    "conflict_withdrawn": _l("Conflict of interest withdrawn"),
    "proposal_made": _l("Proposal made"),
    "proposal_approved": _l("Proposal approved and carried out"),
    "proposal_rejected": _l("Proposal rejected"),
    "proposal_withdrawn": _l("Proposal withdrawn"),
    "proposal_expired": _l("Proposal expired"),
    "institution_created": _l("Institution created"),
    "institution_changed": _l("Institution changed"),
    "institution_suspended": _l("Institution's querying suspended"),
    "institution_lifted": _l("Institution's suspension lifted"),
    "api_key_issued": _l("API key issued"),
    "api_key_rotated": _l("API key rotated"),
    "api_key_revoked": _l("API key revoked"),
}
