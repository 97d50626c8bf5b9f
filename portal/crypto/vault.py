"""Envelope encryption: per-owner data keys wrapped by the keyring's KEKs;
AES-256-GCM with a fresh 96-bit nonce and associated data naming where the
ciphertext lives, `table.column.row-id.key-version`, so a ciphertext copied
to another row or column fails to open."""

from __future__ import annotations

import hmac
import secrets
import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypedDict

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from portal.crypto.blind_index import BlindIndex
from portal.crypto.errors import DecryptionFailed, KeyDestroyed
from portal.crypto.keyring import NONCE_BYTES, Keyring, KeyringError
from portal.crypto.models import DataKey, KekVersion, KeyCheck
from portal.db import new_id, utcnow

FORMAT = 1
_HEADER = struct.Struct(">BI")  # format, data-key version
_CACHE = "portal.ciphers"
_UNNAMED_KEK = "a data key is damaged: it is wrapped but names no key-encryption key version"


class Cipher:
    """One unwrapped data key."""

    __slots__ = ("key_id", "version", "_aead")

    def __init__(self, key_id: uuid.UUID, version: int, key: bytes) -> None:
        self.key_id, self.version, self._aead = key_id, version, AESGCM(key)

    def __repr__(self) -> str:
        return f"Cipher({self.key_id}, v{self.version})"

    def _aad(self, table: str, column: str, row_id: object, version: int) -> bytes:
        return f"{table}.{column}.{row_id}.{version}".encode()

    def seal(self, table: str, column: str, row_id: object, plaintext: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        aad = self._aad(table, column, row_id, self.version)
        return _HEADER.pack(FORMAT, self.version) + nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, table: str, column: str, row_id: object, blob: bytes) -> bytes:
        head = _HEADER.size
        if len(blob) < head + NONCE_BYTES + 16:
            raise DecryptionFailed(f"{table}.{column} of {row_id}: ciphertext too short")
        fmt, version = _HEADER.unpack_from(blob)
        if fmt != FORMAT or version != self.version:
            raise DecryptionFailed(f"{table}.{column} of {row_id}: unknown format {fmt} or key version {version}")
        nonce = blob[head : head + NONCE_BYTES]
        try:
            return self._aead.decrypt(nonce, blob[head + NONCE_BYTES :], self._aad(table, column, row_id, version))
        except InvalidTag:
            raise DecryptionFailed(
                f"{table}.{column} of {row_id}: ciphertext altered or not sealed for this place"
            ) from None

    # Fields of mapped objects: ``<column>_ct`` on ``obj`` with ``obj.id``.
    def seal_field(self, obj: Any, column: str, value: str | None) -> None:
        if obj.id is None:  # the row id is bound into the ciphertext
            raise ValueError(f"{obj.__tablename__}.{column}: give the row its id before sealing")
        blob = None if value is None else self.seal(obj.__tablename__, column, obj.id, value.encode())
        setattr(obj, f"{column}_ct", blob)

    def open_field(self, obj: Any, column: str) -> str | None:
        blob = getattr(obj, f"{column}_ct")
        return None if blob is None else self.open(obj.__tablename__, column, obj.id, blob).decode()

    def open_text(self, obj: Any, column: str) -> str:
        """`open_field` of a column that is never NULL: an empty one means
        the row is damaged."""
        text = self.open_field(obj, column)
        if text is None:
            raise DecryptionFailed(f"{obj.__tablename__}.{column} of {obj.id}: no ciphertext where one is required")
        return text


class KekVersionStatus(TypedDict):
    version: int
    key_file: bool
    data_keys: int


class KeyStatus(TypedDict):
    current: int
    versions: list[KekVersionStatus]
    destroyed: int | None


@dataclass
class RotationReport:
    version: int
    created: bool
    rewrapped: int


class Vault:
    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self.blind_index = BlindIndex(keyring.index_key)

    # -- data keys -------------------------------------------------------
    def new_key(self) -> tuple[DataKey, Cipher]:
        """A fresh data key (not yet added to a session) and its cipher."""
        key = AESGCM.generate_key(bit_length=256)
        row = DataKey(id=new_id(), version=1, created_at=utcnow())
        row.kek_version, row.wrapped = self.keyring.wrap(row.id, key)
        return row, Cipher(row.id, row.version, key)

    def create_key(self, session: Session) -> Cipher:
        row, cipher = self.new_key()
        self.add_key(session, row, cipher)
        return cipher

    def add_key(self, session: Session, row: DataKey, cipher: Cipher) -> None:
        session.add(row)
        session.flush()  # rows that name this key may now be inserted
        session.info.setdefault(_CACHE, {})[row.id] = cipher

    def cipher(self, session: Session, key_id: uuid.UUID) -> Cipher:
        cache: dict[uuid.UUID, Cipher] = session.info.setdefault(_CACHE, {})
        if key_id in cache:
            return cache[key_id]
        row = session.get(DataKey, key_id)
        if row is None:
            raise KeyringError(f"data key {key_id} does not exist")
        if row.destroyed_at is not None:
            raise KeyDestroyed(f"data key {key_id} was destroyed on {row.destroyed_at:%Y-%m-%d}")
        if row.wrapped is None or row.kek_version is None:
            raise KeyringError(f"data key {key_id} is damaged: its wrapped form is missing")
        cache[key_id] = Cipher(row.id, row.version, self.keyring.unwrap(row.id, row.kek_version, row.wrapped))
        return cache[key_id]

    def shred(self, session: Session, key_id: uuid.UUID) -> None:
        """Destroy a data key: everything sealed under it becomes unreadable."""
        row = session.get(DataKey, key_id)
        if row is None:
            raise KeyringError(f"data key {key_id} does not exist")
        row.wrapped, row.kek_version, row.destroyed_at = None, None, utcnow()
        session.info.setdefault(_CACHE, {}).pop(key_id, None)
        session.flush()

    # -- key-encryption keys ---------------------------------------------
    def register_versions(self, session: Session) -> None:
        """Check the key files against the database before any use: each
        known version's file must be the same key, the newest version must be
        present (or new data keys would be wrapped by a retired one), and
        every version that still wraps data keys must be present. Versions
        the database has not seen get their check value recorded."""
        index = session.get(KeyCheck, "index")
        if index is None:
            session.add(KeyCheck(name="index", check_value=self.keyring.index_check_value()))
        elif not hmac.compare_digest(index.check_value, self.keyring.index_check_value()):
            raise KeyringError(
                f"{self.keyring.key_dir / 'index.key'} is not the key this database was set up "
                "with: restore the original, or every look-up by identifier or e-mail fails"
            )
        known = {v.version: v for v in session.scalars(select(KekVersion))}
        if known and max(known) > self.keyring.current_version:
            raise KeyringError(
                f"the database uses key-encryption key v{max(known)} but "
                f"{self.keyring.key_dir / f'kek-v{max(known)}.key'} is missing: restore it"
            )
        in_use = set(session.scalars(select(DataKey.kek_version).where(DataKey.wrapped.is_not(None)).distinct()))
        if None in in_use:
            raise KeyringError(_UNNAMED_KEK)
        missing = sorted({v for v in in_use if v is not None} - set(self.keyring.keks))
        if missing:
            raise KeyringError(
                f"data keys are wrapped by key-encryption key v{missing[0]} but "
                f"{self.keyring.key_dir / f'kek-v{missing[0]}.key'} is missing: restore it"
            )
        for version in sorted(self.keyring.keks):
            if version in known:
                self.keyring.verify_check_value(version, known[version].check_value)
            else:
                session.add(KekVersion(version=version, check_value=self.keyring.check_value(version)))
        session.flush()

    def status(self, session: Session) -> KeyStatus:
        counts: dict[int, int] = {}
        for kek_version, count in session.execute(
            select(DataKey.kek_version, func.count()).where(DataKey.wrapped.is_not(None)).group_by(DataKey.kek_version)
        ):
            if kek_version is None:
                raise KeyringError(_UNNAMED_KEK)
            counts[kek_version] = count
        destroyed = session.scalar(select(func.count()).where(DataKey.wrapped.is_(None)))
        versions = sorted(set(self.keyring.keks) | set(counts) | set(session.scalars(select(KekVersion.version))))
        return {
            "current": self.keyring.current_version,
            "versions": [
                {"version": v, "key_file": v in self.keyring.keks, "data_keys": counts.get(v, 0)} for v in versions
            ],
            "destroyed": destroyed,
        }

    def rotate(self, session: Session, commit: Callable[[], None], batch_size: int = 1000) -> RotationReport:
        """Re-wrap every data key under a new KEK version. If an earlier
        rotation was interrupted, finish it instead of starting another.
        Commits after each batch, so an interruption loses at most one."""
        self.register_versions(session)
        pending = self._pending(session)
        created = False
        if session.scalar(select(func.count()).select_from(pending.subquery())) == 0:
            self.keyring.add_version()
            self.register_versions(session)
            created = True
        commit()
        done = 0
        while rewrapped := self.rewrap_batch(session, batch_size):
            done += rewrapped
            commit()
        return RotationReport(self.keyring.current_version, created, done)

    def rewrap_batch(self, session: Session, batch_size: int = 1000) -> int:
        """Re-wrap up to `batch_size` data keys still under an older KEK
        version; returns how many (0: the rotation is complete). Rows are
        taken FOR UPDATE SKIP LOCKED, so several workers share the work."""
        current = self.keyring.current_version
        rows = session.scalars(self._pending(session).limit(batch_size).with_for_update(skip_locked=True)).all()
        for row in rows:
            if row.kek_version is None or row.wrapped is None:  # excluded by _pending's WHERE
                raise KeyringError(f"data key {row.id} is damaged: its wrapped form is missing")
            key = self.keyring.unwrap(row.id, row.kek_version, row.wrapped)
            row.kek_version, row.wrapped = self.keyring.wrap(row.id, key)
            if row.kek_version != current:
                raise AssertionError(f"data key {row.id} was re-wrapped under v{row.kek_version}, not v{current}")
        session.flush()
        return len(rows)

    def _pending(self, session: Session) -> Select[DataKey]:
        return (
            select(DataKey)
            .where(DataKey.wrapped.is_not(None), DataKey.kek_version != self.keyring.current_version)
            .order_by(DataKey.id)
        )
