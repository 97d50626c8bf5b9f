"""`portal init` creates the log signing key, once, and never replaces the
key that stored checkpoints were signed with."""

from __future__ import annotations

import stat

from portal.transparency.notes import KEY_FILE

from .helpers import fill


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_the_signing_key_once(make_app, instance):
    app = make_app(keys=False, DATABASE_URL=f"sqlite:///{instance / 'db.sqlite3'}")
    result = app.test_cli_runner().invoke(args=["init"])
    assert result.exit_code == 0, result.output
    key = instance / "keys" / KEY_FILE
    assert f"created {key} (mode 0600)" in result.output
    assert mode(key) == 0o600
    before = key.read_bytes()
    again = app.test_cli_runner().invoke(args=["init"])
    assert again.exit_code == 0, again.output
    assert KEY_FILE not in again.output
    assert key.read_bytes() == before


def test_init_refuses_to_replace_a_lost_key(make_app, instance):
    app = make_app(DATABASE_URL=f"sqlite:///{instance / 'db.sqlite3'}")
    assert app.test_cli_runner().invoke(args=["init"]).exit_code == 0
    fill(app, 3, checkpoints=(3,))
    (instance / "keys" / KEY_FILE).unlink()
    result = app.test_cli_runner().invoke(args=["init"])
    assert result.exit_code != 0
    assert "restore it; refusing to create a new one" in result.output
    assert not (instance / "keys" / KEY_FILE).exists()


def test_init_refuses_another_key(make_app, instance):
    app = make_app(DATABASE_URL=f"sqlite:///{instance / 'db.sqlite3'}")
    assert app.test_cli_runner().invoke(args=["init"]).exit_code == 0
    fill(app, 3, checkpoints=(3,))
    key = instance / "keys" / KEY_FILE
    key.write_text("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")  # another 32-byte key
    app.extensions.pop("portal.log_signer", None)
    result = app.test_cli_runner().invoke(args=["init"])
    assert result.exit_code != 0
    assert "is not the key the log's checkpoints were signed with" in result.output
