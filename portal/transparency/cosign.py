"""Witness cosignatures on checkpoints (https://c2sp.org/tlog-cosignature,
Ed25519, signature type 0x04).

A witness signs `cosignature/v1\\ntime <t>\\n` followed by the checkpoint's
text (the note before its blank line), `t` being seconds since the epoch.
Its signature line is `— <witness name> base64(key id || uint64 t ||
signature)`, the key id being the first 4 bytes of SHA-256(name || 0x0A ||
0x04 || public key), and its verifier key `name+<hex key id>+base64(0x04 ||
public key)`. A cosignature says: this witness saw this checkpoint at time
t and had seen no checkpoint of the log inconsistent with it.

A client trusts a checkpoint once enough of the witnesses it knows vouch
for it (the quorum), ignoring cosignatures by witnesses it does not know.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from portal.crypto.keyring import _read_key_file
from portal.transparency.notes import NoteError, _check_name, key_id, parse_vkey, signature_line, signature_lines

ALG_COSIGNATURE = b"\x04"
MAX_TIME = 253402300799  # the end of year 9999: a time any client can still show


def cosigned_message(text: str, timestamp: int) -> bytes:
    """What a witness signs: the header, then the checkpoint's text."""
    return f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode()


class Cosigner:
    """A witness's signing key under the witness's name."""

    def __init__(self, name: str, private: Ed25519PrivateKey) -> None:
        self.name = _check_name(name)
        self._private = private
        self.public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = key_id(name, self.public, ALG_COSIGNATURE)

    def __repr__(self) -> str:  # never print key material
        return f"Cosigner({self.name}+{self.key_id.hex()})"

    @classmethod
    def load(cls, path: Path, name: str) -> Cosigner:
        return cls(name, Ed25519PrivateKey.from_private_bytes(_read_key_file(path)))

    @property
    def vkey(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(ALG_COSIGNATURE + self.public).decode()}"

    def cosign(self, text: str, timestamp: int) -> str:
        """The signature line (ending in a newline) over a checkpoint's text."""
        if not 0 < timestamp <= MAX_TIME:
            raise NoteError("a cosignature's time is seconds since the epoch, never zero")
        signature = self._private.sign(cosigned_message(text, timestamp))
        blob = self.key_id + struct.pack(">Q", timestamp) + signature
        return signature_line(self.name, blob) + "\n"


@dataclass(frozen=True)
class Witness:
    """A witness a client knows: its verifier key, and where it listens
    (empty for a client that only checks)."""

    name: str
    key_id: bytes
    public: Ed25519PublicKey = field(repr=False)
    vkey: str
    url: str = ""

    @classmethod
    def parse(cls, vkey: str, url: str = "") -> Witness:
        name, kid, public = parse_vkey(vkey, ALG_COSIGNATURE)
        return cls(name, kid, public, vkey.strip(), url)

    def check(self, text: str, blob: bytes) -> int:
        """The time of a cosignature blob (key id || time || signature) over
        `text`; raises NoteError when it does not verify."""
        if len(blob) != 4 + 8 + 64:
            raise NoteError(f"the cosignature by {self.name} is not {4 + 8 + 64} bytes")
        timestamp = int.from_bytes(blob[4:12], "big")
        if not 0 < timestamp <= MAX_TIME:
            raise NoteError(f"the cosignature by {self.name} has no time")
        try:
            self.public.verify(blob[12:], cosigned_message(text, timestamp))
        except InvalidSignature:
            raise NoteError(f"the cosignature by {self.name} does not verify: the checkpoint was altered") from None
        return timestamp


def cosignatures(note: str, witnesses: Sequence[Witness]) -> dict[str, int]:
    """The witnesses (by name) whose cosignature on the note verifies, with
    its time. Signatures by keys not among `witnesses` (the log's own,
    unknown witnesses) are ignored; a bad one by a known witness raises
    NoteError, as a note with a bad signature is malformed."""
    text, signatures = signature_lines(note)
    by_key = {(w.name, w.key_id): w for w in witnesses}
    vouched: dict[str, int] = {}
    for name, blob in signatures:
        if (witness := by_key.get((name, blob[:4]))) is not None:
            vouched[name] = witness.check(text, blob)
    return vouched


@dataclass(frozen=True)
class WitnessPolicy:
    """Which witnesses a checkpoint needs, and how many of them."""

    witnesses: tuple[Witness, ...] = ()
    quorum: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.quorum <= len(self.witnesses):
            raise NoteError(f"the quorum must be between 0 and the number of witnesses ({len(self.witnesses)})")
        names = [w.name for w in self.witnesses]
        if len(set(names)) != len(names):
            raise NoteError("two witnesses have the same name")
        # An Ed25519 cosignature does not sign the witness's name: one key
        # listed under two names would count twice.
        keys = [w.vkey.rsplit("+", 1)[-1] for w in self.witnesses]
        if len(set(keys)) != len(keys):
            raise NoteError("two witnesses have the same key")

    @classmethod
    def parse(cls, text: str | None) -> WitnessPolicy:
        """From JSON: {"quorum": n, "witnesses": [{"key": vkey, "url": url}, ...]}.
        Empty: no witnesses (checkpoints are trusted on the log's signature)."""
        if not text or not text.strip():
            return cls()
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise NoteError(f"not JSON: {exc}") from None
        return cls.from_data(data)

    @classmethod
    def from_data(cls, data: object) -> WitnessPolicy:
        """From that JSON, parsed. A witness's "name" may be given too (as
        /transparency/witnesses and proof bundles give it): its key names it."""
        if not isinstance(data, dict) or set(data) - {"quorum", "witnesses"}:
            raise NoteError('expected {"quorum": n, "witnesses": [{"key": ..., "url": ...}]}')
        entries = data.get("witnesses", [])
        if not isinstance(entries, list):
            raise NoteError('"witnesses" must be a list')
        witnesses = []
        for i, entry in enumerate(entries):
            if (
                not isinstance(entry, dict)
                or set(entry) - {"key", "url", "name"}
                or not isinstance(entry.get("key"), str)
            ):
                raise NoteError(f'witness {i + 1}: expected {{"key": verifier key, "url": its address}}')
            url = entry.get("url", "")
            if not isinstance(url, str) or (url and urlsplit(url).scheme not in ("http", "https")):
                raise NoteError(f"witness {i + 1}: the url must be an http(s) address")
            try:
                witnesses.append(Witness.parse(entry["key"], url.rstrip("/")))
            except NoteError as exc:
                raise NoteError(f"witness {i + 1}: {exc}") from None
        quorum = data.get("quorum", len(witnesses))
        if not isinstance(quorum, int) or isinstance(quorum, bool):
            raise NoteError('"quorum" must be a whole number')
        return cls(tuple(witnesses), quorum)

    def to_json(self) -> str:
        return json.dumps({"quorum": self.quorum, "witnesses": [{"key": w.vkey, "url": w.url} for w in self.witnesses]})

    def check(self, note: str) -> dict[str, int]:
        """The witnesses vouching for a checkpoint; raises NoteError when
        fewer than the quorum do."""
        vouched = cosignatures(note, self.witnesses)
        if len(vouched) < self.quorum:
            raise NoteError(
                f"only {len(vouched)} of the {self.quorum} witness cosignatures required vouch for this checkpoint"
                + (f" ({', '.join(sorted(vouched))})" if vouched else "")
            )
        return vouched
