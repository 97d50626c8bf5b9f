"""Access events as log leaves: written in the action's transaction, salted
and committed to by a hash, and provable to the subject offline."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from portal.audit.events import (
    SALT_KEY,
    canonical_json,
    event_document,
    leaf_data,
    proof_bundle,
    recent_events,
    record_event,
)
from portal.audit.integrator import integrate_all
from portal.audit.log_routes import log_signer
from portal.audit.models import AccessEvent, EventKind
from portal.extensions import session, vault
from portal.records.models import Subject
from portal.transparency import log, merkle
from portal.transparency.cosign import Cosigner
from portal.transparency.models import Checkpoint, LogLeaf
from portal.transparency.notes import verify_note

from ..factories import integrate


def record(subject_id, **detail):
    s = session()
    return record_event(s, vault(), s.get(Subject, subject_id), EventKind.SELF_QUERY, detail=detail or {"what": "x"})


def test_an_event_and_its_queued_leaf_share_a_transaction(log_app, world):
    with log_app.app_context():
        s = session()
        before = log.size(s)
        event = record(world.person_a.id)
        assert event.log_index is None  # queued: no request waits on the log's head
        assert log.queued(s, [event.id]) == {event.id}
        s.rollback()
        assert log.queued(s, [event.id]) == set()
        assert s.get(AccessEvent, event.id) is None
        kept = record(world.person_a.id)
        s.commit()
        assert log.size(s) == before  # not in the log until the integrator runs
        assert integrate(s) == 1
        assert kept.log_index == before  # the rolled-back event took no index: no gap
        assert s.get(LogLeaf, kept.log_index) is not None
        assert log.size(s) == before + 1
        assert log.queued(s, [kept.id]) == set()
        assert integrate(s) == 0  # each leaf is integrated once


def test_the_integrator_signs_one_checkpoint_per_batch_in_queue_order(log_app, world):
    with log_app.app_context():
        s = session()
        before = log.size(s)
        events = [record(world.person_a.id, n=n) for n in range(5)]
        s.commit()
        assert integrate_all(s, log_signer(), limit=2) == 5  # batches of 2, 2 and 1
        assert [e.log_index for e in events] == list(range(before, before + 5))
        sizes = s.scalars(select(Checkpoint.size).where(Checkpoint.size > before).order_by(Checkpoint.size)).all()
        assert sizes == [before + 2, before + 4, before + 5]


def test_the_leaf_commits_to_the_event_with_a_sealed_salt(log_app, world):
    with log_app.app_context():
        s = session()
        event = record(world.person_a.id, what="report", page=2, name="张三")
        s.commit()
        integrate(s)
        event_id, index = event.id, event.log_index
    with log_app.app_context():  # read back from the database, as a verifier would
        s = session()
        event = s.get(AccessEvent, event_id)
        sealed = json.loads(vault().cipher(s, s.get(Subject, event.subject_id).data_key_id).open_field(event, "detail"))
        salt = base64.b64decode(sealed.pop(SALT_KEY))
        assert len(salt) == 32
        document = event_document(event, sealed)
        assert document == {
            "id": str(event_id),
            "subject_id": str(world.person_a.id),
            "occurred_at": document["occurred_at"],
            "kind": "self_query",
            "outcome": "served",
            "purpose": None,
            "channel": "web",
            "actor_user_id": None,
            "institution_id": None,
            "detail": {"what": "report", "page": 2, "name": "张三"},
        }
        assert document["occurred_at"].endswith("Z")
        assert "T" in document["occurred_at"]
        assert (
            canonical_json(document)
            == json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        )
        d = hashlib.sha256(salt + canonical_json(document)).digest()
        assert s.get(LogLeaf, index).leaf_hash == merkle.leaf_hash(d) == merkle.leaf_hash(leaf_data(salt, document))
        # The salt is never shown with the event.
        views = recent_events(s, vault(), s.get(Subject, world.person_a.id))
        assert [v.detail for v in views if v.id == event_id] == [{"what": "report", "page": 2, "name": "张三"}]
        assert all(SALT_KEY not in v.detail for v in views)


def test_two_events_with_the_same_content_get_different_leaves(log_app, world):
    with log_app.app_context():
        a, b = record(world.person_a.id), record(world.person_a.id)
        session().commit()
        integrate(session())
        leaves = [session().get(LogLeaf, e.log_index).leaf_hash for e in (a, b)]
        assert leaves[0] != leaves[1]


def test_the_salt_key_is_reserved(log_app, world):
    with log_app.app_context(), pytest.raises(ValueError, match="reserved"):
        record(world.person_a.id, _salt="mine")


# -- proof bundles -------------------------------------------------------------------
@pytest.fixture
def bundle(log_app, world, tmp_path):
    """A proof bundle for one of person A's events, with others around it,
    written to a file, and a function that runs `portal audit verify-proof`."""
    with log_app.app_context():
        s = session()
        for _ in range(5):
            record(world.person_b.id)
        event = record(world.person_a.id, what="dashboard")
        for _ in range(6):
            record(world.person_b.id)
        s.commit()
        integrate(s)
        made = proof_bundle(s, vault(), event)
        s.commit()
    path = tmp_path / "bundle.json"

    def verify(content, *args):
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content if isinstance(content, str) else json.dumps(content))
        return log_app.test_cli_runner().invoke(args=["audit", "verify-proof", str(path), *args])

    return made, verify


def test_a_bundle_verifies_offline(bundle, log_app):
    made, verify = bundle
    assert made["tree_size"] == made["leaf_index"] + 7
    assert json.loads(made["event"])["detail"] == {"what": "dashboard"}
    result = verify(made)
    assert result.exit_code == 0, result.output
    assert f"proof verified: event {json.loads(made['event'])['id']} (self_query" in result.output
    assert "pass --key" in result.output
    with log_app.app_context():
        vkey = log_signer().vkey
    result = verify(made, "--key", vkey)
    assert result.exit_code == 0, result.output
    assert "pass --key" not in result.output


def altered(made, change):
    b = copy.deepcopy(made)
    change(b)
    return b


def flip(text):
    raw = bytearray(base64.b64decode(text))
    raw[0] ^= 1
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: b.update(event=b["event"].replace("dashboard", "report")), "not proved to be in the log"),
        (lambda b: b.update(event=b["event"].replace('"self_query"', '"export"')), "not proved"),
        (lambda b: b.update(event=json.dumps(json.loads(b["event"]))), "not proved"),  # the same, re-serialised
        (lambda b: b.update(event="[]"), "not the JSON text of an object"),
        (lambda b: b.update(event="\ud800"), "not the JSON text of an object"),
        (lambda b: b.update(salt=flip(b["salt"])), "not proved"),
        (lambda b: b.update(leaf_index=b["leaf_index"] + 1), "not proved"),
        (lambda b: b["proof"].__setitem__(0, flip(b["proof"][0])), "not proved"),
        (lambda b: b["proof"].pop(), "not proved"),
        (lambda b: b.update(tree_size=b["tree_size"] - 1), "is for size"),
        (lambda b: b.update(checkpoint=b["checkpoint"].replace("\n", "\n1", 1)), "the checkpoint"),
        (lambda b: b.pop("salt"), "'salt' is missing"),
        (lambda b: b.update(leaf_index="3"), "'leaf_index' is missing or not an integer"),
        (lambda b: b.update(proof=["not base64!"]), "proof element 0 is not base64"),
        (lambda b: b.update(format="something else"), "not a proof bundle"),
    ],
)
def test_an_altered_bundle_fails(bundle, change, message):
    made, verify = bundle
    result = verify(altered(made, change))
    assert result.exit_code == 1, result.output
    assert "proof NOT verified" in result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_bundle_checked_against_another_key_fails(bundle, tmp_path):
    from portal.transparency.notes import Signer, create_key_file

    create_key_file(tmp_path / "other")
    made, verify = bundle
    result = verify(made, "--key", Signer.load(tmp_path / "other").vkey)
    assert result.exit_code == 1
    assert "not signed by" in result.output


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", "", b"\xff\xfe{}", "null"])
def test_a_file_that_is_no_bundle_gets_a_clear_error(bundle, content):
    _made, verify = bundle
    result = verify(content)
    assert result.exit_code == 1
    assert "proof NOT verified" in result.output
    assert "Traceback" not in result.output


def test_the_bundle_is_what_a_browser_checks(bundle, log_app):
    """static/js/verify.js hashes salt || UTF-8 of the event text, and takes
    the size and root from the checkpoint."""
    made, _verify = bundle
    d = hashlib.sha256(base64.b64decode(made["salt"]) + made["event"].encode()).digest()
    with log_app.app_context():
        _origin, size, root = verify_note(made["checkpoint"], log_signer().vkey)
        assert session().get(LogLeaf, made["leaf_index"]).leaf_hash == merkle.leaf_hash(d)
    merkle.verify_inclusion(
        made["leaf_index"], size, merkle.leaf_hash(d), [base64.b64decode(p) for p in made["proof"]], root
    )


def test_no_bundle_for_an_event_from_before_the_log(log_app, world):
    with log_app.app_context():
        s = session()
        subject = s.get(Subject, world.person_a.id)
        old = AccessEvent(
            id=uuid.uuid4(), subject_id=subject.id, kind=EventKind.SELF_QUERY, outcome="served", channel="web"
        )
        vault().cipher(s, subject.data_key_id).seal_field(old, "detail", "{}")
        s.add(old)
        s.flush()
        with pytest.raises(LookupError, match="before the transparency log"):
            proof_bundle(s, vault(), old)


def test_verify_proof_requires_the_witnesses_quorum(bundle, log_app):
    """Cosignatures added to a bundle's checkpoint as witnesses would: the
    command accepts the quorum of the keys it is given, and refuses a
    quorum short by one, a cosignature by a key it was not given, and one
    over another checkpoint."""
    made, verify = bundle
    with log_app.app_context():
        vkey, signer = log_signer().vkey, log_signer()
    w1, w2, stranger = (
        Cosigner(name, Ed25519PrivateKey.from_private_bytes(bytes([i]) * 32))
        for i, name in ((1, "w.example/one"), (2, "w.example/two"), (3, "w.example/three"))
    )
    note = made["checkpoint"]
    text = note[: note.rindex("\n\n") + 1]
    other = signer.sign_checkpoint(signer.name, made["tree_size"] + 1, bytes(32))
    other_text = other[: other.rindex("\n\n") + 1]
    t = 1_780_000_000
    keys = ["--key", vkey, "--witness", w1.vkey, "--witness", w2.vkey]

    def with_lines(*lines):
        return altered(made, lambda b: b.update(checkpoint=note + "".join(lines)))

    both = verify(with_lines(w1.cosign(text, t), w2.cosign(text, t)), *keys)
    assert both.exit_code == 0, both.output
    assert "witnessed by: w.example/one (2026-05-28 20:26:40Z), w.example/two" in both.output
    for lines in (
        [w1.cosign(text, t)],  # short by one
        [w1.cosign(text, t), stranger.cosign(text, t)],  # a key it was not given
        [w1.cosign(text, t), w2.cosign(other_text, t)],  # over another checkpoint
    ):
        result = verify(with_lines(*lines), *keys)
        assert result.exit_code == 1, result.output
        assert "proof NOT verified" in result.output
    assert verify(with_lines(w1.cosign(text, t)), *keys, "--quorum", "1").exit_code == 0
    bad = verify(with_lines(w1.cosign(text, t)), "--witness", "not a key")
    assert bad.exit_code == 2
    assert "--witness" in bad.output
