"""Deadline rules, pure: no database, no clock of their own.

The clock of a dispute is (due_on, paused_since, paused_days,
extended_days). `due_on` is the effective deadline: the regime's date, plus
the days spent waiting for the subject (added on resuming), plus extensions.
While paused, the days left stay frozen at what they were when the pause
began."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import date, timedelta

from portal.disputes.models import Regime
from portal.i18n import N_, Refusal

MAX_EXTENSION_DAYS = 60


class DeadlineError(Refusal):
    pass


def add_months(day: date, months: int) -> date:
    """The same day `months` later; the month's last day when that day does
    not exist (31 January + 1 month = 28 or 29 February)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_date(regime: Regime | str, filed_on: date) -> date:
    """The regime's deadline for a dispute received on `filed_on`."""
    regime = Regime(regime)
    if regime is Regime.CN_20_DAYS:
        return filed_on + timedelta(days=20)
    if regime is Regime.FCRA_30_DAYS:
        return filed_on + timedelta(days=30)
    return add_months(filed_on, 1)  # GDPR art. 12(3)


@dataclass(frozen=True)
class Clock:
    due_on: date
    paused_since: date | None = None
    paused_days: int = 0
    extended_days: int = 0

    @classmethod
    def start(cls, regime: Regime | str, filed_on: date) -> Clock:
        return cls(due_date(regime, filed_on))

    @property
    def paused(self) -> bool:
        return self.paused_since is not None

    def pause(self, today: date) -> Clock:
        if self.paused:
            raise DeadlineError(N_("The deadline is already paused."))
        return replace(self, paused_since=today)

    def resume(self, today: date) -> Clock:
        """The days waited are added to the deadline."""
        if self.paused_since is None:
            raise DeadlineError(N_("The deadline is not paused."))
        waited = max(0, (today - self.paused_since).days)
        return replace(
            self, due_on=self.due_on + timedelta(days=waited), paused_since=None, paused_days=self.paused_days + waited
        )

    def extend(self, days: int, reason: str) -> Clock:
        if not (reason or "").strip():
            raise DeadlineError(N_("An extension needs a reason; the subject sees it."))
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_EXTENSION_DAYS:
            raise DeadlineError(N_("An extension is between 1 and %(max)d days."), max=MAX_EXTENSION_DAYS)
        return replace(self, due_on=self.due_on + timedelta(days=days), extended_days=self.extended_days + days)

    def days_left(self, today: date) -> int:
        """Days until the deadline; 0 on the day itself, negative when
        overdue. Frozen while paused."""
        return (self.due_on - (self.paused_since or today)).days
