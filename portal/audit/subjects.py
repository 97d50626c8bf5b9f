"""The subject an access event is about, as far as the audit needs it: its
id and its data key. Subjects belong to records, a layer above audit, so
records registers how to load one (`register_loader`) when its models are
imported, and every function here takes any object of that shape."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session


class KeyedSubject(Protocol):
    @property
    def id(self) -> uuid.UUID: ...

    @property
    def data_key_id(self) -> uuid.UUID: ...

    @property
    def shredded_at(self) -> datetime | None: ...


Loader = Callable[[Session, uuid.UUID], KeyedSubject | None]
_loader: list[Loader] = []


def register_loader(loader: Loader) -> None:
    _loader[:] = [loader]


def subject_of(session: Session, subject_id: uuid.UUID) -> KeyedSubject:
    if not _loader:
        raise RuntimeError("no subject loader: import portal.records.models first")
    subject = _loader[0](session, subject_id)
    if subject is None:
        raise LookupError(f"no subject {subject_id}")
    return subject
