"""Institution oversight at /compliance/institutions: the figures of an
institution against a known fixture, no subject named, supervisors alone
suspend and lift (with a reason, the history kept), and nobody but staff
reaches these pages."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import func, select, update

from portal.access.models import Consent, ConsentKind
from portal.accounts.models import Role, User
from portal.audit.events import record_event
from portal.audit.models import AccessEvent, EventKind, Outcome
from portal.db import utcnow
from portal.disputes.lifecycle import advance
from portal.disputes.models import CorrectionNotice, DisputeStep, FurnisherResponse, OfficerConflict, StepKind
from portal.extensions import session, vault
from portal.institutions.models import ApiKey, ApiScope, Institution, InstitutionKind, InstitutionSuspension
from portal.institutions.services import issue_api_key
from portal.localtime import today as portal_today
from portal.localtime import zone
from portal.records.models import Subject
from tests import factories as make
from tests.factories import PERSON_A
from tests.officers import S, as_user, english, token

URL = "/compliance/institutions"
SERVED, REFUSED = Outcome.SERVED, Outcome.REFUSED


def _local_noon(days_ago: int) -> datetime:
    day = portal_today() - timedelta(days=days_ago)
    return datetime.combine(day, time(12), zone())


# (days ago, purpose, outcome, basis): two inside the list's 30 days, the
# rest in earlier months, one before the page's default twelve months.
QUERIES = [
    (2, "loan_approval", SERVED, "consent"),
    (5, "loan_approval", REFUSED, "consent_expired"),
    (70, "loan_approval", SERVED, "consent"),
    (70, "credit_card_approval", REFUSED, "consent_required"),
    (100, "credit_card_approval", REFUSED, "consent_required"),
    (100, "credit_card_approval", SERVED, "consent"),
    (100, "loan_approval", SERVED, "written_authorisation"),
    (500, "loan_approval", SERVED, "consent"),
]
ANSWER_DAYS = (1, 2, 6)  # mean 3, median 2


@dataclass
class Fixture:
    id: uuid.UUID
    used_key: str
    unused_key: str
    dispute_id: uuid.UUID


@pytest.fixture
def lender(app, world, staff) -> Fixture:
    """A lender with the queries above, three authorities (live, expired,
    revoked), four disputes of its records forwarded to it (three answered
    after ANSWER_DAYS, one waiting), an unacknowledged correction notice
    ten days old, and two API keys, one used."""
    with app.app_context():
        s, v = session(), vault()
        lender = make.institution(
            s,
            v,
            "oversee-lender",
            InstitutionKind.LENDER,
            ["loan_approval", "credit_card_approval"],
            name_en="Oversee Lender",
        )
        a = s.get(Subject, world.person_a.id)
        for days_ago, purpose, outcome, basis in QUERIES:
            event = record_event(
                s,
                v,
                a,
                EventKind.INSTITUTION_QUERY,
                channel="api",
                outcome=outcome,
                institution_id=lender.id,
                purpose=purpose,
                basis=basis,
            )
            event.occurred_at = _local_noon(days_ago)
        today = portal_today()
        for kind, valid_until, revoked in (
            (ConsentKind.GRANT, today + timedelta(days=30), None),
            (ConsentKind.GRANT, today - timedelta(days=1), None),
            (ConsentKind.WRITTEN, today + timedelta(days=30), utcnow()),
        ):
            s.add(
                Consent(
                    subject_id=a.id,
                    institution_id=lender.id,
                    purpose="loan_approval",
                    kind=kind,
                    valid_until=valid_until,
                    revoked_at=revoked,
                )
            )
        officer = s.get(User, staff.officer.id)
        cases = []
        for n in range(len(ANSWER_DAYS) + 1):  # the last one is not answered
            record = make.record(s, v, lender, a, f"OV-LOAN-{n}")
            dispute = make.dispute(s, v, a, s.get(User, world.user_a.id), [record])
            for to in (S.ACKNOWLEDGED, S.UNDER_REVIEW, S.WAITING_FOR_FURNISHER):
                advance(s, v, dispute, to, officer)
            cases.append((dispute.id, record.record_id))
        used = issue_api_key(s, lender, [ApiScope.FURNISH, ApiScope.QUERY])
        unused = issue_api_key(s, lender, [ApiScope.QUERY])
        s.commit()
    for dispute_id, record_id in cases[:-1]:
        response = app.test_client().post(
            f"/api/v1/disputes/{dispute_id}/responses",
            json={"record_id": str(record_id), "answer": "verified_accurate", "reviewed": "The ledger."},
            headers={"Authorization": f"Bearer {used}"},
        )
        assert response.status_code == 201, response.get_data(as_text=True)
    with app.app_context():
        s = session()
        forwarded = _local_noon(20)
        for (dispute_id, _record), days in zip(cases, ANSWER_DAYS, strict=False):
            s.scalar(
                select(DisputeStep).where(
                    DisputeStep.dispute_id == dispute_id, DisputeStep.step == StepKind.WAITING_FOR_FURNISHER
                )
            ).at = forwarded
            s.scalar(select(FurnisherResponse).where(FurnisherResponse.dispute_id == dispute_id)).created_at = (
                forwarded + timedelta(days=days)
            )
        dispute_id, record_id = cases[0]
        some_event = s.scalar(select(AccessEvent.id).where(AccessEvent.institution_id == lender.id).limit(1))
        s.add(
            CorrectionNotice(
                dispute_id=dispute_id,
                institution_id=lender.id,
                record_id=record_id,
                received_event_id=some_event,
                body_ct=b"sealed",
                created_at=_local_noon(10),
            )
        )
        s.commit()
        return Fixture(
            lender.id, used.split(".")[0].removeprefix("pk_"), unused.split(".")[0].removeprefix("pk_"), dispute_id
        )


def _row(html: str, marker: str) -> str:
    start = html.index(marker)
    return html[start : html.index("</tr>", start)]


def _cell(row: str, cls: str) -> str:
    return re.search(rf'class="number {cls}">(\d+)<', row).group(1)


def test_the_list_counts_recent_queries_refusals_disputes_and_notices(app, world, staff, sign_in, lender):
    client = as_user(app, sign_in, staff.officer)
    response = client.get(URL)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    row = _row(html, f'id="institution-{lender.id}"')
    assert "Oversee Lender" in row
    assert "Lender" in row
    assert _cell(row, "queries") == "2"
    assert _cell(row, "refusals") == "1"
    assert _cell(row, "disputes") == "4"
    assert _cell(row, "notices") == "1"
    assert "Suspended" not in row
    bank = _row(html, f'id="institution-{world.bank.id}"')
    assert [_cell(bank, c) for c in ("queries", "refusals", "disputes", "notices")] == ["0", "0", "0", "0"]


def test_a_page_past_the_last_is_not_found(app, world, staff, sign_in):
    client = as_user(app, sign_in, staff.officer)
    assert client.get(URL + "?page=2").status_code == 404
    assert client.get(URL + "?page=x").status_code == 404


def test_the_institution_page_figures(app, world, staff, sign_in, lender):
    client = as_user(app, sign_in, staff.officer)
    response = client.get(f"{URL}/{lender.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # Queries by local month and purpose, the one of 500 days ago outside the default twelve months.
    expected: Counter = Counter()
    for days_ago, purpose, outcome, _basis in QUERIES[:-1]:
        expected[(_local_noon(days_ago).strftime("%Y-%m"), purpose, outcome)] += 1
    shown = {}
    for m in re.finditer(
        r'data-month="([\d-]+)" data-purpose="(\w+)">.*?class="number served">(\d+)<.*?class="number refused">(\d+)<',
        html,
        re.S,
    ):
        shown[(m[1], m[2])] = (int(m[3]), int(m[4]))
    assert shown == {
        (month, purpose): (expected[(month, purpose, SERVED)], expected[(month, purpose, REFUSED)])
        for month, purpose, _o in expected
    }
    assert "Served: 4. Refused: 3." in html
    # Refusals by reason, in words.
    refusals = dict(re.findall(r'data-reason="(\w+)"><td>[^<]+</td><td class="number">(\d+)<', html))
    assert refusals == {"consent_required": "2", "consent_expired": "1"}
    assert "This purpose needs a live consent of the subject for this institution." in html
    # Authorities, counted only.
    grant = _row(html, 'data-kind="grant"')
    assert (_cell(grant, "live"), _cell(grant, "expired"), _cell(grant, "revoked")) == ("1", "1", "0")
    written = _row(html, 'data-kind="written_authorisation"')
    assert (_cell(written, "live"), _cell(written, "expired"), _cell(written, "revoked")) == ("0", "0", "1")
    # Disputes and the answer time.
    assert '<dd class="open">4</dd>' in html
    assert '<dd class="filed">4</dd>' in html
    assert '<dd class="answers">3</dd>' in html
    assert '<dd class="waiting">1</dd>' in html
    assert "mean 3.0, median 2.0, longest 6.0 days" in html
    # The notice and its age.
    assert "1 notice waits for its acknowledgement." in html
    assert '<td class="number age">10 days</td>' in html
    # Keys: ids, the one used has a time, never a secret.
    used = _row(html, f'data-key="{lender.used_key}"')
    assert "<time" in used.split('class="last-used"')[1]
    assert "Never" in _row(html, f'data-key="{lender.unused_key}"')
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(ApiKey).where(ApiKey.institution_id == lender.id)) == 2
    assert "pk_" not in html
    # Hours and state.
    assert "None declared (any hour)" in html
    assert "Never suspended." in html


def test_a_chosen_period_narrows_the_figures(app, world, staff, sign_in, lender):
    client = as_user(app, sign_in, staff.officer)
    start = (portal_today() - timedelta(days=10)).isoformat()
    html = client.get(f"{URL}/{lender.id}?start={start}").get_data(as_text=True)
    assert "Served: 1. Refused: 1." in html
    everything = (portal_today() - timedelta(days=600)).isoformat()
    html = client.get(f"{URL}/{lender.id}?start={everything}").get_data(as_text=True)
    assert "Served: 5. Refused: 3." in html
    bad = client.get(f"{URL}/{lender.id}?start=2024-13-01&end=nonsense")
    assert bad.status_code == 200
    assert "Served: 4. Refused: 3." in bad.get_data(as_text=True)  # the default period, the errors shown
    backwards = client.get(f"{URL}/{lender.id}?start=2024-05-01&end=2024-04-01").get_data(as_text=True)
    assert "The end of the period comes before its start." in backwards


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("?end=9999-12-31", "Choose a date from"),
        ("?start=9999-12-31", "Choose a date from"),
        ("?start=0001-01-01", "Choose a date from"),
        ("?end=0001-01-01", "Choose a date from"),
        ("?start=0001-01-01&end=0001-01-01", "Choose a date from"),
        ("?start=1999-12-31&end=2000-06-01", "Choose a date from"),
        ("?start=2005-01-01", "Choose a period of at most five years."),  # until today, by default
        ("?start=2005-01-01&end=2012-01-01", "Choose a period of at most five years."),
    ],
)
def test_a_period_out_of_bounds_is_refused_with_the_default_figures(app, world, staff, sign_in, lender, query, error):
    response = as_user(app, sign_in, staff.officer).get(f"{URL}/{lender.id}{query}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert error in html
    assert "Served: 4. Refused: 3." in html  # the default twelve months


def test_a_period_within_bounds_with_one_end_given(app, world, staff, sign_in, lender):
    client = as_user(app, sign_in, staff.officer)
    html = client.get(f"{URL}/{lender.id}?start=2000-01-01&end=2000-12-31").get_data(as_text=True)
    assert "Served: 0. Refused: 0." in html
    assert "Choose a" not in html
    # Only the end given, before the default start: that one day.
    html = client.get(f"{URL}/{lender.id}?end=2000-01-01").get_data(as_text=True)
    assert "Served: 0. Refused: 0." in html
    assert "Choose a" not in html
    ahead = (portal_today() + timedelta(days=300)).isoformat()
    html = client.get(f"{URL}/{lender.id}?end={ahead}").get_data(as_text=True)
    assert "Served: 4. Refused: 3." in html
    assert "Choose a" not in html


def test_the_pages_in_the_default_language(app, world, staff, sign_in, lender):
    client = sign_in(app.test_client(), staff.supervisor)  # no language cookie: Chinese
    for url in (URL, f"{URL}/{lender.id}", f"{URL}/{world.bank.id}"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert 'lang="zh' in response.get_data(as_text=True)


def test_declared_hours_and_an_unknown_institution(app, world, staff, sign_in):
    with app.app_context():
        bank = session().get(Institution, world.bank.id)
        bank.query_hours_from, bank.query_hours_until = 8, 18
        session().commit()
    client = as_user(app, sign_in, staff.officer)
    assert "08:00 to 18:00, local time" in client.get(f"{URL}/{world.bank.id}").get_data(as_text=True)
    assert client.get(f"{URL}/{uuid.uuid4()}").status_code == 404
    assert client.get(f"{URL}/not-a-uuid").status_code == 404


def test_a_notice_names_its_case_only_to_whom_may_see_it(app, world, staff, sign_in, lender):
    """A case whose subject the viewer is linked to, or whose subject was
    shredded, is not linked nor named: the notice is still counted."""
    ref = lender.dispute_id.hex[:8]
    html = as_user(app, sign_in, staff.officer).get(f"{URL}/{lender.id}").get_data(as_text=True)
    assert f'href="/officer/cases/{lender.dispute_id}"' in html
    with app.app_context():
        session().add(OfficerConflict(officer_user_id=staff.officer.id, subject_id=world.person_a.id))
        session().commit()
    linked = as_user(app, sign_in, staff.officer).get(f"{URL}/{lender.id}").get_data(as_text=True)
    assert "1 notice waits for its acknowledgement." in linked
    assert '<td class="number age">10 days</td>' in linked
    assert ref not in linked
    unlinked = as_user(app, sign_in, staff.supervisor).get(f"{URL}/{lender.id}").get_data(as_text=True)
    assert f'href="/officer/cases/{lender.dispute_id}"' in unlinked
    with app.app_context():
        session().execute(update(Subject).where(Subject.id == world.person_a.id).values(shredded_at=utcnow()))
        session().commit()
    shredded = as_user(app, sign_in, staff.supervisor).get(f"{URL}/{lender.id}").get_data(as_text=True)
    assert "1 notice waits for its acknowledgement." in shredded
    assert ref not in shredded


def test_officers_see_no_subject_identity(app, world, staff, sign_in, lender):
    client = as_user(app, sign_in, staff.officer)
    for url in (URL, f"{URL}/{lender.id}"):
        html = client.get(url).get_data(as_text=True)
        for secret in ("张三", PERSON_A, PERSON_A[:6] + "*"):
            assert secret not in html, (url, secret)


# -- suspension ------------------------------------------------------------------------------------
def _post(client, url, **fields):
    return client.post(url, data={"csrf_token": token(client), **fields})


def _state(app, institution_id):
    with app.app_context():
        s = session()
        inst = s.get(Institution, institution_id)
        history = s.scalars(
            select(InstitutionSuspension)
            .where(InstitutionSuspension.institution_id == institution_id)
            .order_by(InstitutionSuspension.at)
        ).all()
        return inst.suspended_at, inst.suspended_reason, [(h.action, h.reason, h.actor_user_id) for h in history]


def test_an_officer_sees_the_state_but_cannot_suspend(app, world, staff, sign_in):
    client = as_user(app, sign_in, staff.officer)
    html = client.get(f"{URL}/{world.bank.id}").get_data(as_text=True)
    assert "Allowed" in html
    assert "/suspend" not in html
    for action in ("suspend", "lift"):
        response = _post(client, f"{URL}/{world.bank.id}/{action}", reason="Too many refusals.", confirm="y")
        assert response.status_code == 404
    assert _state(app, world.bank.id) == (None, None, [])


def test_a_supervisor_suspends_with_a_reason_and_a_confirmation_then_lifts(app, world, staff, sign_in):
    client = as_user(app, sign_in, staff.supervisor)
    page = client.get(f"{URL}/{world.bank.id}").get_data(as_text=True)
    assert "its report queries will be refused until a supervisor lifts the suspension" in page
    url = f"{URL}/{world.bank.id}/suspend"
    seen = _seen(page)

    no_reason = _post(client, url, reason="  ", confirm="y", seen=seen)
    assert no_reason.status_code == 400
    assert "Give a reason." in no_reason.get_data(as_text=True)
    unconfirmed = _post(client, url, reason="Queries outside its declared hours.", seen=seen)
    assert unconfirmed.status_code == 400
    html = unconfirmed.get_data(as_text=True)
    assert "Tick the box to confirm the suspension." in html
    assert "Queries outside its declared hours.</textarea>" in html  # what was typed is kept
    assert _state(app, world.bank.id) == (None, None, [])

    done = _post(client, url, reason="Queries outside its declared hours.", confirm="y", seen=seen)
    assert done.status_code == 302
    at, reason, history = _state(app, world.bank.id)
    assert at is not None
    assert reason == "Queries outside its declared hours."
    assert history == [("suspended", "Queries outside its declared hours.", staff.supervisor.id)]
    page = client.get(f"{URL}/{world.bank.id}").get_data(as_text=True)
    assert "Suspended since" in page
    assert "Lift the suspension" in page
    listed = _row(client.get(URL).get_data(as_text=True), f'id="institution-{world.bank.id}"')
    assert "Suspended" in listed

    again = _post(client, url, reason="Once more.", confirm="y")
    assert again.status_code == 302
    assert "already suspended: nothing was changed" in client.get(again.headers["Location"]).get_data(as_text=True)
    assert _state(app, world.bank.id)[2] == history

    lifted = _post(client, f"{URL}/{world.bank.id}/lift", reason="It fixed its scheduler.", seen=_seen(page))
    assert lifted.status_code == 302
    at, reason, history = _state(app, world.bank.id)
    assert (at, reason) == (None, None)
    assert [h[0] for h in history] == ["suspended", "lifted"]
    assert history[1][1] == "It fixed its scheduler."
    again = _post(client, f"{URL}/{world.bank.id}/lift", reason="Again.")
    assert "not suspended: nothing was changed" in client.get(again.headers["Location"]).get_data(as_text=True)
    assert len(_state(app, world.bank.id)[2]) == 2


@pytest.mark.parametrize("who", ["anonymous", "user_a", "rep_f", "agent_f"])
def test_non_staff_get_404_on_every_institution_url(app, world, sign_in, who):
    client = english(app.test_client()) if who == "anonymous" else as_user(app, sign_in, getattr(world, who))
    for url in (URL, URL + "?page=1", f"{URL}/{world.bank.id}", f"{URL}/{uuid.uuid4()}"):
        assert client.get(url).status_code == 404, url
    csrf = token(client)
    for action in ("suspend", "lift"):
        response = client.post(
            f"{URL}/{world.bank.id}/{action}", data={"csrf_token": csrf, "reason": "x", "confirm": "y"}
        )
        assert response.status_code == 404, action
    assert _state(app, world.bank.id) == (None, None, [])


def _seen(html: str) -> str:
    return re.search(r'name="seen"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*name="seen"', html).group(1)


def test_a_form_from_a_page_older_than_another_supervisors_step_changes_nothing(app, world, staff, sign_in):
    """A's page was opened before B suspended and lifted: A's suspension is
    refused; A's lift form, opened before B lifted and suspended again,
    does not lift B's newer suspension."""
    a = as_user(app, sign_in, staff.supervisor)
    with app.app_context():
        other = make.user(session(), vault(), Role.SUPERVISOR, "supervisor.b@staff.example", second_factor=True)
        session().commit()
    b = as_user(app, sign_in, other)
    url = f"{URL}/{world.bank.id}"
    old = _seen(a.get(url).get_data(as_text=True))

    for action, fields in (("suspend", {"confirm": "y"}), ("lift", {})):
        seen = _seen(b.get(url).get_data(as_text=True))
        assert _post(b, f"{url}/{action}", reason="B acts.", seen=seen, **fields).status_code == 302
    refused = _post(a, f"{url}/suspend", reason="A acts.", confirm="y", seen=old)
    assert refused.status_code == 302
    assert "The suspension changed since you opened the page" in a.get(refused.headers["Location"]).get_data(
        as_text=True
    )
    assert [h[0] for h in _state(app, world.bank.id)[2]] == ["suspended", "lifted"]
    assert _post(a, f"{url}/suspend", reason="A acts.", confirm="y").status_code == 302  # no seen: refused too
    assert _state(app, world.bank.id)[0] is None

    seen = _seen(b.get(url).get_data(as_text=True))
    assert _post(b, f"{url}/suspend", reason="B suspends.", confirm="y", seen=seen).status_code == 302
    old_lift = _seen(a.get(url).get_data(as_text=True))
    seen = _seen(b.get(url).get_data(as_text=True))
    assert _post(b, f"{url}/lift", reason="B lifts.", seen=seen).status_code == 302
    seen = _seen(b.get(url).get_data(as_text=True))
    assert _post(b, f"{url}/suspend", reason="B suspends again.", confirm="y", seen=seen).status_code == 302
    assert _post(a, f"{url}/lift", reason="A lifts.", seen=old_lift).status_code == 302
    at, reason, history = _state(app, world.bank.id)
    assert at is not None
    assert reason == "B suspends again."
    assert "A lifts." not in [h[1] for h in history]

    fresh = _seen(a.get(url).get_data(as_text=True))
    assert _post(a, f"{url}/lift", reason="A lifts.", seen=fresh).status_code == 302
    assert _state(app, world.bank.id)[0] is None


# -- declared query hours --------------------------------------------------------------------------
def _hours(app, institution_id):
    with app.app_context():
        inst = session().get(Institution, institution_id)
        return inst.query_hours_from, inst.query_hours_until


def test_a_supervisor_declares_query_hours_across_midnight_then_any_hour(app, world, staff, sign_in):
    client = as_user(app, sign_in, staff.supervisor)
    url = f"{URL}/{world.bank.id}/hours"
    assert 'action="' + url + '"' in client.get(f"{URL}/{world.bank.id}").get_data(as_text=True)
    done = _post(client, url, **{"hours-start": "22", "hours-until": "6"})
    assert done.status_code == 302
    assert _hours(app, world.bank.id) == (22, 6)
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "22:00 to 06:00, local time" in page
    assert "22:00-06:00" in page  # in the oversight history
    assert _post(client, url, **{"hours-any_hour": "y"}).status_code == 302
    assert _hours(app, world.bank.id) == (None, None)
    history = _state(app, world.bank.id)[2]
    assert history == [("hours", "22:00-06:00", staff.supervisor.id), ("hours", "any", staff.supervisor.id)]
    assert _state(app, world.bank.id)[0] is None  # its querying untouched


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"hours-start": "24", "hours-until": "6"}, "A whole hour from 0 to 23."),
        ({"hours-start": "-1", "hours-until": "6"}, "A whole hour from 0 to 23."),
        ({"hours-start": "7.5", "hours-until": "6"}, "Not a valid integer value"),
        ({"hours-start": "8"}, "Give a whole hour from 0 to 23, or tick any hour."),
        ({}, "Give a whole hour from 0 to 23, or tick any hour."),
        ({"hours-start": "8", "hours-until": "8"}, "The hours must differ"),
        ({"hours-start": "8", "hours-until": "18", "hours-any_hour": "y"}, "Give hours or tick any hour, not both."),
    ],
)
def test_bad_query_hours_are_refused_and_kept(app, world, staff, sign_in, fields, error):
    client = as_user(app, sign_in, staff.supervisor)
    response = _post(client, f"{URL}/{world.bank.id}/hours", **fields)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert error in html
    if "hours-start" in fields:
        assert f'value="{fields["hours-start"]}"' in html  # what was typed is kept
    assert _hours(app, world.bank.id) == (None, None)
    assert _state(app, world.bank.id)[2] == []


def test_an_officer_cannot_declare_query_hours(app, world, staff, sign_in):
    client = as_user(app, sign_in, staff.officer)
    assert "/hours" not in client.get(f"{URL}/{world.bank.id}").get_data(as_text=True)
    response = _post(client, f"{URL}/{world.bank.id}/hours", **{"hours-start": "8", "hours-until": "18"})
    assert response.status_code == 404
    assert _hours(app, world.bank.id) == (None, None)


def _code(app, institution_id):
    with app.app_context():
        return session().get(Institution, institution_id).code


def test_the_hours_command_sets_and_clears(app, world, staff, runner):
    code = _code(app, world.bank.id)
    by = ["--by", "supervisor@staff.example"]
    result = runner.invoke(args=["compliance", "hours", code, "--from", "8", "--until", "18", *by])
    assert result.exit_code == 0, result.output
    assert "08:00-18:00" in result.output
    assert _hours(app, world.bank.id) == (8, 18)
    result = runner.invoke(args=["compliance", "hours", code, "--any", *by])
    assert result.exit_code == 0, result.output
    assert _hours(app, world.bank.id) == (None, None)
    assert [h[:2] for h in _state(app, world.bank.id)[2]] == [("hours", "08:00-18:00"), ("hours", "any")]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--from", "8"], "give both --from and --until"),
        (["--from", "8", "--until", "18", "--any"], "give --from and --until, or --any"),
        ([], "give --from and --until, or --any"),
        (["--from", "24", "--until", "6"], "0<=x<=23"),
        (["--from", "8", "--until", "8"], "must differ"),
        (["--from", "8", "--until", "18", "--by", "officer.one@staff.example"], "is not a supervisor"),
        (["--from", "8", "--until", "18", "--by", "nobody@staff.example"], "no officer or supervisor"),
    ],
)
def test_the_hours_command_refuses_bad_arguments(app, world, staff, runner, args, error):
    code = _code(app, world.bank.id)
    by = [] if "--by" in args else ["--by", "supervisor@staff.example"]
    result = runner.invoke(args=["compliance", "hours", code, *args, *by])
    assert result.exit_code != 0
    assert error in result.output
    assert _hours(app, world.bank.id) == (None, None)


def test_the_hours_command_needs_a_known_code(app, world, staff, runner):
    result = runner.invoke(args=["compliance", "hours", "no-such-code", "--any", "--by", "supervisor@staff.example"])
    assert result.exit_code != 0
    assert "no institution has the code no-such-code" in result.output
