"""Runs imports one at a time on a background thread: an import is CPU work (FSRS replay)
and one big write, so two at once would only take turns anyway."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from srs.imports.service import PreparedImport, run_import
from srs.kit.db import Database


class ImportRunner:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="srs-import")

    def submit(self, prepared: PreparedImport) -> None:
        self._pool.submit(run_import, self.db, prepared)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
