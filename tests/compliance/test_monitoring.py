"""The access monitoring: each rule fires on its scenario and not on a near
miss just under its threshold; a pass run again raises nothing new; the
worker picks up new events; the command runs a period; a malformed
MONITORING_RULES stops start-up."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from portal import worker
from portal.access.basis import Reason
from portal.accounts.models import User
from portal.audit.events import record_event
from portal.audit.models import AccessEvent, EventKind, Outcome
from portal.compliance import monitoring
from portal.compliance.models import Alert, AlertStep
from portal.config import monitoring_rules
from portal.disputes.models import DisputeReason
from portal.disputes.services import file_dispute
from portal.extensions import session, vault
from portal.institutions.models import Institution
from portal.localtime import day_of
from portal.localtime import today as local_today
from portal.notifications import services as notifications
from portal.records.models import Subject
from tests import factories as make

DAY = date(2025, 3, 10)


def at(day: date, hour: int, minute: int = 0):
    return monitoring.local_start(day, hour) + timedelta(minutes=minute)


def query(s, v, institution, subject, when, basis=Reason.CONSENT, outcome=None, purpose="loan_approval"):
    """An institution's query, recorded as the API records it, then moved to `when`."""
    refused = basis not in (Reason.CONSENT, Reason.EXISTING_CONTRACT)
    event = record_event(
        s,
        v,
        subject,
        EventKind.INSTITUTION_QUERY,
        channel="api",
        outcome=outcome or (Outcome.REFUSED if refused else Outcome.SERVED),
        institution_id=institution.id,
        purpose=purpose,
        basis=basis.value,
    )
    event.occurred_at = when
    s.flush()
    return event


def staff_event(s, v, subject, user, kind, when):
    event = record_event(s, v, subject, kind, channel="staff", actor_user_id=user.id)
    event.occurred_at = when
    s.flush()
    return event


def fired(s, day=DAY, rule=None):
    monitoring.evaluate(s, vault(), [day])
    where = [Alert.rule == rule] if rule else []
    return s.scalars(select(Alert).where(*where).order_by(Alert.opened_at)).all()


def settings(app, **overrides):
    app.config["MONITORING_RULES"] = monitoring_rules(overrides)


@pytest.fixture
def subject_a(db, world):
    return db.get(Subject, world.person_a.id)


@pytest.fixture
def bank(db, world):
    return db.get(Institution, world.bank.id)


def institutions(s, v, n):
    return [make.institution(s, v, f"inst-{i}") for i in range(n)]


# -- volume spike -----------------------------------------------------------------------
@pytest.mark.parametrize(("today", "fires"), [(10, True), (9, False)])
def test_volume_spike_against_the_institutions_own_baseline(app, db, the_vault, subject_a, bank, today, fires):
    settings(app, volume_spike={"factor": 5, "min_queries": 6})
    for i in range(60):  # a mean of 2 a day over the 30 days before
        query(db, the_vault, bank, subject_a, at(DAY - timedelta(days=1 + i % 30), 10))
    for i in range(today):
        query(db, the_vault, bank, subject_a, at(DAY, 9, i))
    alerts = fired(db, rule="volume_spike")
    assert bool(alerts) is fires
    if fires:
        (alert,) = alerts
        assert alert.institution_id == bank.id
        assert alert.facts["queries"] == 10
        assert alert.facts["baseline_daily_mean"] == 2
        assert len(alert.event_ids) == 10


@pytest.mark.parametrize(("today", "fires"), [(8, True), (7, False)])
def test_volume_spike_of_an_institution_without_baseline(app, db, the_vault, subject_a, bank, today, fires):
    settings(app, volume_spike={"new_institution_minimum": 8, "min_queries": 3})
    query(db, the_vault, bank, subject_a, at(DAY - timedelta(days=31), 10))  # older than the baseline
    for i in range(today):
        query(db, the_vault, bank, subject_a, at(DAY, 9, i))
    assert bool(fired(db, rule="volume_spike")) is fires


# -- repeated refusals ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("days_before", "fires"),
    [((6, 3, 0), True), ((3, 0), False), ((7, 3, 0), False)],  # the third 7 days before: outside the window
)
def test_repeated_refusals_on_one_subject(db, the_vault, subject_a, bank, days_before, fires):
    for n in days_before:
        query(db, the_vault, bank, subject_a, at(DAY - timedelta(days=n), 11), basis=Reason.CONSENT_NOT_FOUND)
    query(db, the_vault, bank, subject_a, at(DAY, 12), basis=Reason.NOT_A_COURT)  # another refusal: not counted
    alerts = fired(db, rule="repeated_refusals")
    assert bool(alerts) is fires
    if fires:
        assert alerts[0].subject_id == subject_a.id
        assert alerts[0].facts["refusals"] == 3


def test_repeated_refusals_raise_one_alert_for_a_burst(db, the_vault, subject_a, bank):
    for n in (2, 1, 0):
        query(db, the_vault, bank, subject_a, at(DAY - timedelta(days=n), 11), basis=Reason.FILE_LOCKED)
    monitoring.evaluate_period(db, the_vault, DAY - timedelta(days=2), DAY + timedelta(days=1))
    query(db, the_vault, bank, subject_a, at(DAY + timedelta(days=1), 11), basis=Reason.FILE_LOCKED)
    monitoring.evaluate_period(db, the_vault, DAY, DAY + timedelta(days=1))
    assert len(fired(db, rule="repeated_refusals")) == 1


@pytest.mark.parametrize(("count", "fires"), [(4, True), (3, False)])
def test_repeated_refusals_in_a_day_on_any_subject(app, db, the_vault, world, bank, count, fires):
    settings(app, repeated_refusals={"per_day": 4, "same_subject": 99})
    subjects = [db.get(Subject, s.id) for s in (world.person_a, world.person_b, world.firm_f, world.firm_g)]
    for i in range(count):
        query(db, the_vault, bank, subjects[i], at(DAY, 10, i), basis=Reason.CONSENT_EXPIRED)
    assert bool(fired(db, rule="repeated_refusals")) is fires


# -- outside declared hours -------------------------------------------------------------
@pytest.mark.parametrize(
    ("hours", "when", "fires"),
    [
        ((9, 18), (20, 0), True),
        ((9, 18), (17, 59), False),
        ((9, 18), (8, 59), True),
        ((22, 6), (23, 30), False),  # spans midnight
        ((22, 6), (5, 30), False),
        ((22, 6), (12, 0), True),
        ((None, None), (3, 0), False),  # none declared: any hour
    ],
)
def test_queries_outside_declared_hours(db, the_vault, subject_a, bank, hours, when, fires):
    bank.query_hours_from, bank.query_hours_until = hours
    query(db, the_vault, bank, subject_a, at(DAY, *when))
    alerts = fired(db, rule="outside_hours")
    assert bool(alerts) is fires
    if fires:
        assert alerts[0].facts == {"queries": 1, "hours_from": hours[0], "hours_until": hours[1], "min_queries": 1}


# -- post-loan management without a contract --------------------------------------------
@pytest.mark.parametrize(("count", "fires"), [(3, True), (2, False)])
def test_post_loan_queries_without_a_contract(db, the_vault, subject_a, bank, count, fires):
    for i in range(count):
        query(db, the_vault, bank, subject_a, at(DAY, 14, i), Reason.NO_EXISTING_CONTRACT, None, "post_loan_management")
    query(db, the_vault, bank, subject_a, at(DAY, 15), Reason.EXISTING_CONTRACT, None, "post_loan_management")
    alerts = fired(db, rule="post_loan_without_contract")
    assert bool(alerts) is fires
    if fires:
        assert alerts[0].facts["queries"] == 3
        assert alerts[0].institution_id == bank.id


# -- many institutions on one subject ---------------------------------------------------
def inbox_of(s, v, user_id):
    return notifications.inbox(s, v, s.get(User, user_id))[0]


@pytest.mark.parametrize(("count", "fires"), [(4, True), (3, False)])
def test_many_institutions_on_one_subject_tell_the_subject(db, the_vault, world, subject_a, count, fires):
    day = local_today() - timedelta(days=1)
    for i, institution in enumerate(institutions(db, the_vault, count)):
        query(db, the_vault, institution, subject_a, at(day, 10 + i), basis=Reason.CONSENT_REQUIRED)
        query(db, the_vault, institution, subject_a, at(day, 10 + i, 30))  # the same institution again counts once
    before = len(inbox_of(db, the_vault, world.user_a.id))
    alerts = fired(db, day, rule="many_institutions")
    assert bool(alerts) is fires
    told = inbox_of(db, the_vault, world.user_a.id)[: len(inbox_of(db, the_vault, world.user_a.id)) - before]
    assert bool(told) is fires
    if fires:
        assert alerts[0].subject_id == subject_a.id
        assert alerts[0].facts["institutions"] == 4
        (message,) = told
        # Person A reads Chinese (the default); the link leads to the lock of their file.
        assert f"/subjects/{subject_a.id}/consents" in message.body
        assert inbox_of(db, the_vault, world.user_b.id) == []


def test_an_old_window_raises_the_alert_but_tells_no_subject(db, the_vault, world, subject_a):
    day = local_today() - timedelta(days=3)
    for i, institution in enumerate(institutions(db, the_vault, 4)):
        query(db, the_vault, institution, subject_a, at(day, 10 + i), basis=Reason.CONSENT_REQUIRED)
    before = len(inbox_of(db, the_vault, world.user_a.id))
    (alert,) = fired(db, day, rule="many_institutions")
    assert alert.subject_id == subject_a.id
    assert len(inbox_of(db, the_vault, world.user_a.id)) == before  # too late to help: nobody is told


# -- staff far above their peers --------------------------------------------------------
@pytest.mark.parametrize(
    ("mine", "theirs", "fires"),
    [
        (12, (1, 2), True),  # 12 >= 3 x 1.5
        (9, (0, 0), False),  # under the minimum of 10
        (12, (4, 5), False),  # 12 < 3 x 4.5
    ],
)
def test_staff_far_above_their_peers(db, the_vault, staff, subject_a, mine, theirs, fires):
    officer, officer2, supervisor = (db.get(User, u.id) for u in (staff.officer, staff.officer2, staff.supervisor))
    for user, n in ((officer, mine), (officer2, theirs[0]), (supervisor, theirs[1])):
        for i in range(n):
            staff_event(db, the_vault, subject_a, user, EventKind.IDENTITY_REVEALED, at(DAY, 10, i))
    for i in range(mine):  # case openings are counted apart: the others opened as many
        for user in (officer, officer2, supervisor):
            staff_event(db, the_vault, subject_a, user, EventKind.CASE_VIEWED, at(DAY, 11, i))
    alerts = fired(db, rule="staff_outliers")
    assert bool(alerts) is fires
    if fires:
        (alert,) = alerts
        assert alert.staff_user_id == officer.id
        assert alert.facts["kind"] == "identity_revealed"
        assert alert.facts["peers_median"] == 1.5


# -- complaints -------------------------------------------------------------------------
@pytest.mark.parametrize(("reason", "fires"), [(DisputeReason.UNAUTHORISED_ACCESS, True), (DisputeReason.OTHER, False)])
def test_a_complaint_is_an_alert(db, the_vault, world, subject_a, bank, reason, fires):
    event = query(db, the_vault, bank, subject_a, monitoring.local_start(local_today(), 0))
    file_dispute(
        db, the_vault, subject_a, db.get(User, world.user_a.id), [], reason, "I never asked them.",
        access_event_id=event.id,
    )  # fmt: skip
    alerts = fired(db, local_today(), rule="complaint")
    assert bool(alerts) is fires
    if fires:
        assert alerts[0].institution_id == bank.id
        assert alerts[0].event_ids == [str(event.id)]


# -- passes -----------------------------------------------------------------------------
def test_a_second_pass_raises_no_duplicate(db, the_vault, subject_a, bank):
    for i in range(3):
        query(db, the_vault, bank, subject_a, at(DAY, 14, i), Reason.NO_EXISTING_CONTRACT, None, "post_loan_management")
    first = monitoring.evaluate_period(db, the_vault, DAY - timedelta(days=1), DAY + timedelta(days=1))
    again = monitoring.evaluate_period(db, the_vault, DAY - timedelta(days=1), DAY + timedelta(days=1))
    assert [a.rule for a in first] == ["post_loan_without_contract"]
    assert again == []
    assert db.scalar(select(func.count()).select_from(Alert)) == 1
    (step,) = db.scalars(select(AlertStep)).all()
    assert (step.action, step.actor_user_id) == ("opened", None)


def test_a_disabled_rule_raises_nothing(app, db, the_vault, subject_a, bank):
    settings(app, post_loan_without_contract={"enabled": False})
    for i in range(3):
        query(db, the_vault, bank, subject_a, at(DAY, 14, i), Reason.NO_EXISTING_CONTRACT, None, "post_loan_management")
    assert fired(db) == []


def test_the_worker_job_picks_up_new_events(app, world):
    def refuse_three():
        with app.app_context():
            s, v = session(), vault()
            for i in range(3):
                query(
                    s, v, s.get(Institution, world.bank.id), s.get(Subject, world.person_a.id),
                    at(local_today(), 0, i), Reason.NO_EXISTING_CONTRACT, None, "post_loan_management",
                )  # fmt: skip
            s.commit()

    def alerts():
        with app.app_context():
            return session().scalars(select(Alert.rule)).all()

    refuse_three()
    assert worker.monitor(app) == 0  # not in the log yet: the worker reads the log in order
    worker.integrate_log(app)
    assert worker.monitor(app) == 3
    assert alerts() == ["post_loan_without_contract"]
    assert worker.monitor(app) == 0  # each event is read once
    assert ("access monitoring", 60.0, worker.monitor) in worker.jobs(app)


def logged_events(app):
    worker.integrate_log(app)
    with app.app_context():
        return session().scalar(select(func.count()).select_from(AccessEvent).where(AccessEvent.log_index.is_not(None)))


def test_the_worker_evaluates_only_the_days_its_events_fall_on(app, world, monkeypatch):
    old = local_today() - timedelta(days=400)
    with app.app_context():
        s, v = session(), vault()
        bank, a = s.get(Institution, world.bank.id), s.get(Subject, world.person_a.id)
        query(s, v, bank, a, at(old, 10))
        query(s, v, bank, a, at(local_today(), 0, 5))
        s.commit()
    logged_events(app)
    days: list[date] = []
    for name, check in list(monitoring.CHECKS.items()):
        monkeypatch.setitem(
            monitoring.CHECKS, name, lambda s, day, t, check=check: days.append(day) or check(s, day, t)
        )
    worker.monitor(app)
    assert old in days
    assert local_today() in days
    assert old + timedelta(days=1) not in days  # not the empty days between
    with app.app_context():
        logged = session().scalars(select(AccessEvent.occurred_at).where(AccessEvent.log_index.is_not(None)))
        assert set(days) == {day_of(t) for t in logged}  # each day an event falls on, and no other


def test_the_worker_takes_a_bounded_number_of_batches_per_round(app, world, monkeypatch):
    with app.app_context():
        s, v = session(), vault()
        bank, a = s.get(Institution, world.bank.id), s.get(Subject, world.person_a.id)
        for i in range(7):
            query(s, v, bank, a, at(local_today(), 0, i))
        s.commit()
    total = logged_events(app)
    assert total >= 7
    monkeypatch.setattr(worker, "MONITORING_BATCH", 2)
    monkeypatch.setattr(worker, "MONITORING_BATCHES", 2)
    assert worker.monitor(app) == 4  # two batches of two, the rest next round
    taken = 4
    while done := worker.monitor(app):
        assert done <= 4
        taken += done
    assert taken == total


def test_a_failing_rule_is_logged_every_round_and_its_batch_read_again(app, world, monkeypatch, caplog):
    with app.app_context():
        s, v = session(), vault()
        query(s, v, s.get(Institution, world.bank.id), s.get(Subject, world.person_a.id), at(local_today(), 0, 1))
        s.commit()
    total = logged_events(app)

    def broken(s, day, t):
        raise ValueError("bad data")

    with monkeypatch.context() as patched:
        patched.setitem(monitoring.CHECKS, "volume_spike", broken)
        for _round in range(2):
            caplog.clear()
            assert worker.monitor(app) == 0
            (record,) = [r for r in caplog.records if r.name == "portal.worker"]
            assert record.levelname == "ERROR"
            assert "access monitoring" in record.getMessage()
            assert str(record.exc_info[1]) == "bad data"
    assert worker.monitor(app) == total  # mended: the same events are read


def test_the_migration_starts_the_monitoring_after_the_log_as_it_was(tmp_path):
    """An upgraded portal does not replay its history: 0018 sets the
    monitoring's cursor at the highest log index; an empty one before any."""
    import uuid as uuid_

    from sqlalchemy import create_engine, text

    from portal.migrations import upgrade

    def cursor(engine):
        with engine.connect() as c:
            return c.execute(text("SELECT position FROM event_cursors WHERE name = 'monitoring'")).scalar()

    fresh = create_engine(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    upgrade(fresh, "head")
    assert cursor(fresh) == -1
    fresh.dispose()

    engine = create_engine(f"sqlite:///{tmp_path / 'before.sqlite3'}")  # no foreign keys enforced: bare rows
    upgrade(engine, "0017")
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO access_events (id, subject_id, occurred_at, kind, outcome, channel, detail_ct, log_index)"
                " VALUES (:id, :s, '2020-01-01 00:00:00.000000', 'institution_query', 'served', 'api', x'00', :i)"
            ),
            [{"id": uuid_.uuid4().hex, "s": uuid_.uuid4().hex, "i": i} for i in (0, 1, 41)],
        )
    upgrade(engine, "head")
    assert cursor(engine) == 41
    engine.dispose()


# -- the command ------------------------------------------------------------------------
def test_the_command_runs_a_period_and_prints_what_fired(app, runner, world):
    with app.app_context():
        s, v = session(), vault()
        for i in range(3):
            query(
                s, v, s.get(Institution, world.bank.id), s.get(Subject, world.person_a.id),
                at(DAY, 14, i), Reason.NO_EXISTING_CONTRACT, None, "post_loan_management",
            )  # fmt: skip
        s.commit()
    out = runner.invoke(args=["compliance", "monitor", "--from", "2025-03-01", "--until", "2025-03-31"])
    assert out.exit_code == 0, out.output
    assert "post_loan_without_contract" in out.output
    assert "2025-03-10..2025-03-10  test-bank  min_queries=3, queries=3" in out.output
    assert "1 alert(s) raised" in out.output
    again = runner.invoke(args=["compliance", "monitor", "--from", "2025-03-01", "--until", "2025-03-31"])
    assert "0 alert(s) raised" in again.output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--from", "2025-02-30", "--until", "2025-03-01"], "Invalid value for '--from'"),
        (["--from", "2025-03-02", "--until", "2025-03-01"], "the period ends before it starts"),
        (["--from", "2025-03-02"], "give --from and --until"),
    ],
)
def test_the_command_refuses_bad_periods(runner, args, says):
    out = runner.invoke(args=["compliance", "monitor", *args])
    assert out.exit_code == 2
    assert says in out.output


def test_the_command_prints_the_rules_in_effect(app, runner):
    settings(app, volume_spike={"factor": 7}, outside_hours={"enabled": False})
    out = runner.invoke(args=["compliance", "monitor", "--rules"])
    assert out.exit_code == 0, out.output
    assert "volume_spike (on): Query volume spike" in out.output
    assert "  factor = 7  (times the daily mean of the previous 30 days)" in out.output
    assert "outside_hours (off)" in out.output
    assert "  min_queries = 20  (queries in the day, at least)" in out.output


# -- the setting ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ("{not json", "is not JSON"),
        ("[1]", "expected a JSON object"),
        ('{"volume_spikes": {}}', "no rule 'volume_spikes'"),
        ('{"volume_spike": {"factr": 2}}', "has no threshold 'factr'"),
        ('{"volume_spike": {"factor": -1}}', "must be a positive number"),
        ('{"volume_spike": {"enabled": "no"}}', "must be true or false"),
    ],
)
def test_a_malformed_setting_says_why(setting, says):
    with pytest.raises(ValueError, match=says):
        monitoring_rules(setting)


def test_a_malformed_setting_stops_start_up(make_app, monkeypatch):
    monkeypatch.setenv("PORTAL_MONITORING_RULES", '{"outside_hours": {"min_queries": "many"}}')
    with pytest.raises(ValueError, match="outside_hours.min_queries must be a positive number"):
        make_app()
    monkeypatch.setenv("PORTAL_MONITORING_RULES", '{"outside_hours": {"min_queries": 2}}')
    assert make_app().config["MONITORING_RULES"]["outside_hours"] == {"min_queries": 2, "enabled": True}
