"""`portal audit verify --against`: a signed checkpoint kept outside the
database (a saved note, a witness's copy) shows what the database alone
cannot: a log whose tail was cut off, checkpoints deleted, a log rebuilt and
re-signed. And `audit verify` lists every problem it finds, events whose
sealed detail does not open included, instead of stopping (or crashing) at
the first."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, select, update

from portal.audit import cli as audit_cli
from portal.audit.events import record_event
from portal.audit.log_routes import log_signer
from portal.audit.models import AccessEvent, EventKind
from portal.db import make_engine
from portal.extensions import session, vault
from portal.records.models import Subject
from portal.transparency import merkle
from portal.transparency.cosign import Cosigner
from portal.transparency.models import Checkpoint, Cosignature, LogHead, LogLeaf, LogNode
from portal.transparency.notes import Signer, signature_lines

from ..factories import integrate

pytestmark = pytest.mark.committing  # tampers through an engine of its own; `audit verify` takes a snapshot

BATCHES = 3  # of two events each, integrated (and so signed) one batch at a time


@pytest.fixture
def logged(app, world, database_url):
    """The world's events in the log, then three batches of two events of
    person A, each integrated with its own checkpoint. Yields the app, an
    engine to tamper with the tables, and the log's sizes after each batch
    (the last is the log's size)."""
    sizes = []
    with app.app_context():
        s = session()
        integrate(s)
        for _ in range(BATCHES):
            for _ in range(2):
                record_event(s, vault(), s.get(Subject, world.person_a.id), EventKind.SELF_QUERY, detail={"n": 1})
            s.commit()
            integrate(s)
            sizes.append(s.scalar(select(LogHead.size)))
    engine = make_engine(database_url)
    yield app, engine, sizes
    engine.dispose()


def verify(app, *args):
    return app.test_cli_runner().invoke(args=["audit", "verify", *args])


def passed(result):
    assert result.exit_code == 0, result.output
    assert "log verified:" in result.output
    return True


def failed(result, *texts):
    """Exit 1 from the command itself (not a crash), every text on stderr."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exc_info
    assert "Traceback" not in result.output
    assert "log verification FAILED:" in result.stderr
    for text in texts:
        assert text in result.stderr, result.stderr
    return True


def origin(app):
    with app.app_context():
        return log_signer().name


def checkpoint_note(app, size=None):
    """The checkpoint as a client saves it from /transparency/checkpoint, or
    the stored one of `size`."""
    if size is None:
        response = app.test_client().get("/transparency/checkpoint")
        assert response.status_code == 200
        return response.get_data(as_text=True)
    with app.app_context():
        return session().get(Checkpoint, size).note


def save(tmp_path, note, name="checkpoint.txt"):
    path = tmp_path / name
    path.write_text(note, encoding="utf-8")
    return str(path)


def truncate(engine, size):
    """What a careful operator does to hide the last events: delete them,
    their leaves, every subtree over them and the checkpoints past `size`,
    and set the head back. Every table then agrees with every other."""
    with engine.begin() as c:
        c.execute(delete(AccessEvent).where(AccessEvent.log_index >= size))
        c.execute(delete(LogLeaf).where(LogLeaf.index >= size))
        for level, index in c.execute(select(LogNode.level, LogNode.index)).all():
            if (index + 1) << level > size:
                c.execute(delete(LogNode).where(LogNode.level == level, LogNode.index == index))
        c.execute(delete(Cosignature).where(Cosignature.size > size))
        c.execute(delete(Checkpoint).where(Checkpoint.size > size))
        c.execute(update(LogHead).values(size=size))


# -- against a saved checkpoint -------------------------------------------------
def test_an_untouched_log_is_consistent_with_saved_checkpoints(logged, tmp_path):
    app, _engine, sizes = logged
    newest = save(tmp_path, checkpoint_note(app), "newest.txt")
    older = save(tmp_path, checkpoint_note(app, sizes[0]), "older.txt")
    result = verify(app, "--against", newest, "--against", older)
    assert passed(result)
    assert f"consistent with the signed checkpoint of {sizes[-1]} leaves held by {newest}" in result.output
    assert f"consistent with the signed checkpoint of {sizes[0]} leaves held by {older}" in result.output


def test_a_truncated_log_passes_alone_and_is_caught_against_a_saved_checkpoint(logged, tmp_path):
    app, engine, sizes = logged
    held = save(tmp_path, checkpoint_note(app))
    truncate(engine, sizes[0])
    # The gap: every copy of the truth is in the operator's database.
    result = verify(app)
    assert passed(result)
    assert f"log verified: {sizes[0]} leaves" in result.output
    result = verify(app, "--against", held)
    assert failed(
        result,
        "log verification FAILED: 1 problem(s)",
        f"the log was truncated: {held} holds a signed checkpoint of {sizes[-1]} leaves, the stored log has "
        f"{sizes[0]} (leaves {sizes[0]} to {sizes[-1] - 1} are gone)",
        f"signed checkpoints up to size {sizes[-1]} were deleted (the newest stored one is of size {sizes[0]})",
    )


def test_deleted_newest_checkpoints_are_caught(logged, tmp_path):
    app, engine, sizes = logged
    held = save(tmp_path, checkpoint_note(app))
    with engine.begin() as c:
        c.execute(delete(Checkpoint).where(Checkpoint.size > sizes[0]))
    assert passed(verify(app))
    assert failed(
        verify(app, "--against", held),
        f"signed checkpoints up to size {sizes[-1]} were deleted: {held} holds one of size {sizes[-1]}, "
        f"the newest stored one is of size {sizes[0]}",
    )
    with engine.begin() as c:
        c.execute(delete(Checkpoint))
    assert failed(verify(app, "--against", held), "none is stored")


def test_a_leaf_rewritten_below_the_held_size_is_named(logged, tmp_path):
    app, engine, sizes = logged
    held = save(tmp_path, checkpoint_note(app))
    with engine.begin() as c:
        c.execute(update(LogLeaf).where(LogLeaf.index == 1).values(leaf_hash=merkle.leaf_hash(b"forged")))
    result = verify(app, "--log-only", "--against", held)
    assert failed(
        result,
        "leaf 1: changed",  # the stored tree's first failure, as without --against
        f"the stored log is not the one signed at size {sizes[-1]} as held by {held}: "
        f"a leaf below {sizes[-1]} was changed, removed or inserted",
    )
    assert "2 problem(s)" in result.stderr


def test_a_log_rebuilt_and_re_signed_by_the_operator_is_caught(logged, tmp_path):
    """The operator holds the signing key: rewrite a leaf, rebuild every
    subtree, sign every checkpoint again. The database agrees with itself;
    the checkpoint a client saved does not."""
    app, engine, sizes = logged
    held = save(tmp_path, checkpoint_note(app))
    signer = Signer.load(app.config["KEY_DIR"], origin(app))
    with engine.begin() as c:
        c.execute(update(LogLeaf).where(LogLeaf.index == 1).values(leaf_hash=merkle.leaf_hash(b"forged")))
        leaves = b"".join(c.scalars(select(LogLeaf.leaf_hash).order_by(LogLeaf.index)))
        levels = merkle.build_levels(leaves)
        for level, blob in enumerate(levels):
            for index in range(len(blob) // 32):
                c.execute(
                    update(LogNode)
                    .where(LogNode.level == level, LogNode.index == index)
                    .values(hash=blob[32 * index : 32 * index + 32])
                )
        tree = merkle.MemoryTree(levels)
        for size in c.scalars(select(Checkpoint.size)).all():
            root = tree.root(size)
            c.execute(
                update(Checkpoint)
                .where(Checkpoint.size == size)
                .values(root=root, note=signer.sign_checkpoint(signer.name, size, root))
            )
    assert passed(verify(app, "--log-only"))
    assert failed(
        verify(app, "--log-only", "--against", held),
        f"the stored log is not the one signed at size {sizes[-1]} as held by {held}",
    )


def test_a_saved_checkpoint_with_witness_cosignatures_is_read(logged, tmp_path):
    app, _engine, sizes = logged
    note = checkpoint_note(app)
    text, _ = signature_lines(note)
    cosigned = note + Cosigner("witness.example/w1", Ed25519PrivateKey.generate()).cosign(text, int(time.time()))
    held = save(tmp_path, cosigned)
    assert f"of {sizes[-1]} leaves held by {held}" in verify(app, "--against", held).output


@pytest.mark.parametrize(
    ("forge", "fragment"),
    [("another key", "the note is not signed by"), ("altered", "does not verify: the note was altered")],
)
def test_a_checkpoint_not_signed_by_the_log_is_refused(logged, tmp_path, forge, fragment):
    """A checkpoint of a size beyond the log, but not the log's: no
    truncation is claimed on its word."""
    app, _engine, sizes = logged
    name = origin(app)
    if forge == "another key":
        note = Signer(name, Ed25519PrivateKey.generate()).sign_checkpoint(name, sizes[-1] + 5, bytes(32))
    else:
        note = checkpoint_note(app).replace(f"\n{sizes[-1]}\n", f"\n{sizes[-1] + 5}\n")
    held = save(tmp_path, note)
    result = verify(app, "--against", held)
    assert failed(
        result,
        f"the checkpoint held by {held} does not verify against the log's key {name}, so it proves nothing "
        "(it could be forged)",
        fragment,
    )
    assert "truncated" not in result.stderr


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "could not be checked: the file cannot be read (No such file or directory)"),
        (b"not a note\n", "could not be checked: not a checkpoint note (not a signed note"),
        (b"\xff\xfe", "could not be checked: not a checkpoint note (not UTF-8 text)"),
    ],
)
def test_a_file_that_is_no_checkpoint_is_a_problem(logged, tmp_path, content, fragment):
    app, _engine, _sizes = logged
    path = tmp_path / "held.txt"
    if content is not None:
        path.write_bytes(content)
    assert failed(verify(app, "--against", str(path)), f"{path}: {fragment}")


# -- against a witness ------------------------------------------------------------
@pytest.fixture
def witness(monkeypatch):
    """A witness over real HTTP: GET /checkpoint?origin=O answers the note
    it holds for O (text/plain), 404 when it holds none."""
    for name in ("no_proxy", "NO_PROXY"):  # straight to it, whatever proxy the environment names
        monkeypatch.setenv(name, "127.0.0.1")
    held: dict[str, str] = {}
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802  # the name http.server calls
            asked.append(self.path)
            url = urlsplit(self.path)
            note = held.get(parse_qs(url.query).get("origin", [""])[0]) if url.path == "/checkpoint" else None
            body = (note or "no checkpoint of this log\n").encode()
            self.send_response(200 if note else 404)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", held, asked
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_a_witness_copy_proves_the_log_consistent(logged, witness):
    app, _engine, sizes = logged
    url, held, asked = witness
    held[origin(app)] = checkpoint_note(app)
    result = verify(app, "--against", url + "/")  # a trailing slash is dropped
    assert passed(result)
    assert f"consistent with the signed checkpoint of {sizes[-1]} leaves held by {url}/" in result.output
    assert len(asked) == 1
    assert urlsplit(asked[0]).path == "/checkpoint"
    assert parse_qs(urlsplit(asked[0]).query) == {"origin": [origin(app)]}


def test_a_witness_copy_shows_a_truncated_log(logged, witness, tmp_path):
    app, engine, sizes = logged
    url, held, _asked = witness
    held[origin(app)] = checkpoint_note(app)
    older = save(tmp_path, checkpoint_note(app, sizes[0]))
    truncate(engine, sizes[1])
    assert passed(verify(app))
    result = verify(app, "--against", older, "--against", url)
    assert failed(
        result,
        "1 problem(s)",  # the older checkpoint is still in the log
        f"the log was truncated: {url} holds a signed checkpoint of {sizes[-1]} leaves, the stored log has {sizes[1]}",
    )


def test_a_witness_that_holds_nothing_or_does_not_answer(logged, witness):
    app, _engine, _sizes = logged
    url, _held, _asked = witness
    result = verify(app, "--against", url)
    assert failed(result, f"{url}: could not be checked: the witness holds no checkpoint of {origin(app)} (HTTP 404)")
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    result = verify(app, "--against", closed, "--against", url)
    assert failed(result, "2 problem(s)", f"{closed}: could not be checked: no answer from the witness")


# -- every problem, not only the first ---------------------------------------------
def test_events_whose_detail_does_not_open_are_named_and_the_audit_goes_on(logged):
    app, engine, sizes = logged
    first = sizes[-1] - 2 * BATCHES  # the first of person A's events
    with engine.begin() as c:
        ids, cts = {}, {}
        for index in range(first, first + 5):
            ids[index], cts[index] = c.execute(
                select(AccessEvent.id, AccessEvent.detail_ct).where(AccessEvent.log_index == index)
            ).one()
        flipped = bytearray(cts[first])
        flipped[-1] ^= 1
        changes = {first: bytes(flipped), first + 1: cts[first + 2], first + 2: cts[first + 1]}  # altered; swapped
        for index, ct in changes.items():
            c.execute(update(AccessEvent).where(AccessEvent.id == ids[index]).values(detail_ct=ct))
        c.execute(update(AccessEvent).where(AccessEvent.id == ids[first + 3]).values(purpose="court_enforcement"))
        c.execute(delete(AccessEvent).where(AccessEvent.id == ids[first + 4]))
    result = verify(app)
    assert failed(
        result,
        "log verification FAILED: 5 problem(s)",
        f"event {ids[first]} (leaf {first}): sealed detail does not open",
        f"event {ids[first + 1]} (leaf {first + 1}): sealed detail does not open",
        f"event {ids[first + 2]} (leaf {first + 2}): sealed detail does not open",
        f"leaf {first + 3}: event {ids[first + 3]} no longer hashes to it (the event was changed)",
        f"leaf {first + 4}: no event has it (the event was deleted)",
    )
    assert passed(verify(app, "--log-only"))  # the tree itself is intact


def test_problems_of_both_halves_and_of_the_held_checkpoints_are_listed(logged, tmp_path, monkeypatch):
    app, engine, sizes = logged
    held = save(tmp_path, checkpoint_note(app))
    truncate(engine, sizes[1])
    with engine.begin() as c:
        c.execute(update(LogLeaf).where(LogLeaf.index == 0).values(leaf_hash=merkle.leaf_hash(b"forged")))
        c.execute(delete(AccessEvent).where(AccessEvent.log_index.in_([2, 3])))
    result = verify(app, "--against", held)
    assert failed(
        result,
        "log verification FAILED: 5 problem(s)",
        "leaf 0: changed",
        f"the log was truncated: {held}",
        "leaf 0: event",  # the events half still ran, against the stored leaves
        "leaf 2: no event has it",
        "leaf 3: no event has it",
    )
    monkeypatch.setattr(audit_cli, "SHOWN", 2)
    result = verify(app, "--against", held)
    assert failed(result, "5 problem(s)", "  ... and 3 more")
    assert "leaf 2: no event has it" not in result.stderr
