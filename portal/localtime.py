"""The portal's calendar: deadlines count the days where the portal
operates (setting TIMEZONE, default Asia/Shanghai), not UTC's: a dispute
filed at 07:00 in Beijing is filed that day, not the day before."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

from portal.db import utcnow

DEFAULT_TIMEZONE = "Asia/Shanghai"


def zone() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("TIMEZONE", DEFAULT_TIMEZONE) if has_app_context() else DEFAULT_TIMEZONE)


def today() -> date:
    return utcnow().astimezone(zone()).date()


def day_of(moment: datetime) -> date:
    """The portal's calendar day of an aware moment."""
    return moment.astimezone(zone()).date()
