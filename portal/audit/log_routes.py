"""Public transparency endpoints: anyone may fetch the signed checkpoint, the
verifier key and proofs, so subjects (or anyone for them) can check that the
log only ever grew and that their events are in it. Bad parameters get a
400 problem+json (RFC 9457), never a 500."""

from __future__ import annotations

import base64
import re

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from portal.crypto import KeyringError
from portal.extensions import limiter, session
from portal.transparency import log
from portal.transparency.cosign import WitnessPolicy
from portal.transparency.notes import DEFAULT_ORIGIN, NoteError, Signer
from portal.transparency.tiles import TileError, entry_bundle, hash_tile
from portal.transparency.tiles import parse as parse_tile
from portal.transparency.witnessed import cosigned_note, witnessed_checkpoint

bp = Blueprint("transparency", __name__, url_prefix="/transparency")

_NUMBER = re.compile(r"[0-9]{1,18}")  # no signs, spaces or exponents; always below 2**62


def log_signer() -> Signer:
    """The app's log signing key, read from its file on first use."""
    ext = current_app.extensions
    if "portal.log_signer" not in ext:
        ext["portal.log_signer"] = Signer.load(
            current_app.config["KEY_DIR"], current_app.config.get("LOG_ORIGIN") or DEFAULT_ORIGIN
        )
    signer: Signer = ext["portal.log_signer"]
    return signer


def witness_policy(app: Flask | None = None) -> WitnessPolicy:
    """The witnesses checkpoints need (setting WITNESSES), parsed once."""
    app = app or current_app
    ext = app.extensions
    if "portal.witnesses" not in ext:
        setting = app.config.get("WITNESSES")
        if setting is not None and not isinstance(setting, dict | str):
            raise ValueError('setting WITNESSES: expected {"quorum": n, "witnesses": [...]}')
        try:  # PORTAL_WITNESSES arrives already parsed from JSON
            ext["portal.witnesses"] = (
                WitnessPolicy.from_data(setting) if isinstance(setting, dict) else WitnessPolicy.parse(setting)
            )
        except NoteError as exc:
            raise ValueError(f"setting WITNESSES: {exc}") from None
    policy: WitnessPolicy = ext["portal.witnesses"]
    return policy


class BadParameter(Exception):
    def __init__(self, name: str, detail: str) -> None:
        super().__init__(detail)
        self.name, self.detail = name, detail


def problem(status: int, title: str, detail: str, **extra: object) -> Response:
    response = jsonify({"type": "about:blank", "title": title, "status": status, "detail": detail, **extra})
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


@bp.errorhandler(BadParameter)
def _bad_parameter(exc: BadParameter) -> Response:
    return problem(400, "Bad Request", exc.detail, parameter=exc.name)


@bp.errorhandler(KeyringError)
def _no_key(exc: KeyringError) -> Response:
    current_app.logger.error("transparency log: %s", exc)
    return problem(503, "Service Unavailable", "the log cannot sign checkpoints at the moment")


def _number(name: str) -> int:
    values = request.args.getlist(name)
    if len(values) != 1:
        raise BadParameter(name, f"give the parameter {name!r} exactly once")
    if not _NUMBER.fullmatch(values[0]):
        raise BadParameter(name, f"{name!r} must be a non-negative decimal integer")
    return int(values[0])


def _text(body: str) -> Response:
    return Response(body, mimetype="text/plain")


def _proof(proof: list[bytes], **about: int) -> Response:
    return jsonify({**about, "proof": [base64.b64encode(p).decode() for p in proof]})


@bp.get("/checkpoint")
@limiter.limit("60 per minute")  # it may sign and store a checkpoint: not for flooding
def checkpoint() -> Response:
    """The newest checkpoint clients can trust, as a C2SP signed note: the
    log's signature, then the witnesses' cosignatures. With witnesses, 503
    until they first cosign."""
    policy = witness_policy()
    cp = witnessed_checkpoint(session(), log_signer(), policy)
    if cp is None:
        response = problem(503, "Service Unavailable", "the witnesses have not cosigned a checkpoint of the log yet")
        response.headers["Retry-After"] = "5"
        return response
    return _text(cosigned_note(session(), cp, policy))


@bp.get("/witnesses")
def witnesses() -> Response:
    """The witnesses a checkpoint needs and how many: what clients check."""
    policy = witness_policy()
    return jsonify({"quorum": policy.quorum, "witnesses": [{"name": w.name, "key": w.vkey} for w in policy.witnesses]})


@bp.get("/key")
def key() -> Response:
    """The verifier key, in the signed-note vkey format."""
    return _text(log_signer().vkey + "\n")


@bp.get("/proof/inclusion")
def inclusion() -> Response:
    index, size = _number("index"), _number("size")
    current = log.size(session())
    if not 1 <= size <= current:
        raise BadParameter("size", f"size must be between 1 and the log's size, {current}")
    if index >= size:
        raise BadParameter("index", f"index must be below size ({size})")
    return _proof(log.inclusion_proof(session(), index, size), index=index, size=size)


@bp.get("/proof/consistency")
def consistency() -> Response:
    first, second = _number("first"), _number("second")
    current = log.size(session())
    if not 1 <= second <= current:
        raise BadParameter("second", f"second must be between 1 and the log's size, {current}")
    if not 1 <= first <= second:
        raise BadParameter("first", f"first must be between 1 and second ({second})")
    return _proof(log.consistency_proof(session(), first, second), first=first, second=second)


# -- the log as tiles (C2SP tlog-tiles): static, so any cache can serve it ------
tiles = Blueprint("tiles", __name__, url_prefix="/log")
IMMUTABLE = "public, max-age=31536000, immutable"


@tiles.get("/checkpoint")
def tiles_checkpoint() -> Response:
    """The same checkpoint as /transparency/checkpoint, where tile clients look."""
    return checkpoint()


@tiles.get("/tile/<level>/<path:rest>")
def tile(level: str, rest: str) -> Response:
    """A hash tile or an entry bundle; 404 for one the log does not have
    (yet), as for any path that is not a tile's."""
    try:
        wanted = parse_tile(level, rest)
    except TileError as exc:
        return Response(f"not a tile: {exc}\n", status=404, mimetype="text/plain")
    body = entry_bundle(session(), wanted) if wanted.level < 0 else hash_tile(session(), wanted)
    if body is None:
        return Response("the log does not hold this tile (yet)\n", status=404, mimetype="text/plain")
    response = Response(body, mimetype="application/octet-stream")
    response.headers["Cache-Control"] = IMMUTABLE  # a tile never changes once the log holds it
    return response
