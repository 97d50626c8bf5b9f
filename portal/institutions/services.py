"""Institutions and their API keys. Services flush, never commit."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from portal.crypto import Cipher, Vault
from portal.crypto.models import DataKey
from portal.db import new_id, utcnow
from portal.institutions.models import ApiKey, ApiScope, Institution, InstitutionKind

TOKEN_PREFIX = "pk_"  # noqa: S105 -- a public marker of API keys, not a secret


@dataclass(frozen=True)
class NewInstitution:
    code: str
    name: str
    name_en: str
    kind: InstitutionKind
    allowed_purposes: list[str]
    contact_name: str
    contact_email: str
    # The local hours it declares it queries in: (from, until), until
    # exclusive; None: any hour.
    query_hours: tuple[int, int] | None = None


def build_institution(vault: Vault, data: NewInstitution) -> tuple[DataKey, Institution, Cipher]:
    key, cipher = vault.new_key()
    inst = Institution(
        id=new_id(),
        code=data.code,
        name=data.name,
        name_en=data.name_en,
        kind=data.kind,
        allowed_purposes=list(data.allowed_purposes),
        data_key_id=key.id,
        created_at=utcnow(),
        query_hours_from=data.query_hours[0] if data.query_hours else None,
        query_hours_until=data.query_hours[1] if data.query_hours else None,
    )
    cipher.seal_field(inst, "contact_name", data.contact_name)
    cipher.seal_field(inst, "contact_email", data.contact_email)
    return key, inst, cipher


def create_institution(session: Session, vault: Vault, data: NewInstitution) -> Institution:
    key, inst, cipher = build_institution(vault, data)
    vault.add_key(session, key, cipher)
    session.add(inst)
    session.flush()
    return inst


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def issue_api_key(session: Session, institution: Institution, scopes: list[ApiScope]) -> str:
    """Create a key and return the bearer token; it is shown once and only
    its hash is stored."""
    if not scopes:
        raise ValueError("An API key needs at least one scope.")
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    session.add(
        ApiKey(
            institution_id=institution.id,
            key_id=key_id,
            secret_hash=hash_secret(secret),
            scopes=sorted(ApiScope(s).value for s in scopes),
        )
    )
    session.flush()
    return f"{TOKEN_PREFIX}{key_id}.{secret}"
