"""The encrypted backup container: a tar stream sealed with AES-256-GCM in
the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015, as in
age and Tink), to a recovery key or a passphrase. Every primitive is
pyca/cryptography's (argon2id: argon2-cffi).

Framing, all integers big-endian:

    magic "PORTAL-BACKUP\\0"        14 bytes
    header length                   u32
    header                          UTF-8 JSON: {"version": 1, "method": "x25519" | "passphrase",
                                    "chunk": plaintext bytes per chunk, "nonce_prefix": b64 of 7 bytes,
                                    x25519: "ephemeral", "recipient": b64 raw public keys;
                                    passphrase: "kdf": {"name": "argon2id", "salt": b64 16 bytes,
                                    "time_cost", "memory_kib", "parallelism"}}
    chunks                          AES-256-GCM(key, nonce, plaintext, aad=magic..header)

Chunk i has nonce = nonce_prefix || u32(i) || flag, flag 1 on the last
chunk only (which may be empty), 0 on the others. Each chunk but the last
holds exactly `chunk` bytes of plaintext. So a changed byte anywhere (header
included: it is every chunk's associated data), chunks reordered, dropped
or appended, and a file cut short at any point all fail authentication.

The key: x25519: HKDF-SHA256(ECDH(ephemeral, recipient), salt = ephemeral
|| recipient, info = "portal-backup v1 x25519"); passphrase: argon2id with
the header's salt and parameters, its 32-byte output."""

from __future__ import annotations

import base64
import json
import os
import secrets
import struct
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"PORTAL-BACKUP\x00"
VERSION = 1
CHUNK = 64 * 1024
TAG = 16
MAX_HEADER = 4096
HKDF_INFO = b"portal-backup v1 x25519"
PRIVATE_KEY_FILE, PUBLIC_KEY_FILE = "backup-recovery.key", "backup-recovery.pub"


class ArchiveError(Exception):
    """The archive cannot be read or written; the message says why."""


@dataclass(frozen=True)
class Argon2Params:
    """RFC 9106's second recommended setting by default (64 MiB, 3 passes)."""

    time_cost: int = 3
    memory_kib: int = 64 * 1024
    parallelism: int = 4

    def check(self) -> None:
        # Read from a header: bounded, so a crafted file cannot ask for terabytes.
        if not (
            1 <= self.time_cost <= 64
            and 1 <= self.parallelism <= 64
            and 8 * self.parallelism <= self.memory_kib <= 4 * 1024 * 1024
        ):
            raise ArchiveError(f"the archive's passphrase parameters are out of range: {asdict(self)}")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(value: Any, what: str, size: int) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (TypeError, ValueError):
        raw = b""
    if len(raw) != size:
        raise ArchiveError(f"not a portal backup: its header's {what} is malformed")
    return raw


def _argon2(passphrase: bytes, salt: bytes, p: Argon2Params) -> bytes:
    return hash_secret_raw(
        passphrase,
        salt,
        time_cost=p.time_cost,
        memory_cost=p.memory_kib,
        parallelism=p.parallelism,
        hash_len=32,
        type=Type.ID,
    )


def _x25519_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient, info=HKDF_INFO).derive(shared)


def _raw(public: X25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# -- recovery keys -------------------------------------------------------------
def write_recovery_keys(folder: Path) -> tuple[Path, Path]:
    """A new X25519 key pair: the private key (PEM, mode 0600) stays offline
    with whoever may restore; the public key is what `create --to-key` takes."""
    private, public = folder / PRIVATE_KEY_FILE, folder / PUBLIC_KEY_FILE
    for path in (private, public):
        if path.exists():
            raise ArchiveError(f"{path} already exists; refusing to replace a recovery key")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = X25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    for path, data, mode in ((private, pem, 0o600), (public, pub, 0o644)):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    return private, public


def _read_pem(path: Path, what: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ArchiveError(f"cannot read the {what} {path}: {exc.strerror or exc}") from None
    if len(data) > 16 * 1024:
        raise ArchiveError(f"{path} is not an X25519 {what} (PEM)")
    return data


def load_public_key(path: Path) -> X25519PublicKey:
    try:
        key = serialization.load_pem_public_key(_read_pem(path, "public key"))
    except ValueError:
        key = None
    if not isinstance(key, X25519PublicKey):
        raise ArchiveError(f"{path} is not an X25519 public key (PEM), as `portal backup keygen` writes")
    return key


def load_private_key(path: Path) -> X25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(_read_pem(path, "private key"), password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, X25519PrivateKey):
        raise ArchiveError(f"{path} is not an X25519 private key (PEM), as `portal backup keygen` writes")
    return key


# -- sealing ---------------------------------------------------------------------
class Recipient:
    """How an archive is sealed: to a public key, or under a passphrase."""

    def __init__(self, header: dict[str, Any], key: bytes) -> None:
        self.header, self.key = header, key

    @classmethod
    def public_key(cls, public: X25519PublicKey) -> Recipient:
        ephemeral = X25519PrivateKey.generate()
        epk, rpk = _raw(ephemeral.public_key()), _raw(public)
        key = _x25519_key(ephemeral.exchange(public), epk, rpk)
        return cls({"method": "x25519", "ephemeral": _b64(epk), "recipient": _b64(rpk)}, key)

    @classmethod
    def passphrase(cls, passphrase: bytes, params: Argon2Params | None = None) -> Recipient:
        params = params or Argon2Params()
        params.check()
        salt = secrets.token_bytes(16)
        kdf = {"name": "argon2id", "salt": _b64(salt), **asdict(params)}
        return cls({"method": "passphrase", "kdf": kdf}, _argon2(passphrase, salt, params))


class SealedWriter:
    """A write-only stream that seals what is written to `out` chunk by
    chunk; `close()` writes the final chunk (without it, the archive is cut
    short and will not open)."""

    def __init__(self, out: IO[bytes], recipient: Recipient, chunk: int = CHUNK) -> None:
        self._prefix = secrets.token_bytes(7)
        header = {"version": VERSION, **recipient.header, "chunk": chunk, "nonce_prefix": _b64(self._prefix)}
        body = json.dumps(header, sort_keys=True).encode()
        self._aad = MAGIC + struct.pack(">I", len(body)) + body
        self._out, self._aead, self._chunk = out, AESGCM(recipient.key), chunk
        self._buffer, self._counter, self.closed = bytearray(), 0, False
        out.write(self._aad)

    def _seal(self, data: bytes, final: bool) -> None:
        nonce = self._prefix + struct.pack(">IB", self._counter, 1 if final else 0)
        self._out.write(self._aead.encrypt(nonce, data, self._aad))
        self._counter += 1
        if self._counter >= 1 << 32:
            raise ArchiveError("the archive is too large for one key (2**32 chunks)")

    def write(self, data: bytes) -> int:
        self._buffer += data
        # Keep at least one byte back: only close() knows which chunk is last.
        while len(self._buffer) > self._chunk:
            self._seal(bytes(self._buffer[: self._chunk]), final=False)
            del self._buffer[: self._chunk]
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._seal(bytes(self._buffer), final=True)
            self._buffer.clear()
            self.closed = True


# -- opening ----------------------------------------------------------------------
@dataclass(frozen=True)
class Header:
    raw: bytes  # magic..header: every chunk's associated data
    fields: dict[str, Any]

    @property
    def method(self) -> str:
        return str(self.fields["method"])


def read_header(source: IO[bytes]) -> Header:
    magic = source.read(len(MAGIC))
    if magic != MAGIC:
        raise ArchiveError("not a portal backup (it does not start as one)")
    size_bytes = source.read(4)
    if len(size_bytes) != 4:
        raise ArchiveError("the archive is cut short (inside its header)")
    (size,) = struct.unpack(">I", size_bytes)
    if size > MAX_HEADER:
        raise ArchiveError("not a portal backup: its header is too large")
    body = source.read(size)
    if len(body) != size:
        raise ArchiveError("the archive is cut short (inside its header)")
    try:
        fields = json.loads(body)
    except ValueError:
        raise ArchiveError("not a portal backup: its header is not JSON") from None
    if not isinstance(fields, dict):
        raise ArchiveError("not a portal backup: its header is not an object")
    if fields.get("version") != VERSION:
        raise ArchiveError(
            f"unsupported backup format version {fields.get('version')!r}; this portal reads version {VERSION}"
        )
    if fields.get("method") not in ("x25519", "passphrase"):
        raise ArchiveError(f"unsupported encryption method {fields.get('method')!r}")
    chunk = fields.get("chunk")
    if not isinstance(chunk, int) or isinstance(chunk, bool) or not 1 <= chunk <= 16 * 1024 * 1024:
        raise ArchiveError("not a portal backup: its header's chunk size is malformed")
    return Header(magic + size_bytes + body, fields)


def key_from_private(header: Header, private: X25519PrivateKey) -> bytes:
    if header.method != "x25519":
        raise ArchiveError("this archive was sealed with a passphrase: give --passphrase-file, not --key")
    epk = _unb64(header.fields.get("ephemeral"), "ephemeral key", 32)
    rpk = _unb64(header.fields.get("recipient"), "recipient key", 32)
    if _raw(private.public_key()) != rpk:
        raise ArchiveError("wrong key: this archive was sealed to another recovery key")
    return _x25519_key(private.exchange(X25519PublicKey.from_public_bytes(epk)), epk, rpk)


def key_from_passphrase(header: Header, passphrase: bytes) -> bytes:
    if header.method != "passphrase":
        raise ArchiveError("this archive was sealed to a recovery key: give --key, not a passphrase")
    kdf = header.fields.get("kdf")
    if not isinstance(kdf, dict) or kdf.get("name") != "argon2id":
        raise ArchiveError("unsupported passphrase key derivation in the archive's header")
    try:
        params = Argon2Params(int(kdf["time_cost"]), int(kdf["memory_kib"]), int(kdf["parallelism"]))
    except (KeyError, TypeError, ValueError):
        raise ArchiveError("not a portal backup: its header's key derivation parameters are malformed") from None
    params.check()
    return _argon2(passphrase, _unb64(kdf.get("salt"), "salt", 16), params)


class OpenedReader:
    """A read-only stream of the plaintext: every chunk is authenticated
    before a byte of it is returned. Reaching the end without an error
    means the final chunk was seen, so nothing was cut off."""

    def __init__(self, source: IO[bytes], header: Header, key: bytes) -> None:
        self._source, self._header = source, header
        self._aead = AESGCM(key)
        self._prefix = _unb64(header.fields.get("nonce_prefix"), "nonce prefix", 7)
        self._size = int(header.fields["chunk"]) + TAG
        self._buffer = b""
        self._counter, self._done = 0, False
        self._pending = source.read(self._size)

    def _next_chunk(self) -> bytes:
        sealed, self._pending = self._pending, self._source.read(self._size) if self._pending else b""
        final = not self._pending
        if len(sealed) < TAG:
            raise ArchiveError("the archive is cut short or damaged")
        nonce = self._prefix + struct.pack(">IB", self._counter, 1 if final else 0)
        try:
            data = self._aead.decrypt(nonce, sealed, self._header.raw)
        except InvalidTag:
            if self._counter == 0:
                raise ArchiveError(
                    "cannot open the archive: wrong key or passphrase, or the archive was changed"
                ) from None
            raise ArchiveError(
                f"the archive is damaged, changed or cut short (chunk {self._counter} fails authentication)"
            ) from None
        if not final and len(data) != self._size - TAG:
            raise ArchiveError("the archive is damaged (a chunk of the wrong size)")
        self._counter += 1
        self._done = final
        return data

    def read(self, n: int = -1) -> bytes:
        while (n < 0 or len(self._buffer) < n) and not self._done:
            self._buffer += self._next_chunk()
        if n < 0:
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out

    def drain(self) -> None:
        """Authenticate the rest (a tar reader stops before the padding)."""
        while not self._done:
            self._next_chunk()
        self._buffer = b""
