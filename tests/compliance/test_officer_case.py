"""The case page: what it shows, who acts on it (the assigned officer only),
each step as a form carrying the case's version, a stale page refused with
the typed text kept, evidence downloads, notes between officers, and the
CASE_VIEWED event."""

from __future__ import annotations

import pytest
from markupsafe import escape
from sqlalchemy import select

from portal.audit.events import open_detail
from portal.audit.models import AccessEvent, EventKind
from portal.db import new_id
from portal.disputes.evidence import Upload
from portal.disputes.models import (
    Answer,
    Dispute,
    DisputeItem,
    DisputeNote,
    DisputeOutcome,
    DisputeReason,
    DisputeStatus,
    DisputeStep,
    FurnisherResponse,
    OutcomeLetter,
    StepKind,
)
from portal.extensions import session, vault
from portal.records.models import Subject
from tests.cast import PDF, PNG
from tests.files import pdf_with_open_action_javascript
from tests.officers import as_user, assign_to, case_state, case_url, file_case, post_form, version_of, with_case

S = DisputeStatus
HOSTILE = '<script>alert("x")</script> & <b>bold</b>'


def events(app, subject_id, kind):
    """(actor, detail) of the subject's events of `kind`, oldest first."""
    with app.app_context():
        s, v = session(), vault()
        subject = s.get(Subject, subject_id)
        cipher = v.cipher(s, subject.data_key_id)
        rows = s.scalars(
            select(AccessEvent)
            .where(AccessEvent.subject_id == subject_id, AccessEvent.kind == kind)
            .order_by(AccessEvent.occurred_at)
        ).all()
        return [(e.actor_user_id, e.channel, open_detail(cipher, e)[0]) for e in rows]


def evidence_ids(app, dispute_id):
    with app.app_context():
        return [e.id for e in session().get(Dispute, dispute_id).evidence]


def answer(app, dispute_id, reviewed, kind=Answer.VERIFIED_ACCURATE):
    """The furnisher's answer, as the furnisher API stores it."""

    def go(s, v, d):
        item = s.scalar(select(DisputeItem).where(DisputeItem.dispute_id == d.id))
        subject = s.get(Subject, d.subject_id)
        from portal.records.models import CreditRecord

        record = s.get(CreditRecord, item.record_id)
        row = FurnisherResponse(
            id=new_id(), dispute_id=d.id, item_id=item.id, institution_id=record.furnisher_id, answer=kind
        )
        cipher = v.cipher(s, subject.data_key_id)
        cipher.seal_field(row, "reviewed", reviewed)
        if kind is Answer.CORRECTED:  # the record as it should read, waiting for the decision
            from portal.records.models import RecordStatus
            from portal.records.services import RecordInput

            cipher.seal_field(
                row,
                "correction",
                RecordInput(
                    record.category,
                    "A-LOAN-1",
                    RecordStatus.SETTLED,
                    False,
                    None,
                    {"currency": "CNY", "principal": "50000.00", "balance": "777.00"},
                ).to_json(),
            )
        s.add(row)

    with_case(app, dispute_id, go)


def decision(app, dispute_id, outcome, reason, **more):
    """The decision form's fields: `outcome` for every record of the case."""
    with app.app_context():
        records = session().scalars(select(DisputeItem.record_id).where(DisputeItem.dispute_id == dispute_id)).all()
    fields = {f"record_{r.hex}": outcome for r in records} if records else {"outcome": outcome}
    return {**fields, "reason": reason, **more}


def decide_confirmed(client, app, dispute_id, fields, version=None):
    """The decision form sent, its check page shown, then confirmed: the confirmation's answer."""
    version = version_of(app, dispute_id) if version is None else version
    checked = post_form(client, case_url(dispute_id, "/decide"), "decide", fields, version=version)
    assert checked.status_code == 200, checked.get_data(as_text=True)[:2000]
    assert "Check your decision" in checked.get_data(as_text=True)
    return post_form(client, case_url(dispute_id, "/decide"), "decide", {**fields, "confirm": "1"}, version=version)


# -- what the page shows ----------------------------------------------------------------
def test_the_case_page_shows_the_case_masked_and_escaped(app, world, staff, sign_in):
    dispute_id = file_case(app, world, "a", statement=HOSTILE, files=[Upload("scan.pdf", PDF)])
    answer(app, dispute_id, "The ledger <i>and</i> the contract")
    client = as_user(app, sign_in, staff.officer)
    response = client.get(case_url(dispute_id))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    # Typed text is escaped wherever it appears.
    assert HOSTILE not in page
    assert "<script>alert" not in page
    assert str(escape(HOSTILE)) in page
    # What the furnisher reviewed is for the officer holding the case.
    assert "The ledger" not in page
    assert "Shown to the officer holding the case." in page
    # The subject is masked; the record and its versions are there.
    assert "张**" in page
    assert "张三" not in page
    assert "1101************2X" in page
    assert "11010519491231002X" not in page
    assert "Test Bank" in page
    assert "Version 1" in page
    assert "Loans" in page
    assert "Verified as accurate" in page
    assert "Filed" in page
    # Not assigned: read-only, files listed without links, a "take" button.
    assert "You see this case read-only" in page
    assert "Take this case" in page
    assert "/evidence/" not in page
    assert ".pdf" in page
    assert 'name="note-text"' not in page
    assert f'action="/officer/cases/{dispute_id}/decide"' not in page
    assign_to(app, dispute_id, staff.officer)
    held = client.get(case_url(dispute_id)).get_data(as_text=True)
    assert "The ledger &lt;i&gt;and&lt;/i&gt; the contract" in held
    assert "<i>and</i>" not in held


def test_the_records_details_are_for_the_officer_holding_the_case(app, world, staff, sign_in):
    dispute_id = file_case(app, world, "a")
    onlooker = as_user(app, sign_in, staff.officer2).get(case_url(dispute_id)).get_data(as_text=True)
    assert "Loans" in onlooker
    assert "Version 1" in onlooker
    assert "Test Bank" in onlooker
    assert "A-LOAN-1" not in onlooker
    assert "50,000.00" not in onlooker
    assert "details (amounts, references, account numbers) are shown to the officer" in onlooker
    assign_to(app, dispute_id, staff.officer)
    holder = as_user(app, sign_in, staff.officer).get(case_url(dispute_id)).get_data(as_text=True)
    assert "A-LOAN-1" in holder
    assert "50,000.00" in holder
    assert "details (amounts, references, account numbers) are shown" not in holder


def test_an_onlooker_of_a_decided_case_sees_no_reference(app, world, staff, sign_in):
    dispute_id = file_case(app, world, "a")
    assign_to(app, dispute_id, staff.officer, review=True)
    holder = as_user(app, sign_in, staff.officer)
    assert (
        decide_confirmed(
            holder, app, dispute_id, decision(app, dispute_id, "deleted", "Not the subject's loan.")
        ).status_code
        == 302
    )
    assert "A-LOAN-1" in holder.get(case_url(dispute_id)).get_data(as_text=True)
    onlooker = as_user(app, sign_in, staff.officer2).get(case_url(dispute_id)).get_data(as_text=True)
    assert "Not the subject&#39;s loan." in onlooker
    assert "A-LOAN-1" not in onlooker
    assert "Shown to the officer holding the case." in onlooker


def test_a_refusal_from_the_rules_is_shown_in_the_readers_language(app, world, staff, sign_in):
    """The rules refuse in English (logs, the API, commands); a page shows
    the same refusal translated."""
    dispute_id = file_case(app, world, "a")
    assign_to(app, dispute_id, staff.officer, review=True)
    for client, wanted in (
        (sign_in(app.test_client(), staff.officer), "本案尚未收到更正数据"),  # the default
        (as_user(app, sign_in, staff.officer), "No correction has been furnished"),
    ):
        response = post_form(
            client,
            case_url(dispute_id, "/decide"),
            "decide",
            decision(app, dispute_id, "corrected", "更正"),
            version=version_of(app, dispute_id),
        )
        assert response.status_code == 200
        assert wanted in response.get_data(as_text=True)
    assert case_state(app, dispute_id).outcome is None


def test_a_proposed_correction_is_shown_for_review_and_applied_only_by_the_decision(app, world, staff, sign_in):
    dispute_id = file_case(app, world, "a")
    assign_to(app, dispute_id, staff.officer, review=True)
    answer(app, dispute_id, "The ledger", kind=Answer.CORRECTED)
    client = as_user(app, sign_in, staff.officer)
    page = client.get(case_url(dispute_id)).get_data(as_text=True)
    assert "Correction proposed by Test Bank" in page
    assert "777.00" in page
    assert "applied only if you decide" in page
    onlooker = as_user(app, sign_in, staff.officer2).get(case_url(dispute_id)).get_data(as_text=True)
    assert "Correction proposed by Test Bank" in onlooker
    assert "777.00" not in onlooker
    with app.app_context():
        from portal.records.models import CreditRecord

        assert (
            session().scalar(
                select(CreditRecord.current_version)
                .join(DisputeItem, DisputeItem.record_id == CreditRecord.id)
                .where(DisputeItem.dispute_id == dispute_id)
            )
            == 1
        )
    response = decide_confirmed(
        client, app, dispute_id, decision(app, dispute_id, "corrected", "The ledger shows 777.00.")
    )
    assert response.status_code == 302
    page = client.get(case_url(dispute_id)).get_data(as_text=True)
    assert "Version 2" in page
    assert "Correction proposed by" not in page
    with app.app_context():
        from portal.records.models import CreditRecord

        assert (
            session().scalar(
                select(CreditRecord.current_version)
                .join(DisputeItem, DisputeItem.record_id == CreditRecord.id)
                .where(DisputeItem.dispute_id == dispute_id)
            )
            == 2
        )


def test_opening_a_case_is_an_access_event_once_per_officer_and_day(app, world, staff, sign_in):
    dispute_id = file_case(app, world, "a")
    one = as_user(app, sign_in, staff.officer)
    for _ in range(3):
        assert one.get(case_url(dispute_id)).status_code == 200
    viewed = events(app, world.person_a.id, EventKind.CASE_VIEWED)
    assert len(viewed) == 1
    actor, channel, detail = viewed[0]
    assert actor == staff.officer.id
    assert channel == "staff"
    assert detail["dispute_id"] == str(dispute_id)
    assert detail["what"] == "case"
    as_user(app, sign_in, staff.officer2).get(case_url(dispute_id))
    assert [e[0] for e in events(app, world.person_a.id, EventKind.CASE_VIEWED)] == [
        staff.officer.id,
        staff.officer2.id,
    ]
    # Another case of the same subject is another view.
    second = file_case(app, world, "a", DisputeReason.NOT_MINE, record=1)
    one.get(case_url(second))
    assert len(events(app, world.person_a.id, EventKind.CASE_VIEWED)) == 3
    # The subject sees it in their access log.
    log = as_user(app, sign_in, world.user_a).get(f"/subjects/{world.person_a.id}/access").get_data(as_text=True)
    assert "Dispute case opened by an officer" in log


def test_unknown_cases_and_files_are_404(app, world, staff, sign_in):
    dispute_id = file_case(app, world, "a", files=[Upload("a.pdf", PDF)])
    other = file_case(app, world, "b", files=[Upload("b.png", PNG)])
    assign_to(app, dispute_id, staff.officer)
    client = as_user(app, sign_in, staff.officer)
    assert client.get(case_url(new_id())).status_code == 404
    assert client.get("/officer/cases/not-a-uuid").status_code == 404
    (other_file,) = evidence_ids(app, other)
    assert client.get(case_url(dispute_id, f"/evidence/{other_file}")).status_code == 404
    assert client.get(case_url(dispute_id, f"/evidence/{new_id()}")).status_code == 404
    assert (
        post_form(
            client, case_url(dispute_id, "/move/resolved"), "move-resolved", version=version_of(app, dispute_id)
        ).status_code
        == 404
    )


# -- who acts --------------------------------------------------------------------------------
def test_an_unassigned_officer_cannot_act_or_download(app, world, staff, sign_in):
    dispute_id = file_case(app, world, "a", files=[Upload("a.pdf", PDF)])
    assign_to(app, dispute_id, staff.officer, review=True)
    (evidence_id,) = evidence_ids(app, dispute_id)
    before = version_of(app, dispute_id)
    other = as_user(app, sign_in, staff.officer2)
    page = other.get(case_url(dispute_id)).get_data(as_text=True)
    assert "officer.one" in page
    assert "read-only" in page
    assert "Take this case" not in page
    attempts = [
        ("/move/waiting_for_furnisher", "move-waiting_for_furnisher", {}),
        ("/extend", "extend", {"days": "5", "reason": "busy"}),
        ("/decide", "decide", {"outcome": "verified_accurate", "reason": "fine"}),
        ("/notes", "note", {"text": "a note"}),
        ("/reveal", "reveal", {"reason": "curious"}),
        ("/take", "take", {}),
    ]
    for tail, prefix, fields in attempts:
        response = post_form(other, case_url(dispute_id, tail), prefix, fields, version=before)
        assert response.status_code == 403 if tail != "/take" else 200, tail
        assert (
            "Take this case before acting on it" if tail != "/take" else "already assigned to another officer"
        ) in response.get_data(as_text=True)
    assert other.get(case_url(dispute_id, f"/evidence/{evidence_id}")).status_code == 403
    state = case_state(app, dispute_id)
    assert state.status is S.UNDER_REVIEW
    assert state.lock_version == before
    assert state.assigned_officer_id == staff.officer.id
    assert events(app, world.person_a.id, EventKind.IDENTITY_REVEALED) == []
    with app.app_context():
        assert session().scalar(select(DisputeNote.id)) is None


def test_the_officer_sees_what_was_taken_out_of_a_file(app, world, staff, sign_in):
    """The subject is told what the disarm removed; so is the officer who
    opens the case, before opening the file."""
    dispute_id = file_case(app, world, "a", files=[Upload("armed.pdf", pdf_with_open_action_javascript())])
    assign_to(app, dispute_id, staff.officer)
    page = as_user(app, sign_in, staff.officer).get(case_url(dispute_id)).get_data(as_text=True)
    assert "Removed before it was kept: JavaScript, an action run on opening, automatic actions." in page
    plain = file_case(app, world, "b", files=[Upload("scan.pdf", PDF)])
    assign_to(app, plain, staff.officer)
    assert "Removed before it was kept" not in as_user(app, sign_in, staff.officer).get(case_url(plain)).get_data(
        as_text=True
    )


def test_the_assigned_officer_downloads_evidence_as_an_attachment(app, world, staff, sign_in):
    dispute_id = file_case(app, world, "a", files=[Upload("scan.pdf", PDF)])
    assign_to(app, dispute_id, staff.officer)
    client = as_user(app, sign_in, staff.officer)
    page = client.get(case_url(dispute_id)).get_data(as_text=True)
    with app.app_context():
        evidence = session().get(Dispute, dispute_id).evidence[0]
    assert case_url(dispute_id, f"/evidence/{evidence.id}") in page
    response = client.get(case_url(dispute_id, f"/evidence/{evidence.id}"))
    assert response.status_code == 200
    assert response.data == PDF
    assert response.headers["Content-Disposition"] == 'attachment; filename="scan.pdf"'  # the name it was sent with
    assert response.headers["Cache-Control"] == "no-store"
    assert response.mimetype == "application/pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    downloads = [d for _a, _c, d in events(app, world.person_a.id, EventKind.CASE_VIEWED) if d["what"] == "evidence"]
    assert downloads == [
        {"dispute_id": str(dispute_id), "what": "evidence", "evidence_id": str(evidence.id), "role": "officer"}
    ]


def test_the_assigned_officer_works_the_case_step_by_step(app, world, staff, sign_in):
    dispute_id = file_case(app, world, "a")
    client = as_user(app, sign_in, staff.officer)
    assert (
        post_form(client, case_url(dispute_id, "/take"), "take", version=version_of(app, dispute_id)).status_code == 302
    )
    page = client.get(case_url(dispute_id)).get_data(as_text=True)
    assert "The case is assigned to you." in page
    assert "Acknowledge" in page
    assert "Reveal the name" in page
    assert 'name="decide-reason"' not in page  # decided only under review

    def step(to, note="", expect=302):
        response = post_form(
            client,
            case_url(dispute_id, f"/move/{to}"),
            f"move-{to}",
            {"note": note},
            version=version_of(app, dispute_id),
        )
        assert response.status_code == expect, response.get_data(as_text=True)[:2000]
        return response

    step("acknowledged")
    step("under_review", "We are looking into it.")
    assert case_state(app, dispute_id).status is S.UNDER_REVIEW
    # Asking the subject needs a note: refused next to the field, nothing changed.
    response = step("waiting_for_subject", "", expect=200)
    assert "Say what the subject is asked for." in response.get_data(as_text=True)
    assert case_state(app, dispute_id).status is S.UNDER_REVIEW
    step("waiting_for_subject", "Send the repayment receipt.")
    assert case_state(app, dispute_id).paused_since is not None
    step("under_review")

    # Extending needs days and a reason.
    response = post_form(
        client,
        case_url(dispute_id, "/extend"),
        "extend",
        {"days": "90", "reason": ""},
        version=version_of(app, dispute_id),
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Between 1 and 60 days." in body
    assert "An extension needs a reason." in body
    due = case_state(app, dispute_id).due_on
    assert (
        post_form(
            client,
            case_url(dispute_id, "/extend"),
            "extend",
            {"days": "10", "reason": "Waiting for the court"},
            version=version_of(app, dispute_id),
        ).status_code
        == 302
    )
    assert (case_state(app, dispute_id).due_on - due).days == 10

    # A decision needs a reason, and an outcome of this kind of case.
    response = post_form(
        client,
        case_url(dispute_id, "/decide"),
        "decide",
        decision(app, dispute_id, "verified_accurate", "   "),
        version=version_of(app, dispute_id),
    )
    assert response.status_code == 200
    assert "A decision needs a reason." in response.get_data(as_text=True)
    response = post_form(
        client,
        case_url(dispute_id, "/decide"),
        "decide",
        decision(app, dispute_id, "repaired", "ok"),
        version=version_of(app, dispute_id),
    )
    assert response.status_code == 200
    assert "Not a valid choice" in response.get_data(as_text=True)
    response = post_form(
        client,
        case_url(dispute_id, "/decide"),
        "decide",
        decision(app, dispute_id, "corrected", "Corrected <b>now</b>"),
        version=version_of(app, dispute_id),
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "No correction has been furnished" in body
    assert "Corrected &lt;b&gt;now&lt;/b&gt;" in body  # what was typed is kept
    state = case_state(app, dispute_id)
    assert state.status is S.UNDER_REVIEW
    assert state.outcome is None
    with app.app_context():
        assert session().scalar(select(OutcomeLetter.id)) is None

    response = decide_confirmed(
        client, app, dispute_id, decision(app, dispute_id, "verified_accurate", "The bank's ledger matches.")
    )
    assert response.status_code == 302
    state = case_state(app, dispute_id)
    assert state.status is S.RESOLVED
    assert state.outcome is DisputeOutcome.VERIFIED_ACCURATE
    page = client.get(case_url(dispute_id)).get_data(as_text=True)
    assert "Outcome letter" in page
    assert "The bank&#39;s ledger matches." in page
    assert 'name="move-' not in page
    assert "Extend the deadline" not in page
    with app.app_context():
        steps = [
            s.step.value
            for s in session().scalars(
                select(DisputeStep).where(DisputeStep.dispute_id == dispute_id).order_by(DisputeStep.at)
            )
        ]
    assert steps == [
        "filed",
        "assigned",
        "acknowledged",
        "under_review",
        "waiting_for_subject",
        "under_review",
        "extended",
        "resolved",
    ]


# -- two officers at once -------------------------------------------------------------------
def test_a_stale_page_is_refused_with_the_typed_text_kept(app, world, staff, sign_in):
    dispute_id = file_case(app, world, "a")
    assign_to(app, dispute_id, staff.officer, review=True)
    client = as_user(app, sign_in, staff.officer)
    seen = version_of(app, dispute_id)  # both tabs show this version
    assert (
        post_form(
            client, case_url(dispute_id, "/extend"), "extend", {"days": "7", "reason": "First tab"}, version=seen
        ).status_code
        == 302
    )
    after_first = case_state(app, dispute_id)

    typed = 'Decided <on> "the" ledger & more'
    response = post_form(
        client,
        case_url(dispute_id, "/decide"),
        "decide",
        decision(app, dispute_id, "verified_accurate", typed),
        version=seen,
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "This case was changed by someone else in the meantime; reload it." in body
    assert f'href="{case_url(dispute_id)}"' in body  # the reload link
    assert str(escape(typed)) in body  # nothing typed is lost
    assert '<option selected value="verified_accurate">' in body
    # The page now shows the case as it is and carries its version: sending it again works.
    assert f'name="decide-lock_version" type="hidden" value="{after_first.lock_version}"' in body
    state = case_state(app, dispute_id)
    assert state.status is S.UNDER_REVIEW
    assert state.lock_version == after_first.lock_version
    assert state.due_on == after_first.due_on  # the first change stands


def test_two_officers_at_once_the_second_is_told_to_reload(app, world, staff, sign_in):
    dispute_id = file_case(app, world, "a")
    assign_to(app, dispute_id, staff.officer)
    officer = as_user(app, sign_in, staff.officer)
    boss = as_user(app, sign_in, staff.supervisor)
    seen = version_of(app, dispute_id)
    assert officer.get(case_url(dispute_id)).status_code == 200
    assert boss.get(case_url(dispute_id)).status_code == 200
    # The officer acknowledges; the supervisor, on the page loaded before, reassigns.
    assert (
        post_form(
            officer,
            case_url(dispute_id, "/move/acknowledged"),
            "move-acknowledged",
            {"note": "Received."},
            version=seen,
        ).status_code
        == 302
    )
    response = post_form(
        boss, case_url(dispute_id, "/assign"), "assign", {"officer": str(staff.officer2.id)}, version=seen
    )
    assert response.status_code == 409
    assert "changed by someone else in the meantime" in response.get_data(as_text=True)
    state = case_state(app, dispute_id)
    assert state.status is S.ACKNOWLEDGED
    assert state.assigned_officer_id == staff.officer.id
    # Notes carry the version too; a note from the stale page is kept in the form.
    response = post_form(
        officer, case_url(dispute_id, "/notes"), "note", {"text": "typed on the old page"}, version=seen
    )
    assert response.status_code == 409
    assert "typed on the old page" in response.get_data(as_text=True)
    with app.app_context():
        assert session().scalar(select(DisputeNote.id)) is None


# -- notes between officers ------------------------------------------------------------------
def test_notes_between_officers(app, world, staff, sign_in):
    dispute_id = file_case(app, world, "a")
    assign_to(app, dispute_id, staff.officer)
    client = as_user(app, sign_in, staff.officer)
    response = post_form(
        client, case_url(dispute_id, "/notes"), "note", {"text": ""}, version=version_of(app, dispute_id)
    )
    assert response.status_code == 200
    assert "Write the note." in response.get_data(as_text=True)
    response = post_form(
        client, case_url(dispute_id, "/notes"), "note", {"text": HOSTILE}, version=version_of(app, dispute_id)
    )
    assert response.status_code == 302
    page = client.get(case_url(dispute_id)).get_data(as_text=True)
    assert "Note added." in page
    assert HOSTILE not in page
    assert "&lt;script&gt;alert" in page
    # Other officers read it; it is sealed, and never a step of the subject's timeline.
    other = as_user(app, sign_in, staff.officer2).get(case_url(dispute_id)).get_data(as_text=True)
    assert "&lt;script&gt;alert" in other
    assert "officer.one" in other
    with app.app_context():
        note = session().scalar(select(DisputeNote))
        assert note.author_user_id == staff.officer.id
        assert HOSTILE.encode() not in note.note_ct
        assert [
            s.step.value for s in session().scalars(select(DisputeStep).where(DisputeStep.dispute_id == dispute_id))
        ] == ["filed", "assigned"]
    log = as_user(app, sign_in, world.user_a).get(f"/subjects/{world.person_a.id}/access").get_data(as_text=True)
    assert "alert" not in log


@pytest.mark.parametrize(("field", "value"), [("text", "x" * 2001)])
def test_notes_have_a_size_limit(app, world, staff, sign_in, field, value):
    dispute_id = file_case(app, world, "a")
    assign_to(app, dispute_id, staff.officer)
    client = as_user(app, sign_in, staff.officer)
    response = post_form(
        client, case_url(dispute_id, "/notes"), "note", {field: value}, version=version_of(app, dispute_id)
    )
    assert response.status_code == 200
    assert "2000" in response.get_data(as_text=True)
    with app.app_context():
        assert session().scalar(select(DisputeNote.id)) is None


# -- declaring a conflict ----------------------------------------------------------------------
def test_an_officer_declares_a_conflict_from_the_case_page(app, world, staff, sign_in):
    held = file_case(app, world, "a")
    other = file_case(app, world, "a", DisputeReason.NOT_MINE, record=1)
    someone_else = file_case(app, world, "b")
    assign_to(app, held, staff.officer)
    client = as_user(app, sign_in, staff.officer)
    assert "Declare a conflict" in client.get(case_url(held)).get_data(as_text=True)

    # The box must be ticked; nothing changes until it is.
    unticked = post_form(client, case_url(held, "/recuse"), "recuse", version=version_of(app, held))
    assert unticked.status_code == 200
    assert "Tick the box to confirm." in unticked.get_data(as_text=True)
    assert case_state(app, held).assigned_officer_id == staff.officer.id

    response = post_form(client, case_url(held, "/recuse"), "recuse", {"confirm": "y"}, version=version_of(app, held))
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/officer/cases")
    queue = client.get("/officer/cases").get_data(as_text=True)
    assert "1 case you held went back to the queue." in queue
    # Person A's cases are gone for this officer; B's is still there; the held one is free for others.
    assert f"case-{held}" not in queue
    assert f"case-{other}" not in queue
    assert f"case-{someone_else}" in queue
    assert client.get(case_url(held)).status_code == 404
    assert client.get(case_url(other)).status_code == 404
    assert case_state(app, held).assigned_officer_id is None
    with app.app_context():  # the case's timeline says it went back, without naming why to the subject
        assert (
            session()
            .scalars(select(DisputeStep.step).where(DisputeStep.dispute_id == held).order_by(DisputeStep.at.desc()))
            .first()
            == StepKind.RELEASED
        )
    mine = as_user(app, sign_in, world.user_a).get(f"/subjects/{world.person_a.id}/disputes/{held}")
    assert "Handed to another officer" in mine.get_data(as_text=True)
    assert "conflict" not in mine.get_data(as_text=True)
    assert f"case-{held}" in as_user(app, sign_in, staff.officer2).get("/officer/cases").get_data(as_text=True)
    with app.app_context():
        from portal.disputes.models import OfficerConflict

        [(officer_id, subject_id)] = (
            session().execute(select(OfficerConflict.officer_user_id, OfficerConflict.subject_id)).all()
        )
    assert (officer_id, subject_id) == (staff.officer.id, world.person_a.id)


def test_a_stale_page_declares_nothing(app, world, staff, sign_in):
    dispute_id = file_case(app, world, "a")
    client = as_user(app, sign_in, staff.officer)
    version = version_of(app, dispute_id)
    assign_to(app, dispute_id, staff.officer2)  # someone moved the case meanwhile
    response = post_form(client, case_url(dispute_id, "/recuse"), "recuse", {"confirm": "y"}, version=version)
    assert response.status_code == 409
    with app.app_context():
        from portal.disputes.models import OfficerConflict

        assert session().scalar(select(OfficerConflict.id)) is None
    # Non-staff never reach it.
    subject = as_user(app, sign_in, world.user_a)
    assert (
        post_form(
            subject, case_url(dispute_id, "/recuse"), "recuse", {"confirm": "y"}, version=version_of(app, dispute_id)
        ).status_code
        == 404
    )


# -- a decision for each record ----------------------------------------------------------------
def test_the_decision_form_of_a_case_over_two_records_decides_each(app, world, staff, sign_in):
    from portal.disputes.services import file_dispute
    from portal.records.models import CreditRecord

    with app.app_context():
        s, v = session(), vault()
        loan, card = s.scalars(
            select(CreditRecord.id)
            .where(CreditRecord.subject_id == world.person_a.id)
            .order_by(CreditRecord.created_at, CreditRecord.id)
        ).all()
        from portal.accounts.models import User

        dispute_id = file_dispute(
            s,
            v,
            s.get(Subject, world.person_a.id),
            s.get(User, world.user_a.id),
            [loan, card],
            DisputeReason.IDENTITY_THEFT,
            "The card is not mine.",
        ).id
        s.commit()
    assign_to(app, dispute_id, staff.officer, review=True)
    client = as_user(app, sign_in, staff.officer)
    page = client.get(case_url(dispute_id)).get_data(as_text=True)
    assert f'name="decide-record_{card.hex}"' in page
    assert f'name="decide-record_{loan.hex}"' in page

    bad = post_form(
        client,
        case_url(dispute_id, "/decide"),
        "decide",
        decision(app, dispute_id, "verified_accurate", "Checked.", **{f"record_{card.hex}": "erased"}),
        version=version_of(app, dispute_id),
    )
    assert bad.status_code == 200
    assert "Not a valid choice" in bad.get_data(as_text=True)
    assert case_state(app, dispute_id).status is S.UNDER_REVIEW

    done = decide_confirmed(
        client,
        app,
        dispute_id,
        decision(
            app,
            dispute_id,
            "verified_accurate",
            "The card was opened with a stolen identity.",
            **{f"record_{card.hex}": "deleted"},
        ),
    )
    assert done.status_code == 302
    with app.app_context():
        s = session()
        assert s.get(CreditRecord, card).deleted_at is not None
        assert s.get(CreditRecord, loan).deleted_at is None
    mine = (
        as_user(app, sign_in, world.user_a)
        .get(f"/subjects/{world.person_a.id}/disputes/{dispute_id}")
        .get_data(as_text=True)
    )
    assert "Verified as accurate; Deleted" in mine
