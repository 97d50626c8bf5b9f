"""Helpers of the transparency-log tests."""

from __future__ import annotations

from portal.extensions import session
from portal.transparency import log
from portal.transparency.checkpoints import latest_checkpoint
from portal.transparency.notes import Signer


def data(i: int) -> bytes:
    return f"leaf {i}".encode()


def fill(app, count: int, start: int = 0, checkpoints: tuple[int, ...] = ()) -> None:
    """Append leaves data(start) ... data(start + count - 1), each in its own
    transaction, signing a checkpoint when the size is in `checkpoints`."""
    with app.app_context():
        s = session()
        signer = Signer.load(app.config["KEY_DIR"])
        for i in range(start, start + count):
            log.append(s, data(i))
            s.commit()
            if i + 1 in checkpoints:
                latest_checkpoint(s, signer)
                s.commit()
