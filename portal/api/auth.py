"""Bearer tokens for the institution API: `Authorization: Bearer
pk_<key id>.<secret>`. The key is found by its id, the SHA-256 of the
secret compared in constant time; revoked keys and missing scopes are
refused. Failures are 401 (or 403 for scope) problems with a
WWW-Authenticate challenge (RFC 6750)."""
from __future__ import annotations

import functools
import hmac
import re
from typing import Any, Callable

from flask import g, request
from sqlalchemy import select

from portal.api.problems import ApiProblem
from portal.db import utcnow
from portal.extensions import session
from portal.institutions.models import ApiKey, ApiScope, Institution
from portal.institutions.services import TOKEN_PREFIX, hash_secret

TOKEN = re.compile(re.escape(TOKEN_PREFIX) + r"(?P<key_id>[0-9a-f]{16})\.(?P<secret>[A-Za-z0-9_-]{43})")
REALM = 'Bearer realm="portal-api"'
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
    key = session().scalar(select(ApiKey).where(ApiKey.key_id == match["key_id"]))
    expected = key.secret_hash if key is not None else _DUMMY_HASH
    if not hmac.compare_digest(expected, hash_secret(match["secret"])) or key is None:
        raise _unauthorised("The token is not valid.")
    if key.revoked_at is not None:
        raise _unauthorised("This API key was revoked.")
    return key


def require(*scopes: ApiScope) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A view for holders of a key with any one of `scopes`; `g.api_key`
    and `g.institution` are set for it, and the key's last use is
    recorded."""
    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            key = authenticate()
            key.last_used_at = utcnow()
            if not any(scope.value in key.scopes for scope in scopes):
                names = " or ".join(scope.value for scope in scopes)
                raise ApiProblem(403, "Forbidden", f"This API key lacks the {names} scope.",
                                 type_="insufficient-scope",
                                 headers={"WWW-Authenticate": f'{REALM}, error="insufficient_scope", '
                                                              f'scope="{" ".join(s.value for s in scopes)}"'})
            g.api_key, g.institution = key, session().get(Institution, key.institution_id)
            return view(*args, **kwargs)
        wrapped.required_scopes = scopes  # read by the OpenAPI document
        return wrapped
    return decorator
