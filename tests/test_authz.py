"""The subject side's one authorisation policy (portal.accounts.authz):
another subject's objects, and a child id that belongs to another parent,
are 404, for the helpers and for the pages that load through them. And the
request's transaction: a refused request writes nothing, while a refused
report query stays recorded for the subject."""

from __future__ import annotations

import io
import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.exceptions import NotFound

from portal import worker
from portal.access import consents
from portal.access.models import Consent
from portal.accounts.authz import (
    OutsideAuthority,
    found,
    load_of,
    load_own,
    load_part,
    load_represented_firm,
    load_subject,
)
from portal.accounts.models import DelegationScope, User
from portal.audit.events import record_event
from portal.audit.models import AccessEvent, EventKind, Outcome
from portal.disputes import services as disputes
from portal.disputes.evidence import Upload
from portal.disputes.models import Dispute, DisputeStep, Evidence
from portal.extensions import session, vault
from portal.institutions.models import ApiScope, Institution
from portal.institutions.services import issue_api_key
from portal.localtime import today as portal_today
from portal.notifications.models import Message
from portal.records.models import Category, CreditRecord, RecordStatus, Subject
from portal.records.services import RecordInput, furnish
from tests.files import PDF

TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
# Everything a subject's request could write.
TABLES = (Dispute, DisputeStep, Evidence, AccessEvent, Consent, Message, CreditRecord)


def counts(app) -> dict[str, int]:
    with app.app_context():
        return {m.__tablename__: session().scalar(select(func.count()).select_from(m)) for m in TABLES}


def records_of(s, subject_id) -> list[uuid.UUID]:
    return list(
        s.scalars(
            select(CreditRecord.id)
            .where(CreditRecord.subject_id == subject_id)
            .order_by(CreditRecord.created_at, CreditRecord.id)
        )
    )


@pytest.fixture
def objects(app, world):
    """Two disputes of person A (each with a file), one of person B; an
    access event and a consent of each of A and B."""
    with app.app_context():
        s, v = session(), vault()
        a, b = s.get(Subject, world.person_a.id), s.get(Subject, world.person_b.id)
        user_a, user_b = s.get(User, world.user_a.id), s.get(User, world.user_b.id)
        loan_a, card_a = records_of(s, a.id)
        (loan_b,) = records_of(s, b.id)
        first = disputes.file_dispute(
            s, v, a, user_a, [loan_a], "wrong_amount", "Wrong balance.", files=[Upload("one.pdf", PDF)]
        )
        second = disputes.file_dispute(
            s, v, a, user_a, [card_a], "not_mine", "Not my card.", files=[Upload("two.pdf", PDF)]
        )
        of_b = disputes.file_dispute(s, v, b, user_b, [loan_b], "not_mine", "Not mine.")
        event_a = record_event(s, v, a, EventKind.SELF_QUERY, actor_user_id=user_a.id, detail={"what": "test"})
        event_b = record_event(s, v, b, EventKind.SELF_QUERY, actor_user_id=user_b.id, detail={"what": "test"})
        bank = s.get(Institution, world.bank.id)
        until = portal_today() + timedelta(days=30)
        consent_a = consents.grant(s, v, a, bank, "loan_approval", until, user_a)
        consent_b = consents.grant(s, v, b, bank, "loan_approval", until, user_b)
        s.commit()
        return dict(
            first=first.id,
            second=second.id,
            of_b=of_b.id,
            first_file=first.evidence[0].id,
            second_file=second.evidence[0].id,
            event_a=event_a.id,
            event_b=event_b.id,
            consent_a=consent_a.id,
            consent_b=consent_b.id,
            loan_a=loan_a,
            loan_b=loan_b,
        )


# -- the helpers ----------------------------------------------------------------------------
def test_the_helpers_find_the_actors_own_and_nothing_else(app, world, objects):
    with app.app_context():
        s = session()
        user_a, agent_f, rep_f = (s.get(User, u.id) for u in (world.user_a, world.agent_f, world.rep_f))
        access = load_subject(s, user_a, world.person_a.id)
        assert access.is_own
        assert access.subject.id == world.person_a.id
        for subject_id in (world.person_b.id, world.firm_f.id, uuid.uuid4()):
            with pytest.raises(NotFound):
                load_subject(s, user_a, subject_id)

        # Objects of the subject, by their subject_id.
        assert load_of(s, access, Dispute, objects["first"]).id == objects["first"]
        assert load_of(s, access, AccessEvent, objects["event_a"]).id == objects["event_a"]
        assert load_of(s, access, CreditRecord, objects["loan_a"]).id == objects["loan_a"]
        for model, other in (
            (Dispute, objects["of_b"]),
            (AccessEvent, objects["event_b"]),
            (CreditRecord, objects["loan_b"]),
            (Consent, objects["consent_b"]),
            (Dispute, uuid.uuid4()),
        ):
            with pytest.raises(NotFound):
                load_of(s, access, model, other)

        # A part of an object: a file of the other dispute of the same subject is not found.
        first = load_of(s, access, Dispute, objects["first"])
        assert load_part(s, Evidence, objects["first_file"], dispute_id=first.id).id == objects["first_file"]
        with pytest.raises(NotFound):
            load_part(s, Evidence, objects["second_file"], dispute_id=first.id)

        # Consents and the lock are the subject's own, not an agent's; agents
        # are managed by the representative alone. The firm's own agent is
        # told so (403); anyone else finds nothing (404).
        assert load_own(s, rep_f, world.firm_f.id).subject.id == world.firm_f.id
        assert load_subject(s, agent_f, world.firm_f.id, DelegationScope.FILE_DISPUTES).delegation is not None
        with pytest.raises(OutsideAuthority):
            load_own(s, agent_f, world.firm_f.id)
        assert load_represented_firm(s, rep_f, world.firm_f.id).id == world.firm_f.id
        with pytest.raises(OutsideAuthority):
            load_represented_firm(s, agent_f, world.firm_f.id)
        for user, firm in ((agent_f, world.firm_g), (rep_f, world.firm_g), (user_a, world.firm_f)):
            with pytest.raises(NotFound):
                load_represented_firm(s, user, firm.id)
        with pytest.raises(NotFound):
            found(None)
        assert found(0) == 0  # a value that is falsy is still found


# -- the pages --------------------------------------------------------------------------------
@pytest.fixture
def client_a(app, world, sign_in):
    return sign_in(app.test_client(), world.user_a)


def token_of(client) -> str:
    return TOKEN.search(client.get("/account").get_data(as_text=True)).group(1)


def test_another_subjects_objects_under_ones_own_subject_are_404(app, world, objects, client_a):
    a = world.person_a.id
    before = counts(app)
    for path in (
        f"/subjects/{a}/disputes/{objects['of_b']}",
        f"/subjects/{a}/disputes/{objects['of_b']}/letter.pdf",
        f"/subjects/{a}/disputes/{objects['of_b']}/withdraw",
        f"/subjects/{a}/access/{objects['event_b']}/proof.json",
        f"/subjects/{a}/access/{objects['event_b']}/disclosure",
        f"/subjects/{a}/disputes/new?event={objects['event_b']}",
        f"/subjects/{a}/disputes/new?record={objects['loan_b']}",
        f"/subjects/{a}/records/{objects['loan_b']}/repair",
    ):
        assert client_a.get(path).status_code == 404, path
    token = token_of(client_a)
    for path in (
        f"/subjects/{a}/consents/{objects['consent_b']}/revoke",
        f"/subjects/{a}/disputes/{objects['of_b']}/evidence",
        f"/subjects/{a}/disputes/{objects['of_b']}/withdraw",
        f"/subjects/{a}/disputes/{objects['of_b']}/records/{objects['loan_b']}/statement",
    ):
        assert client_a.post(path, data={"csrf_token": token, "note": "x", "text": "x"}).status_code == 404, path
    assert counts(app) == before
    with app.app_context():
        assert session().get(Consent, objects["consent_b"]).revoked_at is None


def test_a_child_id_of_another_parent_is_404(app, world, objects, client_a, sign_in):
    a = world.person_a.id
    # A file of A's second dispute, asked for under A's first.
    assert (
        client_a.get(f"/subjects/{a}/disputes/{objects['first']}/evidence/{objects['second_file']}").status_code == 404
    )
    assert (
        client_a.get(f"/subjects/{a}/disputes/{objects['first']}/evidence/{objects['first_file']}").status_code == 200
    )
    # A record that is A's, but not in this dispute.
    token = token_of(client_a)
    response = client_a.post(
        f"/subjects/{a}/disputes/{objects['first']}/records/{objects['loan_b']}/statement",
        data={"csrf_token": token, "text": "x"},
    )
    assert response.status_code == 404
    with app.app_context():
        _loan_a, card_a = records_of(session(), a)
    response = client_a.post(
        f"/subjects/{a}/disputes/{objects['first']}/records/{card_a}/statement", data={"csrf_token": token, "text": "x"}
    )
    assert response.status_code == 404
    # A's event and dispute under firm F's address (an agent of F signed in).
    client = sign_in(app.test_client(), world.agent_f)
    assert client.get(f"/subjects/{world.firm_f.id}/access/{objects['event_a']}/disclosure").status_code == 404
    assert client.get(f"/subjects/{world.firm_f.id}/disputes/{objects['first']}").status_code == 404


def test_consents_of_the_own_subject_only_and_not_for_agents(app, world, objects, client_a, sign_in):
    a = world.person_a.id
    token = token_of(client_a)
    # A's own consent is revoked; B's, under A's address, is not found.
    assert (
        client_a.post(f"/subjects/{a}/consents/{objects['consent_b']}/revoke", data={"csrf_token": token}).status_code
        == 404
    )
    assert (
        client_a.post(f"/subjects/{a}/consents/{objects['consent_a']}/revoke", data={"csrf_token": token}).status_code
        == 302
    )
    with app.app_context():
        assert session().get(Consent, objects["consent_a"]).revoked_at is not None
        assert session().get(Consent, objects["consent_b"]).revoked_at is None
    agent = sign_in(app.test_client(), world.agent_f)
    assert agent.get(f"/subjects/{world.firm_f.id}/consents").status_code == 403  # told: the representative's
    assert agent.get(f"/firms/{world.firm_f.id}/agents").status_code == 403
    assert agent.get(f"/subjects/{world.firm_g.id}/consents").status_code == 404  # not a firm it acts for


# -- what a refused request writes ------------------------------------------------------------
def test_a_refused_form_post_writes_nothing(app, world, sign_in):
    """Applying twice for the repair of one penalty: the second post is
    refused (422) and leaves no rows behind."""
    with app.app_context():
        s, v = session(), vault()
        until = portal_today() - timedelta(days=1)
        version = furnish(
            s,
            v,
            s.get(Institution, world.bank.id),
            s.get(Subject, world.firm_f.id),
            RecordInput(
                Category.ADMINISTRATIVE_PENALTY,
                "PEN-AUTHZ",
                RecordStatus.IN_FORCE,
                True,
                None,
                {
                    "decision_number": "明市监罚字〔2025〕9号",
                    "amount": "5000.00",
                    "currency": "CNY",
                    "decided_on": (until - timedelta(days=90)).isoformat(),
                    "minimum_publicity_until": until.isoformat(),
                },
            ),
        )
        s.commit()
        record_id = version.record_id
    rep = sign_in(app.test_client(), world.rep_f)
    rep.set_cookie("lang", "en")
    url = f"/subjects/{world.firm_f.id}/records/{record_id}/repair"

    def apply():
        token = TOKEN.search(rep.get(url).get_data(as_text=True)).group(1)
        return rep.post(
            url,
            content_type="multipart/form-data",
            data={
                "csrf_token": token,
                "statement": "Fine paid; controls in place.",
                "commitment": (io.BytesIO(PDF), "commitment.pdf"),
                "proof": [(io.BytesIO(PDF), "receipt.pdf")],
            },
        )

    assert apply().status_code == 302
    before = counts(app)
    again = apply()
    assert again.status_code == 422
    assert "already open" in again.get_data(as_text=True)
    assert counts(app) == before


def test_a_refused_query_is_still_recorded(app, world):
    """The report query refused for want of a basis (403) commits its access
    event, which the worker tells the subject of; nothing is disclosed."""
    with app.app_context():
        token = issue_api_key(session(), session().get(Institution, world.bank.id), [ApiScope.QUERY])
        session().commit()
    before = counts(app)
    response = app.test_client().get(
        "/api/v1/reports/110105198001010016?purpose=loan_approval", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    event_id = uuid.UUID(response.get_json()["event_id"])
    after = counts(app)
    assert after["access_events"] == before["access_events"] + 1
    worker.integrate_log(app)
    worker.tell_of_queries(app)
    assert counts(app)["messages"] > before["messages"]
    with app.app_context():
        event = session().get(AccessEvent, event_id)
        assert event.outcome is Outcome.REFUSED
        assert event.subject_id == world.person_b.id
