"""The OpenAPI 3.1 description of /api/v1, built from the same schema
objects that validate requests, and from the views themselves for the
scopes they require, so the document cannot drift from the code. A test
checks that it lists exactly the API routes of the URL map."""
from __future__ import annotations

from typing import Any

from flask import Flask

from portal.api import schemas
from portal.api.problems import MEDIA_TYPE, PREFIX
from portal.api.validation import MAX_BODY

COMPONENTS = {
    "FurnishRequest": schemas.FURNISH,
    "Furnished": schemas.FURNISHED,
    "AuthorisationRequest": schemas.AUTHORISATION,
    "Authorised": schemas.AUTHORISED,
    "Report": schemas.REPORT,
    "ReportSent": schemas.REPORT_SENT,
    "Problem": schemas.PROBLEM,
}
PROBLEMS = {
    "400": "Malformed JSON or a bad query parameter (named in errors[].parameter).",
    "401": "No valid API key: missing, malformed, unknown or revoked.",
    "403": "The key lacks the scope this operation needs.",
    "404": "No subject with this identifier is on file.",
    "409": "The reference is already used for another subject or category.",
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


def _security(app: Flask, endpoint: str) -> list[dict[str, list[str]]]:
    scope = getattr(app.view_functions[endpoint], "required_scope", None)
    return [{"bearer": [scope.value]}] if scope else []


def _paths(app: Flask) -> dict[str, Any]:
    parameters = [{"name": "identifier", "in": "path", "required": True, "schema": schemas.IDENTIFIER.schema()}]
    parameters += [{"name": name, "in": "query", "required": p.required, "schema": p.type.schema()}
                   for name, p in schemas.REPORT_PARAMETERS.items()]
    return {
        f"{PREFIX}/records": {"post": {
            "operationId": "furnishRecord", "summary": "Furnish a new record, or a new version of one.",
            "description": "A subject not on file is created with the name given. Validation is strict and "
                           "complete before anything is written.",
            "security": _security(app, "api.furnish_record"),
            "requestBody": {"required": True, "content": _json("FurnishRequest")},
            "responses": {"201": {"description": "Furnished.", "content": _json("Furnished")},
                          **_problems("400", "401", "403", "409", "413", "415", "422", "429")},
        }},
        f"{PREFIX}/reports/{{identifier}}": {"get": {
            "operationId": "queryReport", "summary": "The subject's report, as you may see it.",
            "description": "Needs a live consent (named, or the live one for this purpose), or a legal basis: "
                           "post-loan management of an open record you furnished, or court enforcement by a "
                           "court. Refused while the subject's file is locked (court enforcement excepted). "
                           "Every attempt, refused ones too, is an access event the subject sees; what is "
                           "disclosed is kept, with its hash.",
            "security": _security(app, "api.report"),
            "parameters": parameters,
            "responses": {
                "200": {"description": "Served.", "content": _json("ReportSent"),
                        "headers": {"Disclosure-SHA256": {"description": "SHA-256 of the report's canonical JSON.",
                                                          "schema": schemas.SHA256_HEX.schema()}}},
                "403": {"description": "Refused (reason in the body), or the key lacks the query scope.",
                        "content": {MEDIA_TYPE: {"schema": _ref("Problem")}}},
                **_problems("400", "401", "404", "429"),
            },
        }},
        f"{PREFIX}/authorisations": {"post": {
            "operationId": "registerAuthorisation", "summary": "Register a signed written authorisation.",
            "description": "Its hash and scope are kept and shown to the subject, who may revoke it.",
            "security": _security(app, "api.register_authorisation"),
            "requestBody": {"required": True, "content": _json("AuthorisationRequest")},
            "responses": {"201": {"description": "Registered.", "content": _json("Authorised")},
                          **_problems("400", "401", "403", "404", "413", "415", "422", "429")},
        }},
        f"{PREFIX}/openapi.json": {"get": {
            "operationId": "openapi", "summary": "This document.", "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1.", "content": {"application/json": {
                "schema": {"type": "object"}}}}, **_problems("429")},
        }},
    }


def document(app: Flask) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Credit-subject portal: institution API", "version": "1",
                 "description": "Furnish records and query reports. Errors are RFC 9457 problem+json."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": _paths(app),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "pk_<key id>.<secret>",
                                           "description": "An API key, shown once when issued."}},
            "schemas": {name: t.schema() for name, t in COMPONENTS.items()},
            "responses": {f"Problem{code}": {"description": text, "content": {MEDIA_TYPE: {"schema": _ref("Problem")}}}
                          for code, text in PROBLEMS.items()},
        },
    }
