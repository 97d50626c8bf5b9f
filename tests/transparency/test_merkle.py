"""The pure Merkle functions: the known-answer vectors of transparency-dev,
the reference against the RFC's definitions, and the verifiers against
every proof of every small tree and every single-bit change to it."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from portal.transparency import merkle
from portal.transparency.merkle import ProofError

VECTORS = Path(__file__).parent / "vectors"
CASES = sorted(VECTORS.rglob("*.json"))
STANDARD = [
    bytes.fromhex(h)
    for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")
]
LEAVES = [f"leaf {i}".encode() for i in range(64)]


def b64(text):
    return base64.b64decode(text)


def load(path):
    case = json.loads(path.read_text())
    case["proof"] = [b64(p) for p in case["proof"] or []]
    return case


def check(case):
    if "leafIdx" in case:
        merkle.verify_inclusion(
            case["leafIdx"], case["treeSize"], b64(case["leafHash"]), case["proof"], b64(case["root"])
        )
    else:
        merkle.verify_consistency(case["size1"], case["size2"], b64(case["root1"]), b64(case["root2"]), case["proof"])


def test_all_vectors_are_here():
    assert len(CASES) == 196
    assert (VECTORS / "README.md").read_text().count("Apache License") == 1


@pytest.mark.parametrize("path", CASES, ids=lambda p: str(p.relative_to(VECTORS)))
def test_vector(path):
    case = load(path)
    if case["wantErr"]:
        with pytest.raises(ProofError):
            check(case)
    else:
        check(case)


@pytest.mark.parametrize(
    "path", [p for p in CASES if p.name == "happy-path.json"], ids=lambda p: str(p.relative_to(VECTORS))
)
def test_generators_reproduce_the_happy_paths(path):
    case = load(path)
    if "leafIdx" in case:
        leaves = STANDARD[: case["treeSize"]]
        assert merkle.root(leaves) == b64(case["root"])
        assert merkle.leaf_hash(leaves[case["leafIdx"]]) == b64(case["leafHash"])
        assert merkle.inclusion_proof_naive(case["leafIdx"], leaves) == case["proof"]
        tree = merkle.MemoryTree(merkle.build_levels(b"".join(map(merkle.leaf_hash, leaves))))
        assert tree.inclusion_proof(case["leafIdx"], case["treeSize"]) == case["proof"]
    else:
        leaves = STANDARD[: case["size2"]]
        assert merkle.root(STANDARD[: case["size1"]]) == b64(case["root1"])
        assert merkle.root(leaves) == b64(case["root2"])
        assert merkle.consistency_proof_naive(case["size1"], leaves) == case["proof"]


def test_known_roots():
    assert merkle.root([]) == hashlib.sha256(b"").digest() == merkle.EMPTY_ROOT
    assert merkle.root(STANDARD).hex() == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    assert merkle.root([b"x"]) == hashlib.sha256(b"\x00x").digest()
    assert (
        merkle.root([b"x", b"y"])
        == hashlib.sha256(b"\x01" + hashlib.sha256(b"\x00x").digest() + hashlib.sha256(b"\x00y").digest()).digest()
    )


# -- an independent reference: hash the tree bottom-up, as RFC 9162 draws it --
def mth(leaves):
    """MTH without recursion on the split point: complete subtrees left to
    right, then joined from the right."""
    hashes, pos, parts = [merkle.leaf_hash(d) for d in leaves], 0, []
    for level in range(len(leaves).bit_length() - 1, -1, -1):
        if len(leaves) >> level & 1:
            layer = hashes[pos : pos + (1 << level)]
            while len(layer) > 1:
                layer = [merkle.node_hash(layer[i], layer[i + 1]) for i in range(0, len(layer), 2)]
            parts.append(layer[0])
            pos += 1 << level
    if not parts:
        return merkle.EMPTY_ROOT
    acc = parts[-1]
    for h in reversed(parts[:-1]):
        acc = merkle.node_hash(h, acc)
    return acc


def test_reference_root_against_bottom_up_hashing():
    for n in range(65):
        assert merkle.root(LEAVES[:n]) == mth(LEAVES[:n]), n


def test_every_inclusion_proof_up_to_64_leaves():
    tree = merkle.MemoryTree(merkle.build_levels(b"".join(map(merkle.leaf_hash, LEAVES))))
    for n in range(1, 65):
        root = merkle.root(LEAVES[:n])
        assert tree.root(n) == root
        for i in range(n):
            proof = merkle.inclusion_proof_naive(i, LEAVES[:n])
            assert tree.inclusion_proof(i, n) == proof, (i, n)
            merkle.verify_inclusion(i, n, merkle.leaf_hash(LEAVES[i]), proof, root)
            # The same proof proves no other leaf, index or size.
            with pytest.raises(ProofError):
                merkle.verify_inclusion(i, n, merkle.leaf_hash(b"other"), proof, root)
            for j in {i - 1, i + 1} - {-1}:
                with pytest.raises(ProofError):
                    merkle.verify_inclusion(j, n, merkle.leaf_hash(LEAVES[i]), proof, root)
            with pytest.raises(ProofError):
                merkle.verify_inclusion(i, n, merkle.leaf_hash(LEAVES[i]), proof + [root], root)
            if proof:
                with pytest.raises(ProofError):
                    merkle.verify_inclusion(i, n, merkle.leaf_hash(LEAVES[i]), proof[:-1], root)


def test_every_consistency_proof_up_to_64_leaves():
    tree = merkle.MemoryTree(merkle.build_levels(b"".join(map(merkle.leaf_hash, LEAVES))))
    roots = [merkle.root(LEAVES[:n]) for n in range(65)]
    for n in range(1, 65):
        for m in range(1, n + 1):
            proof = merkle.consistency_proof_naive(m, LEAVES[:n])
            assert tree.consistency_proof(m, n) == proof, (m, n)
            merkle.verify_consistency(m, n, roots[m], roots[n], proof)
            if m < n:
                with pytest.raises(ProofError):
                    merkle.verify_consistency(m, n, roots[m - 1] if m > 1 else roots[n], roots[n], proof)
                with pytest.raises(ProofError):
                    merkle.verify_consistency(m, n, roots[m], roots[n], proof[:-1])


def flips(proof):
    for i, p in enumerate(proof):
        for bit in range(8 * len(p)):
            changed = bytearray(p)
            changed[bit // 8] ^= 1 << bit % 8
            yield proof[:i] + [bytes(changed)] + proof[i + 1 :]


SIZES = [*range(1, 18), 31, 32, 33]


def test_every_single_bit_flip_of_an_inclusion_proof_fails():
    checked = 0
    for n in SIZES:
        root = merkle.root(LEAVES[:n])
        for i in range(n):
            proof = merkle.inclusion_proof_naive(i, LEAVES[:n])
            for bad in flips(proof):
                with pytest.raises(ProofError):
                    merkle.verify_inclusion(i, n, merkle.leaf_hash(LEAVES[i]), bad, root)
                checked += 1
            for (bad_root,) in flips([root]):
                with pytest.raises(ProofError):
                    merkle.verify_inclusion(i, n, merkle.leaf_hash(LEAVES[i]), proof, bad_root)
    assert checked > 50_000


def test_every_single_bit_flip_of_a_consistency_proof_fails():
    checked = 0
    for n in SIZES:
        for m in range(1, n):
            r1, r2 = merkle.root(LEAVES[:m]), merkle.root(LEAVES[:n])
            proof = merkle.consistency_proof_naive(m, LEAVES[:n])
            for bad in flips(proof):
                with pytest.raises(ProofError):
                    merkle.verify_consistency(m, n, r1, r2, bad)
                checked += 1
            for (bad_root,) in flips([r1]):
                with pytest.raises(ProofError):
                    merkle.verify_consistency(m, n, bad_root, r2, proof)
    assert checked > 50_000


@pytest.mark.parametrize(
    "args",
    [
        (0, 0, bytes(32), [], bytes(32)),  # no leaf in an empty tree
        (3, 3, bytes(32), [], bytes(32)),  # index == size
        (-1, 3, bytes(32), [], bytes(32)),
        (True, 3, bytes(32), [], bytes(32)),  # a bool is not an index
        (0, 1, bytes(31), [], bytes(31)),  # short hashes, though equal
        (0, 1, bytes(32), [], bytes(33)),
        (0, 2, bytes(32), [bytes(31)], bytes(32)),
    ],
)
def test_inclusion_rejects_bad_arguments(args):
    with pytest.raises(ProofError):
        merkle.verify_inclusion(*args)


def test_conventions_of_the_vectors():
    h = merkle.root(LEAVES[:1])
    with pytest.raises(ProofError, match="empty tree"):
        merkle.verify_consistency(0, 0, merkle.EMPTY_ROOT, merkle.EMPTY_ROOT, [])
    merkle.verify_consistency(1, 1, h, h, None)
    with pytest.raises(ProofError, match="must be empty"):
        merkle.verify_consistency(1, 1, h, h, [h])
    with pytest.raises(ProofError, match="smaller"):
        merkle.verify_consistency(2, 1, h, h, [])


def test_generators_refuse_out_of_range():
    with pytest.raises(ValueError, match="not in a tree of size 3"):
        merkle.inclusion_proof_naive(3, LEAVES[:3])
    with pytest.raises(ValueError, match="no consistency proof from size 0"):
        merkle.consistency_proof_naive(0, LEAVES[:3])
    with pytest.raises(ValueError, match="no consistency proof from size 4 to size 3"):
        merkle.consistency_ranges(4, 3)
    with pytest.raises(ValueError, match="not a subtree range"):
        merkle.subtrees(1, 3)  # not a range the tree is made of
