"""Idempotency-Key on every API POST (the IETF httpapi draft
"The Idempotency-Key HTTP Header Field"): a retry sent with the key of an
earlier request and the same body gets the first answer again and writes
nothing; the same key with another method, path or body is a 422. Keys are
an institution's own, kept IDEMPOTENCY_HOURS (the worker removes older
ones); a request answered with an error keeps no key (its unit of work is
rolled back), so it can be sent again.

The key is stored in the request's own transaction, before the action: a
second request with the key, sent while the first is under way, waits for
it (the unique index on PostgreSQL, the write lock on SQLite) and then
gets its answer."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any, cast

from flask import Response, current_app, g, request
from sqlalchemy import CursorResult, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.api.problems import ApiProblem
from portal.api.validation import MAX_BODY
from portal.db import utcnow
from portal.extensions import session
from portal.institutions.models import IdempotentRequest

HEADER = "Idempotency-Key"
# An sf-string as the draft asks ("..."), or the bare token many clients send.
_KEY = re.compile(r'"?([\x21\x23-\x7e]{1,255})"?')
_MARK = "idempotent"  # the attribute `idempotent` sets on a view, read by the OpenAPI document


def _key() -> str | None:
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    match = _KEY.fullmatch(raw.strip())
    if match is None or raw.strip().count('"') == 1:
        raise ApiProblem(
            400,
            "Bad Idempotency-Key",
            f"{HEADER} must be 1 to 255 printable ASCII characters without spaces or quotes inside.",
            type_="bad-idempotency-key",
        )
    return match[1]


def _replay(found: IdempotentRequest, fingerprint: bytes) -> Response:
    if found.fingerprint != fingerprint:
        raise ApiProblem(
            422,
            "Idempotency-Key reused",
            f"This {HEADER} was sent before with another request; use a new key for a new request.",
            type_="idempotency-key-reused",
        )
    response = Response(found.body, found.status, content_type=found.content_type)
    response.headers["Idempotent-Replayed"] = "true"
    return response


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """An API POST that honours Idempotency-Key (inside `require`: the key
    is the institution's)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        key = _key()
        if key is None:
            return view(*args, **kwargs)
        request.max_content_length = MAX_BODY  # as `read_json` does; the body is kept for it
        body = request.get_data(cache=True)
        fingerprint = hashlib.sha256(b"\n".join([request.method.encode(), request.path.encode(), body])).digest()
        s, institution_id = session(), g.institution.id
        find = select(IdempotentRequest).where(
            IdempotentRequest.institution_id == institution_id, IdempotentRequest.key == key
        )
        if (found := s.scalar(find)) is not None:
            return _replay(found, fingerprint)
        row = IdempotentRequest(institution_id=institution_id, key=key, fingerprint=fingerprint)
        try:
            with s.begin_nested():
                s.add(row)
        except IntegrityError:  # sent again while the first was under way: it has committed since
            return _replay(s.scalars(find.execution_options(populate_existing=True)).one(), fingerprint)
        response = current_app.make_response(view(*args, **kwargs))
        row.status, row.body, row.content_type = response.status_code, response.get_data(), response.content_type
        return response

    setattr(wrapped, _MARK, True)
    return wrapped


def is_idempotent(view: Callable[..., Any]) -> bool:
    return bool(getattr(view, _MARK, False))


def forget_old(db: Session, hours: float) -> int:
    """Remove the keys older than `hours`; returns how many."""
    older = IdempotentRequest.created_at < utcnow() - timedelta(hours=hours)
    # A DELETE's result is a CursorResult, which Session.execute is not typed to return.
    return cast(CursorResult[Any], db.execute(delete(IdempotentRequest).where(older))).rowcount
