"""/healthz, /readyz and /metrics: what an operator's probes and scraper
get, and what anyone else does not."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, text

from portal.compliance.overdue import overdue
from portal.db import utcnow
from portal.extensions import session
from portal.localtime import today
from portal.signing import KEY_FILE
from portal.site.heartbeats import WorkerHeartbeat, beat, this_worker
from portal.transparency.models import LogQueue
from portal.worker import heartbeat
from tests.factories import PERSON_A

UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/portal_test_unreachable"
OUTSIDE = {"REMOTE_ADDR": "203.0.113.7"}


def stamped(app, age=timedelta(0)):
    with app.app_context():
        beat(session(), this_worker())
        session().get(WorkerHeartbeat, this_worker()).beat_at = utcnow() - age
        session().commit()


def readiness(client):
    response = client.get("/readyz")
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    return response.status_code, response.get_json()


# -- /healthz ---------------------------------------------------------------------------------
def test_healthz_answers_without_touching_the_database(make_app):
    app = make_app(DATABASE_URL=UNREACHABLE)
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


# -- /readyz ----------------------------------------------------------------------------------
def test_ready_when_database_schema_keys_and_a_fresh_heartbeat_are_there(app, client):
    stamped(app)
    assert readiness(client) == (
        200,
        {"status": "ok", "checks": {"database": "ok", "schema": "ok", "keys": "ok", "worker": "ok"}},
    )


def test_the_worker_job_stamps_the_heartbeat_readiness_wants(app, client):
    assert readiness(client)[1]["checks"]["worker"] == "no heartbeat: is portal worker running?"
    assert heartbeat(app) == 1
    assert readiness(client)[0] == 200


def test_not_ready_without_a_heartbeat_or_with_a_stale_one(app, client):
    status, body = readiness(client)
    assert status == 503
    assert body["status"] == "unavailable"
    assert body["checks"] == {
        "database": "ok",
        "schema": "ok",
        "keys": "ok",
        "worker": "no heartbeat: is portal worker running?",
    }
    stamped(app, age=timedelta(seconds=61))
    assert readiness(client) == (
        503,
        {
            "status": "unavailable",
            "checks": {"database": "ok", "schema": "ok", "keys": "ok", "worker": "heartbeat stale"},
        },
    )
    app.config["HEARTBEAT_SECONDS"] = 120
    assert readiness(client)[0] == 200


@pytest.mark.committing
def test_not_ready_when_the_schema_is_behind(app, client, suite_engine):
    stamped(app)
    with suite_engine.begin() as conn:
        head = conn.scalar(text("SELECT version_num FROM alembic_version"))
        conn.execute(text("UPDATE alembic_version SET version_num = '0018'"))
    try:
        status, body = readiness(client)
    finally:
        with suite_engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
    assert status == 503
    assert body["checks"]["schema"] == "not at this version's schema: run portal init"
    assert body["checks"]["database"] == body["checks"]["worker"] == "ok"
    assert readiness(client)[0] == 200


def test_not_ready_when_the_database_does_not_answer(make_app):
    status, body = readiness(make_app(DATABASE_URL=UNREACHABLE).test_client())
    assert status == 503
    assert body["checks"]["database"] == "failed"
    assert body["checks"]["schema"] == "failed"
    assert "127.0.0.1" not in str(body)  # nothing of the connection is told


def test_not_ready_when_a_key_file_is_gone_and_nothing_of_it_is_told(make_app, instance):
    app = make_app()
    stamped(app)
    client = app.test_client()
    assert readiness(client)[0] == 200
    (instance / "keys" / KEY_FILE).unlink()
    status, body = readiness(client)
    assert status == 503
    assert body["checks"]["keys"] == "failed"
    assert str(instance) not in str(body)


def test_probes_are_not_rate_limited(app, client):
    app.config["HEARTBEAT_SECONDS"] = 60
    for _ in range(70):
        assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code in (200, 503)
    assert client.get("/metrics").status_code == 200


# -- /metrics ---------------------------------------------------------------------------------
def scrape(client, **kwargs) -> dict:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.headers["Cache-Control"] == "no-store"
    return {f.name: f for f in text_string_to_metric_families(response.get_data(as_text=True))}


def value(families, family, sample_name=None, **labels) -> float:
    for sample in families[family].samples:
        if (sample_name is None or sample.name == sample_name) and all(
            sample.labels.get(k) == v for k, v in labels.items()
        ):
            return sample.value
    return 0.0


def test_metrics_are_not_found_by_others_and_open_to_the_token(app, client):
    assert client.get("/metrics", environ_base=OUTSIDE).status_code == 404
    app.config["METRICS_TOKEN"] = "scraper-secret-1"
    assert client.get("/metrics", environ_base=OUTSIDE).status_code == 404
    for wrong in ("Bearer scraper-secret-2", "Bearer scraper-secret-1x", "scraper-secret-1", "Basic c2NyYXBlcg=="):
        assert client.get("/metrics", environ_base=OUTSIDE, headers={"Authorization": wrong}).status_code == 404
    scrape(client, environ_base=OUTSIDE, headers={"Authorization": "Bearer scraper-secret-1"})
    scrape(client, environ_base={"REMOTE_ADDR": "::1"})
    app.config["METRICS_TOKEN"] = None
    assert client.get("/metrics", environ_base=OUTSIDE, headers={"Authorization": "Bearer "}).status_code == 404


def test_request_metrics_count_by_endpoint_and_status_class_never_the_path(app, client):
    before = scrape(client)
    for _ in range(3):
        assert client.get("/").status_code == 200
    assert client.get(f"/api/v1/reports/{PERSON_A}?purpose=loan_approval").status_code == 401
    after = scrape(client)
    counted = {"endpoint": "site.index", "status_class": "2xx"}
    total = "portal_http_requests_total"
    assert (
        value(after, "portal_http_requests", total, **counted) - value(before, "portal_http_requests", total, **counted)
        == 3
    )
    timed = "portal_http_request_duration_seconds_count"
    assert (
        value(after, "portal_http_request_duration_seconds", timed, **counted)
        - value(before, "portal_http_request_duration_seconds", timed, **counted)
        == 3
    )
    refused = {"endpoint": "api.report", "status_class": "4xx"}
    assert (
        value(after, "portal_http_requests", total, **refused) - value(before, "portal_http_requests", total, **refused)
        == 1
    )
    assert PERSON_A not in client.get("/metrics").get_data(as_text=True)


def test_server_errors_are_counted_by_endpoint_and_logged_without_the_path(make_app, caplog):
    app = make_app(PROPAGATE_EXCEPTIONS=False)

    def boom(identifier):
        raise RuntimeError("broken")

    app.add_url_rule("/boom/<identifier>", "boom", boom)
    client = app.test_client()
    before = value(scrape(client), "portal_http_errors", "portal_http_errors_total", endpoint="boom")
    assert client.get(f"/boom/{PERSON_A}").status_code == 500
    after = scrape(client)
    assert value(after, "portal_http_errors", "portal_http_errors_total", endpoint="boom") == before + 1
    assert value(after, "portal_http_requests", "portal_http_requests_total", endpoint="boom", status_class="5xx") >= 1
    assert "Exception in boom [GET]" in caplog.messages
    assert PERSON_A not in caplog.text


def test_state_gauges_read_the_database(app, client, world, sign_in):
    families = scrape(client)
    for name in (
        "portal_log_leaves",
        "portal_log_queue_events",
        "portal_log_queue_oldest_age_seconds",
        "portal_mail_outbox_unsent",
        "portal_registration_requests_waiting",
        "portal_password_reset_requests_waiting",
        "portal_alerts_open",
        "portal_disputes_overdue",
    ):
        assert families[name].type == "gauge", name
    assert "portal_worker_heartbeat_age_seconds" not in families  # no worker has run
    # A report view queues its access event; the worker has not placed it yet.
    assert sign_in(app.test_client(), world.user_a).get(f"/subjects/{world.person_a.id}/report").status_code == 200
    stamped(app, age=timedelta(seconds=30))
    with app.app_context():
        queued = session().scalar(select(func.count()).select_from(LogQueue))
        late = overdue(session(), today())
    families = scrape(client)
    assert queued > 0
    assert value(families, "portal_log_queue_events") == queued
    assert value(families, "portal_log_queue_oldest_age_seconds") >= 0
    assert value(families, "portal_disputes_overdue") == late
    assert 30 <= value(families, "portal_worker_heartbeat_age_seconds") < 60
    heartbeat(app)  # the worker runs: the queue is not its job here, the heartbeat is
    assert value(scrape(client), "portal_worker_heartbeat_age_seconds") < 30


SCRIPT = """
import sys
from portal import create_app
app = create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": sys.argv[1]})
client = app.test_client()
for _ in range(int(sys.argv[2])):
    assert client.get("/healthz").status_code == 200
if sys.argv[3] == "scrape":
    print(client.get("/metrics").get_data(as_text=True))
"""


@pytest.mark.committing
def test_several_processes_are_counted_together_in_multiprocess_mode(database_url, tmp_path, monkeypatch):
    """As under gunicorn: each process writes its counts to the folder
    PROMETHEUS_MULTIPROC_DIR names, and a scrape of any process adds them up."""
    import subprocess
    import sys

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path / "instance"))

    def process(requests, then=""):
        return subprocess.run(
            [sys.executable, "-c", SCRIPT, database_url, str(requests), then],
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    process(2)
    families = {f.name: f for f in text_string_to_metric_families(process(3, "scrape"))}
    assert value(families, "portal_http_requests", endpoint="health.healthz", status_class="2xx") == 5
    assert "portal_log_leaves" in families


def test_a_heartbeat_setting_that_is_not_a_number_stops_start_up(make_app):
    with pytest.raises(ValueError, match="HEARTBEAT_SECONDS"):
        make_app(HEARTBEAT_SECONDS="soon")
