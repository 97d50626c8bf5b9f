"""`portal institutions ...`: the console's institution services on the
command line of the server. Each command is one unit of work, committed at
its end, and a row of the operators' journal (channel "cli")."""

from __future__ import annotations

import re

import click
from flask.cli import AppGroup

from portal.admin import institutions
from portal.extensions import session, vault
from portal.institutions.models import InstitutionKind
from portal.institutions.services import NewInstitution
from portal.records.models import Category

institutions_cli = AppGroup("institutions", help="Institutions: create one (the console does the rest).")

HOURS = re.compile(r"(\d{1,2})-(\d{1,2})")


def _hours(_ctx: click.Context, _param: click.Parameter, value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    match = HOURS.fullmatch(value.strip())
    if match is None:
        raise click.BadParameter("give FROM-UNTIL in whole local hours, such as 8-20")
    return int(match[1]), int(match[2])


@institutions_cli.command("create")
@click.argument("code")
@click.option("--name", required=True, help="Its name in Chinese.")
@click.option("--name-en", required=True, help="Its name in English.")
@click.option("--kind", required=True, type=click.Choice([k.value for k in InstitutionKind]))
@click.option(
    "--purpose",
    "purposes",
    multiple=True,
    type=click.Choice([p.value for p in institutions.PURPOSES]),
    help="A purpose it may query for; repeat for more; none for an institution that only furnishes.",
)
@click.option(
    "--category",
    "categories",
    multiple=True,
    type=click.Choice([c.value for c in Category]),
    help="A record category it may furnish; repeat for more; omit for any category.",
)
@click.option("--no-furnishing", is_flag=True, help="It furnishes no records (instead of --category).")
@click.option("--contact-name", required=True, help="The contact person (kept encrypted).")
@click.option("--contact-email", required=True, help="The contact person's e-mail address (kept encrypted).")
@click.option("--query-hours", callback=_hours, help="Declared local query hours FROM-UNTIL (until excluded).")
def create_command(
    code: str,
    name: str,
    name_en: str,
    kind: str,
    purposes: tuple[str, ...],
    categories: tuple[str, ...],
    no_furnishing: bool,
    contact_name: str,
    contact_email: str,
    query_hours: tuple[int, int] | None,
) -> None:
    """Create the institution CODE; issue its API keys with `portal apikeys issue`."""
    if no_furnishing and categories:
        raise click.UsageError("give --category or --no-furnishing, not both")
    allowed = [] if no_furnishing else (list(categories) or None)
    data = NewInstitution(
        code, name, name_en, InstitutionKind(kind), list(purposes), contact_name, contact_email, query_hours
    )
    try:
        created = institutions.create(session(), vault(), data, allowed, actor=None, channel="cli")
    except institutions.SettingsRefused as exc:
        raise click.ClickException(f"{exc.field.replace('_', '-')}: {exc}") from None
    session().commit()
    furnishes = "any category" if created.allowed_categories is None else ", ".join(created.allowed_categories)
    click.echo(
        f"created {created.code} ({created.id}); queries for: {', '.join(created.allowed_purposes) or 'nothing'}; "
        f"furnishes: {furnishes or 'nothing'}"
    )
