"""`portal disputes conflicts`: officers' declared links to subjects;
`portal compliance`: the console's commands."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import click
from flask.cli import AppGroup
from flask_babel import force_locale

from portal.accounts.models import User
from portal.accounts.services import find_user
from portal.compliance import monitoring
from portal.compliance.conflicts import conflicts_of, declare_conflict, withdraw_conflict
from portal.compliance.policy import CASE_ROLES
from portal.compliance.reveal import mask_identifier
from portal.extensions import session, vault
from portal.institutions.models import Institution
from portal.localtime import day_of
from portal.records.identifiers import InvalidIdentifier
from portal.records.models import Subject, SubjectKind
from portal.records.services import Ambiguous, find_by_identifier, view_subject

conflicts = AppGroup("conflicts", help="Officers' declared links to subjects: no case of theirs for them.")
compliance = AppGroup("compliance", help="The compliance console: the regulator's monthly figures, access monitoring.")


def _officer(email: str) -> User:
    user = find_user(session(), vault(), email)
    if user is None or user.role not in CASE_ROLES:
        raise click.BadParameter(f"no officer or supervisor signs in as {email}", param_hint="OFFICER_EMAIL")
    return user


def _subject(identifier: str, kind: str | None) -> Subject:
    try:
        subject = find_by_identifier(session(), vault(), identifier, SubjectKind(kind) if kind else None)
    except (InvalidIdentifier, Ambiguous) as exc:
        raise click.BadParameter(str(exc), param_hint="IDENTIFIER") from None
    if subject is None:
        raise click.BadParameter("no subject with this identifier is on file", param_hint="IDENTIFIER")
    return subject


KIND = click.option(
    "--kind", type=click.Choice(["person", "firm"]), default=None, help="Needed only when the number is valid as both."
)


@conflicts.command("add")
@click.argument("officer_email")
@click.argument("identifier")
@KIND
def conflict_add(officer_email: str, identifier: str, kind: str | None) -> None:
    """Declare that OFFICER_EMAIL is linked to the subject IDENTIFIER
    (relative, employer, own firm). Open cases of that subject they hold
    are taken from them."""
    released = declare_conflict(session(), vault(), _officer(officer_email), _subject(identifier, kind))
    session().commit()
    click.echo(f"declared; {released} open case(s) of that subject taken back from {officer_email}")


@conflicts.command("remove")
@click.argument("officer_email")
@click.argument("identifier")
@KIND
def conflict_remove(officer_email: str, identifier: str, kind: str | None) -> None:
    """Withdraw a declaration made in error."""
    if not withdraw_conflict(session(), _officer(officer_email), _subject(identifier, kind)):
        raise click.ClickException("no such declaration")
    session().commit()
    click.echo("removed")


@conflicts.command("list")
@click.argument("officer_email")
def conflict_list(officer_email: str) -> None:
    """The subjects OFFICER_EMAIL declared, identifiers masked."""
    rows = conflicts_of(session(), _officer(officer_email))
    for row, subject in rows:
        who = view_subject(session(), vault(), subject) if subject.shredded_at is None else None
        shown = mask_identifier(who.identifier) if who else "(shredded)"
        click.echo(f"{row.declared_at.date().isoformat()}  {subject.kind.value:6}  {shown}")
    click.echo(f"{len(rows)} declaration(s)")


MAX_MONITOR_DAYS = 366


@compliance.command("monitor")
@click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]), help="First local day of the period (YYYY-MM-DD).")
@click.option("--until", "last", type=click.DateTime(["%Y-%m-%d"]), help="Last local day of the period (YYYY-MM-DD).")
@click.option("--rules", "show_rules", is_flag=True, help="Print the rules with their thresholds in effect instead.")
def monitor(first: datetime | None, last: datetime | None, show_rules: bool) -> None:
    """Run the access monitoring's rules over a period (what the worker does
    as events arrive) and print the alerts raised; alerts raised before are
    not raised again."""
    if show_rules:
        with force_locale("en"):
            for name, settings in monitoring.rules_in_effect().items():
                rule = monitoring.RULES[name]
                state = "on" if settings["enabled"] else "off"
                click.echo(f"{name} ({state}): {rule.title}\n  {rule.description}")
                for key, meaning in rule.thresholds.items():
                    click.echo(f"  {key} = {settings[key]:g}  ({meaning})")
        return
    if first is None or last is None:
        raise click.UsageError("give --from and --until (or --rules)")
    if last < first:
        raise click.BadParameter("the period ends before it starts", param_hint="--until")
    if (last - first).days > MAX_MONITOR_DAYS:
        raise click.BadParameter(f"at most {MAX_MONITOR_DAYS} days at once", param_hint="--until")
    raised = monitoring.evaluate_period(session(), vault(), first.date(), last.date())
    session().commit()
    for alert in raised:
        where = session().get(Institution, alert.institution_id) if alert.institution_id else None
        facts = ", ".join(f"{k}={v}" for k, v in sorted(alert.facts.items()))
        days = f"{day_of(alert.window_start)}..{day_of(alert.window_end - timedelta(seconds=1))}"
        click.echo(f"{alert.id.hex[:8]}  {alert.rule:27}  {days}  {where.code if where else '-'}  {facts}")
    click.echo(f"{len(raised)} alert(s) raised")


# -- an institution's declared query hours --------------------------------------------------
@compliance.command("hours")
@click.argument("code")
@click.option("--from", "start", type=click.IntRange(0, 23), help="First local hour it queries in (0-23).")
@click.option("--until", type=click.IntRange(0, 23), help="Hour its queries end, not included (0-23).")
@click.option("--any", "any_hour", is_flag=True, help="No declared hours: any hour.")
@click.option("--by", "supervisor_email", required=True, help="The supervisor making the change (kept in its history).")
def compliance_hours(code: str, start: int | None, until: int | None, any_hour: bool, supervisor_email: str) -> None:
    """Declare the local hours institution CODE queries in (--until before
    --from spans midnight), or --any; the outside-hours monitoring rule
    reads them, and the change joins its oversight history."""
    from sqlalchemy import select

    from portal.accounts.models import Role
    from portal.compliance import oversight

    if any_hour == (start is not None or until is not None):
        raise click.UsageError("give --from and --until, or --any")
    if not any_hour and (start is None or until is None):
        raise click.UsageError("give both --from and --until")
    if not any_hour and start == until:
        raise click.BadParameter("--from and --until must differ (use --any for no limit)", param_hint="--until")
    supervisor = _officer(supervisor_email)
    if supervisor.role != Role.SUPERVISOR:
        raise click.BadParameter(f"{supervisor_email} is not a supervisor", param_hint="--by")
    institution = session().scalar(select(Institution).where(Institution.code == code).with_for_update())
    if institution is None:
        raise click.BadParameter(f"no institution has the code {code}", param_hint="CODE")
    row = oversight.set_hours(session(), institution, supervisor, start, until)
    session().commit()
    click.echo(f"{code}: {'any hour' if row.reason == oversight.ANY_HOUR else row.reason}")


# -- the regulator's monthly report ----------------------------------------------------------
@compliance.command("report")
@click.option("--month", required=True, help="The month, YYYY-MM (begun already).")
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True
)
@click.option("--force", is_flag=True, help="Replace the month's files if they exist.")
def compliance_report(month: str, out_dir: Path, force: bool) -> None:
    """Write the month's figures as CSV and as a JSON summary signed with
    the document-signing key, for the supervisory authority."""
    from portal.audit.documents import document_signer
    from portal.compliance import export
    from portal.localtime import today

    try:
        period = export.parse_month(month, today())
    except export.ReportError as exc:
        raise click.BadParameter(str(exc), param_hint="--month") from None
    paths = [out_dir / name for name in export.file_names(period)]
    existing = [str(p) for p in paths if p.exists()]
    if existing and not force:
        raise click.ClickException(f"{', '.join(existing)} exists already: use --force to replace it")
    csv_data, json_data = export.month_report(session(), vault(), document_signer(), period)
    out_dir.mkdir(parents=True, exist_ok=True)
    for path, data in zip(paths, (csv_data, json_data), strict=True):
        path.write_bytes(data)
        click.echo(f"wrote {path}")
    if period.until == today():
        click.echo(f"the month is not over: the figures run to {period.until.isoformat()}")


@compliance.command("verify-report")
@click.argument("report", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--csv",
    "csv_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The report's CSV: checked against the SHA-256 the signed summary holds.",
)
def compliance_verify_report(report: Path, csv_file: Path | None) -> None:
    """Check a report's signature against this portal's document-signing
    certificate, and with --csv that the CSV is the one it signed."""
    from portal.audit.documents import document_signer
    from portal.compliance import export

    try:
        checked = export.verify(
            report.read_bytes(), document_signer(), csv_file.read_bytes() if csv_file is not None else None
        )
    except export.ReportError as exc:
        raise click.ClickException(f"{report}: {exc}") from None
    period = checked.period
    click.echo(f"{report}: signature valid; {checked.figures} figures, {period['from']} to {period['until']}")
    if checked.csv_checked:
        click.echo(f"{csv_file}: CSV matches the signed summary")
