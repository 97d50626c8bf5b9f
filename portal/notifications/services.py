"""Notifications: kept in the outbox (the in-app inbox reads it) and
e-mailed after the transaction commits, when SMTP is configured, by a
background worker: the response never waits for the mail server, so its
timing reveals nothing (say, whether a registration matched a subject). An
e-mail that fails stays queued for `portal outbox deliver`."""

from __future__ import annotations

import logging
import smtplib
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any, Protocol

from sqlalchemy import ScalarSelect, func, select
from sqlalchemy.orm import Session

from portal import extensions
from portal.crypto import Vault
from portal.db import new_id, utcnow
from portal.notifications.models import Message, MessageAttachment

log = logging.getLogger(__name__)
PENDING = "portal.outbox"


@dataclass(frozen=True)
class Attachment:
    filename: str  # ASCII, as mail clients show it
    mime_type: str  # e.g. application/pdf
    content: bytes


class Recipient(Protocol):
    """A user's account, as far as messages need it (accounts sit above
    notifications and pass their users in)."""

    @property
    def id(self) -> uuid.UUID: ...


def notify(
    session: Session,
    vault: Vault,
    *,
    key_id: uuid.UUID,
    title: str,
    body: str,
    user: Recipient | None = None,
    email: str | None = None,
    attachments: list[Attachment] | tuple[Attachment, ...] = (),
) -> Message:
    """Queue a message for a user's inbox and/or an e-mail address. It is
    sealed under `key_id`, the data key of whom it concerns."""
    message = Message(id=new_id(), data_key_id=key_id, user_id=user.id if user else None, created_at=utcnow())
    cipher = vault.cipher(session, key_id)
    cipher.seal_field(message, "email", email)
    cipher.seal_field(message, "title", title)
    cipher.seal_field(message, "body", body)
    session.add(message)
    for a in attachments:
        row = MessageAttachment(id=new_id(), message_id=message.id, filename=a.filename, mime_type=a.mime_type)
        row.content_ct = cipher.seal("message_attachments", "content", row.id, a.content)
        session.add(row)
    session.flush()
    if email:
        session.info.setdefault(PENDING, []).append(message.id)
    return message


@dataclass(frozen=True)
class MessageView:
    id: uuid.UUID
    created_at: datetime
    title: str
    body: str
    email: str | None
    read: bool
    emailed: bool


def _view(session: Session, vault: Vault, m: Message) -> MessageView:
    c = vault.cipher(session, m.data_key_id)
    return MessageView(
        m.id,
        m.created_at,
        c.open_text(m, "title"),
        c.open_text(m, "body"),
        c.open_field(m, "email"),
        m.read_at is not None,
        m.emailed_at is not None,
    )


def attachments_of(session: Session, vault: Vault, m: Message) -> list[Attachment]:
    rows = session.scalars(
        select(MessageAttachment).where(MessageAttachment.message_id == m.id).order_by(MessageAttachment.filename)
    ).all()
    if not rows:
        return []
    c = vault.cipher(session, m.data_key_id)
    return [
        Attachment(r.filename, r.mime_type, c.open("message_attachments", "content", r.id, r.content_ct)) for r in rows
    ]


def inbox(
    session: Session, vault: Vault, user: Recipient, offset: int = 0, limit: int = 20
) -> tuple[list[MessageView], int]:
    where = Message.user_id == user.id
    total = session.execute(select(func.count()).select_from(Message).where(where)).scalar_one()
    rows = session.scalars(select(Message).where(where).order_by(Message.created_at.desc()).offset(offset).limit(limit))
    return [_view(session, vault, m) for m in rows], total


def unread_count_of(user_id: Any) -> ScalarSelect[int]:
    """The count of a user's unread messages, as a column (`user_id` is a
    column or a value)."""
    return (
        select(func.count())
        .select_from(Message)
        .where(Message.user_id == user_id, Message.read_at.is_(None))
        .scalar_subquery()
    )


def unread_count(session: Session, user: Recipient) -> int:
    return session.execute(select(unread_count_of(user.id))).scalar_one()


def mark_read(session: Session, user: Recipient) -> None:
    for m in session.scalars(select(Message).where(Message.user_id == user.id, Message.read_at.is_(None))):
        m.read_at = utcnow()
    session.flush()


def outbox(session: Session, vault: Vault, limit: int = 50) -> list[MessageView]:
    """Every e-mail, newest first: the operator's view in demo mode."""
    rows = session.scalars(
        select(Message).where(Message.email_ct.is_not(None)).order_by(Message.created_at.desc()).limit(limit)
    )
    return [_view(session, vault, m) for m in rows]


class Mailer:
    def __init__(self, config: dict[str, Any]) -> None:
        self.server: str | None = config.get("MAIL_SERVER")
        self.port = int(config.get("MAIL_PORT") or 25)
        self.starttls = bool(config.get("MAIL_USE_TLS"))
        self.username, self.password = config.get("MAIL_USERNAME"), config.get("MAIL_PASSWORD")
        self.sender = config.get("MAIL_FROM") or "portal@localhost"

    @property
    def enabled(self) -> bool:
        return bool(self.server)

    def send(self, to: str, title: str, body: str, attachments: list[Attachment] | tuple[Attachment, ...] = ()) -> None:
        if not self.server:
            raise smtplib.SMTPServerDisconnected("no mail server is configured (MAIL_SERVER)")
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self.sender, to, title
        msg.set_content(body)
        for a in attachments:
            maintype, _, subtype = a.mime_type.partition("/")
            msg.add_attachment(a.content, maintype=maintype, subtype=subtype, filename=a.filename)
        with smtplib.SMTP(self.server, self.port, timeout=10) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(msg)


_courier = ThreadPoolExecutor(max_workers=1, thread_name_prefix="portal-mail")


def deliver_soon(app: Any, ids: list[uuid.UUID]) -> Future | None:
    """Hand committed messages to the background worker."""
    if not Mailer(app.config).enabled:
        return None

    def run() -> int:
        with app.app_context():
            return deliver(extensions.session(), extensions.vault(), Mailer(app.config), ids)

    return _courier.submit(run)


def settle(timeout: float = 60) -> None:
    """Wait until every message handed to the worker so far has been tried
    (the worker is first in, first out): for shutdown, and for tests."""
    _courier.submit(lambda: None).result(timeout)


def deliver(session: Session, vault: Vault, mailer: Mailer, ids: list[uuid.UUID] | None = None) -> int:
    """E-mail queued messages (these ids, or all not yet sent), oldest
    first; each one sent is marked and committed at once, so a failure never
    re-sends the rest. Each message is claimed before it is sent (FOR UPDATE
    SKIP LOCKED on PostgreSQL): several workers never send one twice.
    SQLite has no row locks: run one worker there."""
    if not mailer.enabled:
        return 0
    stmt = select(Message).where(Message.email_ct.is_not(None), Message.emailed_at.is_(None))
    if ids is not None:
        stmt = stmt.where(Message.id.in_(ids))
    sent, passed = 0, set[uuid.UUID]()
    while True:
        claim = stmt.where(Message.id.not_in(passed)) if passed else stmt
        m = session.scalars(
            claim.order_by(Message.created_at, Message.id).limit(1).with_for_update(skip_locked=True)
        ).first()
        if m is None:
            session.commit()  # lets go of what could not be sent: it stays queued
            return sent
        view = _view(session, vault, m)
        if view.email is None:  # not selected: the query takes only messages with an address
            passed.add(m.id)
            continue
        try:
            mailer.send(view.email, view.title, view.body, attachments_of(session, vault, m))
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("e-mail %s not delivered, left queued: %s", m.id, exc)
            passed.add(m.id)
            continue
        m.emailed_at = utcnow()
        session.commit()
        sent += 1
