"""`portal staff ...`: the console's staff services on the command line of
the server, for the first administrator of a new registry and for
scripting. Each command is one unit of work, committed at its end, and a
row of the operators' journal (channel "cli"). Granting the administrator
role to anyone but the very first still needs two administrators, in the
console."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from portal.accounts.models import Role, User
from portal.accounts.services import AccountExists, find_user
from portal.admin import staff
from portal.admin.errors import Refused
from portal.config import DEFAULT_PUBLIC_URL
from portal.extensions import session, vault

staff_cli = AppGroup("staff", help="Staff accounts: invite, change roles, deactivate, list.")


def _link(token: str) -> str:
    base = (current_app.config["PUBLIC_URL"] or DEFAULT_PUBLIC_URL).rstrip("/")
    return f"{base}/staff-invitations/{token}"


def _member(email: str) -> User:
    user = find_user(session(), vault(), email)
    if user is None or Role(user.role) not in staff.STAFF_ROLES:
        raise click.BadParameter(f"no member of staff signs in as {email}", param_hint="EMAIL")
    return user


@staff_cli.command("invite")
@click.argument("email")
@click.option(
    "--role", type=click.Choice(["officer", "supervisor", "administrator"]), required=True, help="The role they get."
)
def invite_command(email: str, role: str) -> None:
    """Invite EMAIL to the staff; the link is e-mailed and printed. An
    administrator can be invited here only while the registry has none
    (its first); after that, in the console, with a second administrator's
    approval."""
    wanted = Role(role)
    if wanted is Role.ADMINISTRATOR and staff.active_administrators(session()) > 0:
        raise click.ClickException(
            "the registry has an administrator: invite administrators in the operator console, where a second "
            "administrator approves"
        )
    try:
        _user, inv = staff.invite(session(), vault(), None, email=email, role=wanted, link=_link, channel="cli")
        token = staff.send_invitation(session(), vault(), inv, _link) if wanted is Role.ADMINISTRATOR else None
    except AccountExists:
        raise click.ClickException(f"an account already uses {email}") from None
    except (Refused, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    session().commit()
    click.echo(f"invited {email} as {role}; the link was e-mailed (valid for 7 days)")
    if token:
        click.echo(f"invitation link: {_link(token)}")


@staff_cli.command("role")
@click.argument("email")
@click.argument("role", type=click.Choice(["officer", "supervisor"]))
def role_command(email: str, role: str) -> None:
    """Make EMAIL an officer or a supervisor (every session ends)."""
    try:
        staff.change_role(session(), None, _member(email), Role(role), channel="cli")
    except Refused as exc:
        raise click.ClickException(str(exc)) from None
    session().commit()
    click.echo(f"{email} is now {role}")


@staff_cli.command("deactivate")
@click.argument("email")
def deactivate_command(email: str) -> None:
    """Stop EMAIL from signing in (every session ends at once)."""
    try:
        staff.deactivate(session(), None, _member(email), channel="cli")
    except Refused as exc:
        raise click.ClickException(str(exc)) from None
    session().commit()
    click.echo(f"{email} is deactivated and signed out everywhere")


@staff_cli.command("list")
def list_command() -> None:
    """Every member of staff: e-mail, role, status."""
    page, n = 1, 0
    while True:
        found = staff.staff_page(session(), vault(), page)
        for r in found.rows:
            state = "invited" if r.invited else ("active" if r.active else "deactivated")
            click.echo(f"{r.email}\t{r.role.value}\t{state}")
            n += 1
        if page >= found.pages:
            break
        page += 1
    if not n:
        click.echo("no member of staff yet")
