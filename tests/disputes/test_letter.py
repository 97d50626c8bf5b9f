"""After the decision, on the subject's side: the outcome letter (on the
page and as a PDF), who was told and whether they acknowledged, statements
beside records verified as accurate (and only those), and the report's
marks for records deleted or left unverifiable."""

from __future__ import annotations

import io
import json
import re

from sqlalchemy import func, select

from portal.accounts.models import User
from portal.audit import disclosures
from portal.audit.events import record_event
from portal.audit.models import AccessEvent, EventKind
from portal.db import utcnow
from portal.disputes import decisions, lifecycle
from portal.disputes.models import CorrectionNotice, Dispute, DisputeStatus, Evidence, RecordStatement
from portal.disputes.pages import short_reference
from portal.extensions import session, vault
from portal.records.models import Subject

from .conftest import PDF
from .test_subject_pages import TOKEN, file_dispute, make_officer, records_of, signed, token

REASON = "The bank's ledger shows the <b>balance</b> as furnished."


def decided(app, world, outcome, record_ids, reason=REASON):
    """A dispute of person A taken up and decided by an officer."""
    dispute_id = file_dispute(app, world.person_a, world.user_a, record_ids)
    officer_id = make_officer(app)
    with app.app_context():
        s, v = session(), vault()
        d, officer = s.get(Dispute, dispute_id), s.get(User, officer_id)
        for to in (DisputeStatus.ACKNOWLEDGED, DisputeStatus.UNDER_REVIEW):
            lifecycle.advance(s, v, d, to, officer)
        d.assigned_officer_id = officer.id
        decisions.decide(s, v, d, officer, outcome, reason)
        s.commit()
    return dispute_id


def received_by_bank(app, world, record_ids):
    """The bank received A's report with these records a few days ago."""
    with app.app_context():
        s, v = session(), vault()
        a = s.get(Subject, world.person_a.id)
        event = record_event(
            s, v, a, EventKind.INSTITUTION_QUERY, channel="api", institution_id=world.bank.id, purpose="loan_approval"
        )
        disclosures.store(s, v, a, event, json.dumps({"records": [{"id": str(r)} for r in record_ids]}).encode())
        s.commit()


def test_the_letter_is_on_the_page_and_downloads_as_a_pdf(app, world, sign_in, pdf_text):
    loan, _card = records_of(app, world.person_a)
    dispute_id = decided(app, world, "verified_accurate", [loan])
    client = signed(app, sign_in, world.user_a)
    page = f"/subjects/{world.person_a.id}/disputes/{dispute_id}"
    html = client.get(page).get_data(as_text=True)
    assert "Outcome letter" in html
    assert "Verified as accurate" in html
    assert "&lt;b&gt;balance&lt;/b&gt;" in html
    assert "<b>balance</b>" not in html
    assert "How it was verified" in html
    assert "A compliance officer reviewed the case" in html
    assert "unchanged" in html
    assert "Who was told" in html
    assert "No institution received the changed records" in html
    assert f'href="{page}/letter.pdf"' in html
    assert 'id="reply"' not in html
    assert f"{page}/withdraw" not in html
    late = client.post(
        f"{page}/evidence",
        data={"csrf_token": token(client, page), "note": "one more thing", "evidence": [(io.BytesIO(PDF), "late.pdf")]},
        content_type="multipart/form-data",
    )
    assert late.status_code == 302
    assert "nothing more can be added" in client.get(page).get_data(as_text=True)
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(Evidence)) == 0
    pdf = client.get(f"{page}/letter.pdf")
    assert pdf.status_code == 200
    assert pdf.data.startswith(b"%PDF")
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert (
        pdf.headers["Content-Disposition"]
        == f'attachment; filename="dispute-{short_reference(dispute_id)}-outcome.pdf"'
    )
    assert pdf.headers["Cache-Control"] == "no-store"
    text = pdf_text(pdf.data)
    assert "Outcome of your dispute" in text
    assert short_reference(dispute_id) in text
    assert "Verified as accurate" in text
    assert "<b>balance</b>" in text
    assert "张三" in text
    assert "110105********002X" in text
    assert "11010519491231002X" not in text
    assert "测试银行" not in text
    assert "Test Bank" in text
    chinese = sign_in(app.test_client(), world.user_a).get(f"{page}/letter.pdf")  # the default language
    assert chinese.status_code == 200
    assert chinese.data.startswith(b"%PDF")
    assert b"NotoSansSC" in chinese.data
    with app.app_context():  # each download is recorded
        details = [e for e in session().scalars(select(AccessEvent).where(AccessEvent.kind == EventKind.EXPORT))]
    assert len(details) == 2


def test_no_letter_before_the_decision(app, world, sign_in):
    loan, _card = records_of(app, world.person_a)
    dispute_id = file_dispute(app, world.person_a, world.user_a, [loan])
    client = signed(app, sign_in, world.user_a)
    page = f"/subjects/{world.person_a.id}/disputes/{dispute_id}"
    assert "Outcome letter" not in client.get(page).get_data(as_text=True)
    assert client.get(f"{page}/letter.pdf").status_code == 404


def test_after_verified_accurate_a_statement_of_200_characters_at_most_per_record(app, world, sign_in):
    loan, card = records_of(app, world.person_a)
    dispute_id = decided(app, world, "verified_accurate", [loan, card])
    client = signed(app, sign_in, world.user_a)
    page = f"/subjects/{world.person_a.id}/disputes/{dispute_id}"
    html = client.get(page).get_data(as_text=True)
    assert html.count('maxlength="200"') == 2
    prefix = f"statement-{loan.hex}"
    url = f"{page}/records/{loan}/statement"
    too_long = client.post(url, data={f"{prefix}-csrf_token": token(client, page), f"{prefix}-text": "x" * 201})
    assert too_long.status_code == 200
    assert "A statement is at most 200 characters." in too_long.get_data(as_text=True)
    text = "I paid late because the bank's <script>app</script> failed; " + "字" * 100
    assert len(text) <= 200
    done = client.post(url, data={f"{prefix}-csrf_token": token(client, page), f"{prefix}-text": text})
    assert done.status_code == 302
    assert done.headers["Location"].endswith(f"{page}#record-{loan}")
    html = client.get(page).get_data(as_text=True)
    assert "Your statement was added." in html
    assert html.count('maxlength="200"') == 1
    assert "&lt;script&gt;app&lt;/script&gt;" in html
    assert "<script>app" not in html
    report = client.get(f"/subjects/{world.person_a.id}/report").get_data(as_text=True)
    assert "Your statement:" in report
    assert "&lt;script&gt;app&lt;/script&gt;" in report
    # Once per record and dispute.
    again = client.post(url, data={f"{prefix}-csrf_token": token(client, page), f"{prefix}-text": "again"})
    assert again.status_code == 302
    assert "already been added" in client.get(page).get_data(as_text=True)
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(RecordStatement)) == 1


def test_no_statement_unless_verified_accurate_and_the_deletion_is_marked(app, world, sign_in):
    loan, card = records_of(app, world.person_a)
    received_by_bank(app, world, [loan])
    dispute_id = decided(app, world, "deleted", [loan], reason="The furnisher could not show the contract.")
    client = signed(app, sign_in, world.user_a)
    page = f"/subjects/{world.person_a.id}/disputes/{dispute_id}"
    html = client.get(page).get_data(as_text=True)
    assert "Deleted after a dispute" in html
    assert 'maxlength="200"' not in html
    # Who was told: the bank, which received the record; not yet acknowledged.
    assert re.search(r"<td>Test Bank</td>.*?<td>Not yet</td>", html, re.S)
    prefix = f"statement-{loan.hex}"
    refused = client.post(
        f"{page}/records/{loan}/statement",
        data={f"{prefix}-csrf_token": token(client, page), f"{prefix}-text": "Let me explain."},
    )
    assert refused.status_code == 302
    assert "only beside records a dispute verified as accurate" in client.get(page).get_data(as_text=True)
    with app.app_context():
        s = session()
        assert s.scalar(select(func.count()).select_from(RecordStatement)) == 0
        notice = s.scalar(select(CorrectionNotice))
        notice.acknowledged_at = utcnow()
        s.commit()
    html = client.get(page).get_data(as_text=True)
    assert "Not yet" not in html
    report = client.get(f"/subjects/{world.person_a.id}/report").get_data(as_text=True)
    assert report.count("Deleted after a dispute") == 1
    # A deleted record is not offered for a new dispute.
    assert report.count(">Dispute this record</a>") == 1
    assert client.get(f"/subjects/{world.person_a.id}/disputes/new?record={loan}").status_code == 404
    assert f'value="{card}"' in client.get(f"/subjects/{world.person_a.id}/disputes/new").get_data(as_text=True)


def test_an_unverifiable_record_is_marked_in_the_report(app, world, sign_in):
    loan, _card = records_of(app, world.person_a)
    dispute_id = decided(app, world, "unverifiable", [loan], reason="The furnisher could not verify it.")
    client = signed(app, sign_in, world.user_a)
    report = client.get(f"/subjects/{world.person_a.id}/report").get_data(as_text=True)
    assert report.count("Marked unverifiable wherever it is disclosed") == 1
    html = client.get(f"/subjects/{world.person_a.id}/disputes/{dispute_id}").get_data(as_text=True)
    assert "Unverifiable, marked" in html
    assert "marked as unverifiable" in html


def test_the_statement_form_needs_its_own_token(app, world, sign_in):
    loan, _card = records_of(app, world.person_a)
    dispute_id = decided(app, world, "verified_accurate", [loan])
    client = signed(app, sign_in, world.user_a)
    page = f"/subjects/{world.person_a.id}/disputes/{dispute_id}"
    prefix = f"statement-{loan.hex}"
    response = client.post(f"{page}/records/{loan}/statement", data={f"{prefix}-text": "no token"})
    assert response.status_code == 400
    assert TOKEN.search(client.get(page).get_data(as_text=True))
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(RecordStatement)) == 0


def test_the_json_download_holds_the_disputes_and_what_they_did(app, world, sign_in):
    loan, card = records_of(app, world.person_a)
    received_by_bank(app, world, [loan])
    dispute_id = decided(app, world, "deleted", [loan])
    other = file_dispute(app, world.person_b, world.user_b, records_of(app, world.person_b))
    data = signed(app, sign_in, world.user_a).get(f"/subjects/{world.person_a.id}/export.json").get_json()
    (dispute,) = data["disputes"]
    assert dispute["id"] == str(dispute_id)
    assert dispute["outcome"] == "deleted"
    assert dispute["records"] == [str(loan)]
    assert dispute["letter"]["reason"] == REASON
    assert dispute["letter"]["changes"][0]["change"] == "deleted"
    assert [t["by"] for t in dispute["timeline"]] == ["subject", "officer", "officer", "officer"]
    assert [(t["institution"], t["acknowledged_at"]) for t in dispute["told"]] == [("test-bank", None)]
    records = {r["id"]: r for r in data["records"]}
    assert records[str(loan)]["deleted"] is True
    assert records[str(card)]["deleted"] is False
    assert str(other) not in json.dumps(data)
