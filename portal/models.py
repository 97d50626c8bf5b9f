"""Every area's models, so that Base.metadata is complete (for Alembic and
the tests). It sits at the top: it imports every area."""

from __future__ import annotations

from sqlalchemy import MetaData

from portal.access import models as _access  # noqa: F401
from portal.accounts import closure as _closure  # noqa: F401  # its model lives beside the rules
from portal.accounts import knowledge as _knowledge  # noqa: F401  # its model lives beside the rules
from portal.accounts import models as _accounts  # noqa: F401
from portal.admin import models as _admin  # noqa: F401
from portal.audit import models as _audit  # noqa: F401
from portal.compliance import erasure as _erasure  # noqa: F401  # its model lives beside the rules
from portal.compliance import models as _compliance  # noqa: F401
from portal.crypto import models as _crypto  # noqa: F401
from portal.db import Base
from portal.disputes import models as _disputes  # noqa: F401
from portal.institutions import models as _institutions  # noqa: F401
from portal.notifications import models as _notifications  # noqa: F401
from portal.records import models as _records  # noqa: F401
from portal.site import heartbeats as _site  # noqa: F401
from portal.transparency import models as _transparency  # noqa: F401


def all_models() -> MetaData:
    return Base.metadata
