"""Key-encryption keys (KEKs) and the blind-index root key, held in files
outside the database: `kek-v<N>.key` and `index.key`, base64 of 32 random
bytes, mode 0600. A missing, unreadable or damaged file is an error, never a
reason to go on without encryption."""
from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
KEK_FILE = re.compile(r"^kek-v(\d+)\.key$")
INDEX_FILE = "index.key"
_CHECK_PLAINTEXT = b"portal key check"


class KeyringError(RuntimeError):
    """The keys cannot be used; the message says which file and what to do."""


def _write_key_file(path: Path) -> None:
    data = base64.b64encode(secrets.token_bytes(KEY_BYTES)) + b"\n"
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _read_key_file(path: Path) -> bytes:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KeyringError(f"key file {path} is missing") from None
    if os.name == "posix" and mode & 0o077:
        raise KeyringError(
            f"key file {path} is readable by other users (mode {mode & 0o777:o}); run: chmod 600 {path}"
        )
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


@dataclass
class Keyring:
    key_dir: Path
    keks: dict[int, bytes]
    index_key: bytes = field(repr=False)

    @classmethod
    def load(cls, key_dir: Path) -> Keyring:
        if not key_dir.is_dir():
            raise KeyringError(f"key folder {key_dir} does not exist; run `portal init` or restore the keys")
        keks = {}
        for path in key_dir.iterdir():
            if m := KEK_FILE.match(path.name):
                keks[int(m.group(1))] = _read_key_file(path)
        if not keks:
            raise KeyringError(f"no key-encryption key (kek-v<N>.key) in {key_dir}; run `portal init` or restore the keys")
        return cls(key_dir, keks, _read_key_file(key_dir / INDEX_FILE))

    def __repr__(self) -> str:  # never print key material
        return f"Keyring({self.key_dir}, versions={sorted(self.keks)})"

    @property
    def current_version(self) -> int:
        return max(self.keks)

    def _kek(self, version: int) -> AESGCM:
        try:
            return AESGCM(self.keks[version])
        except KeyError:
            raise KeyringError(
                f"key-encryption key v{version} is needed but {self.key_dir / f'kek-v{version}.key'} is missing"
            ) from None

    def wrap(self, key_id: object, data_key: bytes) -> tuple[int, bytes]:
        version = self.current_version
        nonce = secrets.token_bytes(NONCE_BYTES)
        aad = f"data_keys.{key_id}.kek-v{version}".encode()
        return version, nonce + self._kek(version).encrypt(nonce, data_key, aad)

    def unwrap(self, key_id: object, version: int, wrapped: bytes) -> bytes:
        aad = f"data_keys.{key_id}.kek-v{version}".encode()
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
        version = self.current_version + 1
        path = self.key_dir / f"kek-v{version}.key"
        _write_key_file(path)
        self.keks[version] = _read_key_file(path)
        return version
