from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile

from srs.accounts.dependencies import CurrentUser
from srs.imports import service
from srs.imports.archive import refused
from srs.imports.models import ImportJob
from srs.imports.runner import ImportRunner
from srs.imports.schemas import ImportOut
from srs.kit.deps import AppSettings, DbSession, RowId

router = APIRouter(tags=["imports"])
CHUNK = 1 << 20


async def get_runner(request: Request) -> ImportRunner:
    return request.app.state.imports


Runner = Annotated[ImportRunner, Depends(get_runner)]


def import_out(job: ImportJob) -> ImportOut:
    return ImportOut(
        id=job.id,
        status=job.status,
        progress=job.progress,
        counts=job.counts or {},
        topic_ids=job.topic_ids or [],
        filename=job.filename,
        error=job.error,
        created_at=job.created_at,
        finished_at=job.finished_at,
    )


def _save(upload: UploadFile, target: Path, cap: int) -> None:
    written = 0
    with target.open("wb") as out:
        while chunk := upload.file.read(CHUNK):
            written += len(chunk)
            if written > cap:
                raise refused(f"The file is larger than {cap} bytes", 413)
            out.write(chunk)


@router.post("/imports", status_code=202, response_model=ImportOut)
def create_import(
    user: CurrentUser,
    db: DbSession,
    settings: AppSettings,
    runner: Runner,
    file: Annotated[UploadFile, File(description=".apkg, .colpkg, .csv or .tsv")],
    topic_id: Annotated[int | None, Form(ge=1, le=2_147_483_647)] = None,
) -> ImportOut:
    """Import an Anki package (each deck becomes a topic, or every card goes into `topic_id`)
    or an Anki-style CSV/TSV. The file is checked at once (a bad, oversized or unsafe file is
    a 4xx and nothing is imported); the import itself runs in the background: follow it with
    `GET /imports/{id}`."""
    folder = Path(tempfile.mkdtemp(prefix="srs-import-"))
    try:
        upload = folder / "upload"
        _save(file, upload, settings.import_max_bytes)
        job, prepared = service.start_import(
            db, settings, user, file.filename or "upload", upload, folder, topic_id
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    service.after_commit(db, lambda: runner.submit(prepared))
    return import_out(job)


@router.get("/imports/{import_id}", response_model=ImportOut)
def get_import(import_id: RowId, user: CurrentUser, db: DbSession) -> ImportOut:
    return import_out(service.get_import(db, user, import_id))
