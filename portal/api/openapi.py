"""The OpenAPI 3.1 description of /api/v1, built from the same schema
objects that validate requests, and from the views themselves for the
scopes they require, so the document cannot drift from the code. A test
checks that it lists exactly the API routes of the URL map."""

from __future__ import annotations

from typing import Any

from flask import Flask

from portal.api import idempotency, schemas
from portal.api.auth import required_scopes
from portal.api.problems import MEDIA_TYPE, PREFIX
from portal.api.validation import MAX_BODY

COMPONENTS = {
    "FurnishRequest": schemas.FURNISH,
    "Furnished": schemas.FURNISHED,
    "AuthorisationRequest": schemas.AUTHORISATION,
    "Authorised": schemas.AUTHORISED,
    "Report": schemas.REPORT,
    "ReportSent": schemas.REPORT_SENT,
    "DisputeList": schemas.DISPUTES,
    "AnswerRequest": schemas.ANSWER,
    "Answered": schemas.ANSWERED,
    "NoticeList": schemas.NOTICES,
    "Acknowledged": schemas.ACKNOWLEDGED,
    "Problem": schemas.PROBLEM,
}
PROBLEMS = {
    "400": "Malformed JSON, a bad query parameter (named in errors[].parameter) or a bad Idempotency-Key.",
    "401": "No valid API key: missing, malformed, unknown or revoked.",
    "403": "The key lacks the scope this operation needs.",
    "404": "No subject with this identifier is on file.",
    "409": "The reference is already used for another subject or category (type reference-conflict), or names "
    "a record a dispute decision deleted, sent without certify_accurate (type record-deleted).",
    "413": f"The body is larger than {MAX_BODY} bytes.",
    "415": "The body is not application/json.",
    "422": "The body breaks the schema; errors[].pointer names each field (JSON pointer).",
    "429": "Too many requests for this key.",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name: str) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(name)}}


def _problems(*codes: str) -> dict[str, Any]:
    return {c: {"$ref": f"#/components/responses/Problem{c}"} for c in codes}


def _problem(text: str) -> dict[str, Any]:
    return {"description": text, "content": {MEDIA_TYPE: {"schema": _ref("Problem")}}}


def _security(app: Flask, endpoint: str) -> list[dict[str, list[str]]]:
    """One requirement per scope that opens the view: any one suffices."""
    view = app.view_functions[endpoint]
    return [{"bearer": [scope.value]} for scope in required_scopes(view)]


def _query(params: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, p in params.items():
        schema = p.type.schema()
        if p.default is not None and not callable(p.default):
            schema["default"] = getattr(p.default, "value", p.default)
        out.append({"name": name, "in": "query", "required": p.required, "schema": schema})
    return out


def _path(*names: str) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True, "schema": schemas.UUID.schema()} for name in names]


def _paths(app: Flask) -> dict[str, Any]:
    parameters = [{"name": "identifier", "in": "path", "required": True, "schema": schemas.IDENTIFIER.schema()}]
    parameters += _query(schemas.REPORT_PARAMETERS)
    no_dispute = _problem("No dispute of your records has this id (the same for one that does not exist).")
    return {
        f"{PREFIX}/records": {
            "post": {
                "operationId": "furnishRecord",
                "summary": "Furnish a new record, or a new version of one.",
                "description": "A subject not on file is created with the name given. Validation is strict and "
                "complete before anything is written. A record that a dispute decision deleted is "
                "furnished again only with certify_accurate: true (otherwise a 409 of type "
                "record-deleted); the subject is told. The registry's operator may limit the record "
                "categories your institution furnishes: a record of another category is a 403 of type "
                "category-not-allowed. Negative information whose five years since ended_on are over "
                "may not be furnished: a 422 of type past-retention, with the day it left the file in left_on.",
                "security": _security(app, "api.furnish_record"),
                "requestBody": {"required": True, "content": _json("FurnishRequest")},
                "responses": {
                    "201": {"description": "Furnished.", "content": _json("Furnished")},
                    "403": _problem(
                        "The key lacks the furnish scope (type insufficient-scope), or your institution may not "
                        "furnish records of this category (type category-not-allowed, the category in category "
                        "and in errors[].pointer /record/category); nothing is written."
                    ),
                    **_problems("400", "401", "409", "413", "415", "422", "429"),
                },
            }
        },
        f"{PREFIX}/reports/{{identifier}}": {
            "get": {
                "operationId": "queryReport",
                "summary": "The subject's report, as you may see it.",
                "description": "Needs a live consent (named, or the live one for this purpose), or a legal basis: "
                "post-loan management of an open record you furnished, or court enforcement by a "
                "court. Refused while the subject's file is locked (court enforcement excepted). "
                "Every attempt, refused ones too, is an access event the subject sees; what is "
                "disclosed is kept, with its hash.",
                "security": _security(app, "api.report"),
                "parameters": parameters,
                "responses": {
                    "200": {
                        "description": "Served.",
                        "content": _json("ReportSent"),
                        "headers": {
                            "Disclosure-SHA256": {
                                "description": "SHA-256 of the report's canonical JSON.",
                                "schema": schemas.SHA256_HEX.schema(),
                            }
                        },
                    },
                    "403": {
                        "description": "Refused (type query-refused, reason in the body), the key lacks the query "
                        "scope (type insufficient-scope), or a supervisor suspended your queries (type "
                        "querying-suspended, the supervisor's reason in detail, suspended_at when; nothing is "
                        "looked up or recorded).",
                        "content": {MEDIA_TYPE: {"schema": _ref("Problem")}},
                    },
                    **_problems("400", "401", "404", "429"),
                },
            }
        },
        f"{PREFIX}/authorisations": {
            "post": {
                "operationId": "registerAuthorisation",
                "summary": "Register a signed written authorisation.",
                "description": "Its hash and scope are kept and shown to the subject, who may revoke it.",
                "security": _security(app, "api.register_authorisation"),
                "requestBody": {"required": True, "content": _json("AuthorisationRequest")},
                "responses": {
                    "201": {"description": "Registered.", "content": _json("Authorised")},
                    "403": {
                        "description": "The key lacks the query scope (type insufficient-scope), or a supervisor "
                        "suspended your queries (type querying-suspended, the supervisor's reason in detail, "
                        "suspended_at when; nothing is looked up or recorded).",
                        "content": {MEDIA_TYPE: {"schema": _ref("Problem")}},
                    },
                    **_problems("400", "401", "404", "413", "415", "422", "429"),
                },
            }
        },
        f"{PREFIX}/disputes": {
            "get": {
                "operationId": "listDisputes",
                "summary": "Disputes of your records.",
                "description": "Only disputes covering a record you furnished, and in each only your records, with "
                "whether you have answered; the subject's statement and links to the evidence come "
                "once an officer has sent you the case, while it is open (each sending is an access "
                "event the subject sees). In a case over several furnishers' records you get only the "
                "files the officer sends you. Paged with limit and offset; next_offset is null on the "
                "last page.",
                "security": _security(app, "api.disputes"),
                "parameters": _query(schemas.DISPUTE_PARAMETERS),
                "responses": {
                    "200": {"description": "A page of disputes.", "content": _json("DisputeList")},
                    **_problems("400", "401", "403", "429"),
                },
            }
        },
        f"{PREFIX}/disputes/{{dispute_id}}/evidence/{{evidence_id}}": {
            "get": {
                "operationId": "getDisputeEvidence",
                "summary": "A file the subject sent with a dispute.",
                "description": "Sent as an attachment, with the media type found in its content (PDF, PNG or JPEG) "
                "and checked against its SHA-256. Every file was rebuilt when it was received: PDFs without "
                "JavaScript, automatic actions, launch or submit actions, embedded files or XFA; images "
                "re-encoded without metadata. Each fetch is an access event the subject sees.",
                "security": _security(app, "api.dispute_evidence"),
                "parameters": _path("dispute_id", "evidence_id"),
                "responses": {
                    "200": {
                        "description": "The file.",
                        "headers": {
                            "Content-Disposition": {
                                "description": "attachment, with a file name.",
                                "schema": {"type": "string"},
                            }
                        },
                        "content": {
                            media: {"schema": {"type": "string", "contentMediaType": media}}
                            for media in ("application/pdf", "image/png", "image/jpeg")
                        },
                    },
                    "404": _problem(
                        "No such evidence of a dispute of your records (the same whether the dispute "
                        "or the file does not exist, or is not yours)."
                    ),
                    **_problems("401", "403", "429"),
                },
            }
        },
        f"{PREFIX}/disputes/{{dispute_id}}/responses": {
            "post": {
                "operationId": "answerDispute",
                "summary": "Answer for one of your records in a dispute.",
                "description": "One answer per record, final. verified_accurate and cannot_verify take no "
                "correction; corrected needs one (same reference and category), kept "
                "until an officer decides the case: it becomes the record's next version only if the "
                "decision is corrected (corrected_version is null until then). Every answer is a step "
                "of the dispute's timeline; a dispute waiting for its furnishers goes back to review "
                "once every record has an answer.",
                "security": _security(app, "api.answer_dispute"),
                "parameters": _path("dispute_id"),
                "requestBody": {"required": True, "content": _json("AnswerRequest")},
                "responses": {
                    "201": {"description": "Answered.", "content": _json("Answered")},
                    "404": no_dispute,
                    "409": _problem(
                        "The dispute is closed (type dispute-closed), or this record already has an "
                        "answer (type already-answered)."
                    ),
                    "422": _problem(
                        "The body breaks the schema or the rules: errors[].pointer names each field "
                        "(a record that is not yours in this dispute is /record_id; a correction with "
                        "another reference is /correction/reference)."
                    ),
                    **_problems("400", "401", "403", "413", "415", "429"),
                },
            }
        },
        f"{PREFIX}/notices": {
            "get": {
                "operationId": "listNotices",
                "summary": "Correction notices for records you received.",
                "description": "When a dispute decision changes a record you received in a report, you are sent a "
                "notice with what changed and the record as it may now be disclosed (null when it "
                "no longer is). Either scope may read them. Paged with limit and offset.",
                "security": _security(app, "api.correction_notices"),
                "parameters": _query(schemas.NOTICE_PARAMETERS),
                "responses": {
                    "200": {"description": "A page of notices.", "content": _json("NoticeList")},
                    **_problems("400", "401", "403", "429"),
                },
            }
        },
        f"{PREFIX}/notices/{{notice_id}}/ack": {
            "post": {
                "operationId": "acknowledgeNotice",
                "summary": "Acknowledge a correction notice.",
                "description": "Idempotent: acknowledging again answers 200 with the time of the first "
                "acknowledgement. No body.",
                "security": _security(app, "api.acknowledge_notice"),
                "parameters": _path("notice_id"),
                "responses": {
                    "200": {"description": "Acknowledged.", "content": _json("Acknowledged")},
                    "404": _problem("No notice of yours has this id."),
                    **_problems("401", "403", "429"),
                },
            }
        },
        f"{PREFIX}/notices/{{notice_id}}/document": {
            "get": {
                "operationId": "noticeDocument",
                "summary": "A correction notice as a signed PDF to keep.",
                "description": "The notice, numbered and signed (PAdES) by the registry; anyone can check it at "
                "/verify by its number or the file. Each download is a new document and is recorded as an access "
                "to the subject's file.",
                "security": _security(app, "api.notice_document"),
                "parameters": _path("notice_id"),
                "responses": {
                    "200": {
                        "description": "The signed PDF.",
                        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    "404": _problem("No notice of yours has this id."),
                    **_problems("401", "403", "429"),
                },
            }
        },
        f"{PREFIX}/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document.",
                "security": [],
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    **_problems("429"),
                },
            }
        },
    }


IDEMPOTENCY_KEY = {
    "name": idempotency.HEADER,
    "in": "header",
    "required": False,
    "description": "Send one with every POST you may retry (a UUID, say): a retry with the same key and the "
    "same body is answered with the first answer (header Idempotent-Replayed: true) and writes nothing; the "
    "same key with another request is a 422 of type idempotency-key-reused. A retry sent while the first is "
    "under way waits for it. Keys are yours alone and kept for 24 hours; an answer that is an error keeps "
    'no key. As a structured-field string ("...") or bare: 1 to 255 printable ASCII characters.',
    "schema": {"type": "string", "minLength": 1, "maxLength": 257},
}


def _with_idempotency(app: Flask, paths: dict[str, Any]) -> dict[str, Any]:
    """The header on every operation whose view honours it."""
    views = {rule.rule.replace("<uuid:", "{").replace(">", "}"): rule.endpoint for rule in app.url_map.iter_rules()}
    for path, operations in paths.items():
        post = operations.get("post")
        if post is not None and idempotency.is_idempotent(app.view_functions[views[path]]):
            post["parameters"] = [*post.get("parameters", []), IDEMPOTENCY_KEY]
            post["responses"].setdefault("400", {"$ref": "#/components/responses/Problem400"})
            post["responses"].setdefault("422", _problem("The Idempotency-Key was sent before with another request."))
    return paths


def document(app: Flask) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Credit-subject portal: institution API",
            "version": "1",
            "description": "Furnish records, query reports, answer disputes of your records and read "
            "correction notices. Errors are RFC 9457 problem+json.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": _with_idempotency(app, _paths(app)),
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "pk_<key id>.<secret>",
                    "description": "An API key, shown once when issued.",
                }
            },
            "schemas": {name: t.schema() for name, t in COMPONENTS.items()},
            "responses": {
                f"Problem{code}": {"description": text, "content": {MEDIA_TYPE: {"schema": _ref("Problem")}}}
                for code, text in PROBLEMS.items()
            },
        },
    }
