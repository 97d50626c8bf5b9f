"""What a backup holds, as a tar stream inside the sealed archive: first
`manifest.json` (format, when, the database's dialect, schema revision and
the log's newest checkpoint, each member's size and SHA-256), then the
database snapshot (`database/…`), the key folder's files (`keys/…`) and the
instance config (`config/config.py`)."""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from portal.backup.archive import ArchiveError

FORMAT = 1
MANIFEST = "manifest.json"
CONFIG = "config/config.py"
MAX_MANIFEST = 1 << 20
_BLOCK = 1 << 20
_MEMBER = re.compile(r"^(database/portal\.(sqlite3|pgdump)|keys/[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}|config/config\.py)$")


@dataclass(frozen=True)
class Member:
    name: str
    path: Path


def sha256_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def members_of(database: Path, key_dir: Path, config: Path | None) -> list[Member]:
    """The files to back up: the snapshot, every file of the key folder,
    and the instance config when there is one."""
    found = [Member(f"database/{database.name}", database)]
    if key_dir.is_dir():
        found += [Member(f"keys/{p.name}", p) for p in sorted(key_dir.iterdir()) if p.is_file()]
    if config is not None and config.is_file():
        found.append(Member(CONFIG, config))
    for m in found:
        if not _MEMBER.match(m.name):
            raise ArchiveError(f"cannot back up {m.path}: its name is not one a backup may hold")
    return found


def manifest(members: Iterable[Member], dialect: str, facts: dict[str, Any]) -> dict[str, Any]:
    entries = {}
    for m in members:
        digest, size = sha256_file(m.path)
        entries[m.name] = {"sha256": digest, "size": size}
    return {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "dialect": dialect,
        **facts,
        "members": entries,
    }


def write_tar(out: IO[bytes], man: dict[str, Any], members: list[Member], progress: Callable[[int], None]) -> None:
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        body = json.dumps(man, indent=2, sort_keys=True).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mode = len(body), 0o600
        tar.addfile(info, io.BytesIO(body))
        for m in members:
            info = tarfile.TarInfo(m.name)
            info.size, info.mode = man["members"][m.name]["size"], 0o600
            with m.path.open("rb") as f:
                tar.addfile(info, f)  # a file that changed size since it was hashed fails here
            progress(info.size)


def read_tar(
    source: IO[bytes], sink: Callable[[str], IO[bytes] | None], progress: Callable[[int], None] = lambda _n: None
) -> dict[str, Any]:
    """Read the tar stream: the manifest, then each member checked against
    its size and SHA-256 (written to `sink(name)` where that gives a file).
    Returns the manifest; raises ArchiveError on the first discrepancy."""
    try:
        with tarfile.open(fileobj=source, mode="r|") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST or not first.isfile() or first.size > MAX_MANIFEST:
                raise ArchiveError("the archive holds no manifest where one belongs")
            man = _parse_manifest(tar.extractfile(first))
            expected: dict[str, Any] = man["members"]
            seen: set[str] = set()
            while (info := tar.next()) is not None:
                name = info.name
                if name not in expected or name in seen or not info.isfile():
                    raise ArchiveError(f"the archive holds {name!r}, which its manifest does not list once")
                seen.add(name)
                _check_member(name, tar.extractfile(info), expected[name], sink(name), progress)
    except tarfile.TarError as exc:
        raise ArchiveError(f"the archive's contents are not a readable tar stream: {exc}") from None
    if missing := sorted(set(expected) - seen):
        raise ArchiveError(f"the archive lacks {', '.join(missing)}, which its manifest lists")
    return man


def _parse_manifest(f: IO[bytes] | None) -> dict[str, Any]:
    try:
        man = json.loads(f.read() if f else b"")
    except ValueError:
        raise ArchiveError("the archive's manifest is not JSON") from None
    if not isinstance(man, dict) or man.get("format") != FORMAT:
        raise ArchiveError(f"unsupported manifest format {man.get('format') if isinstance(man, dict) else None!r}")
    members = man.get("members")
    if not isinstance(members, dict) or not all(
        isinstance(k, str) and _MEMBER.match(k) and isinstance(v, dict) for k, v in members.items()
    ):
        raise ArchiveError("the archive's manifest lists malformed members")
    if man.get("dialect") not in ("sqlite", "postgresql"):
        raise ArchiveError(f"the archive's manifest names an unknown database {man.get('dialect')!r}")
    return man


def _check_member(
    name: str, f: IO[bytes] | None, entry: dict[str, Any], out: IO[bytes] | None, progress: Callable[[int], None]
) -> None:
    digest, size = hashlib.sha256(), 0
    while f is not None and (block := f.read(_BLOCK)):
        digest.update(block)
        size += len(block)
        if out is not None:
            out.write(block)
        progress(len(block))
    if out is not None:
        out.close()
    if size != entry.get("size") or digest.hexdigest() != entry.get("sha256"):
        raise ArchiveError(f"{name} does not match its SHA-256 in the manifest")


def summary(man: dict[str, Any]) -> list[str]:
    """The manifest in lines for people (no key material, no data)."""
    members = man["members"]
    root, heads = man.get("log_root"), ", ".join(man.get("alembic_head", []))
    return [
        f"created at {man.get('created_at')}; {man['dialect']} database at schema {heads}",
        f"transparency log: {man.get('log_size', 0)} leaves" + (f", root {root}" if root else ""),
        *(f"  {name}  {entry['size']} bytes  sha256 {entry['sha256']}" for name, entry in sorted(members.items())),
    ]
