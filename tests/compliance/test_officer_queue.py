"""The officers' queue: only staff reach /officer, cases ordered by urgency
(overdue first, then by days left), filters, pages; officers linked to a
subject neither see nor take its cases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from portal.accounts import two_factor
from portal.accounts.models import FirmDelegation, Role, User
from portal.accounts.services import create_user
from portal.compliance import assignment, policy
from portal.compliance import queue as officers
from portal.db import utcnow
from portal.disputes.evidence import Upload
from portal.disputes.lifecycle import StaleDispute, advance, days_left
from portal.disputes.models import Dispute, DisputeReason, OfficerConflict
from portal.extensions import session, vault
from portal.institutions.models import InstitutionKind
from portal.institutions.services import NewInstitution, create_institution
from portal.localtime import today as portal_today
from portal.records.models import Category, RecordStatus, Subject
from portal.records.services import RecordInput, furnish
from tests.cast import PDF
from tests.officers import (
    S,
    as_user,
    assign_to,
    case_state,
    case_url,
    english,
    file_case,
    post_form,
    token,
    version_of,
    with_case,
)


# -- who reaches /officer ---------------------------------------------------------------
def _urls(dispute_id, evidence_id):
    gets = [
        "/officer/cases",
        "/officer/cases?status=all&page=1",
        case_url(dispute_id),
        case_url(dispute_id, f"/evidence/{evidence_id}"),
        "/officer/",
        "/officer/nothing-here",
    ]
    posts = [
        case_url(dispute_id, t)
        for t in (
            "/take",
            "/assign",
            "/move/acknowledged",
            "/extend",
            "/decide",
            "/notes",
            "/reveal",
            "/recuse",
            f"/evidence/{evidence_id}/share",
        )
    ]
    return gets, posts


@pytest.mark.parametrize("who", ["anonymous", "user_a", "rep_f", "agent_f", "administrator"])
def test_non_staff_get_404_on_every_officer_url(app, world, staff, sign_in, who):
    """Administrators run the system, not cases: no subject's case for them either."""
    dispute_id = file_case(app, world, files=[Upload("a.pdf", PDF)])
    with app.app_context():
        evidence_id = session().get(Dispute, dispute_id).evidence[0].id
        if who == "administrator":
            admin = create_user(
                session(), vault(), role=Role.ADMINISTRATOR, email="admin@staff.example", display_name="admin"
            )
            two_factor.enable(session(), vault(), admin, two_factor.new_secret())
            session().commit()
    if who == "anonymous":
        client = english(app.test_client())
    else:
        client = as_user(app, sign_in, admin if who == "administrator" else getattr(world, who))
    gets, posts = _urls(dispute_id, evidence_id)
    for url in gets:
        assert client.get(url).status_code == 404, url
    csrf = token(client)
    for url in posts:
        response = client.post(url, data={"csrf_token": csrf})
        assert response.status_code == 404, url
    assert case_state(app, dispute_id).assigned_officer_id is None
    if who != "anonymous":
        assert "/officer/cases" not in client.get("/").get_data(as_text=True)


def test_staff_see_the_cases_link_and_the_queue(app, world, staff, sign_in):
    client = as_user(app, sign_in, staff.officer)
    html = client.get("/").get_data(as_text=True)
    assert 'href="/officer/cases"' in html
    assert ">Cases<" in html
    response = client.get("/officer/cases")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "No open case" in response.get_data(as_text=True)


def test_staff_without_a_second_factor_are_sent_to_set_one_up(app, world, sign_in):
    with app.app_context():
        user = create_user(session(), vault(), role=Role.OFFICER, email="new.officer@staff.example", display_name="new")
        session().commit()
    response = as_user(app, sign_in, user).get("/officer/cases")
    assert response.status_code == 302
    with app.test_request_context():
        from flask import url_for

        assert response.headers["Location"].endswith(url_for("accounts.two_factor_setup"))


# -- ordering ------------------------------------------------------------------------------
def _positions(html, ids):
    return [html.index(f'id="case-{i}"') for i in ids]


def test_overdue_first_then_by_days_left(app, world, staff, sign_in):
    today = portal_today()
    soon = file_case(app, world, "a", DisputeReason.WRONG_AMOUNT, filed_on=today - timedelta(days=17))  # 3 left
    later = file_case(app, world, "a", DisputeReason.WRONG_DATES, filed_on=today - timedelta(days=2))  # 18 left
    late = file_case(app, world, "b", DisputeReason.NOT_MINE, filed_on=today - timedelta(days=22))  # -2
    later_still = file_case(app, world, "f", DisputeReason.OTHER, filed_on=today)  # 20 left
    very_late = file_case(app, world, "a", DisputeReason.OTHER, filed_on=today - timedelta(days=30), record=1)  # -10
    # Paused five days ago with 6 days left: still 6 left, frozen.
    paused = file_case(app, world, "b", DisputeReason.WRONG_DATES, filed_on=today - timedelta(days=19))

    def pause(s, v, d):
        d.paused_since = utcnow() - timedelta(days=5)
        d.status = S.WAITING_FOR_SUBJECT

    with_case(app, paused, pause)

    with app.app_context():
        page = officers.queue(session(), vault(), session().get(User, staff.officer.id))
    assert [r.id for r in page.rows] == [very_late, late, soon, paused, later, later_still]
    assert [r.days_left for r in page.rows] == [-10, -2, 3, 6, 18, 20]
    assert [r.overdue for r in page.rows] == [True, True, False, False, False, False]
    assert page.rows[3].paused

    html = as_user(app, sign_in, staff.officer).get("/officer/cases").get_data(as_text=True)
    positions = _positions(html, [very_late, late, soon, paused, later, later_still])
    assert positions == sorted(positions)
    assert html.count('class="overdue"') == 2
    assert "Overdue</strong> by 10 days" in html
    assert "Overdue</strong> by 2 days" in html
    assert "3 days left" in html
    assert "paused while waiting for the subject" in html
    assert "Wrong amount" in html
    assert "Test Bank" in html
    assert "Unassigned" in html


def test_filters_status_reason_furnisher_and_assignment(app, world, staff, sign_in):
    mine = file_case(app, world, "a", DisputeReason.WRONG_AMOUNT)
    theirs = file_case(app, world, "b", DisputeReason.NOT_MINE)
    withdrawn = file_case(app, world, "f", DisputeReason.OTHER)
    with app.app_context():
        s, v = session(), vault()
        lender = create_institution(
            s,
            v,
            NewInstitution(
                "other-lender",
                "其他贷款公司",
                "Other Lender",
                InstitutionKind.LENDER,
                ["loan_approval"],
                "赵六",
                "ops@lender.example",
            ),
        )
        furnish(
            s,
            v,
            lender,
            s.get(Subject, world.person_b.id),
            RecordInput(Category.CREDIT_CARD, "B-CARD-9", RecordStatus.ACTIVE, False, None, {"currency": "CNY"}),
        )
        s.commit()
        lender_id = lender.id
    other = file_case(app, world, "b", DisputeReason.WRONG_DATES, record=1)
    assign_to(app, mine, staff.officer)
    assign_to(app, theirs, staff.officer2)
    with_case(app, withdrawn, lambda s, v, d: advance(s, v, d, S.WITHDRAWN, s.get(User, world.rep_f.id)))

    client = as_user(app, sign_in, staff.officer)

    def listed(query=""):
        html = client.get("/officer/cases" + query).get_data(as_text=True)
        return {i for i in (mine, theirs, withdrawn, other) if f'id="case-{i}"' in html}

    assert listed() == {mine, theirs, other}  # open by default
    assert listed("?status=closed") == {withdrawn}
    assert listed("?status=withdrawn") == {withdrawn}
    assert listed("?status=all") == {mine, theirs, withdrawn, other}
    assert listed("?reason=not_mine") == {theirs}
    assert listed(f"?institution={lender_id}") == {other}
    assert listed(f"?institution={world.bank.id}") == {mine, theirs}
    assert listed("?assigned=me") == {mine}
    assert listed("?assigned=unassigned") == {other}
    assert listed("?assigned=unassigned&status=all") == {withdrawn, other}
    html = client.get("/officer/cases?assigned=me").get_data(as_text=True)
    assert "<strong>You</strong>" in html
    assert "Clear the filters" in html
    assert "No case matches" in client.get("/officer/cases?reason=outdated").get_data(as_text=True)
    # A value that is not a choice is an error next to the field, not a crash.
    response = client.get("/officer/cases?status=bogus")
    assert response.status_code == 200
    assert "Not a valid choice" in response.get_data(as_text=True)


def test_pages(app, world, staff, sign_in, monkeypatch):
    monkeypatch.setattr(officers, "PAGE_SIZE", 2)
    today = portal_today()
    ids = [
        file_case(app, world, "a", DisputeReason.WRONG_AMOUNT, filed_on=today - timedelta(days=10)),
        file_case(app, world, "a", DisputeReason.WRONG_DATES, filed_on=today - timedelta(days=5)),
        file_case(app, world, "b", DisputeReason.NOT_MINE, filed_on=today),
    ]
    client = as_user(app, sign_in, staff.officer)
    first = client.get("/officer/cases").get_data(as_text=True)
    second = client.get("/officer/cases?page=2").get_data(as_text=True)
    assert f'id="case-{ids[0]}"' in first
    assert f'id="case-{ids[1]}"' in first
    assert f'id="case-{ids[2]}"' not in first
    assert f'id="case-{ids[2]}"' in second
    assert "Page 2 of 2" in second
    assert 'href="/officer/cases?page=2"' in first
    assert client.get("/officer/cases?page=3").status_code == 404
    assert client.get("/officer/cases?page=0").status_code == 404
    assert client.get("/officer/cases?page=x").status_code == 404
    filtered = client.get("/officer/cases?reason=not_mine").get_data(as_text=True)
    assert f'id="case-{ids[2]}"' in filtered
    assert "Page 1 of" not in filtered


# -- links between officers and subjects ---------------------------------------------------
def _declare(app, officer, subject):
    with app.app_context():
        session().add(OfficerConflict(officer_user_id=officer.id, subject_id=subject.id))
        session().commit()


@pytest.mark.parametrize("link", ["declared", "own_file", "firm_agent"])
def test_a_linked_officer_neither_sees_nor_takes_the_case(app, world, staff, sign_in, link):
    subject = world.firm_f if link == "firm_agent" else world.person_a
    dispute_id = file_case(app, world, "f" if link == "firm_agent" else "a")
    unrelated = file_case(app, world, "b", DisputeReason.NOT_MINE)
    if link == "declared":
        _declare(app, staff.officer, subject)
    elif link == "own_file":
        with app.app_context():
            session().get(User, staff.officer.id).subject_id = subject.id
            session().commit()
    else:
        with app.app_context():
            session().add(
                FirmDelegation(
                    firm_id=subject.id,
                    agent_id=staff.officer.id,
                    granted_by_id=world.rep_f.id,
                    scopes=["view_report"],
                    valid_until=portal_today() + timedelta(days=30),
                )
            )
            session().commit()

    with app.app_context(), force_locale("en"):  # the messages as written
        s, v = session(), vault()
        me = s.get(User, staff.officer.id)
        assert policy.is_linked(s, me, subject.id)
        with pytest.raises(policy.AssignmentRefused, match="linked to the subject"):
            assignment.assign(s, v, s.get(Dispute, dispute_id), me)
        s.rollback()

    client = as_user(app, sign_in, staff.officer)
    html = client.get("/officer/cases?status=all").get_data(as_text=True)
    assert f'id="case-{dispute_id}"' not in html
    assert f'id="case-{unrelated}"' in html
    assert client.get(case_url(dispute_id)).status_code == 404
    version = version_of(app, dispute_id)
    assert post_form(client, case_url(dispute_id, "/take"), "take", version=version).status_code == 404
    assert case_state(app, dispute_id).assigned_officer_id is None
    # Another officer sees it and takes it.
    other = as_user(app, sign_in, staff.officer2)
    assert f'id="case-{dispute_id}"' in other.get("/officer/cases").get_data(as_text=True)
    assert post_form(other, case_url(dispute_id, "/take"), "take", version=version).status_code == 302
    assert case_state(app, dispute_id).assigned_officer_id == staff.officer2.id


def test_a_supervisor_cannot_assign_a_linked_officer(app, world, staff, sign_in):
    dispute_id = file_case(app, world, "a")
    _declare(app, staff.officer, world.person_a)
    client = as_user(app, sign_in, staff.supervisor)
    page = client.get(case_url(dispute_id)).get_data(as_text=True)
    assert 'name="assign-officer"' in page
    response = post_form(
        client,
        case_url(dispute_id, "/assign"),
        "assign",
        {"officer": str(staff.officer.id)},
        version=version_of(app, dispute_id),
    )
    assert response.status_code == 200
    assert "This officer is linked to the subject of this case" in response.get_data(as_text=True)
    assert case_state(app, dispute_id).assigned_officer_id is None
    response = post_form(
        client,
        case_url(dispute_id, "/assign"),
        "assign",
        {"officer": str(staff.officer2.id)},
        version=version_of(app, dispute_id),
    )
    assert response.status_code == 302
    assert case_state(app, dispute_id).assigned_officer_id == staff.officer2.id


def test_assignment_rules(app, world, staff):
    dispute_id = file_case(app, world, "a")
    with app.app_context(), force_locale("en"):  # the messages as written
        s, v = session(), vault()
        d = s.get(Dispute, dispute_id)
        one, two, boss = (s.get(User, u.id) for u in (staff.officer, staff.officer2, staff.supervisor))
        with pytest.raises(policy.AssignmentRefused, match="Only a supervisor"):
            assignment.assign(s, v, d, one, two)
        with pytest.raises(StaleDispute):
            assignment.assign(s, v, d, one, expected_version=d.lock_version - 1)
        assignment.assign(s, v, d, one, expected_version=d.lock_version)
        assert d.assigned_officer_id == one.id
        assert d.steps[-1].step.value == "assigned"
        with pytest.raises(policy.AssignmentRefused, match="already assigned to another officer"):
            assignment.assign(s, v, d, two)
        with pytest.raises(policy.AssignmentRefused, match="active officer or supervisor"):
            assignment.assign(s, v, d, boss, s.get(User, world.user_a.id))
        assignment.assign(s, v, d, boss, two)  # a supervisor reassigns
        assert d.assigned_officer_id == two.id
        s.commit()


def test_the_sweep_resolves_cases_whose_furnisher_let_the_deadline_pass(app, world, sign_in, staff):
    """Opening the queue writes nothing; the deadline sweep (`portal serve`'s
    thread, `portal disputes expire`) resolves a case waiting for the
    furnisher past its deadline."""
    from portal.disputes.models import DisputeOutcome

    late = file_case(app, world, filed_on=portal_today() - timedelta(days=40))
    assign_to(app, late, staff.officer, review=True)
    with_case(
        app,
        late,
        lambda s, v, d: advance(s, v, d, S.WAITING_FOR_FURNISHER, s.get(User, staff.officer.id), "asked the bank"),
    )
    assert as_user(app, sign_in, staff.officer).get("/officer/cases?status=all").status_code == 200
    assert case_state(app, late).status is S.WAITING_FOR_FURNISHER
    assert app.test_cli_runner().invoke(args=["disputes", "expire"]).exit_code == 0
    state = case_state(app, late)
    assert state.status is S.RESOLVED
    assert state.outcome is DisputeOutcome.UNVERIFIABLE


def test_conflicts_are_declared_on_the_command_line_and_take_the_case_back(app, world, staff, sign_in):
    held = file_case(app, world)
    assign_to(app, held, staff.officer)
    runner = app.test_cli_runner()
    unknown = runner.invoke(args=["disputes", "conflicts", "add", "nobody@staff.example", "11010519491231002X"])
    assert unknown.exit_code == 2
    assert "no officer or supervisor" in unknown.output
    bad = runner.invoke(args=["disputes", "conflicts", "add", "officer.one@staff.example", "12345"])
    assert bad.exit_code == 2
    assert "IDENTIFIER" in bad.output
    done = runner.invoke(args=["disputes", "conflicts", "add", "officer.one@staff.example", "11010519491231002x"])
    assert done.exit_code == 0, done.output
    assert "1 open case(s)" in done.output, done.output
    assert case_state(app, held).assigned_officer_id is None
    listed = runner.invoke(args=["disputes", "conflicts", "list", "officer.one@staff.example"])
    assert "1101************2X" in listed.output, listed.output
    assert "11010519491231002X" not in listed.output, listed.output
    client = as_user(app, sign_in, staff.officer)
    assert client.get(case_url(held)).status_code == 404
    assert (
        runner.invoke(
            args=["disputes", "conflicts", "remove", "officer.one@staff.example", "11010519491231002X"]
        ).exit_code
        == 0
    )
    assert client.get(case_url(held)).status_code == 200


def test_the_queue_pages_agree_with_sorting_every_case(app, world, staff, sign_in):
    """Across pages, with paused, running, overdue and closed cases mixed:
    the pages laid end to end are the whole list sorted by days left, then
    the closed ones newest first."""
    import random

    rng = random.Random(5)
    today = portal_today()
    ids = []
    combos = [
        (who, record, reason)
        for who, records in (("a", 2), ("b", 1), ("f", 1))
        for record in range(records)
        for reason in list(DisputeReason)[:7]
    ]
    assert len(combos) > officers.PAGE_SIZE
    for n, (who, record, reason) in enumerate(combos):
        ids.append(
            file_case(
                app,
                world,
                who,
                reason,
                statement=f"case {n}",
                filed_on=today - timedelta(days=rng.randint(0, 40)),
                record=record,
            )
        )

        def shape(s, v, d, n=n):
            d.due_on = today + timedelta(days=rng.randint(-10, 25))
            if n % 5 == 0:
                d.status, d.paused_since = S.WAITING_FOR_SUBJECT, utcnow() - timedelta(days=rng.randint(0, 9))
            elif n % 7 == 0:
                d.status = S.WITHDRAWN

        with_case(app, ids[-1], shape)
    with app.app_context():
        s, v = session(), vault()
        me = s.get(User, staff.officer.id)
        everything = s.scalars(select(Dispute).where(Dispute.id.in_(ids))).all()

        def key(d):
            if d.status.is_open:
                return (0, days_left(d, portal_today()), d.filed_at, str(d.id))
            return (1, -d.filed_at.timestamp(), str(d.id))

        expected = [d.id for d in sorted(everything, key=key)]
        got = []
        for page in (1, 2):
            got += [r.id for r in officers.queue(s, v, me, officers.QueueFilters(status="all"), page).rows]
        with pytest.raises(LookupError):
            officers.queue(s, v, me, officers.QueueFilters(status="all"), 3)
    assert got == expected
