"""Statistics: how the registry does against its promises (disputes, deadlines,
furnishers, notices), by period, as charts, tables and CSV; and the month's
signed report for a supervisory authority. Every page and file here only
reads."""

from __future__ import annotations

from datetime import timedelta

from flask import Response, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms import DateField, SubmitField
from wtforms.validators import Optional, ValidationError

from portal.audit.documents import document_signer
from portal.compliance import charts, export
from portal.compliance.console import console_blueprint
from portal.compliance.statistics import (
    AHEAD_DAYS,
    EARLIEST,
    MAX_DAYS,
    SHARES,
    Period,
    Table,
    figures,
    labels,
    names,
    statistics,
    tables,
)
from portal.extensions import session, vault
from portal.forms import Form
from portal.i18n import day
from portal.i18n import lazy as _l
from portal.localtime import today

bp = console_blueprint("statistics", __name__)


class PeriodForm(Form):
    """GET: which days the figures cover (no CSRF: it changes nothing).
    Each day is bounded, so that the period's moments always exist."""

    class Meta:
        csrf = False

    start = DateField(_l("First day"), name="from", validators=[Optional()])
    until = DateField(_l("Last day"), validators=[Optional()])
    submit = SubmitField(_l("Show"))

    def _bounded(self, field: DateField) -> None:
        latest = today() + timedelta(days=AHEAD_DAYS)
        if field.data is not None and not EARLIEST <= field.data <= latest:
            raise ValidationError(
                _("Choose a date from %(earliest)s to %(latest)s.", earliest=day(EARLIEST), latest=day(latest))
            )

    def validate_start(self, field: DateField) -> None:
        self._bounded(field)

    def validate_until(self, field: DateField) -> None:
        self._bounded(field)
        start, until = self.start.data, field.data
        if self.start.errors:
            return
        if start is None or until is None:
            return
        if until < start:
            raise ValidationError(_("The period ends before it starts."))
        if (until - start).days >= MAX_DAYS:
            raise ValidationError(_("Choose a period of at most five years."))


def _period(form: PeriodForm) -> Period | None:
    """The period asked for: by default the last twelve months (to the
    day given as its end, or today); None if the form is wrong."""
    if not form.validate():
        return None
    start, until = form.start.data, form.until.data
    if until is None:
        until = max(today(), start) if start else today()
    if start is None:
        start = Period.last_year(until).start
    if (until - start).days >= MAX_DAYS:
        form.until.errors = [*form.until.errors, _("Choose a period of at most five years.")]
        return None
    return Period(start, until)


def _tables(period: Period) -> list[Table]:
    stats = statistics(session(), period)
    return tables(stats, labels(session(), vault(), stats), names())


def _args(period: Period) -> dict[str, str]:
    return {"from": period.start.isoformat(), "until": period.until.isoformat()}


def _asked_period() -> Period:
    """The period of a chart or a CSV: given in the link, else the default; wrong: 400."""
    form = PeriodForm(request.args)
    period = _period(form)
    if period is None:
        abort(400)
    return period


@bp.get("/statistics")
def page():
    form = PeriodForm(request.args)
    period = _period(form)
    if period is None:
        return render_template("compliance/statistics.html", form=form, period=None), 400
    stats = statistics(session(), period)
    all_tables = tables(stats, labels(session(), vault(), stats), names())
    return render_template(
        "compliance/statistics.html",
        form=form,
        period=period,
        stats=stats,
        tables={t.id: t for t in all_tables},
        charts=charts.CHARTS,
        args=_args(period),
        shares=SHARES,
        this_month=today().strftime("%Y-%m"),
    )


@bp.get("/statistics/chart/<name>.svg")
def chart(name: str):
    found = charts.CHARTS.get(name)
    if found is None:
        abort(404)
    by_id = {t.id: t for t in _tables(_asked_period())}
    table = by_id[found.table]
    response = Response(charts.svg(found, table, table.caption), mimetype="image/svg+xml")
    # The SVG styles itself; nothing else may run or load, even opened on its own.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


def _download(data: bytes, filename: str, mimetype: str) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/statistics.csv")
def csv():
    period = _asked_period()
    name = f"compliance-statistics-{period.start.isoformat()}-{period.until.isoformat()}.csv"
    return _download(export.figures_csv(figures(_tables(period))), name, "text/csv; charset=utf-8")


@bp.get("/statistics/report")
def pick_month():
    """The month picker's target: on to the month's file."""
    kind = request.args.get("as", "json")
    try:
        period = export.parse_month(request.args.get("month", ""), today())
    except export.ReportError as exc:
        return render_template("compliance/statistics_month.html", error=exc.translated()), 400
    if kind not in ("csv", "json"):
        abort(400)
    month = f"{period.start.year:04d}-{period.start.month:02d}"
    return redirect(url_for(f"statistics.report_{kind}", month=month))


def _month_report(month: str) -> tuple[export.Period, bytes, bytes]:
    try:
        period = export.parse_month(month, today())
    except export.ReportError:
        abort(404)
    csv_data, json_data = export.month_report(session(), vault(), document_signer(), period)
    return period, csv_data, json_data


@bp.get("/statistics/report/<month>.json")
def report_json(month: str):
    """The month's signed summary, as `portal compliance report` writes it."""
    period, _, data = _month_report(month)
    return _download(data, export.file_names(period)[1], "application/json")


@bp.get("/statistics/report/<month>.csv")
def report_csv(month: str):
    period, data, _ = _month_report(month)
    return _download(data, export.file_names(period)[0], "text/csv; charset=utf-8")
