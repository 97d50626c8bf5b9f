"""The witness's folder: `witness.key` (its Ed25519 seed, as the keyring
writes key files) and `witness.sqlite3` (its name, the logs it trusts, the
latest checkpoint it cosigned for each).

SQLite in WAL mode with synchronous=FULL: a commit is on disk when it
returns, so an answer sent after it is never undone by a crash. Writers take
the lock up front (BEGIN IMMEDIATE), so a check of the stored state and the
update that relies on it are never interleaved with another request's."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from portal.crypto.keyring import KeyringError, _write_key_file
from portal.transparency.cosign import Cosigner
from portal.transparency.notes import Verifier

KEY_FILE = "witness.key"
DB_FILE = "witness.sqlite3"
BUSY_TIMEOUT = 10.0  # seconds a request waits for another's write

_SCHEMA = """
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE log_keys (
    vkey TEXT PRIMARY KEY,
    origin TEXT NOT NULL,
    added_at INTEGER NOT NULL
);
CREATE INDEX log_keys_origin ON log_keys (origin);
CREATE TABLE checkpoints (
    origin TEXT PRIMARY KEY,
    size INTEGER NOT NULL CHECK (size >= 0),
    root BLOB NOT NULL CHECK (length(root) = 32),
    note TEXT NOT NULL,
    cosigned_at INTEGER NOT NULL
);
"""


class StateError(Exception):
    """The folder is not (or already) a witness's; the message says what to do."""


@dataclass(frozen=True)
class Latest:
    """The latest checkpoint cosigned for a log, and the note served for it."""

    size: int
    root: bytes
    note: str


def _connect(path: Path, create: bool = False) -> sqlite3.Connection:
    # mode=rw: opening a folder never initialised must not create an empty database.
    uri = path.absolute().as_uri() + ("?mode=rwc" if create else "?mode=rw")
    db = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT, isolation_level=None)
    db.execute("PRAGMA synchronous=FULL")
    return db


class Store:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.key_path = folder / KEY_FILE
        self.db_path = folder / DB_FILE

    @classmethod
    def create(cls, folder: Path, name: str) -> Store:
        """A new witness: its key (never over an existing one) and database."""
        store = cls(folder)
        for path in (store.key_path, store.db_path):
            if path.exists():
                raise StateError(f"{path} already exists: refusing to overwrite a witness's key or state")
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            _write_key_file(store.key_path)
        except KeyringError:
            raise StateError(f"{store.key_path} already exists: refusing to overwrite a witness's key") from None
        with closing(_connect(store.db_path, create=True)) as db:
            db.execute("PRAGMA journal_mode=WAL")  # persistent: stored in the database file
            db.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.split(";"):  # executescript would commit on its own
                if statement.strip():
                    db.execute(statement)
            db.execute("INSERT INTO settings VALUES ('name', ?), ('schema', '1')", (name,))
            db.execute("COMMIT")
        return store

    @classmethod
    def open(cls, folder: Path) -> Store:
        """The witness of an initialised folder; StateError otherwise."""
        store = cls(folder)
        if not store.key_path.exists() or not store.db_path.exists():
            raise StateError(f"{folder} is not an initialised witness folder: run `portal witness init --dir {folder}`")
        try:
            store.name()
        except sqlite3.DatabaseError as exc:
            raise StateError(f"cannot read {store.db_path}: {exc}") from None
        return store

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        with closing(_connect(self.db_path)) as db:
            yield db

    @contextmanager
    def transaction(self, db: sqlite3.Connection) -> Iterator[None]:
        """One write transaction, its lock taken before anything is read."""
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def name(self) -> str:
        with self.connect() as db:
            row = db.execute("SELECT value FROM settings WHERE key = 'name'").fetchone()
        if row is None:
            raise StateError(f"{self.db_path} holds no witness name: initialise a new folder")
        return str(row[0])

    def cosigner(self) -> Cosigner:
        try:
            return Cosigner.load(self.key_path, self.name())
        except (KeyringError, ValueError) as exc:
            raise StateError(str(exc)) from None

    def add_log_key(self, vkey: str) -> tuple[Verifier, bool]:
        """Trust a log's verifier key (its name is the log's origin). Several
        keys for one origin are kept: a log rotating its key signs with both
        for a while. Returns the key and whether it was new."""
        verifier = Verifier.parse(vkey)
        with self.connect() as db, self.transaction(db):
            added = db.execute(
                "INSERT OR IGNORE INTO log_keys VALUES (?, ?, ?)", (vkey.strip(), verifier.name, int(time.time()))
            ).rowcount
        return verifier, bool(added)

    @staticmethod
    def log_keys(db: sqlite3.Connection, origin: str) -> list[str]:
        return [r[0] for r in db.execute("SELECT vkey FROM log_keys WHERE origin = ? ORDER BY vkey", (origin,))]

    @staticmethod
    def latest(db: sqlite3.Connection, origin: str) -> Latest | None:
        row = db.execute("SELECT size, root, note FROM checkpoints WHERE origin = ?", (origin,)).fetchone()
        return None if row is None else Latest(int(row[0]), bytes(row[1]), str(row[2]))

    @staticmethod
    def put_latest(db: sqlite3.Connection, origin: str, latest: Latest) -> None:
        db.execute(
            "INSERT INTO checkpoints VALUES (?, ?, ?, ?, ?) ON CONFLICT (origin) DO UPDATE SET "
            "size = excluded.size, root = excluded.root, note = excluded.note, cosigned_at = excluded.cosigned_at",
            (origin, latest.size, latest.root, latest.note, int(time.time())),
        )

    @staticmethod
    def origins(db: sqlite3.Connection) -> list[tuple[str, int | None]]:
        """Every trusted origin with the size last cosigned (None: never)."""
        rows = db.execute(
            "SELECT k.origin, c.size FROM (SELECT DISTINCT origin FROM log_keys) k "
            "LEFT JOIN checkpoints c ON c.origin = k.origin ORDER BY k.origin"
        )
        return [(str(origin), None if size is None else int(size)) for origin, size in rows]
