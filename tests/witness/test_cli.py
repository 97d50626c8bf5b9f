"""`portal witness ...` as the witness's operator uses it: refusals are one
line and a non-zero exit, never a traceback, and nothing is half-written."""

from __future__ import annotations

import stat

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from portal.transparency.cosign import Witness
from portal.transparency.notes import Signer
from portal.witness.cli import witness
from portal.witness.state import DB_FILE, KEY_FILE, Store

from .conftest import portal


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def run(*args):
    return CliRunner().invoke(witness, [str(a) for a in args])


def refused(result, message: str) -> None:
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), result.exception  # not a crash
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "w"
    result = run("init", "--dir", path, "--name", "witness.example/w1")
    assert result.exit_code == 0, result.output
    return path


def log_vkey(name: str = "log.example/log") -> str:
    return Signer(name, Ed25519PrivateKey.generate()).vkey


def test_the_portal_command_runs_the_witness_without_the_portals_app(tmp_path, broken_portal_config):
    folder = tmp_path / "w"
    vkey = portal("witness", "init", "--dir", folder, "--name", "witness.example/w1").stdout.strip()
    assert Witness.parse(vkey).name == "witness.example/w1"
    assert portal("witness", "key", "--dir", folder).stdout.strip() == vkey
    assert "now trusted" in portal("witness", "add-log", "--dir", folder, log_vkey()).stdout
    # The same environment stops any command of the portal itself.
    assert "TIMEZONE" in portal("outbox", "deliver", check=False).stderr


def test_init_creates_a_private_folder_key_and_database(tmp_path):
    path = tmp_path / "new" / "w"
    result = run("init", "--dir", path, "--name", "witness.example/w1")
    assert result.exit_code == 0, result.output
    vkey = result.stdout.strip()
    assert Witness.parse(vkey).name == "witness.example/w1"
    assert mode(path) == 0o700
    assert mode(path / KEY_FILE) == 0o600
    assert (path / DB_FILE).exists()
    assert run("key", "--dir", path).stdout.strip() == vkey


def test_init_twice_refuses_to_overwrite_the_key(folder):
    key = (folder / KEY_FILE).read_bytes()
    vkey = run("key", "--dir", folder).stdout.strip()
    refused(run("init", "--dir", folder, "--name", "witness.example/w2"), "refusing to overwrite")
    assert (folder / KEY_FILE).read_bytes() == key
    assert run("key", "--dir", folder).stdout.strip() == vkey


def test_init_refuses_over_a_lone_database_too(folder):
    (folder / KEY_FILE).unlink()
    refused(run("init", "--dir", folder, "--name", "witness.example/w1"), "already exists")
    assert not (folder / KEY_FILE).exists()


@pytest.mark.parametrize("name", ["two words", "a+b", ""])
def test_init_refuses_a_name_that_is_not_a_key_name(tmp_path, name):
    refused(run("init", "--dir", tmp_path / "w", "--name", name), "--name")
    assert not (tmp_path / "w").exists()


@pytest.mark.parametrize(
    "vkey", ["garbage", "log.example/log+00000000+AAAA", "log.example/log+0000000+AQ==", "two words+00000000+AQ=="]
)
def test_add_log_refuses_a_malformed_key_and_writes_nothing(folder, vkey):
    refused(run("add-log", "--dir", folder, vkey), "not a log verifier key")
    with Store.open(folder).connect() as db:
        assert Store.origins(db) == []


def test_add_log_refuses_a_witness_key(folder):
    witness_vkey = run("key", "--dir", folder).stdout.strip()
    refused(run("add-log", "--dir", folder, witness_vkey), "not a log verifier key")


def test_add_log_trusts_a_key_once_and_keeps_a_rotated_one(folder):
    first, second = log_vkey(), log_vkey()
    assert "now trusted" in run("add-log", "--dir", folder, first).output
    assert "already trusted" in run("add-log", "--dir", folder, first).output
    assert "now trusted" in run("add-log", "--dir", folder, second).output
    with Store.open(folder).connect() as db:
        assert sorted(Store.log_keys(db, "log.example/log")) == sorted([first, second])
        assert Store.origins(db) == [("log.example/log", None)]


@pytest.mark.parametrize("command", [["serve"], ["key"], ["add-log", log_vkey()]])
def test_commands_refuse_a_folder_never_initialised(tmp_path, command):
    refused(run(*command, "--dir", tmp_path / "nothing"), "not an initialised witness folder")
    assert not (tmp_path / "nothing").exists()


def test_serve_refuses_a_folder_holding_a_file_only(tmp_path):
    (tmp_path / "w").write_text("not a folder")
    result = run("serve", "--dir", tmp_path / "w")
    assert result.exit_code != 0
    assert "Traceback" not in result.output
