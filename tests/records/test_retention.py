"""Retention as a lifecycle (issue 15, problem 2): the report counts the days
down to a negative record's removal; the daily job of `portal worker`
removes it on the day (its content shredded, the bare fact kept), writes the
removal into the access log and tells the subject in their language; access
events' details are shredded past their retention while the log still
verifies."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text

from portal.accounts.models import User
from portal.audit.disclosures import store
from portal.audit.events import open_detail, record_event
from portal.audit.models import AccessEvent, Disclosure, EventKind
from portal.db import utcnow
from portal.extensions import session, vault
from portal.localtime import today
from portal.notifications.models import Message
from portal.notifications.services import inbox, outbox
from portal.records import retention
from portal.records.identifiers import resident_id_check
from portal.records.models import Category, CreditRecord, RecordStatus, RecordVersion, Subject
from portal.records.services import REFERENCE_INDEX, REMOVED_PAYLOAD, add_years, normalise_reference
from portal.worker import jobs
from portal.worker import retention as retention_job
from tests import factories as make

from .test_report import english, furnish_record


def ended_for(days_left: int) -> date:
    """The end date of negative information that leaves the file in `days_left` days."""
    return add_years(today() + timedelta(days=days_left), -5)


def record_of(app, reference):
    with app.app_context():
        where = CreditRecord.reference_bidx == vault().blind_index(REFERENCE_INDEX, normalise_reference(reference))
        return session().scalar(select(CreditRecord.id).where(where))


def removed_versions(app, record_id):
    with app.app_context():
        return [
            v.payload_ct == REMOVED_PAYLOAD
            for v in session().scalars(select(RecordVersion).where(RecordVersion.record_id == record_id))
        ]


def speaks_english(app, user):
    with app.app_context():
        session().get(User, user.id).locale = "en"
        session().commit()


# -- the rule, for the API -------------------------------------------------------------
def test_past_retention_is_five_years_after_the_end():
    day = date(2026, 6, 15)
    assert retention.past_retention(Category.LOAN, date(2021, 6, 15), day)  # leaves on the day itself
    assert not retention.past_retention(Category.LOAN, date(2021, 6, 16), day)
    assert not retention.past_retention(Category.COURT_JUDGMENT, None, day)  # ongoing: never
    # 29 February ends on 28 February five years later.
    assert retention.retention_end(Category.TAX_ARREARS, date(2024, 2, 29)) == date(2029, 2, 28)
    assert retention.past_retention(Category.TAX_ARREARS, date(2024, 2, 29), date(2029, 2, 28))


def test_access_event_details_are_kept_at_least_five_years():
    assert retention.event_detail_years(5) == 5
    assert retention.event_detail_years("7") == 7
    for wrong in (4, 0, -1, "four", 5.5, True, None):
        with pytest.raises(ValueError, match="EVENT_DETAIL_RETENTION_YEARS"):
            retention.event_detail_years(wrong)


def test_the_worker_runs_the_retention_job_daily(app):
    assert ("retention", 86400.0, retention_job) in jobs(app)


# -- the countdown ------------------------------------------------------------------
def test_the_report_counts_down_the_days_to_removal(app, client, world, sign_in):
    furnish_record(
        app, world, world.person_a, "SOON-1", status=RecordStatus.SETTLED, negative=True, ended_on=ended_for(12)
    )
    furnish_record(
        app, world, world.person_a, "LATER-1", status=RecordStatus.SETTLED, negative=True, ended_on=ended_for(200)
    )
    furnish_record(
        app, world, world.person_a, "TODAY-1", status=RecordStatus.SETTLED, negative=True, ended_on=ended_for(0)
    )
    html = english(sign_in(client, world.user_a)).get(f"/subjects/{world.person_a.id}/report").get_data(as_text=True)
    assert html.count("Leaves the file in 12 days") == 1
    assert html.count("Leaves the file today") == 1
    assert "Leaves the file in 200 days" not in html  # outside the 90 days of notice
    assert html.count('class="marker countdown"') == 2


def test_the_notice_period_is_a_setting(app, client, world, sign_in):
    app.config["RETENTION_NOTICE_DAYS"] = 365
    furnish_record(
        app, world, world.person_a, "LATER-1", status=RecordStatus.SETTLED, negative=True, ended_on=ended_for(200)
    )
    html = english(sign_in(client, world.user_a)).get(f"/subjects/{world.person_a.id}/report").get_data(as_text=True)
    assert "Leaves the file in 200 days" in html


# -- the removal ----------------------------------------------------------------------
def test_the_daily_job_removes_a_record_past_retention_and_tells_the_subject(app, client, world, sign_in):
    furnish_record(
        app,
        world,
        world.person_a,
        "GONE-1",
        status=RecordStatus.SETTLED,
        negative=True,
        ended_on=ended_for(-1),
        account="6222-0000-1111",
    )
    furnish_record(
        app, world, world.person_a, "GONE-1", status=RecordStatus.SETTLED, negative=True, ended_on=ended_for(-1)
    )  # a second version: the older one holds the same information
    furnish_record(
        app, world, world.person_a, "STAYS-1", status=RecordStatus.SETTLED, negative=True, ended_on=ended_for(3)
    )
    gone, stays = record_of(app, "GONE-1"), record_of(app, "STAYS-1")
    speaks_english(app, world.user_a)

    assert retention_job(app) == 1
    assert removed_versions(app, gone) == [True, True]
    assert removed_versions(app, stays) == [False]
    assert retention_job(app) == 0  # nothing is due twice

    with app.app_context():
        s = session()
        a = s.get(Subject, world.person_a.id)
        cipher = vault().cipher(s, a.data_key_id)
        removal = s.scalars(
            select(AccessEvent).where(AccessEvent.subject_id == a.id, AccessEvent.kind == EventKind.RECORD_REMOVED)
        ).one()
        detail, _salt = open_detail(cipher, removal)
        assert detail["record_id"] == str(gone)
        assert detail["versions"] == 2
        assert removal.channel == "system"
        assert removal.actor_user_id is None
        messages, _n = inbox(s, vault(), s.get(User, world.user_a.id))
        receipt = next(m for m in messages if m.title == "Negative information left your credit file")
        assert "Test Bank" in receipt.body
        assert "Loans from" in receipt.body
        assert receipt.email == "a@test.example"  # e-mailed too
        assert s.get(CreditRecord, gone) is not None  # the bare fact stays

    html = english(sign_in(client, world.user_a)).get(f"/subjects/{world.person_a.id}/report").get_data(as_text=True)
    assert "Left the file on" in html
    assert "6222-0000-1111" not in html
    assert "GONE-1" not in html
    assert "STAYS-1" in html
    assert "Leaves the file in 3 days" in html
    # What the subject downloads holds nothing of it either.
    exported = client.get(f"/subjects/{world.person_a.id}/export.json").get_json()
    assert "GONE-1" not in str(exported)
    assert "6222-0000-1111" not in str(exported)
    # The access log names the removal.
    log = client.get(f"/subjects/{world.person_a.id}/access").get_data(as_text=True)
    assert "Record removed: its five years ended" in log


def test_a_subject_without_an_account_is_told_at_the_contact_on_file(app, world):
    with app.app_context():
        s, v = session(), vault()
        base = "11010119900307851"
        c = make.person(s, v, base + resident_id_check(base), "王五", contact_email="w5@contact.example")
        make.record(s, v, s.get(type(world.bank), world.bank.id), c, "W-1", negative=True, ended_on=ended_for(-30))
        s.commit()
    assert retention_job(app) == 1
    with app.app_context():
        sent = [m for m in outbox(session(), vault()) if m.email == "w5@contact.example"]
        assert len(sent) == 1


def test_a_shredded_subjects_records_are_left_alone(app, world):
    from portal.accounts.services import shred_subject

    furnish_record(
        app, world, world.person_b, "B-OLD", status=RecordStatus.SETTLED, negative=True, ended_on=ended_for(-10)
    )
    with app.app_context():
        s = session()
        shred_subject(s, vault(), s.get(Subject, world.person_b.id))
        s.commit()
    assert retention_job(app) == 0


# -- access events' details ----------------------------------------------------------------
@pytest.mark.committing  # `audit verify` opens a snapshot transaction of its own
def test_details_past_their_retention_are_shredded_and_the_log_still_verifies(app, world):
    with app.app_context():
        s, v = session(), vault()
        a = s.get(Subject, world.person_a.id)
        query = record_event(
            s,
            v,
            a,
            EventKind.INSTITUTION_QUERY,
            channel="api",
            institution_id=world.bank.id,
            purpose="loan_approval",
            detail={"disclosed": ["A-LOAN-1"]},
        )
        store(s, v, a, query, b'{"records": ["A-LOAN-1"]}')
        record_event(s, v, a, EventKind.SELF_QUERY, detail={"what": "report"})
        s.commit()
        make.integrate(s)
        events = s.scalar(select(func.count()).where(AccessEvent.subject_id.is_not(None)))

        # Nothing is due today: every event is younger than five years.
        assert retention.shred_old_details(s, v, 5) == 0
        assert open_detail(v.cipher(s, a.data_key_id), s.get(AccessEvent, query.id))[0] == {"disclosed": ["A-LOAN-1"]}
        # Five years and a day later, every one of them is.
        later = add_years(utcnow(), 5) + timedelta(days=1)
        assert retention.shred_old_details(s, v, 5, now=later) == events
        s.commit()
        shredded = s.get(AccessEvent, query.id)
        assert open_detail(v.cipher(s, a.data_key_id), shredded) == ({}, None)
        assert s.scalar(select(func.count()).select_from(Disclosure)) == 0
        assert s.scalar(select(func.count()).where(AccessEvent.subject_id.is_not(None))) == events  # the rows stay
        assert retention.shred_old_details(s, v, 5, now=later) == 0  # each once

    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output

    # A shredded detail replaced by anything but the sealed marker is named.
    with app.app_context():
        session().execute(
            text("UPDATE access_events SET detail_ct = :junk WHERE id = :id"), {"junk": b"x" * 64, "id": query.id.hex}
        )
        session().commit()
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "sealed detail does not open" in result.output


def test_the_access_log_page_opens_after_details_are_shredded(app, client, world, sign_in):
    with app.app_context():
        s, v = session(), vault()
        record_event(s, v, s.get(Subject, world.person_a.id), EventKind.SELF_QUERY, detail={"what": "report"})
        s.commit()
        make.integrate(s)
        assert retention.shred_old_details(s, v, 5, now=add_years(utcnow(), 6)) > 0
        s.commit()
    response = english(sign_in(client, world.user_a)).get(f"/subjects/{world.person_a.id}/access")
    assert response.status_code == 200


def test_removal_messages_are_not_left_under_a_destroyed_key(app, world):
    """Messages sealed under a key destroyed elsewhere (an operator's erasure)
    are deleted by the daily job: they could be neither read nor sent."""
    from portal.accounts.services import shred_subject
    from portal.notifications.services import notify

    with app.app_context():
        s, v = session(), vault()
        b = s.get(Subject, world.person_b.id)
        notify(s, v, key_id=b.data_key_id, email="b@contact.example", title="t", body="b")
        shred_subject(s, v, b)
        s.commit()
    assert retention_job(app) >= 1
    with app.app_context():
        assert (
            session().scalar(select(func.count()).select_from(Message).where(Message.data_key_id == b.data_key_id)) == 0
        )
        outbox(session(), vault())  # opens again: nothing under a destroyed key is left in it
