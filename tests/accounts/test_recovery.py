"""Getting back into an account. Found by an outside attack run: there was
no way back in (/password/reset was 404). Now a single-use, short-lived
link by e-mail, the same answer whoever asks, the second factor still
needed, every session ended and the owner told; staff's lost second
factor is reset by an administrator."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import event, select, update

from portal.accounts.models import AuthSession, PasswordReset, Role, User
from portal.audit.models import AccessEvent, EventKind
from portal.db import utcnow
from portal.extensions import limiter, session
from portal.worker import send_codes

from .helpers import PASSWORD, db, english_client, login, new_user, outbox, post_form, signed_in, where
from .test_two_factor import code_at

EMAIL = "forgot@test.example"
NEW_PASSWORD = "a brand new and long passphrase"
LINK_RE = re.compile(r"https?://[^/\s]+/password/reset/([A-Za-z0-9_\-]+)")


def ask(client, email=EMAIL):
    response = post_form(client, "/password/reset", {"email": email})
    send_codes(client.application)  # the worker answers
    return response


def the_link(app, to=EMAIL) -> str:
    links = [LINK_RE.search(m.body) for m in outbox(app, to)]
    found = [m.group(0) for m in links if m]
    assert found, f"no reset link was sent to {to}"
    return found[0]  # the newest


def choose(client, link, password=NEW_PASSWORD, **extra):
    path = re.sub(r"^https?://[^/]+", "", link)
    return post_form(client, path, {"password": password, "confirm": password, **extra})


def test_a_link_by_e_mail_sets_a_new_password_once_and_ends_every_session(app):
    user_id = new_user(app, EMAIL)
    elsewhere = english_client(app)
    login(elsewhere, EMAIL)
    assert signed_in(elsewhere)
    client = english_client(app)
    assert "Forgot your password?" in client.get("/login").get_data(as_text=True)
    response = ask(client)
    assert where(response) == "/password/reset/sent"
    link = the_link(app)
    assert link.startswith("http://127.0.0.1:5000/password/reset/")  # PUBLIC_URL, never the Host header
    response = choose(client, link)
    assert where(response) == "/login"
    assert not signed_in(elsewhere)  # every session ended
    assert login(client, EMAIL, PASSWORD).status_code == 200  # the old password is gone
    assert login(client, EMAIL, NEW_PASSWORD).status_code == 302
    # Single use: the link works no more.
    assert english_client(app).get(re.sub(r"^https?://[^/]+", "", link)).status_code == 404
    told = [m for m in outbox(app, EMAIL) if m.title == "Your password was reset"]
    assert len(told) == 1
    with db(app) as (s, _):
        assert s.get(User, user_id).password_changed_at is not None


def test_the_answer_is_the_same_whether_or_not_the_address_has_an_account(app, monkeypatch):
    monkeypatch.setattr(limiter, "enabled", False)
    new_user(app, EMAIL)
    with app.app_context():
        engine = session().get_bind()
    runs = {}
    for who in (EMAIL, "nobody@test.example"):
        client = english_client(app)
        client.get("/password/reset")
        statements: list[str] = []

        def seen(conn, cursor, statement, *args, out=statements):
            out.append(re.sub(r"sa_savepoint_\d+", "sa_savepoint", statement))

        event.listen(engine, "before_cursor_execute", seen)
        try:
            response = post_form(client, "/password/reset", {"email": who})
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        runs[who] = (response.status_code, response.headers.get("Location"), statements)
    assert runs[EMAIL] == runs["nobody@test.example"]  # the same statements, the same answer
    assert outbox(app) == []
    send_codes(app)
    assert [m.email for m in outbox(app)] == [EMAIL]  # the worker sends the one link


def test_an_expired_or_replaced_link_does_not_work(app):
    new_user(app, EMAIL)
    client = english_client(app)
    ask(client)
    first = the_link(app)
    ask(client)
    second = the_link(app)
    assert first != second
    assert client.get(re.sub(r"^https?://[^/]+", "", first)).status_code == 404  # replaced by the newer one
    with db(app) as (s, _):
        s.execute(update(PasswordReset).values(expires_at=utcnow() - timedelta(seconds=1)))
    response = client.get(re.sub(r"^https?://[^/]+", "", second))
    assert response.status_code == 404
    assert "wrong, used or expired" in response.get_data(as_text=True)
    assert client.get("/password/reset/not-a-real-token").status_code == 404


def test_an_account_with_two_step_sign_in_needs_its_code_too(app):
    secret = pyotp.random_base32()
    new_user(app, EMAIL, secret=secret)
    client = english_client(app)
    ask(client)
    link = the_link(app)
    page = client.get(re.sub(r"^https?://[^/]+", "", link)).get_data(as_text=True)
    assert "Code from your authenticator app" in page
    wrong = f"{(int(code_at(secret)) + 500000) % 10**6:06d}"
    refused = choose(client, link, code=wrong)
    assert refused.status_code == 200
    assert "This code is not valid" in refused.get_data(as_text=True)
    assert login(english_client(app), EMAIL, NEW_PASSWORD).status_code == 200  # nothing changed
    assert where(choose(client, link, code=code_at(secret))) == "/login"
    signing_in = english_client(app)
    assert where(login(signing_in, EMAIL, NEW_PASSWORD)) == "/login/two-step"  # still two-step


def test_a_reset_is_an_access_event_of_the_subject(app, world):
    with db(app) as (s, v):
        from portal.accounts.services import set_password

        user = s.get(User, world.user_a.id)
        set_password(s, user, PASSWORD)
        email = "a@example.com"
        v.cipher(s, user.data_key_id).seal_field(user, "email", email)
        from portal.accounts.services import EMAIL_INDEX, normalise_email

        user.email_bidx = v.blind_index(EMAIL_INDEX, normalise_email(email))
    client = english_client(app)
    ask(client, email)
    choose(client, the_link(app, email))
    with db(app) as (s, _):
        kinds = s.scalars(select(AccessEvent.kind).where(AccessEvent.subject_id == world.person_a.id)).all()
        assert EventKind.ACCOUNT_RECOVERED in kinds


def test_asking_is_rate_limited(app):
    client = english_client(app)
    statuses = [post_form(client, "/password/reset", {"email": f"n{n}@test.example"}).status_code for n in range(6)]
    assert statuses == [302] * 5 + [429]


@pytest.mark.parametrize("role", [Role.OFFICER, Role.PERSON])
def test_an_administrator_resets_a_lost_second_factor(app, role):
    secret = pyotp.random_base32()
    user_id = new_user(app, EMAIL, role=role, secret=secret)
    client = english_client(app)
    login(client, EMAIL)
    runner = app.test_cli_runner()
    done = runner.invoke(args=["users", "reset-second-factor", EMAIL])
    assert done.exit_code == 0, done.output
    assert "turned off" in done.output
    with db(app) as (s, _):
        user = s.get(User, user_id)
        assert not user.has_second_factor
        assert all(
            a.revoked_at is not None for a in s.scalars(select(AuthSession).where(AuthSession.user_id == user_id))
        )
    # In the owner's language (none saved: the registry's).
    assert any(m.title == "管理员已关闭两步登录" for m in outbox(app, EMAIL))
    again = runner.invoke(args=["users", "reset-second-factor", EMAIL])
    assert again.exit_code != 0
    assert "no second factor" in again.output
    unknown = runner.invoke(args=["users", "reset-second-factor", "nobody@test.example"])
    assert unknown.exit_code != 0


def test_the_link_goes_out_in_the_language_of_the_page_it_was_asked_from(app):
    new_user(app, EMAIL)
    ask(app.test_client())  # no language chosen: the registry's, Chinese
    (mail,) = outbox(app, EMAIL)
    assert "重置" in mail.title
    assert LINK_RE.search(mail.body)


def test_wrong_codes_on_the_reset_page_make_it_wait_like_a_sign_in(app):
    secret = pyotp.random_base32()
    new_user(app, EMAIL, secret=secret)
    client = english_client(app)
    ask(client)
    link = the_link(app)
    wrong = f"{(int(code_at(secret)) + 500000) % 10**6:06d}"
    for _ in range(5):
        assert "This code is not valid" in choose(client, link, code=wrong).get_data(as_text=True)
    waiting = choose(client, link, code=code_at(secret))
    assert "Too many wrong codes" in waiting.get_data(as_text=True)
    assert login(english_client(app), EMAIL, NEW_PASSWORD).status_code == 200  # nothing changed
