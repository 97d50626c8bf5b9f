"""The shapes of the institution API: request bodies and parameters
(validated), responses and problems (described), and the step from valid
input to the services' values, with the checks only code can make
(identifier check characters, dates not in the future)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from portal.access.purposes import Purpose
from portal.api.problems import invalid
from portal.api.validation import (Amount, Arr, Bool, Choice, Day, Described, Errors, Int, Invalid,
                                   Nullable, Obj, Prop, Scalar, Str, Type, json_type, pointer, validate)
from portal.records.identifiers import InvalidIdentifier
from portal.records.models import Category, RecordStatus, SubjectKind
from portal.records.report import CURRENCY_KEY, KNOWN_FIELDS
from portal.records.services import RecordInput, validate_identifier


class Details(Type):
    """A record's details: at most MAX_KEYS keys in snake_case, known keys
    typed as the report shows them (amounts as decimal strings, dates as
    YYYY-MM-DD), anything else a short string, a number or a boolean."""

    MAX_KEYS, MAX_BYTES = 40, 4096
    KEY = re.compile(r"[a-z][a-z0-9_]{0,47}")
    INTEGERS = {"overdue_months", "worst_overdue_months"}

    def __init__(self) -> None:
        self.description = (f"At most {self.MAX_KEYS} keys and {self.MAX_BYTES} bytes as JSON; "
                            "'reference' is not allowed here (it is a field of the record).")
        self.known: dict[str, Type] = {CURRENCY_KEY: Str(3, 3, "[A-Z]{3}", "ISO 4217 currency code")}
        for key, (kind, _label) in KNOWN_FIELDS.items():
            if key == "reference":
                continue
            self.known[key] = (Int(0, 1200) if key in self.INTEGERS else Amount() if kind == "amount"
                               else Day() if kind == "date" else Str(1, 200))
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
        return self.describe({
            "type": "object", "maxProperties": self.MAX_KEYS,
            "propertyNames": {"pattern": f"^{self.KEY.pattern}$", "not": {"const": "reference"}},
            "properties": {k: t.schema() for k, t in self.known.items()},
            "additionalProperties": self.other.schema(),
        })


# -- the API's shapes ------------------------------------------------------------------
UUID_PATTERN = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
UUID = Str(36, 36, UUID_PATTERN)
TIMESTAMP = Described({"type": "string", "format": "date-time"})
SHA256_HEX = Str(64, 64, "[0-9a-f]{64}", "SHA-256, lower-case hex.")
IDENTIFIER = Str(1, 64, description="Resident identity number (person, GB 11643) or unified social credit code "
                                    "(firm, GB 32100), with its check character.", example="11010519491231002X")
SUBJECT_KIND = Choice(SubjectKind)

FURNISH = Obj({
    "subject": Prop(Obj({
        "kind": Prop(SUBJECT_KIND),
        "identifier": Prop(IDENTIFIER),
        "name": Prop(Str(1, 200, description="The subject's name; used when the subject is not on file yet.")),
        "contact_email": Prop(Nullable(Str(3, 254, r"[^@\s]+@[^@\s]+\.[^@\s]+",
                                           "Where the subject's activation code goes; used for a new subject.")),
                              required=False),
    })),
    "record": Prop(Obj({
        "category": Prop(Choice(Category)),
        "reference": Prop(Str(1, 64, description="Your own account or case reference. The same reference "
                                                 "again makes a new version of the record.")),
        "status": Prop(Choice(RecordStatus)),
        "negative": Prop(Bool("Negative information: it leaves the file five years after ended_on.")),
        "ended_on": Prop(Nullable(Day("When the behaviour ended; null while it goes on. Not in the future.")),
                         required=False),
        "details": Prop(Details(), required=False, default=dict),
    })),
}, "A new record, or a new version of one of your records, about a subject by identifier.")

FURNISHED = Obj({
    "record_id": Prop(UUID),
    "version": Prop(Int(1, 1_000_000)),
    "expires_on": Prop(Nullable(Day("When negative information leaves the file.")))
})

AUTHORISATION = Obj({
    "subject": Prop(Obj({"kind": Prop(SUBJECT_KIND), "identifier": Prop(IDENTIFIER)})),
    "purpose": Prop(Choice(Purpose)),
    "valid_until": Prop(Day("Last day the authorisation may be used; at most one year ahead.")),
    "document_sha256": Prop(SHA256_HEX),
    "scope": Prop(Str(1, 1000, description="What the signed authorisation covers, as written in it.")),
}, "A signed written authorisation: its hash and scope are kept and shown to the subject.")

AUTHORISED = Obj({"consent_id": Prop(UUID), "valid_until": Prop(Day())})

# The report query's parameters: the identifier is in the path.
REPORT_PARAMETERS = {
    "purpose": Prop(Choice(Purpose, "Why you query.")),
    "consent": Prop(UUID, required=False),
    "kind": Prop(Choice(SubjectKind, "Needed only when the identifier is valid as both kinds."), required=False),
}

FURNISHER = Obj({"code": Prop(Str()), "name": Prop(Str()), "name_en": Prop(Str())})
REPORT = Obj({
    "query": Prop(Obj({
        "id": Prop(UUID),
        "at": Prop(TIMESTAMP),
        "institution": Prop(Str(1, 32)),
        "purpose": Prop(Choice(Purpose)),
        "basis": Prop(Str(1, 32, description="consent, written_authorisation, existing_contract or "
                                             "court_enforcement")),
        "consent": Prop(Nullable(UUID)),
    })),
    "subject": Prop(Obj({"kind": Prop(SUBJECT_KIND), "identifier": Prop(IDENTIFIER), "name": Prop(Str())})),
    "records": Prop(Arr(Obj({
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
        "details": Prop(Described({"type": "object",
                                   "additionalProperties": {"type": ["string", "number", "boolean", "null"]}})),
        "disputed": Prop(Bool("The subject disputes this record.")),
        "statements": Prop(Arr(Str(1, 2000), description="The subject's statements about this record.")),
    }), max_items=100_000, description="Current versions only; earlier versions are never disclosed.")),
}, "The report as disclosed. Its canonical JSON (sorted keys, no white space, UTF-8) is what was hashed "
   "and kept.")
REPORT_SENT = Obj({"report": Prop(REPORT), "sha256": Prop(SHA256_HEX)},
                  "Canonical JSON; sha256 is the SHA-256 of the report member's bytes, as also sent in the "
                  "Disclosure-SHA256 header.")

PROBLEM = Obj({
    "type": Prop(Str(1, 200)),
    "title": Prop(Str(1, 200)),
    "status": Prop(Int(100, 599)),
    "detail": Prop(Str(1, 2000), required=False),
    "errors": Prop(Arr(Described({
        "type": "object", "properties": {"pointer": {"type": "string"}, "parameter": {"type": "string"},
                                         "detail": {"type": "string"}},
        "required": ["detail"]})), required=False),
    "reason": Prop(Str(1, 64, description="Why a query was refused."), required=False),
    "event_id": Prop(UUID, required=False),
}, "RFC 9457 problem details.")


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


def parse_furnish(body: Any, today: date) -> FurnishRequest:
    data = validate(FURNISH, body)
    s, r, errors = data["subject"], data["record"], []
    identifier = _identifier(s["kind"], s["identifier"], "/subject/identifier", errors)
    if r["ended_on"] is not None and r["ended_on"] > today:
        errors.append({"pointer": "/record/ended_on", "detail": "is in the future"})
    try:
        record = RecordInput(r["category"], r["reference"], r["status"], r["negative"], r["ended_on"], r["details"])
    except ValueError as exc:
        errors.append({"pointer": "/record/reference", "detail": str(exc)})
    if errors:
        raise invalid(errors)
    return FurnishRequest(SubjectRef(s["kind"], identifier, s["name"].strip(), s["contact_email"]), record)


def parse_authorisation(body: Any) -> AuthorisationRequest:
    data = validate(AUTHORISATION, body)
    errors: Errors = []
    identifier = _identifier(data["subject"]["kind"], data["subject"]["identifier"], "/subject/identifier", errors)
    if errors:
        raise invalid(errors)
    return AuthorisationRequest(SubjectRef(data["subject"]["kind"], identifier), data["purpose"],
                                data["valid_until"], bytes.fromhex(data["document_sha256"]), data["scope"].strip())


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
            out[name] = None
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
