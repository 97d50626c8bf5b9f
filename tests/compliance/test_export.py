"""The regulator's monthly report: `portal compliance report` writes the
month's CSV and signed JSON summary, `verify-report` checks them; the page
offers the same two files to staff."""

from __future__ import annotations

import base64
import csv
import io
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from portal.compliance import export
from portal.db import utcnow
from portal.localtime import today
from tests.officers import as_user, file_case

MONTH = today().strftime("%Y-%m")


@pytest.fixture
def filed(app, world):
    """One case filed this month."""
    return file_case(app, world)


def _report(runner, tmp_path, *extra):
    return runner.invoke(args=["compliance", "report", "--month", MONTH, "--out", str(tmp_path), *extra])


def test_the_report_writes_both_files_and_verifies(runner, filed, tmp_path):
    result = _report(runner, tmp_path)
    assert result.exit_code == 0, result.output
    csv_path, json_path = tmp_path / f"compliance-report-{MONTH}.csv", tmp_path / f"compliance-report-{MONTH}.json"
    rows = list(csv.DictReader(io.StringIO(csv_path.read_bytes().decode("utf-8-sig"))))
    received = {(r["table"], r["group"], r["measure"]): r["value"] for r in rows}
    assert received[("by_all", "all", "received")] == "1"
    assert received[("by_all", "all", "open")] == "1"
    report = json.loads(json_path.read_text("utf-8"))
    assert report["signature"]["alg"] == "ES256"
    assert report["signature"]["certificate"].startswith("-----BEGIN CERTIFICATE-----")
    assert report["summary"]["period"]["from"] == f"{MONTH}-01"
    assert {"table": "by_all", "group": "all", "label": "All", "measure": "received", "value": 1} in report["summary"][
        "figures"
    ]
    checked = runner.invoke(args=["compliance", "verify-report", str(json_path)])
    assert checked.exit_code == 0, checked.output
    assert "signature valid" in checked.output


def test_a_changed_byte_fails_verification(runner, filed, tmp_path):
    assert _report(runner, tmp_path).exit_code == 0
    path = tmp_path / f"compliance-report-{MONTH}.json"
    data = path.read_bytes()
    at = data.index(b'"value": 1')  # a figure of the summary: one becomes three
    path.write_bytes(data[: at + 9] + b"3" + data[at + 10 :])
    result = runner.invoke(args=["compliance", "verify-report", str(path)])
    assert result.exit_code != 0
    assert "the summary was changed after it was signed" in result.output
    path.write_bytes(data.replace(b'"summary"', b'"summary\xff"', 1))  # not even UTF-8 now
    result = runner.invoke(args=["compliance", "verify-report", str(path)])
    assert result.exit_code != 0
    assert "not a report" in result.output


def test_another_key_is_refused(runner, filed, tmp_path):
    assert _report(runner, tmp_path).exit_code == 0
    path = tmp_path / f"compliance-report-{MONTH}.json"
    report = json.loads(path.read_text("utf-8"))
    forged = ec.generate_private_key(ec.SECP256R1())
    report["summary"]["figures"][0]["value"] = 99
    report["signature"]["value"] = base64.b64encode(
        forged.sign(export.canonical(report["summary"]), ec.ECDSA(hashes.SHA256()))
    ).decode()
    path.write_text(json.dumps(report), "utf-8")
    result = runner.invoke(args=["compliance", "verify-report", str(path)])
    assert result.exit_code != 0
    assert "signature does not match" in result.output


@pytest.mark.parametrize("month", ["2026-13", "26-01", "2026-1", "January", "", "2026-00"])
def test_a_malformed_month_writes_nothing(runner, world, tmp_path, month):
    result = runner.invoke(args=["compliance", "report", "--month", month, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "YYYY-MM" in result.output
    assert not (tmp_path / "out").exists()


def test_a_future_month_writes_nothing(runner, world, tmp_path):
    now = utcnow()
    future = f"{now.year + 1}-{now.month:02d}"
    result = runner.invoke(args=["compliance", "report", "--month", future, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "has not begun yet" in result.output
    assert not (tmp_path / "out").exists()


def test_existing_files_are_kept_unless_forced(runner, filed, tmp_path):
    assert _report(runner, tmp_path).exit_code == 0
    path = tmp_path / f"compliance-report-{MONTH}.json"
    path.write_bytes(b"kept")
    result = _report(runner, tmp_path)
    assert result.exit_code == 1
    assert "--force" in result.output
    assert path.read_bytes() == b"kept"
    assert _report(runner, tmp_path, "--force").exit_code == 0
    assert path.read_bytes().startswith(b"{")


def test_staff_download_the_same_report(app, runner, filed, staff, sign_in, tmp_path):
    client = as_user(app, sign_in, staff.officer)
    picked = client.get(f"/compliance/statistics/report?month={MONTH}&as=json")
    assert picked.status_code == 302
    assert picked.headers["Location"].endswith(f"/compliance/statistics/report/{MONTH}.json")
    response = client.get(f"/compliance/statistics/report/{MONTH}.json")
    assert response.status_code == 200
    assert f"compliance-report-{MONTH}.json" in response.headers["Content-Disposition"]
    path = tmp_path / "downloaded.json"
    path.write_bytes(response.get_data())
    assert runner.invoke(args=["compliance", "verify-report", str(path)]).exit_code == 0
    response = client.get(f"/compliance/statistics/report/{MONTH}.csv")
    assert response.status_code == 200
    assert response.get_data().decode("utf-8-sig").startswith("table,group,label,measure,value")


@pytest.mark.parametrize(("month", "message"), [("2026-13", "Give the month as YYYY-MM"), ("2999-01", "has not begun")])
def test_a_wrong_month_on_the_page_is_explained(app, world, staff, sign_in, month, message):
    client = as_user(app, sign_in, staff.supervisor)
    response = client.get(f"/compliance/statistics/report?month={month}&as=csv")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert client.get(f"/compliance/statistics/report/{month}.json").status_code == 404


# -- what the signature covers ---------------------------------------------------------------
def test_a_forged_duplicate_or_an_unsigned_field_is_refused(runner, filed, tmp_path):
    assert _report(runner, tmp_path).exit_code == 0
    path = tmp_path / f"compliance-report-{MONTH}.json"
    text = path.read_text("utf-8")
    fake = '"figures": [{"table": "by_all", "group": "all", "label": "All", "measure": "received", "value": 0}],'
    # A first "figures" that a reader keeping the first duplicate would show; the signed one after it.
    forged = text.replace('"summary": {', '"summary": {' + fake, 1)
    for data in (
        forged,
        text.replace('"signature": {', '"note": "unsigned", "signature": {', 1),
        text.replace('"signature": {', '"signature": {"note": "unsigned", ', 1),
        text.replace('"signature": {', '"signature": {"alg": "none", ', 1),
    ):
        path.write_text(data, "utf-8")
        result = runner.invoke(args=["compliance", "verify-report", str(path)])
        assert result.exit_code != 0, data[:200]
        assert "signature valid" not in result.output


def test_the_csv_is_covered_by_the_signature(runner, filed, tmp_path):
    assert _report(runner, tmp_path).exit_code == 0
    csv_path, json_path = tmp_path / f"compliance-report-{MONTH}.csv", tmp_path / f"compliance-report-{MONTH}.json"
    result = runner.invoke(args=["compliance", "verify-report", str(json_path), "--csv", str(csv_path)])
    assert result.exit_code == 0, result.output
    assert "CSV matches" in result.output
    data = csv_path.read_bytes()
    at = data.index(b"by_all,all,All,received,1")
    csv_path.write_bytes(data[:at] + b"by_all,all,All,received,7" + data[at + 25 :])
    result = runner.invoke(args=["compliance", "verify-report", str(json_path), "--csv", str(csv_path)])
    assert result.exit_code != 0
    assert "CSV" in result.output
    assert "signature valid" not in result.output


# -- months out of bounds, and the current month ---------------------------------------------
@pytest.mark.parametrize("month", ["9999-12", "10000-01", f"{utcnow().year + 1}-01"])
def test_a_month_far_ahead_is_refused_not_a_500(app, runner, world, staff, sign_in, tmp_path, month):
    result = runner.invoke(args=["compliance", "report", "--month", month, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert not (tmp_path / "out").exists()
    client = as_user(app, sign_in, staff.supervisor)
    picked = client.get(f"/compliance/statistics/report?month={month}")
    assert picked.status_code == 400
    assert client.get(f"/compliance/statistics/report/{month}.json").status_code == 404
    assert client.get(f"/compliance/statistics/report/{month}.csv").status_code == 404


def test_the_current_months_report_runs_to_today_and_dates_its_backlog(runner, filed, tmp_path):
    assert _report(runner, tmp_path).exit_code == 0
    report = json.loads((tmp_path / f"compliance-report-{MONTH}.json").read_text("utf-8"))
    summary = report["summary"]
    assert summary["period"] == {"from": f"{MONTH}-01", "until": today().isoformat()}
    assert summary["backlog_as_of"] == summary["generated_at"]
    backlog = [f for f in summary["figures"] if f["table"] == "backlog"]
    assert backlog
    assert all("open cases as of" in f["label"] for f in backlog)


def test_a_past_months_report_runs_to_its_last_day(runner, world, tmp_path):
    result = runner.invoke(args=["compliance", "report", "--month", "2025-02", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "compliance-report-2025-02.json").read_text("utf-8"))
    assert report["summary"]["period"] == {"from": "2025-02-01", "until": "2025-02-28"}
