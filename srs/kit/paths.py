"""Where the Alembic scripts and the web app live: inside the installed package (a wheel
bundles them as srs/_migrations and srs/_web, see setup.py), else in the source checkout
(an editable install or a plain clone)."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]


def bundled(name: str) -> Path:
    """The installed copy first, then the checkout's top-level folder of that name."""
    installed = PACKAGE / f"_{name}"
    return installed if installed.is_dir() else PACKAGE.parent / name


MIGRATIONS = bundled("migrations")
WEB = bundled("web")
