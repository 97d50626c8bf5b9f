"""`portal disputes`: the daily deadline sweep."""
from __future__ import annotations

from datetime import date

import click
from flask.cli import AppGroup

from sqlalchemy import select

from portal.extensions import session, vault

disputes = AppGroup("disputes", help="Dispute deadlines.")


@disputes.command("expire")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Treat this day (YYYY-MM-DD) as today; default: today (UTC).")
def expire_command(today) -> None:
    """Resolve cases whose furnisher did not answer before the deadline: the
    records are left unverifiable and the subjects told. Run it daily."""
    from portal.disputes.decisions import expire_overdue

    day: date | None = today.date() if today else None
    done = expire_overdue(session(), vault(), day)
    session().commit()
    for d in done:
        click.echo(f"{d.id} resolved as unverifiable (due {d.due_on.isoformat()})")
    click.echo(f"{len(done)} overdue case(s) resolved")


conflicts = AppGroup("conflicts", help="Officers' declared links to subjects: no case of theirs for them.")
disputes.add_command(conflicts)


def _officer(email: str):
    from portal.accounts.services import find_user
    from portal.disputes.officers import CASE_ROLES

    user = find_user(session(), vault(), email)
    if user is None or user.role not in CASE_ROLES:
        raise click.BadParameter(f"no officer or supervisor signs in as {email}", param_hint="OFFICER_EMAIL")
    return user


def _subject(identifier: str, kind: str | None):
    from portal.api.services import Ambiguous, find_by_identifier
    from portal.records.identifiers import InvalidIdentifier
    from portal.records.models import SubjectKind

    try:
        subject = find_by_identifier(session(), vault(), identifier, SubjectKind(kind) if kind else None)
    except (InvalidIdentifier, Ambiguous) as exc:
        raise click.BadParameter(str(exc), param_hint="IDENTIFIER") from None
    if subject is None:
        raise click.BadParameter("no subject with this identifier is on file", param_hint="IDENTIFIER")
    return subject


KIND = click.option("--kind", type=click.Choice(["person", "firm"]), default=None,
                    help="Needed only when the number is valid as both.")


@conflicts.command("add")
@click.argument("officer_email")
@click.argument("identifier")
@KIND
def conflict_add(officer_email: str, identifier: str, kind: str | None) -> None:
    """Declare that OFFICER_EMAIL is linked to the subject IDENTIFIER
    (relative, employer, own firm). Open cases of that subject they hold
    are taken from them."""
    from portal.disputes.officers import declare_conflict

    released = declare_conflict(session(), vault(), _officer(officer_email), _subject(identifier, kind))
    session().commit()
    click.echo(f"declared; {released} open case(s) of that subject taken back from {officer_email}")


@conflicts.command("remove")
@click.argument("officer_email")
@click.argument("identifier")
@KIND
def conflict_remove(officer_email: str, identifier: str, kind: str | None) -> None:
    """Withdraw a declaration made in error."""
    from portal.disputes.models import OfficerConflict

    officer, subject = _officer(officer_email), _subject(identifier, kind)
    row = session().scalar(select(OfficerConflict).where(OfficerConflict.officer_user_id == officer.id,
                                                         OfficerConflict.subject_id == subject.id))
    if row is None:
        raise click.ClickException("no such declaration")
    session().delete(row)
    session().commit()
    click.echo("removed")


@conflicts.command("list")
@click.argument("officer_email")
def conflict_list(officer_email: str) -> None:
    """The subjects OFFICER_EMAIL declared, identifiers masked."""
    from portal.disputes.models import OfficerConflict
    from portal.disputes.officers import mask_identifier
    from portal.records.models import Subject
    from portal.records.services import view_subject

    officer = _officer(officer_email)
    rows = session().execute(select(OfficerConflict, Subject).join(Subject, Subject.id == OfficerConflict.subject_id)
                             .where(OfficerConflict.officer_user_id == officer.id)
                             .order_by(OfficerConflict.declared_at)).all()
    for row, subject in rows:
        who = view_subject(session(), vault(), subject) if subject.shredded_at is None else None
        shown = mask_identifier(who.identifier) if who else "(shredded)"
        click.echo(f"{row.declared_at.date().isoformat()}  {subject.kind.value:6}  {shown}")
    click.echo(f"{len(rows)} declaration(s)")
