"""Cookies and transport: the session cookie is Secure and HSTS is sent by
default; only `portal serve` on a loopback address (a local try-out over
plain HTTP) turns them off, and an explicit setting always wins."""

from __future__ import annotations

import pytest

from portal.cli import _is_loopback


def session_cookie(app) -> str:
    response = app.test_client().get("/login")  # the form's CSRF token starts a session
    (cookie,) = [v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("session=")]
    return cookie


def test_by_default_the_session_cookie_is_secure_and_hsts_is_sent(make_app):
    app = make_app(SESSION_COOKIE_SECURE=None)  # as left by an operator who set nothing
    cookie = session_cookie(app)
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    response = app.test_client().get("/")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_an_explicit_setting_wins(make_app):
    app = make_app(SESSION_COOKIE_SECURE=False)
    assert "Secure" not in session_cookie(app)
    assert "Strict-Transport-Security" not in app.test_client().get("/").headers


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),  # noqa: S104 - a host name under test, nothing binds
        ("192.0.2.10", False),
        ("portal.example", False),
    ],
)
def test_only_loopback_addresses_serve_without_secure_cookies(host, loopback):
    assert _is_loopback(host) is loopback
