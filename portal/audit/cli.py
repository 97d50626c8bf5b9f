"""`portal audit`: check the transparency log, and proof bundles offline."""

from __future__ import annotations

import http.client
import json
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import IO
from urllib.parse import urlencode, urlsplit

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from portal.audit.events import BundleError, audit_events, bundle_policy, fill_entries, verify_bundle
from portal.audit.log_routes import log_signer
from portal.crypto import KeyringError
from portal.extensions import session, vault
from portal.transparency.checkpoints import AuditFailure, Held, Problems, read_leaf_hashes, verify_log
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
@click.option(
    "--against",
    "sources",
    multiple=True,
    metavar="FILE|URL",
    help="A signed checkpoint kept outside the database, which the stored log must contain: a file holding the note "
    "(as saved from /transparency/checkpoint) or a witness's http(s) address (its copy is fetched from "
    "URL/checkpoint?origin=ORIGIN). Shows a log cut short, which the database alone cannot. Repeatable.",
)
def verify_command(vkey: str | None, log_only: bool, sources: tuple[str, ...]) -> None:
    """Recompute the tree from the stored leaves; compare it with the stored
    subtrees; check every checkpoint's signature and that each is consistent
    with the next, and every event against its leaf; with --against, that
    the log contains each checkpoint held elsewhere. Exits 1 listing every
    problem found (the stored tree's first failure, then the rest)."""
    try:
        vkey = vkey or log_signer().vkey
    except (KeyringError, NoteError) as exc:
        raise click.ClickException(str(exc)) from None
    # Read before the snapshot: a checkpoint the log signed after it began
    # would look like a truncation.
    held, unread = [], []
    for source in sources:
        got = _held_checkpoint(source, vkey.split("+", 1)[0])
        if isinstance(got, Held):
            held.append(got)
        else:
            unread.append(AuditFailure(f"{source}: could not be checked: {got}"))
    s = _snapshot(session())
    problems = Problems()
    report = None
    try:
        report = verify_log(s, vkey, held)
    except AuditFailure as exc:
        problems.add(exc)
    for failure in unread:
        problems.add(failure)
    events = None
    if not log_only and (leaves := _leaves_if_readable(s)) is not None:
        try:
            events = _audit_events(s, leaves)
        except AuditFailure as exc:
            problems.add(exc)
        except KeyringError as exc:
            problems.add(AuditFailure(f"the events could not be checked: {exc}"))
    if problems.count or report is None:
        _print_problems(problems)
        raise SystemExit(1)
    checked = (
        "" if events is None else f"{events} events recomputed from their sealed content (shredded subjects skipped); "
    )
    click.echo(
        f"log verified: {report.size} leaves, {report.checkpoints} signed checkpoints consistent; "
        f"{checked}root {report.root.hex()}"
    )
    for source, size in report.held:
        click.echo(f"consistent with the signed checkpoint of {size} leaves held by {source}")


SHOWN = 100  # problems printed at most
HELD_TIMEOUT = 10.0  # seconds a witness has to answer
HELD_MAX = 1 << 16  # a checkpoint note is a few hundred bytes


def _print_problems(problems: Problems) -> None:
    click.echo(f"log verification FAILED: {problems.count} problem(s)", err=True)
    for failure in problems.kept[:SHOWN]:
        click.echo(f"  {failure}", err=True)
    if problems.count > SHOWN:
        click.echo(f"  ... and {problems.count - SHOWN} more", err=True)


def _held_checkpoint(source: str, origin: str) -> Held | str:
    """The checkpoint note held at `source` (a file, or a witness's http(s)
    address), or why it cannot be read. Its signature is checked later."""
    if urlsplit(source).scheme.lower() in ("http", "https"):
        url = f"{source.rstrip('/')}/checkpoint?{urlencode({'origin': origin})}"
        try:
            with urllib.request.urlopen(url, timeout=HELD_TIMEOUT) as response:  # noqa: S310  # http(s) only, above
                body = response.read(HELD_MAX + 1)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return f"the witness holds no checkpoint of {origin} (HTTP 404)"
            return f"the witness answered HTTP {exc.code} {exc.reason}"
        except (OSError, ValueError, http.client.HTTPException) as exc:  # unreachable, refused, timed out
            return f"no answer from the witness ({getattr(exc, 'reason', None) or exc})"
    else:
        try:
            with open(source, "rb") as file:
                body = file.read(HELD_MAX + 1)
        except OSError as exc:
            return f"the file cannot be read ({exc.strerror or exc})"
    if len(body) > HELD_MAX:
        return f"not a checkpoint note (more than {HELD_MAX} bytes)"
    try:
        return Held(source, body.decode())
    except UnicodeDecodeError:
        return "not a checkpoint note (not UTF-8 text)"


def _leaves_if_readable(s: Session) -> bytes | None:
    """The stored leaf hashes for the events half, which checks events
    against them even when the tree above them is broken; None when a leaf
    is missing (the log half named it)."""
    try:
        return read_leaf_hashes(s)
    except AuditFailure:
        return None


def _audit_events(s: Session, leaves: bytes) -> int:
    """The events half, with a progress bar on a terminal (quiet otherwise)."""
    if not sys.stderr.isatty():
        return audit_events(s, vault(), leaves)
    with click.progressbar(
        length=len(leaves) // 32, label="checking events against their leaves", file=sys.stderr
    ) as bar:
        return audit_events(s, vault(), leaves, progress=bar.update)


def _snapshot(s: Session) -> Session:
    """One consistent view for the whole audit, so appends made meanwhile by
    the running portal are not mistaken for damage."""
    if s.get_bind().dialect.name == "postgresql":
        s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    else:
        s.execute(text("BEGIN"))  # SQLite (WAL): reads in one transaction share a snapshot
    return s


@audit.command("fill-entries")
def fill_entries_command() -> None:
    """Give leaves appended before the log kept its entries (served by the
    tiles API, /log/tile/entries/...) their entry, recomputed from the
    event and checked against the leaf. Commits per batch; safe to rerun."""
    s, after, filled, left = session(), -1, 0, 0
    while True:
        done, skipped, after = fill_entries(s, vault(), after)
        s.commit()
        filled, left = filled + done, left + skipped
        if after < 0:
            break
    click.echo(
        f"entries filled: {filled}"
        + (f"; {left} leaf(s) left without (shredded subjects, or events `portal audit verify` names)" if left else "")
    )


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
