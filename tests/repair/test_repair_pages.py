"""Credit repair on the web: the report shows from when it may be asked, a
firm applies with its commitment letter and proof, errors keep the text and
write nothing, and nobody else reaches the page."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from portal.disputes.models import Dispute, DisputeKind
from portal.extensions import session, vault
from portal.institutions.models import Institution
from portal.localtime import today as portal_today
from portal.records.models import Category, CreditRecord, RecordStatus, Subject
from portal.records.services import RecordInput, furnish
from tests.cast import EXE, PDF, PNG
from tests.disputes.test_subject_pages import TOKEN, signed


def penalty(app, world, until: date) -> str:
    with app.app_context():
        s, v = session(), vault()
        version = furnish(
            s,
            v,
            s.get(Institution, world.bank.id),
            s.get(Subject, world.firm_f.id),
            RecordInput(
                Category.ADMINISTRATIVE_PENALTY,
                "PEN-7",
                RecordStatus.IN_FORCE,
                True,
                None,
                {
                    "decision_number": "明市监罚字〔2025〕7号",
                    "amount": "5000.00",
                    "currency": "CNY",
                    "decided_on": (until - timedelta(days=90)).isoformat(),
                    "minimum_publicity_until": until.isoformat(),
                },
            ),
        )
        s.commit()
        return str(version.record_id)


def cases(app) -> int:
    with app.app_context():
        return session().scalar(select(func.count()).select_from(Dispute))


@pytest.fixture
def rep(app, world, sign_in):
    return signed(app, sign_in, world.rep_f)


def apply_url(world, record_id) -> str:
    return f"/subjects/{world.firm_f.id}/records/{record_id}/repair"


def send(
    client,
    world,
    record_id,
    statement="Fine paid on 2025-07-01; compliance officer appointed.",
    commitment=("commitment.pdf", PDF),
    proof=(("receipt.png", PNG),),
):
    page = client.get(apply_url(world, record_id)).get_data(as_text=True)
    data = {"csrf_token": TOKEN.search(page).group(1), "statement": statement}
    if commitment:
        data["commitment"] = (io.BytesIO(commitment[1]), commitment[0])
    data["proof"] = [(io.BytesIO(content), name) for name, content in proof]
    return client.post(apply_url(world, record_id), data=data, content_type="multipart/form-data")


def test_the_report_says_when_repair_may_be_asked_and_links_once_it_may(app, world, rep):
    later = penalty(app, world, portal_today() + timedelta(days=10))
    report = rep.get(f"/subjects/{world.firm_f.id}/report").get_data(as_text=True)
    assert "Credit repair may be asked from" in report
    assert apply_url(world, later) not in report
    assert rep.get(apply_url(world, later)).status_code == 200  # the page explains; applying is refused
    response = send(rep, world, later)
    assert response.status_code == 422
    assert "Repair may be asked from" in response.get_data(as_text=True)
    assert cases(app) == 0


def test_a_firm_applies_and_the_officer_decides_it(app, world, rep):
    record_id = penalty(app, world, portal_today() - timedelta(days=1))
    report = rep.get(f"/subjects/{world.firm_f.id}/report").get_data(as_text=True)
    assert apply_url(world, record_id) in report
    response = send(rep, world, record_id)
    assert response.status_code == 302
    assert "/disputes/" in response.headers["Location"]
    with app.app_context():
        (case,) = session().scalars(select(Dispute)).all()
        assert case.kind is DisputeKind.CREDIT_REPAIR
        assert len(case.evidence) == 2
    page = rep.get(response.headers["Location"]).get_data(as_text=True)
    assert "Fine paid on 2025-07-01" in page
    again = send(rep, world, record_id)
    assert again.status_code == 422
    assert "already open" in again.get_data(as_text=True)


@pytest.mark.parametrize(
    ("why", "changes", "message"),
    [
        ("no commitment", {"commitment": None}, "commitment letter"),
        ("no proof", {"proof": ()}, "proof of rectification"),
        ("an executable", {"proof": (("receipt.pdf", EXE),)}, "PDF, PNG or JPEG"),
        ("no statement", {"statement": ""}, "required"),
    ],
)
def test_bad_applications_keep_the_text_and_write_nothing(app, world, rep, why, changes, message):
    record_id = penalty(app, world, portal_today() - timedelta(days=1))
    response = send(rep, world, record_id, **changes)
    html = response.get_data(as_text=True)
    assert response.status_code == 422, (why, html[:2000])
    assert message in html, (why, html[:2000])
    if changes.get("statement", None) != "":
        assert "Fine paid on 2025-07-01" in html
    assert cases(app) == 0


def test_nobody_else_reaches_the_repair_page(app, world, sign_in):
    record_id = penalty(app, world, portal_today() - timedelta(days=1))
    for user in (world.user_a, world.rep_g, world.agent_g):
        assert signed(app, sign_in, user).get(apply_url(world, record_id)).status_code == 404
    # Not a penalty: no repair page at all.
    with app.app_context():
        loan = session().scalar(
            select(CreditRecord.id).where(
                CreditRecord.subject_id == world.firm_f.id, CreditRecord.category == Category.LOAN
            )
        )
    assert signed(app, sign_in, world.rep_f).get(apply_url(world, loan)).status_code == 404
