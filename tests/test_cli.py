"""The `portal` command as an operator uses it."""

import json
import runpy
import stat

import pytest
from sqlalchemy import func, select

from portal.crypto.models import KekVersion
from portal.extensions import session
from portal.records.models import Subject


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_config_and_keys_then_is_idempotent(make_app, instance):
    app = make_app(keys=False, SECRET_KEY=None, DATABASE_URL=f"sqlite:///{instance / 'db.sqlite3'}")
    result = app.test_cli_runner().invoke(args=["init"])
    assert result.exit_code == 0, result.output
    assert "SECRET_KEY" in (instance / "config.py").read_text()
    app.extensions["portal.db"].dispose()
    for name in ("config.py", "keys/kek-v1.key", "keys/index.key", "db.sqlite3"):
        assert mode(instance / name) == 0o600, name
    assert mode(instance / "keys") == 0o700
    before = {p.name: p.read_bytes() for p in (instance / "keys").iterdir()}
    config_before = (instance / "config.py").read_text()

    again = app.test_cli_runner().invoke(args=["init"])
    assert again.exit_code == 0, again.output
    assert "created" not in again.output
    assert {p.name: p.read_bytes() for p in (instance / "keys").iterdir()} == before
    assert (instance / "config.py").read_text() == config_before
    with app.app_context():
        assert session().scalars(select(KekVersion.version)).all() == [1]


def test_demo_loads_once_and_writes_credentials(app, runner, instance):
    result = runner.invoke(args=["demo", "--subjects", "30", "--seed", "3"])
    assert result.exit_code == 0, result.output
    creds = json.loads((instance / "demo-credentials.json").read_text(encoding="utf-8"))
    assert mode(instance / "demo-credentials.json") == 0o600
    roles = {login["role"] for login in creds["logins"]}
    assert roles == {"person", "firm_representative", "firm_agent", "officer", "supervisor", "administrator"}
    for login in creds["logins"]:
        assert login["login"] in result.output
        assert login["password"] in result.output
        needs_totp = login["role"] != "person"  # staff, and those who act for a firm
        assert bool(login["totp_secret"]) == needs_totp, login["role"]
    assert all(inst["api_keys"] for inst in creds["institutions"])
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(Subject)) == 30

    again = runner.invoke(args=["demo", "--subjects", "30"])
    assert again.exit_code != 0
    assert "already holds 30 subjects" in again.output
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(Subject)) == 30


def test_bad_arguments_are_refused_clearly(runner):
    result = runner.invoke(args=["demo", "--subjects", "-5"])
    assert result.exit_code == 2
    assert "--subjects" in result.output
    result = runner.invoke(args=["serve", "--port", "99999"])
    assert result.exit_code == 2
    assert "--port" in result.output


def test_keys_status_counts_data_keys(app, runner):
    assert runner.invoke(args=["demo", "--subjects", "20"]).exit_code == 0
    result = runner.invoke(args=["keys", "status"])
    assert result.exit_code == 0, result.output
    # 20 subjects + 10 institutions + 7 demo logins + the 4 persons of the demo
    # cases, each with its own data key
    assert "v1: 41 data keys, key file present" in result.output


def test_serve_refuses_an_unmigrated_database(make_app, tmp_path):
    app = make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    result = app.test_cli_runner().invoke(args=["serve", "--check"])
    assert result.exit_code != 0
    assert "portal init" in result.output


def test_serve_on_a_fresh_folder_says_to_run_init(make_app):
    app = make_app(keys=False, DATABASE_URL=None)
    result = app.test_cli_runner().invoke(args=["serve", "--check"])
    assert result.exit_code != 0
    assert "run `portal init`" in result.output


def test_serve_check_passes_on_an_initialised_portal(app, runner):
    assert runner.invoke(args=["init"]).exit_code == 0
    result = runner.invoke(args=["serve", "--check"])
    assert result.exit_code == 0, result.output
    assert "ready to serve" in result.output


def test_serve_refuses_without_the_document_signing_key(make_app):
    """Reports and letters are signed: without the key they would fail at
    the first download, so the portal does not start."""
    from portal.signing import KEY_FILE

    app = make_app()
    assert app.test_cli_runner().invoke(args=["init"]).exit_code == 0
    (app.config["KEY_DIR"] / KEY_FILE).unlink()
    result = app.test_cli_runner().invoke(args=["serve", "--check"])
    assert result.exit_code != 0
    assert "document-signing key" in result.output


def test_demo_refuses_a_database_with_users_or_institutions(app, runner):
    from portal.accounts.models import Role
    from portal.accounts.services import create_user
    from portal.extensions import vault

    with app.app_context():
        vault().register_versions(session())
        create_user(session(), vault(), role=Role.ADMINISTRATOR, email="real@admin.example", display_name="x")
        session().commit()
    result = runner.invoke(args=["demo", "--subjects", "20"])
    assert result.exit_code != 0
    assert "already holds" in result.output
    assert "users or institutions" in result.output


def test_credentials_file_is_made_private_even_if_it_existed(app, runner, instance):
    instance.mkdir(parents=True, exist_ok=True)
    (instance / "demo-credentials.json").write_text("old")
    (instance / "demo-credentials.json").chmod(0o644)
    assert runner.invoke(args=["demo", "--subjects", "20"]).exit_code == 0
    assert mode(instance / "demo-credentials.json") == 0o600


def test_init_adds_a_secret_key_to_a_config_without_one(make_app, instance):
    instance.mkdir(parents=True, exist_ok=True)
    (instance / "config.py").write_text("MAIL_SERVER = 'localhost'\n")
    app = make_app(SECRET_KEY=None)
    assert not app.config["SECRET_KEY"]
    assert app.test_cli_runner().invoke(args=["init"]).exit_code == 0
    text = (instance / "config.py").read_text()
    assert "MAIL_SERVER = 'localhost'" in text
    assert "SECRET_KEY = " in text
    assert len(runpy.run_path(str(instance / "config.py"))["SECRET_KEY"]) >= 40


@pytest.mark.parametrize(
    ("host", "settings", "serves"),
    [
        ("127.0.0.1", {}, True),  # a local try-out: links to the loopback address it serves on
        ("0.0.0.0", {}, False),  # noqa: S104 - reached from elsewhere: links to 0.0.0.0 would be useless
        ("127.0.0.1", {"PROXY_COUNT": 1}, False),  # behind a proxy, people reach another address
        ("0.0.0.0", {"PUBLIC_URL": "https://portal.example"}, True),  # noqa: S104
    ],
)
def test_serve_refuses_to_build_links_on_an_address_nobody_reaches(make_app, host, settings, serves):
    app = make_app(**{"PUBLIC_URL": None, **settings})
    runner = app.test_cli_runner()
    assert runner.invoke(args=["init"]).exit_code == 0
    result = runner.invoke(args=["serve", "--host", host, "--check"])
    assert (result.exit_code == 0) is serves, result.output
    if not serves:
        assert "set PORTAL_PUBLIC_URL" in result.output
