"""`portal disputes conflicts`: officers' declared links to subjects;
`portal compliance`: the console's commands."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from portal.accounts.models import User
from portal.accounts.services import find_user
from portal.compliance.conflicts import conflicts_of, declare_conflict, withdraw_conflict
from portal.compliance.policy import CASE_ROLES
from portal.compliance.reveal import mask_identifier
from portal.extensions import session, vault
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
