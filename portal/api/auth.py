"""Who may do what through the institution API, in one place: the key
(`Authorization: Bearer pk_<key id>.<secret>`, found by its id, the
SHA-256 of the secret compared in constant time; revoked keys refused), its
scopes (`require`), a suspended institution's subject look-ups refused
(`querying`: report queries, authorisations' registration), and the
institution's own items only (`own_*`: a dispute of its records, a file
sent to it, a notice sent to it). Failures
are 401 (or 403 for scope) problems with a WWW-Authenticate challenge
(RFC 6750); what is not the institution's is the same 404 whether it
exists or not."""

from __future__ import annotations

import functools
import hmac
import re
import uuid
from collections.abc import Callable
from typing import Any

from flask import g, request
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal.accounts.sessions import TOUCH_EVERY
from portal.api.problems import ApiProblem
from portal.db import utcnow
from portal.disputes import notices, responses
from portal.disputes.models import CorrectionNotice, Dispute, Evidence
from portal.extensions import session
from portal.institutions.models import ApiKey, ApiScope, Institution
from portal.institutions.services import TOKEN_PREFIX, hash_secret

TOKEN = re.compile(re.escape(TOKEN_PREFIX) + r"(?P<key_id>[0-9a-f]{16})\.(?P<secret>[A-Za-z0-9_-]{43})")
REALM = 'Bearer realm="portal-api"'
_SCOPES = "required_scopes"  # the attribute `require` sets on a view
# Compared against when the key id is unknown, so that case takes as long.
_DUMMY_HASH = hash_secret("no such key")


def _unauthorised(detail: str, error: str | None = "invalid_token") -> ApiProblem:
    challenge = REALM + (f', error="{error}", error_description="{detail}"' if error else "")
    return ApiProblem(401, "Unauthorized", detail, type_="unauthorized", headers={"WWW-Authenticate": challenge})


def _token() -> re.Match[str] | None:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return TOKEN.fullmatch(credentials.strip())


def key_id_of_request() -> str | None:
    """The key id the request claims (not yet verified): the rate limit key."""
    match = _token()
    return match["key_id"] if match else None


def authenticate() -> ApiKey:
    if not request.headers.get("Authorization"):
        raise _unauthorised("Send an API key as Authorization: Bearer <token>.", error=None)
    match = _token()
    if match is None:
        raise _unauthorised("The Authorization header is not a bearer token of this API.")
    # The institution comes in the same statement: every API request needs it.
    key = session().scalar(
        select(ApiKey).where(ApiKey.key_id == match["key_id"]).options(joinedload(ApiKey.institution))
    )
    expected = key.secret_hash if key is not None else _DUMMY_HASH
    if not hmac.compare_digest(expected, hash_secret(match["secret"])) or key is None:
        raise _unauthorised("The token is not valid.")
    if key.revoked_at is not None:
        raise _unauthorised("This API key was revoked.")
    return key


def require(*scopes: ApiScope) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A view for holders of a key with any one of `scopes`; `g.api_key`
    and `g.institution` are set for it, and the key's last use is
    recorded (to the minute)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            key = authenticate()
            # Every request of a key would otherwise queue on its one row:
            # its last use is written at most once a minute.
            now = utcnow()
            if key.last_used_at is None or now - key.last_used_at > TOUCH_EVERY:
                key.last_used_at = now
            if not any(scope.value in key.scopes for scope in scopes):
                names = " or ".join(scope.value for scope in scopes)
                raise ApiProblem(
                    403,
                    "Forbidden",
                    f"This API key lacks the {names} scope.",
                    type_="insufficient-scope",
                    headers={
                        "WWW-Authenticate": f'{REALM}, error="insufficient_scope", '
                        f'scope="{" ".join(s.value for s in scopes)}"'
                    },
                )
            g.api_key, g.institution = key, key.institution
            return view(*args, **kwargs)

        setattr(wrapped, _SCOPES, scopes)  # read by the OpenAPI document
        return wrapped

    return decorator


def querying(view: Callable[..., Any]) -> Callable[..., Any]:
    """A view that looks a subject up with the query scope (under
    `require`): a report query, or an authorisation's registration, whose
    201 or 404 tells whether the subject is on file. Refused while a
    supervisor has suspended the institution's querying, with the
    supervisor's reason, before anything about the subject is looked up,
    and writing nothing (no subject was reached, so no access event). The institution came
    with the key: no statement is added."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        institution: Institution = g.institution
        if institution.suspended_at is not None:
            raise ApiProblem(
                403,
                "Querying suspended",
                institution.suspended_reason or "The supervisory authority suspended your queries.",
                type_="querying-suspended",
                suspended_at=institution.suspended_at.isoformat(),
            )
        return view(*args, **kwargs)

    return wrapped


def required_scopes(view: Callable[..., Any]) -> tuple[ApiScope, ...]:
    """The scopes `require` put on a view; none for a view it did not wrap."""
    return getattr(view, _SCOPES, ())


# -- the institution's own items only --------------------------------------------------
def own_dispute(institution: Institution, dispute_id: uuid.UUID, for_update: bool = False) -> Dispute:
    """A dispute covering one of the institution's records (`for_update`:
    locked for the rest of the request)."""
    try:
        return responses.visible_dispute(session(), institution, dispute_id, for_update=for_update)
    except responses.NotFound:
        raise ApiProblem(404, "Not Found", "No dispute of your records has this id.", type_="unknown-dispute") from None


def own_evidence(institution: Institution, dispute_id: uuid.UUID, evidence_id: uuid.UUID) -> tuple[Dispute, Evidence]:
    """A file sent to the institution, of a dispute of its records: one
    answer for an unknown dispute, another's, and a file not its own."""
    try:
        dispute = responses.visible_dispute(session(), institution, dispute_id)
        return dispute, responses.given_evidence(session(), institution, dispute, evidence_id)
    except responses.NotFound:
        raise ApiProblem(
            404, "Not Found", "No evidence of a dispute of your records has this id.", type_="unknown-evidence"
        ) from None


def own_notice(institution: Institution, notice_id: uuid.UUID) -> CorrectionNotice:
    """A correction notice sent to the institution."""
    notice = notices.own_notice(session(), institution, notice_id)
    if notice is None:
        raise ApiProblem(404, "Not Found", "No notice of yours has this id.", type_="unknown-notice")
    return notice
