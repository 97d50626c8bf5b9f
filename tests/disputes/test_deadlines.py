from datetime import date

import pytest

from portal.disputes.deadlines import Clock, DeadlineError, add_months, due_date
from portal.disputes.models import Regime


@pytest.mark.parametrize(
    ("filed", "regime", "due"),
    [
        (date(2026, 3, 1), Regime.CN_20_DAYS, date(2026, 3, 21)),
        (date(2026, 12, 20), Regime.CN_20_DAYS, date(2027, 1, 9)),
        (date(2028, 2, 20), Regime.CN_20_DAYS, date(2028, 3, 11)),  # leap year: 29 Feb counts
        (date(2027, 2, 20), Regime.CN_20_DAYS, date(2027, 3, 12)),
        (date(2026, 1, 15), Regime.FCRA_30_DAYS, date(2026, 2, 14)),
        (date(2028, 2, 1), Regime.FCRA_30_DAYS, date(2028, 3, 2)),
        (date(2026, 1, 15), Regime.GDPR_ONE_MONTH, date(2026, 2, 15)),
        (date(2026, 1, 31), Regime.GDPR_ONE_MONTH, date(2026, 2, 28)),  # no 31 February: last day
        (date(2028, 1, 31), Regime.GDPR_ONE_MONTH, date(2028, 2, 29)),  # leap year
        (date(2028, 1, 29), Regime.GDPR_ONE_MONTH, date(2028, 2, 29)),
        (date(2026, 3, 31), Regime.GDPR_ONE_MONTH, date(2026, 4, 30)),
        (date(2026, 12, 31), Regime.GDPR_ONE_MONTH, date(2027, 1, 31)),  # over the year end
        (date(2026, 2, 28), Regime.GDPR_ONE_MONTH, date(2026, 3, 28)),
    ],
)
def test_due_date_per_regime(filed, regime, due):
    assert due_date(regime, filed) == due
    assert due_date(regime.value, filed) == due


def test_unknown_regime_refused():
    with pytest.raises(ValueError, match="forever"):
        due_date("forever", date(2026, 1, 1))


def test_add_months_across_years():
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert add_months(date(2026, 5, 31), -3) == date(2026, 2, 28)


def test_days_left_counts_down_and_goes_negative():
    clock = Clock.start(Regime.CN_20_DAYS, date(2026, 3, 1))
    assert clock.days_left(date(2026, 3, 1)) == 20
    assert clock.days_left(date(2026, 3, 21)) == 0
    assert clock.days_left(date(2026, 3, 24)) == -3


def test_pause_freezes_and_resume_adds_the_days_waited():
    clock = Clock.start(Regime.CN_20_DAYS, date(2026, 3, 1)).pause(date(2026, 3, 5))
    assert clock.paused
    assert clock.days_left(date(2026, 3, 5)) == 16
    assert clock.days_left(date(2026, 4, 30)) == 16  # frozen while waiting for the subject
    resumed = clock.resume(date(2026, 3, 12))
    assert not resumed.paused
    assert resumed.paused_days == 7
    assert resumed.due_on == date(2026, 3, 28)
    assert resumed.days_left(date(2026, 3, 12)) == 16


def test_several_pauses_add_up():
    clock = Clock.start(Regime.FCRA_30_DAYS, date(2028, 2, 1))  # due 2 March 2028
    clock = clock.pause(date(2028, 2, 10)).resume(date(2028, 2, 15))
    clock = clock.pause(date(2028, 2, 27)).resume(date(2028, 3, 1))  # over 29 February: 3 days
    assert clock.paused_days == 8
    assert clock.due_on == date(2028, 3, 10)


def test_pause_resumed_the_same_day_adds_nothing():
    clock = Clock.start(Regime.CN_20_DAYS, date(2026, 3, 1))
    assert clock.pause(date(2026, 3, 2)).resume(date(2026, 3, 2)) == clock


def test_pause_twice_or_resume_unpaused_refused():
    clock = Clock.start(Regime.CN_20_DAYS, date(2026, 3, 1))
    with pytest.raises(DeadlineError):
        clock.resume(date(2026, 3, 2))
    with pytest.raises(DeadlineError):
        clock.pause(date(2026, 3, 2)).pause(date(2026, 3, 3))


def test_extension_needs_a_reason_and_adds_days():
    clock = Clock.start(Regime.CN_20_DAYS, date(2026, 3, 1))
    for reason in ("", "   ", None):
        with pytest.raises(DeadlineError, match="reason"):
            clock.extend(10, reason)
    for days in (0, -5, 61, True, 2.5):
        with pytest.raises(DeadlineError):
            clock.extend(days, "the furnisher needs the archive")
    longer = clock.extend(10, "the furnisher needs the archive").extend(5, "and more")
    assert longer.extended_days == 15
    assert longer.due_on == date(2026, 4, 5)


def test_extension_and_pause_together():
    clock = (
        Clock.start(Regime.GDPR_ONE_MONTH, date(2026, 1, 31))  # due 28 February
        .pause(date(2026, 2, 10))
        .resume(date(2026, 2, 20))  # +10
        .extend(14, "complex case")
    )  # +14
    assert clock.due_on == date(2026, 3, 24)  # 28 Feb + 10 + 14


def test_the_regime_of_new_disputes_is_a_setting(make_app, world):
    from portal.disputes.models import Regime
    from portal.disputes.routes import configured_regime

    app = make_app(DISPUTE_REGIME="fcra_30_days")
    with app.app_context():
        assert configured_regime() is Regime.FCRA_30_DAYS
    with pytest.raises(ValueError, match="DISPUTE_REGIME.*cn_20_days, fcra_30_days, gdpr_one_month"):
        make_app(DISPUTE_REGIME="forever")
    with pytest.raises(ValueError, match="UNVERIFIABLE_POLICY"):
        make_app(UNVERIFIABLE_POLICY="ignore")


def test_deadlines_count_the_days_of_the_portals_time_zone(make_app, world):
    from datetime import UTC, datetime

    from portal.localtime import day_of

    # 20:30 UTC on 1 March is already 2 March in Beijing.
    late = datetime(2026, 3, 1, 20, 30, tzinfo=UTC)
    app = make_app()
    with app.app_context():
        assert day_of(late) == date(2026, 3, 2)
    with make_app(TIMEZONE="UTC").app_context():
        assert day_of(late) == date(2026, 3, 1)
    with pytest.raises(ValueError, match="TIMEZONE.*IANA"):
        make_app(TIMEZONE="Mars/Olympus_Mons")
