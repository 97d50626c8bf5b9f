"""API keys beyond issuing (which institutions/services.py does): finding,
revoking and rotating. Services flush, never commit."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.institutions.models import ApiKey, ApiScope, Institution
from portal.institutions.services import issue_api_key


class ApiKeyError(LookupError):
    """No such key, or a key that cannot be used for this."""


def institution_by_code(session: Session, code: str) -> Institution | None:
    return session.scalar(select(Institution).where(Institution.code == code))


def keys_of(session: Session, institution: Institution) -> list[ApiKey]:
    return list(
        session.scalars(
            select(ApiKey).where(ApiKey.institution_id == institution.id).order_by(ApiKey.created_at, ApiKey.key_id)
        )
    )


def find_key(session: Session, key_id: str) -> ApiKey:
    key = session.scalar(select(ApiKey).where(ApiKey.key_id == key_id))
    if key is None:
        raise ApiKeyError(f"there is no API key {key_id}")
    return key


def revoke_key(session: Session, key_id: str) -> ApiKey:
    """Refused from the next request on; revoking twice changes nothing."""
    key = find_key(session, key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.flush()
    return key


def rotate_key(session: Session, key_id: str) -> tuple[ApiKey, str]:
    """A new key with the same scopes, the old one revoked, in one unit of
    work: the caller commits both or neither. Returns the old key and the
    new token (shown once)."""
    old = find_key(session, key_id)
    if old.revoked_at is not None:
        raise ApiKeyError(f"API key {key_id} is revoked: issue a new one instead")
    token = issue_api_key(session, session.get_one(Institution, old.institution_id), [ApiScope(s) for s in old.scopes])
    revoke_key(session, key_id)
    return old, token
