"""`portal users ...`: what an administrator does for a user who cannot
help themselves. Each command is one unit of work, committed at its end."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from flask_babel import force_locale
from flask_babel import gettext as _

from portal.accounts import recovery, sessions, two_factor
from portal.accounts.services import find_user, tell_user
from portal.audit.models import EventKind
from portal.extensions import session, vault
from portal.i18n import DEFAULT

users = AppGroup("users", help="Accounts: recover a lost second factor.")


@users.command("reset-second-factor")
@click.argument("email")
def reset_second_factor(email: str) -> None:
    """Turn off two-step sign-in of the account EMAIL (its authenticator
    and recovery codes lost), after checking who asks by other means. Every
    session ends; the owner is told, and for a subject's account it is an
    access event of the file; staff must set it up again at their next
    sign-in."""
    user = find_user(session(), vault(), email)
    if user is None:
        raise click.ClickException(f"no account uses {email!r}")
    if not user.has_second_factor:
        raise click.ClickException(f"{email} has no second factor to reset")
    two_factor.disable(session(), vault(), user)
    sessions.revoke_all(session(), user)
    recovery.account_event(session(), vault(), user, EventKind.SECOND_FACTOR_RESET, channel="staff")
    with force_locale(user.locale or DEFAULT):
        tell_user(
            session(),
            vault(),
            user,
            _("Two-step sign-in was turned off by an administrator"),
            _(
                "At your request, an administrator turned off two-step sign-in for your account and signed out "
                "every device. Set it up again after you sign in. If you did not ask for this, contact us at once."
            ),
        )
    session().commit()
    click.echo(f"two-step sign-in turned off for {email}; every session ended; the owner was told")
