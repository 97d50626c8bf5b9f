"""Closing an account (issue 15, problem 3): from the account page, through a
page that says plainly what happens, with the password and a tick; the
login's e-mail and name are shredded, every session ends, the credit file
stays, and the person can register again with an activation code."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.accounts.closure import ReceiptKey, forget_receipts
from portal.accounts.models import Role, User
from portal.audit.models import AccessEvent, EventKind
from portal.crypto.models import DataKey
from portal.db import utcnow
from portal.extensions import session
from portal.notifications.models import Message
from portal.notifications.services import notify
from portal.records.models import CreditRecord

from .helpers import (
    CODE_RE,
    PASSWORD,
    PERSON,
    PERSON_CONTACT,
    count,
    db,
    english_client,
    login,
    outbox,
    person_on_file,
    post_form,
    register,
    signed_in,
    user_for,
    where,
)

EMAIL = "zs@mail.example"
CLOSED_TEXT = "Your account is closed"


def activate(client, code, email=EMAIL):
    return post_form(
        client,
        "/register/activate",
        {
            "kind": "person",
            "identifier": PERSON,
            "code": code,
            "display_name": "Zhang San",
            "email": email,
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )


def newest_code(app):
    codes = [CODE_RE.search(m.body).group(1) for m in outbox(app, PERSON_CONTACT) if CODE_RE.search(m.body)]
    assert codes, "no activation code was sent"
    return codes[0]


def registered(app, email=EMAIL):
    """A person registered through the real pages, signed in; returns the client."""
    client = english_client(app)
    assert register(client).status_code == 302
    assert activate(client, newest_code(app), email).status_code == 302
    assert where(login(client, email)) == "/me"
    return client


@pytest.fixture
def person(app):
    return person_on_file(app)


def close(client, password=PASSWORD, understood="y"):
    data = {"password": password}
    if understood:
        data["understood"] = understood
    return post_form(client, "/account/close", data)


def test_the_account_page_offers_closing_to_a_person_only(app, world, sign_in):
    person = sign_in(english_client(app), world.user_a)
    assert "/account/close" in person.get("/account").get_data(as_text=True)
    for other in (world.rep_f, world.agent_f):
        client = sign_in(english_client(app), other)
        assert "/account/close" not in client.get("/account").get_data(as_text=True)
        assert client.get("/account/close").status_code == 404
    assert english_client(app).get("/account/close").status_code == 302  # to sign in


def test_the_confirmation_page_says_plainly_what_happens(app, person):
    client = registered(app)
    html = client.get("/account/close").get_data(as_text=True)
    assert EMAIL in html
    for said in (
        "are destroyed at once",
        "signed out on every device",
        "Your credit file stays with the registry",
        "The law requires it to keep the records",
        "register again at any time, with an activation code",
        "This cannot be undone.",
    ):
        assert said in html, said


def test_closing_needs_the_password_and_the_tick(app, person):
    client = registered(app)
    wrong = close(client, password="not my password at all")
    assert wrong.status_code == 200
    assert "The password is wrong." in wrong.get_data(as_text=True)
    unticked = close(client, understood=None)
    assert "Tick the box to confirm that you understand." in unticked.get_data(as_text=True)
    assert user_for(app, EMAIL) is not None
    assert signed_in(client)


def test_closing_shreds_the_login_and_ends_every_session(app, person):
    client = registered(app)
    other_device = english_client(app)
    assert where(login(other_device, EMAIL)) == "/me"
    user = user_for(app, EMAIL)
    with app.app_context():
        key_id = session().get(User, user.id).data_key_id
        records_before = session().scalar(select(func.count()).select_from(CreditRecord))

    response = close(client)
    assert response.status_code == 302
    assert where(response) == "/account/closed"
    assert CLOSED_TEXT in client.get("/account/closed").get_data(as_text=True)

    assert not signed_in(client)
    assert not signed_in(other_device)  # every session ended
    assert user_for(app, EMAIL) is None  # the address matches no login any more
    assert login(english_client(app), EMAIL).status_code == 200  # the sign-in fails
    with app.app_context():
        s = session()
        closed = s.get(User, user.id)
        assert not closed.is_active
        assert closed.subject_id is None
        assert closed.password_hash is None
        assert s.get(DataKey, key_id).destroyed_at is not None  # e-mail, name and second factor unreadable
        assert s.scalar(select(func.count()).select_from(Message).where(Message.data_key_id == key_id)) == 0
        assert s.scalar(select(func.count()).select_from(CreditRecord)) == records_before  # the file stays
    assert count(app, AccessEvent, AccessEvent.subject_id == person, AccessEvent.kind == EventKind.ACCOUNT_CLOSED) == 1
    receipts = outbox(app, EMAIL)
    assert [m.title for m in receipts if m.title == CLOSED_TEXT] == [CLOSED_TEXT]


def test_a_closed_account_can_register_again_with_an_activation_code(app, person):
    client = registered(app)
    assert close(client).status_code == 302
    again = registered(app)  # the same file, the same address: a new login
    user = user_for(app, EMAIL)
    assert user.role is Role.PERSON
    assert user.subject_id == person
    assert again.get("/me").status_code == 200


def test_receipts_are_forgotten_with_their_keys_once_kept_long_enough(app, person):
    client = registered(app)
    assert close(client).status_code == 302
    with db(app) as (s, v):
        receipt = s.scalars(select(ReceiptKey)).one()
        assert forget_receipts(s, v, days=30) == 0  # not e-mailed (no mail server), and fresh
        assert forget_receipts(s, v, days=30, now=utcnow() + timedelta(days=31)) == 1
        assert s.get(DataKey, receipt.data_key_id).destroyed_at is not None
        assert s.get(Message, receipt.message_id) is None
    assert outbox(app, EMAIL) == []


def test_a_receipt_that_was_emailed_is_forgotten_the_next_day(app, person):
    with db(app) as (s, v):
        from portal.accounts.closure import send_receipt

        message = send_receipt(s, v, "someone@mail.example", "t", "b")
        message.emailed_at = utcnow()
    with db(app) as (s, v):
        assert forget_receipts(s, v) == 1


def test_messages_still_queued_for_a_closed_login_do_not_block_the_outbox(app, person):
    client = registered(app)
    user = user_for(app, EMAIL)
    with db(app) as (s, v):
        u = s.get(User, user.id)
        notify(s, v, key_id=u.data_key_id, user=u, email=EMAIL, title="queued", body="not sent yet")
    assert close(client).status_code == 302
    assert all(m.title != "queued" for m in outbox(app))  # and reading the outbox did not fail
