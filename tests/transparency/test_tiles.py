"""The log as C2SP tlog-tiles: paths as the spec spells them, tiles any cache
may keep for ever, and an independent check that rebuilds the signed root
from the tiles alone, with code that shares nothing with the portal's
transparency package but the RFC."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import update

from portal.audit.events import record_event
from portal.audit.log_routes import log_signer
from portal.audit.models import EventKind
from portal.extensions import session, vault
from portal.records.models import Subject
from portal.transparency import log
from portal.transparency.checkpoints import latest_checkpoint
from portal.transparency.models import LogLeaf
from portal.transparency.tiles import Tile, TileError, parse, path

from ..factories import integrate


@pytest.mark.parametrize(
    ("tile", "spelled"),
    [
        (Tile(0, 0), "tile/0/000"),
        (Tile(0, 1234067), "tile/0/x001/x234/067"),
        (Tile(1, 1000, 8), "tile/1/x001/000.p/8"),
        (Tile(-1, 5, 255), "tile/entries/005.p/255"),
    ],
)
def test_tile_paths_are_spelled_as_the_spec_does(tile, spelled):
    assert path(tile) == spelled
    level, rest = spelled.split("/", 2)[1:]
    assert parse(level, rest) == tile


@pytest.mark.parametrize(
    ("level", "rest"),
    [
        ("64", "000"),
        ("01", "000"),
        ("0", "1"),
        ("0", "x000/001"),
        ("0", "001.p/256"),
        ("0", "001.p/0"),
        ("0", "001.p/08"),
        ("0", "x1/001"),
        ("x", "000"),
        ("0", "001/002"),
        ("0", ""),
    ],
)
def test_other_spellings_are_not_tiles(level, rest):
    with pytest.raises(TileError):
        parse(level, rest)


# -- an independent verifier: RFC 9162 and the tlog-tiles layout, nothing else ---------
def mth(hashes: list[bytes]) -> bytes:
    """RFC 9162 2.1.1 over leaf hashes: split at the largest power of two below n."""
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(hashes[:k]) + mth(hashes[k:])).digest()


def fetch(client, url: str) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    return response.data


def index(n: int) -> str:
    digits = f"{n:03d}"
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join(["x" + g for g in groups[:-1]] + groups[-1:])


def rebuild_from_tiles(client) -> None:
    """Read the checkpoint, check its signature with the published key,
    fetch the leaf-hash tiles the size needs and recompute the root; check
    the level-1 tile against the leaves and the entries against the leaf
    hashes."""
    name, _, key = client.get("/transparency/key").get_data(as_text=True).strip().split("+", 2)
    note = client.get("/log/checkpoint").get_data(as_text=True)
    body, signatures = note.split("\n\n", 1)
    signature = next(line for line in signatures.splitlines() if line.startswith(f"\u2014 {name} "))
    Ed25519PublicKey.from_public_bytes(base64.b64decode(key)[1:]).verify(
        base64.b64decode(signature.split(" ")[2])[4:], (body + "\n").encode()
    )
    origin, size, root = body.split("\n")
    size, root = int(size), base64.b64decode(root)
    assert origin == name
    leaves: list[bytes] = []
    for n in range((size + 255) // 256):
        width = min(256, size - 256 * n)
        tile = fetch(client, f"/log/tile/0/{index(n)}" + ("" if width == 256 else f".p/{width}"))
        assert len(tile) == 32 * width
        leaves += [tile[i : i + 32] for i in range(0, len(tile), 32)]
        entries = fetch(client, f"/log/tile/entries/{index(n)}" + ("" if width == 256 else f".p/{width}"))
        at, count = 0, 0
        while at < len(entries):
            length = int.from_bytes(entries[at : at + 2], "big")
            entry = entries[at + 2 : at + 2 + length]
            assert hashlib.sha256(b"\x00" + entry).digest() == leaves[256 * n + count]
            at, count = at + 2 + length, count + 1
        assert count == width
    assert mth(leaves) == root
    if size >= 256:  # the level-1 tile: the roots of the complete 256-leaf subtrees
        full = size // 256
        upper = fetch(client, f"/log/tile/1/000.p/{full}" if full < 256 else "/log/tile/1/000")
        assert [upper[i : i + 32] for i in range(0, len(upper), 32)] == [
            mth(leaves[256 * i : 256 * (i + 1)]) for i in range(full)
        ]


def test_an_independent_verifier_rebuilds_the_signed_root_from_tiles_alone(app):
    with app.app_context():
        s = session()
        before = log.size(s)
        log.append_many(s, [hashlib.sha256(b"entry %d" % i).digest() for i in range(700 - before)])
        latest_checkpoint(s, log_signer())
        client = app.test_client()
        rebuild_from_tiles(client)
        # Beyond the log: no tile, and a partial one only at the width it has.
        assert client.get("/log/tile/0/003").status_code == 404
        assert client.get("/log/tile/0/002.p/189").status_code == 404
        assert client.get("/log/tile/0/002.p/188").status_code == 200
        assert client.get("/log/tile/0/01").status_code == 404  # not a tile's spelling


@pytest.mark.committing  # the command runs in a transaction of its own
def test_entries_of_leaves_from_before_are_recomputed_from_their_events(app, world):
    with app.app_context():
        s = session()
        for _ in range(3):
            record_event(s, vault(), s.get(Subject, world.person_a.id), EventKind.SELF_QUERY, detail={"x": 1})
        integrate(s)
        client = app.test_client()
        size = log.size(s)
        url = f"/log/tile/entries/000.p/{size}"
        served = fetch(client, url)
        s.execute(update(LogLeaf).values(leaf_data=None))  # a log from before entries were kept
        s.commit()
        assert client.get(url).status_code == 404
        result = app.test_cli_runner().invoke(args=["audit", "fill-entries"])
        assert result.exit_code == 0, result.output
        assert f"entries filled: {size}" in result.output
        assert fetch(client, url) == served
        rebuild_from_tiles(client)
