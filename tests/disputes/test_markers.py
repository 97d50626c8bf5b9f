"""A record is marked "under dispute" at once, in the subject's report and
in everything institutions receive, and no longer once the dispute is
closed."""

from datetime import timedelta

from sqlalchemy import select

from portal.access import consents
from portal.accounts.models import User
from portal.disputes import lifecycle, services
from portal.extensions import session, vault
from portal.institutions.models import ApiScope, Institution
from portal.institutions.services import issue_api_key
from portal.localtime import today as portal_today
from portal.records.models import CreditRecord, Subject


def bank_report(app, world, token):
    response = app.test_client().get(
        "/api/v1/reports/11010519491231002X?purpose=loan_approval", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    return {r["reference"]: r["disputed"] for r in response.get_json()["report"]["records"]}


def test_filing_marks_the_record_everywhere_and_withdrawing_clears_it(app, world, sign_in):
    with app.app_context():
        s, v = session(), vault()
        a, user = s.get(Subject, world.person_a.id), s.get(User, world.user_a.id)
        bank = s.get(Institution, world.bank.id)
        consents.grant(s, v, a, bank, "loan_approval", portal_today() + timedelta(days=10), user)
        token = issue_api_key(s, bank, [ApiScope.QUERY])
        card = s.scalar(
            select(CreditRecord)
            .where(CreditRecord.subject_id == a.id, CreditRecord.reference_bidx.is_not(None))
            .order_by(CreditRecord.created_at.desc())
        )
        s.commit()
        card_id = card.id
    assert set(bank_report(app, world, token).values()) == {False}

    with app.app_context():
        s, v = session(), vault()
        dispute = services.file_dispute(
            s,
            v,
            s.get(Subject, world.person_a.id),
            s.get(User, world.user_a.id),
            [card_id],
            "wrong_amount",
            "The balance is wrong.",
        )
        s.commit()
        dispute_id = dispute.id
    marks = bank_report(app, world, token)
    assert sorted(marks.values()) == [False, True]  # exactly the disputed record
    client = sign_in(app.test_client(), world.user_a)
    client.set_cookie("lang", "en")
    html = client.get(f"/subjects/{world.person_a.id}/report").get_data(as_text=True)
    assert html.count("Under dispute") == 1

    with app.app_context():
        s, v = session(), vault()
        from portal.disputes.models import Dispute

        lifecycle.advance(
            s, v, s.get(Dispute, dispute_id), "withdrawn", s.get(User, world.user_a.id), note="Settled with the bank."
        )
        s.commit()
    assert set(bank_report(app, world, token).values()) == {False}
