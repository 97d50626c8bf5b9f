"""The shapes of the institution API: request bodies and parameters
(validated), responses and problems (described), and the step from valid
input to the services' values, with the checks only code can make
(identifier check characters, dates not in the future)."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from portal.api.problems import invalid
from portal.api.validation import (
    Amount,
    Arr,
    Bool,
    Choice,
    Day,
    Described,
    Errors,
    Int,
    IntParam,
    Invalid,
    Nullable,
    Obj,
    Prop,
    Scalar,
    Str,
    Type,
    json_type,
    pointer,
    validate,
)
from portal.audit.purposes import Purpose
from portal.disputes.inbox import Listing
from portal.disputes.models import Answer, DisputeOutcome, DisputeReason, DisputeStatus
from portal.disputes.responses import MAX_REVIEWED, AnswerInput
from portal.records.identifiers import InvalidIdentifier
from portal.records.models import Category, RecordStatus, SubjectKind
from portal.records.pages import CURRENCY_KEY, KNOWN_FIELDS
from portal.records.services import RecordInput, validate_identifier

# Details that tell what has happened: none is in the future (a maturity, or
# the end of a publicity period, may be).
PAST_DATES = ("opened_on", "signed_on", "assessed_on", "decided_on", "since", "closed_on", "written_off_on")


class Details(Type):
    """A record's details: at most MAX_KEYS keys in snake_case, known keys
    typed as the report shows them (amounts as decimal strings, dates as
    YYYY-MM-DD), anything else a short string, a number or a boolean."""

    MAX_KEYS, MAX_BYTES = 40, 4096
    KEY = re.compile(r"[a-z][a-z0-9_]{0,47}")
    INTEGERS = {"overdue_months", "worst_overdue_months"}

    def __init__(self) -> None:
        self.description = (
            f"At most {self.MAX_KEYS} keys and {self.MAX_BYTES} bytes as JSON; "
            "'reference' is not allowed here (it is a field of the record). "
            f"Dates of what has happened ({', '.join(PAST_DATES)}) are not in the future."
        )
        self.known: dict[str, Type] = {CURRENCY_KEY: Str(3, 3, "[A-Z]{3}", "ISO 4217 currency code")}
        for key, (kind, _label) in KNOWN_FIELDS.items():
            if key == "reference":
                continue
            self.known[key] = (
                Int(0, 1200)
                if key in self.INTEGERS
                else Amount()
                if kind == "amount"
                else Day()
                if kind == "date"
                else Str(1, 200)
            )
        self.other = Scalar(500)

    def check(self, value: Any, at: str, errors: Errors) -> dict[str, Any]:
        if not isinstance(value, dict):
            return self.fail(at, errors, f"must be an object, not {json_type(value)}")
        if len(value) > self.MAX_KEYS:
            return self.fail(at, errors, f"must have at most {self.MAX_KEYS} keys")
        if len(json.dumps(value, ensure_ascii=False).encode()) > self.MAX_BYTES:
            return self.fail(at, errors, f"must be at most {self.MAX_BYTES} bytes as JSON")
        before, out = len(errors), {}
        for key, item in value.items():
            here = pointer(at, key)
            if key == "reference" or not self.KEY.fullmatch(key):
                errors.append({"pointer": here, "detail": "is not an allowed key (snake_case, not 'reference')"})
                continue
            try:
                checked = self.known.get(key, self.other).check(item, here, errors)
            except Invalid:
                continue
            out[key] = checked.isoformat() if isinstance(checked, date) else checked
        if len(errors) > before:
            raise Invalid(at)
        return out

    def schema(self) -> dict[str, Any]:
        return self.describe(
            {
                "type": "object",
                "maxProperties": self.MAX_KEYS,
                "propertyNames": {"pattern": f"^{self.KEY.pattern}$", "not": {"const": "reference"}},
                "properties": {k: t.schema() for k, t in self.known.items()},
                "additionalProperties": self.other.schema(),
            }
        )


# -- the API's shapes ------------------------------------------------------------------
UUID_PATTERN = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
UUID = Str(36, 36, UUID_PATTERN)
TIMESTAMP = Described({"type": "string", "format": "date-time"})
SHA256_HEX = Str(64, 64, "[0-9a-f]{64}", "SHA-256, lower-case hex.")
IDENTIFIER = Str(
    1,
    64,
    description="Resident identity number (person, GB 11643) or unified social credit code "
    "(firm, GB 32100), with its check character.",
    example="11010519491231002X",
)
SUBJECT_KIND = Choice(SubjectKind)

RECORD = Obj(
    {
        "category": Prop(Choice(Category)),
        "reference": Prop(
            Str(
                1,
                64,
                description="Your own account or case reference. The same reference "
                "again makes a new version of the record.",
            )
        ),
        "status": Prop(Choice(RecordStatus)),
        "negative": Prop(Bool("Negative information: it leaves the file five years after ended_on.")),
        "ended_on": Prop(
            Nullable(Day("When the behaviour ended; null while it goes on. Not in the future.")), required=False
        ),
        "details": Prop(Details(), required=False, default=dict),
    }
)

FURNISH = Obj(
    {
        "subject": Prop(
            Obj(
                {
                    "kind": Prop(SUBJECT_KIND),
                    "identifier": Prop(IDENTIFIER),
                    "name": Prop(
                        Str(1, 200, description="The subject's name; used when the subject is not on file yet.")
                    ),
                    "contact_email": Prop(
                        Nullable(
                            Str(
                                3,
                                254,
                                r"[^@\s]+@[^@\s]+\.[^@\s]+",
                                "Where the subject's activation code goes; used for a new subject.",
                            )
                        ),
                        required=False,
                    ),
                }
            )
        ),
        "record": Prop(RECORD),
        "certify_accurate": Prop(
            Bool(
                "Needed (true) to furnish again a record that a dispute decision deleted: "
                "you certify that it is accurate. The subject is told."
            ),
            required=False,
            default=False,
        ),
    },
    "A new record, or a new version of one of your records, about a subject by identifier.",
)

FURNISHED = Obj(
    {
        "record_id": Prop(UUID),
        "version": Prop(Int(1, 1_000_000)),
        "expires_on": Prop(Nullable(Day("When negative information leaves the file."))),
    }
)

AUTHORISATION = Obj(
    {
        "subject": Prop(Obj({"kind": Prop(SUBJECT_KIND), "identifier": Prop(IDENTIFIER)})),
        "purpose": Prop(Choice(Purpose)),
        "valid_until": Prop(Day("Last day the authorisation may be used; at most one year ahead.")),
        "document_sha256": Prop(SHA256_HEX),
        "scope": Prop(Str(1, 1000, description="What the signed authorisation covers, as written in it.")),
    },
    "A signed written authorisation: its hash and scope are kept and shown to the subject.",
)

AUTHORISED = Obj({"consent_id": Prop(UUID), "valid_until": Prop(Day())})

# The report query's parameters: the identifier is in the path.
REPORT_PARAMETERS = {
    "purpose": Prop(Choice(Purpose, "Why you query.")),
    "consent": Prop(UUID, required=False),
    "kind": Prop(Choice(SubjectKind, "Needed only when the identifier is valid as both kinds."), required=False),
}

FURNISHER = Obj({"code": Prop(Str()), "name": Prop(Str()), "name_en": Prop(Str())})
REPORT = Obj(
    {
        "query": Prop(
            Obj(
                {
                    "id": Prop(UUID),
                    "at": Prop(TIMESTAMP),
                    "institution": Prop(Str(1, 32)),
                    "purpose": Prop(Choice(Purpose)),
                    "basis": Prop(
                        Str(1, 32, description="consent, written_authorisation, existing_contract or court_enforcement")
                    ),
                    "consent": Prop(Nullable(UUID)),
                }
            )
        ),
        "subject": Prop(Obj({"kind": Prop(SUBJECT_KIND), "identifier": Prop(IDENTIFIER), "name": Prop(Str())})),
        "records": Prop(
            Arr(
                Obj(
                    {
                        "id": Prop(UUID),
                        "category": Prop(Choice(Category)),
                        "furnisher": Prop(FURNISHER),
                        "version": Prop(Int(1, 1_000_000)),
                        "status": Prop(Choice(RecordStatus)),
                        "negative": Prop(Bool()),
                        "ended_on": Prop(Nullable(Day())),
                        "expires_on": Prop(Nullable(Day())),
                        "furnished_at": Prop(TIMESTAMP),
                        "reference": Prop(Str(1, 64)),
                        "details": Prop(
                            Described(
                                {
                                    "type": "object",
                                    "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
                                }
                            )
                        ),
                        "disputed": Prop(Bool("The subject disputes this record.")),
                        "unverifiable": Prop(Bool("A dispute found that this record could not be verified.")),
                        "statements": Prop(
                            Arr(Str(1, 2000), description="The subject's statements about this record.")
                        ),
                    }
                ),
                max_items=100_000,
                description="Current versions only; earlier versions are never disclosed, nor are "
                "records deleted by a dispute decision or whose publicity has ended.",
            )
        ),
    },
    "The report as disclosed. Its canonical JSON (sorted keys, no white space, UTF-8) is what was hashed and kept.",
)
REPORT_SENT = Obj(
    {"report": Prop(REPORT), "sha256": Prop(SHA256_HEX)},
    "Canonical JSON; sha256 is the SHA-256 of the report member's bytes, as also sent in the Disclosure-SHA256 header.",
)

# -- disputes of your records, your answers, correction notices ------------------------
PAGE_PARAMETERS = {
    "limit": Prop(IntParam(1, 100, "How many to return."), required=False, default=50),
    "offset": Prop(IntParam(0, 1_000_000, "How many to skip."), required=False, default=0),
}
DISPUTE_PARAMETERS = {
    "status": Prop(
        Choice(Listing, "open (the default), closed (resolved or withdrawn) or all."),
        required=False,
        default=Listing.OPEN,
    ),
    **PAGE_PARAMETERS,
}


class Acknowledged(StrEnum):
    FALSE = "false"
    TRUE = "true"
    ALL = "all"


NOTICE_PARAMETERS = {
    "acknowledged": Prop(
        Choice(
            Acknowledged,
            "false (the default): still to acknowledge; true: acknowledged; all: both, unacknowledged first.",
        ),
        required=False,
        default=Acknowledged.FALSE,
    ),
    **PAGE_PARAMETERS,
}


def _page(name: str, item: Type, description: str) -> Obj:
    return Obj(
        {
            name: Prop(Arr(item, max_items=100)),
            "total": Prop(Int(0, 10**9, "How many there are in all, with these parameters.")),
            "limit": Prop(Int(1, 100)),
            "offset": Prop(Int(0, 10**9)),
            "next_offset": Prop(Nullable(Int(0, 10**9, "The offset of the next page; null on the last page."))),
        },
        description,
    )


DISPUTES = _page(
    "disputes",
    Obj(
        {
            "id": Prop(UUID),
            "reason": Prop(Choice(DisputeReason)),
            "status": Prop(Choice(DisputeStatus)),
            "filed_at": Prop(TIMESTAMP),
            "due_on": Prop(Day("The deadline, extensions and pauses included.")),
            "days_left": Prop(
                Nullable(Int(-100_000, 100_000, "Days until due_on (negative when overdue); null once closed."))
            ),
            "forwarded": Prop(
                Bool(
                    description="Whether an officer has sent the case to you for an answer; the "
                    "statement and the evidence come with it, while the case is open."
                )
            ),
            "statement": Prop(
                Nullable(
                    Str(
                        1,
                        2000,
                        description="The subject's statement, as filed; null until the "
                        "case is sent to you, and once it is closed.",
                    )
                )
            ),
            "items": Prop(
                Arr(
                    Obj(
                        {
                            "record_id": Prop(UUID),
                            "reference": Prop(Str(1, 64)),
                            "version": Prop(Int(1, 1_000_000, "The record's current version.")),
                            "answered": Prop(Bool()),
                            "answer": Prop(Nullable(Choice(Answer))),
                            "decision": Prop(
                                Nullable(
                                    Choice(
                                        DisputeOutcome,
                                        "The decision for this record once the case is "
                                        "resolved (deleted: do not furnish it again unless you "
                                        "certify it); null before, and when withdrawn.",
                                    )
                                )
                            ),
                        }
                    ),
                    description="Your records in the dispute, and only yours.",
                )
            ),
            "evidence": Prop(
                Arr(
                    Obj(
                        {
                            "id": Prop(UUID),
                            "href": Prop(Str(1, 200, description="Where to fetch the file (GET, furnish scope).")),
                            "name": Prop(
                                Str(
                                    1,
                                    300,
                                    description="The name the subject uploaded it with, its extension that of "
                                    "what is stored (the download's Content-Disposition carries it too).",
                                )
                            ),
                            "media_type": Prop(Str(1, 32)),
                            "size": Prop(Int(1, 10 * 1024 * 1024)),
                            "sha256": Prop(SHA256_HEX),
                            "removed": Prop(
                                Arr(
                                    Str(1, 100),
                                    max_items=20,
                                    description="What the portal took out of the file before it was kept "
                                    "(for example JavaScript or embedded files); empty when nothing was.",
                                )
                            ),
                        }
                    ),
                    max_items=5,
                )
            ),
        }
    ),
    "Disputes of your records, soonest deadline first.",
)


class _AnswerRequest(Obj):
    """An answer: `correction` goes with `corrected`, and only with it."""

    def schema(self) -> dict[str, Any]:
        return {
            **super().schema(),
            "if": {"properties": {"answer": {"const": Answer.CORRECTED.value}}, "required": ["answer"]},
            "then": {"required": ["correction"]},
            "else": {"not": {"required": ["correction"]}},
        }


ANSWER = _AnswerRequest(
    {
        "record_id": Prop(UUID),
        "answer": Prop(Choice(Answer)),
        "reviewed": Prop(
            Str(
                1,
                MAX_REVIEWED,
                description="What you reviewed to reach the answer (documents, systems, dates); kept for the case.",
            )
        ),
        "correction": Prop(RECORD, required=False),
    },
    "Your answer for one of your records in an open dispute. With corrected, `correction` is the record "
    "as it should read (same reference and category): it becomes the record's next version when an officer "
    "decides the case corrected.",
)

ANSWERED = Obj(
    {
        "id": Prop(UUID),
        "dispute_id": Prop(UUID),
        "record_id": Prop(UUID),
        "answer": Prop(Choice(Answer)),
        "corrected_version": Prop(
            Nullable(
                Int(1, 1_000_000, "The version the correction made; null until an officer decides the case corrected.")
            )
        ),
        "dispute_status": Prop(Choice(DisputeStatus, "The dispute's status after your answer.")),
    }
)

NOTICE_BODY = Described(
    {
        "type": "object",
        "properties": {
            "dispute_id": {"type": "string"},
            "record_id": {"type": "string"},
            "reference": {"type": "string"},
            "outcome": {"type": "string"},
            "decided_at": {"type": "string"},
            "record": {"type": ["object", "null"]},
        },
        "required": ["dispute_id", "record_id", "outcome"],
    },
    "What the decision changed, and the record as it may now be disclosed (null once it is no longer disclosed).",
)

NOTICES = _page(
    "notices",
    Obj(
        {
            "id": Prop(UUID),
            "dispute_id": Prop(UUID),
            "record_id": Prop(UUID),
            "created_at": Prop(TIMESTAMP),
            "acknowledged_at": Prop(Nullable(TIMESTAMP)),
            "body": Prop(NOTICE_BODY),
        }
    ),
    "Correction notices for records you received, unacknowledged first.",
)

ACKNOWLEDGED = Obj(
    {"id": Prop(UUID), "acknowledged_at": Prop(TIMESTAMP)},
    "The time of the first acknowledgement, however often it is sent.",
)

PROBLEM = Obj(
    {
        "type": Prop(Str(1, 200)),
        "title": Prop(Str(1, 200)),
        "status": Prop(Int(100, 599)),
        "detail": Prop(Str(1, 2000), required=False),
        "errors": Prop(
            Arr(
                Described(
                    {
                        "type": "object",
                        "properties": {
                            "pointer": {"type": "string"},
                            "parameter": {"type": "string"},
                            "detail": {"type": "string"},
                        },
                        "required": ["detail"],
                    }
                )
            ),
            required=False,
        ),
        "reason": Prop(Str(1, 64, description="Why a query was refused."), required=False),
        "event_id": Prop(UUID, required=False),
        "record_id": Prop(UUID, required=False),
    },
    "RFC 9457 problem details.",
)


# -- turning valid input into the services' values ------------------------------------
@dataclass(frozen=True)
class SubjectRef:
    kind: SubjectKind
    identifier: str  # normalised
    name: str | None = None
    contact_email: str | None = None


@dataclass(frozen=True)
class FurnishRequest:
    subject: SubjectRef
    record: RecordInput
    certify_accurate: bool = False


@dataclass(frozen=True)
class AuthorisationRequest:
    subject: SubjectRef
    purpose: Purpose
    valid_until: date
    document_sha256: bytes
    scope: str


def _identifier(kind: SubjectKind, value: str, at: str, errors: Errors) -> str:
    try:
        return validate_identifier(kind, value)
    except InvalidIdentifier as exc:
        errors.append({"pointer": at, "detail": str(exc)})
        return value


def _record(r: dict[str, Any], at: str, today: date, errors: Errors) -> RecordInput | None:
    if r["ended_on"] is not None and r["ended_on"] > today:
        errors.append({"pointer": f"{at}/ended_on", "detail": "is in the future"})
    for key in PAST_DATES:
        if key in r["details"] and date.fromisoformat(r["details"][key]) > today:
            errors.append({"pointer": f"{at}/details/{key}", "detail": "is in the future"})
    try:
        return RecordInput(r["category"], r["reference"], r["status"], r["negative"], r["ended_on"], r["details"])
    except ValueError as exc:
        errors.append({"pointer": f"{at}/reference", "detail": str(exc)})
        return None


def parse_furnish(body: Any, today: date) -> FurnishRequest:
    data = validate(FURNISH, body)
    s = data["subject"]
    errors: Errors = []
    identifier = _identifier(s["kind"], s["identifier"], "/subject/identifier", errors)
    record = _record(data["record"], "/record", today, errors)
    if errors or record is None:  # no record only with its error recorded
        raise invalid(errors)
    return FurnishRequest(
        SubjectRef(s["kind"], identifier, s["name"].strip(), s["contact_email"]), record, data["certify_accurate"]
    )


def parse_answer(body: Any, today: date) -> AnswerInput:
    data = validate(ANSWER, body)
    errors: Errors = []
    corrected, correction = data["answer"] is Answer.CORRECTED, None
    if corrected and data["correction"] is None:
        errors.append({"pointer": "/correction", "detail": "is required when the answer is corrected"})
    elif not corrected and data["correction"] is not None:
        errors.append({"pointer": "/correction", "detail": "is allowed only when the answer is corrected"})
    elif corrected:
        correction = _record(data["correction"], "/correction", today, errors)
    if errors:
        raise invalid(errors)
    return AnswerInput(uuid.UUID(data["record_id"]), data["answer"], data["reviewed"].strip(), correction)


def parse_authorisation(body: Any) -> AuthorisationRequest:
    data = validate(AUTHORISATION, body)
    errors: Errors = []
    identifier = _identifier(data["subject"]["kind"], data["subject"]["identifier"], "/subject/identifier", errors)
    if errors:
        raise invalid(errors)
    return AuthorisationRequest(
        SubjectRef(data["subject"]["kind"], identifier),
        data["purpose"],
        data["valid_until"],
        bytes.fromhex(data["document_sha256"]),
        data["scope"].strip(),
    )


def parse_parameters(args: Any, params: dict[str, Prop]) -> dict[str, Any]:
    """Query parameters, as strictly as bodies: unknown or repeated ones are
    refused; errors name the parameter. A 400, since the URL is wrong."""
    errors: Errors = []
    out: dict[str, Any] = {}
    for name in sorted(set(args.keys()) - params.keys()):
        errors.append({"parameter": name, "detail": "is not a known parameter"})
    for name, prop in params.items():
        values = args.getlist(name)
        if not values:
            if prop.required:
                errors.append({"parameter": name, "detail": "is required"})
            out[name] = prop.default() if callable(prop.default) else prop.default
        elif len(values) > 1:
            errors.append({"parameter": name, "detail": "is given more than once"})
        else:
            found: Errors = []
            try:
                out[name] = prop.type.check(values[0], "", found)
            except Invalid:
                errors.extend({"parameter": name, "detail": e["detail"]} for e in found)
    if errors:
        raise invalid(errors, status=400)
    return out
