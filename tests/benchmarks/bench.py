"""Benchmarks, printed as ratios measured side by side in one run (a timing
alone means little on a shared machine). Not a test: run it by hand.

    python tests/benchmarks/bench.py [--rounds N]
"""
from __future__ import annotations

import argparse
import secrets
import statistics
import time
from datetime import date
from typing import Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from portal.crypto import Keyring, Vault, init_keys
from portal.db import Base, all_models, make_engine
from portal.records.models import Category, RecordStatus, RecordVersion
from portal.records.services import RecordInput, build_version, open_payload


def typical_record() -> RecordInput:
    return RecordInput(Category.LOAN, "LOA-00012345", RecordStatus.OVERDUE, True, None, {
        "currency": "CNY", "loan_type": "consumer", "principal": "200000.00", "balance": "153422.17",
        "overdue_amount": "8210.55", "overdue_months": 3, "opened_on": "2021-03-14", "maturity_on": "2026-03-14"})


def best_per_op(fn: Callable[[], object], n: int, rounds: int) -> float:
    """Median over rounds of the time per call, in microseconds."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(samples)


def bench_vault(rounds: int, tmp: str) -> None:
    from pathlib import Path

    init_keys(Path(tmp) / "keys")
    vault = Vault(Keyring.load(Path(tmp) / "keys"))
    engine = make_engine("sqlite://")
    all_models()
    Base.metadata.create_all(engine)
    session = Session(engine)
    cipher = vault.create_key(session)
    data = typical_record()
    version = build_version(cipher, secrets.token_bytes(16).hex(), 1, data)
    payload = data.payload().encode()
    aad = f"record_versions.payload.{version.id}.1".encode()
    raw = AESGCM(vault.keyring.keks[1][:32])  # any 256-bit key: the same work as the data key
    nonce = secrets.token_bytes(12)
    sealed_raw = raw.encrypt(nonce, payload, aad)

    n = 2000
    sealed = cipher.seal("record_versions", "payload", version.id, payload)
    cases = {
        "seal (Cipher.seal: header, AAD, nonce, AES-GCM)": lambda: cipher.seal("record_versions", "payload", version.id, payload),
        "seal (raw AESGCM.encrypt, same bytes and AAD)": lambda: raw.encrypt(secrets.token_bytes(12), payload, aad),
        "open (Cipher.open: checks, AAD, AES-GCM)": lambda: cipher.open("record_versions", "payload", version.id, sealed),
        "open (raw AESGCM.decrypt, same bytes and AAD)": lambda: raw.decrypt(nonce, sealed_raw, aad),
        "build a record version (ORM row, JSON, seal)": lambda: build_version(cipher, version.record_id, 1, data),
        "read a record payload (open, JSON parse)": lambda: open_payload(cipher, version),
    }
    # Interleave the cases round by round so background load hits them alike.
    results = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            results[name].append(best_per_op(fn, n, 1))
    med = {name: statistics.median(v) for name, v in results.items()}
    print(f"typical record: {len(payload)} bytes of JSON; {rounds} rounds x {n} calls, median per call")
    for name, us in med.items():
        print(f"  {name:<50} {us:8.2f} us")
    names = list(cases)
    print(f"  ratio seal vault/raw: {med[names[0]] / med[names[1]]:.2f}x")
    print(f"  ratio open vault/raw: {med[names[2]] / med[names[3]]:.2f}x")
    print(f"  ratio record version build/raw encrypt: {med[names[4]] / med[names[1]]:.1f}x, "
          f"payload read/raw decrypt: {med[names[5]] / med[names[3]]:.1f}x")

    # First touch of a subject in a request: unwrap its data key from the row.
    key_id = cipher.key_id
    session.commit()

    def cold_open():
        session.info.pop("portal.ciphers", None)
        open_payload(vault.cipher(session, key_id), version)

    cold = best_per_op(cold_open, 500, rounds)
    print(f"  first read of a subject (load + unwrap its data key, then open): {cold:.2f} us, "
          f"{cold / med[names[3]]:.0f}x raw decrypt")


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7, help="rounds per case (median is reported)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        print("== vault: sealing and opening a credit record ==")
        bench_vault(args.rounds, tmp)


if __name__ == "__main__":
    main()
