"""Encryption at rest (DESIGN.md section 4) as seen by someone holding a copy
of the database, and by an operator managing the key folder: real database,
real keys, real AES-GCM."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import LargeBinary, Uuid, bindparam, text

from portal.accounts.services import shred_subject
from portal.crypto import BlindIndex, DecryptionFailed, KeyDestroyed, KeyringError
from portal.extensions import session, vault
from portal.institutions.models import InstitutionKind
from portal.institutions.services import NewInstitution, create_institution
from portal.models import all_models
from portal.records.identifiers import InvalidIdentifier, resident_id_check
from portal.records.models import Category, RecordStatus, RecordVersion, Subject, SubjectKind
from portal.records.services import (
    RecordInput,
    SubjectExists,
    create_subject,
    find_subject,
    furnish,
    identifier_index,
    open_payload,
    view_subject,
)

PERSON = SubjectKind.PERSON
ID, NAME = "11010519491231002X", "张三"


def person_id(n: int) -> str:
    body = f"11010519800101{n:03d}"
    return body + resident_id_check(body)


def add_person(db, v, n: int, name: str | None = None) -> Subject:
    return create_subject(db, v, PERSON, person_id(n), name or f"测试{n}")


def add_bank(db, v):
    return create_institution(
        db,
        v,
        NewInstitution(
            code="TESTBANK",
            name="测试银行",
            name_en="Test Bank",
            kind=InstitutionKind.BANK,
            allowed_purposes=["loan_review"],
            contact_name="王五",
            contact_email="wang.wu@bank.example",
        ),
    )


def loan(reference: str, status=RecordStatus.OVERDUE, negative=True, **details) -> RecordInput:
    return RecordInput(Category.LOAN, reference, status, negative, details=details)


def raw_get(db, table: str, column: str, row_id: uuid.UUID) -> bytes | None:
    """A column as stored, read with plain SQL (not through the ORM)."""
    stmt = text(f"SELECT {column} FROM {table} WHERE id = :id").bindparams(bindparam("id", type_=Uuid()))
    value = db.execute(stmt, {"id": row_id}).scalar_one()
    return None if value is None else bytes(value)


def raw_set(db, table: str, column: str, row_id: uuid.UUID, value: bytes) -> None:
    """Overwrite a stored column with plain SQL, as an attacker with write
    access to the database would."""
    stmt = text(f"UPDATE {table} SET {column} = :value WHERE id = :id").bindparams(
        bindparam("id", type_=Uuid()), bindparam("value", type_=LargeBinary())
    )
    assert db.execute(stmt, {"id": row_id, "value": value}).rowcount == 1
    db.expire_all()  # make the ORM read the altered row back


def kek_counts(s) -> dict:
    """How many live data keys each KEK version wraps."""
    return dict(
        s.execute(
            text("SELECT kek_version, COUNT(*) FROM data_keys WHERE wrapped IS NOT NULL GROUP BY kek_version")
        ).all()
    )


@contextmanager
def fresh_app(make_app, **kwargs):
    """A second app, as a new process would be: keys read again from the
    files, its own session, no data key cached. `session()`/`vault()` work
    inside."""
    app = make_app(**kwargs)
    with app.app_context():
        yield app


def read_back(subject_id: uuid.UUID) -> tuple[str, str]:
    view = view_subject(session(), vault(), session().get(Subject, subject_id))
    return view.identifier, view.name


@pytest.fixture
def key_dir(instance):
    return (instance / "keys").resolve()


# -- sealing ----------------------------------------------------------------
def test_round_trip_and_no_plaintext_anywhere_in_the_database(db, the_vault, make_app):
    """Values read back exactly (from a new app), while the *_ct columns, and
    indeed every column of every table, hold no personal plaintext."""
    subject = create_subject(db, the_vault, PERSON, " 110105 19491231 002x", NAME)
    furnish(db, the_vault, add_bank(db, the_vault), subject, loan("LN-777001", amount="98765.43"))
    db.commit()
    with fresh_app(make_app):
        assert read_back(subject.id) == (ID, NAME)

    personal = [ID.encode(), NAME.encode(), "王五".encode(), b"wang.wu@bank.example", b"LN-777001", b"98765.43"]
    for column in ("identifier_ct", "name_ct", "identifier_bidx"):
        stored = raw_get(db, "subjects", column, subject.id)
        assert not [p for p in personal if p in stored], column
    for table in all_models().sorted_tables:
        for row in db.execute(text(f"SELECT * FROM {table.name}")):
            for value in row:
                blob = bytes(value) if isinstance(value, (bytes, memoryview)) else str(value).encode()
                assert not [p for p in personal if p in blob], f"plaintext in {table.name}: {row}"


@pytest.mark.parametrize("column", ["identifier", "name"])
def test_any_altered_bit_or_length_is_detected(db, the_vault, column):
    """Flipping any single bit of a stored ciphertext, or cutting it short,
    makes reading fail with DecryptionFailed: never plaintext, never garbage."""
    subject = create_subject(db, the_vault, PERSON, ID, NAME)
    original = raw_get(db, "subjects", f"{column}_ct", subject.id)
    tampered = []
    for i in range(len(original)):
        flipped = bytearray(original)
        flipped[i] ^= 1 << (i % 8)
        tampered.append(bytes(flipped))
    tampered += [original[:-1], original[:20], b""]
    for blob in tampered:
        raw_set(db, "subjects", f"{column}_ct", subject.id, blob)
        with pytest.raises(DecryptionFailed):
            view_subject(db, the_vault, subject)
    raw_set(db, "subjects", f"{column}_ct", subject.id, original)
    assert view_subject(db, the_vault, subject).name == NAME


def test_ciphertext_moved_to_another_row_or_column_does_not_open(db, the_vault):
    """A ciphertext copied elsewhere does not open: to another subject (other
    key), to another column of the same subject (same key), or from one
    record of a subject to another (same key, same column, other row)."""
    a = create_subject(db, the_vault, PERSON, ID, NAME)
    b = add_person(db, the_vault, 1, "李四")
    raw_set(db, "subjects", "name_ct", b.id, raw_get(db, "subjects", "name_ct", a.id))
    with pytest.raises(DecryptionFailed):
        view_subject(db, the_vault, b)

    raw_set(db, "subjects", "name_ct", a.id, raw_get(db, "subjects", "identifier_ct", a.id))
    with pytest.raises(DecryptionFailed):
        view_subject(db, the_vault, a)

    bank = add_bank(db, the_vault)
    settled = furnish(db, the_vault, bank, b, loan("LN-1", RecordStatus.SETTLED, False, amount="0.00"))
    written_off = furnish(db, the_vault, bank, b, loan("LN-2", RecordStatus.WRITTEN_OFF, True, amount="50000.00"))
    raw_set(
        db, "record_versions", "payload_ct", written_off.id, raw_get(db, "record_versions", "payload_ct", settled.id)
    )
    cipher = the_vault.cipher(db, b.data_key_id)
    assert open_payload(cipher, settled)["reference"] == "LN-1"
    with pytest.raises(DecryptionFailed):
        open_payload(cipher, written_off)


def test_cipher_binds_ciphertext_to_table_column_and_row(db, the_vault):
    """Through the Cipher API: sealed for (table, column, row) opens only
    there, and never under another data key."""
    cipher, other = the_vault.create_key(db), the_vault.create_key(db)
    row = uuid.uuid4()
    blob = cipher.seal("subjects", "name", row, NAME.encode())
    assert cipher.open("subjects", "name", row, blob) == NAME.encode()
    for table, column, row_id in [
        ("institutions", "name", row),
        ("subjects", "identifier", row),
        ("subjects", "name", uuid.uuid4()),
        ("subjects", "name", str(row).upper()),
    ]:
        with pytest.raises(DecryptionFailed):
            cipher.open(table, column, row_id, blob)
    with pytest.raises(DecryptionFailed):
        other.open("subjects", "name", row, blob)


def test_same_plaintext_sealed_twice_differs(db, the_vault):
    """A fresh nonce each time: equal values are not visible as equal
    ciphertexts, and every seal still opens."""
    cipher, row = the_vault.create_key(db), uuid.uuid4()
    blobs = [cipher.seal("subjects", "name", row, NAME.encode()) for _ in range(50)]
    assert len(set(blobs)) == 50
    assert {cipher.open("subjects", "name", row, b) for b in blobs} == {NAME.encode()}
    a, b = create_subject(db, the_vault, PERSON, ID, NAME), add_person(db, the_vault, 1, NAME)
    assert raw_get(db, "subjects", "name_ct", a.id) != raw_get(db, "subjects", "name_ct", b.id)


# -- blind index --------------------------------------------------------------
def test_find_subject_by_identifier(db, the_vault):
    """Look-up works on any spelling of the identifier, and only for it."""
    subject = create_subject(db, the_vault, PERSON, ID, NAME)
    for typed in (ID, ID.lower(), "110105 19491231 002x"):
        assert find_subject(db, the_vault, PERSON, typed) is subject
    assert find_subject(db, the_vault, PERSON, person_id(7)) is None


def test_blind_index_is_keyed_and_separated_by_purpose(db, the_vault):
    """The stored index is an HMAC under the installation's key: not the
    identifier, not a plain hash anyone could compute, not what another
    index key gives, and different for each purpose."""
    subject = create_subject(db, the_vault, PERSON, ID, NAME)
    stored = raw_get(db, "subjects", "identifier_bidx", subject.id)
    assert stored == identifier_index(the_vault, PERSON, ID)
    assert ID.encode() not in stored
    assert stored not in (hashlib.sha256(ID.encode()).digest(), hashlib.sha256(ID.lower().encode()).digest())
    assert stored != BlindIndex(secrets.token_bytes(32))("subject.identifier.person", ID)
    assert the_vault.blind_index("a", ID) != the_vault.blind_index("b", ID)
    assert identifier_index(the_vault, PERSON, ID) != the_vault.blind_index("user.email", ID)


def test_same_person_cannot_be_registered_twice_with_unicode_digits(db, the_vault):
    """A fullwidth digit in the region code is the same number to a person;
    it must not yield a second blind index and so a second subject."""
    create_subject(db, the_vault, PERSON, ID, NAME)
    with pytest.raises((SubjectExists, InvalidIdentifier)):
        create_subject(db, the_vault, PERSON, "11０10519491231002X", NAME)


# -- crypto-shredding ---------------------------------------------------------
def test_shredded_subject_is_gone_for_good(db, the_vault, make_app):
    """After shredding, the subject's name, identifier and records no longer
    open (in this session and in a new app), the identifier is no longer
    found, no wrapped key is left, and other subjects are untouched."""
    bank = add_bank(db, the_vault)
    gone = create_subject(db, the_vault, PERSON, ID, NAME)
    kept = add_person(db, the_vault, 1, "李四")
    gone_record = furnish(db, the_vault, bank, gone, loan("LN-1", amount="1000.00"))
    kept_record = furnish(db, the_vault, bank, kept, loan("LN-2", amount="2000.00"))

    shred_subject(db, the_vault, gone)
    with pytest.raises(KeyDestroyed):
        view_subject(db, the_vault, gone)
    db.commit()
    assert raw_get(db, "data_keys", "wrapped", gone.data_key_id) is None

    with fresh_app(make_app):
        s, v = session(), vault()
        with pytest.raises(KeyDestroyed):
            read_back(gone.id)
        with pytest.raises(KeyDestroyed):
            open_payload(v.cipher(s, gone.data_key_id), s.get(RecordVersion, gone_record.id))
        assert find_subject(s, v, PERSON, ID) is None
        assert read_back(kept.id) == (person_id(1), "李四")
        assert open_payload(v.cipher(s, kept.data_key_id), s.get(RecordVersion, kept_record.id))["amount"] == "2000.00"


# -- key-encryption keys ------------------------------------------------------
def test_rotation_rewraps_every_data_key_so_the_old_kek_can_go(db, the_vault, runner, make_app, key_dir):
    """`keys rotate` moves every data key to v2; `keys status` says v1 wraps
    nothing; with kek-v1.key deleted (and not recreated) everything reads."""
    names = {add_person(db, the_vault, n).id: f"测试{n}" for n in range(3)}
    db.commit()
    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "created key-encryption key v2; re-wrapped 3 data keys" in result.output
    assert "no data key needs v1 any more" in result.output

    status = runner.invoke(args=["keys", "status"])
    assert status.exit_code == 0, status.output
    assert "current key-encryption key: v2" in status.output
    assert "v1: 0 data keys, key file present (no longer needed)" in status.output
    assert "v2: 3 data keys, key file present" in status.output

    (key_dir / "kek-v1.key").unlink()
    with fresh_app(make_app) as app:
        assert not (key_dir / "kek-v1.key").exists(), "make_app/init_keys created a new v1"
        assert sorted(vault().keyring.keks) == [2]
        vault().register_versions(session())
        assert {sid: read_back(sid)[1] for sid in names} == names
        status = app.test_cli_runner().invoke(args=["keys", "status"])
        assert "v1: 0 data keys, KEY FILE MISSING" in status.output


class Interrupted(Exception):
    pass


def test_interrupted_rotation_is_resumed_not_restarted(db, the_vault, make_app, key_dir):
    """A rotation stopped after its first batch is finished by the next
    `keys rotate` (in a new process): no v3, and nothing left on v1."""
    for n in range(4):
        add_person(db, the_vault, n)
    db.commit()
    commits = 0

    def commit_then_crash():
        nonlocal commits
        db.commit()
        commits += 1
        if commits == 2:  # the first commit registers v2, the second ends batch one
            raise Interrupted

    with pytest.raises(Interrupted):
        the_vault.rotate(db, commit=commit_then_crash, batch_size=1)
    db.rollback()
    assert kek_counts(db) == {1: 3, 2: 1}
    db.rollback()

    with fresh_app(make_app) as app:
        result = app.test_cli_runner().invoke(args=["keys", "rotate", "--batch-size", "1"])
        assert result.exit_code == 0, result.output
        assert "resumed rotation to key-encryption key v2; re-wrapped 3 data keys" in result.output
        assert not (key_dir / "kek-v3.key").exists()
        assert kek_counts(session()) == {2: 4}


def test_wrapped_data_key_moved_to_another_row_does_not_unwrap(db, the_vault, make_app):
    """The wrapped data key is bound to its row: copying A's over B's makes
    B fail loudly and never decrypts B with A's key."""
    a = create_subject(db, the_vault, PERSON, ID, NAME)
    b = add_person(db, the_vault, 1, "李四")
    raw_set(db, "data_keys", "wrapped", b.data_key_id, raw_get(db, "data_keys", "wrapped", a.data_key_id))
    db.commit()
    with fresh_app(make_app):
        with pytest.raises(KeyringError, match="does not unwrap"):
            read_back(b.id)
        assert read_back(a.id) == (ID, NAME)


@pytest.mark.parametrize(("make_folder", "fragment"), [(False, "does not exist"), (True, "no key-encryption key")])
def test_no_key_files_no_vault(db, the_vault, make_app, key_dir, make_folder, fragment):
    """Without key files, using the vault fails naming the key folder; an
    existing subject is not readable."""
    subject = create_subject(db, the_vault, PERSON, ID, NAME)
    db.commit()
    for path in key_dir.iterdir():
        path.unlink()
    key_dir.rmdir()
    if make_folder:
        key_dir.mkdir()
    with fresh_app(make_app, keys=False) as app:
        assert app.config["KEY_DIR"] == key_dir
        with pytest.raises(KeyringError, match=fragment) as exc:
            read_back(subject.id)
        assert str(key_dir) in str(exc.value)


@pytest.mark.parametrize(
    ("name", "content", "mode", "fragment"),
    [
        ("kek-v1.key", b"this is not a key!\n", 0o600, "is damaged"),
        (
            "kek-v1.key",
            base64.b64encode(secrets.token_bytes(16)) + b"\n",
            0o600,
            "expected 32 bytes of base64, found 16",
        ),
        ("kek-v1.key", base64.b64encode(secrets.token_bytes(64)), 0o600, "found 64"),
        ("kek-v1.key", b"", 0o600, "found 0"),
        ("kek-v1.key", None, 0o644, "readable by other users (mode 644); run: chmod 600"),
        ("index.key", b"\x00\xffgarbage", 0o600, "is damaged"),
        ("index.key", None, 0o640, "readable by other users (mode 640)"),
    ],
)
def test_damaged_key_file_is_refused_by_name(db, the_vault, make_app, key_dir, name, content, mode, fragment):
    """A garbled, wrong-length or world-readable key file stops the vault
    with a message naming the file; the file is not replaced, nothing is
    decrypted."""
    subject = create_subject(db, the_vault, PERSON, ID, NAME)
    db.commit()
    path = key_dir / name
    if content is not None:
        path.write_bytes(content)
    path.chmod(mode)
    before = path.read_bytes()
    with fresh_app(make_app), pytest.raises(KeyringError, match=re.escape(fragment)) as exc:
        read_back(subject.id)
    assert str(path) in str(exc.value)
    assert path.read_bytes() == before


def test_kek_file_swapped_for_another_key_is_detected(db, the_vault, make_app, key_dir):
    """A valid but different kek-v1.key cannot unwrap existing data keys, and
    the check value in the database names it as the wrong key."""
    subject = create_subject(db, the_vault, PERSON, ID, NAME)
    db.commit()
    path = key_dir / "kek-v1.key"
    path.write_bytes(base64.b64encode(secrets.token_bytes(32)) + b"\n")
    path.chmod(0o600)
    with fresh_app(make_app):
        with pytest.raises(KeyringError, match="does not unwrap under key-encryption key v1"):
            read_back(subject.id)
        with pytest.raises(KeyringError, match="not the key this database was set up with") as exc:
            vault().register_versions(session())
        assert str(path) in str(exc.value)


@pytest.mark.parametrize("remove_folder", [False, True])
def test_init_refuses_new_keys_for_a_database_that_uses_keys(app, runner, key_dir, remove_folder):
    """`portal init` with an empty or missing key folder, on a database that
    knows KEK v1, tells the operator to restore the keys and creates none."""
    with app.app_context():
        vault().register_versions(session())
        session().commit()
    for path in key_dir.iterdir():
        path.unlink()
    if remove_folder:
        key_dir.rmdir()
    result = runner.invoke(args=["init"])
    assert result.exit_code != 0
    assert "restore the key files" in result.output
    assert "refusing to create new ones" in result.output
    assert not key_dir.exists() or list(key_dir.iterdir()) == []


def test_missing_newest_kek_is_refused_before_any_new_key_is_wrapped(db, the_vault, runner, make_app, key_dir):
    """After a rotation to v2, losing kek-v2.key (with v1 still there) stops
    the vault at its check: new data keys must never be wrapped by v1."""
    add_person(db, the_vault, 1)
    db.commit()
    assert runner.invoke(args=["keys", "rotate"]).exit_code == 0
    (key_dir / "kek-v2.key").unlink()
    with fresh_app(make_app) as app:
        with pytest.raises(KeyringError, match=re.escape(f"{key_dir / 'kek-v2.key'} is missing")):
            vault().register_versions(session())
        result = app.test_cli_runner().invoke(args=["serve", "--check"])
        assert result.exit_code != 0
        assert "kek-v2.key is missing" in result.output


def test_data_keys_under_a_missing_kek_version_are_refused(db, the_vault, make_app, key_dir):
    """With kek-v1.key gone while data keys are still wrapped by it (and a
    stray v2 file present), the check names the file to restore."""
    add_person(db, the_vault, 1)
    db.commit()
    (key_dir / "kek-v1.key").rename(key_dir / "kek-v1.key.bak")
    (key_dir / "kek-v2.key").write_bytes(base64.b64encode(secrets.token_bytes(32)))
    (key_dir / "kek-v2.key").chmod(0o600)
    missing = "wrapped by key-encryption key v1 but .*kek-v1.key is missing"
    with fresh_app(make_app), pytest.raises(KeyringError, match=missing):
        vault().register_versions(session())


# -- findings of the foundation review -------------------------------------------
def test_replaced_index_key_is_refused_and_init_will_not_recreate_a_lost_one(db, the_vault, runner, make_app, key_dir):
    """A new index.key would make every look-up by identifier miss silently
    (and let the same person be registered twice): refused loudly."""
    create_subject(db, the_vault, PERSON, ID, NAME)
    db.commit()
    index = key_dir / "index.key"
    original = index.read_bytes()
    index.write_bytes(base64.b64encode(secrets.token_bytes(32)))
    with fresh_app(make_app) as app:
        with pytest.raises(KeyringError, match="index.key is not the key this database was set up with"):
            vault().register_versions(session())
        assert app.test_cli_runner().invoke(args=["serve", "--check"]).exit_code != 0
    index.unlink()
    result = runner.invoke(args=["init"])
    assert result.exit_code != 0
    assert "refusing to create new ones" in result.output
    assert not index.exists()
    index.write_bytes(original)
    index.chmod(0o600)
    with fresh_app(make_app):
        vault().register_versions(session())
        assert find_subject(session(), vault(), PERSON, ID) is not None


def test_a_running_server_follows_a_rotation_made_by_another_process(db, the_vault, make_app, key_dir):
    """After `keys rotate` elsewhere, a running process wraps new data keys
    under the new version and still reads the re-wrapped ones."""
    subject = add_person(db, the_vault, 1)
    db.commit()
    with fresh_app(make_app) as app:  # "another process"
        assert app.test_cli_runner().invoke(args=["keys", "rotate"]).exit_code == 0
    db.expire_all()
    db.info.pop("portal.ciphers", None)
    assert view_subject(db, the_vault, subject).name == "测试1"  # re-wrapped under v2, read by the old process
    newer = add_person(db, the_vault, 2)
    db.commit()
    assert kek_counts(db) == {2: 2}, "the old process wrapped a new key under the retired v1"
    assert newer.data_key_id


def test_sealing_a_row_without_its_id_is_refused(db, the_vault):
    """The row id is part of the associated data: sealing before the id is
    set would make a value that can never be read again."""
    cipher = the_vault.create_key(db)
    with pytest.raises(ValueError, match="give the row its id"):
        cipher.seal_field(Subject(), "name", NAME)


def test_shredding_a_person_also_shreds_their_login(db, the_vault, make_app):
    from portal.accounts.models import Role, User
    from portal.accounts.services import create_user, find_user

    subject = create_subject(db, the_vault, PERSON, ID, NAME)
    user = create_user(
        db, the_vault, role=Role.PERSON, email="zhang@example.com", display_name=NAME, subject_id=subject.id
    )
    shred_subject(db, the_vault, subject)
    db.commit()
    with fresh_app(make_app):
        row = session().get(User, user.id)
        assert not row.is_active
        with pytest.raises(KeyDestroyed):
            vault().cipher(session(), row.data_key_id)
        assert find_user(session(), vault(), "zhang@example.com") is None


def test_damaged_data_key_rows_raise_keyring_errors(db, the_vault, make_app):
    a, b = add_person(db, the_vault, 1), add_person(db, the_vault, 2)
    db.execute(
        text("UPDATE data_keys SET wrapped = NULL WHERE id = :id").bindparams(bindparam("id", type_=Uuid())),
        {"id": a.data_key_id},
    )
    raw_set(db, "data_keys", "wrapped", b.data_key_id, b"short")
    db.commit()
    with fresh_app(make_app):
        for subject, fragment in ((a, "its wrapped form is missing"), (b, "its wrapped form has 5 bytes")):
            with pytest.raises(KeyringError, match=fragment):
                read_back(subject.id)


def test_kek_file_names_are_strict(key_dir, make_app):
    make_app()  # creates the keys
    (key_dir / "kek-v01.key").write_bytes((key_dir / "kek-v1.key").read_bytes())
    (key_dir / "kek-v01.key").chmod(0o600)
    with fresh_app(make_app):
        assert sorted(vault().keyring.keks) == [1]


def test_the_same_number_can_be_a_person_and_a_firm(db, the_vault):
    """Some 18-character numbers are valid both as identity numbers and as
    credit codes: the two kinds are indexed apart."""
    both = "411302199001030584"
    person = create_subject(db, the_vault, SubjectKind.PERSON, both, "王五")
    firm = create_subject(db, the_vault, SubjectKind.FIRM, both, "南阳示例有限公司")
    assert find_subject(db, the_vault, SubjectKind.PERSON, both).id == person.id
    assert find_subject(db, the_vault, SubjectKind.FIRM, both).id == firm.id


def test_a_reference_typed_differently_is_the_same_record(db, the_vault):
    subject, bank = create_subject(db, the_vault, PERSON, ID, NAME), add_bank(db, the_vault)
    first = furnish(db, the_vault, bank, subject, loan("ln-1 "))
    second = furnish(db, the_vault, bank, subject, loan("ＬＮ-1", status=RecordStatus.SETTLED))
    assert (first.record_id, first.version, second.version) == (second.record_id, 1, 2)
