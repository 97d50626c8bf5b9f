"""The console's home and its read-only settings: where each setting comes
from, and never a secret's value."""

from __future__ import annotations

from portal.admin.settings import settings
from portal.config import SOURCES


def test_the_home_page_counts(app, world, admins, as_admin):
    html = as_admin().get("/admin/").get_data(as_text=True)
    assert "Operator console" in html
    assert "1 officers, 0 supervisors, 2 administrators active" in html
    assert "0 waiting for approval" in html


def test_settings_show_their_source_and_hide_secrets(app, world, admins, as_admin):
    html = as_admin().get("/admin/settings").get_data(as_text=True)
    assert app.config["SECRET_KEY"] not in html
    assert 'id="setting-SECRET_KEY"' in html
    assert "set (hidden)" in html
    assert 'id="setting-TIMEZONE"' in html
    assert app.config["TIMEZONE"] in html


def test_each_setting_names_where_it_came_from(make_app, monkeypatch, instance):
    instance.mkdir(parents=True, exist_ok=True)
    (instance / "config.py").write_text("MAIL_FROM = 'registry@example.org'\n")
    monkeypatch.setenv("PORTAL_SWEEP_MINUTES", "15")
    app = make_app(MAIL_PASSWORD="hunter2", DATABASE_URL="sqlite:///" + str(instance / "x.sqlite3"))
    shown = {s.name: s for s in settings(app.config)}
    assert app.config[SOURCES]["MAIL_FROM"] == "instance"
    assert (shown["MAIL_FROM"].value, shown["MAIL_FROM"].source) == ("registry@example.org", "instance")
    assert (shown["SWEEP_MINUTES"].value, shown["SWEEP_MINUTES"].source) == ("15", "environment")
    assert shown["MAIL_PASSWORD"].value == ""
    assert shown["MAIL_PASSWORD"].is_set
    assert shown["MAIL_PASSWORD"].source == "application"
    assert shown["LOG_FORMAT"].source == "default"
    assert not shown["TIMEZONE"].safe_to_change


def test_a_database_password_is_never_shown(app):
    shown = {s.name: s for s in settings({"DATABASE_URL": "postgresql+psycopg://portal:s3cret@db.example/portal"})}
    assert "s3cret" not in shown["DATABASE_URL"].value
    assert "db.example" in shown["DATABASE_URL"].value


def test_staff_land_on_their_work_after_signing_in(app, world):
    import pyotp

    from portal.accounts.models import Role
    from tests.accounts.helpers import login, new_user, post_form, where

    for role, email, home in (
        (Role.ADMINISTRATOR, "landing.admin@staff.example", "/admin/"),
        (Role.OFFICER, "landing.officer@staff.example", "/officer/cases"),
        (Role.SUPERVISOR, "landing.supervisor@staff.example", "/officer/cases"),
    ):
        secret = pyotp.random_base32()
        new_user(app, email, role=role, secret=secret)
        client = app.test_client()
        client.set_cookie("lang", "en")
        assert where(login(client, email)) == "/login/two-step"
        done = post_form(client, "/login/two-step", {"code": pyotp.TOTP(secret).now()})
        assert where(done) == home, role
        menu = client.get(home).get_data(as_text=True)
        assert "My credit file" not in menu, role
        assert ("Operator console" in menu) is (role is Role.ADMINISTRATOR)
