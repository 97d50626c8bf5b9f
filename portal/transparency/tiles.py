"""The log as C2SP tlog-tiles (https://c2sp.org/tlog-tiles), read from the
stored subtrees.

A tile of level L and index N holds the hashes of the tree's nodes at
height 8·L, numbers 256·N to 256·N + W − 1, concatenated (W = 256 for a
full tile, fewer for a partial one, `.p/W`); level 0 holds the leaf hashes.
An entry bundle holds the same leaves' entries (their data d, each as a
big-endian 16-bit length then the bytes). Every such node is a complete
subtree the log stores, so a tile is one range read of `log_nodes`; and a
tile, once its nodes exist, never changes.

N is written in groups of three digits, all but the last prefixed with x:
1234067 is x001/x234/067.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.transparency import log
from portal.transparency.models import LogLeaf, LogNode

WIDTH = 256
HEIGHT = 8
_GROUP = re.compile(r"x[0-9]{3}")
_LAST = re.compile(r"[0-9]{3}")
_WIDTH = re.compile(r"[1-9][0-9]{0,2}")


class TileError(ValueError):
    """Not a tile path."""


@dataclass(frozen=True)
class Tile:
    level: int  # -1: the entry bundle
    index: int
    width: int = WIDTH


def index_path(n: int) -> str:
    groups = []
    while True:
        groups.append(f"{n % 1000:03d}")
        n //= 1000
        if n == 0:
            break
    return "/".join([*("x" + g for g in reversed(groups[1:])), groups[0]])


def path(tile: Tile) -> str:
    level = "entries" if tile.level < 0 else str(tile.level)
    partial = f".p/{tile.width}" if tile.width != WIDTH else ""
    return f"tile/{level}/{index_path(tile.index)}{partial}"


def parse(level: str, rest: str) -> Tile:
    """The tile at `tile/<level>/<rest>`, only in its one canonical spelling."""
    if level == "entries":
        lv = -1
    elif re.fullmatch(r"0|[1-9][0-9]?", level) and int(level) <= 63:
        lv = int(level)
    else:
        raise TileError("the level is 0 to 63 or 'entries'")
    parts = rest.split("/")
    width = WIDTH
    if len(parts) >= 2 and parts[-2].endswith(".p"):
        if not _WIDTH.fullmatch(parts[-1]) or int(parts[-1]) >= WIDTH:
            raise TileError("a partial tile's width is 1 to 255")
        width = int(parts[-1])
        parts = [*parts[:-2], parts[-2][:-2]]
    if not parts or not _LAST.fullmatch(parts[-1]) or not all(_GROUP.fullmatch(p) for p in parts[:-1]):
        raise TileError("the index is groups of three digits, all but the last after an x")
    if len(parts) > 1 and parts[0] == "x000":
        raise TileError("the index has a leading zero group")
    if len(parts) > 7:
        raise TileError("the index is too large")
    index = int("".join(p.lstrip("x") for p in parts))
    return Tile(lv, index, width)


def hash_tile(session: Session, tile: Tile) -> bytes | None:
    """The tile's bytes, or None when the log does not have all its nodes
    yet (a tile is only served whole)."""
    height = HEIGHT * max(tile.level, 0)
    first, end = tile.index * WIDTH, tile.index * WIDTH + tile.width
    if (end << height) > log.size(session):
        return None
    hashes = session.scalars(
        select(LogNode.hash)
        .where(LogNode.level == height, LogNode.index >= first, LogNode.index < end)
        .order_by(LogNode.index)
    ).all()
    if len(hashes) != tile.width:
        raise LookupError(f"the log is damaged: subtrees at level {height} from {first} missing")
    return b"".join(hashes)


def entry_bundle(session: Session, tile: Tile) -> bytes | None:
    """The entries of a level-0 tile's leaves, or None when the log does not
    have them all (yet, or they are kept for leaves appended since entries
    were kept: see `portal audit fill-entries`)."""
    first, end = tile.index * WIDTH, tile.index * WIDTH + tile.width
    if end > log.size(session):
        return None
    data = session.scalars(
        select(LogLeaf.leaf_data).where(LogLeaf.index >= first, LogLeaf.index < end).order_by(LogLeaf.index)
    ).all()
    if len(data) != tile.width or any(d is None for d in data):
        return None
    return b"".join(len(d).to_bytes(2, "big") + d for d in data if d is not None)
