"""The portal's signed documents: issuing one (a number printed on it, a
PAdES signature, its SHA-256 in its access event and so in a leaf of the
log), and telling anyone whether a document was issued, when, and whether
a newer one has replaced it. Nothing personal is told."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.audit.models import AccessEvent, IssuedDocument
from portal.config import DEFAULT_PUBLIC_URL
from portal.signing import DocumentSigner

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread
NUMBER = re.compile(r"CSP(?:-[A-HJ-NP-Z2-9]{4}){3}")


def new_number() -> str:
    """Random, not counted: a number says nothing about how many were issued."""
    groups = ("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(3))
    return "CSP-" + "-".join(groups)


def document_signer() -> DocumentSigner:
    """The app's document-signing key, read from its files on first use."""
    ext = current_app.extensions
    if "portal.document_signer" not in ext:
        ext["portal.document_signer"] = DocumentSigner.load(current_app.config["KEY_DIR"])
    signer: DocumentSigner = ext["portal.document_signer"]
    return signer


def verify_url(number: str) -> str:
    """The page that checks a document, printed on it (and as its QR code):
    on the portal's public address, never one taken from the request (a
    forged Host header would make a signed document send its readers
    elsewhere)."""
    base = current_app.config.get("PUBLIC_URL") or DEFAULT_PUBLIC_URL
    # Built from the URL map, not the request: background jobs issue documents too.
    path = current_app.url_map.bind("localhost").build("site.verify", {"number": number})
    return base.rstrip("/") + path


def issue_pdf(
    session: Session,
    signer: DocumentSigner,
    *,
    kind: str,
    series: str,
    build: Callable[[str], bytes],
    log: Callable[[dict[str, Any]], AccessEvent],
    replaces: bool = True,
) -> bytes:
    """Build a PDF under a new number (`build(number)`), sign it, and record
    it: `log` writes the access event of its issue with the number and the
    file's SHA-256 in its detail. Returns the signed file. Flushes.
    `replaces`: whether it replaces the earlier documents of its series (a
    new report does: the file may have changed; a letter or a notice
    downloaded again says what the first copy said)."""
    number = new_number()
    if not replaces:
        series = f"{series}:{number}"
    signed = signer.sign(build(number))
    digest = hashlib.sha256(signed).digest()
    event = log({"document": number, "sha256": digest.hex()})
    session.add(
        IssuedDocument(
            number=number, kind=kind, series=series, sha256=digest, event_id=event.id, issued_at=event.occurred_at
        )
    )
    session.flush()
    return signed


@dataclass(frozen=True)
class DocumentStatus:
    number: str
    kind: str
    issued_at: datetime
    replaced_at: datetime | None  # when a newer document of its series was issued

    @property
    def current(self) -> bool:
        return self.replaced_at is None


def status(session: Session, *, number: str | None = None, sha256: bytes | None = None) -> DocumentStatus | None:
    """A document by its number or by the SHA-256 of its file."""
    if number is not None:
        if not NUMBER.fullmatch(number):
            return None
        doc = session.get(IssuedDocument, number)
    else:
        doc = session.scalars(select(IssuedDocument).where(IssuedDocument.sha256 == sha256)).first()
    if doc is None:
        return None
    replaced = session.scalar(
        select(func.min(IssuedDocument.issued_at)).where(
            IssuedDocument.series == doc.series, IssuedDocument.issued_at > doc.issued_at
        )
    )
    return DocumentStatus(doc.number, doc.kind, doc.issued_at, replaced)
