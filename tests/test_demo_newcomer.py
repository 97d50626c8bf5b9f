"""A newcomer to the demo: `portal demo` prints a person to try registering
with, who has no account yet (no demo dispute opens one for them), and the
activation code can be read at /demo/outbox on the served demo database,
however the portal was started. On a database without the demo's data the
outbox is not there, whatever the settings."""

from __future__ import annotations

import json
import re

from portal.demo.people import DEMO_INSTITUTIONS
from portal.extensions import session, vault
from portal.institutions.services import create_institution
from portal.notifications.routes import DEMO_INSTITUTION_CODES
from portal.worker import send_codes
from tests.accounts.helpers import PASSWORD, english_client, outbox, post_form, where

EXAMPLE = re.compile(
    r"To try registering: a person with no account yet, (?P<name>\S+), identifier (?P<identifier>\w+);"
)
CODE = re.compile(r"activation code is (\d{8})")


def outbox_to(client, email: str) -> list[str]:
    """The titles and texts of the outbox page's e-mails to `email`."""
    response = client.get("/demo/outbox")
    assert response.status_code == 200
    rows = re.findall(
        r"<tr><td>[^<]*</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", response.get_data(as_text=True)
    )
    return [f"{title} {body}" for to, title, body in rows if to == email]


def test_the_printed_example_registers_and_its_code_is_in_the_outbox(app, runner, instance):
    result = runner.invoke(args=["demo", "--subjects", "20", "--seed", "3"])
    assert result.exit_code == 0, result.output
    example = EXAMPLE.search(result.output)
    assert example, result.output
    creds = json.loads((instance / "demo-credentials.json").read_text(encoding="utf-8"))
    contact = creds["registration_example"]["contact_on_file"]

    newcomer = english_client(app)
    asked = post_form(
        newcomer, "/register", {"kind": "person", "identifier": example["identifier"], "name": example["name"]}
    )
    assert where(asked) == "/register/sent"
    send_codes(app)
    sent = " ".join(f"{m.title} {m.body}" for m in outbox(app, contact))
    assert "already exists" not in sent  # a demo dispute had opened an account for the example
    code = CODE.search(sent)
    assert code, sent
    assert code.group(0) in " ".join(outbox_to(newcomer, contact))  # and the operator reads it at /demo/outbox

    done = post_form(
        newcomer,
        "/register/activate",
        {
            "kind": "person",
            "identifier": example["identifier"],
            "code": code.group(1),
            "display_name": example["name"],
            "email": "newcomer@example.com",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )
    assert done.status_code == 302, done.get_data(as_text=True)
    assert where(done) == "/login"
    assert contact in result.output  # the printed example says where its code goes


def test_the_outbox_is_there_on_the_demos_data_only(app):
    """Not there on a registry without the demo's institutions, nor with
    only some of them; there with all of them, from this machine only."""
    assert {i.code for i in DEMO_INSTITUTIONS} == DEMO_INSTITUTION_CODES
    client = english_client(app)
    assert client.get("/demo/outbox").status_code == 404
    *most, last = DEMO_INSTITUTIONS
    with app.app_context():
        s, v = session(), vault()
        v.register_versions(s)
        for data in most:
            create_institution(s, v, data)
        s.commit()
    assert client.get("/demo/outbox").status_code == 404  # one demo institution short: not the demo's data
    with app.app_context():
        create_institution(session(), vault(), last)
        session().commit()
    assert client.get("/demo/outbox").status_code == 200
    assert client.get("/demo/outbox", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    for remote in ("10.0.0.7", "2001:db8::1"):
        assert client.get("/demo/outbox", environ_base={"REMOTE_ADDR": remote}).status_code == 404
