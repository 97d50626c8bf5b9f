"""Signing up proves control of the contact on file, not knowledge of an
identifier: a one-time code goes to the subject's contact e-mail, expires,
allows five attempts, and a failure never tells who is on file."""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import event, select, update

from portal.accounts.models import ActivationCode, Role, User
from portal.accounts.services import create_user
from portal.audit.models import AccessEvent, EventKind
from portal.db import utcnow
from portal.extensions import limiter, session
from portal.records.models import SubjectKind
from portal.records.services import create_subject
from portal.worker import send_codes

from .helpers import (
    CODE_RE,
    NOT_ON_FILE,
    PERSON,
    PERSON_CONTACT,
    PERSON_NAME,
    count,
    db,
    english_client,
    login,
    outbox,
    post_form,
    register,
    token,
    user_for,
    where,
)

FIRM, FIRM_NAME, FIRM_CONTACT = "91350100M000100Y43", "福州示例科技有限公司", "legal@firm.example"
NO_CONTACT = "110105198001010016"

GOOD_PASSWORD = "a long and quiet river 42"
GENERIC_CODE_ERROR = "The code is wrong, used up or expired."


# -- helpers -------------------------------------------------------------------
def activate(
    client,
    identifier,
    code,
    email="zs@mail.example",
    password=GOOD_PASSWORD,
    confirm=None,
    kind="person",
    display_name="Zhang San",
):
    return post_form(
        client,
        "/register/activate",
        {
            "kind": kind,
            "identifier": identifier,
            "code": code,
            "display_name": display_name,
            "email": email,
            "password": password,
            "confirm": password if confirm is None else confirm,
        },
    )


def the_code(app, to):
    codes = [CODE_RE.search(m.body).group(1) for m in outbox(app, to) if CODE_RE.search(m.body)]
    assert codes, f"no activation code was sent to {to}"
    return codes[0]  # the newest


def other(code):
    return f"{(int(code) + 1) % 10**8:08d}"


@pytest.fixture
def on_file(app):
    with db(app) as (s, v):
        person = create_subject(s, v, SubjectKind.PERSON, PERSON, PERSON_NAME, contact_email=PERSON_CONTACT)
        firm = create_subject(s, v, SubjectKind.FIRM, FIRM, FIRM_NAME, contact_email=FIRM_CONTACT)
        create_subject(s, v, SubjectKind.PERSON, NO_CONTACT, "李四")
        return SimpleNamespace(person=person.id, firm=firm.id)


# -- the happy path ------------------------------------------------------------
def test_person_registers_with_code_from_contact_on_file_and_signs_in(app, browser, on_file):
    response = register(browser, PERSON, PERSON_NAME)
    assert response.status_code == 302
    assert where(response) == "/register/sent"
    assert "Check your e-mail" in browser.get("/register/sent").get_data(as_text=True)

    sent = outbox(app)
    assert [m.email for m in sent] == [PERSON_CONTACT]  # to the contact on file, nobody else
    code = the_code(app, PERSON_CONTACT)

    response = activate(browser, PERSON, code, email="zs@mail.example")
    assert response.status_code == 302
    assert where(response) == "/login"
    user = user_for(app, "zs@mail.example")
    assert user.role is Role.PERSON
    assert user.subject_id == on_file.person
    assert (
        count(app, AccessEvent, AccessEvent.subject_id == on_file.person, AccessEvent.kind == EventKind.REGISTRATION)
        == 1
    )

    response = login(browser, "zs@mail.example", GOOD_PASSWORD)
    assert response.status_code == 302
    assert where(response) == "/me"
    assert browser.get("/me").status_code == 200
    assert "Welcome to the credit subject portal" in browser.get("/messages").get_data(as_text=True)

    # The code is single use: a second activation with it fails.
    other_browser = english_client(app)
    response = activate(other_browser, PERSON, code, email="someone.else@mail.example")
    assert response.status_code == 200
    assert GENERIC_CODE_ERROR in response.get_data(as_text=True)
    assert user_for(app, "someone.else@mail.example") is None


def test_firm_representative_registers_and_must_set_up_two_step_sign_in(app, browser, on_file):
    assert register(browser, FIRM, " 福州示例科技有限公司 ", kind="firm").status_code == 302
    code = the_code(app, FIRM_CONTACT)
    response = activate(browser, FIRM, code, kind="firm", email="legal.rep@mail.example", display_name="Rep")
    assert response.status_code == 302, response.get_data(as_text=True)
    user = user_for(app, "legal.rep@mail.example")
    assert user.role is Role.FIRM_REPRESENTATIVE
    assert user.subject_id == on_file.firm

    assert login(browser, "legal.rep@mail.example", GOOD_PASSWORD).status_code == 302
    response = browser.get("/me")
    assert response.status_code == 302
    assert where(response) == "/account/two-step"


def test_code_is_valid_for_seven_days(app, browser, on_file):
    register(browser, PERSON, PERSON_NAME)
    with app.app_context():
        row = session().scalar(select(ActivationCode))
        assert timedelta(days=7) - timedelta(minutes=1) <= row.expires_at - row.created_at <= timedelta(days=7)


# -- nothing to learn from a failure ---------------------------------------------
def test_asking_for_a_code_does_the_same_work_whoever_is_on_file(app, on_file, monkeypatch):
    """Found by an outside attack run: a subject on file took 2.6 times as
    long to answer as one not on file. Now the request runs the very same
    SQL statements in every case (two keyed hashes and one INSERT); the
    lookup, the e-mail and the code are the worker's."""
    monkeypatch.setattr(limiter, "enabled", False)
    with app.app_context():
        engine = session().get_bind()
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(re.sub(r"sa_savepoint_\d+", "sa_savepoint", statement))  # the test's own savepoints

    with db(app) as (s, v):
        create_user(
            s, v, role=Role.FIRM_REPRESENTATIVE, email="rep@test.example", display_name="rep", subject_id=on_file.firm
        )
    cases = {
        "on file, with a contact": (PERSON, PERSON_NAME, "person"),
        "not on file": (NOT_ON_FILE, PERSON_NAME, "person"),
        "the name does not match": (PERSON, "王五", "person"),
        "on file, no contact": (NO_CONTACT, "李四", "person"),
        "an account exists": (FIRM, FIRM_NAME, "firm"),
    }
    runs = {}
    for why, (identifier, name, kind) in cases.items():
        client = english_client(app)
        token(client, "/register")
        event.listen(engine, "before_cursor_execute", seen)
        try:
            response = post_form(client, "/register", {"kind": kind, "identifier": identifier, "name": name})
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        assert response.status_code == 302, why
        runs[why], statements[:] = list(statements), []
    assert outbox(app) == []  # nothing is looked up or sent by the request
    first = runs["on file, with a contact"]
    assert any(s.lstrip().upper().startswith("INSERT INTO REGISTRATION_REQUESTS") for s in first)
    for why, run in runs.items():
        assert run == first, why
    # The worker answers: a code to the person, a notice to the firm that has an account.
    send_codes(app)
    assert sorted(m.email for m in outbox(app)) == sorted([PERSON_CONTACT, FIRM_CONTACT])


@pytest.mark.parametrize(
    ("identifier", "name"),
    [
        (NOT_ON_FILE, PERSON_NAME),  # nobody with this identifier
        (PERSON, "王五"),  # the name does not match
        (NO_CONTACT, "李四"),  # on file, name right, but no contact to send to
    ],
    ids=["unknown-identifier", "wrong-name", "no-contact"],
)
def test_failure_looks_exactly_like_success(app, on_file, identifier, name):
    ok_browser, probe = english_client(app), english_client(app)
    ok = register(ok_browser, PERSON, PERSON_NAME)
    assert len(outbox(app)) == 1

    failed = register(probe, identifier, name)
    assert (failed.status_code, failed.headers["Location"]) == (ok.status_code, ok.headers["Location"])
    assert failed.get_data() == ok.get_data()
    assert probe.get("/register/sent").get_data() == ok_browser.get("/register/sent").get_data()
    # ... and nothing went out or was stored for the failed attempt.
    assert len(outbox(app)) == 1
    assert count(app, ActivationCode) == 1


@pytest.mark.parametrize(
    ("identifier", "says"),
    [
        ("1101051949123100", "A resident identity number has 18 characters; this one has 16."),
        ("110105194912310021", "The check character should be X, not 1: the number is mistyped."),
        ("110105194913310026", "is not a real date"),
    ],
)
def test_malformed_identifier_gets_a_field_error_saying_what_is_wrong(app, browser, on_file, identifier, says):
    response = register(browser, identifier, PERSON_NAME)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    error = re.search(r'<p class="error" id="identifier-error">(.*?)</p>', html, re.S)
    assert error
    assert says in error.group(1)
    assert 'aria-invalid="true"' in html
    assert outbox(app) == []


def test_asking_for_codes_is_rate_limited(app, browser, on_file):
    csrf = token(browser, "/register")
    data = {"kind": "person", "identifier": NOT_ON_FILE, "name": PERSON_NAME, "csrf_token": csrf}
    statuses = [browser.post("/register", data=data).status_code for _ in range(11)]
    assert statuses == [302] * 10 + [429]
    assert browser.post("/register", data={**data, "identifier": PERSON}).status_code == 429
    assert outbox(app) == []


# -- attempts, expiry, replacement ------------------------------------------------
def test_five_wrong_codes_use_the_code_up(app, browser, on_file):
    register(browser, PERSON, PERSON_NAME)
    code = the_code(app, PERSON_CONTACT)
    for _ in range(5):
        response = activate(browser, PERSON, other(code))
        assert response.status_code == 200
        assert GENERIC_CODE_ERROR in response.get_data(as_text=True)
    response = activate(browser, PERSON, code)
    assert response.status_code == 200
    assert GENERIC_CODE_ERROR in response.get_data(as_text=True)
    assert user_for(app, "zs@mail.example") is None
    assert count(app, User) == 0


def test_four_wrong_codes_still_leave_the_right_one_working(app, browser, on_file):
    register(browser, PERSON, PERSON_NAME)
    code = the_code(app, PERSON_CONTACT)
    for _ in range(4):
        assert GENERIC_CODE_ERROR in activate(browser, PERSON, other(code)).get_data(as_text=True)
    assert activate(browser, PERSON, code).status_code == 302
    assert user_for(app, "zs@mail.example") is not None


def test_expired_code_fails(app, browser, on_file):
    register(browser, PERSON, PERSON_NAME)
    code = the_code(app, PERSON_CONTACT)
    with db(app) as (s, _):
        s.execute(update(ActivationCode).values(expires_at=utcnow() - timedelta(minutes=1)))
    response = activate(browser, PERSON, code)
    assert response.status_code == 200
    assert GENERIC_CODE_ERROR in response.get_data(as_text=True)
    assert count(app, User) == 0


def test_asking_again_replaces_the_earlier_code(app, browser, on_file):
    register(browser, PERSON, PERSON_NAME)
    first = the_code(app, PERSON_CONTACT)
    register(browser, PERSON, PERSON_NAME)
    second = the_code(app, PERSON_CONTACT)
    if first != second:
        assert GENERIC_CODE_ERROR in activate(browser, PERSON, first).get_data(as_text=True)
    assert activate(browser, PERSON, second).status_code == 302


def test_code_for_one_subject_does_not_open_another(app, browser, on_file):
    register(browser, PERSON, PERSON_NAME)
    code = the_code(app, PERSON_CONTACT)
    response = activate(browser, NO_CONTACT, code)
    assert response.status_code == 200
    assert GENERIC_CODE_ERROR in response.get_data(as_text=True)
    assert count(app, User) == 0


def test_registering_again_when_an_account_exists_sends_a_notice_not_a_code(app, browser, on_file):
    register(browser, PERSON, PERSON_NAME)
    assert activate(browser, PERSON, the_code(app, PERSON_CONTACT)).status_code == 302
    before = len(outbox(app, PERSON_CONTACT))

    again = english_client(app)
    response = register(again, PERSON, PERSON_NAME)
    assert response.status_code == 302
    assert where(response) == "/register/sent"
    sent = outbox(app, PERSON_CONTACT)
    assert len(sent) == before + 1
    notice = sent[0]
    assert notice.title == "Someone asked to register your credit file"
    assert not re.search(r"\d{8}", notice.body)
    assert count(app, ActivationCode, ActivationCode.used_at.is_(None)) == 0
    assert count(app, User) == 1


# -- password rules ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("password", "says"),
    [
        ("short1!", "Use at least 10 characters."),
        ("zs@mail.example-2024", "Do not use your e-mail address or identifier in the password."),
        ("aaaaaaaaaaaa", "Use more than a few different characters."),
    ],
    ids=["too-short", "contains-email", "too-simple"],
)
def test_weak_password_is_refused_with_a_message_and_nothing_is_created(app, browser, on_file, password, says):
    register(browser, PERSON, PERSON_NAME)
    code = the_code(app, PERSON_CONTACT)
    response = activate(browser, PERSON, code, email="zs@mail.example", password=password)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    error = re.search(r'<p class="error" id="password-error">(.*?)</p>', html, re.S)
    assert error
    assert says in error.group(1)
    assert count(app, User) == 0
    assert user_for(app, "zs@mail.example") is None
    # The refused password did not spend the code.
    assert activate(browser, PERSON, code, email="zs@mail.example").status_code == 302


def test_passwords_that_differ_are_refused(app, browser, on_file):
    register(browser, PERSON, PERSON_NAME)
    code = the_code(app, PERSON_CONTACT)
    response = activate(browser, PERSON, code, confirm=GOOD_PASSWORD + "x")
    assert response.status_code == 200
    assert "The passwords differ." in response.get_data(as_text=True)
    assert count(app, User) == 0


def test_email_already_in_use_is_refused_and_the_code_still_works_with_another_address(app, browser, on_file):
    """An error the user can act on: fix the address, submit again, with the
    same code (nothing is lost or half-written)."""
    from portal.accounts.services import create_user

    with db(app) as (s, v):
        create_user(s, v, role=Role.PERSON, email="taken@mail.example", display_name="Taken")
    register(browser, PERSON, PERSON_NAME)
    code = the_code(app, PERSON_CONTACT)

    response = activate(browser, PERSON, code, email="taken@mail.example")
    assert response.status_code == 200
    assert "This e-mail address is already used by an account." in response.get_data(as_text=True)
    assert count(app, User) == 1

    response = activate(browser, PERSON, code, email="zs@mail.example")
    assert response.status_code == 302, "the code was spent by the refused attempt"
    assert user_for(app, "zs@mail.example").subject_id == on_file.person


@pytest.mark.parametrize("name", ["张\x00三", "Zhang\x1b[2J San", "张三\x85"])
def test_control_characters_in_a_field_are_refused_and_nothing_is_sent(app, browser, on_file, name):
    response = register(browser, PERSON, name)
    assert response.status_code == 200
    error = re.search(r'<p class="error" id="name-error">(.*?)</p>', response.get_data(as_text=True), re.S)
    assert error
    assert "Remove the control characters from this field." in error.group(1)
    assert outbox(app) == []
    assert count(app, ActivationCode) == 0


def test_every_form_of_the_portal_refuses_control_characters():
    """Each form class derives from the portal's base form, which checks
    every field it holds."""
    import importlib
    import pkgutil

    from flask_wtf import FlaskForm

    import portal
    from portal.forms import Form

    for module in pkgutil.walk_packages(portal.__path__, "portal."):
        if "migrations" not in module.name and not module.name.endswith("__main__"):
            importlib.import_module(module.name)

    def every(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from every(sub)

    forms = [c for c in every(FlaskForm) if c.__module__.startswith("portal.") and c is not Form]
    assert len(forms) > 15
    assert [c.__qualname__ for c in forms if not issubclass(c, Form)] == []


def test_the_code_goes_out_in_the_language_of_the_page_it_was_asked_from(app, on_file):
    chinese = app.test_client()  # no language chosen: the registry's, Chinese
    register(chinese, PERSON, PERSON_NAME)
    (mail,) = outbox(app, PERSON_CONTACT)
    assert "激活码" in mail.body
    english = english_client(app)
    register(english, FIRM, FIRM_NAME, kind="firm")
    (mail,) = outbox(app, FIRM_CONTACT)
    assert CODE_RE.search(mail.body)
