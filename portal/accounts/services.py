"""Users. Services flush, never commit."""
from __future__ import annotations

import uuid

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import Role, User
from portal.crypto import Vault
from portal.db import new_id

EMAIL_INDEX = "user.email"
MAX_PASSWORD = 128
_hasher = PasswordHasher()  # argon2id with the library's current defaults


class AccountExists(ValueError):
    pass


def normalise_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    if len(password) > MAX_PASSWORD:
        raise ValueError(f"A password has at most {MAX_PASSWORD} characters.")
    return _hasher.hash(password)


def find_user(session: Session, vault: Vault, email: str) -> User | None:
    return session.scalar(select(User).where(User.email_bidx == vault.blind_index(EMAIL_INDEX, normalise_email(email))))


def create_user(session: Session, vault: Vault, *, role: Role, email: str, display_name: str,
                password: str | None = None, totp_secret: str | None = None,
                subject_id: uuid.UUID | None = None) -> User:
    email = normalise_email(email)
    if "@" not in email:
        raise ValueError("An e-mail address needs an @.")
    if find_user(session, vault, email) is not None:
        raise AccountExists("An account with this e-mail address already exists.")
    cipher = vault.create_key(session)
    user = User(id=new_id(), role=role, data_key_id=cipher.key_id, subject_id=subject_id,
                email_bidx=vault.blind_index(EMAIL_INDEX, email),
                password_hash=hash_password(password) if password else None)
    cipher.seal_field(user, "email", email)
    cipher.seal_field(user, "display_name", display_name)
    cipher.seal_field(user, "totp_secret", totp_secret)
    session.add(user)
    session.flush()
    return user
