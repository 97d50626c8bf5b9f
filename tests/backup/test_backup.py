"""`portal backup`: a real instance (a subject, a record, an access event in
the signed log, made through the services) backed up, checked and restored
into a fresh instance through the command line; damaged archives, wrong
keys and occupied targets refused, leaving nothing behind."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pytest
from flask.cli import ScriptInfo
from sqlalchemy import select
from sqlalchemy.engine import make_url

from portal import create_app
from portal.audit.events import record_event
from portal.audit.models import EventKind
from portal.backup import services
from portal.backup.archive import CHUNK, MAGIC, TAG, Recipient, read_header
from portal.backup.snapshot import SnapshotError, pg_environment
from portal.db import make_engine
from portal.extensions import session, vault
from portal.records.models import CreditRecord, RecordVersion, Subject
from portal.records.services import current_version, open_payload, view_subject
from portal.transparency.models import Checkpoint
from tests import factories as make

pytestmark = pytest.mark.committing  # instances and databases of their own, committed for real

PASSPHRASE = "correct horse battery staple"
SUITE_URL = os.environ.get("PORTAL_TEST_DATABASE_URL", "")
KINDS = ["sqlite"] + (["postgresql"] if SUITE_URL.startswith("postgresql") else [])


class Databases:
    """Scratch databases of one kind, made here and dropped after."""

    def __init__(self, kind: str, folder: Path) -> None:
        self.kind, self.folder, self.made = kind, folder, []
        if kind == "postgresql":
            url = make_url(SUITE_URL)
            self.base = url
            self.admin = make_engine(
                url.set(database="postgres").render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
            )

    def new(self, name: str) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.folder / name / 'portal.sqlite3'}"
        db = f"portal_test_backup_{os.getpid()}_{name}"
        with self.admin.connect() as c:
            c.exec_driver_sql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
            c.exec_driver_sql(f"CREATE DATABASE {db}")
        self.made.append(db)
        return self.base.set(database=db).render_as_string(hide_password=False)

    def drop(self) -> None:
        if self.kind == "postgresql":
            with self.admin.connect() as c:
                for db in self.made:
                    c.exec_driver_sql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
            self.admin.dispose()


class Instance:
    """An instance folder and database; `portal(...)` runs the command line
    on it as an operator would (settings from the environment and the
    instance's config.py)."""

    def __init__(self, folder: Path, url: str, mp: pytest.MonkeyPatch) -> None:
        self.folder, self.url, self.mp = folder, url, mp

    def use(self) -> None:
        for name in [n for n in os.environ if n.startswith("PORTAL_")]:
            self.mp.delenv(name)
        self.mp.setenv("PORTAL_INSTANCE_PATH", str(self.folder))
        self.mp.setenv("PORTAL_DATABASE_URL", self.url)

    def portal(self, *args: str):
        self.use()
        app = create_app()
        try:
            return app.test_cli_runner().invoke(args=list(args), obj=ScriptInfo(create_app=create_app))
        finally:
            app.extensions["portal.db"].dispose()

    def app(self):
        self.use()
        return create_app()


def _fill(inst: Instance) -> None:
    """A subject with a record and an access event, in the signed log."""
    app = inst.app()
    with app.app_context():
        s, v = session(), vault()
        v.register_versions(s)
        bank = make.institution(s, v, "backup-bank")
        person = make.person(s, v, make.PERSON_A, "张三")
        make.record(s, v, bank, person, "BK-LOAN-1")
        record_event(s, v, person, EventKind.SELF_QUERY, detail={})
        s.commit()
        assert make.integrate(s) >= 1
    app.extensions["portal.db"].dispose()


@pytest.fixture(scope="module", params=KINDS)
def world(request, tmp_path_factory):
    """One filled instance of the kind and its archives, for the module."""
    kind = request.param
    folder = tmp_path_factory.mktemp(f"backup-{kind}")
    dbs = Databases(kind, folder)
    with pytest.MonkeyPatch.context() as mp:
        src = Instance(folder / "src", dbs.new("src"), mp)
        made = src.portal("init")
        assert made.exit_code == 0, made.output
        _fill(src)
        (folder / "passphrase").write_text(PASSPHRASE + "\n")
        made = src.portal("backup", "create", str(folder / "pass.pbk"), "--passphrase-file", str(folder / "passphrase"))
        assert made.exit_code == 0, made.output
        keys = src.portal("backup", "keygen", str(folder / "recovery"))
        assert keys.exit_code == 0, keys.output
        made = src.portal(
            "backup", "create", str(folder / "key.pbk"), "--to-key", str(folder / "recovery/backup-recovery.pub")
        )
        assert made.exit_code == 0, made.output
        yield {"kind": kind, "folder": folder, "dbs": dbs, "src": src, "mp": mp}
        dbs.drop()


@pytest.fixture
def target(world, tmp_path):
    """A fresh, empty instance of the world's kind."""
    with pytest.MonkeyPatch.context() as mp:
        name = tmp_path.name.replace("-", "_").lower()[-30:]
        url = (
            world["dbs"].new(f"dst_{name}")
            if world["kind"] == "postgresql"
            else f"sqlite:///{tmp_path / 'dst' / 'portal.sqlite3'}"
        )
        yield Instance(tmp_path / "dst", url, mp)


def _empty(inst: Instance) -> bool:
    """Nothing restored: no key folder, no config, no rows."""
    if (inst.folder / "keys").exists() or (inst.folder / "config.py").exists():
        return False
    engine = make_engine(inst.url)
    try:
        from portal.backup.snapshot import tables_with_rows

        return not tables_with_rows(engine)
    finally:
        engine.dispose()


def test_round_trip_restores_data_keys_and_log(world, target):
    folder, note = world["folder"], target.folder.parent / "checkpoint.note"
    app = world["src"].app()
    with app.app_context():  # the log's newest signed checkpoint, as kept outside the portal
        note.write_text(session().scalars(select(Checkpoint).order_by(Checkpoint.size.desc())).first().note)
    app.extensions["portal.db"].dispose()
    passphrase = str(folder / "passphrase")
    done = target.portal(
        "backup", "restore", str(folder / "pass.pbk"), "--passphrase-file", passphrase, "--against", str(note)
    )
    assert done.exit_code == 0, done.output
    assert f"held by {note}" in done.output
    assert "restore complete: every check passed" in done.output
    assert "key files match the database" in done.output
    keys = target.folder / "keys"
    assert oct(keys.stat().st_mode & 0o777) == "0o700"
    assert {p.name for p in keys.iterdir()} >= {"kek-v1.key", "index.key", "log-signing.key", "document-signing.key"}
    assert all(p.stat().st_mode & 0o077 == 0 for p in keys.iterdir())
    assert (target.folder / "config.py").read_bytes() == (world["src"].folder / "config.py").read_bytes()

    app = target.app()  # the restored instance as the portal will load it
    with app.app_context():
        s, v = session(), vault()
        subject = s.scalars(select(Subject)).one()
        assert view_subject(s, v, subject).name == "张三"
        record = s.scalars(select(CreditRecord)).one()
        version: RecordVersion = current_version(s, record)
        assert open_payload(v.cipher(s, subject.data_key_id), version)["principal"] == "50000.00"
    app.extensions["portal.db"].dispose()
    audit = target.portal("audit", "verify")
    assert audit.exit_code == 0, audit.output
    assert "log verified" in audit.output


def test_recovery_key_verifies_and_another_key_is_refused(world, tmp_path):
    folder, src = world["folder"], world["src"]
    assert oct((folder / "recovery/backup-recovery.key").stat().st_mode & 0o777) == "0o600"
    ok = src.portal("backup", "verify", str(folder / "key.pbk"), "--key", str(folder / "recovery/backup-recovery.key"))
    assert ok.exit_code == 0, ok.output
    assert "backup verified" in ok.output
    assert "keys/kek-v1.key" in ok.output
    assert "leaves" in ok.output
    assert src.portal("backup", "keygen", str(tmp_path / "other")).exit_code == 0
    wrong = src.portal(
        "backup", "verify", str(folder / "key.pbk"), "--key", str(tmp_path / "other/backup-recovery.key")
    )
    assert wrong.exit_code == 1
    assert "wrong key" in wrong.output
    again = src.portal("backup", "keygen", str(folder / "recovery"))
    assert again.exit_code == 1
    assert "already exists" in again.output


def test_wrong_passphrase_is_refused_and_nothing_restored(world, target, tmp_path):
    (tmp_path / "wrong").write_text("not the passphrase at all\n")
    done = target.portal(
        "backup", "restore", str(world["folder"] / "pass.pbk"), "--passphrase-file", str(tmp_path / "wrong")
    )
    assert done.exit_code == 1
    assert "wrong key or passphrase" in done.output
    assert _empty(target)


def _archive_offsets(path: Path) -> tuple[int, int]:
    """Where the chunks start, and the archive's size."""
    with path.open("rb") as f:
        header = read_header(f)
    return len(header.raw), path.stat().st_size


@pytest.mark.parametrize(
    "damage",
    [
        "flip header",
        "flip middle",
        "flip last byte",
        "cut at chunk boundary",
        "cut mid chunk",
        "drop a chunk",
        "append",
    ],
)
def test_damaged_archive_is_detected_and_nothing_restored(world, target, tmp_path, damage):
    original = world["folder"] / "pass.pbk"
    start, size = _archive_offsets(original)
    data = bytearray(original.read_bytes())
    sealed = CHUNK + TAG
    assert size - start > sealed  # more than one chunk
    if damage.startswith("flip"):
        at = {"flip header": start - 3, "flip middle": size // 2, "flip last byte": size - 1}[damage]
        data[at] ^= 0x01
    elif damage == "cut at chunk boundary":
        del data[start + sealed :]
    elif damage == "cut mid chunk":
        del data[size - 100 :]
    elif damage == "drop a chunk":
        del data[start : start + sealed]
    else:
        data += os.urandom(TAG + 10)
    damaged = tmp_path / "damaged.pbk"
    damaged.write_bytes(bytes(data))
    passphrase = str(world["folder"] / "passphrase")
    checked = world["src"].portal("backup", "verify", str(damaged), "--passphrase-file", passphrase)
    assert checked.exit_code == 1
    assert "backup NOT verified" in checked.output
    done = target.portal("backup", "restore", str(damaged), "--passphrase-file", passphrase)
    assert done.exit_code == 1
    assert "nothing restored" in done.output
    assert _empty(target)
    assert not (target.folder / "portal.sqlite3").exists() or world["kind"] == "postgresql"


def test_not_an_archive_and_unsupported_version_are_refused(world, tmp_path):
    src, passphrase = world["src"], str(world["folder"] / "passphrase")
    (tmp_path / "notes.txt").write_text("just some text\n")
    done = src.portal("backup", "verify", str(tmp_path / "notes.txt"), "--passphrase-file", passphrase)
    assert done.exit_code == 1
    assert "not a portal backup" in done.output
    body = json.dumps({"version": 2, "method": "passphrase", "chunk": CHUNK}).encode()
    (tmp_path / "future.pbk").write_bytes(MAGIC + struct.pack(">I", len(body)) + body + b"\0" * 64)
    done = src.portal("backup", "verify", str(tmp_path / "future.pbk"), "--passphrase-file", passphrase)
    assert done.exit_code == 1
    assert "unsupported backup format version 2" in done.output


def test_restore_into_a_non_empty_instance_is_refused(world):
    src, folder = world["src"], world["folder"]
    before = sorted(p.name for p in (src.folder / "keys").iterdir())
    done = src.portal("backup", "restore", str(folder / "pass.pbk"), "--passphrase-file", str(folder / "passphrase"))
    assert done.exit_code == 1
    assert "not empty" in done.output
    assert "subjects" in done.output
    assert "kek-v1.key" in done.output
    assert sorted(p.name for p in (src.folder / "keys").iterdir()) == before


def test_existing_output_is_kept_unless_forced(world):
    src, folder = world["src"], world["folder"]
    out = folder / "existing.pbk"
    out.write_bytes(b"keep me")
    args = ("backup", "create", str(out), "--passphrase-file", str(folder / "passphrase"))
    done = src.portal(*args)
    assert done.exit_code == 1
    assert "already exists" in done.output
    assert out.read_bytes() == b"keep me"
    assert src.portal(*args, "--force").exit_code == 0
    assert out.read_bytes().startswith(MAGIC)
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]  # no temp file left
    short = folder / "short"
    short.write_text("short\n")
    done = src.portal("backup", "create", str(folder / "weak.pbk"), "--passphrase-file", str(short))
    assert done.exit_code == 1
    assert "too short" in done.output
    assert not (folder / "weak.pbk").exists()


def test_missing_pg_dump_is_a_clear_error_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump there
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/portal_test_backup_none")
    out = tmp_path / "b.pbk"
    with pytest.raises(SnapshotError, match="pg_dump is not on PATH"):
        services.create(engine, tmp_path / "keys", tmp_path / "config.py", out, Recipient.passphrase(b"x" * 12))
    assert list(tmp_path.iterdir()) == []


def test_connection_parameters_go_to_pg_dump_in_its_environment():
    env = pg_environment(make_url("postgresql+psycopg://alice:s3cret@db.example:5433/portal?sslmode=require"))
    assert (env["PGHOST"], env["PGPORT"], env["PGUSER"], env["PGPASSWORD"]) == ("db.example", "5433", "alice", "s3cret")
    assert (env["PGDATABASE"], env["PGSSLMODE"]) == ("portal", "require")
    with pytest.raises(SnapshotError, match="'weird'"):
        pg_environment(make_url("postgresql+psycopg://alice@db.example/portal?weird=1"))
