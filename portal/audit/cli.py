"""`portal audit`: check the transparency log, and proof bundles offline."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from portal.audit.events import BundleError, audit_events, bundle_policy, verify_bundle
from portal.audit.log_routes import log_signer
from portal.crypto import KeyringError
from portal.extensions import session, vault
from portal.transparency.checkpoints import AuditFailure, read_leaf_hashes, verify_log
from portal.transparency.cosign import Witness, WitnessPolicy, cosignatures
from portal.transparency.models import Checkpoint
from portal.transparency.notes import KEY_FILE, NoteError, create_key_file, verify_note

audit = AppGroup("audit", help="Verify the transparency log and proof bundles.")


def init_log_key() -> None:
    """For `portal init`: create the log signing key if missing, but never
    replace the key the stored checkpoints were signed with."""
    key_dir: Path = current_app.config["KEY_DIR"]
    last = session().scalars(select(Checkpoint).order_by(Checkpoint.size.desc()).limit(1)).first()
    if last is not None and not (key_dir / KEY_FILE).exists():
        raise click.ClickException(
            f"the log's checkpoints were signed with {key_dir / KEY_FILE}, which is missing: "
            "restore it; refusing to create a new one"
        )
    if path := create_key_file(key_dir):
        click.echo(f"created {path} (mode 0600)")
    try:
        signer = log_signer()
        if last is not None:
            verify_note(last.note, signer.vkey)
    except (KeyringError, NoteError) as exc:
        raise click.ClickException(
            f"{key_dir / KEY_FILE} is not the key the log's checkpoints were signed with (or LOG_ORIGIN changed): {exc}"
        ) from None


@audit.command("verify")
@click.option("--key", "vkey", help="Check checkpoints against this verifier key (default: the instance's key file).")
@click.option("--log-only", is_flag=True, help="Check the tree and checkpoints only, not the events behind the leaves.")
def verify_command(vkey: str | None, log_only: bool) -> None:
    """Recompute the tree from the stored leaves; compare it with the stored
    subtrees; check every checkpoint's signature and that each is consistent
    with the next. Exits 1 naming the first bad leaf index or checkpoint."""
    s = _snapshot(session())
    try:
        vkey = vkey or log_signer().vkey
        report = verify_log(s, vkey)
        events = None if log_only else _audit_events(s, report.size)
    except (KeyringError, NoteError) as exc:
        raise click.ClickException(str(exc)) from None
    except AuditFailure as exc:
        click.echo(f"log verification FAILED: {exc}", err=True)
        raise SystemExit(1) from None
    checked = (
        "" if events is None else f"{events} events recomputed from their sealed content (shredded subjects skipped); "
    )
    click.echo(
        f"log verified: {report.size} leaves, {report.checkpoints} signed checkpoints consistent; "
        f"{checked}root {report.root.hex()}"
    )


def _audit_events(s: Session, size: int) -> int:
    """The events half, with a progress bar on a terminal (quiet otherwise)."""
    leaves = read_leaf_hashes(s)
    if not sys.stderr.isatty():
        return audit_events(s, vault(), leaves)
    with click.progressbar(length=size, label="checking events against their leaves", file=sys.stderr) as bar:
        return audit_events(s, vault(), leaves, progress=bar.update)


def _snapshot(s: Session) -> Session:
    """One consistent view for the whole audit, so appends made meanwhile by
    the running portal are not mistaken for damage."""
    if s.get_bind().dialect.name == "postgresql":
        s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    else:
        s.execute(text("BEGIN"))  # SQLite (WAL): reads in one transaction share a snapshot
    return s


@audit.command("verify-proof", with_appcontext=False)
@click.argument("file", type=click.File("rb"))
@click.option(
    "--key",
    "vkey",
    help="The log's verifier key, as published at /transparency/key "
    "(default: the key named in the bundle, which proves less).",
)
@click.option(
    "--witness",
    "witnesses",
    multiple=True,
    help="A witness's verifier key (repeat for each); the checkpoint needs cosignatures by --quorum of them "
    "(default: the witnesses named in the bundle, which proves less).",
)
@click.option("--quorum", type=click.IntRange(min=0), help="How many of the --witness keys must cosign (default: all).")
def verify_proof_command(file: IO[bytes], vkey: str | None, witnesses: tuple[str, ...], quorum: int | None) -> None:
    """Check a downloaded proof bundle offline: the checkpoint's signature,
    the witnesses' cosignatures, and that the event is in the log it signs."""
    try:
        policy = (
            WitnessPolicy(tuple(Witness.parse(k) for k in witnesses), len(witnesses) if quorum is None else quorum)
            if witnesses
            else None
        )
    except NoteError as exc:
        raise click.BadParameter(str(exc), param_hint="--witness/--quorum") from None
    if quorum is not None and not witnesses:
        raise click.BadParameter("give the witnesses' keys with --witness", param_hint="--quorum")
    try:
        bundle = json.loads(file.read())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        click.echo(f"proof NOT verified: the file is not JSON ({exc})", err=True)
        raise SystemExit(1) from None
    try:
        event = verify_bundle(bundle, vkey, policy)
        vouched = cosignatures(bundle["checkpoint"], (policy or bundle_policy(bundle)).witnesses)
    except (BundleError, NoteError) as exc:
        click.echo(f"proof NOT verified: {exc}", err=True)
        raise SystemExit(1) from None
    click.echo(
        f"proof verified: event {event.get('id')} ({event.get('kind')}, {event.get('occurred_at')}) is leaf "
        f"{bundle['leaf_index']} of the log at size {bundle['tree_size']}, signed by "
        f"{(vkey or bundle['key']).split('+')[0]}"
    )
    when = {name: datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%SZ") for name, t in vouched.items()}
    click.echo(
        "witnessed by: " + ", ".join(f"{name} ({t})" for name, t in sorted(when.items()))
        if when
        else "witnessed by: nobody (no witness cosignature was asked for)"
    )
    if not vkey:
        click.echo(
            "note: checked against the key inside the bundle; pass --key with the key published at "
            "/transparency/key to be sure it is the log's"
        )
    if bundle.get("witnesses") and not witnesses:
        click.echo(
            "note: checked against the witnesses named inside the bundle; pass --witness with keys you got "
            "from the witnesses themselves to be sure"
        )
