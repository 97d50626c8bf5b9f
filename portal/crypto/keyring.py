"""Key-encryption keys (KEKs) and the blind-index root key, held in files
outside the database: `kek-v<N>.key` and `index.key`, base64 of 32 random
bytes, mode 0600. A missing, unreadable or damaged file is an error, never a
reason to go on without encryption."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from portal.crypto.errors import CryptoError

KEY_BYTES = 32
NONCE_BYTES = 12
KEK_FILE = re.compile(r"^kek-v([1-9]\d*)\.key$")
INDEX_FILE = "index.key"
_CHECK_PLAINTEXT = b"portal key check"


class KeyringError(CryptoError):
    """The keys cannot be used; the message says which file and what to do."""


def _write_key_file(path: Path) -> None:
    """Create a new key file: never over an existing one (two rotations at
    once must not replace each other's key), owner-only from the first byte,
    and durable (file and folder synced) before anything is wrapped by it."""
    data = base64.b64encode(secrets.token_bytes(KEY_BYTES)) + b"\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        raise KeyringError(f"key file {path} already exists; another rotation may be running") from None
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    if os.name == "posix":
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _read_key_file(path: Path) -> bytes:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KeyringError(f"key file {path} is missing") from None
    if os.name == "posix" and mode & 0o077:
        raise KeyringError(f"key file {path} is readable by other users (mode {mode & 0o777:o}); run: chmod 600 {path}")
    try:
        key = base64.b64decode(path.read_bytes().strip(), validate=True)
    except (OSError, binascii.Error) as exc:
        raise KeyringError(f"key file {path} is damaged: {exc}") from None
    if len(key) != KEY_BYTES:
        raise KeyringError(f"key file {path} is damaged: expected {KEY_BYTES} bytes of base64, found {len(key)}")
    return key


def init_keys(key_dir: Path) -> list[Path]:
    """Create the key folder, KEK v1 and the index key where missing.
    Returns the files it created. Existing keys are never replaced."""
    key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    created = []
    if not any(KEK_FILE.match(p.name) for p in key_dir.iterdir()):
        created.append(key_dir / "kek-v1.key")
    if not (key_dir / INDEX_FILE).exists():
        created.append(key_dir / INDEX_FILE)
    for path in created:
        _write_key_file(path)
    return created


def _read_folder(key_dir: Path) -> tuple[dict[int, bytes], bytes]:
    if not key_dir.is_dir():
        raise KeyringError(f"key folder {key_dir} does not exist; run `portal init` or restore the keys")
    keks = {}
    for path in key_dir.iterdir():
        if m := KEK_FILE.match(path.name):
            keks[int(m.group(1))] = _read_key_file(path)
    if not keks:
        raise KeyringError(f"no key-encryption key (kek-v<N>.key) in {key_dir}; run `portal init` or restore the keys")
    return keks, _read_key_file(key_dir / INDEX_FILE)


class Keyring:
    """The key files of one folder. It re-reads the folder when the folder
    changes, so a server keeps working, and wraps under the newest key, after
    another process rotated."""

    def __init__(self, key_dir: Path) -> None:
        self.key_dir = key_dir
        self._stamp = key_dir.stat().st_mtime_ns if key_dir.is_dir() else None
        self.keks, self.index_key = _read_folder(key_dir)

    @classmethod
    def load(cls, key_dir: Path) -> Keyring:
        return cls(key_dir)

    def __repr__(self) -> str:  # never print key material
        return f"Keyring({self.key_dir}, versions={sorted(self.keks)})"

    def refresh(self) -> None:
        stamp = self.key_dir.stat().st_mtime_ns if self.key_dir.is_dir() else None
        if stamp != self._stamp:
            self.keks, index_key = _read_folder(self.key_dir)
            if index_key != self.index_key:
                raise KeyringError(f"{self.key_dir / INDEX_FILE} changed while the portal was running")
            self._stamp = stamp

    @property
    def current_version(self) -> int:
        return max(self.keks)

    def _kek(self, version: int) -> AESGCM:
        if version not in self.keks:
            self.refresh()
        try:
            return AESGCM(self.keks[version])
        except KeyError:
            raise KeyringError(
                f"key-encryption key v{version} is needed but {self.key_dir / f'kek-v{version}.key'} is missing"
            ) from None

    def wrap(self, key_id: object, data_key: bytes) -> tuple[int, bytes]:
        self.refresh()
        version = self.current_version
        nonce = secrets.token_bytes(NONCE_BYTES)
        aad = f"data_keys.{key_id}.kek-v{version}".encode()
        return version, nonce + self._kek(version).encrypt(nonce, data_key, aad)

    def unwrap(self, key_id: object, version: int, wrapped: bytes) -> bytes:
        aad = f"data_keys.{key_id}.kek-v{version}".encode()
        if len(wrapped) != NONCE_BYTES + KEY_BYTES + 16:
            raise KeyringError(f"data key {key_id} is damaged: its wrapped form has {len(wrapped)} bytes")
        try:
            return self._kek(version).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], aad)
        except InvalidTag:
            raise KeyringError(
                f"data key {key_id} does not unwrap under key-encryption key v{version}: "
                f"the key file {self.key_dir / f'kek-v{version}.key'} is wrong or the stored key is damaged"
            ) from None

    def check_value(self, version: int) -> bytes:
        """A value stored in the database that proves later which key file
        this installation was set up with."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._kek(version).encrypt(nonce, _CHECK_PLAINTEXT, f"kek-check.v{version}".encode())

    def verify_check_value(self, version: int, check: bytes) -> None:
        try:
            self._kek(version).decrypt(check[:NONCE_BYTES], check[NONCE_BYTES:], f"kek-check.v{version}".encode())
        except InvalidTag:
            raise KeyringError(
                f"key file {self.key_dir / f'kek-v{version}.key'} is not the key this database was set up with"
            ) from None

    def add_version(self) -> int:
        self.refresh()
        version = self.current_version + 1
        _write_key_file(self.key_dir / f"kek-v{version}.key")
        self.refresh()
        return version

    def index_check_value(self) -> bytes:
        """Proves later that index.key is the key the blind indexes were
        made with (a replaced index key makes every look-up miss silently)."""
        return hmac.new(self.index_key, b"portal index key check", hashlib.sha256).digest()
