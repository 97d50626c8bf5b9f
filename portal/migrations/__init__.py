"""Alembic, configured in code so an installed wheel needs no alembic.ini.
Migrations run only from the CLI (`portal init`)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

HERE = Path(__file__).resolve().parent


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def current_heads(engine: Engine) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


@cache
def script_heads() -> frozenset[str]:
    """The heads of the migration scripts shipped with this code (they do
    not change while it runs)."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory(str(HERE)).get_heads())


def at_head(engine: Engine) -> bool:
    """Whether the database is migrated to exactly this code's schema."""
    return current_heads(engine) == script_heads()
