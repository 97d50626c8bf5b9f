"""`portal backup`: an encrypted archive of the database, the key files and
the instance config; checked, and restored into an empty instance."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, ScriptInfo

from portal.backup import contents, services
from portal.backup.archive import (
    ArchiveError,
    Header,
    Recipient,
    key_from_passphrase,
    key_from_private,
    load_private_key,
    load_public_key,
    write_recovery_keys,
)
from portal.backup.snapshot import SnapshotError
from portal.extensions import database

backup = AppGroup("backup", help="Encrypted backups of the database, the key files and the config.")

MIN_PASSPHRASE = 12
_FILE = click.Path(dir_okay=False, path_type=Path)
_EXISTING = click.Path(exists=True, dir_okay=False, path_type=Path)


def _fail(message: str) -> None:
    raise click.ClickException(message)


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int], Callable[[int], None]] | None]:
    """A progress bar over bytes on a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    with ExitStack() as stack:

        def start(total: int) -> Callable[[int], None]:
            bar = stack.enter_context(click.progressbar(length=total, label=label, file=sys.stderr))
            return bar.update

        yield start


def _read_passphrase(path: Path | None, confirm: bool) -> bytes:
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            _fail(f"cannot read the passphrase file {path}: {getattr(exc, 'strerror', None) or exc}")
        passphrase = text.removesuffix("\n").removesuffix("\r")
    elif sys.stdin.isatty():
        passphrase = click.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm)
    else:
        _fail("give --passphrase-file FILE or --to-key/--key FILE (a passphrase is never taken on the command line)")
    if confirm and len(passphrase) < MIN_PASSPHRASE:
        _fail(f"the passphrase is too short: use at least {MIN_PASSPHRASE} characters")
    if not passphrase:
        _fail("the passphrase is empty")
    return passphrase.encode()


def _archive_key(file: Path, key_file: Path | None, passphrase_file: Path | None) -> bytes:
    """The archive's key, from the recovery private key or the passphrase."""
    if key_file and passphrase_file:
        _fail("give either --key or --passphrase-file, not both")
    header: Header = services.open_header(file)
    if key_file is not None:
        return key_from_private(header, load_private_key(key_file))
    if header.method == "x25519" and not passphrase_file:
        _fail("this archive was sealed to a recovery key: give --key FILE (its private key)")
    return key_from_passphrase(header, _read_passphrase(passphrase_file, confirm=False))


_key_option = click.option(
    "--key", "key_file", type=_EXISTING, help="The recovery private key (from `portal backup keygen`)."
)
_passphrase_option = click.option(
    "--passphrase-file", type=_EXISTING, help="A file holding the passphrase (prompted for on a terminal otherwise)."
)


@backup.command("keygen", with_appcontext=False)
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
def keygen_command(folder: Path) -> None:
    """Write a recovery key pair into FOLDER: backup-recovery.pub for
    `create --to-key`, backup-recovery.key (mode 0600) to keep offline."""
    try:
        private, public = write_recovery_keys(folder)
    except (ArchiveError, OSError) as exc:
        _fail(str(exc))
    click.echo(f"wrote {public} (give it to `portal backup create --to-key`)")
    click.echo(f"wrote {private} (mode 0600): keep it offline; without it the backups cannot be restored")


@backup.command("create")
@click.argument("file", type=_FILE)
@click.option("--to-key", type=_EXISTING, help="Seal to this recovery public key (from `portal backup keygen`).")
@_passphrase_option
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
def create_command(file: Path, to_key: Path | None, passphrase_file: Path | None, force: bool) -> None:
    """Write an encrypted backup of the database, the key files and the
    instance config to FILE."""
    try:
        services.refuse_existing(file, force)
        if to_key and passphrase_file:
            _fail("give either --to-key or --passphrase-file, not both")
        recipient = (
            Recipient.public_key(load_public_key(to_key))
            if to_key
            else Recipient.passphrase(_read_passphrase(passphrase_file, confirm=True))
        )
        with _progress("backing up") as progress:
            man = services.create(
                database().engine,
                current_app.config["KEY_DIR"],
                Path(current_app.instance_path) / "config.py",
                file,
                recipient,
                force=force,
                progress=progress,
            )
    except (ArchiveError, SnapshotError, OSError) as exc:
        _fail(str(exc))
    click.echo(f"wrote {file}")
    for line in contents.summary(man):
        click.echo(line)


@backup.command("verify", with_appcontext=False)
@click.argument("file", type=_EXISTING)
@_key_option
@_passphrase_option
def verify_command(file: Path, key_file: Path | None, passphrase_file: Path | None) -> None:
    """Decrypt FILE and check every chunk and every member's SHA-256
    against the manifest, restoring nothing."""
    try:
        man = services.read(file, _archive_key(file, key_file, passphrase_file))
    except ArchiveError as exc:
        _fail(f"backup NOT verified: {exc}")
    click.echo(f"backup verified: {file}")
    for line in contents.summary(man):
        click.echo(line)


@backup.command("restore")
@click.argument("file", type=_EXISTING)
@_key_option
@_passphrase_option
@click.option(
    "--against",
    "sources",
    multiple=True,
    metavar="FILE|URL",
    help="Passed to `portal audit verify --against`: a checkpoint note or a witness the restored log must contain.",
)
def restore_command(file: Path, key_file: Path | None, passphrase_file: Path | None, sources: tuple[str, ...]) -> None:
    """Restore FILE into this empty instance (database, key files, config),
    then check it: schema at head, keys matching the database, the log."""
    app = current_app
    target = services.Target(database().engine, app.config["KEY_DIR"], Path(app.instance_path) / "config.py")
    try:
        if why := target.not_empty():  # before asking for a passphrase
            _fail("refusing to restore into an instance that is not empty: " + "; ".join(why))
        key = _archive_key(file, key_file, passphrase_file)
        with _progress("restoring") as progress:
            done = services.restore(target, file, key, progress)
    except (ArchiveError, SnapshotError) as exc:
        _fail(f"nothing restored: {exc}")
    click.echo(f"restored the {done.database}")
    for path in done.keys:
        click.echo(f"restored {path} (mode 0600)")
    if done.config:
        click.echo(f"restored {done.config}")
    if done.config_note:
        click.echo(f"note: {done.config_note}")
    for line in contents.summary(done.manifest)[:2]:
        click.echo(line)
    if not _check_restored(sources):
        _fail("the restored instance failed a check (above); fix it, or empty the instance and restore again")
    click.echo("restore complete: every check passed")


def _check_restored(sources: tuple[str, ...]) -> bool:
    """The commands' own checks, on an app loaded afresh (by the command
    line's own factory) from the restored config: `portal init` (migrates an
    older schema), `portal serve --check` (the keys match the database),
    `portal audit verify`."""
    info = click.get_current_context().find_object(ScriptInfo)
    fresh = info.create_app() if info is not None and info.create_app is not None else current_app
    ok = True
    try:
        with fresh.app_context():
            ctx = click.get_current_context()
            audit = fresh.cli.commands["audit"]
            assert isinstance(audit, click.Group)  # noqa: S101  # registered by portal.cli
            for label, command, kwargs in (
                ("schema", fresh.cli.commands["init"], {}),
                ("keys", fresh.cli.commands["serve"], {"check": True}),
                ("log", audit.commands["verify"], {"sources": sources}),
            ):
                click.echo(f"check ({label}): ", nl=False)
                try:
                    ctx.invoke(command, **kwargs)
                except click.ClickException as exc:
                    click.echo(f"FAILED: {exc.format_message()}")
                    ok = False
                except SystemExit as exc:  # `audit verify` printed its problems
                    if exc.code:
                        click.echo("FAILED (above)")
                        ok = False
    finally:
        if fresh is not current_app:
            fresh.extensions["portal.db"].dispose()
    return ok
