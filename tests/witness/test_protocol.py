"""The witness as a log operator, a monitor and an attacker see it over
HTTP: what it cosigns, what it refuses and why (C2SP tlog-witness)."""

from __future__ import annotations

import base64
import threading
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from portal.transparency.cosign import Witness, cosignatures
from portal.transparency.notes import DASH, Signer, verify_note

from .conftest import WITNESS_NAME, Log, leaves, request, submission

TEXT = "text/plain; charset=utf-8"


def cosigned(witness, log: Log, old: int, size: int) -> str:
    """Submit a checkpoint that must be cosigned; return the note with the cosignature."""
    answer = witness.post(log.body(old, size))
    assert answer.status == 200, answer.text
    assert answer.content_type == TEXT
    return log.note(size) + answer.text


def latest(witness, log: Log) -> tuple[int, bytes]:
    answer = witness.get(f"/checkpoint?origin={log.origin}")
    assert answer.status == 200, answer.text
    _origin, size, root = verify_note(answer.text, log.vkey)
    return size, root


def test_first_checkpoint_is_cosigned_and_the_cosignature_verifies(witness):
    log = witness.new_log()
    answer = witness.post(log.body(0, 5))
    assert answer.status == 200, answer.text
    assert answer.content_type == TEXT
    assert answer.text.startswith(f"{DASH} {WITNESS_NAME} ")
    assert answer.text.count("\n") == 1
    vouched = cosignatures(log.note(5) + answer.text, [Witness.parse(witness.vkey)])
    assert abs(vouched[WITNESS_NAME] - time.time()) < 60
    # The cosignature covers this checkpoint, not another of the same log.
    with pytest.raises(ValueError, match="does not verify"):
        cosignatures(log.note(4) + answer.text, [Witness.parse(witness.vkey)])


def test_growth_with_a_valid_proof_is_cosigned(witness):
    log = witness.new_log(40)
    cosigned(witness, log, 0, 5)
    for old, size in ((5, 12), (12, 16), (16, 17), (17, 40)):
        note = cosigned(witness, log, old, size)
        assert WITNESS_NAME in cosignatures(note, [Witness.parse(witness.vkey)])
    assert latest(witness, log) == (40, log.root(40))


def test_the_same_checkpoint_is_cosigned_again(witness):
    """How a log recovers when the answer to its request was lost."""
    log = witness.new_log()
    cosigned(witness, log, 0, 7)
    again = cosigned(witness, log, 7, 7)
    assert WITNESS_NAME in cosignatures(again, [Witness.parse(witness.vkey)])


def test_a_stale_old_size_gets_409_with_the_latest_size(witness):
    log = witness.new_log()
    first = witness.post(log.body(3, 8))  # never cosigned: the witness is at 0
    assert (first.status, first.content_type, first.text) == (409, "text/x.tlog.size", "0\n")
    cosigned(witness, log, 0, 5)
    for old in (0, 3, 6):
        answer = witness.post(log.body(old, 9))
        assert (answer.status, answer.content_type, answer.text) == (409, "text/x.tlog.size", "5\n")
    cosigned(witness, log, 5, 9)  # retried with the size the 409 gave


def test_a_bad_proof_is_422_and_changes_nothing(witness):
    log = witness.new_log()
    other = Log(log.origin, leaves("other", 32), log.signer)
    cosigned(witness, log, 0, 5)
    good = log.proof(5, 9)
    tampered = [good[0][:-1] + bytes([good[0][-1] ^ 1]), *good[1:]]
    for proof in (tampered, other.proof(5, 9), good[:-1], [*good, good[0]], []):
        answer = witness.post(log.body(5, 9, proof=proof))
        assert answer.status == 422, answer.text
        assert answer.content_type == TEXT
    # A proof is empty from size 0 and between equal sizes.
    assert witness.post(log.body(5, 5, proof=[log.root(5)])).status == 422
    fresh = witness.new_log()
    assert witness.post(fresh.body(0, 4, proof=[fresh.root(4)])).status == 422
    assert witness.get(f"/checkpoint?origin={fresh.origin}").status == 404
    assert latest(witness, log) == (5, log.root(5))
    cosigned(witness, log, 5, 9)


def test_the_same_size_with_another_root_is_409(witness):
    log = witness.new_log()
    other = Log(log.origin, leaves("other", 32), log.signer)
    cosigned(witness, log, 0, 6)
    answer = witness.post(other.body(6, 6))
    assert answer.status == 409
    assert answer.content_type == TEXT
    assert "root" in answer.text
    assert latest(witness, log) == (6, log.root(6))


def test_a_fork_is_never_cosigned_once_the_other_branch_is(witness):
    """Two trees under one origin (signed by the log's key), sharing their
    first 4 leaves: once one is cosigned at size 6, no checkpoint of the
    other is, whatever its size, claimed old size or proof."""
    common = leaves("common", 4)
    log = witness.new_log()
    a = Log(log.origin, common + leaves("a", 20), log.signer)
    b = Log(log.origin, common + leaves("b", 20), log.signer)
    cosigned(witness, a, 0, 6)
    for size in range(1, 25):
        for old in sorted({0, 1, 4, 5, 6, 7, size}):
            proofs = [[]] + ([b.proof(old, size)] if 0 < old <= size else [])
            proofs += [a.proof(6, size)] if size > 6 else []
            for proof in proofs:
                answer = witness.post(b.body(old, size, proof=proof))
                assert answer.status in (400, 409, 422), (size, old, answer.status, answer.text)
    assert latest(witness, log) == (6, a.root(6))
    cosigned(witness, a, 6, 24)  # the branch cosigned goes on


def test_concurrent_submissions_of_two_forks_cosign_one(witness):
    """Requests racing from the same old size: only one branch gets through."""
    log = witness.new_log()
    branches = [Log(log.origin, leaves(tag, 16), log.signer) for tag in "ab"]
    answers: list[tuple[int, int]] = []
    start = threading.Barrier(8)

    def submit(i: int) -> None:
        start.wait()
        answers.append((i % 2, witness.post(branches[i % 2].body(0, 8)).status))

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = {branch for branch, status in answers if status == 200}
    assert len(winners) == 1, answers
    assert {status for _branch, status in answers} <= {200, 409}
    assert latest(witness, log) == (8, branches[winners.pop()].root(8))


def test_an_unknown_origin_is_404(witness):
    stranger = Log("log.test/never-added", leaves("x", 8))
    answer = witness.post(stranger.body(0, 4))
    assert (answer.status, answer.content_type) == (404, TEXT)
    assert "unknown log" in answer.text


def flipped(signature_line: str) -> str:
    """The signature line with one bit of its signature flipped."""
    prefix, blob = signature_line.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 1
    return f"{prefix} {base64.b64encode(bytes(raw)).decode()}\n"


def signature_of(log: Log, size: int) -> str:
    return log.note(size).split("\n\n", 1)[1]


def test_a_checkpoint_signed_only_by_an_unknown_key_is_403(witness):
    log = witness.new_log()
    impostor = Log(log.origin, leaves("a", 32))  # same origin and tree, another key
    answer = witness.post(impostor.body(0, 5))
    assert answer.status == 403
    assert answer.content_type == TEXT
    assert witness.get(f"/checkpoint?origin={log.origin}").status == 404
    # Beside the log's signature it is ignored, and not served with the cosigned note.
    answer = witness.post(submission(0, [], log.note(5) + signature_of(impostor, 5)))
    assert answer.status == 200, answer.text
    assert witness.get(f"/checkpoint?origin={log.origin}").text == log.note(5) + answer.text


def test_an_altered_signature_or_checkpoint_is_403(witness):
    log = witness.new_log()
    text = log.note(5).split("\n\n")[0]
    assert witness.post(submission(0, [], f"{text}\n\n{flipped(signature_of(log, 5))}")).status == 403
    other_root = f"{log.origin}\n5\n{base64.b64encode(log.root(6)).decode()}\n"
    assert witness.post(submission(0, [], f"{other_root}\n{signature_of(log, 5)}")).status == 403
    other_size = f"{log.origin}\n6\n{base64.b64encode(log.root(5)).decode()}\n"
    assert witness.post(submission(0, [], f"{other_size}\n{signature_of(log, 5)}")).status == 403
    assert witness.get(f"/checkpoint?origin={log.origin}").status == 404


def test_a_rotated_log_key_is_trusted_beside_the_old_one(witness):
    log = witness.new_log()
    rotated = Log(log.origin, leaves("a", 32))
    witness.trust(rotated.vkey)
    cosigned(witness, rotated, 0, 5)  # the new key alone
    cosigned(witness, log, 5, 6)  # the old key alone
    # Signed by both, one signature bad: refused, whichever verifies.
    for note in (log.note(7) + flipped(signature_of(rotated, 7)), rotated.note(7) + flipped(signature_of(log, 7))):
        assert witness.post(submission(6, log.proof(6, 7), note)).status == 403
    assert latest(witness, log)[0] == 6
    both = cosigned(witness, log, 6, 7).replace(log.note(7), log.note(7) + signature_of(rotated, 7))
    assert verify_note(both, rotated.vkey)[1] == 7


def test_an_old_size_above_the_checkpoint_size_is_400(witness):
    log = witness.new_log()
    cosigned(witness, log, 0, 9)
    answer = witness.post(log.body(9, 5, proof=[]))
    assert answer.status == 400
    assert answer.content_type == TEXT


def _bodies(log: Log) -> dict[str, bytes]:
    note = log.note(5)
    h = base64.b64encode(log.root(3)).decode()
    return {
        "no blank line": f"old 0\n{note}".replace("\n\n", "\n").encode(),
        "64 proof lines": ("old 0\n" + f"{h}\n" * 64 + "\n" + note).encode(),
        "bad base64": f"old 0\n{h[:-2]}!=\n\n{note}".encode(),
        "a 31-byte hash": f"old 0\n{base64.b64encode(log.root(3)[:31]).decode()}\n\n{note}".encode(),
        "a leading zero": f"old 00\n\n{note}".encode(),
        "a leading zero in 5": f"old 05\n\n{note}".encode(),
        "negative": f"old -1\n\n{note}".encode(),
        "two spaces": f"old  0\n\n{note}".encode(),
        "no old line": f"\n\n{note}".encode(),
        "other word": f"new 0\n\n{note}".encode(),
        "crlf": f"old 0\r\n\r\n{note}".encode(),
        "huge old": f"old {'9' * 5000}\n\n{note}".encode(),
        "no signature": f"old 0\n\n{note.split(DASH)[0]}".encode(),
        "size not decimal": f"old 0\n\n{note}".replace("\n5\n", "\n5x\n").encode(),
        "no root": f"old 0\n\n{log.origin}\n5\n\n{note.split(chr(10) * 2)[1]}".encode(),
        "not UTF-8": b"old 0\n\n\xff\xfe" + note.encode(),
        "empty": b"",
    }


@pytest.mark.parametrize(
    "case",
    [
        "no blank line",
        "64 proof lines",
        "bad base64",
        "a 31-byte hash",
        "a leading zero",
        "a leading zero in 5",
        "negative",
        "two spaces",
        "no old line",
        "other word",
        "crlf",
        "huge old",
        "no signature",
        "size not decimal",
        "no root",
        "not UTF-8",
        "empty",
    ],
)
def test_a_malformed_body_is_400(witness, case):
    log = witness.new_log()
    answer = witness.post(_bodies(log)[case])
    assert (answer.status, answer.content_type) == (400, TEXT), answer.text
    assert answer.text.strip()
    assert witness.get(f"/checkpoint?origin={log.origin}").status == 404


def test_63_proof_lines_are_read_not_refused_as_malformed(witness):
    log = witness.new_log()
    cosigned(witness, log, 0, 3)
    answer = witness.post(log.body(3, 5, proof=[log.root(3)] * 63))
    assert answer.status == 422  # well-formed, and wrong


def test_an_oversized_body_is_413(witness):
    log = witness.new_log()
    body = log.body(0, 5)
    answer = witness.post(body + b"x" * (64 * 1024 + 1 - len(body)))
    assert answer.status == 413
    assert witness.get(f"/checkpoint?origin={log.origin}").status == 404


def test_get_checkpoint_serves_the_cosigned_note(witness):
    log = witness.new_log()
    assert witness.get(f"/checkpoint?origin={log.origin}").status == 404  # known, never cosigned
    cosigned(witness, log, 0, 11)
    answer = witness.get(f"/checkpoint?origin={log.origin}")
    assert (answer.status, answer.content_type, answer.cache_control) == (200, TEXT, "no-store")
    assert verify_note(answer.text, log.vkey) == (log.origin, 11, log.root(11))
    assert WITNESS_NAME in cosignatures(answer.text, [Witness.parse(witness.vkey)])
    assert answer.text.startswith(log.note(11))
    assert witness.get("/checkpoint?origin=log.test/nobody").status == 404
    assert witness.get("/checkpoint").status == 400
    assert witness.get("/checkpoint?origin=").status == 400


def test_the_index_names_the_witness_and_its_logs(witness):
    log = witness.new_log()
    cosigned(witness, log, 0, 3)
    page = witness.get("/")
    assert (page.status, page.content_type) == (200, TEXT)
    assert WITNESS_NAME in page.text
    assert witness.vkey in page.text
    assert f"{log.origin} size 3" in page.text


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/add-checkpoint", 405), ("POST", "/", 405), ("GET", "/nothing", 404), ("PUT", "/checkpoint", 405)],
)
def test_other_requests_are_404_or_405(witness, method, path, status):
    answer = request(witness.port, method, path, b"" if method != "GET" else None)
    assert (answer.status, answer.content_type) == (status, TEXT)


def test_a_log_key_of_another_name_signs_nothing_for_this_origin(witness):
    log = witness.new_log()
    other = Signer("log.test/other-name", Ed25519PrivateKey.generate())
    witness.trust(other.vkey)
    body = other.sign_checkpoint(other.name, 5, log.root(5)).replace(other.name, log.origin, 1)
    assert witness.post(submission(0, [], body)).status == 403
