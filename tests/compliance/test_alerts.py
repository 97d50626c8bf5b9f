"""The alert queue and an alert's triage, through the pages: what an officer
sees (never the subject's name or identifier), the life of an alert with
each step recorded, refusals and stale forms, and 404 for everyone who is
not staff."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from portal.access.basis import Reason
from portal.accounts.models import User
from portal.audit.models import EventKind
from portal.compliance import monitoring
from portal.compliance.models import Alert, AlertStatus, AlertStep
from portal.db import utcnow
from portal.disputes.models import OfficerConflict
from portal.extensions import session, vault
from portal.institutions.models import Institution
from portal.notifications import services as notifications
from portal.records.models import Subject
from tests.compliance.test_monitoring import at, query, staff_event
from tests.factories import PERSON_A
from tests.officers import as_user, english
from tests.officers import token as token_of

DAY = date(2025, 3, 10)
TOKEN = re.compile(r'name="close-csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture
def alert_id(app, world):
    """A post-loan alert on the world's bank, with person A's refused queries as evidence."""
    with app.app_context():
        s, v = session(), vault()
        bank, a = s.get(Institution, world.bank.id), s.get(Subject, world.person_a.id)
        for i in range(3):
            query(s, v, bank, a, at(DAY, 14, i), Reason.NO_EXISTING_CONTRACT, None, "post_loan_management")
        (alert,) = monitoring.evaluate(s, v, [DAY])
        s.commit()
        return alert.id


def url(alert_id, tail=""):
    return f"/compliance/alerts/{alert_id}{tail}"


def step(client, alert_id, action, seen, **fields):
    data = {f"{action}-{k}": v for k, v in fields.items()}
    data[f"{action}-csrf_token"] = token_of(client)
    data[f"{action}-seen"] = seen
    return client.post(url(alert_id, f"/{action}"), data=data)


def state(app, alert_id):
    with app.app_context():
        alert = session().get(Alert, alert_id)
        steps = session().scalars(select(AlertStep).where(AlertStep.alert_id == alert_id).order_by(AlertStep.at)).all()
        return alert.status, [(s.action, s.actor_user_id, s.reason) for s in steps]


def test_the_queue_lists_and_filters_alerts(app, sign_in, staff, alert_id):
    officer = as_user(app, sign_in, staff.officer)
    html = officer.get("/compliance/alerts").get_data(as_text=True)
    assert f'href="/compliance/alerts/{alert_id}"' in html
    assert "Post-loan queries without a contract" in html
    assert "Test Bank" in html
    for args, listed in (
        ("?rule=post_loan_without_contract", True),
        ("?rule=volume_spike", False),
        ("?status=closed", False),
        ("?status=open&rule=", True),
    ):
        assert (str(alert_id) in officer.get("/compliance/alerts" + args).get_data(as_text=True)) is listed, args
    assert officer.get("/compliance/alerts?status=bogus").status_code == 200  # a bad filter is ignored
    assert officer.get("/compliance/alerts?page=2").status_code == 404
    assert officer.get("/compliance/alerts?page=x").status_code == 404


def test_the_alert_page_shows_the_evidence(app, sign_in, staff, alert_id):
    html = as_user(app, sign_in, staff.officer).get(url(alert_id)).get_data(as_text=True)
    assert "post-loan management on subjects it holds no open contract with" in html  # the rule's description
    assert "Test Bank" in html
    # each event's basis, as staff read it, never its code
    assert html.count("Post-loan management needs an open record furnished by this institution") == 3
    assert "no_existing_contract" not in html
    assert "Refused" in html
    assert "Post-loan management" in html  # the purpose
    assert "Raised by the monitoring" in html


def test_the_alert_page_masks_the_subject(app, sign_in, staff, world):
    with app.app_context():
        s, v = session(), vault()
        bank, a = s.get(Institution, world.bank.id), s.get(Subject, world.person_a.id)
        for i in range(3):
            query(s, v, bank, a, at(DAY, 9, i), Reason.FILE_LOCKED)
        (alert,) = monitoring.evaluate(s, v, [DAY])
        s.commit()
    html = as_user(app, sign_in, staff.officer).get(url(alert.id)).get_data(as_text=True)
    assert "Repeated refusals" in html
    assert "张**" in html
    assert PERSON_A[:4] in html
    assert "张三" not in html  # never the name ...
    assert PERSON_A not in html  # ... nor the identifier in clear


def test_an_alerts_life_each_step_recorded_with_its_actor(app, sign_in, staff, alert_id):
    officer = as_user(app, sign_in, staff.officer)
    response = step(officer, alert_id, "acknowledge", "open")
    assert response.status_code == 302
    assert "Alert acknowledged." in officer.get(response.location).get_data(as_text=True)
    assert state(app, alert_id)[0] is AlertStatus.ACKNOWLEDGED

    assert step(officer, alert_id, "escalate", "acknowledged", reason="Looks deliberate.").status_code == 302
    assert state(app, alert_id)[0] is AlertStatus.ESCALATED
    with app.app_context():  # the supervisors are told in the portal
        inbox, _ = notifications.inbox(session(), vault(), session().get(User, staff.supervisor.id))
        assert [m.title for m in inbox if str(alert_id) in m.body]

    refused = step(officer, alert_id, "close", "escalated", reason="Done.")  # an officer cannot close it now
    assert refused.status_code == 400
    assert "Only a supervisor can close an escalated alert." in refused.get_data(as_text=True)
    assert state(app, alert_id)[0] is AlertStatus.ESCALATED

    supervisor = as_user(app, sign_in, staff.supervisor)
    assert step(supervisor, alert_id, "close", "escalated", reason="The lender fixed its batch job.").status_code == 302
    status, steps = state(app, alert_id)
    assert status is AlertStatus.CLOSED
    assert steps == [
        ("opened", None, None),
        ("acknowledged", staff.officer.id, None),
        ("escalated", staff.officer.id, "Looks deliberate."),
        ("closed", staff.supervisor.id, "The lender fixed its batch job."),
    ]
    html = officer.get(url(alert_id)).get_data(as_text=True)
    assert "The lender fixed its batch job." in html
    assert 'action="/compliance/alerts/' not in html  # a closed alert offers no step


def test_closing_needs_a_reason(app, sign_in, staff, alert_id):
    officer = as_user(app, sign_in, staff.officer)
    response = step(officer, alert_id, "close", "open", reason="   ")
    assert response.status_code == 400
    assert "Say why the alert is closed." in response.get_data(as_text=True)
    assert state(app, alert_id) == (AlertStatus.OPEN, [("opened", None, None)])


def test_a_stale_form_is_refused_with_a_message(app, sign_in, staff, alert_id):
    officer, other = as_user(app, sign_in, staff.officer), as_user(app, sign_in, staff.officer2)
    page = officer.get(url(alert_id)).get_data(as_text=True)  # the page as shown while the alert was open
    page_token = TOKEN.search(page).group(1)
    assert step(other, alert_id, "close", "open", reason="Seen and explained.").status_code == 302
    response = officer.post(
        url(alert_id, "/acknowledge"), data={"acknowledge-csrf_token": page_token, "acknowledge-seen": "open"}
    )
    assert response.status_code == 302
    assert "This alert changed while you were looking at it" in officer.get(response.location).get_data(as_text=True)
    status, steps = state(app, alert_id)
    assert status is AlertStatus.CLOSED
    assert [s[0] for s in steps] == ["opened", "closed"]


def test_steps_cannot_be_edited_or_deleted(app, sign_in, staff, alert_id):
    officer = as_user(app, sign_in, staff.officer)
    with app.app_context():
        (step_id,) = session().scalars(select(AlertStep.id).where(AlertStep.alert_id == alert_id)).all()
    for method, path in (
        ("post", url(alert_id, f"/steps/{step_id}")),
        ("post", url(alert_id, f"/steps/{step_id}/delete")),
        ("delete", url(alert_id)),
        ("post", url(alert_id, "/reopen")),
    ):
        assert getattr(officer, method)(path).status_code in (404, 405), path
    assert state(app, alert_id)[1] == [("opened", None, None)]


@pytest.mark.parametrize("who", ["anonymous", "user_a", "agent_f", "rep_f"])
def test_everyone_but_staff_gets_404(app, client, sign_in, world, alert_id, who):
    browser = english(client) if who == "anonymous" else as_user(app, sign_in, getattr(world, who))
    for path in ("/compliance/alerts", url(alert_id), "/compliance/alerts?status=all"):
        assert browser.get(path).status_code == 404, path
    csrf = token_of(browser)  # a valid token of their own session: the door, not CSRF, turns them away
    for action in ("acknowledge", "escalate", "close"):
        data = {f"{action}-csrf_token": csrf, f"{action}-seen": "open", f"{action}-reason": "Mine now."}
        assert browser.post(url(alert_id, f"/{action}"), data=data).status_code == 404
    assert state(app, alert_id)[0] is AlertStatus.OPEN


@pytest.fixture
def refusals_on_a(app, world):
    """A repeated-refusals alert about person A."""
    with app.app_context():
        s, v = session(), vault()
        bank, a = s.get(Institution, world.bank.id), s.get(Subject, world.person_a.id)
        for i in range(3):
            query(s, v, bank, a, at(DAY, 9, i), Reason.FILE_LOCKED)
        (alert,) = monitoring.evaluate(s, v, [DAY])
        s.commit()
        return alert.id


def test_an_officer_linked_to_the_subject_never_sees_the_alert(app, sign_in, staff, world, refusals_on_a):
    with app.app_context():
        session().add(OfficerConflict(officer_user_id=staff.officer.id, subject_id=world.person_a.id))
        session().commit()
    officer, other = as_user(app, sign_in, staff.officer), as_user(app, sign_in, staff.officer2)
    assert str(refusals_on_a) in other.get("/compliance/alerts").get_data(as_text=True)
    for args in ("", "?status=all", "?rule=repeated_refusals"):
        assert str(refusals_on_a) not in officer.get("/compliance/alerts" + args).get_data(as_text=True), args
    assert officer.get(url(refusals_on_a)).status_code == 404
    for action in ("acknowledge", "escalate", "close"):
        assert step(officer, refusals_on_a, action, "open", reason="Nothing to see.").status_code == 404, action
    assert state(app, refusals_on_a) == (AlertStatus.OPEN, [("opened", None, None)])


def test_an_alert_on_a_shredded_subject_is_no_longer_shown(app, sign_in, staff, world, refusals_on_a):
    from sqlalchemy import update

    with app.app_context():
        session().execute(update(Subject).where(Subject.id == world.person_a.id).values(shredded_at=utcnow()))
        session().commit()
    officer = as_user(app, sign_in, staff.officer)
    assert str(refusals_on_a) not in officer.get("/compliance/alerts?status=all").get_data(as_text=True)
    assert officer.get(url(refusals_on_a)).status_code == 404
    assert step(officer, refusals_on_a, "close", "open", reason="Gone.").status_code == 404
    assert state(app, refusals_on_a)[0] is AlertStatus.OPEN


def outlier_alert(app, world, user):
    """A staff_outliers alert about `user`, who revealed twelve identities in a day."""
    with app.app_context():
        s, v = session(), vault()
        a = s.get(Subject, world.person_a.id)
        for i in range(12):
            staff_event(s, v, a, user, EventKind.IDENTITY_REVEALED, at(DAY, 10, i))
        (alert,) = [x for x in monitoring.evaluate(s, v, [DAY]) if x.staff_user_id == user.id]
        s.commit()
        return alert.id


def test_nobody_takes_a_step_on_an_alert_about_themselves(app, sign_in, staff, world):
    alert_id = outlier_alert(app, world, staff.officer)
    officer = as_user(app, sign_in, staff.officer)
    page = officer.get(url(alert_id)).get_data(as_text=True)
    assert "This alert is about you: another officer or a supervisor deals with it." in page
    assert 'action="/compliance/alerts/' not in page  # no form offered
    for action in ("acknowledge", "escalate", "close"):
        refused = step(officer, alert_id, action, "open", reason="All fine, trust me.")
        assert refused.status_code == 400, action
        assert "This alert is about you" in refused.get_data(as_text=True)
    assert state(app, alert_id) == (AlertStatus.OPEN, [("opened", None, None)])
    # the others deal with it
    assert step(as_user(app, sign_in, staff.officer2), alert_id, "escalate", "open").status_code == 302
    assert (
        step(
            as_user(app, sign_in, staff.supervisor), alert_id, "close", "escalated", reason="Spoke to them."
        ).status_code
        == 302
    )
    assert state(app, alert_id)[0] is AlertStatus.CLOSED


def test_a_supervisor_does_not_close_an_escalated_alert_about_themselves(app, sign_in, staff, world):
    alert_id = outlier_alert(app, world, staff.supervisor)
    assert step(as_user(app, sign_in, staff.officer), alert_id, "escalate", "open").status_code == 302
    supervisor = as_user(app, sign_in, staff.supervisor)
    refused = step(supervisor, alert_id, "close", "escalated", reason="Nothing wrong here.")
    assert refused.status_code == 400
    assert "This alert is about you" in refused.get_data(as_text=True)
    assert state(app, alert_id)[0] is AlertStatus.ESCALATED


def test_escalating_says_when_no_other_supervisor_was_told(app, sign_in, staff, alert_id):
    supervisor = as_user(app, sign_in, staff.supervisor)  # the only supervisor
    response = step(supervisor, alert_id, "escalate", "open", reason="Needs a second look.")
    assert response.status_code == 302
    html = supervisor.get(response.location).get_data(as_text=True)
    assert "No other supervisor is active to be told." in html
    assert "the supervisors were told" not in html
    assert state(app, alert_id)[0] is AlertStatus.ESCALATED
