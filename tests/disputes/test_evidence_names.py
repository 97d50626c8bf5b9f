"""Evidence keeps its names and goes with the case (issue 15, problem 11).
A file is shown under the name it was uploaded with (sealed, escaped) to
the subject, the officer and, in the download, the furnisher; a download
names it as RFC 6266 says. Sending a case to its furnishers sends every
file with it unless the officer holds one back, saying why; the furnisher's
API lists what it got and the subject's page says which file went where."""

from __future__ import annotations

import io
import re
import uuid
from urllib.parse import unquote

import pytest
from markupsafe import escape
from sqlalchemy import select

from portal.audit.events import open_detail
from portal.audit.models import AccessEvent, EventKind
from portal.disputes.evidence import Upload
from portal.disputes.models import Dispute, DisputeStatus, Evidence, EvidenceShare
from portal.extensions import session, vault
from portal.institutions.models import ApiScope, Institution
from portal.institutions.services import issue_api_key
from portal.records.models import CreditRecord, Subject
from tests.officers import TOKEN, as_user, assign_to, case_state, case_url, file_case, post_form, version_of

from .conftest import PDF, PNG
from .test_evidence_sharing import share_url, two_furnishers  # noqa: F401 (a fixture)

S = DisputeStatus
CHINESE = "银行流水 2024.pdf"
# (A browser sends a quote in a file name percent-encoded; the test client would not.)
HOSTILE = "<img src=x onerror=alert(1)> & co; x.png"
SAFE_HEADER = re.compile(r"""attachment; filename="[A-Za-z0-9._ ()+,=@-]+"(; filename\*=UTF-8''[A-Za-z0-9%._~-]+)?""")
WHY = "This scan is about the lender's card, <not> the bank's loan."


def subject_page(client, world, dispute_id) -> str:
    return client.get(f"/subjects/{world.person_a.id}/disputes/{dispute_id}").get_data(as_text=True)


def files_of(app, dispute_id) -> dict[str, uuid.UUID]:
    """The case's files by media type."""
    with app.app_context():
        return {e.media_type: e.id for e in session().get(Dispute, dispute_id).evidence}


def keys(app, *institution_ids) -> list[str]:
    with app.app_context():
        s = session()
        out = [issue_api_key(s, s.get(Institution, i), [ApiScope.FURNISH]) for i in institution_ids]
        s.commit()
    return out


def api_get(app, token, path):
    return app.test_client().get(path, headers={"Authorization": f"Bearer {token}"})


def listed(app, token, dispute_id) -> set[str]:
    """The ids of the files a furnisher's listing shows for the case."""
    body = api_get(app, token, "/api/v1/disputes").get_json()
    (found,) = [d for d in body["disputes"] if d["id"] == str(dispute_id)]
    return {e["id"] for e in found["evidence"]}


# -- names --------------------------------------------------------------------------------
def test_the_subject_sees_each_file_under_its_own_name(app, world, sign_in):
    client = as_user(app, sign_in, world.user_a)
    with app.app_context():
        loan = session().scalar(
            select(CreditRecord.id)
            .where(CreditRecord.subject_id == world.person_a.id)
            .order_by(CreditRecord.created_at, CreditRecord.id)
        )
    new = f"/subjects/{world.person_a.id}/disputes/new"
    form = client.get(f"{new}?record={loan}").get_data(as_text=True)
    filed = client.post(
        new,
        data={
            "csrf_token": TOKEN.search(form).group(1),
            "reason": "wrong_amount",
            "statement": "The balance is wrong.",
            "records": [str(loan)],
            "evidence": [(io.BytesIO(PDF), CHINESE), (io.BytesIO(PNG), HOSTILE)],
        },
        content_type="multipart/form-data",
    )
    assert filed.status_code == 302, filed.get_data(as_text=True)[:2000]
    page = client.get(filed.headers["Location"]).get_data(as_text=True)
    assert CHINESE in page
    assert "File 1" not in page
    assert "File 2" not in page
    # A name is the subject's own text: escaped wherever it is shown.
    assert "<img src=x" not in page
    assert str(escape(HOSTILE)) in page

    dispute_id = uuid.UUID(filed.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    files = files_of(app, dispute_id)
    pdf = client.get(f"/subjects/{world.person_a.id}/disputes/{dispute_id}/evidence/{files['application/pdf']}")
    assert pdf.status_code == 200
    assert pdf.data == PDF
    header = pdf.headers["Content-Disposition"]
    assert SAFE_HEADER.fullmatch(header), header
    assert header == "attachment; filename=\"2024.pdf\"; filename*=UTF-8''" + (
        "%E9%93%B6%E8%A1%8C%E6%B5%81%E6%B0%B4%202024.pdf"
    )
    assert unquote(header.split("''", 1)[1]) == CHINESE
    png = client.get(f"/subjects/{world.person_a.id}/disputes/{dispute_id}/evidence/{files['image/png']}")
    header = png.headers["Content-Disposition"]
    assert SAFE_HEADER.fullmatch(header), header  # no quote, no semicolon, no angle bracket in the fallback
    assert unquote(header.split("''", 1)[1]) == HOSTILE


def test_the_officer_and_the_furnisher_see_the_name_too(app, world, staff, sign_in):
    dispute_id = file_case(app, world, "a", files=[Upload("C:\\scans\\statement <2024>.pdf", PDF)])
    assign_to(app, dispute_id, staff.officer, review=True)
    officer = as_user(app, sign_in, staff.officer)
    page = officer.get(case_url(dispute_id)).get_data(as_text=True)
    assert "statement &lt;2024&gt;.pdf" in page  # the path left out, the name escaped
    assert "C:\\scans" not in page
    (evidence_id,) = files_of(app, dispute_id).values()
    download = officer.get(case_url(dispute_id, f"/evidence/{evidence_id}"))
    assert download.headers["Content-Disposition"] == (
        "attachment; filename=\"statement _2024.pdf\"; filename*=UTF-8''statement%20%3C2024%3E.pdf"
    )
    sent = post_form(
        officer,
        case_url(dispute_id, "/move/waiting_for_furnisher"),
        "move-waiting_for_furnisher",
        {"note": "Please check."},
        version=version_of(app, dispute_id),
    )
    assert sent.status_code == 302
    (bank,) = keys(app, world.bank.id)
    fetched = api_get(app, bank, f"/api/v1/disputes/{dispute_id}/evidence/{evidence_id}")
    assert fetched.status_code == 200
    assert fetched.data == PDF
    assert fetched.headers["Content-Disposition"] == (
        "attachment; filename=\"statement _2024.pdf\"; filename*=UTF-8''statement%20%3C2024%3E.pdf"
    )
    listed = api_get(app, bank, "/api/v1/disputes").get_json()["disputes"]
    assert [f["name"] for d in listed if d["id"] == str(dispute_id) for f in d["evidence"]] == ["statement <2024>.pdf"]


def test_files_kept_before_names_were_keep_a_neutral_label(app, world, staff, sign_in):
    dispute_id = file_case(app, world, "a", files=[Upload("old.pdf", PDF)])
    with app.app_context():
        s = session()
        (row,) = s.get(Dispute, dispute_id).evidence
        row.name_ct = None  # as every file stored before the upgrade
        stored = row.stored_name
        s.commit()
    assign_to(app, dispute_id, staff.officer)
    officer = as_user(app, sign_in, staff.officer)
    page = officer.get(case_url(dispute_id)).get_data(as_text=True)
    assert "File 1" in page
    assert "old.pdf" not in page
    assert stored not in page  # no internal hex name either
    mine = subject_page(as_user(app, sign_in, world.user_a), world, dispute_id)
    assert "File 1" in mine
    assert "old.pdf" not in mine
    download = officer.get(case_url(dispute_id, f"/evidence/{row.id}"))
    assert download.headers["Content-Disposition"] == f'attachment; filename="{stored}"'


# -- sending the case sends the files -------------------------------------------------------------
def send_case(client, app, dispute_id, **fields):
    return post_form(
        client,
        case_url(dispute_id, "/move/waiting_for_furnisher"),
        "move-waiting_for_furnisher",
        {"note": "Please check both records.", **fields},
        version=version_of(app, dispute_id),
    )


def test_sending_the_case_sends_every_file_to_every_furnisher(app, world, staff, sign_in, two_furnishers):  # noqa: F811
    case = two_furnishers
    assign_to(app, case["dispute"], staff.officer, review=True)
    officer = as_user(app, sign_in, staff.officer)
    page = officer.get(case_url(case["dispute"])).get_data(as_text=True)
    assert "Every file goes to the furnishers of the case." in page
    assert "Hold back loan.pdf from Test Bank" in page
    assert "Hold back card.png from Test Lender" in page

    sent = send_case(officer, app, case["dispute"])
    assert sent.status_code == 302
    assert "2 files went with it." in officer.get(sent.headers["Location"]).get_data(as_text=True)
    bank, lender = keys(app, case["bank"], case["lender"])
    both = {str(case["pdf"]), str(case["png"])}
    assert listed(app, bank, case["dispute"]) == both
    assert listed(app, lender, case["dispute"]) == both
    for token in (bank, lender):
        for evidence_id in (case["pdf"], case["png"]):
            assert api_get(app, token, f"/api/v1/disputes/{case['dispute']}/evidence/{evidence_id}").status_code == 200
    # Each furnisher's access event counts the files that went to it.
    with app.app_context():
        s, v = session(), vault()
        cipher = v.cipher(s, s.get(Subject, world.person_a.id).data_key_id)
        counted = {
            e.institution_id: open_detail(cipher, e)[0]["evidence"]
            for e in s.scalars(select(AccessEvent).where(AccessEvent.kind == EventKind.DISPUTE_FORWARDED))
        }
    assert counted == {case["bank"]: 2, case["lender"]: 2}
    mine = subject_page(as_user(app, sign_in, world.user_a), world, case["dispute"])
    assert mine.count("Sent for checking to: Test Bank, Test Lender") == 2
    assert "Not sent to" not in mine


def test_the_officer_holds_a_file_back_saying_why(app, world, staff, sign_in, two_furnishers):  # noqa: F811
    case = two_furnishers
    assign_to(app, case["dispute"], staff.officer, review=True)
    officer = as_user(app, sign_in, staff.officer)
    hold = f"hold_{case['png'].hex}_{case['bank'].hex}"
    why = f"why_{case['png'].hex}_{case['bank'].hex}"

    unexplained = send_case(officer, app, case["dispute"], **{hold: "y"})
    assert unexplained.status_code == 200
    assert "Say why you hold this file back." in unexplained.get_data(as_text=True)
    assert case_state(app, case["dispute"]).status is S.UNDER_REVIEW
    with app.app_context():
        assert session().scalars(select(EvidenceShare)).all() == []

    sent = send_case(officer, app, case["dispute"], **{hold: "y", why: WHY})
    assert sent.status_code == 302
    assert "1 file was held back from a furnisher." in officer.get(sent.headers["Location"]).get_data(as_text=True)
    bank, lender = keys(app, case["bank"], case["lender"])
    assert listed(app, bank, case["dispute"]) == {str(case["pdf"])}
    assert listed(app, lender, case["dispute"]) == {str(case["pdf"]), str(case["png"])}
    assert api_get(app, bank, f"/api/v1/disputes/{case['dispute']}/evidence/{case['png']}").status_code == 404
    page = officer.get(case_url(case["dispute"])).get_data(as_text=True)
    assert "Held back from Test Bank:" in page
    mine = subject_page(as_user(app, sign_in, world.user_a), world, case["dispute"])
    assert "Not sent to Test Bank; the officer's reason:" in mine
    assert "about the lender&#39;s card, &lt;not&gt; the bank&#39;s loan." in mine
    assert "Sent for checking to: Test Lender" in mine

    # Later the officer sends it after all: the bank gets it, and the reason goes.
    later = post_form(
        officer,
        share_url(case["dispute"], case["png"]),
        f"share-{case['png'].hex}",
        {"furnishers": [str(case["bank"])]},
        version=version_of(app, case["dispute"]),
    )
    assert later.status_code == 302
    assert api_get(app, bank, f"/api/v1/disputes/{case['dispute']}/evidence/{case['png']}").status_code == 200
    mine = subject_page(as_user(app, sign_in, world.user_a), world, case["dispute"])
    assert "Not sent to" not in mine
    assert mine.count("Sent for checking to: Test Bank, Test Lender") == 2


def test_a_held_file_of_a_one_furnisher_case_stays_with_the_portal(app, world, staff, sign_in):
    dispute_id = file_case(app, world, "a", files=[Upload("mine.pdf", PDF), Upload("private.png", PNG)])
    assign_to(app, dispute_id, staff.officer, review=True)
    officer = as_user(app, sign_in, staff.officer)
    files = files_of(app, dispute_id)
    key = f"{files['image/png'].hex}_{world.bank.id.hex}"
    assert "Hold back private.png" in officer.get(case_url(dispute_id)).get_data(as_text=True)
    sent = send_case(officer, app, dispute_id, **{f"hold_{key}": "y", f"why_{key}": "Not about the loan."})
    assert sent.status_code == 302
    (bank,) = keys(app, world.bank.id)
    assert listed(app, bank, dispute_id) == {str(files["application/pdf"])}
    assert api_get(app, bank, f"/api/v1/disputes/{dispute_id}/evidence/{files['image/png']}").status_code == 404
    assert api_get(app, bank, f"/api/v1/disputes/{dispute_id}/evidence/{files['application/pdf']}").status_code == 200


@pytest.mark.parametrize("refused", ["stale", "illegal"])
def test_a_refused_send_sends_no_file(app, world, staff, sign_in, refused):
    dispute_id = file_case(app, world, "a", files=[Upload("mine.pdf", PDF)])
    assign_to(app, dispute_id, staff.officer, review=True)
    officer = as_user(app, sign_in, staff.officer)
    version = version_of(app, dispute_id)
    if refused == "stale":
        assert (
            post_form(
                officer, case_url(dispute_id, "/extend"), "extend", {"days": "3", "reason": "Busy"}, version=version
            ).status_code
            == 302
        )
        response = post_form(
            officer,
            case_url(dispute_id, "/move/waiting_for_furnisher"),
            "move-waiting_for_furnisher",
            {"note": "x"},
            version=version,
        )
        assert response.status_code == 409
    else:
        # Waiting for the subject: the case cannot be sent now.
        asked = post_form(
            officer,
            case_url(dispute_id, "/move/waiting_for_subject"),
            "move-waiting_for_subject",
            {"note": "Send the receipt."},
            version=version,
        )
        assert asked.status_code == 302
        response = send_case(officer, app, dispute_id)
        assert response.status_code != 302
        assert case_state(app, dispute_id).status is S.WAITING_FOR_SUBJECT
    with app.app_context():
        assert session().scalars(select(EvidenceShare)).all() == []
        assert session().scalar(select(Evidence.id)) is not None
