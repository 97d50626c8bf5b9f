"""Checkpoints as C2SP signed notes: the exact format, the key id and
verifier key, the key file, and refusal of any alteration."""

from __future__ import annotations

import base64
import hashlib
import re
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from portal.crypto import KeyringError
from portal.transparency.notes import (
    DEFAULT_ORIGIN,
    KEY_FILE,
    NoteError,
    Signer,
    Verifier,
    create_key_file,
    open_note,
    verify_note,
)

ROOT = hashlib.sha256(b"a root").digest()


@pytest.fixture
def signer():
    return Signer(DEFAULT_ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(range(32))))


def test_the_note_format(signer):
    note = signer.sign_checkpoint(DEFAULT_ORIGIN, 42, ROOT)
    body = f"{DEFAULT_ORIGIN}\n42\n{base64.b64encode(ROOT).decode()}\n"
    assert note.startswith(body + "\n\u2014 " + DEFAULT_ORIGIN + " ")
    assert note.endswith("\n")
    assert note.count("\n") == 5
    blob = base64.b64decode(note.split(" ")[-1])
    assert blob[:4] == signer.key_id
    assert len(blob) == 4 + 64
    signer._private.public_key().verify(blob[4:], body.encode())  # the signature covers the body only
    assert verify_note(note, signer.vkey) == (DEFAULT_ORIGIN, 42, ROOT)


def test_key_id_and_verifier_key(signer):
    public = signer.public
    assert signer.key_id == hashlib.sha256(DEFAULT_ORIGIN.encode() + b"\n\x01" + public).digest()[:4]
    name, key_id, key = signer.vkey.split("+", 2)
    assert (name, key_id) == (DEFAULT_ORIGIN, signer.key_id.hex())
    assert base64.b64decode(key) == b"\x01" + public
    assert re.fullmatch(r"[^+\s]+\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}", signer.vkey)


def test_a_checkpoint_of_a_fixed_key_is_fixed():
    """Ed25519 is deterministic: the same key and checkpoint, the same note."""
    s = Signer("example.com/log", Ed25519PrivateKey.from_private_bytes(bytes(32)))
    note = s.sign_checkpoint("example.com/log", 1, bytes(32))
    assert note == s.sign_checkpoint("example.com/log", 1, bytes(32))
    assert note.split("\n")[:4] == ["example.com/log", "1", "A" * 43 + "=", ""]
    assert verify_note(note, s.vkey) == ("example.com/log", 1, bytes(32))


def test_every_single_character_change_is_refused(signer):
    note = signer.sign_checkpoint(DEFAULT_ORIGIN, 7, ROOT)
    for i, ch in enumerate(note):
        for other in {"A", "0", "\n", " ", "\u2014"} - {ch}:
            changed = note[:i] + other + note[i + 1 :]
            with pytest.raises(NoteError):
                verify_note(changed, signer.vkey)


@pytest.mark.parametrize(
    "change",
    [
        lambda n: n.rstrip("\n"),  # no final newline
        lambda n: n.replace("\n\n", "\n"),  # no blank line
        lambda n: n.split("\n\n")[0] + "\n\n",  # no signature
        lambda n: n + f"\u2014 witness.example {base64.b64encode(bytes(68)).decode()}\n",  # fine: ignored
    ],
)
def test_malformed_notes(signer, change):
    note = change(signer.sign_checkpoint(DEFAULT_ORIGIN, 7, ROOT))
    if "witness" in note:  # a cosigner's signature is not ours to check
        assert verify_note(note, signer.vkey)[1] == 7
    else:
        with pytest.raises(NoteError):
            verify_note(note, signer.vkey)


def test_another_key_or_a_bad_vkey_is_refused(signer):
    note = signer.sign_checkpoint(DEFAULT_ORIGIN, 7, ROOT)
    other = Signer(DEFAULT_ORIGIN, Ed25519PrivateKey.generate())
    with pytest.raises(NoteError, match="not signed by"):
        verify_note(note, other.vkey)
    renamed = Signer("other.example/log", signer._private)
    with pytest.raises(NoteError, match="not signed by"):
        verify_note(note, renamed.vkey)
    name, key_id, key = signer.vkey.split("+", 2)
    for bad in (
        f"{name}+{key_id}",
        f"{name}+00000000+{key}",
        f"{name}+{key_id.upper()}+{key}",
        f"{name}+{key_id}+{key[:-4]}",
        "",
        "+++",
    ):
        with pytest.raises(NoteError):
            verify_note(note, bad)


def test_the_origin_must_be_the_key_name(signer):
    with pytest.raises(NoteError, match="origin"):
        signer.sign_checkpoint("elsewhere.example/log", 1, ROOT)
    with pytest.raises(NoteError):
        Signer("has space", Ed25519PrivateKey.generate())


def test_the_key_file(tmp_path):
    key_dir = tmp_path / "keys"
    with pytest.raises(KeyringError, match="missing: run `portal init`"):
        Signer.load(key_dir)
    path = create_key_file(key_dir)
    assert path == key_dir / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(base64.b64decode(path.read_bytes().strip())) == 32
    first = Signer.load(key_dir)
    assert create_key_file(key_dir) is None  # never replaced
    assert Signer.load(key_dir).vkey == first.vkey
    assert "PRIVATE" not in repr(first)
    assert path.read_text().strip() not in repr(first)
    path.chmod(0o644)
    with pytest.raises(KeyringError, match="readable by other users"):
        Signer.load(key_dir)


# The example of the reference implementation, golang.org/x/mod/sumdb/note
# (note_test.go): Ed25519 is deterministic, so the same key and text must
# give its published key id, verifier key and signature byte for byte.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_SIG = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_the_reference_implementations_example():
    seed = base64.b64decode(GO_SKEY.split("+", 4)[4])
    assert seed[:1] == b"\x01"
    peter = Signer("PeterNeumann", Ed25519PrivateKey.from_private_bytes(seed[1:]))
    assert peter.key_id.hex() == "c74f20a3"
    assert peter.vkey == GO_VKEY
    signature = base64.b64encode(peter.key_id + peter._private.sign(GO_TEXT.encode())).decode()
    assert f"\u2014 PeterNeumann {signature}\n" == GO_SIG
    assert open_note(GO_TEXT + "\n" + GO_SIG, GO_VKEY) == GO_TEXT
    with pytest.raises(NoteError, match="three lines"):  # a valid note, but not a checkpoint
        verify_note(GO_TEXT + "\n" + GO_SIG, GO_VKEY)


def test_mangled_verifier_keys_are_refused():
    """As note_test.go does: every proper substring, and every character
    changed, of a good verifier key is refused."""
    for i in range(len(GO_VKEY)):
        for j in range(i + 1, len(GO_VKEY) + 1):
            if (i, j) != (0, len(GO_VKEY)):
                with pytest.raises(NoteError):
                    Verifier.parse(GO_VKEY[i:j])
        with pytest.raises(NoteError):
            Verifier.parse(GO_VKEY[:i] + chr(ord(GO_VKEY[i]) + 1) + GO_VKEY[i + 1 :])
