"""Making, checking and restoring a backup. Nothing is half-written: an
archive appears under its name only when complete, and a restore writes
nothing until the whole archive has been authenticated and every member
matched its hash."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine

from portal.backup import contents, snapshot
from portal.backup.archive import ArchiveError, Header, OpenedReader, Recipient, SealedWriter, read_header

Progress = Callable[[int], None]


def _quiet(_n: int) -> None:
    pass


@contextlib.contextmanager
def _private_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="portal-backup-"))  # mode 0700
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class _Counting:
    """Counts the bytes that pass for a progress bar."""

    def __init__(self, inner: Any, progress: Progress) -> None:
        self._inner, self._progress = inner, progress

    def write(self, data: bytes) -> int:
        self._progress(len(data))
        return int(self._inner.write(data))

    def read(self, n: int = -1) -> bytes:
        data: bytes = self._inner.read(n)
        self._progress(len(data))
        return data


def refuse_existing(out: Path, force: bool) -> None:
    if out.is_dir():
        raise ArchiveError(f"{out} is a folder; give the archive's file name")
    if out.exists() and not force:
        raise ArchiveError(f"{out} already exists; give --force to replace it")
    if not out.parent.is_dir():
        raise ArchiveError(f"the folder {out.parent} does not exist")


def create(
    engine: Engine,
    key_dir: Path,
    config: Path,
    out: Path,
    recipient: Recipient,
    *,
    force: bool = False,
    progress: Callable[[int], Progress] | None = None,
) -> dict[str, Any]:
    """Snapshot, seal and write the archive to `out` (via a temp file
    beside it, renamed when complete). `progress(total)` gives a callback
    for the bytes written. Returns the manifest."""
    refuse_existing(out, force)
    with _private_dir() as work:
        snap = snapshot.take(engine, work)
        members = contents.members_of(snap.path, key_dir, config)
        man = contents.manifest(members, snap.dialect, snap.facts)
        step = progress(sum(m["size"] for m in man["members"].values())) if progress else _quiet
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)  # mode 0600
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as f:
                writer = SealedWriter(f, recipient)
                contents.write_tar(writer, man, members, step)  # type: ignore[arg-type]  # write-only stream
                writer.close()
                f.flush()
                os.fsync(f.fileno())
            if force:
                os.replace(tmp, out)
            else:
                os.link(tmp, out)  # fails if the name was taken meanwhile
                tmp.unlink()
        except FileExistsError:
            tmp.unlink(missing_ok=True)
            raise ArchiveError(f"{out} already exists; give --force to replace it") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return man


def open_header(path: Path) -> Header:
    try:
        with path.open("rb") as f:
            return read_header(f)
    except OSError as exc:
        raise ArchiveError(f"cannot read {path}: {exc.strerror or exc}") from None


def read(
    path: Path,
    key: bytes,
    sink: Callable[[str], IO[bytes] | None] = lambda _name: None,
    progress: Callable[[int], Progress] | None = None,
) -> dict[str, Any]:
    """Decrypt and check the whole archive (every chunk, every member's
    hash), handing members to `sink`. Returns the manifest."""
    try:
        f = path.open("rb")
    except OSError as exc:
        raise ArchiveError(f"cannot read {path}: {exc.strerror or exc}") from None
    with f:
        step = progress(path.stat().st_size) if progress else _quiet
        source = _Counting(f, step)
        header = read_header(source)  # type: ignore[arg-type]  # read-only stream
        reader = OpenedReader(source, header, key)  # type: ignore[arg-type]
        man = contents.read_tar(reader, sink)  # type: ignore[arg-type]
        reader.drain()
    return man


# -- restore ------------------------------------------------------------------
@dataclass
class Target:
    """Where a restore goes: the configured database, key folder and config."""

    engine: Engine
    key_dir: Path
    config: Path

    def not_empty(self) -> list[str]:
        """Why the target is not an empty instance (nothing: it is)."""
        why = []
        if tables := snapshot.tables_with_rows(self.engine):
            why.append(f"the database has rows in {', '.join(sorted(tables))}")
        if self.key_dir.is_dir() and (files := sorted(p.name for p in self.key_dir.iterdir())):
            why.append(f"the key folder {self.key_dir} holds {', '.join(files)}")
        return why


@dataclass
class Restored:
    manifest: dict[str, Any]
    database: str
    keys: list[Path] = field(default_factory=list)
    config: Path | None = None
    config_note: str | None = None


def restore(target: Target, path: Path, key: bytes, progress: Callable[[int], Progress] | None = None) -> Restored:
    """Unpack into a private folder while authenticating, then install the
    database, key files and config into the empty target. A failure before
    the end removes what this restore installed."""
    if why := target.not_empty():
        raise ArchiveError("refusing to restore into an instance that is not empty: " + "; ".join(why))
    with _private_dir() as work:

        def sink(name: str) -> IO[bytes]:
            dest = work / name
            dest.parent.mkdir(mode=0o700, exist_ok=True)
            return dest.open("xb")

        man = read(path, key, sink, progress)
        dialect = target.engine.dialect.name
        if man["dialect"] != dialect:
            raise ArchiveError(f"the archive holds a {man['dialect']} database; the configured one is {dialect}")
        dump = next(work / n for n in man["members"] if n.startswith("database/"))
        if dialect == "sqlite":
            database = f"SQLite database {snapshot.install_sqlite(target.engine, dump)}"
        else:
            snapshot.pg_restore(target.engine, dump)
            database = f"PostgreSQL database {target.engine.url.database}"
        done = Restored(man, database)
        try:
            done.keys = _install_keys(work / "keys", target.key_dir)
            done.config, done.config_note = _install_config(work / contents.CONFIG, target.config)
        except OSError as exc:
            for p in done.keys:
                p.unlink(missing_ok=True)
            if dialect == "sqlite":
                snapshot.remove_sqlite(target.engine)
                note = ""
            else:
                note = f"; the database {target.engine.url.database} was loaded: empty it before trying again"
            raise ArchiveError(f"cannot write the restored files: {exc}{note}") from None
    return done


def _install_keys(source: Path, key_dir: Path) -> list[Path]:
    key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key_dir.chmod(0o700)
    written = []
    for src in sorted(source.iterdir()) if source.is_dir() else []:
        dest = key_dir / src.name
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        written.append(dest)
        with os.fdopen(fd, "wb") as f:
            f.write(src.read_bytes())
            os.fsync(f.fileno())
    return written


def _install_config(source: Path, config: Path) -> tuple[Path | None, str | None]:
    """The backed-up config becomes the instance's, unless the instance has
    one of its own already: then it is put beside it to compare."""
    if not source.exists():
        return None, "the backup holds no instance config"
    data = source.read_bytes()
    dest = config
    if config.exists():
        if config.read_bytes() == data:
            return config, None
        dest = config.with_name(config.name + ".restored")
    config.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    if dest != config:
        return dest, f"{config} was kept; the backed-up config is in {dest}: carry over its SECRET_KEY and settings"
    return dest, None
