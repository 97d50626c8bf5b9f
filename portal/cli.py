"""The `portal` command. Each command is one unit of work: it commits once
at the end, and the app context's teardown rolls back whatever it did not."""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import click
import waitress
from alembic.script import ScriptDirectory
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup, with_appcontext
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from portal import config, create_app, worker
from portal.access.notify import tell_of_queries
from portal.accounts.cli import users
from portal.admin.cli import institutions_cli
from portal.admin.staff_cli import staff_cli
from portal.api.cli import apikeys
from portal.audit.cli import audit, init_log_key
from portal.audit.integrator import integrate_all
from portal.audit.log_routes import log_signer
from portal.backup.cli import backup
from portal.compliance.cli import compliance, conflicts
from portal.crypto import KeyringError, init_keys
from portal.crypto.keyring import INDEX_FILE, KEK_FILE
from portal.crypto.models import KekVersion, KeyCheck
from portal.demo import DemoRefused, load_demo
from portal.disputes.cli import disputes
from portal.extensions import database, session, vault
from portal.migrations import alembic_config, current_heads, upgrade
from portal.notifications.services import Mailer, deliver
from portal.records.models import Subject
from portal.signing import DocumentSigner, create_document_key
from portal.witness import beside
from portal.witness.cli import witness
from portal.witness.state import StateError

keys = AppGroup("keys", help="Show and rotate the key-encryption keys.")
outbox = AppGroup("outbox", help="The e-mail outbox.")


def _fail(message: str) -> None:
    raise click.ClickException(message)


@click.command("init")
@with_appcontext
def init_command() -> None:
    """Create instance config and keys if missing; migrate to head."""
    app, db = current_app, database()
    instance = Path(app.instance_path)
    if not app.config.get("SECRET_KEY"):
        path = config.write_secret_key(instance)
        app.config.from_pyfile(path)
        click.echo(f"wrote a new secret key to {path}")
    _create_sqlite_file(db)
    upgrade(db.engine)
    key_dir: Path = app.config["KEY_DIR"]
    has_keks = key_dir.is_dir() and any(KEK_FILE.match(p.name) for p in key_dir.iterdir())
    known = session().scalars(select(KekVersion.version)).all()
    if known and not has_keks:
        _fail(
            f"the database uses key-encryption key versions {known} but {key_dir} holds none: "
            "restore the key files; refusing to create new ones"
        )
    if session().get(KeyCheck, "index") is not None and not (key_dir / INDEX_FILE).exists():
        _fail(
            f"the database's blind indexes were made with {key_dir / INDEX_FILE}, which is missing: "
            "restore the key files; refusing to create new ones"
        )
    for path in init_keys(key_dir):
        click.echo(f"created {path} (mode 0600)")
    init_log_key()
    try:
        for path in create_document_key(key_dir):
            click.echo(f"created {path}")
    except KeyringError as exc:
        _fail(str(exc))
    try:
        vault().register_versions(session())
        DocumentSigner.load(app.config["KEY_DIR"])  # reports and letters are signed: its key must load
    except KeyringError as exc:
        _fail(str(exc))
    session().commit()
    click.echo(f"database at head: {db.engine.url.render_as_string(hide_password=True)}")


def _create_sqlite_file(db) -> None:
    """A new SQLite database is readable by its owner only (SQLite gives its
    journal files the same mode)."""
    url = db.engine.url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        path = Path(url.database)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        for p in path.parent.glob(path.name + "*"):  # the database and its journal files
            p.chmod(0o600)


@click.command("demo")
@with_appcontext
@click.option(
    "--subjects",
    default=60,
    show_default=True,
    type=click.IntRange(20, 5_000_000),
    help="How many persons and firms to create.",
)
@click.option("--seed", default=2014, show_default=True, type=int, help="The same seed gives the same data.")
@click.pass_context
def demo_command(ctx: click.Context, subjects: int, seed: int) -> None:
    """Initialise, then load deterministic demo data into an empty database."""
    ctx.invoke(init_command)
    _load_demo(subjects, seed)


def _load_demo(subjects: int, seed: int) -> None:
    try:
        with click.progressbar(length=subjects, label="demo subjects", file=sys.stderr) as bar:
            creds = load_demo(
                session(),
                vault(),
                subjects=subjects,
                seed=seed,
                progress=bar.update,
                dispute_regime=current_app.config["DISPUTE_REGIME"],
            )
    except DemoRefused as exc:
        _fail(str(exc))
    session().commit()
    # Its events go into the log now, so the served demo offers their proofs,
    # and the subjects hear of the institutions' queries.
    integrate_all(session(), log_signer())
    while tell_of_queries(session(), vault()):
        session().commit()
    if session().get_bind().dialect.name == "postgresql":
        # Fresh statistics: a planner that has not seen a million bulk-loaded
        # rows scans whole tables for a page's records.
        session().execute(text("ANALYZE"))
        session().commit()
    path = _write_credentials(creds)
    click.echo(f"wrote {path}")
    click.echo(_format_credentials(creds))


def _write_credentials(creds: dict) -> Path:
    path = Path(current_app.instance_path) / "demo-credentials.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    os.fchmod(fd, 0o600)  # also when the file was there already
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(json.dumps(creds, ensure_ascii=False, indent=2) + "\n")
    return path


def _format_credentials(creds: dict) -> str:
    lines = ["Demo logins (also in instance/demo-credentials.json):"]
    for login in creds["logins"]:
        extra = f"  TOTP secret {login['totp_secret']}" if login.get("totp_secret") else ""
        subject = f"  subject {login['subject_identifier']}" if login.get("subject_identifier") else ""
        lines.append(f"  {login['role']:<20} {login['login']:<32} {login['password']}{extra}{subject}")
    if reg := creds.get("registration_example"):
        contact = f" (sent to their contact on file, {reg['contact_on_file']})" if reg.get("contact_on_file") else ""
        lines.append(
            f"To try registering: a person with no account yet, {reg['name']}, identifier {reg['identifier']};"
            f" the activation code{contact} appears at /demo/outbox while the portal serves this database"
        )
    lines.append("Demo institutions and API keys:")
    for inst in creds["institutions"]:
        for key in inst["api_keys"]:
            lines.append(f"  {inst['code']:<20} {'+'.join(key['scopes']):<14} {key['token']}")
    return "\n".join(lines)


@click.command("serve")
@with_appcontext
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64), help="Threads per process.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Processes: more than 1 serves with gunicorn and runs the background jobs in a `portal worker` beside it.",
)
@click.option("--demo", is_flag=True, help="Initialise and load demo data first if the database is empty.")
@click.option("--check", is_flag=True, help="Only check that the portal can start (schema, secret, keys), then exit.")
@click.pass_context
def serve_command(
    ctx: click.Context, host: str, port: int, threads: int, workers: int, demo: bool, check: bool
) -> None:
    """Serve the portal: with waitress in this process, or with gunicorn in
    `--workers` processes."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]  # the proxy's target
    if demo:
        ctx.invoke(init_command)
        if session().scalar(select(func.count()).select_from(Subject)) == 0:
            _load_demo(subjects=60, seed=2014)
        else:
            path = Path(app.instance_path) / "demo-credentials.json"
            if path.exists():
                click.echo(_format_credentials(json.loads(path.read_text(encoding="utf-8"))))
    _preflight(app)
    if not app.config["PUBLIC_URL"] and (not _is_loopback(host) or app.config["PROXY_COUNT"]):
        # Reset links would point at the bound address, which people do not reach.
        _fail(
            "set PORTAL_PUBLIC_URL to the address people reach the portal at (https://...): e-mailed links "
            "are built on it; only a local try-out on a loopback address goes without it"
        )
    if check:
        click.echo("ready to serve: schema at head, secret key set, key files match the database")
        return
    # Behind a reverse proxy (PROXY_COUNT) the loopback address is not a try-out: HTTPS is served in front.
    if app.config[config.SECURE_BY_DEFAULT] and _is_loopback(host) and not app.config["PROXY_COUNT"]:
        # A local try-out over plain HTTP: the browser would drop Secure cookies.
        app.config["SESSION_COOKIE_SECURE"] = False
        os.environ["PORTAL_SESSION_COOKIE_SECURE"] = "false"  # for the processes of --workers too
    if not app.config["PUBLIC_URL"]:  # the address e-mailed links point to
        app.config["PUBLIC_URL"] = os.environ["PORTAL_PUBLIC_URL"] = f"http://{host}:{port}"
    demo_witness = _start_demo_witness(app) if demo and not app.config.get("WITNESSES") else None
    click.echo(f"Portal running on http://{host}:{port}/  (Ctrl+C to stop)")
    try:
        if workers > 1:
            from portal.serving import serve  # gunicorn: not on every platform, imported only when asked for

            serve(app, create_app, host, port, workers, threads)
            return
        worker.start(app)  # the log integrator, the deadline sweep and mail, in a thread
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop as on Ctrl+C: the demo witness too
        waitress.serve(app, host=host, port=port, threads=threads, ident="portal")
    finally:
        if demo_witness is not None:
            demo_witness.terminate()
            demo_witness.wait(timeout=10)


def _start_demo_witness(app: Flask) -> subprocess.Popen[str]:
    """A witness beside the demo (its folder in the instance), which the
    portal asks to cosign: the try-out shows a witnessed log."""
    try:
        proc, setting = beside.start(Path(app.instance_path) / "demo-witness", log_signer().vkey)
    except (RuntimeError, StateError) as exc:
        _fail(str(exc))
    app.config["WITNESSES"] = os.environ["PORTAL_WITNESSES"] = setting  # for the processes of --workers too
    app.extensions.pop("portal.witnesses", None)  # read again with the witness
    click.echo(f"Demo witness {beside.NAME} cosigning the log, at {json.loads(setting)['witnesses'][0]['url']}")
    return proc


@click.command("worker")
@with_appcontext
@click.option("--once", is_flag=True, help="Run every job once, then exit.")
def worker_command(once: bool) -> None:
    """Run the background jobs (log integration, deadline sweep, mail) until stopped."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]  # the proxy's target
    _preflight(app)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    names = [name for name, _, _ in worker.jobs(app)]
    click.echo(f"portal worker: {', '.join(names) or 'no jobs enabled'}")
    try:
        done = worker.run(app, stop, once=once)
    except KeyboardInterrupt:
        return
    if once:
        click.echo(", ".join(f"{name}: {count}" for name, count in done.items()) or "nothing to do")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _preflight(app: Flask) -> None:
    """Refuse to serve with a missing secret, an old schema or bad keys."""
    if not app.config.get("SECRET_KEY"):
        _fail("no SECRET_KEY: run `portal init` (or set PORTAL_SECRET_KEY)")
    url = database().engine.url
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        _fail(f"there is no database at {url.database}: run `portal init`")
    heads = {s.revision for s in _script_heads()}
    try:
        current = current_heads(database().engine)
    except OperationalError as exc:
        _fail(f"cannot open the database ({exc.orig}): run `portal init` or check PORTAL_DATABASE_URL")
    if current != heads:
        _fail("the database is not migrated to the current schema: run `portal init`")
    try:
        vault().register_versions(session())
        DocumentSigner.load(app.config["KEY_DIR"])  # reports and letters are signed: its key must load
    except KeyringError as exc:
        _fail(str(exc))
    session().commit()


def _script_heads():
    script = ScriptDirectory.from_config(alembic_config(database().engine))
    return [script.get_revision(h) for h in script.get_heads()]


@keys.command("status")
def keys_status() -> None:
    """Key versions and how many data keys each wraps."""
    try:
        status = vault().status(session())
    except KeyringError as exc:
        _fail(str(exc))
    click.echo(f"current key-encryption key: v{status['current']}")
    for v in status["versions"]:
        file = "key file present" if v["key_file"] else "KEY FILE MISSING"
        note = "" if v["data_keys"] or v["version"] == status["current"] else " (no longer needed)"
        click.echo(f"  v{v['version']}: {v['data_keys']} data keys, {file}{note}")
    click.echo(f"destroyed data keys (shredded): {status['destroyed']}")


@keys.command("rotate")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 100_000))
def keys_rotate(batch_size: int) -> None:
    """Re-wrap every data key under a new key-encryption key (resumes an
    interrupted rotation instead of starting another)."""
    s = session()
    try:
        report = vault().rotate(s, commit=s.commit, batch_size=batch_size)
    except KeyringError as exc:
        _fail(str(exc))
    verb = "created" if report.created else "resumed rotation to"
    click.echo(f"{verb} key-encryption key v{report.version}; re-wrapped {report.rewrapped} data keys")
    versions = vault().status(s)["versions"]
    retired = [v["version"] for v in versions if v["version"] != report.version and not v["data_keys"]]
    if retired:
        click.echo(
            "no data key needs "
            + ", ".join(f"v{v}" for v in retired)
            + " any more: move those key files to offline storage"
        )


@outbox.command("deliver")
def outbox_deliver() -> None:
    """E-mail every queued message that has not been sent yet."""
    mailer = Mailer(current_app.config)
    if not mailer.enabled:
        _fail("no mail server configured (set PORTAL_MAIL_SERVER)")
    sent = deliver(session(), vault(), mailer)
    click.echo(f"sent {sent} e-mails")


def register(app: Flask) -> None:
    for command in (init_command, demo_command, serve_command, worker_command, keys, outbox, audit, backup):
        app.cli.add_command(command)
    disputes.add_command(conflicts)
    app.cli.add_command(apikeys)
    app.cli.add_command(disputes)
    app.cli.add_command(users)
    app.cli.add_command(compliance)
    app.cli.add_command(staff_cli)
    app.cli.add_command(institutions_cli)


def main() -> None:
    cli = FlaskGroup(create_app=create_app, help="The credit-subject rights portal.")
    # On the group itself, not the app's: the witness runs without loading the portal.
    cli.add_command(witness)
    cli.main(args=sys.argv[1:], prog_name="portal")
