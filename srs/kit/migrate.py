"""Run Alembic programmatically: `srs migrate`, the app's tests and fixtures all go through here."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from srs.kit.paths import MIGRATIONS


def alembic_config(database_url: str) -> Config:
    if not (MIGRATIONS / "env.py").is_file():
        raise RuntimeError(
            f"The Alembic scripts are missing (looked in {MIGRATIONS}): reinstall srs from a "
            "wheel built by `pip wheel .` or `pip install .`"
        )
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)
