"""Checkpoints as C2SP signed notes (https://c2sp.org/signed-note and
https://c2sp.org/tlog-checkpoint), signed with Ed25519.

A checkpoint note:

    <origin>\\n<size>\\n<base64 root>\\n
    \\n
    — <key name> <base64(key id || signature)>\\n

The signature covers the text before the blank line. The key id is the
first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key); the verifier
key, `name+<hex key id>+base64(0x01 || public key)`, is what the portal
publishes. The private key lives in `<key folder>/log-signing.key` (base64
of the 32-byte Ed25519 seed, mode 0600), never in the database.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

# The keyring's key files follow the same rules (created exclusively,
# owner-only, synced; refused when readable by others or malformed).
from portal.crypto.keyring import KeyringError, _read_key_file, _write_key_file

KEY_FILE = "log-signing.key"
DEFAULT_ORIGIN = "credit-subject-portal.example/log"
ALG_ED25519 = b"\x01"
DASH = "\u2014"  # the em dash that starts a signature line
_NAME = re.compile(r"[^\s+]+")  # a key name: no spaces, no plus signs
_SIG_LINE = re.compile(DASH + r" (\S+) (\S+)")
_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")


class NoteError(ValueError):
    """A note or verifier key is malformed, altered, or not signed by the key."""


def _b64(text: str, what: str) -> bytes:
    """Strict base64: a note altered in a padding bit must not pass."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not base64") from None
    if base64.b64encode(raw).decode() != text:
        raise NoteError(f"{what} is not canonical base64")
    return raw


def key_id(name: str, public: bytes, alg: bytes = ALG_ED25519) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + alg + public).digest()[:4]


def _check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise NoteError(f"key name {name!r} must be non-empty, without spaces or '+'")
    return name


class Signer:
    """The log's signing key under its name (the log's origin)."""

    def __init__(self, name: str, private: Ed25519PrivateKey) -> None:
        self.name = _check_name(name)
        self._private = private
        self.public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = key_id(name, self.public)

    def __repr__(self) -> str:  # never print key material
        return f"Signer({self.name}+{self.key_id.hex()})"

    @classmethod
    def load(cls, key_dir: Path, name: str = DEFAULT_ORIGIN) -> Signer:
        path = key_dir / KEY_FILE
        if not path.exists():
            raise KeyringError(f"the log signing key {path} is missing: run `portal init`, or restore it")
        return cls(name, Ed25519PrivateKey.from_private_bytes(_read_key_file(path)))

    @property
    def vkey(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(ALG_ED25519 + self.public).decode()}"

    def sign_checkpoint(self, origin: str, size: int, root: bytes) -> str:
        """The signed note of a checkpoint. The origin must be the key name,
        as verifiers check."""
        if origin != self.name:
            raise NoteError(f"origin {origin!r} is not the signing key's name {self.name!r}")
        body = checkpoint_body(origin, size, root)
        signature = self._private.sign(body.encode())
        return f"{body}\n{signature_line(self.name, self.key_id + signature)}\n"


def create_key_file(key_dir: Path) -> Path | None:
    """Create the signing key if missing; return its path when created."""
    path = key_dir / KEY_FILE
    if path.exists():
        return None
    key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write_key_file(path)  # any 32 random bytes are an Ed25519 seed
    return path


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    if not origin or "\n" in origin:
        raise NoteError("the origin must be one non-empty line")
    if len(root) != 32 or size < 0:
        raise NoteError("a checkpoint needs a size >= 0 and a 32-byte root")
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


@dataclass(frozen=True)
class Verifier:
    name: str
    key_id: bytes
    public: Ed25519PublicKey

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        name, kid, public = parse_vkey(vkey, ALG_ED25519)
        return cls(name, kid, public)


def parse_vkey(vkey: str, alg: bytes) -> tuple[str, bytes, Ed25519PublicKey]:
    """(name, key id, public key) of a verifier key of the signature type
    `alg` (0x01 a log's Ed25519 key, 0x04 a witness's cosignature key)."""
    if not isinstance(vkey, str):
        raise NoteError("a verifier key is text: name+hexkeyid+base64key")
    parts = vkey.strip().split("+", 2)  # the base64 key may contain "+" itself
    if len(parts) != 3:
        raise NoteError("a verifier key is name+hexkeyid+base64key")
    name, hex_id, b64 = parts
    _check_name(name)
    if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
        raise NoteError("the verifier key's id is not 8 lowercase hex digits")
    kid, raw = bytes.fromhex(hex_id), _b64(b64, "the verifier key")
    if len(raw) != 33 or raw[:1] != alg:
        raise NoteError(f"the verifier key is not an Ed25519 key of type 0x{alg.hex()} with a 4-byte id")
    if key_id(name, raw[1:], alg) != kid:
        raise NoteError("the verifier key's id does not match its name and key")
    return name, kid, Ed25519PublicKey.from_public_bytes(raw[1:])


def signature_line(name: str, blob: bytes) -> str:
    """One signature line of a note (no newline): the key's name, then key
    id || signature in base64."""
    return f"{DASH} {name} {base64.b64encode(blob).decode()}"


def signature_lines(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """A signed note's text and its signatures as (key name, key id ||
    signature), none of them checked yet. Raises NoteError when the note or
    a signature line is malformed."""
    if not isinstance(note, str) or not note.endswith("\n") or "\n\n" not in note:
        raise NoteError("not a signed note: no blank line before the signatures, or no final newline")
    split = note.rindex("\n\n")
    text, lines = note[: split + 1], note[split + 2 : -1].split("\n")
    signatures = []
    for line in lines:
        m = _SIG_LINE.fullmatch(line)
        if not m:
            raise NoteError(f"malformed signature line {line!r}")
        blob = _b64(m.group(2), "a signature")
        if len(blob) < 4:
            raise NoteError("a signature is too short to hold a key id")
        signatures.append((m.group(1), blob))
    return text, signatures


def open_note(note: str, vkey: str) -> str:
    """The text of a signed note, once a signature by the key verifies.
    Signatures by other keys (witnesses) are skipped; a bad one by this
    key, or none at all, raises NoteError."""
    verifier = Verifier.parse(vkey)
    text, signatures = signature_lines(note)
    ok = False
    for name, blob in signatures:
        if name != verifier.name or blob[:4] != verifier.key_id:
            continue
        try:
            verifier.public.verify(blob[4:], text.encode())
        except InvalidSignature:
            raise NoteError(f"the signature by {verifier.name} does not verify: the note was altered") from None
        ok = True
    if not ok:
        raise NoteError(f"the note is not signed by {verifier.name}+{verifier.key_id.hex()}")
    return text


def verify_note(note: str, vkey: str) -> tuple[str, int, bytes]:
    """Check a checkpoint note against a verifier key; return (origin, size,
    root). Raises NoteError on any alteration, a missing or bad signature by
    this key, or an origin other than the key's name."""
    lines = open_note(note, vkey)[:-1].split("\n")
    if len(lines) != 3:  # we write no extension lines
        raise NoteError("a checkpoint body has exactly three lines: origin, size, root")
    origin, size_text, root_b64 = lines
    if origin != vkey.split("+", 1)[0]:
        raise NoteError(f"the checkpoint is for origin {origin!r}, not the key's name")
    if not _SIZE.fullmatch(size_text):
        raise NoteError(f"the checkpoint size {size_text!r} is not a decimal number")
    root = _b64(root_b64, "the checkpoint root")
    if len(root) != 32:
        raise NoteError("the checkpoint root is not 32 bytes")
    return origin, int(size_text), root
