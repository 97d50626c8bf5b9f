"""A record as institutions receive it: the one JSON shape of reports and
correction notices."""

from __future__ import annotations

from datetime import date
from typing import Any

from portal.crypto import Cipher
from portal.institutions.models import Institution
from portal.records.models import CreditRecord, RecordVersion
from portal.records.services import open_payload


def record_document(
    cipher: Cipher,
    record: CreditRecord,
    version: RecordVersion,
    furnisher: Institution,
    disputed: bool,
    statements: list[str],
) -> dict[str, Any]:
    payload = open_payload(cipher, version)
    reference = payload.pop("reference", "")
    return {
        "id": str(record.id),
        "category": record.category.value,
        "furnisher": {"code": furnisher.code, "name": furnisher.name, "name_en": furnisher.name_en},
        "version": version.version,
        "status": version.status.value,
        "negative": version.is_negative,
        "ended_on": _iso(version.ended_on),
        "expires_on": _iso(version.expires_on),
        "furnished_at": version.furnished_at.isoformat(),
        "reference": reference,
        "details": payload,
        # "Under dispute" from the moment a dispute is filed; "unverifiable"
        # once a dispute found it could not be verified.
        "disputed": disputed,
        "unverifiable": record.unverifiable_since is not None,
        "statements": statements,
    }


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
