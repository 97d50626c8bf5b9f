"""`portal disputes`: the daily deadline sweep."""

from __future__ import annotations

from datetime import date

import click
from flask import current_app
from flask.cli import AppGroup

from portal.disputes.decisions import expire_overdue
from portal.extensions import session, vault

disputes = AppGroup("disputes", help="Dispute deadlines.")


@disputes.command("expire")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Treat this day (YYYY-MM-DD) as today; default: today (UTC).",
)
def expire_command(today) -> None:
    """Resolve cases whose furnisher did not answer before the deadline: the
    records are left unverifiable and the subjects told. Run it daily."""
    day: date | None = today.date() if today else None
    done = expire_overdue(session(), vault(), day, unverifiable_policy=current_app.config["UNVERIFIABLE_POLICY"])
    session().commit()
    for d in done:
        click.echo(f"{d.id} resolved as unverifiable (due {d.due_on.isoformat()})")
    click.echo(f"{len(done)} overdue case(s) resolved")
