"""The public endpoints: checkpoint, key and proofs, and 400 problem+json
for every bad parameter."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import func, select

from portal.extensions import session
from portal.transparency import merkle
from portal.transparency.models import Checkpoint
from portal.transparency.notes import Verifier, verify_note

from .helpers import data, fill

LEAVES = [data(i) for i in range(13)]


@pytest.fixture
def client(log_app):
    fill(log_app, 13)
    return log_app.test_client()


def proof_of(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return [base64.b64decode(p) for p in response.get_json()["proof"]]


def test_key(client, signer):
    response = client.get("/transparency/key")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == signer.vkey + "\n"
    Verifier.parse(response.get_data(as_text=True))


def test_checkpoint_is_signed_on_demand_and_reused(client, log_app, signer):
    response = client.get("/transparency/checkpoint")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    note = response.get_data(as_text=True)
    assert verify_note(note, signer.vkey) == (signer.name, 13, merkle.root(LEAVES))
    assert client.get("/transparency/checkpoint").get_data(as_text=True) == note  # not signed again

    fill(log_app, 2, start=13)
    grown = client.get("/transparency/checkpoint").get_data(as_text=True)
    origin, size, root = verify_note(grown, signer.vkey)
    assert (size, root) == (15, merkle.root([data(i) for i in range(15)]))
    with log_app.app_context():
        assert session().scalars(select(Checkpoint.size).order_by(Checkpoint.size)).all() == [13, 15]


def test_checkpoint_of_the_empty_log(log_app, signer):
    note = log_app.test_client().get("/transparency/checkpoint").get_data(as_text=True)
    assert verify_note(note, signer.vkey) == (signer.name, 0, merkle.EMPTY_ROOT)


def test_inclusion_proofs_verify_against_the_checkpoint(client, signer):
    _origin, size, root = verify_note(client.get("/transparency/checkpoint").get_data(as_text=True), signer.vkey)
    for index in range(size):
        response = client.get(f"/transparency/proof/inclusion?index={index}&size={size}")
        assert response.get_json()["index"] == index
        assert response.get_json()["size"] == size
        proof = proof_of(response)
        assert proof == merkle.inclusion_proof_naive(index, LEAVES)
        merkle.verify_inclusion(index, size, merkle.leaf_hash(LEAVES[index]), proof, root)


def test_consistency_proofs(client):
    for first in range(1, 14):
        for second in (first, 13):
            response = client.get(f"/transparency/proof/consistency?first={first}&second={second}")
            assert response.get_json()["first"] == first
            assert response.get_json()["second"] == second
            proof = proof_of(response)
            merkle.verify_consistency(first, second, merkle.root(LEAVES[:first]), merkle.root(LEAVES[:second]), proof)


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("inclusion?size=5", "index"),
        ("inclusion?index=1", "size"),
        ("inclusion?index=&size=5", "index"),
        ("inclusion?index=a&size=5", "index"),
        ("inclusion?index=-1&size=5", "index"),
        ("inclusion?index=%2B1&size=5", "index"),  # +1
        ("inclusion?index=1.0&size=5", "index"),
        ("inclusion?index=%201&size=5", "index"),  # leading space
        ("inclusion?index=%EF%BC%91&size=5", "index"),  # a full-width digit
        ("inclusion?index=1e3&size=5", "index"),
        ("inclusion?index=1&index=2&size=5", "index"),
        ("inclusion?index=99999999999999999999999&size=5", "index"),
        ("inclusion?index=5&size=5", "index"),
        ("inclusion?index=0&size=0", "size"),
        ("inclusion?index=0&size=14", "size"),
        ("inclusion?index=0&size=18446744073709551616", "size"),
        ("consistency?second=5", "first"),
        ("consistency?first=1", "second"),
        ("consistency?first=0&second=5", "first"),
        ("consistency?first=0&second=0", "second"),
        ("consistency?first=6&second=5", "first"),
        ("consistency?first=1&second=14", "second"),
        ("consistency?first=x&second=5", "first"),
    ],
)
def test_bad_parameters_get_400_problem_json(client, query, parameter):
    response = client.get(f"/transparency/proof/{query}")
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.get_json(force=True)
    assert body["status"] == 400
    assert body["title"]
    assert body["type"]
    assert body["parameter"] == parameter
    assert parameter in body["detail"]


def test_no_signing_key_is_a_503_not_a_500(app, instance):
    (instance / "keys" / "log-signing.key").unlink()
    response = app.test_client().get("/transparency/checkpoint")
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/problem+json"
    assert "log-signing.key" not in response.get_data(as_text=True)  # no paths to the public
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(Checkpoint)) == 0
