"""Checkpoints as clients are given them: with the witnesses' cosignatures.

With witnesses configured, the checkpoint clients get is the newest one
that enough of them cosigned (the quorum): a newer one is not trusted by
anybody yet, so the leaves past it are still "being added" for a subject.
Without witnesses (quorum 0), it is simply the newest checkpoint."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from portal.transparency.checkpoints import latest_checkpoint
from portal.transparency.cosign import WitnessPolicy
from portal.transparency.models import Checkpoint, Cosignature
from portal.transparency.notes import Signer


def witnessed_checkpoint(session: Session, signer: Signer, policy: WitnessPolicy) -> Checkpoint | None:
    """The newest checkpoint the quorum of the policy's witnesses cosigned
    (None before the first one); the newest checkpoint when no quorum is
    asked for."""
    if policy.quorum == 0:
        return latest_checkpoint(session, signer)
    size = session.scalars(
        select(Cosignature.size)
        .where(_by(policy))
        .group_by(Cosignature.size)
        .having(func.count() >= policy.quorum)
        .order_by(Cosignature.size.desc())
        .limit(1)
    ).first()
    return None if size is None else session.get(Checkpoint, size)


def cosigned_note(session: Session, checkpoint: Checkpoint, policy: WitnessPolicy) -> str:
    """The checkpoint's note followed by the cosignature lines of the
    policy's witnesses (a C2SP signed note with several signatures)."""
    if not policy.witnesses:
        return checkpoint.note
    lines = session.scalars(
        select(Cosignature.line).where(Cosignature.size == checkpoint.size, _by(policy)).order_by(Cosignature.witness)
    )
    return checkpoint.note + "".join(line + "\n" for line in lines)


def witness_sizes(session: Session, policy: WitnessPolicy) -> dict[str, int]:
    """The largest size each of the policy's witnesses cosigned for this
    log with its present key, as far as the portal kept its answers."""
    rows = session.execute(
        select(Cosignature.witness, func.max(Cosignature.size)).where(_by(policy)).group_by(Cosignature.witness)
    )
    return {name: size for name, size in rows}


def _by(policy: WitnessPolicy) -> ColumnElement[bool]:
    """Cosignatures by the policy's witnesses, each with its present key."""
    return or_(*(and_(Cosignature.witness == w.name, Cosignature.key_id == w.key_id) for w in policy.witnesses))
