"""A lost second factor (authenticator and recovery codes gone). Found by an
outside attack run: there was no way back in. Now whoever gives the
password proves who they are again as at registration, with a code sent to
the contact on file of the account's credit file; staff go to an
administrator. Also here: activation does the same work whoever is on file."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
from sqlalchemy import event, select, update

from portal.accounts import two_factor
from portal.accounts.models import ActivationCode, CodePurpose, Role, User
from portal.accounts.registration import issue_code
from portal.accounts.services import create_user, set_password
from portal.audit.models import AccessEvent, EventKind
from portal.db import utcnow
from portal.extensions import limiter, session
from portal.records.models import Subject, SubjectKind
from portal.records.services import create_subject
from portal.worker import send_codes

from .helpers import (
    NOT_ON_FILE,
    PASSWORD,
    PERSON,
    PERSON_CONTACT,
    count,
    db,
    english_client,
    login,
    new_user,
    outbox,
    person_on_file,
    post_form,
    signed_in,
    where,
)
from .test_two_factor import code_at

EMAIL = "lost@test.example"
CODE = re.compile(r"The code is (\d{8})")


def person_with_authenticator(app):
    """A person on file with a contact, whose account has a second factor;
    returns (user id, subject id, TOTP secret)."""
    subject_id = person_on_file(app)
    secret = pyotp.random_base32()
    with db(app) as (s, v):
        user = create_user(
            s,
            v,
            role=Role.PERSON,
            email=EMAIL,
            display_name="lost",
            password=PASSWORD,
            totp_secret=secret,
            subject_id=subject_id,
        )
        return user.id, subject_id, secret


def contact_code(app) -> str:
    codes = [CODE.search(m.body) for m in outbox(app, PERSON_CONTACT)]
    found = [m.group(1) for m in codes if m]
    assert found, "no code went to the contact on file"
    return found[-1]


def ask_for_code(client):
    """Sign in with the password, then ask for a code from the two-step page."""
    assert where(login(client, EMAIL)) == "/login/two-step"
    page = client.get("/login/two-step").get_data(as_text=True)
    assert "Lost your authenticator and your recovery codes?" in page
    return post_form(client, "/login/two-step/lost", {})


def test_a_code_to_the_contact_on_file_turns_off_a_lost_second_factor(app):
    user_id, subject_id, secret = person_with_authenticator(app)
    elsewhere = english_client(app)
    login(elsewhere, EMAIL)
    post_form(elsewhere, "/login/two-step", {"code": code_at(secret)})
    assert signed_in(elsewhere)

    client = english_client(app)
    response = ask_for_code(client)
    assert where(response) == "/login/two-step/lost/code"
    assert [m for m in outbox(app, EMAIL) if CODE.search(m.body)] == []  # not to the sign-in address
    code = contact_code(app)

    wrong = post_form(client, "/login/two-step/lost/code", {"code": "00000000" if code != "00000000" else "1"})
    assert wrong.status_code == 200
    assert "The code is wrong, used up or expired." in wrong.get_data(as_text=True)

    response = post_form(client, "/login/two-step/lost/code", {"code": code})
    assert where(response) == "/account/two-step"  # signed in, to set it up again
    assert signed_in(client)
    assert not signed_in(elsewhere)  # every other session ended
    with db(app) as (s, _):
        assert not s.get(User, user_id).has_second_factor
        kinds = s.scalars(select(AccessEvent.kind).where(AccessEvent.subject_id == subject_id)).all()
    assert EventKind.SECOND_FACTOR_RESET in kinds  # on the subject's access log
    told = [m for m in outbox(app, EMAIL) if m.title == "Two-step sign-in was turned off"]
    assert len(told) == 1

    # Used once: the same code does nothing for the next sign-in.
    again = english_client(app)
    assert where(login(again, EMAIL)) == "/me"  # no second factor any more


def test_the_code_is_single_use_and_five_wrong_codes_use_it_up(app, monkeypatch):
    monkeypatch.setattr(limiter, "enabled", False)
    user_id, _, _ = person_with_authenticator(app)
    client = english_client(app)
    ask_for_code(client)
    code = contact_code(app)
    wrong = "12345678" if code != "12345678" else "87654321"
    for _attempt in range(5):
        response = post_form(client, "/login/two-step/lost/code", {"code": wrong})
        if response.status_code == 302:  # wrong codes count as failed sign-ins: the address waits
            break
        assert response.status_code == 200
    fresh = english_client(app)
    assert where(login(fresh, EMAIL)) in {"/login/two-step", ""}
    # The right code no longer works: it was used up.
    with db(app) as (s, _):
        row = s.scalar(select(ActivationCode).where(ActivationCode.purpose == CodePurpose.SECOND_FACTOR))
        assert row.used_at is not None
        assert s.get(User, user_id).has_second_factor


def test_without_the_password_the_pages_send_to_sign_in(app):
    person_with_authenticator(app)
    client = english_client(app)
    assert where(client.get("/login/two-step/lost")) == "/login"
    assert where(client.get("/login/two-step/lost/code")) == "/login"
    assert count(app, ActivationCode) == 0


def test_staff_are_sent_to_an_administrator(app):
    secret = pyotp.random_base32()
    new_user(app, EMAIL, role=Role.OFFICER, secret=secret)
    client = english_client(app)
    assert where(login(client, EMAIL)) == "/login/two-step"
    page = client.get("/login/two-step/lost").get_data(as_text=True)
    assert "Ask an administrator" in page
    post_form(client, "/login/two-step/lost", {}, page="/login/two-step")  # a forged post sends nothing either
    assert count(app, ActivationCode) == 0
    assert outbox(app) == []


def test_a_registration_code_does_not_turn_off_a_second_factor(app):
    """The two kinds of code are kept apart: the one sent to register cannot
    be used to turn off a second factor."""
    user_id, subject_id, _ = person_with_authenticator(app)
    with db(app) as (s, v):
        registration_code = issue_code(
            s, v, s.get(Subject, subject_id), Role.PERSON, CodePurpose.REGISTER, timedelta(1)
        )
    client = english_client(app)
    ask_for_code(client)
    response = post_form(client, "/login/two-step/lost/code", {"code": registration_code})
    assert response.status_code == 200
    with db(app) as (s, _):
        assert s.get(User, user_id).has_second_factor


def test_activation_does_the_same_work_whoever_is_on_file(app, monkeypatch):
    """Found by an outside attack run (for asking a code; activation had the
    same flaw): a failed activation of a subject holding a live code wrote a
    row, one not on file did not. Now every failure runs the very same SQL
    statements (the subject's lookup, the live code's, one UPDATE)."""
    monkeypatch.setattr(limiter, "enabled", False)
    person_on_file(app)
    no_code = "110105198001010016"
    with db(app) as (s, v):
        create_subject(s, v, SubjectKind.PERSON, no_code, "李四", contact_email="li.si@contact.example")
    client = english_client(app)
    post_form(client, "/register", {"kind": "person", "identifier": PERSON, "name": "张三"})
    send_codes(app)  # PERSON now holds a live code
    with app.app_context():
        engine = session().get_bind()
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(re.sub(r"sa_savepoint_\d+", "sa_savepoint", statement))

    runs = {}
    for why, identifier in {"a live code": PERSON, "not on file": NOT_ON_FILE, "no code": no_code}.items():
        client = english_client(app)
        client.get("/register/activate")
        event.listen(engine, "before_cursor_execute", seen)
        try:
            response = post_form(
                client,
                "/register/activate",
                {
                    "kind": "person",
                    "identifier": identifier,
                    "code": "00000001",
                    "email": "new@mail.example",
                    "password": "a long and quiet river 42",
                    "confirm": "a long and quiet river 42",
                    "display_name": "New",
                },
            )
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        assert response.status_code == 200, why
        assert "The code is wrong, used up or expired." in response.get_data(as_text=True), why
        # The form page's own GET ran inside the listener too; keep the POST's part.
        runs[why], statements[:] = list(statements), []
    first = runs["a live code"]
    assert any(s.lstrip().upper().startswith("UPDATE ACTIVATION_CODES") for s in first)
    for why, run in runs.items():
        assert run == first, why


def test_a_forgotten_password_and_a_lost_authenticator_together(app):
    """Both lost: the reset link (the mailbox) and a code to the contact on
    file (identity proven again) set a new password and turn off the second
    factor; neither alone does."""
    user_id, subject_id, _ = person_with_authenticator(app)
    client = english_client(app)
    post_form(client, "/password/reset", {"email": EMAIL})
    send_codes(app)
    link = next(m for m in outbox(app, EMAIL) if "/password/reset/" in m.body)
    path = re.search(r"/password/reset/[A-Za-z0-9_\-]+", link.body).group(0)
    page = client.get(path).get_data(as_text=True)
    assert "Lost your authenticator and your recovery codes too?" in page
    new_password = "a brand new and long passphrase"
    refused = post_form(client, path, {"password": new_password, "confirm": new_password, "code": "12345678"})
    assert refused.status_code == 200  # no code was sent yet: nothing changes
    response = post_form(client, path + "/lost", {}, page=path)
    assert where(response) == path
    code = contact_code(app)
    response = post_form(client, path, {"password": new_password, "confirm": new_password, "code": code})
    assert where(response) == "/login"
    with db(app) as (s, _):
        assert not s.get(User, user_id).has_second_factor
        kinds = s.scalars(select(AccessEvent.kind).where(AccessEvent.subject_id == subject_id)).all()
    assert EventKind.SECOND_FACTOR_RESET in kinds
    assert where(login(english_client(app), EMAIL, new_password)) == "/me"
    told = [m for m in outbox(app, EMAIL) if m.title == "Your password was reset"]
    assert "Two-step sign-in was turned off too" in told[-1].body


def test_a_code_to_the_contact_needs_a_live_reset_link(app):
    person_with_authenticator(app)
    client = english_client(app)
    client.get("/login")
    response = post_form(client, "/password/reset/not-a-real-token/lost", {}, page="/login")
    assert response.status_code == 404
    assert count(app, ActivationCode) == 0


def test_an_administrators_reset_of_a_subjects_account_is_an_access_event(app):
    """Every recovery is an access event of the file: the administrator's
    too, shown as done by portal staff."""
    user_id, subject_id, _ = person_with_authenticator(app)
    done = app.test_cli_runner().invoke(args=["users", "reset-second-factor", EMAIL])
    assert done.exit_code == 0, done.output
    with db(app) as (s, _):
        assert not s.get(User, user_id).has_second_factor
        events = s.scalars(
            select(AccessEvent).where(
                AccessEvent.subject_id == subject_id, AccessEvent.kind == EventKind.SECOND_FACTOR_RESET
            )
        ).all()
    assert [e.channel for e in events] == ["staff"]


# -- found in review -----------------------------------------------------------------
def person_whose_contact_is_the_sign_in_address(app):
    subject_id = person_on_file(app)
    with db(app) as (s, v):
        return create_user(
            s,
            v,
            role=Role.PERSON,
            email=PERSON_CONTACT,
            display_name="same",
            password=PASSWORD,
            totp_secret=pyotp.random_base32(),
            subject_id=subject_id,
        ).id


def test_one_mailbox_does_not_stand_for_both_proofs_on_the_reset_page(app):
    """The reset link and a code to the contact on file both go to the same
    mailbox when the contact is the sign-in address: the mailbox alone must
    not reset the password and turn off the second factor."""
    user_id = person_whose_contact_is_the_sign_in_address(app)
    client = english_client(app)
    post_form(client, "/password/reset", {"email": PERSON_CONTACT})
    send_codes(app)
    link = next(m for m in outbox(app, PERSON_CONTACT) if "/password/reset/" in m.body)
    path = re.search(r"/password/reset/[A-Za-z0-9_\-]+", link.body).group(0)
    assert "Send a code to the contact on file instead" not in client.get(path).get_data(as_text=True)
    post_form(client, path + "/lost", {}, page=path)
    assert count(app, ActivationCode, ActivationCode.purpose == CodePurpose.SECOND_FACTOR) == 0
    # Even a code made some other way is not taken there.
    with db(app) as (s, v):
        user = s.get(User, user_id)
        code = issue_code(s, v, s.get(Subject, user.subject_id), Role.PERSON, CodePurpose.SECOND_FACTOR, timedelta(1))
    new = "a brand new and long passphrase"
    refused = post_form(client, path, {"password": new, "confirm": new, "code": code})
    assert refused.status_code == 200
    with db(app) as (s, _):
        assert s.get(User, user_id).has_second_factor


def test_the_pending_sign_in_is_not_renewed_and_ends_with_a_password_change(app, monkeypatch):
    """Asking for codes again and again must not keep a sign-in that gave
    the password open for ever, and changing the password ends it."""
    monkeypatch.setattr(limiter, "enabled", False)
    user_id, _, _ = person_with_authenticator(app)
    client = english_client(app)
    ask_for_code(client)
    with client.session_transaction() as cookie:
        at = cookie["pending_2fa"]["at"]
    post_form(client, "/login/two-step/lost", {}, page="/login/two-step")
    with client.session_transaction() as cookie:
        assert cookie["pending_2fa"]["at"] == at  # not renewed
        cookie["pending_2fa"] = {**cookie["pending_2fa"], "at": at - 301}
    assert where(client.get("/login/two-step")) == "/login"  # five minutes after the password
    client = english_client(app)
    ask_for_code(client)
    with db(app) as (s, _):
        set_password(s, s.get(User, user_id), "the owner changed it at once 7")
    assert where(client.get("/login/two-step/lost/code")) == "/login"
    assert where(client.get("/login/two-step")) == "/login"


def test_asking_again_sends_no_new_code_while_one_is_live_and_at_most_three_a_day(app, monkeypatch):
    monkeypatch.setattr(limiter, "enabled", False)
    person_with_authenticator(app)
    client = english_client(app)
    ask_for_code(client)
    first = contact_code(app)
    post_form(client, "/login/two-step/lost", {}, page="/login/two-step")
    assert count(app, ActivationCode) == 1  # the owner's code is not cancelled by a second ask
    assert contact_code(app) == first
    with db(app) as (s, _):  # that one used, and two more made and used today
        s.execute(update(ActivationCode).values(used_at=utcnow()))
        row = s.scalar(select(ActivationCode))
        for _n in range(2):
            s.add(
                ActivationCode(
                    subject_id=row.subject_id,
                    role=Role.PERSON,
                    purpose=CodePurpose.SECOND_FACTOR,
                    code_hash=b"x" * 32,
                    expires_at=row.expires_at,
                    used_at=utcnow(),
                    attempts=0,
                )
            )
    response = post_form(client, "/login/two-step/lost", {}, page="/login/two-step")
    assert response.status_code == 200  # stays on the page, saying why
    assert "Too many codes were asked for today" in response.get_data(as_text=True)
    assert count(app, ActivationCode) == 3


def test_a_code_works_once_and_only_for_its_purpose(app):
    user_id, subject_id, _ = person_with_authenticator(app)
    with db(app) as (s, v):
        registration_code = issue_code(
            s, v, s.get(Subject, subject_id), Role.PERSON, CodePurpose.REGISTER, timedelta(1)
        )
    client = english_client(app)
    assert where(login(client, EMAIL)) == "/login/two-step"
    # The code page without asking: a registration code is not taken.
    assert post_form(client, "/login/two-step/lost/code", {"code": registration_code}).status_code == 200
    with db(app) as (s, _):
        assert s.get(User, user_id).has_second_factor
    post_form(client, "/login/two-step/lost", {}, page="/login/two-step")
    code = contact_code(app)
    assert where(post_form(client, "/login/two-step/lost/code", {"code": code})) == "/account/two-step"
    # Used: once the owner sets a second factor again, the same code does nothing.
    with db(app) as (s, v):
        two_factor.enable(s, v, s.get(User, user_id), pyotp.random_base32())
    again = english_client(app)
    assert where(login(again, EMAIL)) == "/login/two-step"
    post_form(again, "/login/two-step/lost/code", {"code": code}, page="/login/two-step")
    with db(app) as (s, _):
        assert s.get(User, user_id).has_second_factor


def test_turning_off_says_so_after_signing_in(app):
    person_with_authenticator(app)
    client = english_client(app)
    ask_for_code(client)
    response = post_form(client, "/login/two-step/lost/code", {"code": contact_code(app)})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Two-step sign-in is off and every other device was signed out." in page
