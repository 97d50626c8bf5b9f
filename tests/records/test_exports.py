"""The downloads: everything held as JSON, and a printable PDF that
renders Chinese."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import date

from portal.audit.models import EventKind
from portal.records.models import Category, RecordStatus

from .test_report import english, events_of, furnish_record

FILENAME = re.compile(r'attachment; filename="credit-report-\d{4}-\d{2}-\d{2}\.(json|pdf)"')


def test_json_export_holds_everything_about_the_subject(app, client, world, sign_in):
    furnish_record(app, world, world.person_a, "A-LOAN-1", status=RecordStatus.CLOSED, closed_on="2024-06-30")
    response = sign_in(client, world.user_a).get(f"/subjects/{world.person_a.id}/export.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert FILENAME.fullmatch(response.headers["Content-Disposition"])
    assert response.headers["Cache-Control"] == "no-store"
    data = json.loads(response.get_data(as_text=True))

    assert data["subject"] == {
        "id": str(world.person_a.id),
        "kind": "person",
        "identifier": "11010519491231002X",
        "name": "张三",
    }
    records = {r["versions"][0]["payload"]["reference"]: r for r in data["records"]}
    assert set(records) == {"A-LOAN-1", "A-CARD-1"}
    loan = records["A-LOAN-1"]
    assert loan["category"] == "loan"
    assert loan["current_version"] == 2
    assert loan["furnisher"] == {"code": "test-bank", "name": "测试银行", "name_en": "Test Bank"}
    assert [v["version"] for v in loan["versions"]] == [2, 1]
    assert [v["status"] for v in loan["versions"]] == ["closed", "active"]
    assert loan["versions"][0]["payload"]["closed_on"] == "2024-06-30"
    card = records["A-CARD-1"]["versions"][0]
    assert card["negative"] is True
    assert card["ended_on"] == "2023-03-01"
    assert card["expires_on"] == "2028-03-01"
    assert card["furnished_at"]
    (event,) = data["access_events"]  # the export itself
    assert event["kind"] == "export"
    assert event["detail"]["format"] == "json"


def test_json_export_holds_access_events_and_nothing_of_others(app, client, world, sign_in):
    sign_in(client, world.user_a)
    for _ in range(12):  # more than any page shows
        client.get(f"/subjects/{world.person_a.id}")
    body = client.get(f"/subjects/{world.person_a.id}/export.json").get_data(as_text=True)
    assert [e["kind"] for e in json.loads(body)["access_events"]] == ["export"] + ["self_query"] * 12
    for other in ("B-LOAN-1", "F-LOAN-1", "李四", "110105198001010016"):
        assert other not in body


def test_pdf_export_is_a_real_pdf_with_chinese_embedded(app, client, world, sign_in, tmp_path, pdf_text):
    furnish_record(
        app,
        world,
        world.person_a,
        "A-WATER-1",
        category=Category.UTILITY_ARREARS,
        status=RecordStatus.SETTLED,
        negative=True,
        ended_on=date(2024, 2, 29),
        amount="88.00",
    )
    furnish_record(app, world, world.person_a, "A-LOAN-1", status=RecordStatus.CLOSED)
    sign_in(client, world.user_a).get(f"/subjects/{world.person_a.id}")  # an event to list
    response = client.get(f"/subjects/{world.person_a.id}/report.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert FILENAME.fullmatch(response.headers["Content-Disposition"])
    assert response.headers["Cache-Control"] == "no-store"
    pdf = response.get_data()
    assert pdf.startswith(b"%PDF")
    assert b"NotoSansSC" in pdf

    text = pdf_text(pdf, "report.pdf")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(tmp_path / "report.pdf"), str(tmp_path / "page")],
        check=True,
    )
    assert (tmp_path / "page-1.png").stat().st_size > 1000
    assert "张三" in text
    assert "测试银行" in text
    assert "110105********002X" in text
    assert "11010519491231002X" not in text
    assert "A-WATER-1" in text
    assert "2029" in text
    assert "B-LOAN-1" not in text
    assert "李四" not in text


def test_pdf_follows_the_chosen_language(app, client, world, sign_in, pdf_text):
    pdf = english(sign_in(client, world.user_a)).get(f"/subjects/{world.person_a.id}/report.pdf").get_data()
    text = pdf_text(pdf, "report.pdf")
    assert "Credit report" in text
    assert "Test Bank" in text
    assert "测试银行" not in text
    assert [e.kind for e in events_of(app, world.person_a)] == [EventKind.EXPORT]


def test_the_pdf_marks_a_record_under_dispute_as_the_page_does(app, client, world, sign_in, pdf_text):
    """Found by a walk: the page and the JSON said "under dispute", the PDF did not."""
    from tests.officers import file_case

    reader = english(sign_in(client, world.user_a))
    before = pdf_text(reader.get(f"/subjects/{world.person_a.id}/report.pdf").get_data(), "before.pdf")
    assert "Under dispute" not in before
    file_case(app, world, "a")
    after = pdf_text(reader.get(f"/subjects/{world.person_a.id}/report.pdf").get_data(), "after.pdf")
    assert after.count("Under dispute") == 1
    page = reader.get(f"/subjects/{world.person_a.id}/report").get_data(as_text=True)
    assert page.count("Under dispute") == 1
