"""`portal staff ...`: the first administrator of a new registry, and the
console's staff services on the command line, each a journal row."""

from __future__ import annotations

import re

from sqlalchemy import select

from portal.accounts.models import Role
from portal.audit.models import OperatorAct
from portal.extensions import session
from tests.accounts.helpers import PASSWORD, post_form, user_for

LINK = re.compile(r"invitation link: https?://[^/\s]+(/staff-invitations/[A-Za-z0-9_\-]+)")


def run(app, *args):
    return app.test_cli_runner().invoke(args=["staff", *args])


def test_the_first_administrator_is_invited_from_the_command_line(app, world):
    result = run(app, "invite", "first.admin@staff.example", "--role", "administrator")
    assert result.exit_code == 0, result.output
    path = LINK.search(result.output).group(1)
    client = app.test_client()
    accepted = post_form(client, path, {"display_name": "First", "password": PASSWORD, "confirm": PASSWORD})
    assert accepted.status_code == 302
    assert user_for(app, "first.admin@staff.example").role is Role.ADMINISTRATOR
    second = run(app, "invite", "second.admin@staff.example", "--role", "administrator")
    assert second.exit_code == 1
    assert "operator console" in second.output
    assert user_for(app, "second.admin@staff.example") is None
    with app.app_context():
        acts = session().scalars(select(OperatorAct).order_by(OperatorAct.at)).all()
    assert [(a.action, a.channel) for a in acts] == [("staff_invited", "cli"), ("invitation_accepted", "web")]


def test_roles_deactivation_and_the_list(app, world, admins):
    assert run(app, "role", "officer@staff.example", "supervisor").exit_code == 0
    assert user_for(app, "officer@staff.example").role is Role.SUPERVISOR
    refused = run(app, "role", "a@test.example", "officer")  # a person, not staff
    assert refused.exit_code == 2
    assert "no member of staff" in refused.output
    assert run(app, "role", "officer@staff.example", "administrator").exit_code == 2  # not a choice here
    assert run(app, "deactivate", "officer@staff.example").exit_code == 0
    listed = run(app, "list")
    assert "officer@staff.example\tsupervisor\tdeactivated" in listed.output
    assert "admin.one@staff.example\tadministrator\tactive" in listed.output
    taken = run(app, "invite", "admin.two@staff.example", "--role", "officer")
    assert taken.exit_code == 1
    assert "already uses" in taken.output
