"""Server-side sessions: idle and absolute timeouts, sign out everywhere,
password change signs out the other devices, re-authentication before
sensitive changes."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy import select, update

from portal.accounts import sessions
from portal.accounts.models import AuthSession, Role, User
from portal.accounts.services import create_user, verify_password
from portal.db import utcnow
from portal.extensions import session, vault

from .helpers import NEW_PASSWORD, PASSWORD, db, english_client, login, outbox, post_form, signed_in, token, where

EMAIL = "sess@test.example"
SENSITIVE = ["/account/password", "/account/email", "/account/two-step"]


# -- helpers -------------------------------------------------------------------
def session_token(client) -> str:
    with client.session_transaction() as cookie:
        return cookie["_user_id"]


def age(app, client, **deltas):
    """Move this browser's sign-in session back in time."""
    with db(app) as (s, _):
        s.execute(
            update(AuthSession)
            .where(AuthSession.token_hash == sessions._hash(session_token(client)))
            .values(**{k: utcnow() - d for k, d in deltas.items()})
        )


def auth_row(app, client):
    with app.app_context():
        return session().scalar(
            select(AuthSession).where(AuthSession.token_hash == sessions._hash(session_token(client)))
        )


@pytest.fixture
def user(app):
    with db(app) as (s, v):
        return create_user(s, v, role=Role.PERSON, email=EMAIL, display_name="Sess", password=PASSWORD)


# -- timeouts ----------------------------------------------------------------------
def test_idle_timeout_signs_out(app, browser, user, sign_in):
    idle = app.config["IDLE_TIMEOUT_MINUTES"]
    sign_in(browser, user)
    age(app, browser, last_seen_at=timedelta(minutes=idle - 1))
    assert signed_in(browser)  # still within the idle time; the visit counts as activity
    assert utcnow() - auth_row(app, browser).last_seen_at < timedelta(minutes=1)

    age(app, browser, last_seen_at=timedelta(minutes=idle + 1))
    response = browser.get("/account")
    assert response.status_code == 302
    assert where(response) == "/login"
    assert auth_row(app, browser).revoked_at is not None
    age(app, browser, last_seen_at=timedelta(0))  # coming back does not revive it
    assert not signed_in(browser)


def test_idle_timeout_follows_the_configuration(make_app, sign_in):
    app = make_app(IDLE_TIMEOUT_MINUTES=5)
    with db(app) as (s, v):
        user = create_user(s, v, role=Role.PERSON, email=EMAIL, display_name="Sess")
    browser = app.test_client()
    sign_in(browser, user)
    age(app, browser, last_seen_at=timedelta(minutes=6))
    assert not signed_in(browser)


def test_absolute_timeout_signs_out_even_an_active_user(app, browser, user, sign_in):
    hours = app.config["ABSOLUTE_TIMEOUT_HOURS"]
    sign_in(browser, user)
    age(app, browser, created_at=timedelta(hours=hours, minutes=-5), last_seen_at=timedelta(0))
    assert signed_in(browser)
    age(app, browser, created_at=timedelta(hours=hours, minutes=1), last_seen_at=timedelta(0))
    assert not signed_in(browser)
    assert auth_row(app, browser).revoked_at is not None


# -- signing out elsewhere -------------------------------------------------------------
def test_sign_out_everywhere_ends_every_session_of_the_user_only(app, user, sign_in, world):
    phone, laptop, someone_else = app.test_client(), app.test_client(), app.test_client()
    sign_in(phone, user)
    sign_in(laptop, user)
    sign_in(someone_else, world.user_a)
    assert signed_in(phone)
    assert signed_in(laptop)
    page = laptop.get("/account").get_data(as_text=True)
    assert "/logout/everywhere" in page

    response = post_form(laptop, "/logout/everywhere", {}, page="/account")
    assert response.status_code == 302
    assert where(response) == "/login"
    assert not signed_in(laptop)
    assert not signed_in(phone)
    assert signed_in(someone_else)


def test_signing_out_ends_only_this_session(app, user, sign_in):
    phone, laptop = app.test_client(), app.test_client()
    sign_in(phone, user)
    sign_in(laptop, user)
    assert post_form(laptop, "/logout", {}, page="/me").status_code == 302
    assert not signed_in(laptop)
    assert signed_in(phone)


def test_changing_the_password_signs_out_other_sessions_but_keeps_this_one(app, user, sign_in):
    phone, laptop = app.test_client(), english_client(app)
    sign_in(phone, user)
    sign_in(laptop, user)

    response = post_form(laptop, "/account/password", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert where(response) == "/account"
    assert signed_in(laptop)
    assert not signed_in(phone)
    assert "Your password was changed" in laptop.get("/messages").get_data(as_text=True)

    fresh = english_client(app)
    assert login(fresh, EMAIL, PASSWORD).status_code == 200  # the old password no longer works
    assert login(fresh, EMAIL, NEW_PASSWORD).status_code == 302


def test_a_weak_new_password_is_refused_and_nothing_changes(app, browser, user, sign_in):
    other = app.test_client()
    sign_in(browser, user)
    sign_in(other, user)
    response = post_form(
        browser, "/account/password", {"password": "sess@test.example!", "confirm": "sess@test.example!"}
    )
    assert response.status_code == 200
    assert "Do not use your e-mail address" in response.get_data(as_text=True)
    with app.app_context():
        assert verify_password(session().get(User, user.id), PASSWORD)
    assert signed_in(other)


# -- re-authentication ------------------------------------------------------------------
@pytest.mark.parametrize("page", SENSITIVE)
def test_sensitive_pages_ask_for_the_password_again_after_a_while(app, browser, user, sign_in, page):
    """(Setting up a first second factor needs no fresh sign-in, so that a
    representative is never caught between two pages; replacing one does.)"""
    window = app.config["REAUTH_MINUTES"]
    if page == "/account/two-step":
        from portal.accounts import two_factor

        with app.app_context():
            two_factor.enable(session(), vault(), session().get(User, user.id), two_factor.new_secret())
            session().commit()
    sign_in(browser, user)
    age(app, browser, created_at=timedelta(minutes=window - 1))
    assert browser.get(page).status_code == 200  # recent sign-in: straight through

    age(app, browser, created_at=timedelta(minutes=window + 1))
    response = browser.get(page)
    assert response.status_code == 302
    assert where(response) == "/account/confirm"
    confirm = urlsplit(response.headers["Location"])
    assert parse_qs(confirm.query)["next"] == [page]
    confirm_url = f"{confirm.path}?{confirm.query}"

    wrong = post_form(browser, confirm_url, {"password": "not my password at all"})
    assert wrong.status_code == 200
    assert "The password is wrong." in wrong.get_data(as_text=True)
    assert where(browser.get(page)) == "/account/confirm"

    response = post_form(browser, confirm_url, {"password": PASSWORD})
    assert response.status_code == 302
    assert where(response) == page
    assert browser.get(page).status_code == 200

    age(app, browser, reauthenticated_at=timedelta(minutes=window + 1))  # and later, again
    assert where(browser.get(page)) == "/account/confirm"


def test_stale_post_to_change_the_password_changes_nothing(app, browser, user, sign_in):
    sign_in(browser, user)
    csrf = token(browser, "/account/password")
    age(app, browser, created_at=timedelta(minutes=app.config["REAUTH_MINUTES"] + 1))
    response = browser.post(
        "/account/password", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": csrf}
    )
    assert response.status_code == 302
    assert where(response) == "/account/confirm"
    with app.app_context():
        assert verify_password(session().get(User, user.id), PASSWORD)


def test_confirm_page_next_is_only_followed_within_the_site(app, browser, user, sign_in):
    sign_in(browser, user)
    response = post_form(
        browser,
        "/account/confirm?" + urlencode({"next": "//evil.example/account"}),
        {"password": PASSWORD},
        page="/account/confirm",
    )
    assert response.status_code == 302
    assert where(response) == "/account"
    assert urlsplit(response.headers["Location"]).netloc in ("", "localhost")


def test_changing_email_after_confirming_moves_the_sign_in(app, browser, user, sign_in):
    browser.set_cookie("lang", "en")
    sign_in(browser, user)
    response = post_form(browser, "/account/email", {"email": "moved@test.example"})
    assert response.status_code == 302
    assert where(response) == "/account"
    fresh = app.test_client()
    assert login(fresh, EMAIL, PASSWORD).status_code == 200
    assert login(fresh, "moved@test.example", PASSWORD).status_code == 302
    # The old address is told, in case it was not the owner.
    sent = {(m.email, m.title) for m in outbox(app)}
    assert (EMAIL, "Your e-mail address was changed") in sent
    assert ("moved@test.example", "Your e-mail address was changed") in sent
