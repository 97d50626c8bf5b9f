"""The figures as files: the page's CSV, and the month's report for a
supervisory authority, a CSV and a signed JSON summary.

The summary is signed with the portal's document-signing key (ECDSA P-256,
the key the PDFs are signed with), over its canonical JSON: sorted keys, no
spaces, UTF-8. It holds the CSV's SHA-256, so the signature covers both
files. Anyone holding the portal's certificate can check them; `verify`
does, and says which check failed. The report must hold nothing the
signature does not cover, and no key twice: readers that keep the first
of two equal keys would see another summary than the one checked.

The backlog is counted when the report is made (`backlog_as_of`), not at
the month's end; a month not over yet runs to the day the report is made."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from flask_babel import force_locale
from sqlalchemy.orm import Session

from portal.compliance.statistics import Figure, Period, figures, labels, names, statistics, tables
from portal.crypto import Vault
from portal.db import utcnow
from portal.i18n import N_, Refusal
from portal.signing import DocumentSigner

ALG = "ES256"
# A cell a spreadsheet would read as a formula starts with one of these.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
HEADER = ("table", "group", "label", "measure", "value")
REPORT_KEYS = frozenset({"summary", "signature"})
SIGNATURE_KEYS = frozenset({"alg", "certificate", "value"})


class ReportError(Refusal):
    """A report that does not verify, and why."""


def _cell(value: Any) -> str:
    """A text cell that a spreadsheet will not take for a formula; numbers as they are."""
    if value is None:
        return ""
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def figures_csv(rows: list[Figure]) -> bytes:
    """UTF-8 with a byte-order mark, so that spreadsheets read the Chinese names."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for f in rows:
        writer.writerow([_cell(f.table), _cell(f.key), _cell(f.label), _cell(f.measure), _cell(f.value)])
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def summary(period: Period, rows: list[Figure], generated_at: datetime, csv_data: bytes) -> dict[str, Any]:
    moment = generated_at.isoformat(timespec="seconds")
    return {
        "period": {"from": period.start.isoformat(), "until": period.until.isoformat()},
        "generated_at": moment,
        "backlog_as_of": moment,  # the open cases when the report was made, not at the period's end
        "csv_sha256": hashlib.sha256(csv_data).hexdigest(),
        "figures": [
            {"table": f.table, "group": f.key, "label": f.label, "measure": f.measure, "value": f.value} for f in rows
        ],
    }


def signed(signer: DocumentSigner, body: dict[str, Any]) -> bytes:
    """The report: the summary and its signature, as JSON."""
    value = signer.sign_bytes(canonical(body))
    report = {
        "summary": body,
        "signature": {
            "alg": ALG,
            "certificate": signer.certificate_pem.decode("ascii"),
            "value": base64.b64encode(value).decode("ascii"),
        },
    }
    return json.dumps(report, sort_keys=True, ensure_ascii=False, indent=1).encode("utf-8") + b"\n"


@dataclass(frozen=True)
class Verified:
    period: dict[str, str]
    figures: int
    csv_checked: bool = False


class _Repeated(ValueError):
    pass


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise _Repeated
    return dict(pairs)


def verify(data: bytes, signer: DocumentSigner, csv_data: bytes | None = None) -> Verified:
    """Check a report: well formed, no key twice and nothing beside the
    signed summary, signed over its summary as it is now, by the portal's
    own certificate; with `csv_data`, that the CSV is the one it was signed
    with. Raises ReportError saying what failed."""
    try:
        report = json.loads(data.decode("utf-8"), object_pairs_hook=_no_repeats)
    except _Repeated:
        raise ReportError("The report holds a key twice: it was changed after it was signed.") from None
    except (UnicodeDecodeError, ValueError):
        raise ReportError("The file is not a report: it is damaged or was changed.") from None
    if not isinstance(report, dict) or set(report) != REPORT_KEYS or not isinstance(report["signature"], dict):
        raise ReportError("The report holds something its signature does not cover, or lacks a part.")
    if set(report["signature"]) != SIGNATURE_KEYS:
        raise ReportError("The report holds something its signature does not cover, or lacks a part.")
    try:
        body, signature = report["summary"], report["signature"]
        if signature["alg"] != ALG:
            raise ReportError("The report is signed with %(alg)s, not ES256.", alg=str(signature["alg"]))
        value = base64.b64decode(signature["value"], validate=True)
        certificate = x509.load_pem_x509_certificate(signature["certificate"].encode("ascii"))
    except ReportError:
        raise
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
        raise ReportError("The file is not a report: it is damaged or was changed.") from None
    ours = x509.load_pem_x509_certificate(signer.certificate_pem)
    if certificate != ours:
        raise ReportError("The report was not signed with this portal's document-signing key.")
    key = certificate.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ReportError("The report was not signed with this portal's document-signing key.")
    try:
        key.verify(value, canonical(body), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise ReportError("The signature does not match: the summary was changed after it was signed.") from None
    try:
        checked = Verified(dict(body["period"]), len(body["figures"]))
        hashed = body.get("csv_sha256")
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ReportError("The file is not a report: it is damaged or was changed.") from None
    if csv_data is None:
        return checked
    if not isinstance(hashed, str) or hashlib.sha256(csv_data).hexdigest() != hashed:
        raise ReportError("The CSV is not the one this report was signed with: it was changed, or is another month's.")
    return Verified(checked.period, checked.figures, csv_checked=True)


MONTH = re.compile(r"(\d{4})-(\d{2})")


def parse_month(text: str, today: date) -> Period:
    """A month YYYY-MM that has begun. The current one runs to today: its
    later days have no figures yet, and the report does not claim them."""
    found = MONTH.fullmatch(text.strip())
    if found is None or not 1 <= int(found.group(2)) <= 12 or int(found.group(1)) < 2000:
        raise ReportError(N_("Give the month as YYYY-MM, for example %(example)s."), example=today.strftime("%Y-%m"))
    year, month = int(found.group(1)), int(found.group(2))
    if (year, month) > (today.year, today.month):  # checked before the month's days are built
        raise ReportError(N_("%(month)s has not begun yet."), month=text.strip())
    period = Period.month(year, month)
    return Period(period.start, min(period.until, today))


def month_report(session: Session, vault: Vault, signer: DocumentSigner, period: Period) -> tuple[bytes, bytes]:
    """The month's CSV and signed JSON summary. In English, whoever asks:
    the same report for the same month."""
    now = utcnow()
    with force_locale("en"):
        stats = statistics(session, period, now)
        rows = figures(tables(stats, labels(session, vault, stats), names()))
    csv_data = figures_csv(rows)
    return csv_data, signed(signer, summary(period, rows, now, csv_data))


def file_names(period: Period) -> tuple[str, str]:
    stem = f"compliance-report-{period.start.year:04d}-{period.start.month:02d}"
    return f"{stem}.csv", f"{stem}.json"


__all__ = [
    "Period",
    "ReportError",
    "canonical",
    "figures_csv",
    "file_names",
    "month_report",
    "parse_month",
    "signed",
    "summary",
    "verify",
]
