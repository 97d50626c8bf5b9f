"""Writing and reading access events. Callers write the event in the same
transaction as the action it records.

Each event is also a leaf of the transparency log, queued in that same
transaction (d = SHA-256(salt || canonical JSON of the event)) and given its
index by the integrator soon after (`audit.integrator`). The random
salt is sealed with the event's detail under the subject's data key, so the
public leaf reveals nothing, and once the subject is shredded the leaf can
no longer be tied to anything while the log stays intact."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.audit.models import AccessEvent, EventCursor, EventKind, Outcome
from portal.audit.subjects import KeyedSubject, subject_of
from portal.crypto import Cipher, DecryptionFailed, KeyDestroyed, Vault
from portal.db import new_id, utcnow
from portal.transparency import log, merkle
from portal.transparency.checkpoints import AuditFailure, Problems
from portal.transparency.cosign import WitnessPolicy
from portal.transparency.models import LogLeaf
from portal.transparency.notes import NoteError, Signer, verify_note
from portal.transparency.witnessed import cosigned_note, witnessed_checkpoint

SALT_KEY = "_salt"
# The detail of an event past its retention: sealed like any detail (so only
# the key's holder can mark an event shredded), with no salt and nothing else.
SHREDDED_KEY = "_shredded"
SALT_BYTES = 32
BUNDLE_FORMAT = "portal-event-proof/1"
STREAM_BATCH = 2000  # events read per round trip by the audit


def record_event(
    session: Session,
    vault: Vault,
    subject: KeyedSubject,
    kind: EventKind,
    *,
    channel: str = "web",
    outcome: Outcome = Outcome.SERVED,
    actor_user_id: uuid.UUID | None = None,
    institution_id: uuid.UUID | None = None,
    purpose: str | None = None,
    basis: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AccessEvent:
    # Round-trip the detail through JSON: the leaf commits to exactly what
    # reading it back gives.
    detail = json.loads(json.dumps(detail or {}, ensure_ascii=False))
    if SALT_KEY in detail:
        raise ValueError(f"{SALT_KEY!r} is reserved in an event's detail")
    event = AccessEvent(
        id=new_id(),
        subject_id=subject.id,
        occurred_at=utcnow(),
        kind=kind,
        outcome=outcome,
        channel=channel,
        actor_user_id=actor_user_id,
        institution_id=institution_id,
        purpose=purpose,
        basis=basis,
    )
    cipher = vault.cipher(session, subject.data_key_id)  # fails (shredded subject) before anything is logged
    salt = secrets.token_bytes(SALT_BYTES)
    cipher.seal_field(
        event,
        "detail",
        json.dumps({**detail, SALT_KEY: base64.b64encode(salt).decode()}, ensure_ascii=False, sort_keys=True),
    )
    session.add(event)
    session.flush()
    log.enqueue(session, event.id, leaf_data(salt, event_document(event, detail)))
    return event


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _opt(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def event_document(event: AccessEvent, detail: dict[str, Any]) -> dict[str, Any]:
    """The event as the log commits to it (detail without the salt)."""
    return {
        "id": str(event.id),
        "subject_id": str(event.subject_id),
        "occurred_at": _iso(event.occurred_at),
        "kind": EventKind(event.kind).value,
        "outcome": Outcome(event.outcome).value,
        "purpose": event.purpose,
        "channel": event.channel,
        "actor_user_id": _opt(event.actor_user_id),
        "institution_id": _opt(event.institution_id),
        "detail": detail,
    }


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no insignificant white space, UTF-8: the same value gives
    the same bytes, so a hash over them can be checked by anyone (log leaves,
    disclosure snapshots)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def leaf_data(salt: bytes, document: dict[str, Any]) -> bytes:
    """d, the leaf's data: SHA-256(salt || canonical JSON)."""
    return hashlib.sha256(salt + canonical_json(document)).digest()


@dataclass(frozen=True)
class EventView:
    id: uuid.UUID
    occurred_at: datetime
    kind: EventKind
    outcome: Outcome
    channel: str
    purpose: str | None
    institution_id: uuid.UUID | None
    detail: dict[str, Any]


def open_detail(cipher: Cipher, event: AccessEvent) -> tuple[dict[str, Any], str | None]:
    detail = json.loads(cipher.open(AccessEvent.__tablename__, "detail", event.id, event.detail_ct).decode())
    if SHREDDED_KEY in detail:
        return {}, None
    return detail, detail.pop(SALT_KEY, None)


def shred_detail(cipher: Cipher, event: AccessEvent, on: date) -> None:
    """Past its retention, the event's detail and the salt that ties it to
    its leaf are overwritten: the row (kind, time, who) and its leaf stay, so
    the log still verifies; what was seen is no longer held."""
    cipher.seal_field(event, "detail", json.dumps({SHREDDED_KEY: on.isoformat()}))


def recent_events(session: Session, vault: Vault, subject: KeyedSubject, limit: int = 10) -> list[EventView]:
    cipher = vault.cipher(session, subject.data_key_id)
    rows = session.scalars(
        select(AccessEvent)
        .where(AccessEvent.subject_id == subject.id)
        .order_by(AccessEvent.occurred_at.desc())
        .limit(limit)
    )
    return [
        EventView(
            e.id, e.occurred_at, e.kind, e.outcome, e.channel, e.purpose, e.institution_id, open_detail(cipher, e)[0]
        )
        for e in rows
    ]


# -- proofs for the subject ----------------------------------------------------------
def proof_bundle(session: Session, vault: Vault, event: AccessEvent, signer: Signer | None = None) -> dict[str, Any]:
    """Everything needed to check, offline or in a browser, that an event is
    in the signed log: the event as the exact canonical JSON text that was
    hashed (so no verifier has to re-serialise it), its salt, its leaf index,
    the inclusion proof against the latest checkpoint, that checkpoint and
    the log's verifier key. The caller has checked that the user may see
    this event. Raises NotYetLogged for an event still queued, LookupError
    for one recorded before the log."""
    if event.log_index is None and log.queued(session, [event.id]):
        raise NotYetLogged("this event is being added to the log")
    bundles = proof_bundles(session, vault, [event], signer)
    if event.id in bundles:
        return bundles[event.id]
    if event.log_index is not None:
        raise NotYetLogged("this event is in the log, which waits for its witnesses to vouch for it")
    raise LookupError("this event was recorded before the transparency log")


def proof_bundles(
    session: Session,
    vault: Vault,
    events: Sequence[AccessEvent],
    signer: Signer | None = None,
    policy: WitnessPolicy | None = None,
) -> dict[uuid.UUID, dict[str, Any]]:
    """The proof bundles of many events (the entries of one page) against
    one checkpoint, read and checked once: the newest one the witnesses
    vouch for. Events not in it yet (or from before the log) have none."""
    if signer is None or policy is None:  # the app's (needs an app context)
        from portal.audit.log_routes import log_signer, witness_policy  # the routes sit above, in this package

        signer, policy = signer or log_signer(), policy or witness_policy()
    in_log = [e for e in events if e.log_index is not None]
    if not in_log:
        return {}
    checkpoint = witnessed_checkpoint(session, signer, policy)
    if checkpoint is None:
        return {}
    # Checked here too, for browsers that cannot check Ed25519 themselves: a
    # stored note or cosignature altered in the database is refused, never
    # passed on.
    verify_note(checkpoint.note, signer.vkey)
    note = cosigned_note(session, checkpoint, policy)
    policy.check(note)
    witnesses = {"quorum": policy.quorum, "witnesses": [{"name": w.name, "key": w.vkey} for w in policy.witnesses]}
    ciphers: dict[uuid.UUID, Cipher] = {}
    out = {}
    for event in in_log:
        if event.log_index is None or event.log_index >= checkpoint.size:
            continue  # integrated after the checkpoint was read
        if event.subject_id not in ciphers:
            subject = subject_of(session, event.subject_id)
            ciphers[event.subject_id] = vault.cipher(session, subject.data_key_id)
        detail, salt = open_detail(ciphers[event.subject_id], event)
        if salt is None:
            continue
        proof = log.inclusion_proof(session, event.log_index, checkpoint.size)
        out[event.id] = {
            "format": BUNDLE_FORMAT,
            "event": canonical_json(event_document(event, detail)).decode(),
            "salt": salt,
            "leaf_index": event.log_index,
            "tree_size": checkpoint.size,
            "proof": [base64.b64encode(p).decode() for p in proof],
            "checkpoint": note,
            "key": signer.vkey,
            "witnesses": witnesses,
            "checkpoint_verified_by_server": True,
        }
    return out


class NotYetLogged(LookupError):
    """The event is queued: the integrator has not given it its leaf yet."""


class BundleError(ValueError):
    """A proof bundle is malformed or does not verify."""


_KINDS = {dict: "an object", int: "an integer", str: "a string", list: "a list"}


def _field(bundle: dict[str, Any], name: str, kind: type) -> Any:
    value = bundle.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise BundleError(f"the bundle's {name!r} is missing or not {_KINDS[kind]}")
    return value


def _b64(text: Any, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise BundleError(f"{what} is not base64") from None


def verify_bundle(bundle: Any, vkey: str | None = None, policy: WitnessPolicy | None = None) -> dict[str, Any]:
    """Check a proof bundle offline against the log's verifier key and the
    witnesses that must vouch for its checkpoint (the bundle's own when none
    are given: pass the published ones to be sure). Returns the event;
    raises BundleError saying what is wrong."""
    if not isinstance(bundle, dict):
        raise BundleError("a proof bundle is a JSON object")
    if bundle.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"not a proof bundle of format {BUNDLE_FORMAT!r}")
    try:
        event = _field(bundle, "event", str).encode()  # hashed as the exact text given
        document = json.loads(event)
    except ValueError:  # not UTF-8 (a lone surrogate) or not JSON
        document = None
    if not isinstance(document, dict):
        raise BundleError("the bundle's 'event' is not the JSON text of an object")
    salt = _b64(_field(bundle, "salt", str), "the salt")
    index, size = _field(bundle, "leaf_index", int), _field(bundle, "tree_size", int)
    proof = [_b64(p, f"proof element {i}") for i, p in enumerate(_field(bundle, "proof", list))]
    note = _field(bundle, "checkpoint", str)
    try:
        _origin, signed_size, root = verify_note(note, vkey or _field(bundle, "key", str))
    except NoteError as exc:
        raise BundleError(f"the checkpoint: {exc}") from None
    if signed_size != size:
        raise BundleError(f"the proof is for size {size} but the checkpoint is for size {signed_size}")
    try:
        (policy or bundle_policy(bundle)).check(note)
    except NoteError as exc:
        raise BundleError(f"the checkpoint's witnesses: {exc}") from None
    try:
        merkle.verify_inclusion(index, size, merkle.leaf_hash(hashlib.sha256(salt + event).digest()), proof, root)
    except merkle.ProofError as exc:
        raise BundleError(f"the event is not proved to be in the log: {exc}") from None
    return document


def bundle_policy(bundle: dict[str, Any]) -> WitnessPolicy:
    """The witnesses a bundle names (none in bundles from before witnesses)."""
    named = bundle.get("witnesses")
    if named is None:
        return WitnessPolicy()
    try:
        return WitnessPolicy.from_data(named)
    except NoteError as exc:
        raise BundleError(f"the bundle's 'witnesses': {exc}") from None


# -- the audit of events against the log ---------------------------------------------
def audit_events(session: Session, vault: Vault, leaves: bytes, progress: Callable[[int], None] | None = None) -> int:
    """Every leaf belongs to exactly one event and every event to one leaf,
    and each event of a subject not shredded still hashes to its leaf: an
    event rewritten, deleted or moved in the database is named. `leaves` is
    the concatenated leaf hashes (checked against the tree before). Returns
    how many events were recomputed (those of shredded subjects, and
    details shredded past their retention, cannot be).
    `progress` is told how many events were read, a batch at a time.

    Goes on to the end after a bad event: raises one AuditFailure whose
    `problems` name every bad event and leaf found."""
    size, seen, checked = len(leaves) // 32, set(), 0
    problems = Problems()
    # Each subject is read once: its cipher, None once shredded, or why its
    # events cannot be opened.
    ciphers: dict[uuid.UUID, Cipher | str | None] = {}
    # Streamed in batches: a registry's log does not fit in memory at once.
    events = session.scalars(
        select(AccessEvent).order_by(AccessEvent.log_index).execution_options(yield_per=STREAM_BATCH)
    )
    queued = log.queue_refs(session)  # not in the log yet: checked once integrated
    for n, event in enumerate(events, 1):
        if progress is not None and n % STREAM_BATCH == 0:
            progress(STREAM_BATCH)
        index = event.log_index
        if index is None and event.id in queued:
            continue
        if index is None or not 0 <= index < size:
            problems.add(
                AuditFailure(f"event {event.id}: it points at leaf {index}, which the log does not have", index)
            )
            continue
        if index in seen:
            problems.add(AuditFailure(f"leaf {index}: more than one event claims it", index))
        seen.add(index)
        if event.subject_id not in ciphers:
            ciphers[event.subject_id] = _subject_cipher(session, vault, event.subject_id)
        cipher = ciphers[event.subject_id]
        if cipher is None:
            continue
        opened = cipher if isinstance(cipher, str) else _open_sealed(cipher, event)
        if isinstance(opened, str):
            problems.add(AuditFailure(f"event {event.id} (leaf {index}): {opened}", index))
            continue
        detail, salt = opened
        if salt is None and SHREDDED_KEY in detail:  # shredded past its retention: nothing left to recompute
            continue
        if (
            salt is None
            or merkle.leaf_hash(leaf_data(salt, event_document(event, detail))) != leaves[index * 32 : (index + 1) * 32]
        ):
            problems.add(
                AuditFailure(f"leaf {index}: event {event.id} no longer hashes to it (the event was changed)", index)
            )
            continue
        checked += 1
    if len(seen) != size:
        for missing in range(size):
            if missing not in seen:
                problems.add(AuditFailure(f"leaf {missing}: no event has it (the event was deleted)", missing))
    problems.check()
    return checked


def _subject_cipher(session: Session, vault: Vault, subject_id: uuid.UUID) -> Cipher | str | None:
    """The cipher of an event's subject for the audit: None once shredded,
    or why the subject's events cannot be opened."""
    try:
        subject = subject_of(session, subject_id)
    except LookupError:
        return f"its subject {subject_id} does not exist"
    if subject.shredded_at is not None:
        return None
    try:
        return vault.cipher(session, subject.data_key_id)
    except KeyDestroyed:  # shredding marks the subject in the same transaction
        return f"the data key of its subject {subject_id} was destroyed, but the subject is not marked shredded"


def _open_sealed(cipher: Cipher, event: AccessEvent) -> tuple[dict[str, Any], bytes | None] | str:
    """An event's detail and salt for the audit, or why they cannot be had
    (`open_detail`, with every way the sealed detail can be bad named)."""
    try:
        plain = cipher.open(AccessEvent.__tablename__, "detail", event.id, event.detail_ct)
    except DecryptionFailed:  # altered, or sealed for another row (swapped)
        return "sealed detail does not open"
    try:
        detail = json.loads(plain.decode())
    except ValueError:  # not UTF-8, or not JSON
        detail = None
    if not isinstance(detail, dict):
        return "sealed detail opens, but is not the JSON object of an event's detail"
    salt = detail.pop(SALT_KEY, None)
    try:
        return detail, None if salt is None else base64.b64decode(salt, validate=True)
    except (binascii.Error, TypeError, ValueError):
        return "sealed detail opens, but its salt is not base64"


# -- entries for the tiles API ---------------------------------------------------------
def fill_entries(session: Session, vault: Vault, after: int = -1, limit: int = STREAM_BATCH) -> tuple[int, int, int]:
    """Give up to `limit` leaves after index `after` that were appended
    before entries were kept their entry (d), recomputed from their event
    and checked against the leaf hash. Returns (filled, left without:
    shredded or damaged events, which `audit verify` names; the last index
    looked at, or -1 when none was left). Flushes, never commits."""
    rows = session.execute(
        select(LogLeaf.index, LogLeaf.leaf_hash, AccessEvent)
        .join(AccessEvent, AccessEvent.log_index == LogLeaf.index)
        .where(LogLeaf.leaf_data.is_(None), LogLeaf.index > after)
        .order_by(LogLeaf.index)
        .limit(limit)
    ).all()
    ciphers: dict[uuid.UUID, Cipher | str | None] = {}
    filled, left = [], 0
    for index, leaf, event in rows:
        if event.subject_id not in ciphers:
            ciphers[event.subject_id] = _subject_cipher(session, vault, event.subject_id)
        cipher = ciphers[event.subject_id]
        sealed = _open_sealed(cipher, event) if isinstance(cipher, Cipher) else None
        if not isinstance(sealed, tuple) or sealed[1] is None:
            left += 1
            continue
        d = leaf_data(sealed[1], event_document(event, sealed[0]))
        if merkle.leaf_hash(d) != leaf:
            left += 1
            continue
        filled.append({"index": index, "leaf_data": d})
    if filled:  # ORM bulk UPDATE by primary key: one statement, executemany
        session.execute(update(LogLeaf), filled)
    return len(filled), left, rows[-1][0] if rows else -1


def claim_cursor(session: Session, name: str) -> EventCursor | None:
    """The background job `name`'s place in the access log, held (row
    locked) until the transaction ends; None while another worker holds it.
    Made at -1 the first time (a schema made without the migrations)."""
    taken = select(EventCursor).where(EventCursor.name == name)
    if session.get_bind().dialect.name != "sqlite":
        taken = taken.with_for_update(skip_locked=True)
    cursor = session.scalar(taken)
    if cursor is None:  # none yet, or another worker holds it
        try:
            with session.begin_nested():
                cursor = EventCursor(name=name, position=-1)
                session.add(cursor)
        except IntegrityError:  # it exists: another worker holds it
            return None
    return cursor
