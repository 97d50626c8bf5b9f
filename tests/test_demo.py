"""Demo data: realistic, deterministic for a seed, and stored encrypted."""

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from portal.accounts.models import Role, User
from portal.demo import load_demo
from portal.extensions import session, vault
from portal.records.identifiers import validate_resident_id, validate_uscc
from portal.records.models import Category, CreditRecord, RecordVersion, Subject, SubjectKind
from portal.records.services import expiry_date, open_payload, view_subject

TODAY = date(2026, 11, 26)


def snapshot(today=TODAY, seed=11, subjects=40):
    """Load the demo and read everything back through the vault."""
    s, v = session(), vault()
    load_demo(s, v, subjects=subjects, seed=seed, today=today)
    people = {}
    for subject in s.scalars(select(Subject)):
        view = view_subject(s, v, subject)
        cipher = v.cipher(s, subject.data_key_id)
        records = sorted(
            (
                r.category.value,
                rv.status.value,
                rv.is_negative,
                rv.ended_on,
                rv.expires_on,
                tuple(sorted(open_payload(cipher, rv).items())),
            )
            for r in subject.records
            for rv in r.versions
        )
        people[view.identifier] = (view.kind, view.name, records)
    return people


def test_same_seed_same_data_other_seed_other_data(make_app, tmp_path):
    results = []
    for n, seed in enumerate([11, 11, 12]):
        app = make_app(DATABASE_URL=f"sqlite:///{tmp_path / f'demo{n}.sqlite3'}")
        assert app.test_cli_runner().invoke(args=["init"]).exit_code == 0
        with app.app_context():
            results.append(snapshot(seed=seed))
    assert results[0] == results[1]
    assert results[0].keys() != results[2].keys()


def test_demo_is_realistic(ctx):
    people = snapshot(subjects=60)
    kinds = [kind for kind, _, _ in people.values()]
    assert kinds.count(SubjectKind.FIRM) == 12
    assert kinds.count(SubjectKind.PERSON) == 48
    for identifier, (kind, name, records) in people.items():
        (validate_uscc if kind is SubjectKind.FIRM else validate_resident_id)(identifier)
        assert name
        assert all("\u4e00" <= ch <= "\u9fff" for ch in name)
        assert records, "every subject has at least one record"
    records = [r for _, _, rs in people.values() for r in rs]
    assert {r[0] for r in records} == {c.value for c in Category}
    negative = [r for r in records if r[2]]
    assert negative
    assert len(negative) < len(records)
    for _category, _status, is_negative, ended_on, expires_on, _ in records:
        assert expires_on == expiry_date(is_negative, ended_on)
        if is_negative and ended_on:
            assert expires_on is not None
            assert (expires_on - ended_on).days in (1826, 1827)
        else:
            assert expires_on is None
    near = [r for r in negative if r[4] and TODAY < r[4] <= TODAY + timedelta(days=70)]
    assert near, "some negative records are close to expiry"


def test_demo_logins_are_linked(ctx):
    creds = load_demo(session(), vault(), subjects=20, seed=5, today=TODAY)
    by_role = {login["role"]: login for login in creds["logins"]}
    assert by_role["firm_agent"]["subject_identifier"] == by_role["firm_representative"]["subject_identifier"]
    users = session().scalars(select(User)).all()
    logins = [u for u in users if u.password_hash is not None]
    assert len(logins) == len(creds["logins"])
    assert all(u.password_hash.startswith("$argon2id$") for u in logins)
    # The others are the persons of the demo cases, on file with their own account but no demo login.
    assert {u.role for u in users if u.password_hash is None} <= {Role.PERSON}


@pytest.fixture
def sqlite_demo(make_app, tmp_path):
    """A demo database in its own SQLite file, whatever the test database."""
    path = tmp_path / "plain.sqlite3"
    app = make_app(DATABASE_URL=f"sqlite:///{path}")
    result = app.test_cli_runner().invoke(args=["demo", "--subjects", "40"])
    assert result.exit_code == 0, result.output
    return app, path


def test_sqlite_file_holds_no_plaintext_personal_data(sqlite_demo):
    app, path = sqlite_demo
    with app.app_context():
        s, v = session(), vault()
        secrets = set()
        for subject in s.scalars(select(Subject)):
            view = view_subject(s, v, subject)
            secrets |= {view.name, view.identifier, view.identifier[:14]}
        for user in s.scalars(select(User)):
            secrets.add(v.cipher(s, user.data_key_id).open_field(user, "email"))
        for rv in s.scalars(select(RecordVersion).join(CreditRecord)):
            payload = open_payload(v.cipher(s, rv.record.subject.data_key_id), rv)
            secrets |= {payload["reference"], *(str(x) for k, x in payload.items() if k in ("case_number", "account"))}
    app.extensions["portal.db"].dispose()
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    assert len(secrets) > 100
    leaked = [x for x in secrets if x.encode() in raw]
    assert leaked == []


@pytest.mark.parametrize("category", list(Category))
def test_demo_dates_hang_together(category):
    """Ends follow starts and are not in the future; case numbers carry the
    decision year; penalties stay public for their minimum period; the
    near-expiry records expire within about two months."""
    import random

    from portal.demo import make_record

    rng = random.Random(7)
    for i in range(1500):
        near = i % 5 == 0
        record = make_record(rng, TODAY, category, i, near_expiry=near)
        dates = {
            k: date.fromisoformat(v)
            for k, v in record.details.items()
            if k.endswith(("_on", "since", "_until")) and k != "maturity_on"
        }
        start = next(dates[k] for k in ("opened_on", "signed_on", "assessed_on", "decided_on", "since") if k in dates)
        assert all(v <= TODAY for k, v in dates.items() if k != "minimum_publicity_until")
        if record.ended_on:
            assert start <= record.ended_on <= TODAY
        if "case_number" in record.details:
            assert f"({dates['decided_on'].year})" in record.details["case_number"]
        if category is Category.ADMINISTRATIVE_PENALTY and record.ended_on:
            assert record.ended_on >= dates["minimum_publicity_until"]
        if near:
            expires = expiry_date(record.is_negative, record.ended_on)
            assert expires
            assert 0 < (expires - TODAY).days <= 70


def test_expiry_is_five_years_after_the_behaviour_ended():
    assert expiry_date(True, date(2021, 3, 14)) == date(2026, 3, 14)
    assert expiry_date(True, date(2024, 2, 29)) == date(2029, 2, 28)
    assert expiry_date(True, None) is None  # still going on: no expiry yet
    assert expiry_date(False, date(2021, 3, 14)) is None  # positive information does not expire


def test_demo_has_cases_for_the_officers(ctx):
    from portal.disputes.lifecycle import days_left
    from portal.disputes.models import Dispute, DisputeStatus, OutcomeLetter

    load_demo(session(), vault(), subjects=20, seed=5, today=TODAY)
    cases = session().scalars(select(Dispute)).all()
    by_status = sorted(d.status.value for d in cases)
    assert by_status == ["resolved", "submitted", "submitted", "submitted", "waiting_for_furnisher"]
    new = sorted(days_left(d, TODAY) for d in cases if d.status is DisputeStatus.SUBMITTED)
    assert new[0] < 0 < new[1], "one new case is overdue, the others are not"
    assert session().scalar(select(func.count()).select_from(OutcomeLetter)) == 1
