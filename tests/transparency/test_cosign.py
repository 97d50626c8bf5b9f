"""Witness cosignatures (C2SP tlog-cosignature, Ed25519): the exact bytes a
witness signs, the line and key formats, and what a client accepts."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from portal.transparency.cosign import Cosigner, Witness, WitnessPolicy, cosignatures
from portal.transparency.notes import NoteError, Signer, verify_note

ORIGIN = "log.example/credit"
ROOT = hashlib.sha256(b"root").digest()
T = 1_780_000_000


@pytest.fixture
def note():
    return Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(32))).sign_checkpoint(ORIGIN, 7, ROOT)


def cosigner(name: str, seed: int) -> Cosigner:
    return Cosigner(name, Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32))


def text_of(note: str) -> str:
    return note[: note.rindex("\n\n") + 1]


def test_the_cosignature_is_the_one_the_spec_describes(note):
    """Built by hand from the spec: key id = SHA-256(name || 0x0A || 0x04 ||
    key)[:4]; line = key id || big-endian time || Ed25519 over
    "cosignature/v1\\ntime <t>\\n" + the checkpoint's text."""
    w = cosigner("witness.example/w1", 1)
    line = w.cosign(text_of(note), T)
    name, blob = line.rstrip("\n").split(" ")[1:]
    blob = base64.b64decode(blob)
    assert line.startswith("\u2014 witness.example/w1 ")
    assert line.endswith("\n")
    assert blob[:4] == hashlib.sha256(b"witness.example/w1\n\x04" + w.public).digest()[:4]
    assert int.from_bytes(blob[4:12], "big") == T
    message = f"cosignature/v1\ntime {T}\n".encode() + text_of(note).encode()
    Ed25519PrivateKey.from_private_bytes(bytes([1]) * 32).public_key().verify(blob[12:], message)
    key = base64.b64encode(b"\x04" + w.public).decode()
    assert w.vkey == f"witness.example/w1+{blob[:4].hex()}+{key}"


def test_a_cosigned_note_still_verifies_as_the_logs_and_names_its_witnesses(note):
    w1, w2 = cosigner("w.example/one", 1), cosigner("w.example/two", 2)
    cosigned = note + w1.cosign(text_of(note), T) + w2.cosign(text_of(note), T + 5)
    assert verify_note(cosigned, Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(32))).vkey)[1] == 7
    known = [Witness.parse(w1.vkey), Witness.parse(w2.vkey)]
    assert cosignatures(cosigned, known) == {"w.example/one": T, "w.example/two": T + 5}
    assert cosignatures(cosigned, known[:1]) == {"w.example/one": T}  # the unknown one is ignored


def test_a_client_refuses_a_checkpoint_short_of_its_quorum(note):
    w1, w2, stranger = cosigner("w.example/one", 1), cosigner("w.example/two", 2), cosigner("w.example/x", 9)
    policy = WitnessPolicy((Witness.parse(w1.vkey), Witness.parse(w2.vkey)), 2)
    one = note + w1.cosign(text_of(note), T)
    with pytest.raises(NoteError, match="only 1 of the 2"):
        policy.check(one)
    # A stranger's cosignature does not count, even under a known name.
    impostor = Cosigner("w.example/two", Ed25519PrivateKey.from_private_bytes(bytes([9]) * 32))
    with pytest.raises(NoteError, match="only 1 of the 2"):
        policy.check(one + stranger.cosign(text_of(note), T) + impostor.cosign(text_of(note), T))
    assert set(policy.check(one + w2.cosign(text_of(note), T))) == {"w.example/one", "w.example/two"}


def test_a_cosignature_over_another_checkpoint_or_altered_is_refused(note):
    w = cosigner("w.example/one", 1)
    policy = WitnessPolicy((Witness.parse(w.vkey),), 1)
    other = Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(32))).sign_checkpoint(ORIGIN, 8, ROOT)
    with pytest.raises(NoteError, match="does not verify"):
        policy.check(note + w.cosign(text_of(other), T))  # cosigned size 8, shown with size 7
    line = w.cosign(text_of(note), T)
    blob = bytearray(base64.b64decode(line.split(" ")[2]))
    blob[11] ^= 1  # the time
    with pytest.raises(NoteError, match="does not verify"):
        policy.check(note + f"\u2014 w.example/one {base64.b64encode(bytes(blob)).decode()}\n")
    with pytest.raises(NoteError):
        w.cosign(text_of(note), 0)  # a cosignature always carries its time


def test_the_witness_setting_is_checked():
    w = cosigner("w.example/one", 1)
    policy = WitnessPolicy.parse(json.dumps({"quorum": 1, "witnesses": [{"key": w.vkey, "url": "http://w:1/"}]}))
    assert (policy.quorum, policy.witnesses[0].url, policy.witnesses[0].name) == (1, "http://w:1", "w.example/one")
    assert WitnessPolicy.parse("") == WitnessPolicy()
    assert WitnessPolicy().quorum == 0
    log_key = Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(32))).vkey
    for bad, why in [
        ("{", "not JSON"),
        (json.dumps({"quorum": 2, "witnesses": [{"key": w.vkey}]}), "between 0 and"),
        (json.dumps({"witnesses": [{"key": log_key}]}), "type 0x04"),  # a log's key is no witness key
        (json.dumps({"witnesses": [{"key": w.vkey, "url": "ftp://x"}]}), "http"),
        (json.dumps({"witnesses": [{"key": w.vkey}, {"key": w.vkey}]}), "same name"),
        (json.dumps({"quorum": "1", "witnesses": []}), "whole number"),
        (json.dumps({"witnesses": [], "extra": 1}), "expected"),
    ]:
        with pytest.raises(NoteError, match=why):
            WitnessPolicy.parse(bad)


def test_one_key_under_two_names_does_not_count_twice(note):
    """An Ed25519 cosignature does not sign the witness's name: anyone can
    rename a line. A policy listing one key twice is refused."""
    w = cosigner("w.example/one", 1)
    alias = Cosigner("w.example/alias", Ed25519PrivateKey.from_private_bytes(bytes([1]) * 32))
    with pytest.raises(NoteError, match="same key"):
        WitnessPolicy((Witness.parse(w.vkey), Witness.parse(alias.vkey)), 2)


def test_a_cosignature_time_no_client_can_show_is_refused(note):
    w = cosigner("w.example/one", 1)
    with pytest.raises(NoteError):
        w.cosign(text_of(note), 253402300800)  # after the year 9999
