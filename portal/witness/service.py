"""The rules of the C2SP tlog-witness protocol, without HTTP: what an
add-checkpoint request must hold, and when the witness cosigns.

A request is checked in the protocol's order: well-formed (400), a log the
witness knows (404), signed by that log (403), then against the latest
checkpoint cosigned for it (409, 422). The comparison with the stored state
and the update happen in one write transaction, and the cosignature leaves
only once that transaction is committed: whatever the timing or the crash,
every checkpoint this witness ever cosigned for one log extends the ones it
cosigned before."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature

from portal.transparency.cosign import Cosigner
from portal.transparency.merkle import EMPTY_ROOT, HASH_SIZE, ProofError, verify_consistency
from portal.transparency.notes import NoteError, Verifier, _b64, signature_line, signature_lines
from portal.witness.state import Latest, Store

MAX_BODY = 64 * 1024
MAX_PROOF = 63
MAX_SIZE = (1 << 63) - 1  # what SQLite's INTEGER holds
SIZE_TYPE = "text/x.tlog.size"
TEXT_TYPE = "text/plain; charset=utf-8"
# Bounded: a size of thousands of digits would be refused by int() itself.
_OLD = re.compile(r"old (0|[1-9][0-9]{0,19})")
_SIZE = re.compile(r"(0|[1-9][0-9]{0,19})")


class Refusal(Exception):
    """An answer other than a cosignature: the status and a body saying why."""

    def __init__(self, status: int, reason: str, content_type: str = TEXT_TYPE) -> None:
        super().__init__(reason)
        self.status = status
        self.body = reason if reason.endswith("\n") else reason + "\n"
        self.content_type = content_type


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    text: str  # the signed part: the note before its blank line
    signatures: list[tuple[str, bytes]]  # (key name, key id || signature), unchecked


@dataclass(frozen=True)
class Submission:
    old: int
    proof: list[bytes]
    checkpoint: Checkpoint


def _bad(reason: str) -> Refusal:
    return Refusal(400, reason)


def _hash(text: str, what: str) -> bytes:
    """A 32-byte hash in canonical base64 (a hash altered in a padding bit
    is another string, and would be stored and served as such)."""
    try:
        raw = _b64(text, what)
    except NoteError as exc:
        raise _bad(str(exc)) from None
    if len(raw) != HASH_SIZE:
        raise _bad(f"{what} is not the canonical base64 of a {HASH_SIZE}-byte hash")
    return raw


def _size(text: str, what: str, pattern: re.Pattern[str] = _SIZE) -> int:
    m = pattern.fullmatch(text)
    if not m:
        raise _bad(f"{what} is not a decimal number without leading zeros")
    n = int(m.group(1))
    if n > MAX_SIZE:
        raise _bad(f"{what} is larger than {MAX_SIZE}")
    return n


def parse_checkpoint(note: str) -> Checkpoint:
    """A checkpoint signed note (origin, size, root, then any extension
    lines), its signatures not checked yet."""
    try:
        text, signatures = signature_lines(note)
    except NoteError as exc:
        raise _bad(f"malformed checkpoint: {exc}") from None
    lines = text[:-1].split("\n")
    if len(lines) < 3 or not all(lines):
        raise _bad("malformed checkpoint: expected origin, size and root lines, none of them empty")
    return Checkpoint(lines[0], _size(lines[1], "the checkpoint size"), _hash(lines[2], "the root"), text, signatures)


def parse_submission(body: bytes) -> Submission:
    """`old <size>`, up to 63 proof hashes, a blank line, the checkpoint."""
    if len(body) > MAX_BODY:
        raise Refusal(413, f"the body is larger than {MAX_BODY} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad("the body is not UTF-8") from None
    head, blank, note = text.partition("\n\n")
    if not blank:
        raise _bad("no blank line between the proof and the checkpoint")
    old_line, *proof_lines = head.split("\n")
    old = _size(old_line, "the first line, `old <size>`,", _OLD)
    if len(proof_lines) > MAX_PROOF:
        raise _bad(f"more than {MAX_PROOF} consistency proof lines")
    proof = [_hash(line, f"proof line {i + 1}") for i, line in enumerate(proof_lines)]
    return Submission(old, proof, parse_checkpoint(note))


def log_signature_lines(checkpoint: Checkpoint, vkeys: list[str]) -> str:
    """The checkpoint's signature lines by the trusted keys, all verified.
    Signatures by other keys are ignored (and not kept: anyone may append
    lines to a note, and the witness serves what it keeps)."""
    verifiers = [Verifier.parse(vkey) for vkey in vkeys]
    kept = []
    for name, blob in checkpoint.signatures:
        for verifier in verifiers:
            if verifier.name != name or verifier.key_id != blob[:4]:
                continue
            try:
                verifier.public.verify(blob[4:], checkpoint.text.encode())
            except InvalidSignature:
                raise Refusal(403, f"the signature by {name}+{blob[:4].hex()} does not verify") from None
            line = signature_line(name, blob) + "\n"
            if line not in kept:
                kept.append(line)
    if not kept:
        raise Refusal(403, f"the checkpoint is not signed by a key trusted for {checkpoint.origin}")
    return "".join(kept)


def check_extends(submission: Submission, latest: Latest | None) -> None:
    """Raise a Refusal unless the checkpoint extends the latest one cosigned
    (a log never cosigned is the empty tree)."""
    new = submission.checkpoint
    size, root = (latest.size, latest.root) if latest else (0, EMPTY_ROOT)
    if submission.old != size:
        raise Refusal(409, f"{size}\n", SIZE_TYPE)
    if new.size == size:
        if new.root != root:
            raise Refusal(409, f"a checkpoint of size {size} with another root was cosigned: the log forked")
        if submission.proof:
            raise Refusal(422, "the sizes are equal, so the consistency proof must be empty")
    elif size == 0:
        if submission.proof:
            raise Refusal(422, "from size 0 the consistency proof must be empty")
    else:
        try:
            verify_consistency(size, new.size, root, new.root, submission.proof)
        except ProofError as exc:
            raise Refusal(422, f"the consistency proof does not verify: {exc}") from None


class WitnessService:
    def __init__(self, store: Store, cosigner: Cosigner) -> None:
        self.store = store
        self.cosigner = cosigner

    def add_checkpoint(self, body: bytes) -> str:
        """The cosignature line of a checkpoint, once stored; or a Refusal."""
        submission = parse_submission(body)
        new = submission.checkpoint
        with self.store.connect() as db:
            vkeys = self.store.log_keys(db, new.origin)  # keys are only ever added: safe to read first
            if not vkeys:
                raise Refusal(404, f"unknown log {new.origin!r}")
            signatures = log_signature_lines(new, vkeys)
            if submission.old > new.size:
                raise _bad(f"old size {submission.old} is larger than the checkpoint's size {new.size}")
            with self.store.transaction(db):
                check_extends(submission, self.store.latest(db, new.origin))
                cosignature = self.cosigner.cosign(new.text, int(time.time()))
                note = f"{new.text}\n{signatures}{cosignature}"
                self.store.put_latest(db, new.origin, Latest(new.size, new.root, note))
        return cosignature

    def checkpoint(self, origin: str) -> str:
        """The latest cosigned checkpoint of a log, with the log's signatures
        and this witness's cosignature."""
        with self.store.connect() as db:
            latest = self.store.latest(db, origin)
        if latest is None:
            raise Refusal(404, f"no checkpoint of {origin!r} was cosigned here")
        return latest.note

    def summary(self) -> str:
        with self.store.connect() as db:
            origins = self.store.origins(db)
        lines = [f"witness {self.cosigner.name}", f"verifier key {self.cosigner.vkey}", ""]
        lines += [f"{o} {'never cosigned' if s is None else f'size {s}'}" for o, s in origins] or ["no logs yet"]
        return "\n".join(lines) + "\n"
