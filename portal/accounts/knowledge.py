"""Identity by knowledge: a subject with no contact on file to send a code to
proves who it is by answering four questions drawn from its own records
(which of these institutions reported a loan, in which year did the oldest
account open, ...), each real answer among decoys; three of four right
pass, and passing leads to the same account-opening step as a code.

Nothing here may tell an outsider whether a subject is on file. An
identifier that is not on file, a name that does not match, or a file too
thin to ask four questions about all get invented questions, generated
from a keyed hash of the identifier and name (asking again shows the same
ones, as it does for a real file), whose answers match nothing. The
request only ever inserts, reads and updates a `KnowledgeChallenge` row
the same way: the worker looks the subject up, builds the questions and,
once the set is answered or has expired, writes the access event on the
subject's file. The right answers are kept as keyed hashes only, compared
in constant time, and the questions are dropped once answered.

Guessing: five options a question give 17 passing combinations of 625
(2.7 % a set); so each identifier gets PER_DAY failed sets a day (then a
day's wait) and PER_MONTH in 30 days, and each client address PER_ADDRESS
a day, whatever the identifier."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import random
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import JSON, CursorResult, ForeignKey, LargeBinary, String, delete, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.accounts.signin import _address_index as address_index  # the same keyed hash as sign-in's throttle
from portal.audit.events import record_event
from portal.audit.models import EventKind, Outcome
from portal.crypto import KeyDestroyed, Vault
from portal.db import Base, new_id, utcnow
from portal.i18n import local_name
from portal.institutions.models import Institution, InstitutionKind
from portal.localtime import today
from portal.records.models import Category, CreditRecord, RecordVersion, Subject
from portal.records.services import open_payload

QUESTIONS, PASS_MARK, OPTIONS = 4, 3, 5
SET_TTL = timedelta(minutes=20)  # to answer a set once shown
PASSED_TTL = timedelta(minutes=30)  # to open the account once passed
PER_DAY, DAY_LOCK = 3, timedelta(hours=24)
PER_MONTH, MONTH = 6, timedelta(days=30)
PER_ADDRESS = 10  # failed sets from one client address in 24 h (homes and offices share addresses)
KEEP = MONTH + timedelta(days=1)  # rows the limits count
SEED_INDEX, ANSWER_INDEX = "knowledge.seed", "knowledge.answer"
# Where a record's details say when it began, by category.
START_KEYS = ("opened_on", "signed_on", "assessed_on", "decided_on", "since")
CREDIT = {Category.LOAN, Category.CREDIT_CARD}
LENDING = {InstitutionKind.BANK, InstitutionKind.LENDER}
# How an attempt shows in the subject's access log: an account-opening
# attempt, refused unless it passed (the detail says it was questions).
ATTEMPT_KIND = EventKind.REGISTRATION


class KnowledgeChallenge(Base):
    """One set of questions asked for a (kind, identifier, name), whoever is
    on file. The browser holds a random token; only its SHA-256 is kept.
    `subject_id` is set by the worker when the identifier is on file (the
    attempt is logged there); `questions` and the keyed hashes of the right
    answers live only until the set is answered or expires."""

    __tablename__ = "knowledge_challenges"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(8))  # a SubjectKind
    identifier_bidx: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)  # as subjects.identifier_bidx
    name_bidx: Mapped[bytes] = mapped_column(LargeBinary(32))
    address_bidx: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)  # of who asked, then who answered
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    prepared_at: Mapped[datetime | None]
    subject_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("subjects.id"), index=True)
    questions: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)  # [{"ask": Ask, "options": [str]}]
    answer_hashes: Mapped[bytes | None] = mapped_column(LargeBinary)  # 32 bytes a question
    answered_at: Mapped[datetime | None]
    correct: Mapped[int | None]
    passed: Mapped[bool | None]
    journaled_at: Mapped[datetime | None]  # the attempt's access event is written (or there is no file)
    used_at: Mapped[datetime | None]  # an account was opened with it


class Ask(StrEnum):
    LENDER = "lender"
    OPENED = "opened"
    FURNISHER = "furnisher"
    NEWEST = "newest"
    OLDEST = "oldest"
    COUNT = "count"


def _ask_text(ask: Ask) -> str:
    return {
        Ask.LENDER: _("Which of these institutions has reported a loan or credit card account on this credit file?"),
        Ask.OPENED: _("In which year did the oldest loan or credit card account on this credit file open?"),
        Ask.FURNISHER: _(
            "Which of these institutions has reported a record on this credit file "
            "(an account, a guarantee, arrears, a judgment or a penalty)?"
        ),
        Ask.NEWEST: _(
            "In which year did the newest record on this credit file begin "
            "(an account opened, a guarantee signed, arrears assessed, a case decided)?"
        ),
        Ask.OLDEST: _("In which year did the oldest record on this credit file begin?"),
        Ask.COUNT: _("How many records are on this credit file, closed accounts and settled arrears included?"),
    }[ask]


class Locked(Exception):
    """Too many failed sets for this identifier or from this address."""

    def __init__(self, until: datetime) -> None:
        super().__init__(until)
        self.until = until


# -- the questions ------------------------------------------------------------------
@dataclass(frozen=True)
class Fact:
    """A record as the questions see it."""

    key: str
    furnisher: uuid.UUID
    credit: bool  # a loan or a credit card
    start: int | None  # the year it began, when its details say


@dataclass(frozen=True)
class Pooled:
    """An institution on file, a possible option."""

    id: uuid.UUID
    lending: bool


@dataclass(frozen=True)
class Question:
    ask: Ask
    options: list[str]  # institution ids, years or counts, as shown in this order
    answer: str


def build(facts: Sequence[Fact], pool: Sequence[Pooled], rng: random.Random, this_year: int) -> list[Question] | None:
    """QUESTIONS questions about `facts`, or None when they are too few. No
    institution is an option twice and no year is an answer twice, so one
    question's options never narrow another's."""
    furnishers = {f.furnisher for f in facts}
    shown: set[uuid.UUID] = set()
    years: set[int] = set()
    asked: set[str] = set()
    dated = sorted((f for f in facts if f.start is not None), key=lambda f: (f.start, f.key))

    def institution(ask: Ask, answers: set[uuid.UUID], fits: Callable[[Pooled], bool]) -> Question | None:
        candidates = sorted(answers - shown, key=str)
        decoys = [p.id for p in pool if fits(p) and p.id not in furnishers and p.id not in shown]
        if not candidates or len(decoys) < OPTIONS - 1:  # every question has OPTIONS options, or is not asked
            return None
        answer = rng.choice(candidates)
        options = [answer, *rng.sample(decoys, OPTIONS - 1)]
        rng.shuffle(options)
        shown.update(options)
        return Question(ask, [str(o) for o in options], str(answer))

    def year(ask: Ask, fact: Fact | None) -> Question | None:
        if fact is None or fact.start is None or fact.key in asked or fact.start in years:
            return None
        asked.add(fact.key)
        years.add(fact.start)
        # A window of consecutive years holding the answer anywhere, never
        # reaching past this year.
        first = min(fact.start - rng.randrange(OPTIONS), max(this_year, fact.start) - OPTIONS + 1)
        return Question(ask, [str(first + k) for k in range(OPTIONS)], str(fact.start))

    credit_dated = [f for f in dated if f.credit]
    makers: list[Callable[[], Question | None]] = [
        lambda: institution(Ask.LENDER, {f.furnisher for f in facts if f.credit}, lambda p: p.lending),
        lambda: year(Ask.OPENED, credit_dated[0] if credit_dated else None),
        lambda: institution(Ask.FURNISHER, furnishers, lambda p: True),
        lambda: year(Ask.NEWEST, dated[-1] if dated else None),
        lambda: year(Ask.OLDEST, dated[0] if dated else None),
        lambda: Question(Ask.COUNT, [str(n) for n in range(1, OPTIONS + 1)], str(min(len(facts), OPTIONS))),
    ]
    questions: list[Question] = []
    for make in makers:
        if len(questions) == QUESTIONS or not facts:
            break
        if (question := make()) is not None:
            questions.append(question)
    return questions if len(questions) == QUESTIONS else None


def invent(pool: Sequence[Pooled], rng: random.Random, this_year: int) -> list[Question]:
    """Questions about a file that does not exist, as plausible as real ones:
    an invented handful of records run through `build`."""
    lenders = [p for p in pool if p.lending] or list(pool)
    others = [p for p in pool if not p.lending] or list(pool)
    for _attempt in range(50):
        facts = []
        for n in range(rng.choice((2, 3, 3, 4, 5, 6))):
            credit = rng.random() < 0.7
            furnisher = rng.choice(lenders if credit else others).id if pool else uuid.UUID(int=n + 1)
            facts.append(Fact(f"invented-{n}", furnisher, credit, this_year - rng.randrange(16)))
        if (questions := build(facts, pool, rng, this_year)) is not None:
            return questions
    # Not one fitted (an install with almost no institutions): three records
    # with years of their own always give four questions.
    nobody = uuid.UUID(int=0)
    facts = [Fact("a", nobody, True, this_year - 6), Fact("b", nobody, False, this_year - 1)]
    facts.append(Fact("c", nobody, False, this_year - 9))
    return cast(list[Question], build(facts, [], rng, this_year))  # OPENED, NEWEST, OLDEST and COUNT


def _start_year(details: dict[str, Any]) -> int | None:
    for key in START_KEYS:
        try:
            return date.fromisoformat(str(details[key])).year
        except (KeyError, ValueError):
            continue
    return None


def facts_of(session: Session, vault: Vault, subject: Subject) -> list[Fact]:
    """The subject's records as its report shows them: not deleted, not past
    their expiry."""
    rows = session.execute(
        select(CreditRecord, RecordVersion)
        .join(
            RecordVersion,
            (RecordVersion.record_id == CreditRecord.id) & (RecordVersion.version == CreditRecord.current_version),
        )
        .where(
            CreditRecord.subject_id == subject.id,
            CreditRecord.deleted_at.is_(None),
            or_(RecordVersion.expires_on.is_(None), RecordVersion.expires_on > today()),
        )
        .order_by(CreditRecord.created_at, CreditRecord.id)
    ).all()
    cipher = vault.cipher(session, subject.data_key_id)
    return [
        Fact(str(r.id), r.furnisher_id, r.category in CREDIT, _start_year(open_payload(cipher, v))) for r, v in rows
    ]


def institution_pool(session: Session) -> list[Pooled]:
    rows = session.execute(select(Institution.id, Institution.kind).order_by(Institution.code)).all()
    return [Pooled(i, kind in LENDING) for i, kind in rows]


def _answer_hash(vault: Vault, challenge_id: uuid.UUID, index: int, value: str) -> bytes:
    return vault.blind_index(ANSWER_INDEX, f"{challenge_id}:{index}:{value}")


def prepare(
    session: Session, vault: Vault, row: KnowledgeChallenge, subject: Subject | None, genuine: bool, pool: list[Pooled]
) -> None:
    """Give the set its questions (the worker's part). `subject` is the file
    of the identifier, if any: the attempt is logged there; `genuine` when
    the name matches too. The questions of a file come from its records;
    anyone else's, and those of a file with too little on it, are invented
    and their right answers are random bytes that no option hashes to."""
    seed = vault.blind_index(SEED_INDEX, f"{row.kind}:{row.identifier_bidx.hex()}:{row.name_bidx.hex()}")
    this_year = today().year
    # Seeded by a keyed hash, so asking again shows the same set (not for
    # secrecy: the right answers are the records' own).
    questions = None
    if genuine and subject is not None:
        questions = build(facts_of(session, vault, subject), pool, random.Random(seed), this_year)  # noqa: S311
    if questions is None:
        row.answer_hashes = secrets.token_bytes(32 * QUESTIONS)
        questions = invent(pool, random.Random(seed), this_year)  # noqa: S311
    else:
        row.answer_hashes = b"".join(_answer_hash(vault, row.id, i, q.answer) for i, q in enumerate(questions))
    row.questions = [{"ask": q.ask.value, "options": q.options} for q in questions]
    row.subject_id = subject.id if subject is not None else None
    row.prepared_at = utcnow()


def shown(session: Session, row: KnowledgeChallenge) -> list[tuple[str, list[str]]]:
    """The set as the page shows it, in its language: each question with the
    labels of its options, in order."""
    asked = row.questions or []
    ids = [uuid.UUID(o) for q in asked if q["ask"] in (Ask.LENDER, Ask.FURNISHER) for o in q["options"]]
    ids += [uuid.UUID(int=0)] * (QUESTIONS * OPTIONS - len(ids))  # one statement, whatever the questions
    names = {str(i.id): local_name(i) for i in session.scalars(select(Institution).where(Institution.id.in_(ids)))}

    def label(ask: Ask, option: str) -> str:
        if ask in (Ask.LENDER, Ask.FURNISHER):
            return names.get(option, "?")
        if ask is Ask.COUNT:
            n = int(option)
            return (
                _("%(num)d or more records", num=n)
                if n == OPTIONS
                else ngettext("%(num)d record", "%(num)d records", n)
            )
        return option

    return [(_ask_text(Ask(q["ask"])), [label(Ask(q["ask"]), o) for o in q["options"]]) for q in asked]


# -- asking and answering (the request's part) -----------------------------------------
def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _failures(session: Session, where: list[Any], since: datetime, lock: bool) -> list[datetime]:
    stmt = select(KnowledgeChallenge.answered_at, KnowledgeChallenge.passed).where(
        *where, KnowledgeChallenge.requested_at >= since
    )
    if lock and session.get_bind().dialect.name != "sqlite":
        # Two answers at once for one identifier: the second waits, then
        # counts the first (SQLite runs one writer at a time anyway).
        stmt = stmt.with_for_update()
    return sorted(at for at, passed in session.execute(stmt) if at is not None and not passed)


def locked_until(session: Session, identifier_bidx: bytes, address_bidx: bytes) -> datetime | None:
    """When this identifier, or this client address, may try again; None if
    now. The same statements run whoever the identifier names."""
    now = utcnow()
    until = now
    mine = _failures(session, [KnowledgeChallenge.identifier_bidx == identifier_bidx], now - KEEP, lock=True)
    for i in range(PER_DAY - 1, len(mine)):  # PER_DAY within 24 h: a day's wait after the last of them
        if mine[i] - mine[i - PER_DAY + 1] <= DAY_LOCK:
            until = max(until, mine[i] + DAY_LOCK)
    month = [at for at in mine if at > now - MONTH]
    if len(month) >= PER_MONTH:  # until the oldest that counts is 30 days old
        until = max(until, month[-PER_MONTH] + MONTH)
    theirs = _failures(session, [KnowledgeChallenge.address_bidx == address_bidx], now - DAY_LOCK * 2, lock=False)
    for i in range(PER_ADDRESS - 1, len(theirs)):
        if theirs[i] - theirs[i - PER_ADDRESS + 1] <= DAY_LOCK:
            until = max(until, theirs[i] + DAY_LOCK)
    return until if until > now else None


def ask(session: Session, vault: Vault, kind: str, identifier_bidx: bytes, name_bidx: bytes, address: str) -> str:
    """A new set for the worker to prepare; returns the browser's token.
    Raises Locked when the identifier or the address must wait."""
    address_bidx = address_index(vault, address)
    until = locked_until(session, identifier_bidx, address_bidx)
    if until is not None:
        raise Locked(until)
    token = secrets.token_urlsafe(32)
    session.add(
        KnowledgeChallenge(
            id=new_id(),
            kind=kind,
            identifier_bidx=identifier_bidx,
            name_bidx=name_bidx,
            address_bidx=address_bidx,
            token_hash=_token_hash(token),
            requested_at=utcnow(),
        )
    )
    session.flush()
    return token


def challenge(session: Session, token: str | None) -> KnowledgeChallenge | None:
    return (
        None
        if not token
        else session.scalar(select(KnowledgeChallenge).where(KnowledgeChallenge.token_hash == _token_hash(token)))
    )


def is_open(row: KnowledgeChallenge) -> bool:
    """Prepared, not answered, not expired: its questions can be answered."""
    return (
        row.prepared_at is not None
        and row.answered_at is None
        and row.questions is not None
        and utcnow() < row.prepared_at + SET_TTL
    )


def answer(session: Session, vault: Vault, row: KnowledgeChallenge, chosen: Sequence[int], address: str) -> bool:
    """Check an open set's answers (`chosen`: an option's place in each
    question) and record the attempt; True when PASS_MARK are right. The
    same work whatever the set: QUESTIONS keyed hashes compared in constant
    time, one UPDATE. Raises Locked (nothing recorded) when the identifier
    or the address must wait, LookupError when the set was answered meanwhile."""
    address_bidx = address_index(vault, address)
    until = locked_until(session, row.identifier_bidx, address_bidx)
    if until is not None:
        raise Locked(until)
    asked, stored = row.questions or [], row.answer_hashes or b""
    right = 0
    for i, (q, place) in enumerate(zip(asked, chosen, strict=True)):
        given = _answer_hash(vault, row.id, i, q["options"][place])
        right += hmac.compare_digest(given, stored[32 * i : 32 * (i + 1)])
    passed = right >= PASS_MARK
    done = session.execute(
        update(KnowledgeChallenge)
        .where(
            KnowledgeChallenge.id == row.id,
            KnowledgeChallenge.answered_at.is_(None),
            KnowledgeChallenge.journaled_at.is_(None),  # expired and logged as unanswered meanwhile
        )
        .values(
            answered_at=utcnow(),
            correct=right,
            passed=passed,
            address_bidx=address_bidx,
            questions=None,
            answer_hashes=None,
        )
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], done).rowcount != 1:
        raise LookupError("this set was answered already")
    session.expire(row)
    return passed


def passed_challenge(session: Session, token: str | None) -> KnowledgeChallenge | None:
    """The browser's set when it passed a little while ago and has not
    opened an account yet."""
    row = challenge(session, token)
    if row is None or not row.passed or row.used_at is not None or row.subject_id is None:
        return None
    return row if row.answered_at is not None and utcnow() < row.answered_at + PASSED_TTL else None


def use(session: Session, row: KnowledgeChallenge) -> bool:
    """Mark a passed set used; False when another request used it first."""
    taken = session.execute(
        update(KnowledgeChallenge)
        .where(KnowledgeChallenge.id == row.id, KnowledgeChallenge.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], taken).rowcount == 1


# -- after the fact (the worker's part) -------------------------------------------------
def journal(session: Session, vault: Vault, limit: int = 100) -> int:
    """Write the access event of each set answered, or shown and left to
    expire, on its subject's file (none for an identifier not on file), and
    drop the questions of expired sets. Returns how many were taken."""
    now = utcnow()
    stmt = (
        select(KnowledgeChallenge)
        .where(
            KnowledgeChallenge.journaled_at.is_(None),
            or_(KnowledgeChallenge.answered_at.is_not(None), KnowledgeChallenge.prepared_at < now - SET_TTL),
        )
        .order_by(KnowledgeChallenge.requested_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name != "sqlite":
        stmt = stmt.with_for_update(skip_locked=True)
    rows = session.scalars(stmt).all()
    for row in rows:
        subject = session.get(Subject, row.subject_id) if row.subject_id is not None else None
        if subject is not None and subject.shredded_at is None:
            # An erased file has nowhere to log to (its key is gone).
            with contextlib.suppress(KeyDestroyed):
                record_event(
                    session,
                    vault,
                    subject,
                    ATTEMPT_KIND,
                    outcome=Outcome.SERVED if row.passed else Outcome.REFUSED,
                    detail={
                        "proof": "questions",
                        "answered": row.answered_at is not None,
                        "correct": row.correct or 0,
                        "questions": QUESTIONS,
                        "passed": bool(row.passed),
                    },
                )
        row.journaled_at, row.questions, row.answer_hashes = now, None, None
    session.flush()
    return len(rows)


def forget(session: Session) -> int:
    """Remove sets the limits no longer count (their events are written)."""
    gone = session.execute(
        delete(KnowledgeChallenge)
        .where(KnowledgeChallenge.requested_at < utcnow() - KEEP, KnowledgeChallenge.journaled_at.is_not(None))
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], gone).rowcount or 0
