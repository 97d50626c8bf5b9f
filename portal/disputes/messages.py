"""Telling a subject's people of what happened to their file: in-app and by
e-mail, each in their own language."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import Role, User
from portal.accounts.services import tell_user
from portal.crypto import Vault
from portal.i18n import DEFAULT
from portal.notifications.services import Attachment, notify
from portal.records.models import Subject


def tell_subject(
    session: Session,
    vault: Vault,
    subject: Subject,
    compose: Callable[[], tuple[str, str]],
    also: Iterable[User] = (),
    attach: Callable[[], list[Attachment]] | None = None,
) -> int:
    """In-app and by e-mail, in each holder's language, to everyone who holds
    the subject's own account (and to the users `also`, say the agent who
    filed); to the contact on file when nobody holds it. `compose()`
    returns (title, body) in the current locale; `attach()`, the files the
    e-mail carries (a letter's PDF), made in the same locale."""
    holders = session.scalars(
        select(User).where(
            User.subject_id == subject.id,
            User.is_active.is_(True),
            User.role.in_([Role.PERSON, Role.FIRM_REPRESENTATIVE]),
        )
    ).all()
    extra = [u for u in also if u.is_active and u not in holders]
    for user in [*holders, *extra]:
        with force_locale(user.locale or DEFAULT):
            title, body = compose()
            files = attach() if attach else []
        tell_user(session, vault, user, title, body, files)
    if not holders:
        contact = vault.cipher(session, subject.data_key_id).open_field(subject, "contact_email")
        if contact:
            with force_locale(DEFAULT):
                title, body = compose()
                files = attach() if attach else []
            notify(session, vault, key_id=subject.data_key_id, email=contact, title=title, body=body, attachments=files)
    return len(holders)


__all__ = ["tell_subject"]
