"""Users and passwords. Services flush, never commit."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import Role, User
from portal.crypto import Vault
from portal.db import new_id, utcnow
from portal.notifications.services import Attachment, notify
from portal.records.models import Subject

EMAIL_INDEX = "user.email"
MIN_PASSWORD, MAX_PASSWORD = 10, 128
_hasher = PasswordHasher()  # argon2id with the library's current parameters
# Verified against when the e-mail is unknown, so both paths take as long.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class AccountExists(ValueError):
    pass


class WeakPassword(ValueError):
    pass


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_password_policy(password: str, *avoid: str) -> None:
    """NIST SP 800-63B style: length, not trivially guessable; no
    composition rules. Messages are shown to the user."""
    if len(password) < MIN_PASSWORD:
        raise WeakPassword(_("Use at least %(n)d characters.", n=MIN_PASSWORD))
    if len(password) > MAX_PASSWORD:
        raise WeakPassword(_("Use at most %(n)d characters.", n=MAX_PASSWORD))
    if len(set(password)) < 4:
        raise WeakPassword(_("Use more than a few different characters."))
    lowered = password.lower()
    if any(a and a.lower() in lowered for a in avoid):
        raise WeakPassword(_("Do not use your e-mail address or identifier in the password."))


def hash_password(password: str) -> str:
    if len(password) > MAX_PASSWORD:
        raise WeakPassword(f"A password has at most {MAX_PASSWORD} characters.")
    return _hasher.hash(password)


def find_user(session: Session, vault: Vault, email: str) -> User | None:
    return session.scalar(select(User).where(User.email_bidx == vault.blind_index(EMAIL_INDEX, normalise_email(email))))


def create_user(
    session: Session,
    vault: Vault,
    *,
    role: Role,
    email: str,
    display_name: str,
    password: str | None = None,
    totp_secret: str | None = None,
    subject_id: uuid.UUID | None = None,
) -> User:
    email = normalise_email(email)
    if "@" not in email:
        raise ValueError("An e-mail address needs an @.")
    if find_user(session, vault, email) is not None:
        raise AccountExists("An account with this e-mail address already exists.")
    password_hash = hash_password(password) if password else None  # may refuse: before anything is written
    cipher = vault.create_key(session)
    user = User(
        id=new_id(),
        role=role,
        data_key_id=cipher.key_id,
        subject_id=subject_id,
        email_bidx=vault.blind_index(EMAIL_INDEX, email),
        failed_logins=0,
        password_hash=password_hash,
        password_changed_at=utcnow() if password else None,
    )
    cipher.seal_field(user, "email", email)
    cipher.seal_field(user, "display_name", display_name)
    cipher.seal_field(user, "totp_secret", totp_secret)
    session.add(user)
    session.flush()
    return user


def password_matches(user: User | None, password: str) -> bool:
    """Whether `password` is the user's. As slow for no user, or one
    without a password, as for a wrong password: the time tells nothing."""
    if user is None or user.password_hash is None or len(password) > MAX_PASSWORD:
        _verify(_DUMMY_HASH, password)
        return False
    if not _verify(user.password_hash, password):
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return True


def _verify(hash_: str, password: str) -> bool:
    try:
        return _hasher.verify(hash_, password)
    except (VerificationError, InvalidHashError):
        return False


def verify_password(user: User, password: str) -> bool:
    return user.password_hash is not None and len(password) <= MAX_PASSWORD and _verify(user.password_hash, password)


def set_password(session: Session, user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    session.flush()


def change_email(session: Session, vault: Vault, user: User, email: str) -> None:
    email = normalise_email(email)
    other = find_user(session, vault, email)
    if other is not None and other.id != user.id:
        raise AccountExists("An account with this e-mail address already exists.")
    user.email_bidx = vault.blind_index(EMAIL_INDEX, email)
    vault.cipher(session, user.data_key_id).seal_field(user, "email", email)
    session.flush()


def user_email(session: Session, vault: Vault, user: User) -> str:
    return vault.cipher(session, user.data_key_id).open_text(user, "email")


def tell_user(
    session: Session, vault: Vault, user: User, title: str, body: str, attachments: Sequence[Attachment] = ()
) -> None:
    """A message to the user: in the portal's inbox and at their sign-in
    address (with `attachments`, e-mailed only)."""
    notify(
        session,
        vault,
        key_id=user.data_key_id,
        user=user,
        email=user_email(session, vault, user),
        title=title,
        body=body,
        attachments=tuple(attachments),
    )


def display_name(session: Session, vault: Vault, user: User) -> str:
    return vault.cipher(session, user.data_key_id).open_text(user, "display_name")


def shred_subject(session: Session, vault: Vault, subject: Subject) -> None:
    """Crypto-shredding: destroy the data key; every sealed value of the
    subject (names, identifiers, records, access events) becomes unreadable,
    and the blind index no longer matches their identifier. A person's own
    login holds their name and e-mail under its own key: shredded too."""
    vault.shred(session, subject.data_key_id)
    for user in session.scalars(select(User).where(User.subject_id == subject.id, User.role == Role.PERSON)):
        vault.shred(session, user.data_key_id)
        user.is_active, user.email_bidx = False, vault.blind_index("user.email.shredded", str(user.id))
    subject.identifier_bidx = None
    subject.shredded_at = utcnow()
    session.flush()
