"""Notifications: kept in the in-app inbox, e-mailed through a real SMTP
server (aiosmtpd) after the request commits, and left queued when the
server is down, to be delivered later."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from contextlib import contextmanager
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, func, select, text

from portal.accounts.models import ActivationCode
from portal.extensions import session, vault
from portal.notifications import services as notifications
from portal.notifications.models import Message
from portal.notifications.services import Mailer, deliver, notify
from portal.records.models import Subject
from portal.worker import send_codes
from tests.accounts.helpers import (
    CODE_RE,
    NOT_ON_FILE,
    PERSON,
    PERSON_CONTACT,
    PERSON_NAME,
    db,
    english_client,
    outbox,
    person_on_file,
    post_form,
    register,
    token,
    where,
)

PASSWORD = "a long and quiet river 42"


# -- a real SMTP server ------------------------------------------------------------
class Collector:
    """Keeps every e-mail received, and what the database had committed at
    that moment (read through a connection of its own)."""

    def __init__(self, database_url: str | None = None, gate: threading.Event | None = None):
        self.mails, self.committed_codes, self.gate_open_at_delivery = [], [], []
        self.engine = create_engine(database_url) if database_url else None
        self.gate = gate

    async def handle_DATA(self, server, smtp_session, envelope):
        if self.gate is not None:  # hold the message until the test opens the gate (or 10 s pass)
            await asyncio.get_running_loop().run_in_executor(None, self.gate.wait, 10)
            self.gate_open_at_delivery.append(self.gate.is_set())
        if self.engine is not None:
            with self.engine.connect() as conn:
                self.committed_codes.append(conn.execute(text("SELECT count(*) FROM activation_codes")).scalar())
        self.mails.append(
            SimpleMail(
                envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default)
            )
        )
        return "250 Message accepted for delivery"


class SimpleMail:
    def __init__(self, sender, recipients, message):
        self.sender, self.recipients, self.message = sender, recipients, message
        self.subject = str(message["Subject"])
        self.body = message.get_body(("plain",)).get_content()


def wait_for(condition, seconds: float = 10.0):
    """Mail goes out from a background worker: wait until it has arrived
    (a bound on waiting, not a measure of speed)."""
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError("the e-mail did not arrive")
        time.sleep(0.02)
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def smtp_server(port: int, handler: Collector):
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()
        if handler.engine is not None:
            handler.engine.dispose()


# -- helpers -------------------------------------------------------------------
def queued(app):
    return [(m.email, m.title, m.emailed) for m in outbox(app)]


# -- e-mail -------------------------------------------------------------------------
def test_registration_emails_the_code_to_the_contact_after_the_request_commits(make_app, database_url):
    port = free_port()
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_FROM="portal@credit.example")
    person_on_file(app)
    with smtp_server(port, Collector(database_url)) as smtp:
        browser = english_client(app)
        response = register(browser)
        assert response.status_code == 302
        assert where(response) == "/register/sent"

        wait_for(lambda: smtp.mails)
        assert len(smtp.mails) == 1
        mail = smtp.mails[0]
        assert mail.recipients == [PERSON_CONTACT]
        assert mail.sender == "portal@credit.example"
        assert str(mail.message["From"]) == "portal@credit.example"
        assert mail.subject == "Your activation code"
        code = CODE_RE.search(mail.body).group(1)
        # When the e-mail went out, the code it carries was already committed.
        assert smtp.committed_codes == [1]
        notifications.settle()  # the worker marks the message sent just after the SMTP reply
        assert queued(app) == [(PERSON_CONTACT, "Your activation code", True)]

        # The code in the e-mail is the one that works.
        response = post_form(
            browser,
            "/register/activate",
            {
                "kind": "person",
                "identifier": PERSON,
                "code": code,
                "display_name": "Zhang San",
                "email": "zs@mail.example",
                "password": PASSWORD,
                "confirm": PASSWORD,
            },
        )
        assert response.status_code == 302
        wait_for(lambda: len(smtp.mails) == 2)
        assert [m.recipients for m in smtp.mails][-1] == ["zs@mail.example"]  # the welcome
        assert smtp.mails[-1].subject == "Welcome to the credit subject portal"


def test_nothing_is_emailed_for_a_failed_registration(make_app, database_url):
    port = free_port()
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    person_on_file(app)
    with smtp_server(port, Collector()) as smtp:
        browser = english_client(app)
        assert register(browser, name="王五").status_code == 302
        assert register(browser, identifier=NOT_ON_FILE).status_code == 302
        assert smtp.mails == []


def test_when_the_mail_server_is_down_the_request_succeeds_and_the_mail_waits(make_app):
    port = free_port()  # nothing listens here yet
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    person_on_file(app)
    browser = english_client(app)
    response = register(browser)
    assert response.status_code == 302
    assert where(response) == "/register/sent"
    notifications.settle()  # the worker has tried, and failed
    assert queued(app) == [(PERSON_CONTACT, "Your activation code", False)]
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(ActivationCode)) == 1  # the request committed
        assert session().scalar(select(Message.emailed_at)) is None

    with smtp_server(port, Collector()) as smtp:
        with app.app_context():
            assert deliver(session(), vault(), Mailer(app.config)) == 1
        assert len(smtp.mails) == 1
        assert smtp.mails[0].recipients == [PERSON_CONTACT]
        assert CODE_RE.search(smtp.mails[0].body)
        assert queued(app) == [(PERSON_CONTACT, "Your activation code", True)]
        with app.app_context():
            assert deliver(session(), vault(), Mailer(app.config)) == 0  # never sent twice
        assert len(smtp.mails) == 1


def test_a_message_another_worker_is_sending_is_not_sent_again(make_app):
    """Two workers deliver at once: a message one of them has claimed is
    skipped by the other (row locks, PostgreSQL). SQLite has no row locks
    (run one worker there): delivery just never sends a message twice."""
    port = free_port()
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    person_on_file(app)
    with app.app_context():
        s = session()
        key_id = s.scalar(select(Subject.data_key_id))
        for n in range(2):
            notify(s, vault(), key_id=key_id, title=f"Message {n}", body="Body", email=PERSON_CONTACT)
            s.flush()
        s.commit()
        first_id = s.scalars(select(Message.id).order_by(Message.created_at, Message.id)).first()
    engine = app.extensions["portal.db"].engine
    with smtp_server(port, Collector()) as smtp:
        if engine.dialect.name == "sqlite":
            with app.app_context():
                assert deliver(session(), vault(), Mailer(app.config)) == 2
                assert deliver(session(), vault(), Mailer(app.config)) == 0
            assert len(smtp.mails) == 2
            return
        with engine.connect() as other:
            other.begin()  # the other worker has claimed the first message and is sending it
            other.execute(text("SELECT id FROM messages WHERE id = :id FOR UPDATE"), {"id": first_id})
            with app.app_context():
                assert deliver(session(), vault(), Mailer(app.config)) == 1  # the other message only
            assert [m.subject for m in smtp.mails] == ["Message 1"]
            other.execute(text("UPDATE messages SET emailed_at = CURRENT_TIMESTAMP WHERE id = :id"), {"id": first_id})
            other.commit()  # ... and sent it
        with app.app_context():
            assert deliver(session(), vault(), Mailer(app.config)) == 0
        assert len(smtp.mails) == 1


def test_without_a_mail_server_messages_are_only_kept(app):
    assert app.config["MAIL_SERVER"] is None
    person_on_file(app)
    assert register(english_client(app)).status_code == 302
    assert queued(app) == [(PERSON_CONTACT, "Your activation code", False)]
    with app.app_context():
        assert deliver(session(), vault(), Mailer(app.config)) == 0


def test_the_reply_to_a_registration_never_waits_for_the_mail_server(make_app):
    """A slow mail server must not tell an attacker which identifier and
    name are on file: the reply comes while the mail server still holds the
    message (behind a gate the test opens only after the reply)."""
    port = free_port()
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    person_on_file(app)
    gate = threading.Event()
    with smtp_server(port, Collector(gate=gate)) as handler:
        browser = english_client(app)
        csrf = token(browser, "/register")
        response = browser.post(
            "/register", data={"kind": "person", "identifier": PERSON, "name": PERSON_NAME, "csrf_token": csrf}
        )
        assert response.status_code == 302
        send_codes(app)  # the worker's job: the code goes out from there
        gate.set()
        wait_for(lambda: handler.mails)
    assert handler.gate_open_at_delivery == [True], "the reply waited for the mail server"


# -- the in-app inbox --------------------------------------------------------------------
def test_messages_page_shows_the_users_own_messages_and_marks_them_read(app, world, sign_in):
    with db(app) as (s, v):
        from portal.accounts.models import User

        a = s.get(User, world.user_a.id)
        notify(
            s,
            v,
            key_id=a.data_key_id,
            user=a,
            title="Your dispute was received",
            body="We answer within 20 days. <b>bold?</b>",
        )
    a_browser = sign_in(app.test_client(), world.user_a)
    a_browser.set_cookie("lang", "en")
    assert re.search(r'class="badge">1<', a_browser.get("/me").get_data(as_text=True))  # unread
    html = a_browser.get("/messages").get_data(as_text=True)
    assert "Your dispute was received" in html
    assert "&lt;b&gt;bold?&lt;/b&gt;" in html
    assert "<b>bold?</b>" not in html
    assert not re.search(r'class="badge">1<', a_browser.get("/me").get_data(as_text=True))  # now read

    b_browser = sign_in(app.test_client(), world.user_b)
    assert "Your dispute was received" not in b_browser.get("/messages").get_data(as_text=True)
    anonymous = app.test_client().get("/messages")
    assert anonymous.status_code == 302
    assert where(anonymous) == "/login"


def test_an_attachment_is_emailed_with_its_message_and_sealed_at_rest(make_app):
    from portal.notifications.models import MessageAttachment
    from portal.notifications.services import Attachment

    port = free_port()
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    pdf = b"%PDF-1.7\n% the letter\n"
    subject_id = person_on_file(app)
    with db(app) as (s, v):
        subject = s.get(Subject, subject_id)
        notify(
            s,
            v,
            key_id=subject.data_key_id,
            email=PERSON_CONTACT,
            title="Your dispute was decided",
            body="The letter is attached.",
            attachments=[Attachment("outcome-letter.pdf", "application/pdf", pdf)],
        )
    with app.app_context():
        (row,) = session().scalars(select(MessageAttachment)).all()
        assert pdf not in row.content_ct  # sealed
    with smtp_server(port, Collector()) as smtp:
        with app.app_context():
            assert deliver(session(), vault(), Mailer(app.config)) == 1
        (mail,) = smtp.mails
    (part,) = list(mail.message.iter_attachments())
    assert part.get_filename() == "outcome-letter.pdf"
    assert part.get_content_type() == "application/pdf"
    assert part.get_content() == pdf
    assert mail.body.strip() == "The letter is attached."
