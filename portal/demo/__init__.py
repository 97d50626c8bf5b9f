"""Deterministic demo data: the same seed gives the same people, firms,
institutions, records and logins (dates are relative to `today`). Rows are
built by the same services the portal uses and inserted in bulk, so a
hundred thousand subjects load in minutes. Who is in it: `people`; their
records: `records`; what the logins see beyond their records: `showcase`."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from sqlalchemy import func, insert, inspect, select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.crypto import Vault
from portal.crypto.models import DataKey
from portal.demo import showcase as shown
from portal.demo.people import DEMO_INSTITUTIONS, People
from portal.demo.records import FIRM_MIX, FURNISHERS, PERSON_MIX, SHOWCASE, make_record
from portal.disputes.models import Regime
from portal.institutions.models import ApiScope, Institution
from portal.institutions.services import build_institution, issue_api_key
from portal.localtime import today as local_today
from portal.records.models import CreditRecord, RecordVersion, Subject, SubjectKind
from portal.records.services import build_record, build_subject

BATCH = 2000


class DemoRefused(RuntimeError):
    pass


def _rows(objects: Iterable[Any]) -> list[dict[str, Any]]:
    return [{a.key: getattr(o, a.key) for a in inspect(type(o)).column_attrs} for o in objects]


def _bulk(session: Session, objects: list[Any]) -> None:
    """Insert rows built by the portal's services: with COPY on PostgreSQL
    (several times faster than multi-row INSERTs at a million subjects),
    with one executemany INSERT elsewhere. Values go through each column's
    own bind processing either way, so they are stored as the app stores
    them."""
    if not objects:
        return
    model = type(objects[0])
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(insert(model), _rows(objects))
        return
    table = model.__table__
    dialect = connection.dialect
    columns = [(attr.key, attr.columns[0]) for attr in inspect(model).column_attrs]
    process = [col.type.dialect_impl(dialect).bind_processor(dialect) for _key, col in columns]
    names = ", ".join(dialect.identifier_preparer.quote(col.name) for _key, col in columns)
    driver = connection.connection.driver_connection  # psycopg's own: COPY is not in the DB-API
    if driver is None:
        raise RuntimeError("no database connection to copy into")
    cursor = driver.cursor()
    with cursor.copy(f"COPY {dialect.identifier_preparer.format_table(table)} ({names}) FROM STDIN") as copy:
        for obj in objects:
            row = []
            for (key, _col), proc in zip(columns, process, strict=True):
                value = getattr(obj, key)
                row.append(proc(value) if proc is not None and value is not None else value)
            copy.write_row(row)


def load_demo(
    session: Session,
    vault: Vault,
    *,
    subjects: int = 60,
    seed: int = 2014,
    today: date | None = None,
    progress: Callable[[int], None] = lambda _n: None,
    dispute_regime: Regime | str = Regime.CN_20_DAYS,
) -> dict[str, Any]:
    """Load the demo into an empty database and return the credentials
    (written by the caller to instance/demo-credentials.json). The demo's
    disputes are answered within `dispute_regime` (setting DISPUTE_REGIME)."""
    existing = session.scalar(select(func.count()).select_from(Subject))
    existing_keys = session.scalar(select(func.count()).select_from(DataKey))
    if existing or existing_keys:
        what = f"{existing} subjects" if existing else f"{existing_keys} encrypted records (users or institutions)"
        raise DemoRefused(
            f"the database already holds {what}: demo data loads only into an "
            "empty database (point PORTAL_DATABASE_URL at a new one)"
        )
    rng, today = random.Random(seed), today or local_today()  # noqa: S311 - repeatable data, not secrets
    people = People(rng, today)

    institutions: dict[str, Institution] = {}
    keys: list[DataKey] = []
    insts: list[Institution] = []
    for data in DEMO_INSTITUTIONS:
        key, inst, _ = build_institution(vault, data)
        keys.append(key)
        insts.append(inst)
        institutions[data.code] = inst
    _bulk(session, keys)
    _bulk(session, insts)

    firms = max(1, subjects // 5)
    showcase: shown.Showcase = {}
    reg_contact = ""
    seen: set[str] = set()
    serial = 0
    for start in range(0, subjects, BATCH):
        keys = []
        subs: list[Subject] = []
        records: list[CreditRecord] = []
        versions: list[RecordVersion] = []
        for i in range(start, min(start + BATCH, subjects)):
            kind = SubjectKind.FIRM if i < firms else SubjectKind.PERSON
            while True:  # identifiers are unique
                identifier, name = people.firm() if kind is SubjectKind.FIRM else people.person()
                if identifier not in seen:
                    seen.add(identifier)
                    break
            contact = f"subject{i + 1}@mail.example"
            key, subject, cipher = build_subject(vault, kind, identifier, name, contact_email=contact)
            keys.append(key)
            subs.append(subject)
            if kind is SubjectKind.PERSON and kind in showcase and "register" not in showcase:
                # A person with no account yet, to try registering with.
                showcase["register"] = (subject, identifier, name)
                reg_contact = contact
            if kind not in showcase:
                showcase[kind] = (subject, identifier, name)
                categories, near = SHOWCASE[kind], {4}
            else:
                mix = FIRM_MIX if kind is SubjectKind.FIRM else PERSON_MIX
                categories = [rng.choice(mix) for _ in range(rng.randint(1, 5))]
                near = {0} if rng.random() < 0.05 else set()
            for n, category in enumerate(categories):
                serial += 1
                record_data = make_record(rng, today, category, serial, near_expiry=n in near)
                furnisher = institutions[rng.choice(FURNISHERS[category])]
                record, version = build_record(vault, cipher, subject.id, furnisher.id, record_data)
                records.append(record)
                versions.append(version)
        _bulk(session, keys)
        _bulk(session, subs)
        _bulk(session, records)
        _bulk(session, versions)
        progress(min(start + BATCH, subjects) - start)  # subjects loaded in this batch

    _, reg_id, reg_name = showcase["register"]
    creds: dict[str, Any] = {
        "seed": seed,
        "subjects": subjects,
        "logins": [],
        "institutions": [],
        "registration_example": {
            "kind": "person",
            "identifier": reg_id,
            "name": reg_name,
            "contact_on_file": reg_contact,
        },
    }
    shown.logins(session, vault, rng, today, showcase, creds)
    for data in DEMO_INSTITUTIONS:
        inst = institutions[data.code]
        scopes = ([ApiScope.FURNISH] if data.code in {c for f in FURNISHERS.values() for c in f} else []) + (
            [ApiScope.QUERY] if data.allowed_purposes else []
        )
        tokens = (
            [{"scopes": [s.value for s in scopes], "token": issue_api_key(session, inst, scopes)}] if scopes else []
        )
        creds["institutions"].append(
            {"code": data.code, "name": data.name, "name_en": data.name_en, "kind": data.kind.value, "api_keys": tokens}
        )
    shown.authorities(session, vault, today, showcase, institutions)
    shown.queries(session, vault, today, showcase, institutions)
    shown.disputes(session, vault, rng, today, showcase, dispute_regime)
    session.flush()
    reg_subject = showcase["register"][0]
    if session.scalar(select(func.count()).select_from(User).where(User.subject_id == reg_subject.id)):
        raise RuntimeError("the demo's registration example has an account: a newcomer could not register with it")
    return creds


__all__ = ["DemoRefused", "load_demo", "make_record"]
