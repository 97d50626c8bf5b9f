"""Run by test_concurrency.py as a separate OS process: append leaves to the
log, one transaction each, starting when the test says "go" on stdin.

    python appender.py DATABASE_URL TAG COUNT
"""

from __future__ import annotations

import json
import sys

from sqlalchemy.orm import Session

from portal.db import make_engine
from portal.transparency import log


def main() -> None:
    url, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    engine = make_engine(url)
    got = []
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(count):
        with Session(engine) as session:
            # Read, then write, in one transaction: the pattern that makes
            # deferred SQLite transactions fail with SQLITE_BUSY_SNAPSHOT.
            log.size(session)
            got.append(log.append(session, f"{tag} {i}".encode()))
            session.commit()
    engine.dispose()
    print(json.dumps(got), flush=True)


if __name__ == "__main__":
    main()
