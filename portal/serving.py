"""`portal serve --workers N`: N worker processes under gunicorn (threads
in each), and the background jobs in a `portal worker` process beside them.
Each gunicorn worker builds its own app after the fork, so no database
connection is shared between processes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    def __init__(self, factory: Callable[[], Flask], options: dict[str, Any]) -> None:
        self.factory, self.options = factory, options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self) -> Flask:
        return self.factory()  # in each worker, after the fork


def serve(app: Flask, factory: Callable[[], Flask], host: str, port: int, workers: int, threads: int) -> None:
    """Serve apps made by `factory` until stopped; the job worker stops
    with the server."""
    # The command's own connections are not to be inherited by the workers.
    app.extensions["portal.db"].engine.dispose()
    # -P: the portal this command runs, not a `portal` folder in the current directory.
    jobs = subprocess.Popen([sys.executable, "-P", "-m", "portal", "worker"])
    try:
        _Gunicorn(
            factory,
            {
                "bind": f"{host}:{port}",
                "workers": workers,
                "worker_class": "gthread",
                "threads": threads,
                "timeout": 120,
                "graceful_timeout": 10,
                "proc_name": "portal",
            },
        ).run()
    finally:
        jobs.terminate()
        jobs.wait(timeout=30)
