"""Institutions' API keys beyond making one (`services.issue_api_key`):
issuing with its journal row, finding, listing, revoking and rotating. The
operator console and `portal apikeys` both call these, so every act is one
row of the operators' journal whichever door it came through. Services
flush, never commit."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit import operator_acts
from portal.db import utcnow
from portal.institutions.models import ApiKey, ApiScope, Institution
from portal.institutions.services import TOKEN_PREFIX, issue_api_key


class ApiKeyError(LookupError):
    """No such key, or a key that cannot be used for this. The message is
    English (the command line prints it); the console words its own."""


class KeyRevoked(ApiKeyError):
    """Rotating a revoked key, or revoking it again."""


class UselessScope(ValueError):
    """A scope the institution could not use: querying with no purpose
    allowed, furnishing with no category allowed."""


def institution_by_code(session: Session, code: str) -> Institution | None:
    return session.scalar(select(Institution).where(Institution.code == code))


def keys_of(session: Session, institution: Institution) -> list[ApiKey]:
    return list(
        session.scalars(
            select(ApiKey).where(ApiKey.institution_id == institution.id).order_by(ApiKey.created_at, ApiKey.key_id)
        )
    )


def find_key(session: Session, key_id: str, institution: Institution | None = None) -> ApiKey:
    """The key with this public id (of `institution`, when given: another's
    key is not found, as if it did not exist)."""
    query = select(ApiKey).where(ApiKey.key_id == key_id)
    if institution is not None:
        query = query.where(ApiKey.institution_id == institution.id)
    key = session.scalar(query)
    if key is None:
        raise ApiKeyError(f"there is no API key {key_id}")
    return key


def key_id_of(token: str) -> str:
    return token.removeprefix(TOKEN_PREFIX).partition(".")[0]


def _journal(
    session: Session,
    actor_id: uuid.UUID | None,
    channel: str,
    action: str,
    key: ApiKey,
    institution: Institution,
    **detail,
) -> None:
    # Key ids, scopes and codes only: never a token or a secret's hash.
    operator_acts.record(
        session,
        actor_id=actor_id,
        action=action,
        target_kind="api_key",
        target=key.key_id,
        channel=channel,
        institution=institution.code,
        **detail,
    )


def issue_key(
    session: Session, institution: Institution, scopes: list[ApiScope], *, actor_id: uuid.UUID | None, channel: str
) -> tuple[ApiKey, str]:
    """A new key and its bearer token (shown once: only its hash is kept).
    UselessScope for a scope its settings leave nothing to do with."""
    if ApiScope.QUERY in scopes and not institution.allowed_purposes:
        raise UselessScope(f"{institution.code} may query for no purpose: a query key would be refused everything")
    if ApiScope.FURNISH in scopes and institution.allowed_categories == []:
        raise UselessScope(f"{institution.code} may furnish no category: a furnish key would be refused everything")
    token = issue_api_key(session, institution, scopes)
    key = find_key(session, key_id_of(token))
    _journal(session, actor_id, channel, "api_key_issued", key, institution, scopes=list(key.scopes))
    return key, token


def revoke_key(
    session: Session,
    key_id: str,
    *,
    actor_id: uuid.UUID | None,
    channel: str,
    institution: Institution | None = None,
    again_is_error: bool = False,
) -> ApiKey:
    """Refused from the next request on. Revoking a revoked key changes
    nothing and writes no journal row (KeyRevoked if `again_is_error`)."""
    key = find_key(session, key_id, institution)
    if key.revoked_at is not None:
        if again_is_error:
            raise KeyRevoked(f"API key {key_id} is already revoked")
        return key
    key.revoked_at = utcnow()
    session.flush()
    _journal(session, actor_id, channel, "api_key_revoked", key, institution or key.institution)
    return key


def rotate_key(
    session: Session, key_id: str, *, actor_id: uuid.UUID | None, channel: str, institution: Institution | None = None
) -> tuple[ApiKey, ApiKey, str]:
    """A new key with the same scopes, the old one revoked, in one unit of
    work: the caller commits both or neither. Returns the old key, the new
    one and its token (shown once). A revoked key is not rotated (KeyRevoked):
    its holder has no working key to replace, so a new one is issued."""
    old = find_key(session, key_id, institution)
    if old.revoked_at is not None:
        raise KeyRevoked(f"API key {key_id} is revoked: issue a new one instead")
    owner = institution or session.get_one(Institution, old.institution_id)
    token = issue_api_key(session, owner, [ApiScope(s) for s in old.scopes])
    new = find_key(session, key_id_of(token))
    old.revoked_at = utcnow()
    session.flush()
    _journal(session, actor_id, channel, "api_key_rotated", old, owner, new_key=new.key_id, scopes=list(new.scopes))
    return old, new, token
