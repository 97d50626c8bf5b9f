"""Asking the witnesses to cosign the log's newest checkpoint (C2SP
tlog-witness), in `portal worker`, never in a request.

Each witness is sent the newest checkpoint with a consistency proof from
the last size it cosigned (as far as the portal kept its answers). A
witness that knows a later size (the portal lost its answer, say in a
crash) says so with 409 and is asked again from there. A cosignature is
checked before it is kept. A witness that does not answer is asked again
later, waiting longer each time: it delays cosigning, never the log.
"""

from __future__ import annotations

import base64
import http.client
import logging
import re
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.db import insert_unless_present
from portal.transparency import log
from portal.transparency.cosign import Witness, WitnessPolicy
from portal.transparency.models import Checkpoint, Cosignature
from portal.transparency.notes import NoteError, signature_line, signature_lines
from portal.transparency.witnessed import witness_sizes

logger = logging.getLogger(__name__)
TIMEOUT = 5.0  # seconds a witness has to answer
MAX_ANSWER = 1 << 16
FIRST_WAIT, LONGEST_WAIT = 5.0, 300.0  # after a failure, the witness is asked again after this, doubling


@dataclass(frozen=True)
class Answer:
    status: int  # 0: no answer at all
    body: str
    content_type: str = ""


def add_checkpoint(url: str, old: int, proof: list[bytes], note: str, timeout: float = TIMEOUT) -> Answer:
    """One add-checkpoint request; any failure to get an answer is status 0."""
    body = f"old {old}\n" + "".join(base64.b64encode(p).decode() + "\n" for p in proof) + "\n" + note
    request = urllib.request.Request(  # noqa: S310  # the operator's configured http(s) witness URL
        url + "/add-checkpoint",
        data=body.encode(),
        method="POST",
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310  # as above
            return Answer(response.status, response.read(MAX_ANSWER).decode("utf-8", "replace"))
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, exc.read(MAX_ANSWER).decode("utf-8", "replace"), exc.headers.get_content_type())
    except (OSError, ValueError, http.client.HTTPException) as exc:  # refused, unreachable, timed out, garbled
        return Answer(0, str(exc))


@dataclass
class Witnessing:
    """The job, with what it remembers between runs: when each witness that
    failed may be asked again."""

    policy: WitnessPolicy
    _wait: dict[str, float] = field(default_factory=dict)
    _retry_at: dict[str, float] = field(default_factory=dict)

    def run(self, session: Session) -> int:
        """Ask every witness that has not cosigned the newest checkpoint;
        returns how many cosignatures were kept. Flushes, never commits."""
        # The newest stored checkpoint (the integrator signs one per batch and
        # commits it): never one signed in this transaction, which might be
        # rolled back after a witness had it.
        checkpoint = session.scalars(select(Checkpoint).order_by(Checkpoint.size.desc()).limit(1)).first()
        if checkpoint is None or checkpoint.size == 0:
            return 0
        have = {
            (name, kid)
            for name, kid in session.execute(
                select(Cosignature.witness, Cosignature.key_id).where(Cosignature.size == checkpoint.size)
            )
        }
        now = time.monotonic()
        due = [
            w
            for w in self.policy.witnesses
            if w.url and (w.name, w.key_id) not in have and now >= self._retry_at.get(w.name, 0.0)
        ]
        if not due:
            return 0
        known = witness_sizes(session, self.policy)
        olds = {w.name: min(known.get(w.name, 0), checkpoint.size) for w in due}
        answers = self._ask_all(session, checkpoint, due, olds)
        # A witness further along than the portal knew: ask again from there.
        again = {}
        for w in due:
            answer = answers[w.name]
            if answer.status == 409 and answer.content_type == "text/x.tlog.size":
                size = _size(answer.body)
                if size is not None and size <= checkpoint.size:
                    again[w.name] = size
                else:
                    logger.error(
                        "witness %s holds a checkpoint of size %s, beyond the log's %d: "
                        "the log was truncated or shown to it differently",
                        w.name,
                        answer.body.strip()[:40],
                        checkpoint.size,
                    )
        if again:
            answers |= self._ask_all(session, checkpoint, [w for w in due if w.name in again], again)
        kept = 0
        for w in due:
            if self._keep(session, checkpoint, w, answers[w.name]):
                kept += 1
                self._wait.pop(w.name, None)
                self._retry_at.pop(w.name, None)
            else:
                wait = min(LONGEST_WAIT, self._wait.get(w.name, FIRST_WAIT / 2) * 2)
                self._wait[w.name], self._retry_at[w.name] = wait, time.monotonic() + wait
        return kept

    def _ask_all(
        self, session: Session, checkpoint: Checkpoint, witnesses: list[Witness], olds: dict[str, int]
    ) -> dict[str, Answer]:
        """The witnesses asked at once (their proofs read first, here: the
        session is not shared with the threads)."""
        proofs = {
            w.name: log.consistency_proof(session, olds[w.name], checkpoint.size) if olds[w.name] else []
            for w in witnesses
        }
        with ThreadPoolExecutor(max_workers=len(witnesses)) as pool:
            futures = {
                w.name: pool.submit(add_checkpoint, w.url, olds[w.name], proofs[w.name], checkpoint.note)
                for w in witnesses
            }
            return {name: future.result() for name, future in futures.items()}

    def _keep(self, session: Session, checkpoint: Checkpoint, witness: Witness, answer: Answer) -> bool:
        """Keep the witness's cosignature from a 200 answer, once checked."""
        if answer.status != 200:
            logger.warning(
                "witness %s did not cosign the checkpoint of size %d: %s",
                witness.name,
                checkpoint.size,
                f"HTTP {answer.status}: {answer.body.strip()[:200]}" if answer.status else answer.body,
            )
            return False
        try:
            text, _ = signature_lines(checkpoint.note)
            _, lines = signature_lines(text + "\n" + answer.body)
            for name, blob in lines:
                if name == witness.name and blob[:4] == witness.key_id:
                    signed = witness.check(text, blob)
                    line = signature_line(name, blob)
                    break
            else:
                raise NoteError("no cosignature by its key in the answer")
        except (NoteError, ValueError) as exc:  # a bad line, a bad signature, a time out of range
            logger.error("witness %s answered a bad cosignature: %s", witness.name, exc)
            return False
        insert_unless_present(
            session,
            Cosignature.__table__,  # type: ignore[arg-type]  # a declarative class maps a Table
            {
                "size": checkpoint.size,
                "witness": witness.name,
                "key_id": witness.key_id,
                "line": line,
                "signed_at": datetime.fromtimestamp(signed, UTC),
                "received_at": datetime.now(UTC),
            },
            ["size", "witness", "key_id"],
        )
        return True


def _size(text: str) -> int | None:
    text = text.strip()
    return int(text) if re.fullmatch(r"0|[1-9][0-9]{0,18}", text) else None
