"""The portal and its witnesses, over real HTTP with `portal witness serve`:
the worker's job has each new checkpoint cosigned, clients are given only
what the quorum vouched for, a witness that is down delays nothing but
cosigning, and a second instance showing the witness another tree of the
same log is refused."""

from __future__ import annotations

import json
import socket

import pytest
from sqlalchemy import delete, func, select

from portal.audit.events import BundleError, proof_bundles, record_event, verify_bundle
from portal.audit.log_routes import log_signer
from portal.audit.models import AccessEvent, EventKind
from portal.audit.witnessing import Witnessing, add_checkpoint
from portal.extensions import session, vault
from portal.records.models import Subject
from portal.transparency import log
from portal.transparency.cosign import Witness, WitnessPolicy
from portal.transparency.models import Checkpoint, Cosignature
from portal.transparency.witnessed import cosigned_note, witnessed_checkpoint

from ..factories import integrate
from ..witness.conftest import Log, leaves, portal, start_witness


@pytest.fixture
def served_witness(tmp_path):
    """A new witness per test: each test's log starts again from nothing,
    which a witness that saw the previous one rightly refuses."""
    running = start_witness(tmp_path / "w")
    yield running
    running.server.kill()


@pytest.fixture
def witnessed(app, served_witness, monkeypatch):
    """The app with the served witness as its one witness (quorum 1), the
    witness trusting this app's log key."""
    with app.app_context():
        served_witness.trust(log_signer().vkey)
    policy = WitnessPolicy((Witness.parse(served_witness.vkey, f"http://127.0.0.1:{served_witness.port}"),), 1)
    monkeypatch.setitem(app.extensions, "portal.witnesses", policy)
    return policy


def events(world, n=2):
    s = session()
    for _ in range(n):
        record_event(s, vault(), s.get(Subject, world.person_a.id), EventKind.SELF_QUERY, detail={})
    s.commit()
    integrate(s)


pytestmark = pytest.mark.committing  # the witness remembers every size it cosigned: the log must really grow


def test_each_new_checkpoint_is_cosigned_and_only_what_the_quorum_vouched_for_is_given_out(
    app, world, witnessed, served_witness
):
    with app.app_context():
        s, job = session(), Witnessing(witnessed)
        events(world)
        assert witnessed_checkpoint(s, log_signer(), witnessed) is None  # nobody vouched yet
        client = app.test_client()
        assert client.get("/transparency/checkpoint").status_code == 503
        assert job.run(s) == 1
        s.commit()
        first = witnessed_checkpoint(s, log_signer(), witnessed)
        assert first is not None
        assert first.size == log.size(s)
        note = client.get("/transparency/checkpoint").get_data(as_text=True)
        assert note == cosigned_note(s, first, witnessed)
        assert list(witnessed.check(note)) == [served_witness.vkey.split("+")[0]]
        assert job.run(s) == 0  # nothing new to cosign

        # The log grows: its new events wait for the witness, then are given out.
        events(world)
        newest = s.scalars(select(AccessEvent).order_by(AccessEvent.log_index.desc()).limit(1)).one()
        assert newest.log_index >= first.size
        assert newest.id not in proof_bundles(s, vault(), [newest], log_signer(), witnessed)
        assert job.run(s) == 1  # from the size it cosigned before, with a consistency proof
        s.commit()
        bundle = proof_bundles(s, vault(), [newest], log_signer(), witnessed)[newest.id]
        assert bundle["tree_size"] == log.size(s) > first.size
        assert verify_bundle(json.loads(json.dumps(bundle)), log_signer().vkey, witnessed)["id"] == str(newest.id)
        # The same bundle, told of a second witness that must vouch too, is refused.
        other = portal("witness", "init", "--dir", served_witness.folder.parent / "other", "--name", "w.test/two")
        two = WitnessPolicy((*witnessed.witnesses, Witness.parse(other.stdout.strip())), 2)
        with pytest.raises(BundleError, match="only 1 of the 2"):
            verify_bundle(bundle, log_signer().vkey, two)

        # The witness's own copy proves the stored log consistent with it.
        s.commit()  # the command takes its own snapshot
        result = app.test_cli_runner().invoke(
            args=["audit", "verify", "--against", f"http://127.0.0.1:{served_witness.port}"]
        )
        assert result.exit_code == 0, result.output
        assert f"consistent with the signed checkpoint of {log.size(s)} leaves" in result.output


def test_a_witness_that_is_down_delays_cosigning_and_nothing_else(app, world, witnessed, served_witness):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    down = WitnessPolicy((Witness.parse(served_witness.vkey, f"http://127.0.0.1:{dead}"),), 1)
    with app.app_context():
        s, job = session(), Witnessing(down)
        events(world)
        assert job.run(s) == 0  # refused at once: logged, asked again later
        assert job.run(s) == 0
        assert job._retry_at
        assert s.scalar(select(func.count()).select_from(Cosignature)) == 0
        # Requests go on: a subject's page is served, events are recorded and integrated.
        events(world)
        assert app.test_client().get("/transparency/key").status_code == 200


def test_the_portal_catches_up_with_a_witness_that_knows_more_than_it_kept(app, world, witnessed):
    with app.app_context():
        s, job = session(), Witnessing(witnessed)
        events(world)
        assert job.run(s) == 1
        s.commit()
        # The answer is lost (a crash before the commit, say): the witness
        # holds a size the portal does not know it has.
        s.execute(delete(Cosignature))
        s.commit()
        events(world)
        assert job.run(s) == 1  # 409 with the witness's size, then asked again from there
        s.commit()
        assert witnessed_checkpoint(s, log_signer(), witnessed).size == log.size(s)


def test_another_tree_of_the_same_log_shown_to_the_witness_is_refused(app, world, witnessed, served_witness):
    """A second portal instance with the same key but other leaves (a split
    view) cannot get the witness to vouch for its tree."""
    url = f"http://127.0.0.1:{served_witness.port}"
    with app.app_context():
        s, job = session(), Witnessing(witnessed)
        events(world)
        assert job.run(s) == 1
        s.commit()
        size = log.size(s)
        fork = Log(log_signer().name, leaves("fork", size + 3), log_signer())
        assert add_checkpoint(url, 0, [], fork.note(size + 3)).status == 409  # it knows the log at `size`
        bad = add_checkpoint(url, size, fork.proof(size, size + 3), fork.note(size + 3))
        assert bad.status == 422  # the fork is not an extension of what it cosigned
        same_size = add_checkpoint(url, size, [], fork.note(size))
        assert same_size.status == 409  # another root at the size it cosigned
        # The true log still grows and is cosigned.
        events(world)
        assert job.run(s) == 1
        s.commit()
        assert s.scalar(select(func.max(Checkpoint.size))) == log.size(s)


def test_a_witness_answering_garbage_is_asked_again_later(app, world, witnessed):
    """A status line that is not HTTP, a size in other digits, a cosignature
    that does not verify: each is that witness's failure, logged and asked
    again later, never an error of the job."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from portal.audit.witnessing import _size

    assert _size("²") is None
    assert _size("0012") is None
    assert _size("12\n") == 12

    class Garbage(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802  # http.server's naming
            self.rfile.read(int(self.headers["Content-Length"]))
            self.wfile.write(b"NOT HTTP AT ALL\r\n\r\n")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Garbage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        policy = WitnessPolicy((Witness.parse(witnessed.witnesses[0].vkey, url),), 1)
        with app.app_context():
            s = session()
            events(world)
            job = Witnessing(policy)
            assert job.run(s) == 0
            assert job._retry_at  # waits before asking again
            assert add_checkpoint(url, 0, [], s.scalars(select(Checkpoint)).first().note).status == 0
    finally:
        server.shutdown()


def test_cosignatures_by_a_witness_s_old_key_count_no_more(app, world, witnessed, served_witness):
    """A witness whose key changes under the same name vouches anew: what it
    signed with its old key no longer makes the quorum."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from portal.transparency.cosign import Cosigner

    with app.app_context():
        s = session()
        events(world)
        assert Witnessing(witnessed).run(s) == 1
        s.commit()
        assert witnessed_checkpoint(s, log_signer(), witnessed) is not None
        name = witnessed.witnesses[0].name
        rekeyed = Cosigner(name, Ed25519PrivateKey.generate())
        policy = WitnessPolicy((Witness.parse(rekeyed.vkey, witnessed.witnesses[0].url),), 1)
        assert witnessed_checkpoint(s, log_signer(), policy) is None
        newest = s.scalars(select(Checkpoint).order_by(Checkpoint.size.desc())).first()
        assert cosigned_note(s, newest, policy) == newest.note  # the old key's line is not given out
