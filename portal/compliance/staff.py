"""Staff as the officers' pages name them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import Role, User
from portal.accounts.services import display_name
from portal.crypto import Vault


def staff_names(session: Session, vault: Vault, ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    """Display names of the staff among `ids` (nobody else is named)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    users = session.scalars(select(User).where(User.id.in_(wanted))).all()
    return {u.id: display_name(session, vault, u) for u in users if Role(u.role).is_staff}


__all__ = ["staff_names"]
