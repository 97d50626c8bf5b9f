"""Signing in: argon2id, long passwords, one generic error, lockout, rate
limits, a new session at every sign-in, safe `next` redirects."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from portal.accounts.models import AuthSession, User
from portal.db import utcnow
from portal.extensions import session

from .helpers import PASSWORD, TOKEN_RE, db, login, new_user, signed_in, token, where

EMAIL = "login@test.example"
GENERIC = "The e-mail address or password is wrong, or the account is locked for a few minutes after repeated failures."


# -- helpers -------------------------------------------------------------------
def page_without_noise(response, *typed):
    """The page as a user sees it, minus the CSRF token and what they typed."""
    html = TOKEN_RE.sub('name="csrf_token" value=""', response.get_data(as_text=True))
    for t in typed:
        html = html.replace(t, "TYPED")
    return html


def error_summary(response):
    m = re.search(r'<div class="error-summary".*?</div>', response.get_data(as_text=True), re.S)
    return m and m.group(0)


# -- the generic error -----------------------------------------------------------
def test_generic_error_is_identical_for_unknown_email_and_wrong_password(app, browser):
    new_user(app, EMAIL)
    unknown = login(browser, "nobody@test.example", PASSWORD)
    wrong = login(browser, EMAIL, "not the password at all")
    assert unknown.status_code == wrong.status_code == 200
    assert GENERIC in unknown.get_data(as_text=True)
    assert page_without_noise(unknown, "nobody@test.example") == page_without_noise(wrong, EMAIL)
    assert not signed_in(browser)


def test_right_password_signs_in_and_email_case_does_not_matter(app, browser):
    user_id = new_user(app, EMAIL)
    response = login(browser, "  Login@TEST.example ", PASSWORD)
    assert response.status_code == 302
    assert where(response) == "/me"
    assert signed_in(browser)
    with app.app_context():
        user = session().get(User, user_id)
        assert user.last_login_at is not None
        assert user.password_hash.startswith("$argon2id$")


@pytest.mark.parametrize("length", [64, 128])
def test_long_passwords_work(app, browser, length):
    password = ("correct horse battery staple " * 5)[:length]
    assert len(password) == length
    new_user(app, EMAIL, password=password)
    response = login(browser, EMAIL, password)
    assert response.status_code == 302
    assert where(response) == "/me"
    assert signed_in(browser)


def test_129_characters_are_refused_cleanly(app, browser):
    password = ("correct horse battery staple " * 5)[:128]
    new_user(app, EMAIL, password=password)
    response = login(browser, EMAIL, password + "x")
    assert response.status_code == 200
    assert error_summary(response) is not None
    assert "128" in error_summary(response)
    assert not signed_in(browser)
    # ... and the right one still works: the refusal counted for nothing odd.
    assert login(browser, EMAIL, password).status_code == 302


# -- lockout -------------------------------------------------------------------------
def test_five_failures_lock_the_account_even_for_the_right_password(app, browser):
    user_id = new_user(app, EMAIL)
    first = login(browser, EMAIL, "wrong password number 0")
    for n in range(1, 5):
        response = login(browser, EMAIL, f"wrong password number {n}")
        assert response.status_code == 200
    locked = login(browser, EMAIL, PASSWORD)
    assert locked.status_code == 200
    assert error_summary(locked) == error_summary(first)
    assert GENERIC in error_summary(locked)
    assert not signed_in(browser)

    with db(app) as (s, _):  # fifteen minutes later
        user = s.get(User, user_id)
        assert timedelta(minutes=14) < user.locked_until - utcnow() <= timedelta(minutes=15)
        user.locked_until = utcnow() - timedelta(seconds=1)
    assert login(browser, EMAIL, PASSWORD).status_code == 302
    assert signed_in(browser)


def test_four_failures_do_not_lock(app, browser):
    new_user(app, EMAIL)
    for n in range(4):
        login(browser, EMAIL, f"wrong password number {n}")
    assert login(browser, EMAIL, PASSWORD).status_code == 302


def test_rate_limit_answers_429(app, browser):
    assert app.config["RATELIMIT_ENABLED"] is True  # the default, also under test
    csrf = token(browser, "/login")
    statuses = [
        browser.post(
            "/login", data={"email": f"n{n}@test.example", "password": "whatever it is", "csrf_token": csrf}
        ).status_code
        for n in range(11)
    ]
    assert statuses[:10] == [200] * 10
    assert statuses[10] == 429
    response = browser.post("/login", data={"email": "x@test.example", "password": "y", "csrf_token": csrf})
    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)
    assert "Retry-After" in response.headers


# -- sessions at sign-in and out ----------------------------------------------------
def test_sign_in_starts_a_new_session(app, browser):
    new_user(app, EMAIL)
    token(browser, "/login")
    with browser.session_transaction() as cookie:
        cookie["planted"] = "by an attacker"
    before = browser.get_cookie("session").value

    assert login(browser, EMAIL, PASSWORD).status_code == 302
    after = browser.get_cookie("session").value
    assert after != before
    with browser.session_transaction() as cookie:
        assert "planted" not in cookie
        first_token = cookie["_user_id"]

    other = app.test_client()
    assert login(other, EMAIL, PASSWORD).status_code == 302
    with other.session_transaction() as cookie:
        assert cookie["_user_id"] != first_token
    with app.app_context():
        assert len(session().scalars(select(AuthSession).where(AuthSession.revoked_at.is_(None))).all()) == 2


def test_an_old_session_cookie_is_dead_after_sign_out(app, browser):
    new_user(app, EMAIL)
    login(browser, EMAIL, PASSWORD)
    assert signed_in(browser)
    stolen = browser.get_cookie("session").value

    response = browser.post("/logout", data={"csrf_token": token(browser, "/me")})
    assert response.status_code == 302
    assert not signed_in(browser)

    browser.set_cookie("session", stolen)  # replay the cookie from before
    assert not signed_in(browser)
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    assert not signed_in(thief)
    with app.app_context():
        assert session().scalar(select(AuthSession)).revoked_at is not None


def test_signed_in_user_visiting_login_goes_to_the_dashboard(app, browser):
    new_user(app, EMAIL)
    login(browser, EMAIL, PASSWORD)
    response = browser.get("/login")
    assert response.status_code == 302
    assert where(response) == "/me"


# -- safe next --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("next_", "lands"),
    [
        ("https://evil.example/", "/me"),
        ("//evil.example", "/me"),
        ("/\\evil.example", "/me"),
        ("\\\\evil.example", "/me"),
        ("/\t/evil.example", "/me"),
        ("javascript:alert(1)", "/me"),
        ("/account", "/account"),
    ],
)
def test_next_only_leads_to_this_site(app, browser, next_, lands):
    new_user(app, EMAIL)
    response = login(browser, EMAIL, PASSWORD, next_=next_)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert urlsplit(location).netloc in ("", "localhost")
    assert location in (lands, "http://localhost" + lands)
