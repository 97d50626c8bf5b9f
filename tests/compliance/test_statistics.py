"""The statistics page, its charts and its CSV, against a period whose
figures were worked out by hand: six cases in two regimes (one paused, one
extended, one overdue), two furnishers' answers, three correction notices,
at known moments."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select, update

from portal.accounts.models import User
from portal.compliance import assignment
from portal.compliance import statistics as stats_module
from portal.compliance.statistics import Period, statistics
from portal.disputes.lifecycle import advance, extend
from portal.disputes.models import (
    Answer,
    CorrectionNotice,
    Dispute,
    DisputeItem,
    DisputeKind,
    DisputeOutcome,
    DisputeReason,
    DisputeStep,
    FurnisherResponse,
    Regime,
)
from portal.extensions import session, vault
from portal.institutions.models import Institution
from portal.localtime import today as portal_today
from portal.records.models import CreditRecord, Subject
from tests import factories as make
from tests.officers import S, as_user, english, file_case

NOW = datetime(2026, 4, 10, 4, 0, tzinfo=UTC)  # noon in Beijing
PERIOD = "from=2026-01-01&until=2026-03-31"


def at(month: int, day: int, hour: int = 4) -> datetime:
    """A moment of 2026 in UTC (04:00 UTC is noon in Beijing: no day boundary near)."""
    return datetime(2026, month, day, hour, tzinfo=UTC)


def _file(s, v, subject_id, filer_id, record_id, reason=DisputeReason.WRONG_AMOUNT) -> Dispute:
    return make.dispute(s, v, s.get(Subject, subject_id), s.get(User, filer_id), [record_id], reason)


def _take(s, v, d, officer):
    assignment.assign(s, v, d, officer)
    for to in (S.ACKNOWLEDGED, S.UNDER_REVIEW):
        advance(s, v, d, to, officer)


def _answer(s, v, d, officer, forwarded, answered, answer):
    advance(s, v, d, S.WAITING_FOR_FURNISHER, officer, now=forwarded)
    item = s.scalar(select(DisputeItem).where(DisputeItem.dispute_id == d.id))
    record = s.get(CreditRecord, item.record_id)
    s.add(
        FurnisherResponse(
            dispute_id=d.id,
            item_id=item.id,
            institution_id=record.furnisher_id,
            answer=answer,
            reviewed_ct=b"-",
            created_at=answered,
        )
    )
    s.flush()
    advance(s, v, d, S.UNDER_REVIEW, officer, now=answered)


def _decide(s, v, d, officer, when, outcome):
    advance(s, v, d, S.RESOLVED, officer, note="Decided.", outcome=outcome, now=when)


def _when(d, filed, due, regime=Regime.CN_20_DAYS, kind=None):
    d.filed_at, d.due_on, d.regime = filed, due, regime
    if kind is not None:
        d.kind, d.reason = kind, DisputeReason.CREDIT_REPAIR


def _notice(s, d, institution_id, sent, acknowledged=None):
    item = s.scalar(select(DisputeItem).where(DisputeItem.dispute_id == d.id))
    event_id = s.scalar(select(DisputeStep.event_id).where(DisputeStep.dispute_id == d.id).limit(1))
    s.add(
        CorrectionNotice(
            dispute_id=d.id,
            institution_id=institution_id,
            record_id=item.record_id,
            received_event_id=event_id,
            body_ct=b"-",
            created_at=sent,
            acknowledged_at=acknowledged,
        )
    )


@pytest.fixture
def known(app, world, staff, monkeypatch):
    """The hand-computed period, 2026-01-01 to 2026-03-31, seen on 2026-04-10:

    C1 A's loan (bank)    CN    wrong amount  officer 1  filed 01-05, forwarded 01-07, answered 01-10,
                                              corrected 01-15 (10 days), due 01-25
    C2 B's loan (bank)    FCRA  not mine      officer 1  filed 02-01, forwarded 02-03, answered 02-09,
                                              subject asked (paused), verified 02-21 (20 days), due 03-08
    C3 A's card (bank)    CN    outdated      officer 2  filed 02-10, extended 10 days to 03-12,
                                              deleted 03-14 (32 days): late
    C4 B's card (second)  FCRA  wrong dates   officer 2  filed 03-01, forwarded 03-03, answered 03-11,
                                              open, due 03-31: overdue, 40 days old
    C5 F's loan (bank)    CN    credit repair nobody     filed 03-30 18:00 Beijing, open, due 04-17, 10.75 days old
    C6 F's loan (bank)    CN    credit repair officer 1  filed 01-20, repaired 01-30 (10 days), due 02-09
    Notices: C1 to bank sent 01-16, acknowledged 01-18 16:00 (2.5 days); C3 to second sent 03-15,
    acknowledged 03-16 16:00 (1.5 days); C3 to bank sent 03-15, not acknowledged."""
    monkeypatch.setattr(stats_module, "utcnow", lambda: NOW)
    with app.app_context():
        s, v = session(), vault()
        bank = s.get(Institution, world.bank.id)
        second = make.institution(s, v, "second-bank", name="第二银行", name_en="Second Bank")
        make.record(s, v, second, s.get(Subject, world.person_b.id), "B-CARD-2")
        by_subject: dict = {}
        for r in s.scalars(select(CreditRecord).order_by(CreditRecord.created_at, CreditRecord.id)):
            by_subject.setdefault((r.subject_id, r.furnisher_id), []).append(r.id)
        a, b, f = world.person_a.id, world.person_b.id, world.firm_f.id
        one, two = s.get(User, staff.officer.id), s.get(User, staff.officer2.id)

        c6 = _file(s, v, f, world.rep_f.id, by_subject[(f, bank.id)][0])
        _when(c6, at(1, 20), date(2026, 2, 9), kind=DisputeKind.CREDIT_REPAIR)
        _take(s, v, c6, one)
        _decide(s, v, c6, one, at(1, 30), DisputeOutcome.REPAIRED)

        c1 = _file(s, v, a, world.user_a.id, by_subject[(a, bank.id)][0])
        _take(s, v, c1, one)
        _answer(s, v, c1, one, at(1, 7), at(1, 10), Answer.CORRECTED)
        _decide(s, v, c1, one, at(1, 15), DisputeOutcome.CORRECTED)
        _when(c1, at(1, 5), date(2026, 1, 25))

        c2 = _file(s, v, b, world.user_b.id, by_subject[(b, bank.id)][0], DisputeReason.NOT_MINE)
        _take(s, v, c2, one)
        _answer(s, v, c2, one, at(2, 3), at(2, 9), Answer.VERIFIED_ACCURATE)
        advance(s, v, c2, S.WAITING_FOR_SUBJECT, one, note="Send the contract.", now=at(2, 10))
        advance(s, v, c2, S.UNDER_REVIEW, one, now=at(2, 15))
        _decide(s, v, c2, one, at(2, 21), DisputeOutcome.VERIFIED_ACCURATE)
        _when(c2, at(2, 1), date(2026, 3, 8), Regime.FCRA_30_DAYS)

        c3 = _file(s, v, a, world.user_a.id, by_subject[(a, bank.id)][1], DisputeReason.OUTDATED)
        _take(s, v, c3, two)
        extend(s, v, c3, two, 10, "The archive is slow.")
        _decide(s, v, c3, two, at(3, 14), DisputeOutcome.DELETED)
        _when(c3, at(2, 10), date(2026, 3, 12))

        c4 = _file(s, v, b, world.user_b.id, by_subject[(b, second.id)][0], DisputeReason.WRONG_DATES)
        _take(s, v, c4, two)
        _answer(s, v, c4, two, at(3, 3), at(3, 11), Answer.CANNOT_VERIFY)
        _when(c4, at(3, 1), date(2026, 3, 31), Regime.FCRA_30_DAYS)

        c5 = _file(s, v, f, world.rep_f.id, by_subject[(f, bank.id)][0])
        _when(c5, at(3, 30, 10), date(2026, 4, 17), kind=DisputeKind.CREDIT_REPAIR)

        _notice(s, c1, bank.id, at(1, 16), at(1, 18, 16))
        _notice(s, c3, second.id, at(3, 15), at(3, 16, 16))
        _notice(s, c3, bank.id, at(3, 15))
        s.flush()
        # Nothing in the period happened after the moments above: the steps
        # the services wrote "now" are moved to their case's filing.
        for d in (c1, c2, c3, c4, c5, c6):
            s.execute(
                update(DisputeStep)
                .where(DisputeStep.dispute_id == d.id, DisputeStep.at > NOW)
                .values(at=d.filed_at)
                .execution_options(synchronize_session=False)
            )
        s.commit()
        return {"bank": str(bank.id), "second": str(second.id), "one": str(one.id), "two": str(two.id)}


OUTCOMES = [o.value for o in DisputeOutcome]


def cases(received, open_, closed, outcomes, decided, median, mean, p90, on_time):
    row = {"received": received, "open": open_, "closed": closed, "decided": decided}
    row |= {f"outcome.{o}": outcomes.get(o, 0) for o in OUTCOMES}
    row |= {"days_median": median, "days_mean": mean, "days_p90": p90, "on_time_share": on_time}
    return row


NONE = (None, None, None, None)


def expected(k) -> dict[tuple[str, str], dict]:
    """Every figure of the period, by (table, group), worked out by hand."""
    c, d, va, rp = "corrected", "deleted", "verified_accurate", "repaired"
    return {
        ("by_all", "all"): cases(6, 2, 4, {c: 1, d: 1, va: 1, rp: 1}, 4, 15.0, 18.0, 32.0, 0.75),
        ("by_month", "2026-01"): cases(2, 0, 2, {c: 1, rp: 1}, 2, 10.0, 10.0, 10.0, 1.0),
        ("by_month", "2026-02"): cases(2, 0, 2, {va: 1, d: 1}, 2, 26.0, 26.0, 32.0, 0.5),
        ("by_month", "2026-03"): cases(2, 2, 0, {}, 0, *NONE),
        ("by_regime", "cn_20_days"): cases(4, 1, 3, {c: 1, d: 1, rp: 1}, 3, 10.0, 17.3, 32.0, 0.6667),
        ("by_regime", "fcra_30_days"): cases(2, 1, 1, {va: 1}, 1, 20.0, 20.0, 20.0, 1.0),
        ("by_regime", "gdpr_one_month"): cases(0, 0, 0, {}, 0, *NONE),
        ("by_reason", "not_mine"): cases(1, 0, 1, {va: 1}, 1, 20.0, 20.0, 20.0, 1.0),
        ("by_reason", "wrong_amount"): cases(1, 0, 1, {c: 1}, 1, 10.0, 10.0, 10.0, 1.0),
        ("by_reason", "wrong_dates"): cases(1, 1, 0, {}, 0, *NONE),
        ("by_reason", "outdated"): cases(1, 0, 1, {d: 1}, 1, 32.0, 32.0, 32.0, 0.0),
        ("by_reason", "credit_repair"): cases(2, 1, 1, {rp: 1}, 1, 10.0, 10.0, 10.0, 1.0),
        ("by_kind", "objection"): cases(4, 1, 3, {c: 1, d: 1, va: 1}, 3, 20.0, 20.7, 32.0, 0.6667),
        ("by_kind", "credit_repair"): cases(2, 1, 1, {rp: 1}, 1, 10.0, 10.0, 10.0, 1.0),
        ("by_furnisher", k["bank"]): cases(5, 1, 4, {c: 1, d: 1, va: 1, rp: 1}, 4, 15.0, 18.0, 32.0, 0.75),
        ("by_furnisher", k["second"]): cases(1, 1, 0, {}, 0, *NONE),
        ("by_officer", k["one"]): cases(3, 0, 3, {c: 1, va: 1, rp: 1}, 3, 10.0, 13.3, 20.0, 1.0),
        ("by_officer", k["two"]): cases(2, 1, 1, {d: 1}, 1, 32.0, 32.0, 32.0, 0.0),
        ("by_officer", "unassigned"): cases(1, 1, 0, {}, 0, *NONE),
        ("furnishers", k["bank"]): {
            "answers": 2,
            "answer_days_median": 4.5,
            "answer_days_mean": 4.5,
            "answer_days_p90": 6.0,
            "records_decided": 3,
            "corrected_or_deleted": 2,
            "correction_share": 0.6667,
        },
        ("furnishers", k["second"]): {
            "answers": 1,
            "answer_days_median": 8.0,
            "answer_days_mean": 8.0,
            "answer_days_p90": 8.0,
            "records_decided": 0,
            "corrected_or_deleted": 0,
            "correction_share": None,
        },
        ("backlog", "0-5"): {"open": 0},
        ("backlog", "6-10"): {"open": 1},
        ("backlog", "11-20"): {"open": 0},
        ("backlog", "21+"): {"open": 1},
        ("backlog", "all"): {"open": 2},
        ("backlog", "overdue"): {"open": 1},
        ("notices", "all"): notices(3, 2, 2.0, 2.0, 2.5),
        ("notices", k["bank"]): notices(2, 1, 2.5, 2.5, 2.5),
        ("notices", k["second"]): notices(1, 1, 1.5, 1.5, 1.5),
    }


def notices(sent, acknowledged, median, mean, p90):
    return {
        "sent": sent,
        "acknowledged": acknowledged,
        "ack_days_median": median,
        "ack_days_mean": mean,
        "ack_days_p90": p90,
    }


def _computed(app) -> dict[tuple[str, str], dict]:
    with app.app_context():
        s, v = session(), vault()
        found = statistics(s, Period(date(2026, 1, 1), date(2026, 3, 31)), NOW)
        tables = stats_module.tables(found, stats_module.labels(s, v, found), stats_module.names())
    return {
        (t.id, key): dict(zip([c for c, _ in t.columns], values, strict=True))
        for t in tables
        for key, _, values in t.rows
    }


def test_the_figures_are_the_hand_computed_ones(app, known):
    assert _computed(app) == expected(known)


def _page_cells(html: str) -> dict[tuple[str, str], dict]:
    """The page's tables as (table, group) -> {measure: text shown}."""
    out = {}
    for table_id, body in re.findall(r'<table class="figures" id="table-([^"]+)">(.*?)</table>', html, re.S):
        for key, row in re.findall(r'<tr data-key="([^"]+)">(.*?)</tr>', body, re.S):
            cells = re.findall(r'<td data-measure="([^"]+)">(.*?)</td>', row, re.S)
            out[(table_id, key)] = {m: re.sub(r"<[^>]+>", "", v).strip() for m, v in cells}
    return out


def _shown(measure, value) -> str:
    if value is None:
        return "—"
    if measure.endswith("_share"):
        return f"{value * 100:.1f}%"
    return f"{value:.1f}" if isinstance(value, float) else str(value)


@pytest.mark.parametrize("who", ["officer", "supervisor"])
def test_the_page_shows_every_figure(app, known, staff, sign_in, who):
    client = as_user(app, sign_in, getattr(staff, who))
    response = client.get(f"/compliance/statistics?{PERIOD}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    want = {key: {m: _shown(m, v) for m, v in row.items()} for key, row in expected(known).items()}
    assert _page_cells(html) == want
    assert "Second Bank" in html  # furnishers by their public name
    assert "Test Bank" in html
    for chart in ("disputes", "regimes", "furnishers", "backlog"):
        assert f"/compliance/statistics/chart/{chart}.svg?from=2026-01-01&amp;until=2026-03-31" in html
    assert html.count("<caption") == 10


def test_the_csv_holds_every_figure(app, known, staff, sign_in):
    client = as_user(app, sign_in, staff.officer)
    response = client.get(f"/compliance/statistics.csv?{PERIOD}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    data = response.get_data()
    assert data.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    got: dict = {}
    for row in rows:
        text = row["value"]
        value = None if text == "" else (float(text) if "." in text else int(text))
        got.setdefault((row["table"], row["group"]), {})[row["measure"]] = value
    assert got == expected(known)
    labels = {(r["table"], r["group"]): r["label"] for r in rows}
    assert labels[("by_furnisher", known["second"])] == "Second Bank"
    assert labels[("by_regime", "fcra_30_days")] == "FCRA, 30 days"


def test_csv_text_cells_cannot_be_formulas(app, world, staff, sign_in):
    with app.app_context():
        s, v = session(), vault()
        evil = make.institution(s, v, "evil-bank", name='=HYPERLINK("x")', name_en='=HYPERLINK("x")')
        subject = s.get(Subject, world.person_b.id)
        record = make.record(s, v, evil, subject, "B-EVIL-1")
        make.dispute(s, v, subject, s.get(User, world.user_b.id), [record.record_id])
        s.commit()
    response = as_user(app, sign_in, staff.officer).get("/compliance/statistics.csv")
    text = response.get_data().decode("utf-8-sig")
    assert "'=HYPERLINK" in text
    assert not re.search(r'(^|,)"?=', text, re.M)


def test_a_chart_is_an_svg_with_no_script_and_nothing_external(app, known, staff, sign_in):
    client = as_user(app, sign_in, staff.supervisor)
    for name in ("disputes", "regimes", "furnishers", "backlog"):
        response = client.get(f"/compliance/statistics/chart/{name}.svg?{PERIOD}")
        assert response.status_code == 200
        assert response.mimetype == "image/svg+xml"
        svg = response.get_data(as_text=True)
        assert "<svg" in svg
        assert "<script" not in svg.lower()
        outside = re.sub(r'xmlns(:\w+)?="http://www\.w3\.org/[^"]*"', "", svg)
        assert "http" not in outside.lower()
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert client.get(f"/compliance/statistics/chart/nothing.svg?{PERIOD}").status_code == 404


def test_an_empty_period_says_so(app, world, staff, sign_in):
    client = as_user(app, sign_in, staff.officer)
    response = client.get("/compliance/statistics?from=2020-01-01&until=2020-01-31")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "No case was filed and no correction notice was sent in this period" in html
    assert client.get("/compliance/statistics/chart/disputes.svg?from=2020-01-01&until=2020-01-31").status_code == 200
    rows = client.get("/compliance/statistics.csv?from=2020-01-01&until=2020-01-31").get_data().decode("utf-8-sig")
    assert "by_all,all,All,received,0" in rows
    assert "by_all,all,All,on_time_share,\r\n" in rows


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-13-01&until=2026-03-31", "Not a valid date value."),
        ("from=2026-03-01&until=2026-01-31", "The period ends before it starts."),
        ("from=2019-01-01&until=2026-03-31", "Choose a period of at most five years."),
    ],
)
def test_a_wrong_period_is_a_form_error(app, world, staff, sign_in, query, message):
    client = as_user(app, sign_in, staff.officer)
    response = client.get(f"/compliance/statistics?{query}")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html
    assert 'value="2026-03-31"' in html or 'value="2026-01-31"' in html  # what was typed is kept
    assert client.get(f"/compliance/statistics.csv?{query}").status_code == 400
    assert client.get(f"/compliance/statistics/chart/disputes.svg?{query}").status_code == 400


def test_the_page_speaks_the_default_language(app, world, staff, sign_in):
    client = sign_in(app.test_client(), staff.officer)  # no language cookie: Chinese
    assert client.get("/compliance/statistics").status_code == 200


URLS = [
    "/compliance/statistics",
    f"/compliance/statistics?{PERIOD}",
    "/compliance/statistics/chart/disputes.svg",
    f"/compliance/statistics.csv?{PERIOD}",
    "/compliance/statistics/report/2026-03.json",
    "/compliance/statistics/report?month=2026-03&as=csv",
    "/compliance/statistics/report/2026-03.csv",
]


@pytest.mark.parametrize("who", ["user_a", "rep_f", "agent_f", None])
def test_only_staff_reach_the_statistics(app, world, sign_in, who):
    client = app.test_client() if who is None else english(sign_in(app.test_client(), getattr(world, who)))
    for url in URLS:
        assert client.get(url).status_code == 404, url


def test_staff_reach_every_statistics_url(app, world, staff, sign_in):
    for user in (staff.officer, staff.supervisor):
        client = as_user(app, sign_in, user)
        for url in URLS:
            assert client.get(url, follow_redirects=True).status_code == 200, url


# -- dates out of bounds: a form error, never a 500 -------------------------------------------
@pytest.mark.parametrize(
    "query",
    [
        "until=9999-12-31",
        "from=9999-12-31",
        "from=0001-01-01&until=0001-01-02",
        "from=0001-01-01",
        "from=1999-12-31&until=2000-06-01",
    ],
)
def test_a_date_out_of_bounds_is_a_form_error(app, world, staff, sign_in, query):
    client = as_user(app, sign_in, staff.officer)
    response = client.get(f"/compliance/statistics?{query}")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Choose a date from" in html
    assert "2000" in html  # the earliest day accepted is named
    assert client.get(f"/compliance/statistics.csv?{query}").status_code == 400
    assert client.get(f"/compliance/statistics/chart/disputes.svg?{query}").status_code == 400


def test_dates_within_bounds_are_accepted(app, world, staff, sign_in):
    client = as_user(app, sign_in, staff.officer)
    ahead = (portal_today() + timedelta(days=300)).isoformat()
    for query in ("from=2000-01-01&until=2000-12-31", f"until={ahead}", f"from={ahead}"):
        response = client.get(f"/compliance/statistics?{query}")
        assert response.status_code == 200, query
        assert "Choose a" not in response.get_data(as_text=True)
        assert client.get(f"/compliance/statistics.csv?{query}").status_code == 200


# -- the backlog: when it was counted, and one definition of overdue ------------------------
def test_the_backlog_says_when_it_was_counted(app, known, staff, sign_in):
    client = as_user(app, sign_in, staff.officer)
    html = client.get(f"/compliance/statistics?{PERIOD}").get_data(as_text=True)
    assert "Open cases as of 2026-04-10 12:00" in html  # NOW, in Beijing
    rows = client.get(f"/compliance/statistics.csv?{PERIOD}").get_data().decode("utf-8-sig")
    backlog = [r for r in csv.DictReader(io.StringIO(rows)) if r["table"] == "backlog"]
    assert backlog
    assert all("open cases as of 2026-04-10 12:00" in r["label"] for r in backlog)


@pytest.fixture
def paused_late(app, world, staff):
    """Officer 1 holds two open cases: one running past its deadline, one
    whose clock stopped (waiting for the subject) three days after its
    deadline; officer 2 holds one paused before its deadline."""
    today = portal_today()

    def held(who, officer, filed_days_ago, due_days_ago, paused_days_ago):
        dispute_id = file_case(app, world, who, filed_on=today - timedelta(days=filed_days_ago))
        with app.app_context():
            s, v = session(), vault()
            d = s.get(Dispute, dispute_id)
            _take(s, v, d, s.get(User, officer.id))
            d.due_on = today - timedelta(days=due_days_ago)
            if paused_days_ago is not None:
                d.paused_since = datetime.combine(today - timedelta(days=paused_days_ago), time(4), tzinfo=UTC)
            s.commit()

    held("a", staff.officer, 30, 5, None)  # running, 5 days late: overdue
    held("b", staff.officer, 30, 10, 7)  # stopped 3 days after its deadline: overdue
    held("f", staff.officer2, 10, 2, 4)  # stopped 2 days before its deadline: not overdue


def _overdue_on_officers_page(html: str, user) -> int:
    row = re.search(rf'<tr id="officer-{user.id}"[^>]*>(.*?)</tr>', html, re.S).group(1)
    cell = re.search(r'<td class="overdue-count">(.*?)</td>', row, re.S).group(1)
    return int(re.sub(r"<[^>]+>", "", cell).strip())


def test_statistics_and_the_officers_page_count_the_same_overdue_cases(app, paused_late, staff, sign_in):
    client = as_user(app, sign_in, staff.supervisor)
    stats = _page_cells(client.get("/compliance/statistics").get_data(as_text=True))
    officers = client.get("/compliance/officers").get_data(as_text=True)
    assert stats[("backlog", "all")] == {"open": "3"}
    assert stats[("backlog", "overdue")] == {"open": "2"}  # the paused one past its deadline included
    assert _overdue_on_officers_page(officers, staff.officer) == 2
    assert _overdue_on_officers_page(officers, staff.officer2) == 0
