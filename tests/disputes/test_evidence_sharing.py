"""Evidence in a case over several furnishers' records: each furnisher gets
only the files the assigned officer sends it; in a case about one
furnisher's records it gets them all. The officer sends a file from the
case page; the subject sees, once the case is sent, where each file went."""

from __future__ import annotations

import uuid

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.audit.events import open_detail
from portal.audit.models import AccessEvent, EventKind
from portal.disputes import sharing
from portal.disputes.evidence import Upload
from portal.disputes.lifecycle import DisputeError, advance
from portal.disputes.models import Dispute, DisputeReason, DisputeStatus, Evidence, EvidenceShare
from portal.disputes.services import file_dispute
from portal.extensions import session, vault
from portal.institutions.models import InstitutionKind
from portal.institutions.services import NewInstitution, create_institution
from portal.records.models import Category, CreditRecord, RecordStatus, Subject
from portal.records.services import RecordInput, furnish
from tests.officers import as_user, assign_to, case_url, file_case, post_form, version_of

from .conftest import PDF, PNG

S = DisputeStatus


@pytest.fixture
def two_furnishers(app, world):
    """Person A disputes the bank's loan and a lender's card in one case,
    with a PDF (about the loan) and a PNG (about the card)."""
    with app.app_context():
        s, v = session(), vault()
        lender = create_institution(
            s,
            v,
            NewInstitution(
                "test-lender",
                "测试小贷",
                "Test Lender",
                InstitutionKind.LENDER,
                ["loan_approval"],
                "赵六",
                "ops@lender.example",
            ),
        )
        a = s.get(Subject, world.person_a.id)
        card = furnish(
            s,
            v,
            lender,
            a,
            RecordInput(
                Category.CREDIT_CARD,
                "L-CARD-1",
                RecordStatus.ACTIVE,
                False,
                None,
                {"currency": "CNY", "limit": "10000.00"},
            ),
        )
        loan = s.scalar(
            select(CreditRecord.id)
            .where(CreditRecord.subject_id == a.id)
            .order_by(CreditRecord.created_at, CreditRecord.id)
        )
        d = file_dispute(
            s,
            v,
            a,
            s.get(User, world.user_a.id),
            [loan, card.record_id],
            DisputeReason.WRONG_AMOUNT,
            "Both balances are wrong.",
            files=[Upload("loan.pdf", PDF), Upload("card.png", PNG)],
        )
        s.commit()
        pdf, png = (e.id for e in sorted(d.evidence, key=lambda e: e.media_type))
        return dict(dispute=d.id, lender=lender.id, bank=world.bank.id, pdf=pdf, png=png)


def share_url(dispute_id, evidence_id):
    return case_url(dispute_id, f"/evidence/{evidence_id}/share")


def send(client, app, case, evidence_id, *institutions, version=None):
    prefix = f"share-{evidence_id.hex}"
    data = {"furnishers": [str(i) for i in institutions]} if institutions else {}
    return post_form(
        client,
        share_url(case["dispute"], evidence_id),
        prefix,
        data,
        version=version if version is not None else version_of(app, case["dispute"]),
    )


def shares(app, dispute_id):
    """(file, institution) pairs sent in this case."""
    with app.app_context():
        return set(
            session().execute(
                select(EvidenceShare.evidence_id, EvidenceShare.institution_id)
                .join(Evidence, Evidence.id == EvidenceShare.evidence_id)
                .where(Evidence.dispute_id == dispute_id)
            )
        )


def test_the_officer_sends_each_furnisher_its_files(app, world, staff, sign_in, two_furnishers):
    case = two_furnishers
    assign_to(app, case["dispute"], staff.officer, review=True)
    client = as_user(app, sign_in, staff.officer)
    page = client.get(case_url(case["dispute"])).get_data(as_text=True)
    assert "each receives only the files you send it" in page
    assert page.count("no furnisher yet") == 2
    assert page.count("Send the file") == 2
    assert "Test Lender" in page
    assert "Test Bank" in page

    response = send(client, app, case, case["pdf"], case["bank"])
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The file goes to: Test Bank." in page
    assert page.count("no furnisher yet") == 1
    assert shares(app, case["dispute"]) == {(case["pdf"], case["bank"])}
    send(client, app, case, case["png"], case["lender"])
    assert shares(app, case["dispute"]) == {(case["pdf"], case["bank"]), (case["png"], case["lender"])}

    # Sending the case: each furnisher's access event counts the files that go to it.
    with app.app_context():
        s, v = session(), vault()
        advance(s, v, s.get(Dispute, case["dispute"]), S.WAITING_FOR_FURNISHER, s.get(User, staff.officer.id))
        s.commit()
        subject = s.get(Subject, world.person_a.id)
        cipher = v.cipher(s, subject.data_key_id)
        sent = {
            e.institution_id: open_detail(cipher, e)[0]["evidence"]
            for e in s.scalars(select(AccessEvent).where(AccessEvent.kind == EventKind.DISPUTE_FORWARDED))
        }
    assert sent == {case["bank"]: 1, case["lender"]: 1}

    # The subject now sees where each file went.
    mine = (
        as_user(app, sign_in, world.user_a)
        .get(f"/subjects/{world.person_a.id}/disputes/{case['dispute']}")
        .get_data(as_text=True)
    )
    assert mine.count("Sent for checking to") == 2
    assert "Sent for checking to: Test Bank" in mine
    assert "Sent for checking to: Test Lender" in mine


def test_the_subject_sees_nothing_sent_before_the_case_is(app, world, staff, sign_in, two_furnishers):
    case = two_furnishers
    assign_to(app, case["dispute"], staff.officer, review=True)
    send(as_user(app, sign_in, staff.officer), app, case, case["pdf"], case["bank"], case["lender"])
    assert len(shares(app, case["dispute"])) == 2
    mine = (
        as_user(app, sign_in, world.user_a)
        .get(f"/subjects/{world.person_a.id}/disputes/{case['dispute']}")
        .get_data(as_text=True)
    )
    assert "Sent for checking to" not in mine


def test_bad_sends_are_refused_and_write_nothing(app, world, staff, sign_in, two_furnishers):
    case = two_furnishers
    assign_to(app, case["dispute"], staff.officer, review=True)
    client = as_user(app, sign_in, staff.officer)
    version = version_of(app, case["dispute"])

    nothing = send(client, app, case, case["pdf"])
    assert nothing.status_code == 200
    assert "Choose at least one furnisher." in nothing.get_data(as_text=True)
    stranger = send(client, app, case, case["pdf"], uuid.uuid4())
    assert stranger.status_code == 200
    assert "not a valid choice" in stranger.get_data(as_text=True)
    with app.app_context():  # an institution that furnished nothing in this case
        s, v = session(), vault()
        court = create_institution(
            s,
            v,
            NewInstitution(
                "test-court",
                "测试法院",
                "Test Court",
                InstitutionKind.COURT,
                ["court_enforcement"],
                "钱七",
                "ops@court.example",
            ),
        ).id
        s.commit()
    outsider = send(client, app, case, case["pdf"], court)
    assert outsider.status_code == 200
    assert "not a valid choice" in outsider.get_data(as_text=True)
    assert shares(app, case["dispute"]) == set()
    assert version_of(app, case["dispute"]) == version

    # A page that is out of date is refused as stale.
    send(client, app, case, case["pdf"], case["bank"])
    stale = send(client, app, case, case["png"], case["lender"], version=version)
    assert stale.status_code == 409
    assert "reload" in stale.get_data(as_text=True)
    assert shares(app, case["dispute"]) == {(case["pdf"], case["bank"])}

    # Someone else's file, or none at all: 404.
    foreign = file_case(app, world, "b", files=[Upload("b.pdf", PDF)])
    with app.app_context():
        foreign_file = session().get(Dispute, foreign).evidence[0].id
    assert (
        post_form(
            client,
            share_url(case["dispute"], foreign_file),
            f"share-{foreign_file.hex}",
            {"furnishers": [str(case["bank"])]},
            version=version_of(app, case["dispute"]),
        ).status_code
        == 404
    )
    assert (
        post_form(
            client, share_url(case["dispute"], uuid.uuid4()), "share-x", {}, version=version_of(app, case["dispute"])
        ).status_code
        == 404
    )


def test_only_the_assigned_officer_sends_files(app, world, staff, sign_in, two_furnishers):
    case = two_furnishers
    assign_to(app, case["dispute"], staff.officer, review=True)
    other = as_user(app, sign_in, staff.officer2)
    assert "Send the file" not in other.get(case_url(case["dispute"])).get_data(as_text=True)
    assert send(other, app, case, case["pdf"], case["bank"]).status_code == 403
    assert shares(app, case["dispute"]) == set()
    for who in (world.user_a, world.user_b):
        client = as_user(app, sign_in, who)
        assert send(client, app, case, case["pdf"], case["bank"]).status_code == 404
    assert shares(app, case["dispute"]) == set()


def test_a_single_furnisher_case_sends_every_file_without_asking(app, world, staff, sign_in):
    dispute_id = file_case(app, world, "a", files=[Upload("a.pdf", PDF), Upload("b.png", PNG)])
    assign_to(app, dispute_id, staff.officer, review=True)
    page = as_user(app, sign_in, staff.officer).get(case_url(dispute_id)).get_data(as_text=True)
    assert "Send the file" not in page
    assert page.count("Goes to: Test Bank") == 2
    with app.app_context(), force_locale("en"):  # the messages as written
        s = session()
        d = s.get(Dispute, dispute_id)
        with pytest.raises(DisputeError, match="one furnisher"):
            sharing.share(s, d, s.get(User, staff.officer.id), d.evidence[0].id, [world.bank.id])
        s.rollback()
        assert s.scalar(select(func.count()).select_from(EvidenceShare)) == 0


def test_a_closed_case_sends_nothing(app, world, staff, sign_in, two_furnishers):
    case = two_furnishers
    with app.app_context(), force_locale("en"):
        s, v = session(), vault()
        d = s.get(Dispute, case["dispute"])
        advance(s, v, d, S.WITHDRAWN, s.get(User, world.user_a.id))
        s.commit()
        with pytest.raises(DisputeError, match="closed"):
            sharing.share(s, d, s.get(User, staff.officer.id), case["pdf"], [case["bank"]])


@pytest.mark.committing  # the migrations run on connections of their own
def test_the_migration_records_as_shared_what_furnishers_could_already_fetch(app, world, staff, two_furnishers):
    """Before shares existed, every furnisher of a sent case could fetch all
    of its files: upgrading keeps exactly that, and nothing for cases not
    sent."""
    from alembic import command

    from portal.extensions import database
    from portal.migrations import alembic_config, upgrade

    case = two_furnishers
    file_case(app, world, "a", DisputeReason.NOT_MINE, record=1, files=[Upload("c.pdf", PDF)])  # never sent
    assign_to(app, case["dispute"], staff.officer, review=True)
    with app.app_context():
        s, v = session(), vault()
        advance(s, v, s.get(Dispute, case["dispute"]), S.WAITING_FOR_FURNISHER, s.get(User, staff.officer.id))
        s.commit()
        database().session.remove()
        engine = database().engine
        command.downgrade(alembic_config(engine), "0005")
        upgrade(engine)
        s = session()
        rows = set(
            s.execute(select(EvidenceShare.evidence_id, EvidenceShare.institution_id, EvidenceShare.shared_by_user_id))
        )
    assert rows == {
        (f, i, staff.officer.id) for f in (case["pdf"], case["png"]) for i in (case["bank"], case["lender"])
    }
