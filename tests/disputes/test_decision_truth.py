"""Decisions that cannot lie (issue 15, problem 1): each record's decision
starts from its furnisher's answer, a departure from the answer needs a
reason the outcome letter states, and some decisions are refused outright.
Every answer x outcome pair is tried through the pages, as the officer and
the subject meet them, with the furnisher answering through the API. The
decision is final only once confirmed on the check page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from portal.disputes.models import DisputeItem, DisputeOutcome, DisputeStatus, OutcomeLetter
from portal.extensions import session, vault
from portal.institutions.models import ApiScope, Institution
from portal.institutions.services import issue_api_key
from tests.officers import as_user, assign_to, case_state, case_url, file_case, post_form, version_of

S = DisputeStatus
ALLOWED, DEPARTURE, REFUSED = "allowed", "departure", "refused"
# What the furnisher did: answered one of three ways, was sent the case
# and had not answered, or was never sent it.
ANSWERS = ("verified_accurate", "corrected", "cannot_verify", "no_answer", "not_sent")
OUTCOMES = ("corrected", "deleted", "verified_accurate", "unverifiable")
EXPECTED = {
    ("verified_accurate", "verified_accurate"): ALLOWED,
    ("verified_accurate", "corrected"): REFUSED,  # no correction to apply
    ("verified_accurate", "deleted"): DEPARTURE,
    ("verified_accurate", "unverifiable"): DEPARTURE,
    ("corrected", "corrected"): ALLOWED,
    ("corrected", "deleted"): DEPARTURE,
    ("corrected", "verified_accurate"): DEPARTURE,  # kept although the furnisher said it was wrong
    ("corrected", "unverifiable"): DEPARTURE,
    ("cannot_verify", "deleted"): ALLOWED,
    ("cannot_verify", "unverifiable"): ALLOWED,
    ("cannot_verify", "verified_accurate"): DEPARTURE,  # never "verified" without a reason
    ("cannot_verify", "corrected"): REFUSED,
    ("no_answer", "deleted"): ALLOWED,
    ("no_answer", "unverifiable"): ALLOWED,
    ("no_answer", "verified_accurate"): DEPARTURE,
    ("no_answer", "corrected"): REFUSED,
    ("not_sent", "deleted"): ALLOWED,
    ("not_sent", "unverifiable"): ALLOWED,
    ("not_sent", "verified_accurate"): ALLOWED,  # the officer's own review: the letter says so
    ("not_sent", "corrected"): REFUSED,
}
# What the letter must say the furnisher did, and what it must never say.
SAYS = {
    "verified_accurate": "the furnisher reviewed it and confirmed it as accurate",
    "corrected": "the furnisher reviewed it and sent a correction",
    "cannot_verify": "the furnisher reviewed it and could not verify it",
    "no_answer": "the furnisher had not answered when the case was decided",
    "not_sent": "the furnisher was not asked; a compliance officer reviewed the record and the evidence",
}
NEVERTHELESS = {
    "verified_accurate": "The officer nevertheless kept the record as it is, because: ",
    "deleted": "The officer nevertheless deleted the record, because: ",
    "unverifiable": "The officer nevertheless marked the record as unverifiable, because: ",
}
WHY = "The contract <b>signed</b> in 2019 matches the record."
CORRECTION = {
    "category": "loan",
    "reference": "A-LOAN-1",
    "status": "settled",
    "negative": False,
    "ended_on": "2024-06-30",
    "details": {"currency": "CNY", "principal": "50000.00", "balance": "0.00"},
}


def test_the_table_covers_every_answer_and_outcome():
    assert set(EXPECTED) == {(a, o) for a in ANSWERS for o in OUTCOMES}


@pytest.fixture
def bank_key(app, world) -> str:
    with app.app_context():
        s = session()
        token = issue_api_key(s, s.get(Institution, world.bank.id), [ApiScope.FURNISH])
        s.commit()
    return token


def record_of(app, dispute_id):
    with app.app_context():
        return session().scalar(select(DisputeItem.record_id).where(DisputeItem.dispute_id == dispute_id))


def move(client, app, dispute_id, to, note=""):
    response = post_form(
        client, case_url(dispute_id, f"/move/{to}"), f"move-{to}", {"note": note}, version=version_of(app, dispute_id)
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]


def case_answered(app, world, staff, sign_in, bank_key, answer):
    """Person A's case about the bank's loan, held by the officer, under
    review again with the furnisher's `answer` (given through the API)."""
    dispute_id = file_case(app, world, "a")
    assign_to(app, dispute_id, staff.officer, review=True)
    officer = as_user(app, sign_in, staff.officer)
    if answer != "not_sent":
        move(officer, app, dispute_id, "waiting_for_furnisher", "Please check the balance.")
    if answer in ("verified_accurate", "corrected", "cannot_verify"):
        body = {"record_id": str(record_of(app, dispute_id)), "answer": answer, "reviewed": "The repayment ledger."}
        if answer == "corrected":
            body["correction"] = CORRECTION
        given = app.test_client().post(
            f"/api/v1/disputes/{dispute_id}/responses", json=body, headers={"Authorization": f"Bearer {bank_key}"}
        )
        assert given.status_code == 201, given.get_data(as_text=True)
    elif answer == "no_answer":
        move(officer, app, dispute_id, "under_review", "We decide without the furnisher's answer.")
    assert case_state(app, dispute_id).status is S.UNDER_REVIEW
    return dispute_id, officer


def fields(app, dispute_id, outcome, why="", reason="Decided on the evidence."):
    record = record_of(app, dispute_id)
    return {f"record_{record.hex}": outcome, f"why_{record.hex}": why, "reason": reason}


def decide(client, app, dispute_id, given, **extra):
    return post_form(
        client, case_url(dispute_id, "/decide"), "decide", {**given, **extra}, version=version_of(app, dispute_id)
    )


def letters(app) -> int:
    with app.app_context():
        return session().scalar(select(func.count()).select_from(OutcomeLetter))


def letter_section(html: str) -> str:
    found = re.search(r'<section class="letter".*?</section>', html, re.S)
    assert found, "no outcome letter on the page"
    return found.group(0)


def subject_letter(app, sign_in, world, dispute_id) -> str:
    page = as_user(app, sign_in, world.user_a).get(f"/subjects/{world.person_a.id}/disputes/{dispute_id}")
    return letter_section(page.get_data(as_text=True))


@pytest.mark.parametrize(("answer", "outcome"), sorted(EXPECTED), ids=[f"{a}-{o}" for a, o in sorted(EXPECTED)])
def test_each_answer_and_outcome(app, world, staff, sign_in, bank_key, answer, outcome):
    dispute_id, officer = case_answered(app, world, staff, sign_in, bank_key, answer)
    rule = EXPECTED[(answer, outcome)]
    version = version_of(app, dispute_id)
    page = officer.get(case_url(dispute_id)).get_data(as_text=True)
    if answer != "not_sent" and answer != "no_answer":
        assert "The furnisher's answer:" in page

    if rule == REFUSED:
        for why in ("", WHY):  # no reason makes a correction out of nothing
            response = decide(officer, app, dispute_id, fields(app, dispute_id, outcome, why))
            assert response.status_code == 200
            assert "No correction has been furnished" in response.get_data(as_text=True)
            assert "Check your decision" not in response.get_data(as_text=True)
        assert (case_state(app, dispute_id).status, letters(app)) == (S.UNDER_REVIEW, 0)
        assert version_of(app, dispute_id) == version
        return

    if rule == DEPARTURE:
        refused = decide(officer, app, dispute_id, fields(app, dispute_id, outcome))
        body = refused.get_data(as_text=True)
        assert refused.status_code == 200
        assert "departs from the furnisher&#39;s answer: say why" in body
        assert "Check your decision" not in body
        assert (case_state(app, dispute_id).status, letters(app)) == (S.UNDER_REVIEW, 0)

    why = WHY if rule == DEPARTURE else ""
    given = fields(app, dispute_id, outcome, why)
    check = decide(officer, app, dispute_id, given)
    html = check.get_data(as_text=True)
    assert check.status_code == 200, html[:3000]
    assert "Check your decision" in html
    assert "Confirm and send" in html
    assert "departs from the furnisher's answer" in html if rule == DEPARTURE else "departs" not in html
    # Checking writes nothing.
    assert (case_state(app, dispute_id).status, letters(app), version_of(app, dispute_id)) == (
        S.UNDER_REVIEW,
        0,
        version,
    )

    done = decide(officer, app, dispute_id, given, confirm="1")
    assert done.status_code == 302, done.get_data(as_text=True)[:3000]
    state = case_state(app, dispute_id)
    assert (state.status, state.outcome) == (S.RESOLVED, DisputeOutcome(outcome))

    letter = subject_letter(app, sign_in, world, dispute_id)
    assert SAYS[answer] in letter
    for other, words in SAYS.items():
        if other != answer:
            assert words not in letter, other
    if rule == DEPARTURE:
        assert NEVERTHELESS[outcome] + "The contract &lt;b&gt;signed&lt;/b&gt; in 2019" in letter
    else:
        assert "nevertheless" not in letter
    if outcome == "verified_accurate" and rule == DEPARTURE:
        # Kept, and said so: never "verified as accurate" when the furnisher did not confirm it.
        assert "Kept as it is (not confirmed by the furnisher)" in letter
        assert "Verified as accurate" not in letter


def test_the_form_starts_each_record_from_its_answer_below_the_evidence(app, world, staff, sign_in, bank_key):
    dispute_id, officer = case_answered(app, world, staff, sign_in, bank_key, "cannot_verify")
    page = officer.get(case_url(dispute_id)).get_data(as_text=True)
    record = record_of(app, dispute_id)
    # Read first: the evidence and the answers come before the form, linked from the top.
    assert 'href="#decide"' in page
    assert page.index('id="evidence-title"') < page.index('id="decide"')
    assert page.index('id="answers-title"') < page.index('id="decide"')
    # "Cannot verify" starts the record at "unverifiable", never at "verified as accurate".
    select_html = re.search(rf'<select[^>]*name="decide-record_{record.hex}".*?</select>', page, re.S).group(0)
    assert '<option selected value="unverifiable">' in select_html
    assert "The furnisher's answer: <strong>Cannot verify</strong>" in page


def test_change_brings_the_form_back_with_the_choices_kept(app, world, staff, sign_in, bank_key):
    dispute_id, officer = case_answered(app, world, staff, sign_in, bank_key, "cannot_verify")
    record = record_of(app, dispute_id)
    given = fields(app, dispute_id, "verified_accurate", WHY, reason="Kept <i>after</i> review.")
    assert "Check your decision" in decide(officer, app, dispute_id, given).get_data(as_text=True)
    back = decide(officer, app, dispute_id, given, change="1")
    html = back.get_data(as_text=True)
    assert back.status_code == 200
    assert "Check your decision" not in html
    select_html = re.search(rf'<select[^>]*name="decide-record_{record.hex}".*?</select>', html, re.S).group(0)
    assert '<option selected value="verified_accurate">' in select_html
    assert "The contract &lt;b&gt;signed&lt;/b&gt; in 2019 matches the record.</textarea>" in html
    assert "Kept &lt;i&gt;after&lt;/i&gt; review.</textarea>" in html
    assert (case_state(app, dispute_id).status, letters(app)) == (S.UNDER_REVIEW, 0)


def test_a_check_page_gone_stale_is_refused_on_confirming(app, world, staff, sign_in, bank_key):
    dispute_id, officer = case_answered(app, world, staff, sign_in, bank_key, "verified_accurate")
    seen = version_of(app, dispute_id)
    given = fields(app, dispute_id, "verified_accurate")
    assert "Check your decision" in decide(officer, app, dispute_id, given).get_data(as_text=True)
    # Meanwhile the case moves on (a second tab extends the deadline).
    extended = post_form(
        officer, case_url(dispute_id, "/extend"), "extend", {"days": "5", "reason": "Court papers"}, version=seen
    )
    assert extended.status_code == 302
    stale = post_form(officer, case_url(dispute_id, "/decide"), "decide", {**given, "confirm": "1"}, version=seen)
    assert stale.status_code == 409
    assert "This case was changed by someone else in the meantime; reload it." in stale.get_data(as_text=True)
    assert (case_state(app, dispute_id).status, letters(app)) == (S.UNDER_REVIEW, 0)


def test_the_letter_states_the_departure_in_the_email_and_the_pdf(app, world, staff, sign_in, bank_key):
    from portal.notifications.models import Message

    dispute_id, officer = case_answered(app, world, staff, sign_in, bank_key, "cannot_verify")
    given = fields(app, dispute_id, "verified_accurate", WHY)
    assert decide(officer, app, dispute_id, given, confirm="1").status_code == 302
    with app.app_context():
        s = session()
        message = s.scalar(
            select(Message).where(Message.user_id == world.user_a.id).order_by(Message.created_at.desc())
        )
        text = vault().cipher(s, message.data_key_id).open_field(message, "body") or ""
    # The reader's language is Chinese by default: the reason is the officer's own words, as written.
    assert WHY in text
    assert "confirmed it as accurate" not in text
    subject = as_user(app, sign_in, world.user_a)
    pdf = subject.get(f"/subjects/{world.person_a.id}/disputes/{dispute_id}/letter.pdf")
    assert pdf.status_code == 200
    assert pdf.mimetype == "application/pdf"
