"""Staff routes reach a case only as the rules allow. Every route under
/officer that takes an id, found in the URL map (so new routes are covered
by default), is tried on a real case (under review, held by an officer,
with a file) by every role: the subject, a firm's representative and
agent, an administrator and an officer linked to the subject get 404;
officers and supervisors who see the case but do not hold it get 403 for
what only the holder does, or the refusal the assignment rules define; and
nothing is written. The holder reaches every route, which shows the test
can fail."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal import create_app
from portal.accounts import two_factor
from portal.accounts.models import Role
from portal.accounts.services import create_user
from portal.compliance.conflicts import declare_conflict
from portal.disputes.evidence import Upload
from portal.disputes.models import Dispute
from portal.extensions import session, vault
from portal.models import all_models
from portal.records.models import Subject
from tests.cast import PDF
from tests.officers import as_user, assign_to, case_url, file_case, token

PREFIX = "/officer/"
# Values for a rule's arguments that are not ids (anything else is a new
# argument this test must be told about).
OTHER_ARGS = {"to": "waiting_for_furnisher"}


def staff_routes():
    app = create_app({"SECRET_KEY": "x", "DATABASE_URL": "sqlite://"})
    rules = [
        r for r in app.url_map.iter_rules() if r.rule.startswith(PREFIX) and any(a.endswith("_id") for a in r.arguments)
    ]
    assert rules, "no staff route takes an id: the URL map changed shape"
    return sorted(
        (r.endpoint, tuple(sorted(r.arguments)), m) for r in rules for m in sorted(r.methods - {"HEAD", "OPTIONS"})
    )


ROUTES = staff_routes()
NOT_STAFF = ("person", "firm_representative", "firm_agent", "administrator", "linked_officer")
BYSTANDERS = ("other_officer", "supervisor")  # see the case, do not hold it
# What a bystander may do besides what the holder alone does: open the case
# page, declare a conflict; a supervisor also takes the case or gives it to
# someone else. For the rest the answer is 403, or the refusal named here.
BYSTANDER_MAY = {
    "officer.case": BYSTANDERS,
    "officer.recuse": BYSTANDERS,
    "officer.take": ("supervisor",),
    "officer.assign": ("supervisor",),
}
REFUSALS = {
    "officer.take": "already assigned to another officer",
    "officer.assign": "Only a supervisor can assign a case to another officer.",
}


def expected(role, endpoint):
    """404, 403, a refusal's text, or None where the role may do it."""
    if role in NOT_STAFF:
        return 404
    if role in BYSTANDER_MAY.get(endpoint, ()):
        return None
    return REFUSALS.get(endpoint, 403)


CASES = [
    (role, *route) for route in ROUTES for role in (*NOT_STAFF, *BYSTANDERS) if expected(role, route[0]) is not None
]


@pytest.fixture
def case(app, world, staff):
    """A case of person A under review, held by `staff.officer`, with one
    file; the roles that try it, by name."""
    dispute_id = file_case(app, world, "a", files=[Upload("scan.pdf", PDF)])
    assign_to(app, dispute_id, staff.officer, review=True)
    with app.app_context():
        s, v = session(), vault()

        def make(role, email):
            user = create_user(s, v, role=role, email=email, display_name=email.split("@")[0])
            two_factor.enable(s, v, user, two_factor.new_secret())
            return user

        admin = make(Role.ADMINISTRATOR, "admin@staff.example")
        linked = make(Role.OFFICER, "officer.linked@staff.example")
        declare_conflict(s, v, linked, s.get(Subject, world.person_a.id))
        evidence_id = s.get(Dispute, dispute_id).evidence[0].id
        s.commit()
    users = {
        "person": world.user_a,
        "firm_representative": world.rep_f,
        "firm_agent": world.agent_f,
        "administrator": admin,
        "linked_officer": linked,
        "other_officer": staff.officer2,
        "supervisor": staff.supervisor,
        "holder": staff.officer,
    }
    return {
        "dispute_id": dispute_id,
        "evidence_id": evidence_id,
        "users": users,
        "bank": world.bank.id,
        "target": staff.supervisor.id,
    }


def url(app, endpoint, arguments, case):
    ids = {"dispute_id": case["dispute_id"], "evidence_id": case["evidence_id"]}
    values = {}
    for a in arguments:
        assert a in ids or a in OTHER_ARGS, f"{endpoint} takes {a}: give this test a real value for it"
        values[a] = ids.get(a) or OTHER_ARGS[a]
    with app.test_request_context():
        from flask import url_for

        return url_for(endpoint, **values)


def form(endpoint, case, version, csrf):
    """A complete form for the route, so that only the rules can refuse it
    (a route not listed gets the CSRF token alone)."""
    forms = {
        "officer.take": ("take", {}),
        "officer.assign": ("assign", {"officer": str(case["target"])}),
        "officer.move": ("move-" + OTHER_ARGS["to"], {"note": "Asked the bank."}),
        "officer.extend": ("extend", {"days": "5", "reason": "Waiting for the court"}),
        "officer.decide": ("decide", {"outcome": "verified_accurate", "reason": "The ledger matches."}),
        "officer.add_note": ("note", {"text": "A note"}),
        "officer.reveal": ("reveal", {"reason": "To check the licence"}),
        "officer.recuse": ("recuse", {"confirm": "y"}),
        "officer.share": (f"share-{case['evidence_id'].hex}", {"furnishers": str(case["bank"])}),
    }
    if endpoint not in forms:
        return {"csrf_token": csrf}
    prefix, fields = forms[endpoint]
    return {
        **{f"{prefix}-{k}": v for k, v in fields.items()},
        f"{prefix}-csrf_token": csrf,
        f"{prefix}-lock_version": str(version),
    }


def written(app, dispute_id):
    """Row counts of every table, and the case as it stands."""
    with app.app_context():
        s = session()
        counts = {t.name: s.scalar(select(func.count()).select_from(t)) for t in all_models().sorted_tables}
        d = s.get(Dispute, dispute_id)
        return counts, (d.status, d.assigned_officer_id, d.lock_version, d.due_on, d.outcome)


def client_for(app, sign_in, case, role):
    client = as_user(app, sign_in, case["users"][role])
    client.get(case_url(case["dispute_id"]))  # the case page's view, once a day, is written before we count
    return client


def send(client, method, path, data):
    return client.open(path, method=method, data=data if method == "POST" else None)


@pytest.mark.parametrize(
    ("role", "endpoint", "arguments", "method"), CASES, ids=[f"{c[0]}-{c[1]}-{c[3]}" for c in CASES]
)
def test_staff_routes_refuse_what_a_role_may_not_see_or_do(
    app, world, sign_in, case, role, endpoint, arguments, method
):
    client = client_for(app, sign_in, case, role)
    path = url(app, endpoint, arguments, case)
    before = written(app, case["dispute_id"])
    response = send(client, method, path, form(endpoint, case, before[1][2], token(client)))
    want = expected(role, endpoint)
    body = response.get_data(as_text=True)
    if isinstance(want, int):
        assert response.status_code == want, (method, path, response.status_code)
    else:  # refused by the rules, shown on the case page
        assert response.status_code == 200, (method, path, response.status_code)
        assert want in body
    assert written(app, case["dispute_id"]) == before, (method, path)
    assert "张三" not in body
    assert "11010519491231002X" not in body


HOLDER_ROUTES = [r for r in ROUTES if r[0] != "officer.recuse"]  # declaring a conflict ends the holding


@pytest.mark.parametrize(("endpoint", "arguments", "method"), HOLDER_ROUTES, ids=[r[0] for r in HOLDER_ROUTES])
def test_the_holder_reaches_every_staff_route(app, world, sign_in, case, endpoint, arguments, method):
    client = client_for(app, sign_in, case, "holder")
    version = written(app, case["dispute_id"])[1][2]
    response = send(client, method, url(app, endpoint, arguments, case), form(endpoint, case, version, token(client)))
    assert response.status_code in (200, 302), (endpoint, response.status_code)


def test_every_role_is_tried(case):
    """Each role the fixture builds is tried above: none is left out."""
    assert set(case["users"]) == {*NOT_STAFF, *BYSTANDERS, "holder"}
