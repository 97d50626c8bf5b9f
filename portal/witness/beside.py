"""For `portal serve --demo`: one witness started beside the portal, so a
try-out shows a witnessed log. A real registry's witnesses are run by
others, elsewhere (README, "Witnesses")."""

from __future__ import annotations

import json
import select
import subprocess
import sys
from pathlib import Path

from portal.witness.state import Store

NAME = "demo-witness.example/w1"
START_SECONDS = 20


def start(folder: Path, log_vkey: str) -> tuple[subprocess.Popen[str], str]:
    """Serve the witness of `folder` (made on first use, trusting the log's
    key) on a free loopback port; returns the process and the WITNESSES
    setting that names it (quorum 1). Its state stays in the folder, so the
    next start goes on from what it cosigned."""
    store = Store.open(folder) if (folder / "witness.key").exists() else Store.create(folder, NAME)
    store.add_log_key(log_vkey)
    proc = subprocess.Popen(  # noqa: S603  # this interpreter and portal (-P: not one in the current folder)
        [sys.executable, "-P", "-m", "portal", "witness", "serve", "--dir", str(folder), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    ready, _, _ = select.select([proc.stdout], [], [], START_SECONDS) if proc.stdout else ([], [], [])
    line = proc.stdout.readline() if proc.stdout and ready else ""  # printed once it listens
    if "listening on " not in line:
        proc.kill()
        raise RuntimeError(f"the demo witness did not start (see `portal witness serve --dir {folder}`)")
    url = line.strip().rsplit(" ", 1)[-1].rstrip("/")
    setting = json.dumps({"quorum": 1, "witnesses": [{"key": store.cosigner().vkey, "url": url}]})
    return proc, setting
