"""Run by test_queue.py as a separate OS process: integrate the queue in
batches, signing a checkpoint after each, as `portal worker` does.

    python integrator.py DATABASE_URL KEY_DIR LIMIT          integrate until empty
    python integrator.py DATABASE_URL KEY_DIR LIMIT hang     one batch, never committed

Prints "ready" and waits for "go" on stdin; prints the (ref, index) pairs
it committed as JSON. With `hang` it prints "appended" once the batch is
written but not committed, then sleeps until killed.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from sqlalchemy.orm import Session

from portal.db import make_engine
from portal.transparency import log
from portal.transparency.checkpoints import latest_checkpoint
from portal.transparency.notes import Signer


def main() -> None:
    url, key_dir, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
    hang = sys.argv[4:] == ["hang"]
    engine = make_engine(url)
    signer = Signer.load(Path(key_dir))
    got: list[tuple[str, int]] = []
    print("ready", flush=True)
    sys.stdin.readline()
    while True:
        with Session(engine) as session:
            placed = log.integrate(session, limit)
            if not placed:
                break
            latest_checkpoint(session, signer)
            if hang:
                session.flush()
                print("appended", flush=True)
                time.sleep(600)  # killed here, between appending and committing
            session.commit()
        got.extend((str(ref), index) for ref, index in placed)
    engine.dispose()
    print(json.dumps(got), flush=True)


if __name__ == "__main__":
    main()
