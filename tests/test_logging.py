"""Logs: one JSON object per line with the request's id; one access line
per request naming the endpoint, never the path; and nothing a subject,
an institution or an officer sends or sees ever reaches the log."""

from __future__ import annotations

import io
import json
import logging
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.access import consents
from portal.accounts.services import set_password
from portal.disputes.models import Dispute
from portal.extensions import session, vault
from portal.institutions.models import ApiScope, Institution
from portal.institutions.services import issue_api_key
from portal.localtime import today
from portal.records.models import CreditRecord, Subject
from portal.site import logs
from portal.worker import integrate_log, tell_of_queries
from tests.factories import PERSON_A
from tests.officers import as_user, assign_to, case_url, english, post_form, staff, version_of  # noqa: F401

PASSWORD = "a sturdy passphrase 42"
NAME, EMAIL, OFFICER_EMAIL = "张三", "a@test.example", "officer.one@staff.example"
STATEMENT = "The balance of my loan was repaid in full in May."
FURNISHED = {"reference": "API-LOG-7", "principal": "987654.32", "balance": "123456.78"}
# What must never be logged: who the subject is, the record values, who the officer is.
SECRETS = [
    NAME,
    PERSON_A,
    PERSON_A.lower(),
    EMAIL,
    OFFICER_EMAIL,
    "50000.00",
    "A-LOAN-1",
    "A-CARD-1",
    STATEMENT,
    *FURNISHED.values(),
]


@pytest.fixture
def kept_logging():
    """The loggers `logs.configure` sets, as they were, afterwards."""
    loggers = [logging.getLogger(name) for name in ("", "sqlalchemy", "fontTools", "alembic")]
    handlers, levels = list(loggers[0].handlers), [logger.level for logger in loggers]
    yield handlers
    loggers[0].handlers[:] = handlers
    for logger, was in zip(loggers, levels, strict=True):
        logger.setLevel(was)


@pytest.fixture
def log_lines(kept_logging):
    """The portal's own logging set up as outside tests (JSON, INFO), into a
    buffer."""
    buffer = io.StringIO()
    logs.configure("json", buffer)
    return buffer


def parsed(buffer) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def test_each_request_has_an_id_echoed_and_one_access_line_without_path_or_query(app, client, log_lines):
    response = client.get("/language/en?next=/secret-path", headers={"X-Request-ID": "probe-42.a_b"})
    assert response.headers["X-Request-ID"] == "probe-42.a_b"
    [line] = [r for r in parsed(log_lines) if r["logger"] == "portal.requests"]
    assert line["request_id"] == "probe-42.a_b"
    assert line["endpoint"] == "site.language"
    assert line["method"] == "GET"
    assert line["status"] == 302
    assert line["level"] == "INFO"
    assert isinstance(line["duration_ms"], float)
    assert line["time"].endswith("+00:00")
    assert "secret-path" not in log_lines.getvalue()
    assert "/language" not in log_lines.getvalue()


@pytest.mark.parametrize("given", ["", "x" * 65, "evil;Set-Cookie=a", "../../etc/passwd", "<script>", "a b", "ü"])
def test_a_request_id_that_is_not_short_and_plain_is_replaced(client, log_lines, given):
    response = client.get("/healthz", headers={"X-Request-ID": given})
    generated = response.headers["X-Request-ID"]
    assert generated != given
    assert uuid.UUID(hex=generated)
    [line] = parsed(log_lines)
    assert line["request_id"] == generated


def test_an_unknown_path_is_logged_as_unmatched(client, log_lines):
    assert client.get(f"/no/such/{PERSON_A}").status_code == 404
    [line] = parsed(log_lines)
    assert (line["endpoint"], line["status"]) == (None, 404)
    assert line["message"] == "GET unmatched 404"
    assert leaks(log_lines.getvalue()) == []


def test_plain_text_when_asked(client, kept_logging):
    buffer = io.StringIO()
    logs.configure("text", buffer)
    client.get("/healthz", headers={"X-Request-ID": "plain-1"})
    logging.getLogger("portal.test").warning("outside any request")
    first, second = buffer.getvalue().splitlines()
    assert first.endswith("INFO portal.requests [plain-1] GET health.healthz 200")
    assert second.endswith("WARNING portal.test [-] outside any request")


def test_create_app_sets_up_json_lines_unless_testing_or_asked_for_text(make_app, kept_logging):
    root = logging.getLogger()

    def ours():
        return [h for h in root.handlers if h not in kept_logging]

    make_app(TESTING=False)
    [handler] = ours()
    assert isinstance(handler.formatter, logs.JsonFormatter)
    make_app(TESTING=False, LOG_FORMAT="text")  # replaces it, never adds a second
    [handler] = ours()
    assert not isinstance(handler.formatter, logs.JsonFormatter)
    root.handlers[:] = kept_logging
    make_app()  # TESTING: left to pytest
    assert ours() == []
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        make_app(LOG_FORMAT="xml")


# -- a whole journey, and what reached the log ---------------------------------------------
def _journey(app, world, staff, sign_in):  # noqa: F811 - staff is the fixture's value
    """A subject signs in and uses the file, an institution queries and
    furnishes, an officer opens the case and reveals the identity."""
    with app.app_context():
        s, v = session(), vault()
        set_password(s, s.get(type(world.user_a), world.user_a.id), PASSWORD)
        bank = s.get(Institution, world.bank.id)
        token = issue_api_key(s, bank, [ApiScope.FURNISH, ApiScope.QUERY])
        subject, user = s.get(Subject, world.person_a.id), s.get(type(world.user_a), world.user_a.id)
        consent = consents.grant(s, v, subject, bank, "loan_approval", today() + timedelta(days=30), user).id
        records = s.scalars(select(CreditRecord.id).where(CreditRecord.subject_id == subject.id)).all()
        s.commit()

    subject_client = english(app.test_client())
    page = subject_client.get("/login").get_data(as_text=True)
    csrf = page.split('name="csrf_token"')[1].split('value="')[1].split('"')[0]
    wrong = subject_client.post("/login", data={"email": EMAIL, "password": "not it", "csrf_token": csrf})
    assert wrong.status_code == 200
    signed = subject_client.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": csrf})
    assert signed.status_code == 302
    base = f"/subjects/{world.person_a.id}"
    for url in ("/me", f"{base}/report", f"{base}/export.json", f"{base}/report.pdf", f"{base}/access"):
        assert subject_client.get(url).status_code == 200, url
    form = subject_client.get(f"{base}/disputes/new?record={records[0]}").get_data(as_text=True)
    csrf = form.split('name="csrf_token"')[1].split('value="')[1].split('"')[0]
    filed = subject_client.post(
        f"{base}/disputes/new",
        data={"csrf_token": csrf, "reason": "wrong_amount", "statement": STATEMENT, "records": [str(records[0])]},
        content_type="multipart/form-data",
    )
    assert filed.status_code == 302

    api = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    served = api.get(f"/api/v1/reports/{PERSON_A}?purpose=loan_approval&consent={consent}", headers=auth)
    assert served.status_code == 200
    refused = api.get(f"/api/v1/reports/{PERSON_A}?purpose=employment_screening", headers=auth)
    assert refused.status_code == 403
    body = {
        "subject": {"kind": "person", "identifier": PERSON_A, "name": NAME},
        "record": {
            "category": "loan",
            "reference": FURNISHED["reference"],
            "status": "active",
            "negative": False,
            "ended_on": None,
            "details": {"currency": "CNY", "principal": FURNISHED["principal"], "balance": FURNISHED["balance"]},
        },
    }
    assert api.post("/api/v1/records", json=body, headers=auth).status_code in (200, 201)
    assert api.post("/api/v1/records", json={**body, "record": {}}, headers=auth).status_code == 422
    integrate_log(app)
    tell_of_queries(app)

    with app.app_context():
        dispute_id = session().scalar(select(Dispute.id).where(Dispute.subject_id == world.person_a.id))
    assign_to(app, dispute_id, staff.officer, review=True)
    officer = as_user(app, sign_in, staff.officer)
    assert officer.get(case_url(dispute_id)).status_code == 200
    revealed = post_form(
        officer, case_url(dispute_id, "/reveal"), "reveal", {"reason": "calling the bank"}, version_of(app, dispute_id)
    )
    assert revealed.status_code == 200
    assert NAME in revealed.get_data(as_text=True)  # the officer saw it; the log must not


def test_no_identifier_name_email_or_record_value_reaches_the_log(app, world, staff, sign_in, log_lines):  # noqa: F811
    _journey(app, world, staff, sign_in)
    text = log_lines.getvalue()
    lines = parsed(log_lines)
    endpoints = {line.get("endpoint") for line in lines if line["logger"] == "portal.requests"}
    # The journey was logged (so the check below looked at something) ...
    assert {
        "accounts.login",
        "records.report_page",
        "records.export_json",
        "records.export_pdf",
        "disputes.new",
        "api.report",
        "api.furnish_record",
        "officer.case",
        "officer.reveal",
    } <= endpoints, endpoints
    assert len([line for line in lines if line["logger"] == "portal.requests"]) >= 15
    assert all(line.get("request_id") for line in lines if line["logger"] == "portal.requests")
    # ... and none of it names anyone or anything of the file.
    assert leaks(text) == []


def test_the_check_would_see_a_path_in_the_access_line(app, world, staff, sign_in, log_lines):  # noqa: F811
    """The same journey with an access line that names the raw path (as
    /api/v1/reports/<identifier> has it): the check finds the identifier."""
    from flask import request

    class _WithPath(logging.Filter):
        def filter(self, record):
            record.msg = f"{record.msg} %s"
            record.args = (*record.args, request.full_path)
            return True

    path_filter = _WithPath()
    logs.ACCESS.addFilter(path_filter)
    try:
        _journey(app, world, staff, sign_in)
    finally:
        logs.ACCESS.removeFilter(path_filter)
    assert PERSON_A in leaks(log_lines.getvalue())
