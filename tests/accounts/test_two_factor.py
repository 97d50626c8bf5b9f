"""TOTP second factor: forced for firm representatives and staff, offered
to persons; QR as inline SVG; recovery codes; no replay."""

from __future__ import annotations

import html as htmllib
import re
import time
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import urlsplit

import pyotp
import pytest
from sqlalchemy import update

from portal.accounts import two_factor
from portal.accounts.models import AuthSession, Role, User
from portal.db import utcnow
from portal.extensions import session

from .helpers import PASSWORD, TOKEN_RE, db, login, new_user, post_form, signed_in, token, where

BAD_CODE = "This code is not valid. Codes change every 30 seconds."
GENERIC = "The e-mail address or password is wrong, or there were too many failed attempts"


# -- helpers -------------------------------------------------------------------
def enter_code(client, code, url="/login/two-step"):
    return post_form(client, url, {"code": code})


def sign_out(client):
    page = client.get("/")
    if page.status_code == 302:  # held at the two-step set-up: sign out from there
        page = client.get(page.headers["Location"])
    csrf = TOKEN_RE.search(page.get_data(as_text=True)).group(1)
    return client.post("/logout", data={"csrf_token": csrf})


def open_setup(client):
    """Load the set-up page as a browser does: the key and the form token."""
    page = client.get("/account/two-step")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    secret = htmllib.unescape(re.search(r'<code class="secret">([^<]+)</code>', html).group(1))
    return SimpleNamespace(html=html, secret=secret, csrf=TOKEN_RE.search(html).group(1))


def submit_setup(client, setup, code):
    return client.post("/account/two-step", data={"code": code, "csrf_token": setup.csrf})


def user_row(app, user_id):
    with app.app_context():
        u = session().get(User, user_id)
        return SimpleNamespace(has_second_factor=u.has_second_factor, locked_until=u.locked_until)


def age_sessions(app, user_id, **deltas):
    with db(app) as (s, _):
        s.execute(
            update(AuthSession)
            .where(AuthSession.user_id == user_id)
            .values(**{k: utcnow() - d for k, d in deltas.items()})
        )


def code_at(secret, seconds_from_now=0):
    return pyotp.TOTP(secret).at(int(time.time()) + seconds_from_now)


def totp_person_signed_in_earlier(app, browser, sign_in):
    """Sign in a person with a second factor, 30 minutes ago; return the id."""
    secret = pyotp.random_base32()
    user_id = new_user(app, "totp@test.example", secret=secret)
    with app.app_context():
        user = session().get(User, user_id)
    sign_in(browser, user)
    age_sessions(app, user_id, created_at=timedelta(minutes=30))
    return user_id


# -- forced set-up ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("role", "firm"), [(Role.FIRM_REPRESENTATIVE, True), (Role.OFFICER, False), (Role.ADMINISTRATOR, False)]
)
def test_roles_that_need_a_second_factor_must_set_it_up_before_anything_else(app, browser, role, firm):
    new_user(app, "staff@test.example", role=role, firm=firm)
    response = login(browser, "staff@test.example")
    assert response.status_code == 302  # the password alone is accepted ...
    for page in ("/me", "/account", "/messages", "/account/password", "/account/email"):
        response = browser.get(page)  # ... but every page sends them to the set-up
        assert response.status_code == 302, page
        assert where(response) == "/account/two-step", page
    response = browser.get("/account/two-step")
    assert response.status_code == 200
    assert "Your role requires two-step sign-in" in response.get_data(as_text=True)
    # Signing out stays possible.
    response = sign_out(browser)
    assert response.status_code == 302
    assert where(response) == "/"
    assert browser.get("/me").status_code == 302
    assert where(browser.get("/me")) == "/login"


def test_persons_are_offered_but_not_forced(app, browser):
    new_user(app, "person@test.example")
    login(browser, "person@test.example")
    assert browser.get("/me").status_code == 200
    page = browser.get("/account").get_data(as_text=True)
    assert "Turn on" in page
    assert "/account/two-step" in page
    setup = browser.get("/account/two-step")
    assert setup.status_code == 200
    assert "Your role requires" not in setup.get_data(as_text=True)


def test_set_up_with_a_correct_code_shows_ten_recovery_codes_then_sign_in_asks_for_a_code(app, browser):
    rep = new_user(app, "rep@test.example", role=Role.FIRM_REPRESENTATIVE, firm=True)
    login(browser, "rep@test.example")
    setup = open_setup(browser)
    html, secret = setup.html, setup.secret
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret)
    svg = re.search(r"<svg.*?</svg>", html, re.S)
    assert svg, "the QR code is an inline SVG"
    assert "<script" not in svg.group(0)
    assert "href" not in svg.group(0)

    response = submit_setup(browser, setup, f"{(int(code_at(secret)) + 1) % 10**6:06d}")
    assert response.status_code == 200
    assert "This code is not valid" in response.get_data(as_text=True)
    assert not user_row(app, rep).has_second_factor

    response = submit_setup(browser, setup, code_at(secret))
    assert response.status_code == 200
    codes = re.findall(r"<li><code>([^<]+)</code></li>", response.get_data(as_text=True))
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert user_row(app, rep).has_second_factor
    assert browser.get("/me").status_code == 200  # no longer held at the set-up
    assert "Two-step sign-in is on" in browser.get("/messages").get_data(as_text=True)

    sign_out(browser)
    response = login(browser, "rep@test.example")
    assert response.status_code == 302
    assert where(response) == "/login/two-step"
    assert not signed_in(browser)
    response = enter_code(browser, code_at(secret, 30))
    assert response.status_code == 302
    assert where(response) == "/me"
    assert signed_in(browser)


def test_the_code_that_turned_it_on_cannot_be_used_again_to_sign_in(app, browser):
    """RFC 6238 §5.2: a code accepted once is never accepted again."""
    new_user(app, "person@test.example")
    login(browser, "person@test.example")
    setup = open_setup(browser)
    secret = setup.secret
    code = code_at(secret)
    response = submit_setup(browser, setup, code)
    assert response.status_code == 200
    assert "Your recovery codes" in response.get_data(as_text=True)
    sign_out(browser)
    assert where(login(browser, "person@test.example")) == "/login/two-step"
    response = enter_code(browser, code)
    assert not signed_in(browser), "the set-up code was accepted a second time"
    assert response.status_code == 200
    assert BAD_CODE in response.get_data(as_text=True)


# -- signing in with a second factor ----------------------------------------------------
def test_wrong_code_fails_correct_code_works_and_is_never_accepted_twice(app, browser):
    secret = pyotp.random_base32()
    new_user(app, "totp@test.example", secret=secret)
    response = login(browser, "totp@test.example")
    assert response.status_code == 302
    assert where(response) == "/login/two-step"

    for wrong in ("000000" if code_at(secret) != "000000" else "111111", "12345", "abcdef"):
        response = enter_code(browser, wrong)
        assert response.status_code == 200
        assert BAD_CODE in response.get_data(as_text=True)
        assert not signed_in(browser)

    code = code_at(secret)
    response = enter_code(browser, code)
    assert response.status_code == 302
    assert where(response) == "/me"
    assert signed_in(browser)

    sign_out(browser)
    login(browser, "totp@test.example")
    response = enter_code(browser, code)  # replay
    assert response.status_code == 200
    assert BAD_CODE in response.get_data(as_text=True)
    assert not signed_in(browser)
    response = enter_code(browser, code_at(secret, 30))  # the next code is fine
    assert response.status_code == 302
    assert signed_in(browser)


def test_the_code_page_needs_a_password_first(app, browser):
    response = browser.get("/login/two-step")
    assert response.status_code == 302
    assert where(response) == "/login"


def test_a_half_finished_sign_in_expires_after_five_minutes(app, browser):
    secret = pyotp.random_base32()
    new_user(app, "totp@test.example", secret=secret)
    assert where(login(browser, "totp@test.example")) == "/login/two-step"
    csrf = token(browser, "/login/two-step")
    with browser.session_transaction() as cookie:
        pending = cookie["pending_2fa"]
        cookie["pending_2fa"] = {**pending, "at": pending["at"] - 301}
    response = browser.post("/login/two-step", data={"code": code_at(secret), "csrf_token": csrf})
    assert response.status_code == 302
    assert where(response) == "/login"
    assert not signed_in(browser)
    assert "Please sign in again." in browser.get("/login").get_data(as_text=True)


def test_next_survives_the_second_step_but_only_to_this_site(app, browser):
    secret = pyotp.random_base32()
    new_user(app, "totp@test.example", secret=secret)
    response = login(browser, "totp@test.example", next_="/account")
    code_page = urlsplit(response.headers["Location"])
    assert code_page.path == "/login/two-step"
    response = enter_code(browser, code_at(secret), url=f"{code_page.path}?{code_page.query}")
    assert response.status_code == 302
    assert response.headers["Location"] in ("/account", "http://localhost/account")

    sign_out(browser)
    response = login(browser, "totp@test.example", next_="//evil.example")
    code_page = urlsplit(response.headers["Location"])
    response = enter_code(browser, code_at(secret, 30), url=f"{code_page.path}?{code_page.query}")
    assert response.status_code == 302
    assert where(response) == "/me"
    assert urlsplit(response.headers["Location"]).netloc in ("", "localhost")


def test_a_recovery_code_works_once(app, browser):
    secret = pyotp.random_base32()
    user_id = new_user(app, "totp@test.example", secret=secret)
    with db(app) as (s, v):
        codes = two_factor.new_recovery_codes(s, v, s.get(User, user_id))

    login(browser, "totp@test.example")
    response = enter_code(browser, codes[0].upper())
    assert response.status_code == 302
    assert signed_in(browser)
    assert "A recovery code was used" in browser.get("/messages").get_data(as_text=True)
    assert "9 recovery codes left" in browser.get("/account").get_data(as_text=True)

    sign_out(browser)
    login(browser, "totp@test.example")
    response = enter_code(browser, codes[0])
    assert response.status_code == 200
    assert BAD_CODE in response.get_data(as_text=True)
    assert not signed_in(browser)
    assert enter_code(browser, codes[1]).status_code == 302
    assert signed_in(browser)


def test_five_wrong_codes_make_this_device_wait(app, browser):
    secret = pyotp.random_base32()
    new_user(app, "totp@test.example", secret=secret)
    login(browser, "totp@test.example")
    wrong = f"{(int(code_at(secret)) + 500000) % 10**6:06d}"
    for _ in range(5):
        enter_code(browser, wrong)
    response = browser.get("/login/two-step")
    assert response.status_code == 302
    assert where(response) == "/login"
    # Waiting: even the password gets the generic answer.
    response = login(browser, "totp@test.example")
    assert response.status_code == 200
    assert GENERIC in response.get_data(as_text=True)
    assert not signed_in(browser)


def test_wrong_codes_keep_counting_when_the_password_is_entered_again(app, browser):
    """Someone who has the password must not get unlimited code guesses by
    entering the password again before the fifth wrong code."""
    secret = pyotp.random_base32()
    new_user(app, "totp@test.example", secret=secret)
    wrong = f"{(int(code_at(secret)) + 500000) % 10**6:06d}"
    for guesses in (3, 2):  # five wrong codes in all, the password entered in between
        assert where(login(browser, "totp@test.example")) == "/login/two-step"
        for _ in range(guesses):
            assert BAD_CODE in enter_code(browser, wrong).get_data(as_text=True)
    response = login(browser, "totp@test.example")
    if response.status_code == 302:
        enter_code(browser, code_at(secret))
    assert not signed_in(browser), "five wrong second-factor codes did not lock the account"


# -- turning it off ------------------------------------------------------------------------
def test_a_person_may_turn_it_off_after_confirming_the_password(app, browser, sign_in):
    user_id = totp_person_signed_in_earlier(app, browser, sign_in)

    response = post_form(browser, "/account/two-step/off", {}, page="/account")
    assert response.status_code == 302
    assert where(response) == "/account/confirm"
    assert user_row(app, user_id).has_second_factor

    response = post_form(browser, "/account/confirm", {"password": PASSWORD})
    assert response.status_code == 302
    response = post_form(browser, "/account/two-step/off", {}, page="/account")
    assert response.status_code == 302
    assert where(response) == "/account"
    assert not user_row(app, user_id).has_second_factor
    assert "Two-step sign-in is off" in browser.get("/messages").get_data(as_text=True)

    sign_out(browser)
    response = login(browser, "totp@test.example")
    assert response.status_code == 302
    assert where(response) == "/me"


def test_confirming_the_password_to_turn_it_off_does_not_end_on_an_error_page(app, browser, sign_in):
    totp_person_signed_in_earlier(app, browser, sign_in)
    response = post_form(browser, "/account/two-step/off", {}, page="/account")
    assert where(response) == "/account/confirm"
    confirm_url = urlsplit(response.headers["Location"])
    response = post_form(
        browser, confirm_url.path + "?" + confirm_url.query, {"password": PASSWORD}, page="/account/confirm"
    )
    assert response.status_code == 302
    landing = browser.get(response.headers["Location"])
    assert landing.status_code < 400, f"after confirming the password the user lands on a {landing.status_code}"


def test_a_representative_may_not_turn_it_off(app, browser, world, sign_in):
    sign_in(browser, world.rep_f)
    response = post_form(browser, "/account/two-step/off", {}, page="/account")
    assert response.status_code == 403
    with app.app_context():
        assert session().get(User, world.rep_f.id).has_second_factor
    assert "/account/two-step/off" not in browser.get("/account").get_data(as_text=True)


def test_a_representative_whose_sign_in_is_old_can_still_finish_the_set_up(app, browser):
    """Installing an authenticator app takes a few minutes: a representative
    held at the set-up page whose sign-in is older than REAUTH_MINUTES must be
    able to confirm the password and go on, not bounce between pages."""
    rep = new_user(app, "rep@test.example", role=Role.FIRM_REPRESENTATIVE, firm=True)
    login(browser, "rep@test.example")
    assert browser.get("/account/two-step").status_code == 200
    age_sessions(app, rep, created_at=timedelta(minutes=app.config["REAUTH_MINUTES"] + 5))

    response, seen = browser.get("/account/two-step"), []
    while response.status_code == 302 and len(seen) < 6:
        seen.append(where(response))
        response = browser.get(response.headers["Location"])
    assert response.status_code == 200, f"redirected round in circles: {seen}"
    page = response.get_data(as_text=True)
    assert seen == []
    assert 'class="secret"' in page
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page).group(1)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    done = browser.post("/account/two-step", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token})
    assert done.status_code == 200
    assert "recovery codes" in done.get_data(as_text=True).lower()
