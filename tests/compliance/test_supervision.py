"""The supervisors' view under /compliance/officers: each officer's load
counted exactly, their cases moved in bulk through the single-case rules,
their actions as a log nobody can change; officers and everyone else get 404."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from portal.accounts.models import Role, User
from portal.audit.models import AccessEvent, EventKind
from portal.compliance import notes
from portal.compliance.models import Alert, AlertStep
from portal.compliance.reveal import reveal
from portal.db import utcnow
from portal.disputes import decisions
from portal.disputes.evidence import Upload
from portal.disputes.models import Dispute, DisputeReason, DisputeStep, EvidenceShare, OfficerConflict, StepKind
from portal.extensions import session, vault
from portal.localtime import today as portal_today
from portal.records.models import CreditRecord, Subject
from tests import factories as make
from tests.cast import PDF
from tests.officers import S, as_user, assign_to, case_state, english, file_case, token, with_case

OVERVIEW = "/compliance/officers"


def officer_url(user, tail=""):
    return f"/compliance/officers/{user.id}{tail}"


def _decide(app, dispute_id, officer, days_ago=0):
    """`officer` decides the case; its decision dated `days_ago`."""

    def go(s, v, d):
        decisions.decide(s, v, d, s.get(User, officer.id), "verified_accurate", "The ledgers match.")
        if days_ago:
            s.execute(
                update(DisputeStep)
                .where(DisputeStep.dispute_id == d.id, DisputeStep.step == StepKind.RESOLVED)
                .values(at=utcnow() - timedelta(days=days_ago))
            )

    with_case(app, dispute_id, go)


def _reveal(app, dispute_id, officer):
    with_case(app, dispute_id, lambda s, v, d: reveal(s, v, d, s.get(User, officer.id), "To match the ledger."))


def _row(html, user):
    """The overview's row of `user`: its cells' text."""
    row = re.search(rf'<tr id="officer-{user.id}"[^>]*>(.*?)</tr>', html, re.S).group(0)
    cells = {k: re.search(rf'<td class="{k}">(.*?)</td>', row, re.S).group(1) for k in ("open", "resolved", "reveals")}
    cells["overdue"] = re.sub(r"<[^>]+>", "", re.search(r'<td class="overdue-count">(.*?)</td>', row, re.S).group(1))
    return {k: int(v.strip()) for k, v in cells.items()}, row


# -- the overview's counts -----------------------------------------------------------------
def test_overview_counts_each_officers_cases_decisions_and_reveals(app, world, staff, sign_in):
    today, R = portal_today(), DisputeReason
    one, two = staff.officer, staff.officer2
    fresh = file_case(app, world, "a", filed_on=today)
    late = file_case(app, world, "a", filed_on=today - timedelta(days=25), record=1)  # 5 days overdue
    later = file_case(app, world, "b", R.NOT_MINE, filed_on=today - timedelta(days=22))  # 2 days overdue
    paused = file_case(app, world, "b", R.WRONG_DATES, filed_on=today - timedelta(days=19))  # paused with 6 days left
    decided = file_case(app, world, "f", R.WRONG_AMOUNT, filed_on=today - timedelta(days=3))
    decided_long_ago = file_case(app, world, "f", R.OUTDATED, filed_on=today - timedelta(days=3))
    theirs = file_case(app, world, "b", R.OTHER, filed_on=today - timedelta(days=30))  # 10 days overdue
    for case in (fresh, late, later, paused):
        assign_to(app, case, one)
    for case in (decided, decided_long_ago):
        assign_to(app, case, one, review=True)
    _decide(app, decided, one)
    _decide(app, decided_long_ago, one, days_ago=40)  # outside the 30 days

    def pause(s, v, d):
        d.paused_since = utcnow() - timedelta(days=5)
        d.status = S.WAITING_FOR_SUBJECT

    with_case(app, paused, pause)
    assign_to(app, theirs, two, review=True)
    _reveal(app, late, one)
    _reveal(app, late, one)
    _reveal(app, theirs, two)
    with app.app_context():
        gone = make.user(session(), vault(), Role.OFFICER, "gone@staff.example", second_factor=True)
        gone.is_active = False
        session().commit()

    html = as_user(app, sign_in, staff.supervisor).get(OVERVIEW).get_data(as_text=True)
    counts_one, _ = _row(html, one)
    counts_two, _ = _row(html, two)
    counts_sup, _ = _row(html, staff.supervisor)
    counts_gone, gone_row = _row(html, gone)
    assert counts_one == {"open": 4, "overdue": 2, "resolved": 1, "reveals": 2}
    assert counts_two == {"open": 1, "overdue": 1, "resolved": 0, "reveals": 1}
    assert counts_sup == {"open": 0, "overdue": 0, "resolved": 0, "reveals": 0}
    assert counts_gone == {"open": 0, "overdue": 0, "resolved": 0, "reveals": 0}
    assert "Inactive" in gone_row
    assert 'class="inactive"' in gone_row
    assert "officer.one" in html
    assert "Supervisor" in html
    # Officers' names only: no subject is named on the overview.
    assert "张" not in html


# -- reassignment in bulk -------------------------------------------------------------------
def _reassign(client, officer, cases, target):
    data = {"csrf_token": token(client), "cases": [str(c) for c in cases]}
    if target is not None:
        data["officer"] = str(target)
    return client.post(officer_url(officer, "/reassign"), data=data)


def test_bulk_reassignment_moves_the_cases_and_refuses_a_conflict_with_its_reason(app, world, staff, sign_in):
    one, two = staff.officer, staff.officer2
    cases = [file_case(app, world, who) for who in ("a", "b", "f")]
    for case in cases:
        assign_to(app, case, one)
    with app.app_context():  # officer two is linked to person B
        session().add(OfficerConflict(officer_user_id=two.id, subject_id=world.person_b.id))
        session().commit()
        steps_before = session().scalar(select(func.count()).select_from(DisputeStep))

    client = as_user(app, sign_in, staff.supervisor)
    page = client.get(officer_url(one)).get_data(as_text=True)
    for case in cases:
        assert f'value="{case}"' in page
    response = _reassign(client, one, cases, two.id)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "2 cases moved, 1 refused" in html
    refused = re.search(rf'<li id="result-{cases[1]}" class="refused">(.*?)</li>', html, re.S).group(1)
    assert "This officer is linked to the subject of this case" in refused
    assert case_state(app, cases[0]).assigned_officer_id == two.id
    assert case_state(app, cases[2]).assigned_officer_id == two.id
    assert case_state(app, cases[1]).assigned_officer_id == one.id
    with app.app_context():
        s = session()
        moved = s.scalars(
            select(DisputeStep).where(
                DisputeStep.step == StepKind.ASSIGNED, DisputeStep.actor_user_id == staff.supervisor.id
            )
        ).all()
        assert s.scalar(select(func.count()).select_from(DisputeStep)) == steps_before + 2
        # Each move is the audited single-case step: by the supervisor, with its access event.
        assert sorted(str(m.dispute_id) for m in moved) == sorted([str(cases[0]), str(cases[2])])
        assert all(m.event_id is not None for m in moved)
        events = s.scalars(select(AccessEvent).where(AccessEvent.id.in_([m.event_id for m in moved]))).all()
        assert {e.kind for e in events} == {EventKind.DISPUTE_STEP}
        assert {e.actor_user_id for e in events} == {staff.supervisor.id}

    # Posted again, the cases moved are no longer the officer's: refused, not an error.
    again = _reassign(client, one, [cases[0]], two.id)
    assert again.status_code == 200
    assert "This case is no longer held by this officer." in again.get_data(as_text=True)
    assert case_state(app, cases[0]).assigned_officer_id == two.id


def test_bulk_reassignment_form_errors_change_nothing(app, world, staff, sign_in):
    one, two = staff.officer, staff.officer2
    case = file_case(app, world, "a")
    assign_to(app, case, one)
    client = as_user(app, sign_in, staff.supervisor)

    nothing = _reassign(client, one, [], two.id)
    assert nothing.status_code == 200
    assert "Choose at least one case." in nothing.get_data(as_text=True)

    no_target = _reassign(client, one, [case], None).get_data(as_text=True)
    assert "Choose an officer." in no_target
    assert "checked" in no_target  # what was chosen is kept

    for target in (world.user_a.id, "not-an-id", "00000000-0000-0000-0000-000000000000"):
        response = _reassign(client, one, [case], target)
        assert response.status_code == 200
        assert "Choose an officer from the list." in response.get_data(as_text=True)

    junk = _reassign(client, one, ["junk", case], two.id)
    assert junk.status_code == 200
    assert "No such case, or not one you may see." in junk.get_data(as_text=True)
    assert case_state(app, case).assigned_officer_id == two.id


def test_an_inactive_target_is_refused_as_for_a_single_case(app, world, staff, sign_in):
    one = staff.officer
    case = file_case(app, world, "a")
    assign_to(app, case, one)
    with app.app_context():
        gone = make.user(session(), vault(), Role.OFFICER, "gone@staff.example", second_factor=True)
        gone.is_active = False
        session().commit()
    html = _reassign(as_user(app, sign_in, staff.supervisor), one, [case], gone.id).get_data(as_text=True)
    assert "A case can be assigned only to an active officer or supervisor." in html
    assert case_state(app, case).assigned_officer_id == one.id


# -- the log -------------------------------------------------------------------------------
def test_the_log_lists_a_reveal_a_decision_and_a_note(app, world, staff, sign_in):
    one = staff.officer
    noted = file_case(app, world, "a", files=[Upload("a.pdf", PDF)])
    decided = file_case(app, world, "b")
    assign_to(app, noted, one, review=True)
    assign_to(app, decided, one, review=True)
    _reveal(app, noted, one)
    with_case(app, noted, lambda s, v, d: notes.add_note(s, v, d, s.get(User, one.id), "Sealed note text."))
    _decide(app, decided, one)
    with app.app_context():
        now = utcnow()
        alert = Alert(rule="odd_hours", fingerprint="odd_hours:test", window_start=now, window_end=now)
        session().add(alert)
        session().flush()
        session().add(AlertStep(alert_id=alert.id, actor_user_id=one.id, action="acknowledged", reason="Seen."))
        evidence = session().get(Dispute, noted).evidence[0]  # a file sent, as `sharing.share` records it
        furnisher = session().scalar(
            select(CreditRecord.furnisher_id).where(CreditRecord.subject_id == world.person_a.id)
        )
        session().add(EvidenceShare(evidence_id=evidence.id, institution_id=furnisher, shared_by_user_id=one.id))
        session().commit()

    html = as_user(app, sign_in, staff.supervisor).get(officer_url(one, "/log")).get_data(as_text=True)
    assert "Alert odd_hours: acknowledged" in html
    assert "Sent a file to a furnisher" in html
    assert "Revealed a subject&#39;s name and identifier" in html or "Revealed a subject's name and identifier" in html
    assert "Case step: Decided" in html
    assert "Wrote a note" in html
    assert "Sealed note text." not in html
    assert f'href="/officer/cases/{noted}"' in html
    assert f'href="/officer/cases/{decided}"' in html
    # Newest first: the decision came after the note, the note after the reveal.
    decision, note, revealed = (html.index(t) for t in ("Case step: Decided", "Wrote a note", "Revealed a subject"))
    assert decision < note < revealed
    assert "To match the ledger." not in html  # the reveal's reason stays sealed


def test_the_log_filters_by_period(app, world, staff, sign_in):
    one = staff.officer
    case = file_case(app, world, "a")
    assign_to(app, case, one, review=True)
    _decide(app, case, one, days_ago=40)
    client = as_user(app, sign_in, staff.supervisor)
    assert "Case step: Decided" not in client.get(officer_url(one, "/log")).get_data(as_text=True)
    assert "Case step: Decided" in client.get(officer_url(one, "/log?period=90")).get_data(as_text=True)
    assert client.get(officer_url(one, "/log?period=bogus")).status_code == 200
    assert client.get(officer_url(one, "/log?page=9")).status_code == 404


def test_the_log_has_no_route_that_changes_it(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/compliance/officers/<uuid:user_id>/log"):
            assert not (rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}, rule
    assert any(r.rule == "/compliance/officers/<uuid:user_id>/log" for r in app.url_map.iter_rules())


# -- who reaches these pages ---------------------------------------------------------------
@pytest.mark.parametrize("who", ["officer", "user_a", "rep_f", "agent_f", "anonymous"])
def test_only_supervisors_reach_the_supervisors_view(app, world, staff, sign_in, who):
    case = file_case(app, world, "a")
    assign_to(app, case, staff.officer)
    if who == "anonymous":
        client = english(app.test_client())
    else:
        client = as_user(app, sign_in, staff.officer if who == "officer" else getattr(world, who))
    for url in (OVERVIEW, officer_url(staff.officer), officer_url(staff.officer, "/log")):
        assert client.get(url).status_code == 404, url
    response = client.post(
        officer_url(staff.officer, "/reassign"),
        data={"csrf_token": token(client), "cases": [str(case)], "officer": str(staff.officer2.id)},
    )
    assert response.status_code == 404
    assert case_state(app, case).assigned_officer_id == staff.officer.id


def test_a_supervisor_gets_404_for_someone_not_staff(app, world, staff, sign_in):
    client = as_user(app, sign_in, staff.supervisor)
    assert client.get(officer_url(world.user_a)).status_code == 404
    assert client.get(officer_url(world.user_a, "/log")).status_code == 404
    assert client.get(officer_url(staff.officer)).status_code == 200


def test_the_officer_page_shows_subjects_masked(app, world, staff, sign_in):
    case = file_case(app, world, "a", reason=DisputeReason.NOT_MINE)
    assign_to(app, case, staff.officer)
    with app.app_context():
        from portal.records.services import view_subject

        clear = view_subject(session(), vault(), session().get(Subject, world.person_a.id))
        name, identifier = clear.name, clear.identifier
    html = as_user(app, sign_in, staff.supervisor).get(officer_url(staff.officer)).get_data(as_text=True)
    assert name not in html
    assert identifier not in html
    assert name[:1] + "**" in html
    assert "Not mine" in html


def test_a_supervisor_linked_to_a_subject_neither_sees_nor_opens_its_cases_here(app, world, staff, sign_in):
    case = file_case(app, world, "a")
    assign_to(app, case, staff.officer)
    _reveal(app, case, staff.officer)
    with app.app_context():
        session().add(OfficerConflict(officer_user_id=staff.supervisor.id, subject_id=world.person_a.id))
        session().commit()
    client = as_user(app, sign_in, staff.supervisor)
    assert f'value="{case}"' not in client.get(officer_url(staff.officer)).get_data(as_text=True)
    log = client.get(officer_url(staff.officer, "/log")).get_data(as_text=True)
    assert "Revealed a subject" in log
    assert f'href="/officer/cases/{case}"' not in log
    assert case.hex[:8] not in log  # not even its reference
    html = _reassign(client, staff.officer, [case], staff.officer2.id).get_data(as_text=True)
    assert "No such case, or not one you may see." in html
    assert case_state(app, case).assigned_officer_id == staff.officer.id


def test_the_log_names_no_case_of_a_shredded_subject(app, world, staff, sign_in):
    case = file_case(app, world, "a")
    assign_to(app, case, staff.officer, review=True)
    _decide(app, case, staff.officer)
    client = as_user(app, sign_in, staff.supervisor)
    assert case.hex[:8] in client.get(officer_url(staff.officer, "/log")).get_data(as_text=True)
    with app.app_context():
        session().execute(update(Subject).where(Subject.id == world.person_a.id).values(shredded_at=utcnow()))
        session().commit()
    log = client.get(officer_url(staff.officer, "/log")).get_data(as_text=True)
    assert "Case step: Decided" in log
    assert case.hex[:8] not in log
