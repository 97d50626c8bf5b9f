"""The subject's dispute pages, through real requests with CSRF: filing from
the report (one or several records) and from the access log, every way the
form can be refused (nothing written, nothing typed lost), the confirmation,
the list and the dashboard, replies, withdrawal, evidence downloads, and
firm agents with and without the file_disputes scope."""

from __future__ import annotations

import io
import re
import uuid

import pytest
from sqlalchemy import func, select

from portal.accounts.models import FirmDelegation, Role, User
from portal.accounts.services import create_user
from portal.audit.events import record_event
from portal.audit.models import EventKind
from portal.disputes import lifecycle, services
from portal.disputes.evidence import MAX_BYTES, Upload
from portal.disputes.models import Dispute, DisputeItem, DisputeStatus, DisputeStep, Evidence, StepKind
from portal.disputes.pages import short_reference
from portal.extensions import session, vault
from portal.notifications import services as notifications
from portal.records.models import CreditRecord, Subject

from .conftest import EXE, PDF, PNG

TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
STATEMENT = "The balance is wrong: I repaid <b>all</b> of it in 2024."


# -- helpers (the other dispute page tests use them too) -------------------------------
def english(client):
    client.set_cookie("lang", "en")
    return client


def signed(app, sign_in, user):
    return english(sign_in(app.test_client(), user))


def token(client, page: str) -> str:
    return TOKEN.search(client.get(page).get_data(as_text=True)).group(1)


def records_of(app, subject) -> list[uuid.UUID]:
    with app.app_context():
        return list(
            session().scalars(
                select(CreditRecord.id)
                .where(CreditRecord.subject_id == subject.id)
                .order_by(CreditRecord.created_at, CreditRecord.id)
            )
        )


def file_dispute(
    app, subject, user, record_ids, reason="wrong_amount", statement=STATEMENT, files=(), event_id=None
) -> uuid.UUID:
    """A dispute filed through the service, committed."""
    with app.app_context():
        s, v = session(), vault()
        d = services.file_dispute(
            s,
            v,
            s.get(Subject, subject.id),
            s.get(User, user.id),
            record_ids,
            reason,
            statement,
            files=list(files),
            access_event_id=event_id,
        )
        s.commit()
        return d.id


def make_officer(app, email="officer@test.example") -> uuid.UUID:
    with app.app_context():
        officer = create_user(session(), vault(), role=Role.OFFICER, email=email, display_name="Officer Wang")
        session().commit()
        return officer.id


def move(app, dispute_id, officer_id, *statuses, note=None):
    with app.app_context():
        s, v = session(), vault()
        d, officer = s.get(Dispute, dispute_id), s.get(User, officer_id)
        for to in statuses:
            lifecycle.advance(s, v, d, to, officer, note=note if to == DisputeStatus.WAITING_FOR_SUBJECT else None)
        s.commit()


def institution_query(app, subject, bank) -> uuid.UUID:
    with app.app_context():
        s, v = session(), vault()
        event = record_event(
            s,
            v,
            s.get(Subject, subject.id),
            EventKind.INSTITUTION_QUERY,
            channel="api",
            institution_id=bank.id,
            purpose="loan_approval",
        )
        s.commit()
        return event.id


def counts(app) -> dict[str, int]:
    with app.app_context():
        return {
            m.__name__: session().scalar(select(func.count()).select_from(m))
            for m in (Dispute, DisputeItem, DisputeStep, Evidence)
        }


def new_url(subject) -> str:
    return f"/subjects/{subject.id}/disputes/new"


def filing(client, subject, record_ids=(), files=(), event_id=None, **fields):
    """POST the filing form as a browser does (multipart, CSRF token)."""
    page = new_url(subject) + "?" + "&".join(f"record={r}" for r in record_ids)
    data = {
        "csrf_token": token(client, page),
        "reason": "wrong_amount",
        "statement": STATEMENT,
        "records": [str(r) for r in record_ids],
        **fields,
    }
    if event_id:
        data["event"] = str(event_id)
    data["evidence"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post(new_url(subject), data=data, content_type="multipart/form-data")


def dispute_ids(app, subject) -> list[uuid.UUID]:
    with app.app_context():
        return list(
            session().scalars(select(Dispute.id).where(Dispute.subject_id == subject.id).order_by(Dispute.filed_at))
        )


def checked(html: str, value) -> bool:
    return re.search(rf'<input checked[^>]*value="{value}"', html) is not None


# -- filing from the report ---------------------------------------------------------------
def test_the_report_offers_to_dispute_each_record_and_a_selection(app, world, sign_in):
    loan, card = records_of(app, world.person_a)
    client = signed(app, sign_in, world.user_a)
    report = client.get(f"/subjects/{world.person_a.id}/report").get_data(as_text=True)
    assert f'action="{new_url(world.person_a)}"' in report
    assert 'method="get"' in report
    assert report.count('name="record"') == 2
    assert report.count(">Dispute this record</a>") == 2
    assert f"{new_url(world.person_a)}?record={loan}" in report
    page = client.get(f"{new_url(world.person_a)}?record={loan}&record={card}").get_data(as_text=True)
    assert checked(page, loan)
    assert checked(page, card)
    assert "Test Bank" in page
    assert 'enctype="multipart/form-data"' in page
    assert "At most 2000 characters" in page
    # Nothing preselected: every record is offered, none ticked.
    page = client.get(new_url(world.person_a)).get_data(as_text=True)
    assert str(loan) in page
    assert str(card) in page
    assert not checked(page, loan)
    # Another subject's record, or something that is not an id: not found.
    (loan_b,) = records_of(app, world.person_b)
    assert client.get(f"{new_url(world.person_a)}?record={loan_b}").status_code == 404
    assert client.get(f"{new_url(world.person_a)}?record=nope").status_code == 404


def test_filing_one_record_confirms_with_the_due_date_and_acknowledges_receipt(app, world, sign_in):
    loan, card = records_of(app, world.person_a)
    client = signed(app, sign_in, world.user_a)
    response = filing(client, world.person_a, [loan], files=[("receipt.pdf", PDF)])
    assert response.status_code == 302
    (dispute_id,) = dispute_ids(app, world.person_a)
    assert response.headers["Location"].endswith(f"/subjects/{world.person_a.id}/disputes/{dispute_id}")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your dispute was filed. It will be answered by" in page
    assert short_reference(dispute_id) in page
    assert "Answer due" in page
    assert re.search(r"\d+ days left", page)
    assert "&lt;b&gt;all&lt;/b&gt;" in page
    assert "<b>all</b>" not in page
    assert "receipt.pdf" in page  # under the name it was uploaded with
    assert "(PDF," in page
    assert "Dispute filed" in page
    assert "by you" in page
    with app.app_context():
        s, v = session(), vault()
        d = s.get(Dispute, dispute_id)
        assert [i.record_id for i in d.items] == [loan]
        assert d.status is DisputeStatus.SUBMITTED
        assert services.statement(s, v, d) == STATEMENT
        messages, _total = notifications.inbox(s, v, s.get(User, world.user_a.id))
    (receipt,) = messages
    assert short_reference(dispute_id) in receipt.title
    assert receipt.email == "a@test.example"
    # The record is marked at once.
    report = client.get(f"/subjects/{world.person_a.id}/report").get_data(as_text=True)
    assert report.count("Under dispute") == 1


def test_filing_several_records_at_once(app, world, sign_in):
    loan, card = records_of(app, world.person_a)
    client = signed(app, sign_in, world.user_a)
    assert filing(client, world.person_a, [loan, card], reason="not_mine").status_code == 302
    (dispute_id,) = dispute_ids(app, world.person_a)
    with app.app_context():
        d = session().get(Dispute, dispute_id)
        assert {i.record_id for i in d.items} == {loan, card}
        assert d.reason.value == "not_mine"
    page = client.get(f"/subjects/{world.person_a.id}/disputes/{dispute_id}").get_data(as_text=True)
    assert page.count("See it in the report") == 2
    assert "This is not mine" in page


def test_a_pdf_renamed_png_is_accepted_as_a_pdf(app, world, sign_in):
    loan, _card = records_of(app, world.person_a)
    client = signed(app, sign_in, world.user_a)
    assert filing(client, world.person_a, [loan], files=[("scan.png", PDF), ("photo.jpg", PNG)]).status_code == 302
    with app.app_context():
        kinds = sorted(session().scalars(select(Evidence.media_type)))
    assert kinds == ["application/pdf", "image/png"]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([("setup.pdf", EXE)], "“setup.pdf” is not a PDF, PNG or JPEG file"),
        ([("big.pdf", b"%PDF-" + b"0" * MAX_BYTES)], "“big.pdf” is larger than 10 MB"),
        ([(f"{n}.png", PNG) for n in range(6)], "A dispute holds at most 5 files; 6 were chosen."),
        ([("empty.pdf", b"")], "“empty.pdf” is empty."),
    ],
    ids=["executable renamed pdf", "too large", "six files", "empty"],
)
def test_a_refused_file_keeps_everything_typed_and_writes_nothing(app, world, sign_in, files, message):
    loan, card = records_of(app, world.person_a)
    client = signed(app, sign_in, world.user_a)
    before = counts(app)
    response = filing(client, world.person_a, [loan, card], files=files, reason="paid_or_settled")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert message in html
    assert 'id="evidence-error"' in html
    assert 'aria-describedby="evidence-hint evidence-error"' in html
    assert "&lt;b&gt;all&lt;/b&gt;" in html  # the statement is kept (escaped)
    assert 'selected value="paid_or_settled"' in html
    assert checked(html, loan)
    assert checked(html, card)
    assert "Files are not kept when the form has an error: choose them again." in html
    assert counts(app) == before == {"Dispute": 0, "DisputeItem": 0, "DisputeStep": 0, "Evidence": 0}


def test_a_request_over_the_size_limit_says_what_is_accepted_and_writes_nothing(make_app, world, sign_in):
    app = make_app(MAX_CONTENT_LENGTH=64 * 1024)  # the limit, made small to test it cheaply
    loan, _card = records_of(app, world.person_a)
    client = signed(app, sign_in, world.user_a)
    response = filing(client, world.person_a, [loan], files=[("big.pdf", b"%PDF-" + b"0" * 100_000)])
    html = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "File too large" in html
    assert "up to 10 MB each, five per dispute" in html
    assert "back button" in html
    assert counts(app) == {"Dispute": 0, "DisputeItem": 0, "DisputeStep": 0, "Evidence": 0}


def test_an_empty_statement_or_no_record_is_refused_next_to_the_field(app, world, sign_in):
    loan, _card = records_of(app, world.person_a)
    client = signed(app, sign_in, world.user_a)
    html = filing(client, world.person_a, [loan], statement="   ", reason="outdated").get_data(as_text=True)
    assert 'id="statement-error"' in html
    assert "Say what is wrong and what it should be." in html
    assert checked(html, loan)
    assert 'selected value="outdated"' in html
    html = filing(client, world.person_a, [], reason="").get_data(as_text=True)
    assert "Choose at least one record." in html
    assert "Choose what is wrong." in html
    assert "&lt;b&gt;all&lt;/b&gt;" in html
    too_long = filing(client, world.person_a, [loan], statement="x" * 2001).get_data(as_text=True)
    assert "The statement is at most 2000 characters." in too_long
    assert counts(app)["Dispute"] == 0


def test_a_duplicate_of_an_open_dispute_is_refused_with_a_link_to_it(app, world, sign_in):
    loan, card = records_of(app, world.person_a)
    first = file_dispute(app, world.person_a, world.user_a, [loan, card])
    client = signed(app, sign_in, world.user_a)
    response = filing(client, world.person_a, [card])
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "An open dispute already covers this for the same reason." in html
    assert f'href="/subjects/{world.person_a.id}/disputes/{first}"' in html
    assert checked(html, card)
    assert "&lt;b&gt;all&lt;/b&gt;" in html
    assert dispute_ids(app, world.person_a) == [first]
    # Another reason is another dispute.
    assert filing(client, world.person_a, [card], reason="wrong_dates").status_code == 302


def test_filing_from_an_access_event(app, world, sign_in):
    event_id = institution_query(app, world.person_a, world.bank)
    client = signed(app, sign_in, world.user_a)
    log = client.get(f"/subjects/{world.person_a.id}/access").get_data(as_text=True)
    assert "I did not authorise this" in log
    page = client.get(f"{new_url(world.person_a)}?event={event_id}").get_data(as_text=True)
    assert "The access you did not authorise" in page
    assert "Test Bank" in page
    assert "Loan approval" in page
    assert 'selected value="unauthorised_access"' in page
    assert 'name="records"' not in page
    response = filing(
        client, world.person_a, [], event_id=event_id, reason="unauthorised_access", files=[("letter.jpg", PDF)]
    )
    assert response.status_code == 302
    (dispute_id,) = dispute_ids(app, world.person_a)
    with app.app_context():
        d = session().get(Dispute, dispute_id)
        assert d.access_event_id == event_id
        assert d.items == []
        assert len(d.evidence) == 1
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "An access you did not authorise" in shown
    assert "Test Bank" in shown
    # The log now links to the dispute instead of offering to file another.
    log = client.get(f"/subjects/{world.person_a.id}/access").get_data(as_text=True)
    assert "Disputed: see the dispute" in log
    assert f"/disputes/{dispute_id}" in log
    assert f"event={event_id}" not in log
    # Another subject's event is not found.
    other = institution_query(app, world.person_b, world.bank)
    assert client.get(f"{new_url(world.person_a)}?event={other}").status_code == 404


# -- the list and the dashboard -------------------------------------------------------------
def test_the_list_puts_open_disputes_first_with_days_left_or_outcome(app, world, sign_in):
    client = signed(app, sign_in, world.user_a)
    url = f"/subjects/{world.person_a.id}/disputes"
    assert "No dispute has been filed." in client.get(url).get_data(as_text=True)
    loan, card = records_of(app, world.person_a)
    closed = file_dispute(app, world.person_a, world.user_a, [loan], reason="outdated")
    with app.app_context():
        s, v = session(), vault()
        lifecycle.advance(s, v, s.get(Dispute, closed), DisputeStatus.WITHDRAWN, s.get(User, world.user_a.id))
        s.commit()
    opened = file_dispute(app, world.person_a, world.user_a, [card])
    html = client.get(url).get_data(as_text=True)
    assert html.index(short_reference(opened)) < html.index(short_reference(closed))
    assert "Withdrawn" in html
    assert "Received" in html
    assert re.search(r"\d+ days left", html)
    assert "2 disputes" in html
    assert "1 open" in html
    assert client.get(url, query_string={"page": "2"}).status_code == 404
    assert client.get(url, query_string={"page": "x"}).status_code == 404


def test_the_list_has_pages(app, world, sign_in):
    loan, _card = records_of(app, world.person_a)
    with app.app_context():
        s, v = session(), vault()
        a, user = s.get(Subject, world.person_a.id), s.get(User, world.user_a.id)
        for n in range(21):
            d = services.file_dispute(s, v, a, user, [loan], "other", f"number {n}")
            lifecycle.advance(s, v, d, DisputeStatus.WITHDRAWN, user)
        s.commit()
    client = signed(app, sign_in, world.user_a)
    url = f"/subjects/{world.person_a.id}/disputes"
    first = client.get(url).get_data(as_text=True)
    assert "Page 1 of 2" in first
    assert first.count('<tr class="closed">') == 20
    assert client.get(url, query_string={"page": "2"}).get_data(as_text=True).count('<tr class="closed">') == 1


def test_the_dashboard_counts_open_disputes(app, world, sign_in):
    client = signed(app, sign_in, world.user_a)
    dashboard = f"/subjects/{world.person_a.id}"
    assert "Open disputes: none." in client.get(dashboard).get_data(as_text=True)
    loan, card = records_of(app, world.person_a)
    one = file_dispute(app, world.person_a, world.user_a, [loan])
    file_dispute(app, world.person_a, world.user_a, [card], reason="not_mine")
    html = client.get(dashboard).get_data(as_text=True)
    assert "2 open disputes" in html
    assert short_reference(one) in html
    assert f'href="/subjects/{world.person_a.id}/disputes"' in html


# -- on the dispute page --------------------------------------------------------------------
def test_evidence_downloads_as_an_attachment_of_the_stored_type(app, world, sign_in):
    loan, _card = records_of(app, world.person_a)
    dispute_id = file_dispute(app, world.person_a, world.user_a, [loan], files=[Upload("scan.png", PDF)])
    with app.app_context():
        evidence = session().scalar(select(Evidence))
        evidence_id, name = evidence.id, evidence.stored_name
    client = signed(app, sign_in, world.user_a)
    page = client.get(f"/subjects/{world.person_a.id}/disputes/{dispute_id}").get_data(as_text=True)
    url = f"/subjects/{world.person_a.id}/disputes/{dispute_id}/evidence/{evidence_id}"
    assert f'href="{url}"' in page
    response = client.get(url)
    assert response.status_code == 200
    assert response.data == PDF
    assert response.headers["Content-Type"] == "application/pdf"
    # The name it was uploaded with, with the extension of what was kept (the content decided it).
    assert response.headers["Content-Disposition"] == 'attachment; filename="scan.png.pdf"'
    assert "scan" not in name
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_adding_evidence_while_open_and_its_limits(app, world, sign_in):
    loan, _card = records_of(app, world.person_a)
    dispute_id = file_dispute(
        app, world.person_a, world.user_a, [loan], files=[Upload(f"{n}.png", PNG) for n in range(4)]
    )
    client = signed(app, sign_in, world.user_a)
    page = f"/subjects/{world.person_a.id}/disputes/{dispute_id}"
    url = f"{page}/evidence"
    too_many = client.post(
        url,
        data={
            "csrf_token": token(client, page),
            "note": "two more",
            "evidence": [(io.BytesIO(PDF), "a.pdf"), (io.BytesIO(PDF), "b.pdf")],
        },
        content_type="multipart/form-data",
    )
    html = too_many.get_data(as_text=True)
    assert too_many.status_code == 200
    assert "you may add 1 more" in html
    assert "two more</textarea>" in html
    nothing = client.post(url, data={"csrf_token": token(client, page)}, content_type="multipart/form-data")
    assert "Add a file or write a note." in nothing.get_data(as_text=True)
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(Evidence)) == 4
    done = client.post(
        url,
        data={"csrf_token": token(client, page), "evidence": [(io.BytesIO(PDF), "c.pdf")]},
        content_type="multipart/form-data",
    )
    assert done.status_code == 302
    html = client.get(page).get_data(as_text=True)
    assert "c.pdf" in html
    assert "1 file added" in html
    assert "holds the most files it can" in html


def test_replying_when_asked_keeps_the_status_and_the_pause(app, world, sign_in):
    loan, _card = records_of(app, world.person_a)
    dispute_id = file_dispute(app, world.person_a, world.user_a, [loan])
    officer_id = make_officer(app)
    move(
        app,
        dispute_id,
        officer_id,
        DisputeStatus.ACKNOWLEDGED,
        DisputeStatus.UNDER_REVIEW,
        DisputeStatus.WAITING_FOR_SUBJECT,
        note="Send the bank's <i>settlement letter</i>.",
    )
    with app.app_context():
        s, v = session(), vault()
        s.get(Dispute, dispute_id).assigned_officer_id = officer_id
        lifecycle.extend(
            s,
            v,
            s.get(Dispute, dispute_id),
            s.get(User, officer_id),
            10,
            "The furnisher's archive is closed for the holiday.",
        )
        s.commit()
    client = signed(app, sign_in, world.user_a)
    page = f"/subjects/{world.person_a.id}/disputes/{dispute_id}"
    html = client.get(page).get_data(as_text=True)
    assert "Waiting for you" in html
    assert "paused while we wait for you" in html
    assert "Send the bank&#39;s &lt;i&gt;settlement letter&lt;/i&gt;." in html
    assert "Deadline extended by 10 days" in html
    assert "archive is closed for the holiday" in html
    assert "by an officer" in html
    assert "Officer Wang" not in html
    assert "officer@test.example" not in html
    assert 'id="reply"' in html
    response = client.post(
        f"{page}/evidence",
        data={
            "csrf_token": token(client, page),
            "note": "Here it is.",
            "evidence": [(io.BytesIO(PDF), "settlement.pdf")],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    with app.app_context():
        s, v = session(), vault()
        d = s.get(Dispute, dispute_id)
        assert d.status is DisputeStatus.WAITING_FOR_SUBJECT
        assert d.paused_since is not None
        last = d.steps[-1]
        assert last.step is StepKind.EVIDENCE_ADDED
        assert last.actor_user_id == world.user_a.id
        assert v.cipher(s, s.get(Subject, world.person_a.id).data_key_id).open_field(last, "note") == "Here it is."
        # The officer on the case hears of it.
        assert notifications.unread_count(s, s.get(User, officer_id)) == 1
    html = client.get(page).get_data(as_text=True)
    assert "Here it is." in html
    assert "1 file added" in html


def test_withdrawing_asks_for_confirmation_then_clears_the_mark(app, world, sign_in):
    loan, _card = records_of(app, world.person_a)
    dispute_id = file_dispute(app, world.person_a, world.user_a, [loan])
    client = signed(app, sign_in, world.user_a)
    page = f"/subjects/{world.person_a.id}/disputes/{dispute_id}"
    assert f'href="{page}/withdraw"' in client.get(page).get_data(as_text=True)
    confirm = client.get(f"{page}/withdraw").get_data(as_text=True)
    assert "Withdraw dispute" in confirm
    assert "No, keep the dispute" in confirm
    with app.app_context():
        assert session().get(Dispute, dispute_id).status is DisputeStatus.SUBMITTED  # asking changed nothing
    version = re.search(r'name="version" type="hidden" value="(\d+)"', confirm).group(1)
    response = client.post(
        f"{page}/withdraw",
        data={"csrf_token": TOKEN.search(confirm).group(1), "version": version, "note": "Sorted out with the bank."},
    )
    assert response.status_code == 302
    html = client.get(page).get_data(as_text=True)
    assert "Your dispute was withdrawn." in html
    assert "Withdrawn" in html
    assert 'id="reply"' not in html
    assert "Sorted out with the bank." in html
    with app.app_context():
        assert session().get(Dispute, dispute_id).status is DisputeStatus.WITHDRAWN
    assert "Under dispute" not in client.get(f"/subjects/{world.person_a.id}/report").get_data(as_text=True)
    again = client.get(f"{page}/withdraw")
    assert again.status_code == 302
    assert again.headers["Location"].endswith(page)


def test_a_withdrawal_after_someone_else_moved_the_case_is_not_applied(app, world, sign_in):
    loan, _card = records_of(app, world.person_a)
    dispute_id = file_dispute(app, world.person_a, world.user_a, [loan])
    client = signed(app, sign_in, world.user_a)
    page = f"/subjects/{world.person_a.id}/disputes/{dispute_id}"
    confirm = client.get(f"{page}/withdraw").get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', confirm).group(1)
    move(app, dispute_id, make_officer(app), DisputeStatus.ACKNOWLEDGED)
    response = client.post(f"{page}/withdraw", data={"csrf_token": TOKEN.search(confirm).group(1), "version": version})
    assert response.status_code == 302
    assert "changed in the meantime" in client.get(page).get_data(as_text=True)
    with app.app_context():
        assert session().get(Dispute, dispute_id).status is DisputeStatus.ACKNOWLEDGED
    # A form without its version (or a garbled one) is treated as stale too.
    for garbled in ("", "x1", "9" * 12):
        client.post(f"{page}/withdraw", data={"csrf_token": TOKEN.search(confirm).group(1), "version": garbled})
        with app.app_context():
            assert session().get(Dispute, dispute_id).status is DisputeStatus.ACKNOWLEDGED


# -- firm agents --------------------------------------------------------------------------
def test_a_firm_agent_with_file_disputes_files_and_follows_them(app, world, sign_in):
    (loan_f,) = records_of(app, world.firm_f)
    institution_query(app, world.firm_f, world.bank)
    agent = signed(app, sign_in, world.agent_f)
    report = agent.get(f"/subjects/{world.firm_f.id}/report").get_data(as_text=True)
    assert "Dispute this record" in report
    assert "I did not authorise this" in agent.get(f"/subjects/{world.firm_f.id}/access").get_data(as_text=True)
    assert filing(agent, world.firm_f, [loan_f], files=[("invoice.pdf", PDF)]).status_code == 302
    (dispute_id,) = dispute_ids(app, world.firm_f)
    page = agent.get(f"/subjects/{world.firm_f.id}/disputes/{dispute_id}")
    assert page.status_code == 200
    assert "by you" in page.get_data(as_text=True)
    assert agent.get(f"/subjects/{world.firm_f.id}/disputes").status_code == 200
    with app.app_context():
        s, v = session(), vault()
        # The representative and the agent who filed it are both told.
        for user_id in (world.rep_f.id, world.agent_f.id):
            titles = [m.title for m in notifications.inbox(s, v, s.get(User, user_id))[0]]
            assert any(short_reference(dispute_id) in t for t in titles), user_id
        # The agent's actions are recorded as the use of the delegation.
        kinds = s.scalars(select(DisputeStep.step).where(DisputeStep.dispute_id == dispute_id)).all()
        assert kinds == [StepKind.FILED]
    # The representative sees it too.
    rep = signed(app, sign_in, world.rep_f)
    assert rep.get(f"/subjects/{world.firm_f.id}/disputes/{dispute_id}").status_code == 200


def test_a_firm_agent_without_file_disputes_gets_nothing_of_disputes(app, world, sign_in):
    (loan_f,) = records_of(app, world.firm_f)
    institution_query(app, world.firm_f, world.bank)
    dispute_id = file_dispute(app, world.firm_f, world.rep_f, [loan_f], files=[Upload("a.pdf", PDF)])
    with app.app_context():
        s = session()
        delegation = s.scalar(select(FirmDelegation).where(FirmDelegation.agent_id == world.agent_f.id))
        delegation.scopes = ["view_report"]
        evidence_id = s.scalar(select(Evidence.id))
        s.commit()
    agent = signed(app, sign_in, world.agent_f)
    base = f"/subjects/{world.firm_f.id}/disputes"
    for url in (
        base,
        f"{base}/new",
        f"{base}/new?record={loan_f}",
        f"{base}/{dispute_id}",
        f"{base}/{dispute_id}/withdraw",
        f"{base}/{dispute_id}/evidence/{evidence_id}",
        f"{base}/{dispute_id}/letter.pdf",
    ):
        # Refused with a page saying what the authority covers (403), never the dispute itself.
        response = agent.get(url)
        assert response.status_code == 403, url
        assert "Case " not in response.get_data(as_text=True)
    t = token(agent, "/account")
    for url in (f"{base}/new", f"{base}/{dispute_id}/withdraw", f"{base}/{dispute_id}/evidence"):
        assert agent.post(url, data={"csrf_token": t}).status_code == 403, url
    # The report and dashboard still show, without dispute actions.
    report = agent.get(f"/subjects/{world.firm_f.id}/report").get_data(as_text=True)
    assert "Under dispute" in report
    assert "Dispute this record" not in report
    assert 'name="record"' not in report
    dashboard = agent.get(f"/subjects/{world.firm_f.id}").get_data(as_text=True)
    assert "open dispute" not in dashboard
    assert base not in dashboard
    log = agent.get(f"/subjects/{world.firm_f.id}/access").get_data(as_text=True)
    assert "I did not authorise this" not in log
    with app.app_context():
        assert session().get(Dispute, dispute_id).status is DisputeStatus.SUBMITTED
