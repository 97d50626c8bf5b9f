"""RFC 9162 Merkle trees (the RFC 6962 hashing): pure functions, no database.

Hashes: leaf SHA-256(0x00 || d), node SHA-256(0x01 || left || right); the
tree of n > 1 leaves splits at the largest power of two below n; the empty
tree's root is SHA-256 of nothing.

Three layers:
- the reference (`root`, `inclusion_proof_naive`, `consistency_proof_naive`),
  straight from the RFC's recursive definitions, for tests;
- range arithmetic (`inclusion_ranges`, `consistency_ranges`, `subtrees`):
  which leaf ranges a proof is made of and which stored complete subtrees
  make up each range, so a store can fetch them in one query;
- the verifiers, RFC 9162 sections 2.1.3.2 and 2.1.4.2 step by step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

Node = tuple[int, int]  # (level, index): leaves [index * 2**level, (index + 1) * 2**level)


class ProofError(ValueError):
    """A proof, or the sizes, indices and hashes it is checked against, is wrong."""


def leaf_hash(d: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + d).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly below n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


# -- the reference -----------------------------------------------------------
def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of the leaf data (not leaf hashes), as RFC 9162 2.1.1 defines it."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hash(leaves[0])
    k = split_point(n)
    return node_hash(root(leaves[:k]), root(leaves[k:]))


def inclusion_proof_naive(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]), RFC 9162 2.1.3.1."""
    n = len(leaves)
    if not 0 <= index < n:
        raise ValueError(f"index {index} is not in a tree of size {n}")
    if n == 1:
        return []
    k = split_point(n)
    if index < k:
        return inclusion_proof_naive(index, leaves[:k]) + [root(leaves[k:])]
    return inclusion_proof_naive(index - k, leaves[k:]) + [root(leaves[:k])]


def consistency_proof_naive(first: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]), RFC 9162 2.1.4.1, for 0 < m <= n."""
    if not 0 < first <= len(leaves):
        raise ValueError(f"no consistency proof from size {first} to size {len(leaves)}")

    def subproof(m: int, d: Sequence[bytes], complete: bool) -> list[bytes]:
        n = len(d)
        if m == n:
            return [] if complete else [root(d)]
        k = split_point(n)
        if m <= k:
            return subproof(m, d[:k], complete) + [root(d[k:])]
        return subproof(m - k, d[k:], False) + [root(d[:k])]

    return subproof(first, leaves, True)


# -- ranges and stored subtrees ------------------------------------------------
Range = tuple[int, int]  # leaves [start, end)


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The leaf ranges whose MTHs form PATH(index, D[size]), leaf end first."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} is not in a tree of size {size}")
    out: list[Range] = []
    start, end = 0, size
    while end - start > 1:  # walk down from the root, then reverse
        k = split_point(end - start)
        if index < start + k:
            out.append((start + k, end))
            end = start + k
        else:
            out.append((start, start + k))
            start += k
    return out[::-1]


def consistency_ranges(first: int, second: int) -> list[Range]:
    """The leaf ranges whose MTHs form PROOF(first, D[second]), 0 < first <= second."""
    if not 0 < first <= second:
        raise ValueError(f"no consistency proof from size {first} to size {second}")
    out: list[Range] = []
    start, end, m, complete = 0, second, first, True
    while m != end - start:
        k = split_point(end - start)
        if m <= k:
            out.append((start + k, end))
            end = start + k
        else:
            out.append((start, start + k))
            start, m, complete = start + k, m - k, False
    if not complete:
        out.append((start, end))
    return out[::-1]


def subtrees(start: int, end: int) -> list[Node]:
    """The complete subtrees, largest first, whose hashes fold (right to left)
    into the MTH of leaves [start, end). Valid for the ranges the tree is made
    of, which start at a multiple of their largest subtree."""
    nodes, pos = [], start
    for level in range((end - start).bit_length() - 1, -1, -1):
        if (end - start) >> level & 1:
            if pos % (1 << level):
                raise ValueError(f"range [{start}, {end}) is not a subtree range")
            nodes.append((level, pos >> level))
            pos += 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """The root of complete subtrees, largest first: H(h1, H(h2, ... hk))."""
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def hash_ranges(ranges: Iterable[Range], node: Callable[[Node], bytes] | Mapping[Node, bytes]) -> list[bytes]:
    """The MTH of each range, from complete-subtree hashes."""
    get = node.__getitem__ if isinstance(node, Mapping) else node
    return [fold([get(n) for n in subtrees(a, b)]) for a, b in ranges]


def build_levels(leaf_hashes: bytes) -> list[bytes]:
    """Every complete subtree hash, from the concatenated leaf hashes: level k
    is the concatenation of the hashes of nodes (k, 0), (k, 1), ... . The two
    children of a node are adjacent, so each node is one hash of one slice."""
    if len(leaf_hashes) % HASH_SIZE:
        raise ValueError("leaf hashes must be a concatenation of 32-byte hashes")
    levels = [leaf_hashes]
    sha256 = hashlib.sha256
    while len(levels[-1]) >= 2 * HASH_SIZE:
        below = levels[-1]
        pairs = len(below) // (2 * HASH_SIZE)
        levels.append(b"".join(sha256(b"\x01" + below[64 * i : 64 * i + 64]).digest() for i in range(pairs)))
    return levels


class MemoryTree:
    """Roots and proofs over `build_levels` output (audit and benchmarks)."""

    def __init__(self, levels: list[bytes]) -> None:
        self.levels = levels
        self.size = len(levels[0]) // HASH_SIZE

    def node(self, n: Node) -> bytes:
        level, index = n
        return self.levels[level][HASH_SIZE * index : HASH_SIZE * (index + 1)]

    def root(self, size: int) -> bytes:
        if not 0 <= size <= self.size:
            raise ValueError(f"size {size} is beyond the tree's {self.size}")
        return hash_ranges([(0, size)], self.node)[0] if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return hash_ranges(inclusion_ranges(index, size), self.node)

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        return hash_ranges(consistency_ranges(first, second), self.node)


# -- verifiers -----------------------------------------------------------------
def _check_hash(what: str, h: object) -> None:
    if not isinstance(h, bytes | bytearray) or len(h) != HASH_SIZE:
        raise ProofError(f"{what} is not a {HASH_SIZE}-byte hash")


def _check_size(what: str, n: object) -> int:
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ProofError(f"{what} must be a non-negative integer, not {n!r}")
    return n


def verify_inclusion(index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes] | None, root: bytes) -> None:
    """RFC 9162 2.1.3.2: raise ProofError unless `proof` shows the leaf with
    hash `leaf_hash` at `index` in the tree of `size` leaves with `root`."""
    index, size, proof = _check_size("index", index), _check_size("size", size), list(proof or [])
    if index >= size:
        raise ProofError(f"index {index} is not in a tree of size {size}")
    _check_hash("the leaf hash", leaf_hash)
    _check_hash("the root", root)
    for i, p in enumerate(proof):
        _check_hash(f"proof element {i}", p)
    fn, sn, r = index, size - 1, bytes(leaf_hash)
    for p in proof:
        if sn == 0:
            raise ProofError("the proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the proof is shorter than the tree is deep")
    if r != root:
        raise ProofError("the proof does not lead to the root")


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes] | None) -> None:
    """RFC 9162 2.1.4.2: raise ProofError unless `proof` shows the tree of
    `size1` leaves with `root1` is a prefix of the tree of `size2` with `root2`."""
    size1, size2, proof = _check_size("size1", size1), _check_size("size2", size2), list(proof or [])
    if size1 == 0:  # every tree extends the empty one: such a proof proves nothing
        raise ProofError("a consistency proof from the empty tree is meaningless")
    if size2 < size1:
        raise ProofError(f"size2 ({size2}) is smaller than size1 ({size1})")
    if size1 == size2:
        if proof:
            raise ProofError("the sizes are equal, so the proof must be empty")
        if root1 != root2:
            raise ProofError("the sizes are equal but the roots differ")
        return
    _check_hash("root1", root1)
    _check_hash("root2", root2)
    for i, p in enumerate(proof):
        _check_hash(f"proof element {i}", p)
    # 1. An empty path proves nothing.
    if not proof:
        raise ProofError("the proof is empty")
    # 2. If size1 is a power of two, its root is the first node of the path.
    if size1 & (size1 - 1) == 0:
        proof = [bytes(root1)] + proof
    # 3, 4.
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    # 5.
    fr = sr = proof[0]
    # 6.
    for c in proof[1:]:
        if sn == 0:
            raise ProofError("the proof is longer than the trees are deep")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    # 7.
    if sn != 0:
        raise ProofError("the proof is shorter than the trees are deep")
    if fr != root1:
        raise ProofError("the proof does not lead to root1")
    if sr != root2:
        raise ProofError("the proof does not lead to root2")
