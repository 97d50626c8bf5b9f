"""The witness over HTTP: POST /add-checkpoint (C2SP tlog-witness), GET
/checkpoint?origin= (the latest cosigned checkpoint, for monitors), GET /
(who this is and what it watches). Every answer is plain text."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from portal.witness.service import MAX_BODY, TEXT_TYPE, Refusal, WitnessService
from portal.witness.state import Store

log = logging.getLogger(__name__)


def _text(body: str, status: int = 200, content_type: str = TEXT_TYPE) -> Response:
    response = Response(body, status=status, content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response


def create_app(folder: Path) -> Flask:
    """The app of an initialised witness folder (StateError otherwise)."""
    store = Store.open(folder)
    service = WitnessService(store, store.cosigner())
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY  # werkzeug answers 413 before reading more

    @app.post("/add-checkpoint")
    def add_checkpoint() -> Response:
        return _text(service.add_checkpoint(request.get_data(cache=False)))

    @app.get("/checkpoint")
    def checkpoint() -> Response:
        origin = request.args.get("origin", "")
        if not origin:
            raise Refusal(400, "which log? pass ?origin=<the log's origin>")
        return _text(service.checkpoint(origin))

    @app.get("/")
    def index() -> Response:
        return _text(service.summary())

    @app.errorhandler(Refusal)
    def refused(refusal: Refusal) -> Response:
        return _text(refusal.body, refusal.status, refusal.content_type)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> BaseResponse:
        response = exc.get_response()  # keeps headers such as Allow on a 405
        response.set_data(f"{exc.code} {exc.name}\n")
        response.content_type = TEXT_TYPE
        return response

    @app.errorhandler(sqlite3.OperationalError)
    def busy(exc: sqlite3.OperationalError) -> Response:
        # Another request held the write lock past the busy timeout: nothing was cosigned.
        log.warning("witness database unavailable: %s", exc)
        return _text("the witness is busy: retry\n", 503)

    return app
