"""Evidence files: PDF, PNG or JPEG recognised by their content (never by
the name or the type the browser claims), parsed and rebuilt without active
content (`disarm`; what is stored is the rebuilt file), at most 10 MB each
and 5 per dispute, sealed under the subject's data key with associated data
naming the row (`evidence.content.<id>`), stored under a name the server
chose. The name the file was uploaded with is sealed beside it and shown
(escaped) to the subject, the officer and the furnisher; a download carries
it in an RFC 6266 Content-Disposition (`content_disposition`)."""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy.orm import Session

from portal.crypto import Cipher
from portal.crypto.errors import DecryptionFailed
from portal.db import new_id, utcnow
from portal.disputes import disarm
from portal.disputes.models import Dispute, Evidence
from portal.i18n import N_, Refusal
from portal.i18n import lazy as _l

MAX_BYTES = 10 * 1024 * 1024
MAX_FILES = 5
MAX_NAME = 120  # characters of an uploaded file's name kept

# (magic bytes, media type, extension of the stored name)
_SIGNATURES = (
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
)
EXTENSIONS = {media: ext for _magic, media, ext in _SIGNATURES}


class EvidenceRejected(Refusal):
    """A file that cannot be accepted; the message says why, for the user."""


class EvidenceCorrupt(ValueError):
    """A stored file no longer matches what was received."""


@dataclass(frozen=True)
class Upload:
    """A file as received. `filename` and `claimed_type` are only used in
    messages: the content decides."""

    filename: str
    data: bytes
    claimed_type: str | None = None


@dataclass(frozen=True)
class CheckedFile(Upload):
    """An upload that passed `check_file`: `data` is the rebuilt file.
    Checking it again returns it as it is, so a file the page checked is
    not parsed and rebuilt again by the service."""

    media_type: str = ""
    sha256: bytes = b""
    removed: tuple[str, ...] = ()  # what the disarm took out


def sniff(data: bytes) -> str | None:
    for magic, media_type, _ext in _SIGNATURES:
        if data.startswith(magic):
            return media_type
    return None


def clean_name(filename: str | None) -> str:
    """The name a file was uploaded with, as kept: its last path part,
    without control or formatting characters (a right-to-left override
    would make "cod.exe" read "exe.doc"), at most MAX_NAME characters;
    "" when nothing is left."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    kept = (" " if unicodedata.category(c)[0] == "Z" else c for c in unicodedata.normalize("NFC", name))
    name = " ".join("".join(c for c in kept if unicodedata.category(c)[0] != "C").split()).strip(". ")
    return name[:MAX_NAME]


def _label(upload: Upload) -> str:
    name = clean_name(upload.filename)
    return f"“{name[:80]}”" if name else _l("A file")


def check_file(upload: Upload) -> CheckedFile:
    """The file rebuilt (see `disarm`), or EvidenceRejected saying why."""
    if isinstance(upload, CheckedFile):
        return upload
    data = upload.data
    if not isinstance(data, bytes | bytearray | memoryview):
        raise EvidenceRejected(N_("%(name)s could not be read."), name=_label(upload))
    data = bytes(data)
    if not data:
        raise EvidenceRejected(N_("%(name)s is empty."), name=_label(upload))
    if len(data) > MAX_BYTES:
        raise EvidenceRejected(
            N_("%(name)s is larger than 10 MB; send a smaller copy or split it."), name=_label(upload)
        )
    media_type = sniff(data)
    if media_type is None:
        raise EvidenceRejected(
            N_(
                "%(name)s is not a PDF, PNG or JPEG file (judged by its content, whatever its "
                "name). Only those kinds are accepted."
            ),
            name=_label(upload),
        )
    try:
        rebuilt = disarm.rebuild(data, media_type, _label(upload))
    except disarm.CannotRebuild as exc:
        raise EvidenceRejected(exc.message, **exc.params) from None
    data = rebuilt.data
    return CheckedFile(
        upload.filename, data, upload.claimed_type, media_type, hashlib.sha256(data).digest(), rebuilt.removed
    )


def check_files(uploads: Iterable[Upload], already: int = 0) -> list[CheckedFile]:
    """Check every file before anything is written; raises on the first bad
    one, or when the dispute would hold more than five files."""
    uploads = list(uploads)
    if already + len(uploads) > MAX_FILES:
        left = max(0, MAX_FILES - already)
        if already:
            raise EvidenceRejected(
                N_("A dispute holds at most %(n)d files; you may add %(left)d more."), n=MAX_FILES, left=left
            )
        raise EvidenceRejected(
            N_("A dispute holds at most %(n)d files; %(sent)d were chosen."), n=MAX_FILES, sent=len(uploads)
        )
    return [check_file(u) for u in uploads]


def store(
    session: Session, cipher: Cipher, dispute: Dispute, checked: Sequence[CheckedFile], uploaded_by: uuid.UUID | None
) -> list[Evidence]:
    """Seal and add files already checked (see `check_files`)."""
    rows = []
    for item in checked:
        row_id = new_id()
        row = Evidence(
            id=row_id,
            dispute_id=dispute.id,
            stored_name=f"{row_id.hex}.{EXTENSIONS[item.media_type]}",
            media_type=item.media_type,
            size=len(item.data),
            sha256=item.sha256,
            content_ct=cipher.seal("evidence", "content", row_id, item.data),
            removed=list(item.removed),
            uploaded_by_user_id=uploaded_by,
            created_at=utcnow(),
        )
        cipher.seal_field(row, "name", clean_name(item.filename) or None)
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def read(cipher: Cipher, evidence: Evidence) -> tuple[bytes, str, str]:
    """(content, media type, download name), after checking the SHA-256.
    The download name is `ascii_name`: safe inside a quoted header
    parameter as it is. The caller has checked that the actor may see this
    dispute's evidence."""
    try:
        data = cipher.open("evidence", "content", evidence.id, evidence.content_ct)
    except DecryptionFailed as exc:
        raise EvidenceCorrupt(f"evidence {evidence.stored_name} cannot be opened: {exc}") from None
    if not hmac.compare_digest(hashlib.sha256(data).digest(), evidence.sha256) or len(data) != evidence.size:
        raise EvidenceCorrupt(f"evidence {evidence.stored_name} does not match its checksum")
    return data, evidence.media_type, ascii_name(download_name(cipher, evidence), evidence)


# -- names --------------------------------------------------------------------------------
def original_name(cipher: Cipher, evidence: Evidence) -> str | None:
    """The name the file was uploaded with; None for files kept before names were."""
    try:
        return cipher.open_field(evidence, "name") or None
    except DecryptionFailed:
        return None  # a damaged name never stops the file being read


def download_name(cipher: Cipher, evidence: Evidence) -> str:
    """The file's name for a download: the uploaded name with the extension
    of what is stored (the content decided its type, not the name), or the
    stored name for files kept without one."""
    name = original_name(cipher, evidence)
    ext = EXTENSIONS.get(evidence.media_type, "bin")
    if not name:
        return evidence.stored_name
    stem, dot, given = name.rpartition(".")
    if dot and given.lower() in ({ext} | ({"jpeg"} if ext == "jpg" else set())):
        return name
    return f"{name}.{ext}"


_UNSAFE = re.compile(r"[^A-Za-z0-9._ ()+,=@-]+")


def ascii_name(name: str, evidence: Evidence) -> str:
    """`name` in printable ASCII without quotes or backslashes (the
    `filename=` fallback of RFC 6266): what is left of it, or the stored
    name when no letter or digit of its stem is."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    stem = _UNSAFE.sub("_", stem).strip(" ._")
    ext = _UNSAFE.sub("", ext)
    if not any(c.isalnum() for c in stem):
        return evidence.stored_name
    return f"{stem}.{ext}" if ext else stem


def content_disposition(name: str, evidence: Evidence) -> str:
    """An attachment named `name` (RFC 6266 / RFC 8187): an ASCII fallback
    every client reads, and the name itself in `filename*` when it is not
    plain ASCII."""
    fallback = ascii_name(name, evidence)
    header = f'attachment; filename="{fallback}"'
    if fallback != name:
        header += f"; filename*=UTF-8''{quote(name, safe='')}"
    return header


def disposition(cipher: Cipher, evidence: Evidence) -> str:
    """The Content-Disposition of a download of this file."""
    return content_disposition(download_name(cipher, evidence), evidence)


def upload_errors(uploads: Sequence[Upload], already: int = 0) -> tuple[list[str], list[Upload]]:
    """Everything wrong with the files chosen, for the page, in the reader's
    language, and the files with each good one replaced by its checked
    (rebuilt) self: hand those to the services, which check the count again
    before writing without rebuilding any file twice. Content decides,
    never the name."""
    errors: list[str] = []
    if already + len(uploads) > MAX_FILES:
        try:
            check_files(uploads, already)
        except EvidenceRejected as exc:
            errors.append(exc.translated())
    checked: list[Upload] = []
    for upload in uploads:
        try:
            checked.append(check_file(upload))
        except EvidenceRejected as exc:
            errors.append(exc.translated())
            checked.append(upload)
    return errors, checked
