"""`portal apikeys ...`: issue, list, revoke and rotate institutions' API
keys, through the services the operator console uses. Each command is one
unit of work, committed at its end, with its row of the operators' journal
(channel "cli"). A token is printed once and never again: only its hash is
kept."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from portal.extensions import session
from portal.institutions import keys
from portal.institutions.models import ApiScope, Institution

CHANNEL = "cli"

apikeys = AppGroup("apikeys", help="Institutions' API keys: issue, list, revoke, rotate.")


def _institution(code: str) -> Institution:
    institution = keys.institution_by_code(session(), code)
    if institution is None:
        raise click.ClickException(f"there is no institution {code!r}")
    return institution


def _moment(value) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "-"


@apikeys.command("issue")
@click.argument("institution_code")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice([s.value for s in ApiScope]),
    help="furnish and/or query; repeat for both.",
)
def issue(institution_code: str, scopes: tuple[str, ...]) -> None:
    """Issue a key and print its token (shown this once)."""
    try:
        _key, token = keys.issue_key(
            session(),
            _institution(institution_code),
            [ApiScope(s) for s in sorted(set(scopes))],
            actor_id=None,
            channel=CHANNEL,
        )
    except keys.UselessScope as exc:
        raise click.ClickException(str(exc)) from None
    session().commit()
    click.echo(token)
    click.echo("Store this token now: it is not shown again.", err=True)


@apikeys.command("list")
@click.argument("institution_code")
def list_keys(institution_code: str) -> None:
    """The institution's keys (ids and scopes, never secrets)."""
    for key in keys.keys_of(session(), _institution(institution_code)):
        state = f"revoked {_moment(key.revoked_at)}" if key.revoked_at else "active"
        click.echo(
            f"{key.key_id}  {'+'.join(key.scopes):<14}  created {_moment(key.created_at)}  "
            f"last used {_moment(key.last_used_at)}  {state}"
        )


@apikeys.command("revoke")
@click.argument("key_id")
def revoke(key_id: str) -> None:
    """Revoke a key: refused from the next request on."""
    try:
        key = keys.revoke_key(session(), key_id, actor_id=None, channel=CHANNEL)
    except keys.ApiKeyError as exc:
        raise click.ClickException(str(exc)) from None
    session().commit()
    click.echo(f"revoked {key.key_id} ({_moment(key.revoked_at)})")


@apikeys.command("rotate")
@click.argument("key_id")
def rotate(key_id: str) -> None:
    """Issue a key with the same scopes and revoke this one; print the new token."""
    try:
        old, _new, token = keys.rotate_key(session(), key_id, actor_id=None, channel=CHANNEL)
    except keys.ApiKeyError as exc:
        raise click.ClickException(str(exc)) from None
    session().commit()
    click.echo(token)
    click.echo(f"revoked {old.key_id}; store the new token now: it is not shown again.", err=True)
