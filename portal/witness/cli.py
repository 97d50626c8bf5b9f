"""`portal witness ...`: plain click commands on a witness folder. They
never load the portal's app, configuration or database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import click
import waitress

from portal.transparency.notes import NoteError, _check_name
from portal.witness.app import create_app
from portal.witness.state import StateError, Store

_folder = click.option(
    "--dir",
    "folder",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The witness's folder (its key and database).",
)


def _open(folder: Path) -> Store:
    try:
        return Store.open(folder)
    except StateError as exc:
        raise click.ClickException(str(exc)) from None


def _key_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        return _check_name(value)
    except NoteError as exc:
        raise click.BadParameter(str(exc)) from None


@click.group("witness")
def witness() -> None:
    """A transparency-log witness (C2SP tlog-witness), run apart from the
    portal, with its own folder and key."""


@witness.command("init")
@_folder
@click.option("--name", required=True, callback=_key_name, help="The witness's key name, e.g. witness.example/w1.")
def init_command(folder: Path, name: str) -> None:
    """Create the folder, the witness's key and its database."""
    try:
        store = Store.create(folder, name)
        vkey = store.cosigner().vkey
    except (StateError, OSError, sqlite3.Error) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {store.key_path} (mode 0600) and {store.db_path}", err=True)
    click.echo(vkey)


@witness.command("add-log")
@_folder
@click.argument("vkey")
def add_log_command(folder: Path, vkey: str) -> None:
    """Trust a log's Ed25519 verifier key; the log's origin is the key's
    name. Another key for a known origin is kept alongside (a rotation)."""
    store = _open(folder)
    try:
        verifier, added = store.add_log_key(vkey)
    except NoteError as exc:
        raise click.ClickException(f"not a log verifier key: {exc}") from None
    state = "now trusted" if added else "already trusted"
    click.echo(f"key {verifier.key_id.hex()} of log {verifier.name}: {state}")


@witness.command("key")
@_folder
def key_command(folder: Path) -> None:
    """Print the witness's verifier key (what logs and monitors configure)."""
    try:
        click.echo(_open(folder).cosigner().vkey)
    except StateError as exc:
        raise click.ClickException(str(exc)) from None


@witness.command("serve")
@_folder
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=7380, show_default=True, type=click.IntRange(0, 65535), help="0: any free port.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64))
def serve_command(folder: Path, host: str, port: int, threads: int) -> None:
    """Answer add-checkpoint requests with waitress."""
    try:
        app = create_app(folder)
    except StateError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        server = waitress.create_server(app, host=host, port=port, threads=threads, ident="witness")
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from None
    # One socket, or several for a name like localhost; a supervisor (or a test) reads the port here.
    for address, bound in getattr(server, "effective_listen", None) or [(server.effective_host, server.effective_port)]:
        click.echo(f"witness listening on http://{f'[{address}]' if ':' in address else address}:{bound}/")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
