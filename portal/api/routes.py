"""The institution API at /api/v1: bearer tokens, JSON in, JSON or RFC 9457
problem+json out. Routes parse and answer; schemas.py validates and
services.py holds the rules. No cookies, so no CSRF; rate limited per key."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask_limiter.util import get_remote_address

from portal.access.consents import ConsentError
from portal.api import openapi, problems, schemas, services
from portal.api.auth import key_id_of_request, own_dispute, own_evidence, own_notice, querying, require
from portal.api.idempotency import idempotent
from portal.api.problems import ApiProblem, invalid
from portal.api.validation import read_json
from portal.audit.documents import document_signer, verify_url
from portal.db import utcnow
from portal.disputes import notices, responses
from portal.disputes.notice_pdf import build_notice_pdf
from portal.extensions import csrf, limiter, session, vault
from portal.institutions.models import ApiScope
from portal.localtime import today as local_today
from portal.pdf import Stamp
from portal.records import services as records_services
from portal.records.identifiers import InvalidIdentifier
from portal.records.services import RecordDeleted

bp = Blueprint("api", __name__, url_prefix=problems.PREFIX)
csrf.exempt(bp)
problems.register(bp)


def _rate_key() -> str:
    # The claimed key id is not verified yet, and key ids are not secret
    # (they appear in the subject's access log): count per key *and*
    # sender, so requests from elsewhere cannot use up an institution's
    # allowance.
    key_id = key_id_of_request()
    return f"api-key:{key_id}:{get_remote_address()}" if key_id else f"api-addr:{get_remote_address()}"


limiter.limit(lambda: current_app.config.get("API_RATE_LIMIT", "120 per minute"), key_func=_rate_key)(bp)


@bp.post("/records")
@require(ApiScope.FURNISH)
@idempotent
def furnish_record():
    data = schemas.parse_furnish(read_json(), local_today())
    try:
        done = services.furnish_record(session(), vault(), g.institution, g.api_key, data)
    except services.CategoryNotAllowed as exc:
        detail = (
            f"Your institution may not furnish records of the category {exc.category}. The registry's operator "
            "sets the categories each institution may furnish; ask them if you need this one."
        )
        raise ApiProblem(
            403,
            "Category not allowed",
            detail,
            type_="category-not-allowed",
            category=exc.category,
            errors=[{"pointer": "/record/category", "detail": detail}],
        ) from None
    except services.PastRetention as exc:
        detail = (
            f"Negative information leaves the file five years after it ended: this record left it on "
            f"{exc.left_on.isoformat()} and may not be furnished."
        )
        raise ApiProblem(
            422,
            "Past retention",
            detail,
            type_="past-retention",
            left_on=exc.left_on.isoformat(),
            errors=[{"pointer": "/record/ended_on", "detail": detail}],
        ) from None
    except services.Conflict as exc:
        raise ApiProblem(
            409,
            "Conflict",
            str(exc),
            type_="reference-conflict",
            errors=[{"pointer": "/record/reference", "detail": str(exc)}],
        ) from None
    except RecordDeleted as exc:
        detail = (
            "This record was deleted after a dispute. Furnish it again only if you certify that it is "
            'accurate, with "certify_accurate": true; the subject is told.'
        )
        raise ApiProblem(
            409,
            "Record deleted",
            detail,
            type_="record-deleted",
            record_id=str(exc.record_id),
            errors=[{"pointer": "/certify_accurate", "detail": detail}],
        ) from None
    v = done.version
    return jsonify(
        record_id=str(v.record_id), version=v.version, expires_on=v.expires_on.isoformat() if v.expires_on else None
    ), 201


@bp.get("/reports/<identifier>")
@require(ApiScope.QUERY)
@querying
def report(identifier: str):
    params = schemas.parse_parameters(request.args, schemas.REPORT_PARAMETERS)
    try:
        subject = records_services.find_by_identifier(session(), vault(), identifier, params["kind"])
    except InvalidIdentifier as exc:
        raise invalid([{"parameter": "identifier", "detail": str(exc)}], status=400) from None
    except records_services.Ambiguous as exc:
        raise invalid([{"parameter": "kind", "detail": str(exc)}], status=400) from None
    if subject is None:
        raise ApiProblem(404, "Not Found", "No subject with this identifier is on file.", type_="unknown-subject")
    consent = uuid.UUID(params["consent"]) if params["consent"] else None
    result = services.query_report(
        session(), vault(), g.institution, g.api_key, subject, params["purpose"], consent, local_today()
    )
    if not result.basis.allowed:
        # The refused attempt stays recorded for the subject (the service
        # marked it so): this 4xx commits.
        raise ApiProblem(
            403,
            "Query refused",
            result.basis.message,
            type_="query-refused",
            reason=result.basis.reason.value,
            event_id=str(result.event.id),
        )
    # The report's bytes verbatim inside the canonical JSON of the wrapper
    # ("report" sorts before "sha256"), so what is kept is what was sent.
    report, sha256 = result.sent()
    body = b'{"report":' + report + b',"sha256":"' + sha256.encode() + b'"}'
    response = Response(body, 200, mimetype="application/json")
    response.headers["Disclosure-SHA256"] = sha256
    return response


@bp.post("/authorisations")
@require(ApiScope.QUERY)
@querying  # it tells whether a subject is on file: no more than a query may
@idempotent
def register_authorisation():
    data = schemas.parse_authorisation(read_json())
    try:
        consent = services.register_authorisation(session(), vault(), g.institution, data)
    except ConsentError as exc:
        raise invalid([{"pointer": f"/{exc.field}", "detail": str(exc)}]) from None
    if consent is None:
        raise ApiProblem(404, "Not Found", "No subject with this identifier is on file.", type_="unknown-subject")
    return jsonify(consent_id=str(consent.id), valid_until=consent.valid_until.isoformat()), 201


@bp.get("/disputes")
@require(ApiScope.FURNISH)
def disputes():
    params = schemas.parse_parameters(request.args, schemas.DISPUTE_PARAMETERS)
    return jsonify(services.dispute_page(session(), vault(), g.institution, params, local_today()))


@bp.get("/disputes/<uuid:dispute_id>/evidence/<uuid:evidence_id>")
@require(ApiScope.FURNISH)
def dispute_evidence(dispute_id: uuid.UUID, evidence_id: uuid.UUID):
    dispute, row = own_evidence(g.institution, dispute_id, evidence_id)
    file = responses.send_evidence(session(), vault(), g.institution, g.api_key, dispute, row)
    response = Response(file.content, 200, mimetype=file.media_type)
    response.headers["Content-Disposition"] = file.disposition  # the uploaded name, RFC 6266
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.post("/disputes/<uuid:dispute_id>/responses")
@require(ApiScope.FURNISH)
@idempotent
def answer_dispute(dispute_id: uuid.UUID):
    data = schemas.parse_answer(read_json(), local_today())
    dispute = own_dispute(g.institution, dispute_id, for_update=True)
    try:
        done = responses.answer(session(), vault(), g.institution, g.api_key, dispute, data)
    except responses.AnswerRefused as exc:
        raise invalid(exc.errors) from None
    except responses.AlreadyAnswered as exc:
        raise ApiProblem(409, "Conflict", str(exc), type_="already-answered") from None
    except responses.Closed as exc:
        raise ApiProblem(409, "Conflict", str(exc), type_="dispute-closed") from None
    except responses.Conflict as exc:
        raise ApiProblem(409, "Conflict", str(exc), type_="dispute-conflict") from None
    return jsonify(services.answered(done)), 201


@bp.get("/notices")
@require(ApiScope.FURNISH, ApiScope.QUERY)
def correction_notices():
    params = schemas.parse_parameters(request.args, schemas.NOTICE_PARAMETERS)
    return jsonify(services.notice_page(session(), vault(), g.institution, params))


@bp.post("/notices/<uuid:notice_id>/ack")
@require(ApiScope.FURNISH, ApiScope.QUERY)
@idempotent
def acknowledge_notice(notice_id: uuid.UUID):
    notice = notices.acknowledge(session(), own_notice(g.institution, notice_id))
    if notice.acknowledged_at is None:  # `acknowledge` has just set it
        raise RuntimeError(f"correction notice {notice.id} is still unacknowledged")
    return jsonify(id=str(notice.id), acknowledged_at=notice.acknowledged_at.isoformat())


@bp.get("/notices/<uuid:notice_id>/document")
@require(ApiScope.FURNISH, ApiScope.QUERY)
def notice_document(notice_id: uuid.UUID):
    """The notice as a signed PDF to keep: numbered, checkable at /verify."""
    body = notices.issue_notice_pdf(
        session(),
        vault(),
        document_signer(),
        own_notice(g.institution, notice_id),
        g.api_key.key_id,
        lambda content, number: build_notice_pdf(content, utcnow(), Stamp(number, verify_url(number))),
    )
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="correction-notice-{notice_id}.pdf"'
    return response


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(openapi.document(current_app))
