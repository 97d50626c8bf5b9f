"""Web hygiene of the account pages: no-store and a strict CSP, CSRF on
every form, typed text escaped, the demo outbox only in demo mode and only
from this machine."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from portal.accounts.models import AuthSession, RegistrationRequest, User
from portal.accounts.services import verify_password
from portal.demo.people import DEMO_INSTITUTIONS
from portal.extensions import session, vault
from portal.institutions.services import create_institution
from portal.localtime import today as portal_today

from .helpers import (
    NEW_PASSWORD,
    PASSWORD,
    PERSON,
    PERSON_CONTACT,
    PERSON_NAME,
    count,
    english_client,
    invitation_token,
    login,
    new_user,
    person_on_file,
    post_form,
    register,
    signed_in,
    token,
    where,
)
from .test_two_factor import open_setup, submit_setup

EMAIL = "web@test.example"
XSS = "<script>alert(1)</script>"
XSS_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


# -- helpers -------------------------------------------------------------------
def assert_strict_headers(response, url):
    assert response.headers.get("Cache-Control") == "no-store", url
    csp = response.headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp, url
    assert "frame-ancestors 'none'" in csp, url
    assert "object-src 'none'" in csp, url
    for loose in ("'unsafe-inline'", "'unsafe-eval'", "*", "http:"):
        assert loose not in csp, (url, loose)
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("X-Frame-Options") == "DENY"
    html = response.get_data(as_text=True)
    # A strict CSP blocks inline script: the pages must not need any.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
    assert not re.search(r"\son[a-z]+\s*=", html), url


# -- headers ---------------------------------------------------------------------
def test_signed_in_pages_are_never_cached_and_have_a_strict_csp(app, world, sign_in):
    person = sign_in(english_client(app), world.user_a)
    for url in (
        "/me",
        "/account",
        "/messages",
        "/account/password",
        "/account/email",
        "/account/two-step",
        "/account/confirm",
    ):
        response = person.get(url)
        assert response.status_code == 200, url
        assert_strict_headers(response, url)
    rep = sign_in(english_client(app), world.rep_f)
    for url in (f"/firms/{world.firm_f.id}/agents", "/account/two-step"):
        response = rep.get(url)
        assert response.status_code == 200, url
        assert_strict_headers(response, url)
    # Error pages of a signed-in user and redirects are not cached either.
    assert person.get(f"/firms/{world.firm_f.id}/agents").headers["Cache-Control"] == "no-store"
    response = person.get("/login")
    assert response.status_code == 302
    assert response.headers["Cache-Control"] == "no-store"


def test_public_form_pages_are_not_cached_either(client):
    for url in ("/login", "/register", "/register/activate"):
        response = client.get(url)
        assert response.status_code == 200
        assert_strict_headers(response, url)


# -- CSRF ------------------------------------------------------------------------
@pytest.fixture
def csrf_app(app):
    app.config["WTF_CSRF_ENABLED"] = True  # read per request; the `app` fixture restores the settings
    new_user(app, EMAIL)
    person_on_file(app)
    return app


def forged_tokens(app):
    """No token, a made-up one, and a real token of the attacker's own session."""
    attacker = app.test_client()
    return {"missing": None, "made-up": "IjEyMzQ1Ig.forged.token", "attackers-own": token(attacker, "/login")}


def forged_post(client, url, data, tok):
    return client.post(url, data=data if tok is None else {**data, "csrf_token": tok})


def test_forged_login_is_refused(csrf_app):
    victim = english_client(csrf_app)
    victim.get("/login")
    for name, tok in forged_tokens(csrf_app).items():
        response = forged_post(victim, "/login", {"email": EMAIL, "password": PASSWORD}, tok)
        assert response.status_code == 400, name
        assert not signed_in(victim), name
    assert count(csrf_app, AuthSession) == 0
    with csrf_app.app_context():
        assert session().scalar(select(User)).last_login_at is None
    assert login(victim, EMAIL).status_code == 302
    assert signed_in(victim)


def test_forged_registration_is_refused(csrf_app):
    victim = english_client(csrf_app)
    victim.get("/register")
    data = {"kind": "person", "identifier": PERSON, "name": PERSON_NAME}
    for name, tok in forged_tokens(csrf_app).items():
        assert forged_post(victim, "/register", data, tok).status_code == 400, name
    assert count(csrf_app, RegistrationRequest) == 0  # nothing queued
    response = post_form(victim, "/register", data)
    assert response.status_code == 302
    assert where(response) == "/register/sent"
    assert count(csrf_app, RegistrationRequest) == 1


def test_forged_logout_is_refused(csrf_app):
    victim = english_client(csrf_app)
    login(victim, EMAIL)
    for name, tok in forged_tokens(csrf_app).items():
        assert forged_post(victim, "/logout", {}, tok).status_code == 400, name
        assert signed_in(victim), name
    assert post_form(victim, "/logout", {}, page="/me").status_code == 302
    assert not signed_in(victim)


def test_forged_password_change_is_refused(csrf_app):
    victim, other_device = english_client(csrf_app), english_client(csrf_app)
    login(victim, EMAIL)
    login(other_device, EMAIL)
    victim.get("/account/password")
    data = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    for name, tok in forged_tokens(csrf_app).items():
        assert forged_post(victim, "/account/password", data, tok).status_code == 400, name
    with csrf_app.app_context():
        assert verify_password(session().scalar(select(User)), PASSWORD)
    assert signed_in(other_device)

    response = post_form(victim, "/account/password", data)
    assert response.status_code == 302
    assert where(response) == "/account"
    with csrf_app.app_context():
        assert verify_password(session().scalar(select(User)), NEW_PASSWORD)


def test_the_csrf_error_page_says_what_to_do(csrf_app):
    response = english_client(csrf_app).post("/login", data={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 400
    assert "The form may have expired" in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"


# -- escaping -----------------------------------------------------------------------
def test_text_typed_into_the_register_form_comes_back_escaped(app):
    browser = english_client(app)
    response = post_form(browser, "/register", {"kind": "person", "identifier": "1101" + XSS, "name": XSS})
    assert response.status_code == 200  # re-rendered with a field error
    html = response.get_data(as_text=True)
    assert XSS not in html
    assert XSS_ESCAPED in html


def test_text_typed_into_the_login_form_comes_back_escaped(app):
    browser = english_client(app)
    typed = '"><script>alert(1)</script>@x.example'
    response = login(browser, typed, "whatever it is")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert '"><script>' not in html
    assert "&lt;script&gt;" in html


def test_a_name_chosen_by_an_agent_is_shown_escaped_to_the_representative(app, world, sign_in):
    rep = sign_in(english_client(app), world.rep_f)
    post_form(
        rep,
        f"/firms/{world.firm_f.id}/agents",
        {
            "email": "xss.agent@test.example",
            "scopes": ["view_report"],
            "valid_until": (portal_today() + timedelta(days=30)).isoformat(),
        },
    )
    tok = invitation_token(app, "xss.agent@test.example")
    agent = english_client(app)
    assert (
        post_form(
            agent, f"/invitations/{tok}", {"display_name": XSS, "password": PASSWORD, "confirm": PASSWORD}
        ).status_code
        == 302
    )
    for page in (rep.get(f"/firms/{world.firm_f.id}/agents"), rep.get("/messages")):
        html = page.get_data(as_text=True)
        assert XSS not in html
        assert XSS_ESCAPED in html

    assert login(agent, "xss.agent@test.example", PASSWORD).status_code == 302
    setup = open_setup(agent)  # agents set up a second factor first
    assert submit_setup(agent, setup, pyotp.TOTP(setup.secret).now()).status_code == 200
    html = agent.get("/account").get_data(as_text=True)
    assert XSS not in html
    assert XSS_ESCAPED in html


# -- the demo outbox ------------------------------------------------------------------
def _register(app):
    person_on_file(app)
    browser = english_client(app)
    assert register(browser).status_code == 302
    return browser


def test_demo_outbox_is_not_there_without_the_demos_data(make_app):
    app = make_app()  # a real registry never shows it
    browser = _register(app)
    response = browser.get("/demo/outbox")
    assert response.status_code == 404
    assert PERSON_CONTACT not in response.get_data(as_text=True)


def test_demo_outbox_shows_the_mail_to_the_operator_on_this_machine_only(app):
    with app.app_context():  # the demo's institutions: this database holds the demo's data
        vault().register_versions(session())
        for data in DEMO_INSTITUTIONS:
            create_institution(session(), vault(), data)
        session().commit()
    browser = _register(app)
    response = browser.get("/demo/outbox")  # the test client comes from 127.0.0.1
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert PERSON_CONTACT in html
    assert re.search(r"activation code is \d{8}", html)
    assert response.headers["Cache-Control"] == "no-store"
    assert browser.get("/demo/outbox", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200

    for remote in ("10.0.0.7", "192.168.1.20", "2001:db8::1"):
        response = browser.get("/demo/outbox", environ_base={"REMOTE_ADDR": remote})
        assert response.status_code == 404, remote
        assert PERSON_CONTACT not in response.get_data(as_text=True)
